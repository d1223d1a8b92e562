#include "core/vm/vmports.h"

#include "core/agent/agentclient.h"
#include "core/log.h"
#include "core/vm/portforward.h"
#include "core/vm/vmregistry.h"

namespace Vm {
namespace {

// The guest's side of every exposure: its loopback.
const QString kGuestHost = QStringLiteral("127.0.0.1");

QString endpoint(const QHostAddress &address, quint16 port)
{
    return address.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]:%2").arg(address.toString()).arg(port)
                                                               : QStringLiteral("%1:%2").arg(address.toString()).arg(port);
}

// PortForward's listen errors, said for an exposure.
Core::Error listenError(const PortExposure &e, const Core::Error &error)
{
    const QString where = endpoint(e.hostAddress, e.hostPort);
    switch (error.code) {
    case Core::ErrorCode::AlreadyExists:
        return Core::Error(error.code,
                           QStringLiteral("host port %1 is already in use (another program or exposure listens there): choose another "
                                          "host port, or leave it out for a free one")
                               .arg(where));
    case Core::ErrorCode::PermissionDenied:
        return Core::Error(
            error.code, QStringLiteral("this service may not listen on host port %1 (ports below 1024 need privileges): choose a port from 1024").arg(where));
    case Core::ErrorCode::InvalidArgument:
        return Core::Error(error.code, QStringLiteral("cannot listen on host address %1: it is not an address of this host").arg(e.hostAddress.toString()));
    default: return error;
    }
}

} // namespace

QString portStateName(VmPorts::State state)
{
    switch (state) {
    case VmPorts::State::Active: return QStringLiteral("active");
    case VmPorts::State::Waiting: return QStringLiteral("waiting");
    case VmPorts::State::Failed: return QStringLiteral("failed");
    }
    return QStringLiteral("failed");
}

VmPorts::VmPorts(VmRegistry &registry, QObject *parent)
    : QObject(parent)
    , m_registry(registry)
{
}

VmPorts::~VmPorts() = default;

VmPorts::Live VmPorts::bind(const QString &vm, PortExposure &exposure, Agent::AgentClient *agent)
{
    Live live;
    auto forward = std::make_unique<PortForward>(agent, kGuestHost, exposure.guestPort);
    Core::Result ok = Core::Error(Core::ErrorCode::Internal, QString());
    if (!exposure.fixedHostPort() && exposure.lastHostPort != 0)
        ok = forward->listenTcp(exposure.hostAddress, exposure.lastHostPort);
    if (!ok)
        ok = forward->listenTcp(exposure.hostAddress, exposure.hostPort);
    if (!ok) {
        live.error = listenError(exposure, ok.error());
        return live;
    }
    exposure.lastHostPort = forward->tcpPort();
    connect(forward.get(), &PortForward::connectionOpened, this, [this, vm]() {
        ++m_connectionsTotal;
        Q_EMIT changed(vm);
    });
    connect(forward.get(), &PortForward::connectionClosed, this, [this, vm]() { Q_EMIT changed(vm); });
    connect(forward.get(), &PortForward::connectionFailed, this, [this, vm]() {
        ++m_connectionFailures;
        Q_EMIT changed(vm);
    });
    live.forward = std::move(forward);
    return live;
}

VmPorts::Status VmPorts::statusOf(const PortExposure &exposure, const Live &live) const
{
    Status s;
    s.exposure = exposure;
    if (!live.forward) {
        s.state = State::Failed;
        s.error = live.error;
        return s;
    }
    s.boundPort = live.forward->tcpPort();
    s.connections = live.forward->connectionCount();
    s.state = live.forward->agent() ? State::Active : State::Waiting;
    return s;
}

void VmPorts::saveLastPort(const QString &vm, const PortExposure &bound)
{
    VmEntry *entry = m_registry.find(vm);
    if (!entry)
        return;
    for (PortExposure &p : entry->record.ports) {
        if (p.guestPort == bound.guestPort && p.lastHostPort != bound.lastHostPort) {
            p.lastHostPort = bound.lastHostPort;
            m_registry.saveOrWarn(entry->record);
        }
    }
}

Core::Expected<VmPorts::Status> VmPorts::expose(const QString &vm, const PortExposure &request)
{
    auto e = m_registry.entryFor(vm);
    if (!e)
        return e.error();
    if (auto ok = request.validate(); !ok)
        return ok.error();
    VmEntry *entry = *e;
    for (const PortExposure &p : entry->record.ports) {
        if (p.guestPort != request.guestPort)
            continue;
        const Live &live = m_live[vm][p.guestPort];
        const QString where = live.forward ? endpoint(p.hostAddress, live.forward->tcpPort()) : endpoint(p.hostAddress, p.hostPort);
        return Core::Error(Core::ErrorCode::AlreadyExists,
                           QStringLiteral("guest port %1 of VM %2 is already exposed (on %3): remove that first").arg(p.guestPort).arg(vm, where));
    }
    if (entry->record.ports.size() >= kMaxPortsPerVm)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("VM %1 has %2 exposed ports, the most it may have").arg(vm).arg(kMaxPortsPerVm));
    PortExposure exposure = request;
    exposure.lastHostPort = 0;
    Live live = bind(vm, exposure, m_agents[vm]);
    if (!live.forward)
        return *live.error;
    entry->record.ports.append(exposure);
    if (auto ok = m_registry.save(entry->record); !ok) {
        entry->record.ports.removeLast();
        return ok.error();
    }
    const Status status = statusOf(exposure, live);
    m_live[vm][exposure.guestPort] = std::move(live);
    Core::Log::core()->info("VM {}: guest port {} exposed on {}", vm.toStdString(), exposure.guestPort,
                            endpoint(exposure.hostAddress, status.boundPort).toStdString());
    Q_EMIT changed(vm);
    return status;
}

Core::Expected<QList<VmPorts::Status>> VmPorts::list(const QString &vm) const
{
    auto e = m_registry.entryFor(vm);
    if (!e)
        return e.error();
    QList<Status> out;
    const auto live = m_live.find(vm);
    for (const PortExposure &p : (*e)->record.ports) {
        static const Live none;
        const Live *l = &none;
        if (live != m_live.end()) {
            const auto it = live->second.find(p.guestPort);
            if (it != live->second.end())
                l = &it->second;
        }
        out.append(statusOf(p, *l));
    }
    std::sort(out.begin(), out.end(), [](const Status &a, const Status &b) { return a.exposure.guestPort < b.exposure.guestPort; });
    return out;
}

Core::Result VmPorts::unexpose(const QString &vm, quint16 guestPort)
{
    auto e = m_registry.entryFor(vm);
    if (!e)
        return e.error();
    VmEntry *entry = *e;
    const auto at =
        std::find_if(entry->record.ports.cbegin(), entry->record.ports.cend(), [guestPort](const PortExposure &p) { return p.guestPort == guestPort; });
    if (at == entry->record.ports.cend())
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("guest port %1 of VM %2 is not exposed").arg(guestPort).arg(vm));
    const PortExposure removed = *at;
    const qsizetype index = at - entry->record.ports.cbegin();
    entry->record.ports.removeAt(index);
    if (auto ok = m_registry.save(entry->record); !ok) {
        entry->record.ports.insert(index, removed);
        return ok.error();
    }
    m_live[vm].erase(guestPort); // stops listening, drops its connections
    Core::Log::core()->info("VM {}: guest port {} no longer exposed", vm.toStdString(), guestPort);
    Q_EMIT changed(vm);
    return {};
}

VmPorts::Totals VmPorts::totals() const
{
    Totals t;
    t.connectionsTotal = m_connectionsTotal;
    t.connectionFailures = m_connectionFailures;
    for (const auto &[vm, entry] : m_registry.entries()) {
        auto list = this->list(vm);
        if (!list)
            continue;
        for (const Status &s : *list) {
            (s.state == State::Active ? t.active : s.state == State::Waiting ? t.waiting : t.failed)++;
            t.openConnections += s.connections;
        }
    }
    return t;
}

void VmPorts::listenAll()
{
    for (const auto &[vm, entry] : m_registry.entries()) {
        const QList<PortExposure> ports = entry->record.ports;
        for (PortExposure p : ports) {
            Live live = bind(vm, p, m_agents[vm]);
            if (live.forward)
                saveLastPort(vm, p);
            else
                Core::Log::core()->warn("VM {}: guest port {} is not exposed for now: {}", vm.toStdString(), p.guestPort, live.error->message.toStdString());
            m_live[vm][p.guestPort] = std::move(live);
        }
    }
}

void VmPorts::setAgent(const QString &vm, Agent::AgentClient *agent)
{
    m_agents[vm] = agent;
    VmEntry *entry = m_registry.find(vm);
    if (!entry)
        return;
    VmLive &live = m_live[vm];
    const QList<PortExposure> ports = entry->record.ports;
    for (PortExposure p : ports) {
        Live &l = live[p.guestPort];
        if (l.forward) {
            l.forward->setAgent(agent);
        } else if (agent) { // runs now: try again
            l = bind(vm, p, agent);
            if (l.forward)
                saveLastPort(vm, p);
        }
    }
    Q_EMIT changed(vm);
}

void VmPorts::forget(const QString &vm)
{
    m_live.erase(vm);
    m_agents.erase(vm);
}

} // namespace Vm
