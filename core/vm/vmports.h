#pragma once

#include "core/expected.h"
#include "core/vm/portexposure.h"

#include <QObject>
#include <QPointer>

#include <map>
#include <memory>
#include <optional>

namespace Agent {
class AgentClient;
}

namespace Vm {

class PortForward;
class VmRegistry;

// The exposed ports of a manager's VMs: guest TCP ports reached through a
// host address and port, relayed over the guest agent's forwarded streams
// (PortForward), so they work whatever the VM's network (none included).
//
// An exposure is part of its VM: kept in the VM's record, it survives
// stop/start, restore and a restart of the service, and goes with the VM or
// when it is removed. Its host port is bound from the moment it is exposed
// (or the records load) until it is removed, whether or not the VM runs, so
// nothing else takes it meanwhile: connections reach the guest while the VM
// runs and are closed at once while it does not. A fixed host port is bound
// again as it is; an ephemeral one (0) asks for the port it had last, then
// for any. An exposure that cannot be bound after a restart (its port taken)
// stays, with the error, and is tried again each time the VM starts.
class VmPorts final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmPorts)
public:
    static constexpr int kMaxPortsPerVm = 64;

    enum class State { Active, Waiting, Failed };
    struct Status {
        PortExposure exposure;
        State state = State::Waiting; // Active: listening and the VM runs; Waiting: listening, the VM does not run; Failed: not listening
        quint16 boundPort = 0; // 0: not listening
        std::optional<Core::Error> error; // Failed: why
        int connections = 0; // open now
    };
    struct Totals {
        int active = 0;
        int waiting = 0;
        int failed = 0;
        int openConnections = 0;
        quint64 connectionsTotal = 0; // relayed to a guest since start
        quint64 connectionFailures = 0; // refused in the guest, VM not running, agent lost
    };

    VmPorts(VmRegistry &registry, QObject *parent = nullptr);
    ~VmPorts() override;

    // Expose the guest port of a VM (any state) and save it in its record.
    // NotFound: no such VM; InvalidArgument: a bad port or an address not
    // of this host; AlreadyExists: the guest port is exposed already, or the
    // host port is in use; PermissionDenied: a port this process may not bind.
    Core::Expected<Status> expose(const QString &vm, const PortExposure &request);
    Core::Expected<QList<Status>> list(const QString &vm) const; // by guest port
    // NotFound: no such VM, or the guest port is not exposed.
    Core::Result unexpose(const QString &vm, quint16 guestPort);
    Totals totals() const;

    // Bind every recorded exposure (after the records loaded).
    void listenAll();
    // The VM's agent for new connections: its agent while it runs, null
    // otherwise. Exposures not bound are tried again when it runs.
    void setAgent(const QString &vm, Agent::AgentClient *agent);
    // The VM is gone: close its ports (its record goes with it).
    void forget(const QString &vm);

Q_SIGNALS:
    // A VM's exposures changed (added, removed, bound, or their state).
    void changed(const QString &vm);

private:
    struct Live {
        std::unique_ptr<PortForward> forward;
        std::optional<Core::Error> error;
    };
    using VmLive = std::map<quint16, Live>;

    // Listen for the exposure; updates its lastHostPort once bound.
    Live bind(const QString &vm, PortExposure &exposure, Agent::AgentClient *agent);
    Status statusOf(const PortExposure &exposure, const Live &live) const;
    void saveLastPort(const QString &vm, const PortExposure &bound);

    VmRegistry &m_registry;
    std::map<QString, VmLive> m_live;
    std::map<QString, QPointer<Agent::AgentClient>> m_agents;
    quint64 m_connectionsTotal = 0;
    quint64 m_connectionFailures = 0;
};

QString portStateName(VmPorts::State state);

} // namespace Vm
