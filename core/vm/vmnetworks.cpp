#include "core/vm/vmnetworks.h"

#include <QFile>

#include "core/log.h"
#include "core/net/guestnet.h"
#include "core/net/nftables.h"
#include "core/net/rootlessnetwork.h"
#include "core/paths.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>

#include <unistd.h>

namespace Vm {
namespace {

QStringList listFromEnvironment(const char *name)
{
    QStringList out;
    for (const QString &item : qEnvironmentVariable(name).split(QLatin1Char(','), Qt::SkipEmptyParts))
        if (const QString t = item.trimmed(); !t.isEmpty())
            out << t;
    return out;
}

// Another firewall's forward chain that drops by default (Docker sets
// one) drops the VMs' traffic too: say so, and what lets it through.
void warnOfForwardDrops(const Net::HostNetwork &host)
{
    auto drops = Net::Nftables::foreignForwardDrops(host.table());
    if (!drops || drops->isEmpty())
        return;
    Core::Log::core()->warn("VM networking: the forward chain(s) {} drop by default and will drop the VMs' traffic unless they accept "
                            "packets from and to the taps {}* (e.g. iptables -I DOCKER-USER -i {}+ -j ACCEPT and -o {}+ with ESTABLISHED)",
                            drops->join(QStringLiteral(", ")).toStdString(), host.tapPrefix(host.instanceId()).toStdString(),
                            host.tapPrefix(host.instanceId()).toStdString(), host.tapPrefix(host.instanceId()).toStdString());
}

// The group a VM of mode private shares its network with; empty otherwise.
QString privateNetworkOf(const VmRecord &record)
{
    return record.network.spec.mode == QLatin1String("private") ? record.network.spec.privateNetwork : QString();
}

// A service that is not root: the same network in a user namespace of its own.
std::unique_ptr<VmNetworks> startRootless(Net::HostNetworkOptions options, QStringList helperCommand)
{
    Net::RootlessOptions rootless;
    rootless.network = std::move(options);
    rootless.helperCommand = helperCommand.isEmpty() ? QStringList{QCoreApplication::applicationFilePath(), QStringLiteral("net-helper")} : helperCommand;
    auto network = Net::RootlessNetwork::start(std::move(rootless));
    if (!network) {
        Core::Log::core()->warn("VM networking is off: {}", network.error().message.toStdString());
        return std::make_unique<VmNetworks>(Core::Error(
            Core::ErrorCode::Unsupported, QStringLiteral("this service is not root and its user-mode network did not start: %1").arg(network.error().message)));
    }
    Core::Log::core()->info("VM networking (user mode, pasta): subnet {} in the service's own network namespace",
                            (*network)->subnet().toString().toStdString());
    return std::make_unique<VmNetworks>(std::move(*network));
}

} // namespace

Net::HostNetworkOptions VmNetworks::serviceOptions(const QString &stateDir)
{
    const QString canonical = QFileInfo(stateDir).absoluteFilePath();
    const QByteArray hash = QCryptographicHash::hash(canonical.toUtf8(), QCryptographicHash::Sha256).toHex();
    Net::HostNetworkOptions options;
    options.instanceId = QString::fromLatin1(hash.left(kInstanceIdChars));
    options.runtimeDir = Core::Paths::runtimeDir() + QStringLiteral("/net-") + options.instanceId;
    options.subnetCandidates = listFromEnvironment(kSubnetsVariable);
    options.upstreams = listFromEnvironment(kUpstreamsVariable);
    return options;
}

std::unique_ptr<VmNetworks> VmNetworks::start(Net::HostNetworkOptions options, QStringList helperCommand)
{
    if (::geteuid() != 0)
        return startRootless(std::move(options), std::move(helperCommand));
    auto host = std::make_unique<Net::HostNetwork>(std::move(options));
    auto started = host->start();
    if (!started) {
        Core::Log::core()->warn("VM networking is off: {}", started.error().message.toStdString());
        return std::make_unique<VmNetworks>(
            Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("the host network did not start: %1").arg(started.error().message)));
    }
    Core::Log::core()->info("VM networking: subnet {}, table {}", host->plan().subnet().toString().toStdString(), host->table().toStdString());
    warnOfForwardDrops(*host);
    return std::make_unique<VmNetworks>(std::move(host));
}

VmNetworks::VmNetworks(std::unique_ptr<Net::NetworkBackend> backend)
    : m_backend(std::move(backend))
{
}

VmNetworks::VmNetworks(Core::Error unavailable)
    : m_unavailable(std::move(unavailable))
{
}

VmNetworks::~VmNetworks()
{
    m_attached.clear(); // our descriptors; the VMMs' are theirs
    if (m_backend) [[maybe_unused]]
        const Core::Result stopped = m_backend->stop();
}

Core::Result VmNetworks::available(const VmRecord &record) const
{
    if (!record.network.hasNic() || m_backend)
        return {};
    return Core::Error(
        Core::ErrorCode::Unsupported,
        QStringLiteral("VM %1 has network mode %2, which this service cannot give it: %3").arg(record.name, record.network.spec.mode, m_unavailable.message));
}

Core::Expected<VmNic> VmNetworks::nicOf(const Attached &a) const
{
    if (!a.tap.isValid())
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("its tap is held by the VMM an earlier life of this service left running; stop the VM and start it again first"));
    auto spec = Net::GuestNet::spec(a.address, a.mac);
    if (!spec)
        return spec.error();
    return VmNic{Vmm::NicSpec{a.tap.fd(), a.mac}, *spec};
}

Core::Expected<std::optional<VmNic>> VmNetworks::attach(const VmRecord &record)
{
    if (!record.network.hasNic())
        return std::optional<VmNic>();
    if (auto ok = available(record); !ok)
        return ok.error();
    auto it = m_attached.find(record.name);
    if (it == m_attached.end()) {
        auto attachment = m_backend->attach(record.name, record.network.slot, record.network.spec.policy, record.network.mac, privateNetworkOf(record));
        if (!attachment)
            return Core::Error(attachment.error().code, QStringLiteral("VM %1's network: %2").arg(record.name, attachment.error().message));
        it = m_attached.emplace(record.name, Attached{record.network.slot, std::move(attachment->tap), attachment->address, attachment->mac}).first;
    }
    auto nic = nicOf(it->second);
    if (!nic)
        return Core::Error(nic.error().code, QStringLiteral("VM %1's network: %2").arg(record.name, nic.error().message));
    return std::optional<VmNic>(*nic);
}

Core::Result VmNetworks::adopt(const VmRecord &record)
{
    if (!record.network.hasNic() || isAttached(record.name))
        return {};
    if (auto ok = available(record); !ok)
        return ok;
    if (!m_backend->outlivesService()) {
        // Its network ended with the service that started it: the VM runs
        // on without one (its traffic goes nowhere) until it starts again.
        Core::Log::core()->warn("{}: its network ended with the service that started it; it runs on without one until it is started again",
                                record.name.toStdString());
        return {};
    }
    auto attachment = m_backend->adopt(record.name, record.network.slot, record.network.spec.policy, record.network.mac, privateNetworkOf(record));
    if (!attachment)
        return attachment.error();
    // A copy of the VMM's descriptor, for its next VMM (a restore).
    Net::TapDevice tap;
    if (record.runningVmm) {
        auto taken = Net::TapDevice::fromProcess(record.runningVmm->pid, m_backend->tapName(record.network.slot));
        if (taken)
            tap = std::move(*taken);
        else
            Core::Log::core()->warn("{}: {}", record.name.toStdString(), taken.error().message.toStdString());
    }
    m_attached.emplace(record.name, Attached{record.network.slot, std::move(tap), attachment->address, attachment->mac});
    return {};
}

void VmNetworks::detach(const QString &name)
{
    auto it = m_attached.find(name);
    if (it == m_attached.end())
        return;
    const int slot = it->second.slot;
    m_attached.erase(it); // our descriptor first: the tap goes with the VMM's
    if (auto ok = m_backend->detach(slot); !ok)
        Core::Log::core()->warn("{}: detaching its network: {}", name.toStdString(), ok.error().message.toStdString());
}

Core::Result VmNetworks::setPolicy(const QString &name, const Net::NetworkPolicy &policy)
{
    auto it = m_attached.find(name);
    if (it == m_attached.end())
        return {};
    return m_backend->setPolicy(it->second.slot, policy);
}

Core::Expected<VmNetworkStatus> VmNetworks::status(const QString &name) const
{
    VmNetworkStatus status;
    auto it = m_attached.find(name);
    if (it == m_attached.end())
        return status;
    const int slot = it->second.slot;
    status.attached = true;
    status.address = it->second.address;
    status.tap = m_backend->tapName(slot);
    auto counters = m_backend->counters(slot);
    if (!counters)
        return counters.error();
    status.counters = *counters;
    auto denials = m_backend->denials(slot);
    if (!denials)
        return denials.error();
    status.denials = *denials;
    return status;
}

namespace {

std::optional<quint64> readCounter(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return std::nullopt;
    bool ok = false;
    const quint64 v = f.read(32).trimmed().toULongLong(&ok);
    return ok ? std::optional<quint64>(v) : std::nullopt;
}

} // namespace

std::optional<VmTraffic> VmNetworks::traffic(const QString &name) const
{
    auto it = m_attached.find(name);
    if (it == m_attached.end() || !hostNetwork())
        return std::nullopt;
    const QString stats = QStringLiteral("/sys/class/net/%1/statistics/").arg(m_backend->tapName(it->second.slot));
    // The tap's transmit is what the host sent to the guest.
    const auto toGuest = readCounter(stats + QStringLiteral("tx_bytes"));
    const auto fromGuest = readCounter(stats + QStringLiteral("rx_bytes"));
    if (!toGuest || !fromGuest)
        return std::nullopt;
    return VmTraffic{*toGuest, *fromGuest};
}

std::map<QString, Net::VmCounters> VmNetworks::counters() const
{
    std::map<QString, Net::VmCounters> out;
    for (const auto &[name, a] : m_attached) {
        if (auto c = m_backend->counters(a.slot))
            out.emplace(name, *c);
    }
    return out;
}

void VmNetworks::release()
{
    if (!m_backend)
        return;
    m_backend->release();
    m_backend.reset();
    m_attached.clear();
    m_unavailable = Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the host network was left to the VMs running on"));
}

} // namespace Vm
