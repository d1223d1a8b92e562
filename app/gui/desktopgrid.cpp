#include "app/gui/desktopgrid.h"

#include "core/vm/vmmanager.h"
#include "core/workerpool.h"
#include "desktop/vmdisplay.h"
#include "vncview/vncconnection.h"

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
    setWordWrap(true);
    setSelectionMode(QAbstractItemView::SingleSelection);
    connect(this, &QListWidget::itemActivated, this, [this](QListWidgetItem *item) { Q_EMIT vmActivated(item->data(Qt::UserRole).toString()); });

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
        out << item(i)->data(Qt::UserRole).toString();
    return out;
}

QListWidgetItem *DesktopGrid::itemOf(const QString &vm) const
{
    for (int i = 0; i < count(); ++i)
        if (item(i)->data(Qt::UserRole).toString() == vm)
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
        const QString vm = item(i)->data(Qt::UserRole).toString();
        if (!wanted.contains(vm)) {
            delete takeItem(i);
            m_lastFrame.remove(vm);
        }
    }
    for (int i = 0; i < wanted.size(); ++i) {
        if (itemOf(wanted.at(i)))
            continue;
        auto *it = new QListWidgetItem(QIcon(placeholder()), wanted.at(i));
        it->setData(Qt::UserRole, wanted.at(i));
        it->setTextAlignment(Qt::AlignHCenter);
        insertItem(i, it);
        updateLabel(wanted.at(i));
    }
}

void DesktopGrid::updateLabel(const QString &vm)
{
    QListWidgetItem *it = itemOf(vm);
    if (!it)
        return;
    const Desktop::VmDisplay *display = m_displays ? m_displays->existing(vm) : nullptr;
    if (display && display->humanHasControl())
        it->setText(tr("%1 (you drive)").arg(vm));
    else if (display && display->isConnected())
        it->setText(tr("%1 (agent drives)").arg(vm));
    else
        it->setText(vm);
}

void DesktopGrid::refresh()
{
    if (!m_displays || !isVisible())
        return;
    for (const QString &vm : vms()) {
        updateLabel(vm);
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
        Vnc::VncConnection *c = d->connection();
        if (!c || m_scaling.contains(vm) || c->frameCount() == 0 || c->frameCount() == m_lastFrame.value(vm, 0))
            continue;
        m_lastFrame.insert(vm, c->frameCount());
        m_scaling.insert(vm);
        const QImage frame = c->snapshot();
        const auto scaled = Core::runInThread<QImage>([frame]() -> Core::Expected<QImage> {
            return frame.isNull() ? QImage() : frame.scaled(kThumbnailSize, Qt::KeepAspectRatio, Qt::SmoothTransformation);
        });
        Core::whenDone(scaled, this, [this, vm](const Core::Expected<QImage> &image) {
            m_scaling.remove(vm);
            if (QListWidgetItem *it = itemOf(vm); it && image && !image->isNull()) {
                it->setIcon(QIcon(QPixmap::fromImage(*image)));
                ++m_made;
            }
        });
    }
}

} // namespace Gui
