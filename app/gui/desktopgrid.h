#pragma once
// Gui::DesktopGrid: the desktops wall, every running desktop VM as a live
// tile to watch many agents at once. Tiles fill the view in a near-square
// grid (1 to 16 desktops; more scroll), each labelled (DesktopTileDelegate)
// with the VM's name, its state, who drives, and signs lit while its screen
// changed or the agent acted in the last kActiveMs. Activating one (double
// click, Enter) asks to open it; its context menu opens it or takes and
// gives back control.
// Thumbnails cost the GUI thread little: they refresh at most once a second,
// only while the grid is shown and only when the screen changed, and the
// scaling runs on the thread pool.

#include "core/vm/virtualmachine.h"
#include "desktop/displayhub.h"

#include <QElapsedTimer>
#include <QHash>
#include <QListWidget>
#include <QPointer>
#include <QSet>
#include <QTimer>

class QMenu;

namespace Vm {
class VmManager;
}

namespace Gui {

class DesktopGrid final : public QListWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DesktopGrid)
public:
    static constexpr int kRefreshMs = 1000;
    static constexpr QSize kThumbnailSize{320, 200}; // the smallest a thumbnail is scaled to
    static constexpr QSize kMinTileSize{240, 150}; // the picture; below it the wall scrolls
    static constexpr int kActiveMs = 3000; // how long an activity sign stays lit
    enum Role {
        VmRole = Qt::UserRole, // the VM's name
        StateRole, // int(Vm::VirtualMachine::State)
        DriverRole, // who drives, for people ("agent drives", "you drive"; empty: not connected)
        AgentActiveRole, // bool: the agent acted in the last kActiveMs
        ScreenActiveRole, // bool: the screen changed in the last kActiveMs
    };

    // The manager and the hub (may be null: an empty grid) must outlive the grid.
    DesktopGrid(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent = nullptr);
    ~DesktopGrid() override;

    // The VMs shown, in order.
    QStringList vms() const;
    // The item of a VM (nullptr when not shown).
    QListWidgetItem *itemOf(const QString &vm) const;
    // How many thumbnails were made so far (for tests).
    int thumbnailsMade() const { return m_made; }
    // The picture part of each tile now.
    QSize tileSize() const { return iconSize(); }

    // The agent did something to the VM (the app's activity log): its
    // tile's sign lights at once and goes out kActiveMs later.
    void noteAgentAction(const QString &vm);
    // A tile's context menu (Open, Take control or Release control); the
    // caller owns it.
    QMenu *menuFor(const QString &vm);

Q_SIGNALS:
    void vmActivated(const QString &vm);
    // A person took or gave back control from a tile: for the audit log.
    void controlToggled(const QString &vm, bool human);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;
    void resizeEvent(QResizeEvent *event) override;
    void contextMenuEvent(QContextMenuEvent *event) override;

private:
    void sync();
    void refresh();
    void updateItem(const QString &vm);
    void layoutTiles();
    void scaleThumbnail(const QString &vm, Desktop::VmDisplay *display);
    void setControl(const QString &vm, bool human);
    bool wantsThumbnail(const QString &vm) const;
    static bool recent(const QHash<QString, QElapsedTimer> &stamps, const QString &vm);

    Vm::VmManager &m_manager;
    QPointer<Desktop::DisplayHub> m_displays;
    QTimer m_timer;
    QHash<QString, quint64> m_lastFrame; // frame count at the last thumbnail
    QHash<QString, QElapsedTimer> m_agentActed;
    QHash<QString, QElapsedTimer> m_screenChanged;
    QSet<QString> m_scaling; // a scale job is under way
    QSet<QString> m_connecting; // ensureConnected() under way
    int m_made = 0;
};

} // namespace Gui
