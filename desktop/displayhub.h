#pragma once
// Desktop::DisplayHub: one VmDisplay per running desktop VM, made on first
// use and dropped when its VM stops, fails or is removed. The API service
// and the GUI ask the same hub, so they share one VNC connection and one
// control arbitration per VM.

#include "core/expected.h"

#include <QHash>
#include <QObject>
#include <QPointer>

namespace Vm {
class VmManager;
}

namespace Desktop {

class VmDisplay;

class DisplayHub final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DisplayHub)
public:
    // The manager must outlive the hub.
    explicit DisplayHub(Vm::VmManager &manager, QObject *parent = nullptr);
    ~DisplayHub() override;

    // The display of a running VM whose template has a desktop (made now if
    // needed; it connects on first use). NotFound, InvalidState (not
    // running) or Unsupported (no desktop) otherwise.
    Core::Expected<VmDisplay *> display(const QString &vmName);
    // The display if one exists, else nullptr.
    VmDisplay *existing(const QString &vmName) const;

Q_SIGNALS:
    void displayAdded(const QString &vmName, Desktop::VmDisplay *display);
    void displayRemoved(const QString &vmName);

private:
    void drop(const QString &vmName);

    Vm::VmManager &m_manager;
    QHash<QString, QPointer<VmDisplay>> m_displays;
};

} // namespace Desktop
