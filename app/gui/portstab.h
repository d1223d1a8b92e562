#pragma once
// Gui::PortsTab: the selected VM's exposed ports (guest port, host
// endpoint, state, open connections), with Expose (a guest port, a host
// address and port, any free one by default) and Remove. It follows
// VmManager::portsChanged; what fails is said under the list.

#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;
class QTreeWidget;

namespace Vm {
class VmManager;
}

namespace Gui {

class PortsTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PortsTab)
public:
    enum Column { GuestColumn, HostColumn, StateColumn, ConnectionsColumn };

    // The manager must outlive the tab.
    explicit PortsTab(Vm::VmManager &manager, QWidget *parent = nullptr);

    void setVm(const QString &name);
    QString vm() const { return m_vm; }
    // The guest port of the selected row, 0 for none.
    int selectedPort() const;

    // What the buttons do: expose the guest port with the address and port
    // given, remove the selected exposure. False (statusLabel() says why)
    // when it was refused.
    bool expose();
    bool removeSelected();

    QTreeWidget *list() const { return m_list; }
    QSpinBox *guestPortBox() const { return m_guestPort; }
    QLineEdit *hostAddressEdit() const { return m_hostAddress; }
    QSpinBox *hostPortBox() const { return m_hostPort; }
    QPushButton *exposeButton() const { return m_expose; }
    QPushButton *removeButton() const { return m_remove; }
    QLabel *statusLabel() const { return m_status; }

private:
    void refresh();
    void updateButtons();

    Vm::VmManager &m_manager;
    QString m_vm;
    QTreeWidget *m_list = nullptr;
    QSpinBox *m_guestPort = nullptr;
    QLineEdit *m_hostAddress = nullptr;
    QSpinBox *m_hostPort = nullptr;
    QPushButton *m_expose = nullptr;
    QPushButton *m_remove = nullptr;
    QLabel *m_status = nullptr;
};

} // namespace Gui
