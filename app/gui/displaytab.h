#pragma once
// Gui::DisplayTab: the live desktop of the selected VM (its shared
// Desktop::VmDisplay connection in a Vnc::VncViewWidget), who drives it, and
// a "Take control" / "Release" toggle. View-only unless a human holds control.
// What the agent does to it shows over the view as it happens (ActionOverlay).

#include "app/gui/activityitem.h"
#include "desktop/displayhub.h"
#include "desktop/vmdisplay.h"

#include <QPointer>
#include <QWidget>

class QLabel;
class QPushButton;
class QStackedWidget;

namespace Vm {
class VmManager;
}
namespace Vnc {
class VncViewWidget;
}

namespace Gui {

class ActionOverlay;

class DisplayTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DisplayTab)
public:
    // The manager and the hub (may be null: no displays) must outlive the tab.
    DisplayTab(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent = nullptr);
    ~DisplayTab() override;

    // Show this VM's display (empty: none).
    void setVm(const QString &name);
    QString vm() const { return m_vm; }

    // An event of the service's activity log: drawn over the view when it
    // is the shown VM's.
    void showAction(const ActivityItem &item);

    Desktop::VmDisplay *display() const { return m_display; }
    Vnc::VncViewWidget *view() const { return m_view; }
    QPushButton *controlButton() const { return m_control; }
    QLabel *controllerLabel() const { return m_controller; }
    QLabel *messageLabel() const { return m_message; }
    ActionOverlay *overlay() const { return m_overlay; }

Q_SIGNALS:
    // The person at the window took control of vm's desktop (human) or
    // gave it back: for the audit log, which no API request reaches here.
    void controlToggled(const QString &vm, bool human);

private:
    void attach();
    void detach();
    void showMessage(const QString &text);
    void connectDisplay();
    void connectView();
    void onControlToggled(bool human);
    void updateController();

    Vm::VmManager &m_manager;
    QPointer<Desktop::DisplayHub> m_displays;
    QString m_vm;
    QPointer<Desktop::VmDisplay> m_display;
    QStackedWidget *m_stack = nullptr;
    QLabel *m_message = nullptr;
    Vnc::VncViewWidget *m_view = nullptr;
    ActionOverlay *m_overlay = nullptr;
    QLabel *m_controller = nullptr;
    QPushButton *m_control = nullptr;
};

} // namespace Gui
