#pragma once
// Gui::DesktopGrid: every running desktop VM as a live thumbnail, to watch
// many agents at once; activating one (double click, Enter) asks to open it.
// Thumbnails cost the GUI thread little: they refresh at most once a second,
// only while the grid is shown and only when the screen changed, and the
// scaling runs on the thread pool.

#include "core/vm/virtualmachine.h"
#include "desktop/displayhub.h"

#include <QHash>
#include <QListWidget>
#include <QPointer>
#include <QSet>
#include <QTimer>

namespace Vm {
class VmManager;
}

namespace Gui {

class DesktopGrid final : public QListWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DesktopGrid)
public:
    static constexpr int kRefreshMs = 1000;
    static constexpr QSize kThumbnailSize{320, 200};

    // The manager and the hub (may be null: an empty grid) must outlive the grid.
    DesktopGrid(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent = nullptr);
    ~DesktopGrid() override;

    // The VMs shown, in order.
    QStringList vms() const;
    // The item of a VM (nullptr when not shown).
    QListWidgetItem *itemOf(const QString &vm) const;
    // How many thumbnails were made so far (for tests).
    int thumbnailsMade() const { return m_made; }

Q_SIGNALS:
    void vmActivated(const QString &vm);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void sync();
    void refresh();
    void updateLabel(const QString &vm);
    bool wantsThumbnail(const QString &vm) const;

    Vm::VmManager &m_manager;
    QPointer<Desktop::DisplayHub> m_displays;
    QTimer m_timer;
    QHash<QString, quint64> m_lastFrame; // frame count at the last thumbnail
    QSet<QString> m_scaling; // a scale job is under way
    QSet<QString> m_connecting; // ensureConnected() under way
    int m_made = 0;
};

} // namespace Gui
