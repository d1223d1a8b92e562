#include "app/gui/portstab.h"

#include "core/vm/vmmanager.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace Gui {
namespace {

constexpr int kDefaultGuestPort = 8000;

} // namespace

PortsTab::PortsTab(Vm::VmManager &manager, QWidget *parent)
    : QWidget(parent)
    , m_manager(manager)
{
    m_list = new QTreeWidget(this);
    m_list->setRootIsDecorated(false);
    m_list->setHeaderLabels({tr("Guest port"), tr("On this host"), tr("State"), tr("Connections")});
    m_list->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_guestPort = new QSpinBox(this);
    m_guestPort->setRange(1, 65535);
    m_guestPort->setValue(kDefaultGuestPort);
    m_guestPort->setPrefix(tr("guest port "));
    m_hostAddress = new QLineEdit(this);
    m_hostAddress->setPlaceholderText(QStringLiteral("127.0.0.1"));
    m_hostAddress->setToolTip(tr("The host address to listen on: 127.0.0.1 (the default), ::1, 0.0.0.0 for all, or an address of this host"));
    m_hostPort = new QSpinBox(this);
    m_hostPort->setRange(0, 65535);
    m_hostPort->setSpecialValueText(tr("any free port"));
    m_hostPort->setPrefix(tr("host port "));
    m_expose = new QPushButton(tr("&Expose"), this);
    m_remove = new QPushButton(tr("&Remove"), this);
    m_status = new QLabel(this);
    m_status->setTextFormat(Qt::PlainText);
    m_status->setWordWrap(true);

    auto *addRow = new QHBoxLayout;
    addRow->addWidget(m_guestPort);
    addRow->addWidget(m_hostAddress, 1);
    addRow->addWidget(m_hostPort);
    addRow->addWidget(m_expose);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_remove);
    buttons->addStretch(1);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(addRow);
    layout->addWidget(m_list, 1);
    layout->addLayout(buttons);
    layout->addWidget(m_status);

    connect(m_expose, &QPushButton::clicked, this, &PortsTab::expose);
    connect(m_hostAddress, &QLineEdit::returnPressed, this, &PortsTab::expose);
    connect(m_remove, &QPushButton::clicked, this, &PortsTab::removeSelected);
    connect(m_list, &QTreeWidget::itemSelectionChanged, this, &PortsTab::updateButtons);
    connect(&m_manager, &Vm::VmManager::portsChanged, this, [this](const QString &name) {
        if (name == m_vm)
            refresh();
    });
    updateButtons();
}

void PortsTab::setVm(const QString &name)
{
    if (name == m_vm)
        return;
    m_vm = name;
    m_status->clear();
    refresh();
}

int PortsTab::selectedPort() const
{
    const QList<QTreeWidgetItem *> items = m_list->selectedItems();
    return items.isEmpty() ? 0 : items.first()->data(GuestColumn, Qt::UserRole).toInt();
}

void PortsTab::refresh()
{
    const int keep = selectedPort();
    m_list->clear();
    auto ports = m_manager.ports(m_vm);
    if (ports) {
        for (const Vm::VmPorts::Status &p : std::as_const(*ports)) {
            auto *item = new QTreeWidgetItem(m_list);
            item->setData(GuestColumn, Qt::UserRole, p.exposure.guestPort);
            item->setText(GuestColumn, QString::number(p.exposure.guestPort));
            const QString address = p.exposure.hostAddress.protocol() == QAbstractSocket::IPv6Protocol
                ? QStringLiteral("[%1]").arg(p.exposure.hostAddress.toString())
                : p.exposure.hostAddress.toString();
            item->setText(HostColumn, p.boundPort ? QStringLiteral("%1:%2").arg(address).arg(p.boundPort) : tr("%1 (not listening)").arg(address));
            switch (p.state) {
            case Vm::VmPorts::State::Active: item->setText(StateColumn, tr("active")); break;
            case Vm::VmPorts::State::Waiting: item->setText(StateColumn, tr("waiting for the VM to run")); break;
            case Vm::VmPorts::State::Failed: item->setText(StateColumn, tr("failed")); break;
            }
            if (p.error)
                item->setToolTip(StateColumn, p.error->message);
            item->setText(ConnectionsColumn, QString::number(p.connections));
            if (p.exposure.guestPort == keep)
                item->setSelected(true);
        }
    }
    updateButtons();
}

void PortsTab::updateButtons()
{
    const bool known = !m_vm.isEmpty() && m_manager.contains(m_vm);
    m_expose->setEnabled(known);
    m_remove->setEnabled(known && selectedPort() != 0);
}

bool PortsTab::expose()
{
    if (!m_expose->isEnabled())
        return false;
    Vm::PortExposure request;
    request.guestPort = static_cast<quint16>(m_guestPort->value());
    request.hostPort = static_cast<quint16>(m_hostPort->value());
    const QString address = m_hostAddress->text().trimmed();
    if (!address.isEmpty())
        request.hostAddress = QHostAddress(address);
    auto r = m_manager.exposePort(m_vm, request);
    if (!r) {
        m_status->setText(tr("Cannot expose port %1: %2").arg(request.guestPort).arg(r.error().message));
        return false;
    }
    m_status->setText(tr("Guest port %1 of %2 is reachable at %3:%4.").arg(request.guestPort).arg(m_vm, r->exposure.hostAddress.toString()).arg(r->boundPort));
    refresh();
    return true;
}

bool PortsTab::removeSelected()
{
    const int port = selectedPort();
    if (port == 0 || !m_remove->isEnabled())
        return false;
    if (auto r = m_manager.unexposePort(m_vm, static_cast<quint16>(port)); !r) {
        m_status->setText(tr("Cannot remove port %1: %2").arg(port).arg(r.error().message));
        return false;
    }
    m_status->setText(tr("Guest port %1 of %2 is no longer exposed.").arg(port).arg(m_vm));
    refresh();
    return true;
}

} // namespace Gui
