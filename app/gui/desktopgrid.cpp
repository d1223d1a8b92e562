#include "app/gui/desktopgrid.h"

#include "app/gui/desktoptiledelegate.h"
#include "app/gui/vmlistmodel.h"
#include "core/vm/vmmanager.h"
#include "core/workerpool.h"
#include "desktop/vmdisplay.h"
#include "vncview/vncconnection.h"

#include <QContextMenuEvent>
#include <QMenu>

#include <cmath>

namespace Gui {
namespace {

constexpr int kSpacing = 12;

bool isUp(Vm::VirtualMachine::State s)
{
    return s == Vm::VirtualMachine::State::Ready || s == Vm::VirtualMachine::State::Paused;
}

QPixmap placeholder()
{
    QPixmap p(DesktopGrid::kThumbnailSize);
    p.fill(Qt::black);
    return p;
}

// The largest 16:10 picture that `count` tiles (each with its label strip)
// fit in `area` with, over every number of columns.
QSize bestTile(int count, const QSize &area, int spacing, int strip)
{
    QSize best = DesktopGrid::kMinTileSize;
    for (int cols = 1; cols <= count; ++cols) {
        const int rows = (count + cols - 1) / cols;
        int w = (area.width() - spacing * (cols + 1)) / cols;
        int h = w * 10 / 16;
        const int hMax = (area.height() - spacing * (rows + 1)) / rows - strip;
        if (h > hMax) {
            h = hMax;
            w = h * 16 / 10;
        }
        if (w * h > best.width() * best.height())
            best = QSize(w, h);
    }
    return best;
}

} // namespace

DesktopGrid::DesktopGrid(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent)
    : QListWidget(parent)
    , m_manager(manager)
    , m_displays(displays)
{
    setViewMode(QListView::IconMode);
    setIconSize(kThumbnailSize);
    setResizeMode(QListView::Adjust);
    setMovement(QListView::Static);
    setSpacing(kSpacing);
    setUniformItemSizes(true);
    setSelectionMode(QAbstractItemView::SingleSelection);
    setItemDelegate(new DesktopTileDelegate(this));
    setAccessibleName(tr("Desktops"));
    connect(this, &QListWidget::itemActivated, this, [this](QListWidgetItem *item) { Q_EMIT vmActivated(item->data(VmRole).toString()); });

    m_timer.setInterval(kRefreshMs);
    connect(&m_timer, &QTimer::timeout, this, &DesktopGrid::refresh);
    connect(&m_manager, &Vm::VmManager::vmStateChanged, this, &DesktopGrid::sync);
    connect(&m_manager, &Vm::VmManager::vmRemoved, this, &DesktopGrid::sync);
    connect(&m_manager, &Vm::VmManager::vmAdded, this, &DesktopGrid::sync);
    sync();
}

DesktopGrid::~DesktopGrid() = default;

QStringList DesktopGrid::vms() const
{
    QStringList out;
    for (int i = 0; i < count(); ++i)
        out << item(i)->data(VmRole).toString();
    return out;
}

QListWidgetItem *DesktopGrid::itemOf(const QString &vm) const
{
    for (int i = 0; i < count(); ++i)
        if (item(i)->data(VmRole).toString() == vm)
            return item(i);
    return nullptr;
}

bool DesktopGrid::wantsThumbnail(const QString &vm) const
{
    const auto info = m_manager.info(vm);
    const auto desktop = m_manager.hasDesktop(vm);
    return info && desktop && isUp(info->state) && *desktop;
}

void DesktopGrid::showEvent(QShowEvent *event)
{
    QListWidget::showEvent(event);
    sync();
    refresh();
    m_timer.start();
}

void DesktopGrid::resizeEvent(QResizeEvent *event)
{
    QListWidget::resizeEvent(event);
    layoutTiles();
}

void DesktopGrid::layoutTiles()
{
    const QSize tile = bestTile(qMax(1, count()), viewport()->size(), kSpacing, DesktopTileDelegate::kStripHeight);
    if (tile == iconSize())
        return;
    setIconSize(tile);
    setGridSize(tile + QSize(kSpacing, kSpacing + DesktopTileDelegate::kStripHeight));
    m_lastFrame.clear(); // thumbnails again, at the new size
}

void DesktopGrid::noteAgentAction(const QString &vm)
{
    m_agentActed[vm].start();
    updateItem(vm);
}

bool DesktopGrid::recent(const QHash<QString, QElapsedTimer> &stamps, const QString &vm)
{
    const auto it = stamps.constFind(vm);
    return it != stamps.constEnd() && it->isValid() && it->elapsed() < kActiveMs;
}

QMenu *DesktopGrid::menuFor(const QString &vm)
{
    auto *menu = new QMenu(this);
    menu->addAction(tr("&Open"), this, [this, vm]() { Q_EMIT vmActivated(vm); });
    const Desktop::VmDisplay *display = m_displays ? m_displays->existing(vm) : nullptr;
    const bool human = display && display->humanHasControl();
    QAction *control = menu->addAction(human ? tr("&Release control") : tr("&Take control"), this, [this, vm, human]() { setControl(vm, !human); });
    control->setEnabled(display);
    return menu;
}

void DesktopGrid::contextMenuEvent(QContextMenuEvent *event)
{
    QListWidgetItem *it = itemAt(viewport()->mapFromGlobal(event->globalPos()));
    if (!it)
        return;
    QMenu *menu = menuFor(it->data(VmRole).toString());
    menu->setAttribute(Qt::WA_DeleteOnClose);
    menu->popup(event->globalPos());
}

void DesktopGrid::setControl(const QString &vm, bool human)
{
    Desktop::VmDisplay *display = m_displays ? m_displays->existing(vm) : nullptr;
    if (!display)
        return;
    display->setController(human ? Desktop::VmDisplay::Controller::Human : Desktop::VmDisplay::Controller::Agent);
    updateItem(vm);
    Q_EMIT controlToggled(vm, human);
}

void DesktopGrid::hideEvent(QHideEvent *event)
{
    m_timer.stop();
    QListWidget::hideEvent(event);
}

// The items: one per running desktop VM, by name.
void DesktopGrid::sync()
{
    QStringList wanted;
    for (const QString &name : m_manager.names())
        if (m_displays && wantsThumbnail(name))
            wanted << name;
    for (int i = count() - 1; i >= 0; --i) {
        const QString vm = item(i)->data(VmRole).toString();
        if (!wanted.contains(vm)) {
            delete takeItem(i);
            m_lastFrame.remove(vm);
            m_agentActed.remove(vm);
            m_screenChanged.remove(vm);
        }
    }
    for (int i = 0; i < wanted.size(); ++i) {
        if (itemOf(wanted.at(i)))
            continue;
        auto *it = new QListWidgetItem(QIcon(placeholder()), wanted.at(i));
        it->setData(VmRole, wanted.at(i));
        insertItem(i, it);
    }
    for (const QString &vm : std::as_const(wanted))
        updateItem(vm);
    layoutTiles();
}

void DesktopGrid::updateItem(const QString &vm)
{
    QListWidgetItem *it = itemOf(vm);
    if (!it)
        return;
    const Desktop::VmDisplay *display = m_displays ? m_displays->existing(vm) : nullptr;
    QString driver;
    if (display && display->humanHasControl())
        driver = tr("you drive");
    else if (display && display->isConnected())
        driver = tr("agent drives");
    const auto info = m_manager.info(vm);
    const auto state = info ? info->state : Vm::VirtualMachine::State::Stopped;
    const bool agent = recent(m_agentActed, vm);
    const bool screen = recent(m_screenChanged, vm);
    it->setData(StateRole, static_cast<int>(state));
    it->setData(DriverRole, driver);
    it->setData(AgentActiveRole, agent);
    it->setData(ScreenActiveRole, screen);
    QStringList spoken{vm, VmListModel::stateText(state)};
    if (!driver.isEmpty())
        spoken << driver;
    if (agent)
        spoken << tr("the agent acted just now");
    if (screen)
        spoken << tr("the screen changed just now");
    it->setData(Qt::AccessibleTextRole, spoken.join(QStringLiteral(", ")));
    it->setToolTip(spoken.join(QLatin1Char('\n')));
}

void DesktopGrid::refresh()
{
    if (!m_displays || !isVisible())
        return;
    for (const QString &vm : vms()) {
        updateItem(vm);
        auto display = m_displays->display(vm);
        if (!display)
            continue;
        Desktop::VmDisplay *d = *display;
        if (!d->isConnected()) {
            if (m_connecting.contains(vm))
                continue;
            m_connecting.insert(vm);
            Core::whenDone(d->ensureConnected(), this, [this, vm](const Core::Expected<void> &) { m_connecting.remove(vm); });
            continue;
        }
        scaleThumbnail(vm, d);
    }
}

// A new thumbnail when the screen changed since the last one (its sign
// lights), scaled to the tile on the thread pool.
void DesktopGrid::scaleThumbnail(const QString &vm, Desktop::VmDisplay *display)
{
    Vnc::VncConnection *c = display->connection();
    if (!c || m_scaling.contains(vm) || c->frameCount() == 0 || c->frameCount() == m_lastFrame.value(vm, 0))
        return;
    if (m_lastFrame.value(vm, 0) != 0) {
        m_screenChanged[vm].start();
        updateItem(vm);
    }
    m_lastFrame.insert(vm, c->frameCount());
    m_scaling.insert(vm);
    const QImage frame = c->snapshot();
    const QSize size = iconSize().expandedTo(kThumbnailSize);
    const auto scaled = Core::runInThread<QImage>(
        [frame, size]() -> Core::Expected<QImage> { return frame.isNull() ? QImage() : frame.scaled(size, Qt::KeepAspectRatio, Qt::SmoothTransformation); });
    Core::whenDone(scaled, this, [this, vm](const Core::Expected<QImage> &image) {
        m_scaling.remove(vm);
        if (QListWidgetItem *it = itemOf(vm); it && image && !image->isNull()) {
            it->setIcon(QIcon(QPixmap::fromImage(*image)));
            ++m_made;
        }
    });
}

} // namespace Gui
