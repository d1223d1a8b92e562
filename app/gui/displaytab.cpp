#include "app/gui/displaytab.h"

#include "app/gui/actionoverlay.h"
#include "app/gui/vmlistmodel.h"

#include "core/template/vmtemplate.h"
#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"
#include "desktop/vmdisplay.h"
#include "vncview/widget/vncviewwidget.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QStackedWidget>
#include <QVBoxLayout>

namespace Gui {
namespace {

enum Page { MessagePage, ViewPage };

bool isUp(Vm::VirtualMachine::State s)
{
    return s == Vm::VirtualMachine::State::Ready || s == Vm::VirtualMachine::State::Paused;
}

} // namespace

DisplayTab::DisplayTab(Vm::VmManager &manager, Desktop::DisplayHub *displays, QWidget *parent)
    : QWidget(parent)
    , m_manager(manager)
    , m_displays(displays)
{
    m_stack = new QStackedWidget(this);
    m_message = new QLabel(this);
    m_message->setTextFormat(Qt::PlainText); // may show a guest's text: never rich text
    m_message->setAlignment(Qt::AlignCenter);
    m_message->setWordWrap(true);
    m_view = new Vnc::VncViewWidget(this);
    m_view->setViewOnly(true);
    m_overlay = new ActionOverlay(m_view);
    m_stack->insertWidget(MessagePage, m_message);
    m_stack->insertWidget(ViewPage, m_view);

    m_controller = new QLabel(this);
    m_control = new QPushButton(tr("Take control"), this);
    m_control->setCheckable(true);
    m_control->setAccessibleName(tr("Take or release control of the desktop"));
    m_view->setAccessibleName(tr("Live desktop"));
    m_control->setToolTip(tr("Drive this desktop yourself; the agent API is refused until you release it"));
    connect(m_control, &QPushButton::toggled, this, &DisplayTab::onControlToggled);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_controller, 1);
    bar->addWidget(m_control);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_stack, 1);
    layout->addLayout(bar);

    connect(&m_manager, &Vm::VmManager::vmStateChanged, this, [this](const QString &name, Vm::VirtualMachine::State) {
        if (name == m_vm)
            attach();
    });
    connect(&m_manager, &Vm::VmManager::vmRemoved, this, [this](const QString &name) {
        if (name == m_vm)
            setVm(QString());
    });
    if (m_displays) {
        connect(m_displays, &Desktop::DisplayHub::displayRemoved, this, [this](const QString &name) {
            if (name == m_vm)
                detach();
        });
    }
    setVm(QString());
}

DisplayTab::~DisplayTab() = default;

void DisplayTab::setVm(const QString &name)
{
    if (name == m_vm && (m_display || name.isEmpty()))
        return;
    detach();
    m_overlay->clear();
    m_vm = name;
    attach();
}

void DisplayTab::showAction(const ActivityItem &item)
{
    if (!m_vm.isEmpty() && item.vm == m_vm && m_display)
        m_overlay->showAction(item);
}

void DisplayTab::detach()
{
    if (m_display)
        m_display->disconnect(this);
    m_display = nullptr;
    m_view->setConnection(nullptr);
    m_view->setViewOnly(true);
    updateController();
}

void DisplayTab::showMessage(const QString &text)
{
    m_message->setText(text);
    m_stack->setCurrentIndex(MessagePage);
}

void DisplayTab::attach()
{
    if (m_vm.isEmpty()) {
        detach();
        showMessage(tr("Select a VM to see its display."));
        return;
    }
    auto info = m_manager.info(m_vm);
    if (!info) {
        detach();
        showMessage(info.error().message);
        return;
    }
    const auto desktop = m_manager.hasDesktop(m_vm);
    if (!desktop || !*desktop) {
        detach();
        showMessage(tr("%1 has no display: its template '%2' has no desktop.").arg(m_vm, info->record.templateName));
        return;
    }
    if (!isUp(info->state)) {
        detach();
        showMessage(tr("%1 is not running (%2). Start it to see its desktop.").arg(m_vm, VmListModel::stateText(info->state)));
        return;
    }
    if (!m_displays) {
        detach();
        showMessage(tr("Displays are not available in this window."));
        return;
    }
    if (m_display) {
        updateController();
        return;
    }
    auto display = m_displays->display(m_vm);
    if (!display) {
        showMessage(display.error().message);
        return;
    }
    m_display = *display;
    connect(m_display, &Desktop::VmDisplay::controllerChanged, this, &DisplayTab::updateController);
    connect(m_display, &Desktop::VmDisplay::connectedChanged, this, [this](bool connected) {
        if (connected) {
            connectView();
            return;
        }
        m_view->setConnection(nullptr);
        connectDisplay(); // connect again (or say why not)
    });
    updateController();
    connectDisplay();
}

void DisplayTab::connectDisplay()
{
    if (!m_display)
        return;
    if (m_display->isConnected()) {
        connectView();
        return;
    }
    showMessage(tr("Connecting to the desktop of %1…").arg(m_vm));
    const QPointer<Desktop::VmDisplay> display = m_display;
    Core::whenDone(m_display->ensureConnected(), this, [this, display](const Core::Expected<void> &r) {
        if (!display || display != m_display)
            return;
        if (r)
            connectView();
        else
            showMessage(tr("The desktop of %1 cannot be shown: %2").arg(m_vm, r.error().message));
    });
}

void DisplayTab::connectView()
{
    if (!m_display || !m_display->connection())
        return;
    m_view->setConnection(m_display->connection());
    m_stack->setCurrentIndex(ViewPage);
    updateController();
}

void DisplayTab::onControlToggled(bool human)
{
    if (!m_display) {
        updateController();
        return;
    }
    m_display->setController(human ? Desktop::VmDisplay::Controller::Human : Desktop::VmDisplay::Controller::Agent);
    updateController();
    Q_EMIT controlToggled(m_vm, human);
}

void DisplayTab::updateController()
{
    const bool human = m_display && m_display->humanHasControl();
    {
        const QSignalBlocker block(m_control);
        m_control->setChecked(human);
    }
    m_control->setEnabled(m_display != nullptr);
    m_control->setText(human ? tr("Release") : tr("Take control"));
    m_view->setViewOnly(!human);
    if (!m_display)
        m_controller->setText(QString());
    else if (human)
        m_controller->setText(tr("You are driving this desktop; the agent API's input is refused."));
    else
        m_controller->setText(tr("The agent API is driving; you are watching (view only)."));
    if (human)
        m_view->setFocus();
}

} // namespace Gui
