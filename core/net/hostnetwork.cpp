#include "core/net/hostnetwork.h"

#include "core/net/taplink.h"
#include "core/paths.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>

namespace Net {

namespace {

constexpr char kResolvConf[] = "/etc/resolv.conf";
constexpr qint64 kMaxResolvConfBytes = 64 * 1024;

Core::Error notAttached(int slot)
{
    return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM is attached at network slot %1").arg(slot));
}

Core::Error notStarted()
{
    return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the host network is not started"));
}

// The address part of an upstream ("10.0.0.53#5353" -> 10.0.0.53).
QHostAddress upstreamAddress(const QString &upstream)
{
    return QHostAddress(upstream.section(QLatin1Char('#'), 0, 0));
}

void keepFirstError(Core::Result &first, const Core::Result &step)
{
    if (first && !step)
        first = step;
}

} // namespace

HostNetwork::HostNetwork(HostNetworkOptions options)
    : m_options(std::move(options))
{
}

HostNetwork::~HostNetwork()
{
    [[maybe_unused]] const Core::Result ok = stop();
}

QString HostNetwork::tapPrefix(const QString &instanceId)
{
    const QByteArray hash = QCryptographicHash::hash(instanceId.toUtf8(), QCryptographicHash::Sha256).toHex();
    return QStringLiteral("mvs") + QString::fromLatin1(hash.left(kTapPrefixHexDigits));
}

QString HostNetwork::subnetLockPath(const QString &lockDir, const Cidr &subnet)
{
    return QDir(lockDir).filePath(QStringLiteral("subnet-%1_%2.lock").arg(subnet.address().toString()).arg(subnet.prefix()));
}

QString HostNetwork::table() const
{
    return QStringLiteral("mvs_") + m_options.instanceId;
}

QString HostNetwork::tapName(int slot) const
{
    return QStringLiteral("%1v%2").arg(tapPrefix(m_options.instanceId)).arg(slot);
}

// Step: the instance's lock and its tap prefix's, held until stop().
Core::Result HostNetwork::lockInstance()
{
    if (auto made = Core::Paths::ensurePrivateDir(m_options.lockDir); !made)
        return made;
    auto instance = FileLock::tryAcquire(Leftovers::instanceLockPath(m_options.lockDir, m_options.instanceId), kLockWaitMs);
    if (!instance)
        return Core::Error(instance.error().code, QStringLiteral("network instance %1: %2").arg(m_options.instanceId, instance.error().message));
    auto taps = FileLock::tryAcquire(Leftovers::tapLockPath(m_options.lockDir, tapPrefix(m_options.instanceId)), kLockWaitMs);
    if (!taps)
        return Core::Error(taps.error().code,
                           QStringLiteral("network instance %1: its tap prefix %2 is in use by another instance (%3): choose another instance id")
                               .arg(m_options.instanceId, tapPrefix(m_options.instanceId), taps.error().message));
    m_instanceLock = std::move(*instance);
    m_tapLock = std::move(*taps);
    return {};
}

// Step: the upstreams given, else the host's resolvers.
Core::Result HostNetwork::resolveUpstreams()
{
    m_upstreams = m_options.upstreams;
    if (m_upstreams.isEmpty()) {
        QFile f(QString::fromLatin1(kResolvConf));
        if (f.open(QIODevice::ReadOnly))
            m_upstreams = DnsmasqConfig::nameservers(f.read(kMaxResolvConfBytes)).mid(0, DnsmasqConfig::kMaxUpstreams);
    }
    if (m_upstreams.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("the VMs' resolvers have no upstream: %1 names no nameserver; configure one").arg(QLatin1String(kResolvConf)));
    return {};
}

// Step: the first candidate that no route overlaps and no live instance
// claimed (its lock), held until stop().
Core::Result HostNetwork::claimSubnet()
{
    const QStringList candidates = m_options.subnetCandidates.isEmpty() ? SubnetPlan::defaultCandidates() : m_options.subnetCandidates;
    QList<QHostAddress> avoid;
    for (const QString &u : m_upstreams)
        avoid << upstreamAddress(u);
    const HostRoutes routes = HostRoutes::read();
    QStringList refused;
    for (const QString &candidate : candidates) {
        auto plan = SubnetPlan::choose({candidate}, routes, avoid);
        if (!plan) {
            refused << plan.error().message;
            continue;
        }
        auto lock = FileLock::tryAcquire(subnetLockPath(m_options.lockDir, plan->subnet()));
        if (!lock) {
            refused << QStringLiteral("%1 is claimed by another instance").arg(candidate);
            continue;
        }
        m_plan = *plan;
        m_subnetLock = std::move(*lock);
        return {};
    }
    return Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("no VM subnet is free: %1").arg(refused.join(QStringLiteral("; "))));
}

// Step: forwarding on, the table (idempotent).
Core::Result HostNetwork::createTable()
{
    auto ruleset = NftRuleset::create(m_options.instanceId, m_plan.subnet(),
                                      m_options.inUserNamespace ? std::optional<QList<Cidr>>(m_options.outerHostAddresses) : std::nullopt);
    if (!ruleset)
        return ruleset.error();
    if (auto ok = TapLink::enableForwarding(); !ok)
        return ok;
    if (auto ok = Nftables::apply(ruleset->tableScript(), QStringLiteral("create the nftables table %1").arg(ruleset->table())); !ok)
        return ok;
    m_ruleset = *ruleset;
    return {};
}

// Step: the options hold a valid id (the ruleset's own check) and the runtime directory exists.
Core::Result HostNetwork::checkOptions() const
{
    if (auto valid = NftRuleset::create(m_options.instanceId, *Cidr::parse(QStringLiteral("10.0.0.0/8"))); !valid)
        return valid.error();
    return Core::Paths::ensurePrivateDir(m_options.runtimeDir);
}

// Step: what dead instances (and this one's earlier life) left.
Core::Result HostNetwork::removeLeftovers(LeftoverReport &report)
{
    auto removed = Leftovers::removeDead(m_options.lockDir, m_options.instanceId, tapPrefix(m_options.instanceId));
    if (!removed)
        return removed.error();
    report = *removed;
    return {};
}

Core::Expected<LeftoverReport> HostNetwork::start()
{
    if (isStarted())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the host network of instance %1 is started already").arg(m_options.instanceId));
    LeftoverReport report;
    Core::Result ok = checkOptions();
    if (ok)
        ok = lockInstance();
    if (ok)
        ok = removeLeftovers(report);
    if (ok)
        ok = resolveUpstreams();
    if (ok)
        ok = claimSubnet();
    if (ok)
        ok = createTable();
    if (!ok) {
        m_subnetLock.unlock();
        m_tapLock.unlock();
        m_instanceLock.unlock();
        return ok.error();
    }
    return report;
}

Core::Result HostNetwork::checkNewSlot(int slot) const
{
    if (!isStarted())
        return notStarted();
    if (m_vms.count(slot))
        return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("network slot %1 is taken by VM %2").arg(slot).arg(m_vms.at(slot).vmId));
    if (slot > NftRuleset::kMaxSlot)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("network slot %1 is past the last (%2)").arg(slot).arg(NftRuleset::kMaxSlot));
    return {};
}

VmFilter HostNetwork::filter(const Vm &vm) const
{
    VmFilter f;
    f.slot = vm.address.slot;
    f.tap = vm.tap;
    f.address = vm.address.address;
    f.gateway = vm.address.gateway;
    f.policy = vm.policy;
    f.privateNetwork = vm.privateNetwork;
    return f;
}

Core::Result HostNetwork::applyVmRules(const Vm &vm, int previousDnsGroups)
{
    auto script = m_ruleset->vmScript(filter(vm), previousDnsGroups);
    if (!script)
        return script.error();
    return Nftables::apply(*script, QStringLiteral("apply the rules of VM %1 (slot %2)").arg(vm.vmId).arg(vm.address.slot));
}

Core::Result HostNetwork::startResolver(Vm &vm)
{
    DnsmasqConfig c;
    c.table = table();
    c.slot = vm.address.slot;
    c.listenAddress = vm.address.gateway;
    c.upstreams = m_upstreams;
    c.policy = vm.policy;
    c.inUserNamespace = m_options.inUserNamespace;
    vm.resolver = std::make_unique<Resolver>(m_options.runtimeDir, c);
    return vm.resolver->start();
}

QSet<QString> HostNetwork::macs() const
{
    QSet<QString> out;
    for (const auto &[slot, vm] : m_vms)
        out << vm.mac;
    return out;
}

Core::Expected<HostNetwork::Vm> HostNetwork::newVm(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac,
                                                   const QString &privateNetwork) const
{
    if (auto ok = checkNewSlot(slot); !ok)
        return ok.error();
    if (!mac.isEmpty() && macs().contains(mac.toLower()))
        return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("MAC %1 of VM %2 is another attached VM's").arg(mac, vmId));
    auto address = m_plan.address(slot);
    if (!address)
        return address.error();
    Vm vm;
    vm.vmId = vmId;
    vm.tap = tapName(slot);
    vm.address = *address;
    vm.mac = mac.isEmpty() ? macForVm(vmId, macs()) : mac.toLower();
    vm.policy = policy;
    vm.privateNetwork = privateNetwork;
    return vm;
}

// Steps on an existing tap: address and link, rules, resolver; undone on failure.
Core::Expected<VmAttachment> HostNetwork::configureVm(Vm vm, TapDevice tap)
{
    Core::Result ok = TapLink::configure(vm.tap, vm.address);
    if (ok)
        ok = applyVmRules(vm, 0);
    if (ok)
        ok = startResolver(vm);
    if (!ok) {
        [[maybe_unused]] const Core::Result undone = removeVm(vm); // the tap goes with its descriptor
        return ok.error();
    }
    VmAttachment a{std::move(tap), vm.address, vm.mac};
    const int slot = vm.address.slot;
    m_vms.emplace(slot, std::move(vm));
    return a;
}

Core::Expected<VmAttachment> HostNetwork::attach(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac, const QString &privateNetwork)
{
    auto vm = newVm(vmId, slot, policy, mac, privateNetwork);
    if (!vm)
        return vm.error();
    auto tap = TapDevice::create(vm->tap);
    if (!tap)
        return tap.error();
    return configureVm(std::move(*vm), std::move(*tap));
}

Core::Expected<VmAttachment> HostNetwork::adopt(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac, const QString &privateNetwork)
{
    auto vm = newVm(vmId, slot, policy, mac, privateNetwork);
    if (!vm)
        return vm.error();
    if (!TapLink::exists(vm->tap))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("VM %1 has no tap %2 to adopt (its VMM is gone)").arg(vmId, vm->tap));
    return configureVm(std::move(*vm), TapDevice());
}

Core::Result HostNetwork::setPolicy(int slot, const NetworkPolicy &policy)
{
    auto it = m_vms.find(slot);
    if (it == m_vms.end())
        return notAttached(slot);
    Vm &vm = it->second;
    // The old resolver stops first: it must not add the old names' addresses
    // to the new sets (a set index may name another rule's ports now).
    if (auto ok = vm.resolver->stop(); !ok)
        return ok;
    const int previousGroups = int(NftRuleset::dnsGroups(vm.policy).size());
    const NetworkPolicy previous = vm.policy;
    vm.policy = policy;
    if (auto ok = applyVmRules(vm, previousGroups); !ok) {
        vm.policy = previous; // nft applies a script whole or not at all
        [[maybe_unused]] const Core::Result restarted = vm.resolver->start();
        return ok;
    }
    return vm.resolver->replacePolicy(policy);
}

// Every step tried, the first failure kept: resolver, nft objects, tap address.
Core::Result HostNetwork::removeVm(Vm &vm)
{
    Core::Result first;
    if (vm.resolver)
        keepFirstError(first, vm.resolver->stop());
    auto script = m_ruleset->vmDeleteScript(filter(vm));
    keepFirstError(first,
                   script ? Nftables::apply(*script, QStringLiteral("delete the rules of VM %1 (slot %2)").arg(vm.vmId).arg(vm.address.slot))
                          : Core::Result(script.error()));
    keepFirstError(first, TapLink::unconfigure(vm.tap));
    return first;
}

Core::Result HostNetwork::detach(int slot)
{
    auto it = m_vms.find(slot);
    if (it == m_vms.end())
        return notAttached(slot);
    Core::Result ok = removeVm(it->second);
    m_vms.erase(it);
    return ok;
}

Core::Result HostNetwork::stop()
{
    if (!isStarted())
        return {};
    Core::Result first;
    for (auto &[slot, vm] : m_vms) {
        if (vm.resolver)
            keepFirstError(first, vm.resolver->stop());
        keepFirstError(first, TapLink::unconfigure(vm.tap));
    }
    m_vms.clear();
    keepFirstError(first, Nftables::apply(m_ruleset->tableDeleteScript(), QStringLiteral("delete the nftables table %1").arg(table())));
    m_ruleset.reset();
    m_subnetLock.unlock();
    m_tapLock.unlock();
    m_instanceLock.unlock();
    return first;
}

void HostNetwork::release()
{
    m_vms.clear(); // a Resolver does not stop its dnsmasq when destroyed
    m_ruleset.reset();
    m_subnetLock.unlock();
    m_tapLock.unlock();
    m_instanceLock.unlock();
}

Core::Result HostNetwork::addOuterHostAddresses(const QList<Cidr> &networks)
{
    if (!isStarted())
        return notStarted();
    if (networks.isEmpty())
        return {};
    return Nftables::apply(m_ruleset->outerHostAddScript(networks), QStringLiteral("add outer host addresses to %1").arg(table()));
}

const HostNetwork::Vm *HostNetwork::find(int slot) const
{
    auto it = m_vms.find(slot);
    return it == m_vms.end() ? nullptr : &it->second;
}

QSet<int> HostNetwork::slots() const
{
    QSet<int> out;
    for (const auto &[slot, vm] : m_vms)
        out << slot;
    return out;
}

std::optional<NetworkPolicy> HostNetwork::policy(int slot) const
{
    const Vm *vm = find(slot);
    return vm ? std::optional<NetworkPolicy>(vm->policy) : std::nullopt;
}

Core::Expected<VmCounters> HostNetwork::counters(int slot) const
{
    if (!find(slot))
        return notAttached(slot);
    return Nftables::vmCounters(table(), slot);
}

Core::Expected<QList<Denial>> HostNetwork::denials(int slot) const
{
    if (!find(slot))
        return notAttached(slot);
    return Nftables::denials(table(), slot);
}

void HostNetwork::rotateLogs()
{
    for (auto &[slot, vm] : m_vms)
        if (vm.resolver)
            vm.resolver->rotateLog();
}

} // namespace Net
