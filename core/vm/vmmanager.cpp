#include "core/vm/vmmanager.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/log.h"
#include "core/net/subnetplan.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vm/livecpus.h"
#include "core/vm/livememory.h"
#include "core/vmm/consolelog.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>

namespace Vm {
namespace {

Core::Error noNic(const QString &name)
{
    return Core::Error(Core::ErrorCode::InvalidState,
                       QStringLiteral("VM %1 has no network interface (network mode none); its network is chosen at create").arg(name));
}

bool isStartable(VirtualMachine::State s)
{
    return s == VirtualMachine::State::Created || s == VirtualMachine::State::Stopped || s == VirtualMachine::State::Failed;
}

Core::Result validShape(int vcpus, int memoryMiB, int maxVcpus)
{
    if (vcpus < 1 || vcpus > VmManager::kMaxVcpus)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("vcpus must be between 1 and %1").arg(VmManager::kMaxVcpus));
    if (maxVcpus != 0 && (maxVcpus < vcpus || maxVcpus > VmManager::kMaxVcpus))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("max_vcpus must be between vcpus (%1) and %2, or 0 for none").arg(vcpus).arg(VmManager::kMaxVcpus));
    if (memoryMiB < VmManager::kMinMemoryMiB || memoryMiB > VmManager::kMaxMemoryMiB)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("memory must be between %1 and %2 MiB").arg(VmManager::kMinMemoryMiB).arg(VmManager::kMaxMemoryMiB));
    return {};
}

} // namespace

Core::Result VmManager::validateName(const QString &name)
{
    return validateVmName(name);
}

QString VmManager::defaultStateDir()
{
    return Core::Paths::dataDir() + QStringLiteral("/vms");
}

VmManager::VmManager(const Vmm::VmmDriver &driver, QString stateDir, std::unique_ptr<VmNetworks> networks, QObject *parent)
    : QObject(parent)
    , m_driver(driver)
    , m_stateDir(stateDir.isEmpty() ? defaultStateDir() : std::move(stateDir))
    , m_registry(m_stateDir)
    , m_networks(networks ? std::move(networks)
                          : std::make_unique<VmNetworks>(Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("it was started without VM networking"))))
{
    // A VMM left running keeps its tap: its network is taken over with it.
    m_adoption = new VmAdoption(
        m_registry, m_driver,
        [this](VmEntry *entry) {
            const Core::Result ok = ensureVm(entry);
            return ok ? m_networks->adopt(entry->record) : ok;
        },
        this);
    m_snapshots = new VmSnapshots(m_registry, *this, this);
    connect(m_snapshots, &VmSnapshots::changed, this, &VmManager::snapshotsChanged);
    m_loadWarnings = m_registry.load();
    m_ports = new VmPorts(m_registry, this);
    connect(m_ports, &VmPorts::changed, this, &VmManager::portsChanged);
    // Exposed ports relay to a VM while it runs (paused: they wait for it).
    connect(this, &VmManager::vmStateChanged, m_ports, [this](const QString &name, VirtualMachine::State state) {
        const Entry *e = m_registry.find(name);
        const bool runs = state == VirtualMachine::State::Ready || state == VirtualMachine::State::Paused;
        m_ports->setAgent(name, runs && e && e->vm ? e->vm->agent() : nullptr);
    });
    m_ports->listenAll();
    m_adoption->adoptLeftRunning();
}

VmManager::~VmManager()
{
    delete m_pool; // its VMs first, then the warm starts it draws on
    m_pool = nullptr;
    // Stop listening first: the exposed ports must not outlive the registry.
    delete m_ports;
    m_ports = nullptr;
    m_adoption->forgetRunningVmms();
    // Kill every VM this manager runs. Move the entries out first: a VM
    // killed while starting resolves its start future, and continuations
    // that look entries up must find none.
    auto entries = m_registry.takeAll();
    for (auto &[name, entry] : entries)
        if (entry->vm) {
            entry->vm->disconnect(this);
            entry->vm->disconnect(m_adoption);
        }
    entries.clear();
}

Core::Result VmManager::ensureVm(Entry *entry)
{
    if (entry->vm)
        return {};
    auto tmpl = Templates::VmTemplate::load(entry->record.templateName);
    if (!tmpl)
        return tmpl.error();
    const QString name = entry->record.name;
    auto vm = std::make_unique<VirtualMachine>(name, *tmpl, m_driver);
    vm->setVcpus(entry->record.vcpus);
    vm->setMaxVcpus(entry->record.maxVcpus);
    vm->setMemoryMiB(entry->record.memoryMiB);
    vm->setConsoleLogPath(consoleLogPath(name));
    vm->setStateDir(snapshotDir(name));
    // Root-disk templates: the VM's own writable layer lives with its record,
    // so what it wrote survives stop/start and a restart of the service.
    vm->setDiskDir(diskDir(name));
    connect(vm.get(), &VirtualMachine::stateChanged, this, [this, name](VirtualMachine::State state) {
        vmmEnded(name, state);
        if (const Entry *e = m_registry.find(name))
            Q_EMIT vmStateChanged(name, VmRegistry::reportedState(*e));
    });
    connect(vm.get(), &VirtualMachine::failed, this, [this, name](const Core::Error &error) { m_registry.setLastError(name, error); });
    connect(vm.get(), &VirtualMachine::imageProgress, this, [this, name](const QString &step, int percent) { Q_EMIT imageProgress(name, step, percent); });
    m_adoption->clearRunningVmmWhenItEnds(vm.get(), name);
    entry->vm = std::move(vm);
    return {};
}

Core::Result VmManager::prepareVmmStart(VmEntry *entry)
{
    if (auto ok = checkStartQuotas(entry->record); !ok)
        return ok.error();
    if (m_pool) { // pooled VMs give way
        m_pool->shrinkToFit([this, &entry](int pooledVcpus, qint64 pooledMemoryMiB) {
            return bool(poolFits(entry->record.vcpus, entry->record.memoryMiB, pooledVcpus, pooledMemoryMiB));
        });
    }
    entry->vm->setPersistent(m_detachable);
    auto nic = m_networks->attach(entry->record);
    if (!nic)
        return nic.error();
    if (*nic)
        entry->vm->setNic((*nic)->nic, (*nic)->guestNetSpec);
    else
        entry->vm->setNic(std::nullopt);
    return {};
}

// Its VMM is gone (stopped, failed, killed): so is its network.
void VmManager::vmmEnded(const QString &name, VirtualMachine::State state)
{
    if (state == VirtualMachine::State::Stopped || state == VirtualMachine::State::Failed) {
        m_networks->detach(name);
        if (m_pool)
            m_pool->refill(); // room it may have waited for
    }
}

void VmManager::vmmStarted(const QString &name)
{
    if (m_detachable)
        m_adoption->recordRunningVmm(name); // a new VMM
}

QString VmManager::diskDir(const QString &name) const
{
    return m_registry.records().diskDir(name);
}

QString VmManager::snapshotDir(const QString &name) const
{
    return m_registry.records().snapshotDir(name);
}

QString VmManager::consoleLogPath(const QString &name) const
{
    return m_registry.records().consoleLogPath(name);
}

Core::Expected<VmInfo> VmManager::create(const CreateOptions &options)
{
    if (auto ok = validateName(options.name); !ok)
        return ok.error();
    if (m_registry.find(options.name))
        return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("a VM named '%1' already exists").arg(options.name));
    if (options.templateName.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("a template is required"));
    // A template is named, never a path: records must not point at files.
    if (options.templateName.contains(QLatin1Char('/')) || options.templateName.endsWith(QLatin1String(".yaml")))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("bad template name '%1': give a template's name, not a path").arg(options.templateName.left(80)));
    auto tmpl = Templates::VmTemplate::load(options.templateName);
    if (!tmpl)
        return tmpl.error();
    const Core::Log::Scope scope(Core::Log::contextForVm(options.name));
    auto created = createEntry(options, *tmpl);
    if (created)
        Core::Log::core()->info("{}: created from template {} ({} vCPUs, {} MiB)", options.name.toStdString(), tmpl->name.toStdString(), created->record.vcpus,
                                created->record.memoryMiB);
    return created;
}

Core::Expected<VmInfo> VmManager::createEntry(const CreateOptions &options, const Templates::VmTemplate &tmpl)
{
    const int vcpus = options.vcpus.value_or(tmpl.vcpus);
    const int memory = options.memoryMiB.value_or(tmpl.memoryMiB);
    const int maxVcpus = options.maxVcpus.value_or(0);
    if (auto ok = validShape(vcpus, memory, maxVcpus); !ok)
        return ok.error();
    if (auto ok = checkCreateQuotas(options.owner, vcpus, memory); !ok)
        return ok.error();
    auto entry = std::make_unique<Entry>();
    entry->record.owner = options.owner;
    entry->record.name = options.name;
    entry->record.templateName = tmpl.name;
    entry->record.vcpus = vcpus;
    entry->record.maxVcpus = maxVcpus;
    entry->record.memoryMiB = memory;
    entry->record.createdAt = QDateTime::currentDateTimeUtc();
    auto network = assignNetwork(options.network.value_or(tmpl.network), options.name);
    if (!network)
        return network.error();
    entry->record.network = *network;
    // A record that did not load (see loadWarnings) still names its disk.
    if (QFileInfo::exists(m_registry.records().recordPath(options.name)))
        return Core::Error(
            Core::ErrorCode::AlreadyExists,
            QStringLiteral("the record %1 exists but was not loaded: repair or delete it first").arg(m_registry.records().recordPath(options.name)));
    // Files an earlier VM of this name left (a delete cut short, a record
    // lost) are not this VM's: it never boots an old disk.
    if (auto clean = removeVmFiles(options.name); !clean)
        return clean.error();
    if (auto ok = m_registry.save(entry->record); !ok)
        return ok.error();
    Entry *e = m_registry.insert(std::move(entry));
    if (auto ok = ensureVm(e); !ok) {
        // Cannot happen for a template that just loaded; roll back anyway.
        m_registry.take(options.name);
        QFile::remove(m_registry.records().recordPath(options.name));
        return ok.error();
    }
    Q_EMIT vmAdded(options.name);
    return VmRegistry::infoOf(*e);
}

Core::Expected<VmInfo> VmManager::createVm(const QString &name, const QString &templateName, int vcpus, int memoryMiB, const Templates::NetworkSpec &network,
                                           const QString &owner)
{
    return create(CreateOptions{name, templateName, vcpus, memoryMiB, std::nullopt, network, owner});
}

// The owner's limits: its error names it ("quota exceeded: token <id>: ...").
namespace {

Core::Result forOwner(Core::Result checked, const QString &owner)
{
    if (checked)
        return checked;
    Core::Error e = checked.error();
    e.message.replace(QStringLiteral("quota exceeded: "), QStringLiteral("quota exceeded: token %1: ").arg(owner));
    return e;
}

} // namespace

// A new VM of this shape: room for one more (count, disk), and a shape that
// could run at all (alone), under the host's limits and its owner's.
Core::Result VmManager::checkCreateQuotas(const QString &owner, int vcpus, int memoryMiB) const
{
    if (auto ok = checkCreate(m_quota, quotaUsage(QString(), m_quota.maxDiskBytes > 0)); !ok)
        return ok;
    if (!owner.isEmpty() && m_ownerQuota) {
        if (auto ok = forOwner(checkCreate(m_ownerQuota(owner), quotaUsage(QString(), false, owner)), owner); !ok)
            return ok;
    }
    return checkShape(owner, vcpus, memoryMiB);
}

// The shape fits the host's and its owner's limits at all (alone).
Core::Result VmManager::checkShape(const QString &owner, int vcpus, int memoryMiB) const
{
    if (auto ok = checkStart(m_quota, QuotaUsage(), vcpus, memoryMiB); !ok)
        return ok;
    if (owner.isEmpty() || !m_ownerQuota)
        return {};
    return forOwner(checkStart(m_ownerQuota(owner), QuotaUsage(), vcpus, memoryMiB), owner);
}

// The VM is about to run: beside the VMs holding a VMM (itself left out),
// the host's and its owner's.
Core::Result VmManager::checkStartQuotas(const VmRecord &record) const
{
    if (auto ok = checkStart(m_quota, quotaUsage(record.name), record.vcpus, record.memoryMiB); !ok)
        return ok;
    if (record.owner.isEmpty() || !m_ownerQuota)
        return {};
    return forOwner(checkStart(m_ownerQuota(record.owner), quotaUsage(record.name, false, record.owner), record.vcpus, record.memoryMiB), record.owner);
}

Core::Expected<Net::NetworkPolicy> VmManager::networkPolicy(const QString &name) const
{
    auto entry = m_registry.entryFor(name);
    if (!entry)
        return entry.error();
    const VmNetwork &net = (*entry)->record.network;
    if (!net.hasNic())
        return noNic(name);
    return net.spec.policy;
}

Core::Result VmManager::setNetworkPolicy(const QString &name, const Net::NetworkPolicy &policy)
{
    auto entry = m_registry.entryFor(name);
    if (!entry)
        return entry.error();
    VmRecord &record = (*entry)->record;
    if (!record.network.hasNic())
        return noNic(name);
    // The running filter first: a policy it refuses is not recorded.
    const Net::NetworkPolicy previous = record.network.spec.policy;
    if (auto ok = m_networks->setPolicy(name, policy); !ok)
        return ok;
    record.network.spec.policy = policy;
    if (auto ok = m_registry.save(record); !ok) {
        record.network.spec.policy = previous;
        [[maybe_unused]] const Core::Result back = m_networks->setPolicy(name, previous);
        return ok;
    }
    return {};
}

Core::Expected<VmNetworkStatus> VmManager::networkStatus(const QString &name) const
{
    auto entry = m_registry.entryFor(name);
    if (!entry)
        return entry.error();
    if (!(*entry)->record.network.hasNic())
        return noNic(name);
    return m_networks->status(name);
}

Core::Expected<VmNetwork> VmManager::assignNetwork(const Templates::NetworkSpec &spec, const QString &name) const
{
    VmNetwork net;
    net.spec = spec;
    if (!spec.hasNic())
        return net;
    QSet<int> slots;
    QSet<QString> macs;
    for (const auto &[other, entry] : m_registry.entries()) {
        if (entry->record.network.hasNic()) {
            slots.insert(entry->record.network.slot);
            macs.insert(entry->record.network.mac);
        }
    }
    while (slots.contains(net.slot + 1))
        ++net.slot;
    ++net.slot;
    if (net.slot >= kMaxNetworkSlots)
        return Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("every one of the %1 network slots is taken").arg(kMaxNetworkSlots));
    net.mac = Net::macForVm(name, macs);
    return net;
}

void VmManager::removeVm(const QString &name)
{
    remove(name);
}

bool VmManager::contains(const QString &name) const
{
    return m_registry.find(name) != nullptr;
}

QStringList VmManager::names() const
{
    QStringList out;
    for (const auto &[name, entry] : m_registry.entries())
        out << name;
    return out;
}

QuotaUsage VmManager::quotaUsage(const QString &except, bool withDisk, const QString &owner) const
{
    QuotaUsage usage;
    for (const auto &[name, entry] : m_registry.entries()) {
        if (!owner.isEmpty() && entry->record.owner != owner)
            continue;
        ++usage.vms;
        if (name == except || !entry->vm)
            continue;
        switch (entry->vm->state()) {
        case VirtualMachine::State::Preparing:
        case VirtualMachine::State::Booting:
        case VirtualMachine::State::Ready:
        case VirtualMachine::State::Paused:
        case VirtualMachine::State::Stopping:
            usage.vcpus += entry->record.vcpus;
            usage.memoryMiB += entry->record.memoryMiB;
            break;
        case VirtualMachine::State::Created:
        case VirtualMachine::State::Stopped:
        case VirtualMachine::State::Failed: break;
        }
    }
    if (withDisk)
        usage.diskBytes = diskUsageBytes(m_stateDir);
    return usage;
}

QList<VmInfo> VmManager::list() const
{
    QList<VmInfo> out;
    for (const auto &[name, entry] : m_registry.entries())
        out << VmRegistry::infoOf(*entry);
    return out;
}

Core::Expected<VmInfo> VmManager::info(const QString &name) const
{
    auto e = m_registry.entryFor(name);
    if (!e) {
        // A VM being removed is still listed until it is gone.
        if (const Entry *found = m_registry.find(name))
            return VmRegistry::infoOf(*found);
        return e.error();
    }
    return VmRegistry::infoOf(**e);
}

VirtualMachine *VmManager::vm(const QString &name) const
{
    const Entry *e = m_registry.find(name);
    return e ? e->vm.get() : nullptr;
}
Core::Expected<bool> VmManager::hasDesktop(const QString &name) const
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return e.error();
    if ((*e)->vm)
        return (*e)->vm->vmTemplate().desktop.enabled;
    auto tmpl = Templates::VmTemplate::load((*e)->record.templateName);
    if (!tmpl)
        return tmpl.error();
    return tmpl->desktop.enabled;
}

Core::Expected<qint64> VmManager::vmmCpuMs(const QString &name) const
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return e.error();
    const VirtualMachine *vm = (*e)->vm.get();
    const auto ms = vm && vm->instance() ? Vmm::processCpuMs(vm->instance()->pid()) : std::nullopt;
    if (!ms)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("no VMM runs for VM %1").arg(name));
    return *ms;
}

Core::Result VmManager::cancelImageBuild(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return e.error();
    VirtualMachine *vm = (*e)->vm.get();
    if (!vm || vm->state() != VirtualMachine::State::Preparing || !vm->imageBuilder())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("no image is being prepared for VM %1").arg(name));
    vm->imageBuilder()->cancel();
    return {};
}

Core::Expected<Agent::AgentClient *> VmManager::agent(const QString &name) const
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return e.error();
    const VirtualMachine::State s = VmRegistry::reportedState(**e);
    if (s == VirtualMachine::State::Paused)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is paused; resume it first").arg(name));
    if (s != VirtualMachine::State::Ready)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; start it first").arg(name, stateName(s)));
    Agent::AgentClient *a = (*e)->vm->agent();
    if (!a || !a->isReady())
        return Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("the guest agent of VM %1 is not connected").arg(name));
    return a;
}

Core::Expected<QByteArray> VmManager::consoleLog(const QString &name, qint64 maxBytes) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    if (!m_registry.find(name))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    return Vmm::ConsoleLog::tail(consoleLogPath(name), maxBytes);
}

Core::Future<void> VmManager::start(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    const Core::Log::Scope scope(Core::Log::contextForVm(name));
    Entry *entry = *e;
    if (auto ok = ensureVm(entry); !ok) {
        m_registry.setLastError(name, ok.error());
        return Core::readyFuture<void>(ok.error());
    }
    const VirtualMachine::State s = entry->vm->state();
    if (!isStartable(s))
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; only a stopped VM can be started").arg(name, stateName(s))));
    if (auto ok = m_networks->available(entry->record); !ok)
        return Core::readyFuture<void>(ok.error());
    // Never started: nothing of its own on its disk yet, so it may start
    // from its template's warm snapshot.
    const bool firstStart = !entry->record.lastStartedAt.isValid();
    entry->record.desired = VmRecord::Desired::Running;
    entry->record.lastStartedAt = QDateTime::currentDateTimeUtc();
    entry->record.lastError.reset();
    if (auto ok = m_registry.save(entry->record); !ok)
        return Core::readyFuture<void>(ok.error());
    std::unique_ptr<VirtualMachine> pooled = takePooled(*entry, firstStart);
    if (auto ok = prepareVmmStart(entry); !ok) {
        if (pooled)
            m_pool->retire(std::move(pooled));
        startEnded(name, ok, QString());
        return Core::readyFuture<void>(ok.error());
    }
    Core::Log::core()->info("{}: starting", name.toStdString());
    if (pooled)
        return startPooled(name, std::move(pooled));
    // With a NIC: a root service's (its builder's NIC is a tap of its own).
    // Warm snapshots have no room for hot-plugged vCPUs: such VMs boot cold.
    const bool warmable = firstStart && m_warm && entry->record.maxVcpus == 0 && (!entry->vm->hasNic() || m_networks->hostNetwork());
    return warmable ? startWarm(name) : startCold(name, false);
}

// A first start without a NIC may claim a pooled VM of its template and shape.
std::unique_ptr<VirtualMachine> VmManager::takePooled(const VmEntry &entry, bool firstStart)
{
    if (!firstStart || !m_pool || entry.record.network.hasNic() || entry.record.maxVcpus > 0)
        return nullptr;
    return m_pool->take(entry.record.templateName, entry.record.vcpus, entry.record.memoryMiB);
}

// One more VM of this shape beside the VMs holding a VMM and the pooled ones.
Core::Result VmManager::poolFits(int vcpus, qint64 memoryMiB, int pooledVcpus, qint64 pooledMemoryMiB) const
{
    QuotaUsage usage = quotaUsage();
    usage.vcpus += pooledVcpus;
    usage.memoryMiB += pooledMemoryMiB;
    return checkStart(m_quota, usage, vcpus, memoryMiB);
}

// A resume of a VM restored ahead; a claim that fails (the pooled VMM died
// while paused, say) starts warm instead.
Core::Future<void> VmManager::startPooled(const QString &name, std::unique_ptr<VirtualMachine> pooled)
{
    VirtualMachine *member = pooled.release();
    member->setParent(this); // gone with the manager should the claim outlive it
    Core::Promise<void> started;
    Core::whenDone(m_registry.find(name)->vm->claim(*member), this, [this, name, member, started](const Core::Result &r) {
        if (m_pool)
            m_pool->retire(std::unique_ptr<VirtualMachine>(member));
        else
            member->deleteLater(); // the pool ended (warm starts off) during the claim
        const Entry *entry = m_registry.find(name);
        if (r || r.error().code == Core::ErrorCode::Cancelled || !entry || !entry->vm || entry->record.desired != VmRecord::Desired::Running) {
            startEnded(name, r, QStringLiteral("pool"));
            started.resolve(r);
            return;
        }
        Core::Log::core()->warn("{}: the pooled VM could not be claimed ({}); starting warm", name.toStdString(), r.error().message.toStdString());
        Core::Detail::forwardTo(startWarm(name), started);
    });
    return started.future();
}

// From the template's warm snapshot; without one, or when it does not
// restore (another VMM version, a corrupt file), cold, making a new one.
Core::Future<void> VmManager::startWarm(const QString &name)
{
    const VirtualMachine *vm = m_registry.find(name)->vm.get();
    const auto found = m_warm->find(vm->vmTemplate(), vm->vcpus(), vm->memoryMiB(), vm->hasNic());
    Core::Promise<void> started;
    Core::whenDone(found, this, [this, name, started](const Core::Expected<Snapshot::SnapshotInfo> &snapshot) {
        Entry *entry = m_registry.find(name);
        if (!entry || !entry->vm || entry->removing || entry->record.desired != VmRecord::Desired::Running) {
            started.resolve(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was stopped or deleted while it started").arg(name)));
            return;
        }
        if (!snapshot) {
            if (snapshot.error().code != Core::ErrorCode::NotFound)
                Core::Log::core()->warn("{}: no warm start: {}", name.toStdString(), snapshot.error().message.toStdString());
            Core::Detail::forwardTo(startCold(name, true), started);
            return;
        }
        Core::whenDone(entry->vm->restoreSnapshot(*snapshot), this, [this, name, started, snap = *snapshot](const Core::Result &r) {
            if (r || r.error().code == Core::ErrorCode::Cancelled) {
                startEnded(name, r, QStringLiteral("warm"));
                started.resolve(r);
                return;
            }
            Core::Log::core()->warn("{}: the warm snapshot did not restore ({}); booting cold", name.toStdString(), r.error().message.toStdString());
            m_warm->discard(snap);
            Core::Detail::forwardTo(startCold(name, true), started);
        });
    });
    return started.future();
}

Core::Future<void> VmManager::startCold(const QString &name, bool makeWarm)
{
    Entry *entry = m_registry.find(name);
    if (!entry || !entry->vm)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted while it started").arg(name)));
    return entry->vm->start().then(this, [this, name, makeWarm](const Core::Result &r) -> Core::Result {
        startEnded(name, r, QStringLiteral("cold"));
        const Entry *en = m_registry.find(name);
        if (r && makeWarm && m_warm && en && en->vm)
            m_warm->build(en->vm->vmTemplate(), en->vm->vcpus(), en->vm->memoryMiB(), en->vm->hasNic());
        return r;
    });
}

void VmManager::setWarmStart(bool on)
{
    if (on && !m_warm)
        m_warm = new WarmStarts(m_driver, this);
    else if (!on && m_warm) {
        delete m_pool;
        m_pool = nullptr;
        Q_EMIT poolChanged();
        delete m_warm;
        m_warm = nullptr;
    }
}

Core::Result VmManager::setPoolTargets(const QList<VmPool::Target> &targets)
{
    const bool any = std::any_of(targets.begin(), targets.end(), [](const VmPool::Target &t) { return t.count > 0; });
    if (any && !m_warm)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the pool restores VMs from warm snapshots: turn warm starts on (warm_start: on)"));
    if (!m_pool && !any)
        return {};
    if (!m_pool) {
        m_pool = new VmPool(
            m_driver, *m_warm, m_stateDir,
            [this](int vcpus, qint64 memoryMiB, int pooledVcpus, qint64 pooledMemoryMiB) { return poolFits(vcpus, memoryMiB, pooledVcpus, pooledMemoryMiB); },
            this);
        connect(m_pool, &VmPool::changed, this, &VmManager::poolChanged);
    }
    return m_pool->setTargets(targets);
}

void VmManager::startEnded(const QString &name, const Core::Result &r, const QString &boot)
{
    if (r) {
        if (Entry *en = m_registry.find(name))
            en->boot = boot;
        vmmStarted(name);
        return;
    }
    Entry *en = m_registry.find(name);
    if (!en)
        return;
    en->record.desired = VmRecord::Desired::Stopped;
    // Stopped or removed while starting: what was asked, not a fault.
    if (r.error().code != Core::ErrorCode::Cancelled)
        m_registry.setLastError(name, r.error());
    else
        m_registry.saveOrWarn(en->record);
}

Core::Future<void> VmManager::stop(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Entry *entry = *e;
    if (entry->vm && entry->vm->state() == VirtualMachine::State::Stopping)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is already stopping").arg(name)));
    entry->record.desired = VmRecord::Desired::Stopped;
    if (auto ok = m_registry.save(entry->record); !ok)
        return Core::readyFuture<void>(ok.error());
    if (!entry->vm)
        return Core::readyFuture();
    const Core::Log::Scope scope(Core::Log::contextForVm(name));
    Core::Log::core()->info("{}: stopping", name.toStdString());
    return Core::then(entry->vm->stop(), this, [name]() -> Core::Result {
        Core::Log::core()->info("{}: stopped", name.toStdString());
        return {};
    });
}

Core::Future<void> VmManager::pause(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    if (!(*e)->vm || (*e)->vm->state() != VirtualMachine::State::Ready)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState,
                        QStringLiteral("VM %1 is %2; only a running VM can be paused").arg(name, stateName(VmRegistry::reportedState(**e)))));
    return persistDesiredAfter(name, (*e)->vm->pause(), VmRecord::Desired::Paused);
}

Core::Future<void> VmManager::resume(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    if (!(*e)->vm || (*e)->vm->state() != VirtualMachine::State::Paused)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState,
                        QStringLiteral("VM %1 is %2; only a paused VM can be resumed").arg(name, stateName(VmRegistry::reportedState(**e)))));
    return persistDesiredAfter(name, (*e)->vm->resume(), VmRecord::Desired::Running);
}

Core::Future<void> VmManager::resize(const QString &name, const Resources &resources)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    if (!resources.vcpus && !resources.memoryMiB && !resources.maxVcpus)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("give vcpus, memory, max_vcpus or some of them")));
    Entry *entry = *e;
    const VirtualMachine::State state = VmRegistry::reportedState(*entry);
    const Core::Log::Scope scope(Core::Log::contextForVm(name));
    if (isStartable(state) && !entry->removing)
        return Core::readyFuture<void>(resizeRecord(entry, resources));
    if (state != VirtualMachine::State::Ready || !entry->vm || entry->removing)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; resize it while it runs or is stopped").arg(name, stateName(state))));
    return resizeLive(entry, resources);
}

// Recorded for the next start.
Core::Result VmManager::resizeRecord(Entry *entry, const Resources &resources)
{
    const int vcpus = resources.vcpus.value_or(entry->record.vcpus);
    const int memoryMiB = resources.memoryMiB.value_or(entry->record.memoryMiB);
    const int maxVcpus = resources.maxVcpus.value_or(entry->record.maxVcpus);
    if (auto ok = validShape(vcpus, memoryMiB, maxVcpus); !ok)
        return ok;
    if (auto ok = checkShape(entry->record.owner, vcpus, memoryMiB); !ok)
        return ok;
    VmRecord changed = entry->record;
    changed.vcpus = vcpus;
    changed.memoryMiB = memoryMiB;
    changed.maxVcpus = maxVcpus;
    if (auto ok = m_registry.save(changed); !ok)
        return ok;
    entry->record = changed;
    if (entry->vm) {
        entry->vm->setVcpus(vcpus);
        entry->vm->setMaxVcpus(maxVcpus);
        entry->vm->setMemoryMiB(memoryMiB);
    }
    Core::Log::core()->info("{}: resized to {} vCPUs (at most {}), {} MiB from its next start", entry->record.name.toStdString(), vcpus, maxVcpus, memoryMiB);
    return {};
}

Core::Future<void> VmManager::resizeLive(Entry *entry, const Resources &resources)
{
    const QString name = entry->record.name;
    if (resources.maxVcpus && *resources.maxVcpus != entry->record.maxVcpus)
        return Core::readyFuture<void>(Core::Error(
            Core::ErrorCode::InvalidState,
            QStringLiteral("VM %1's max_vcpus is what its VMM was started with, so it changes only while the VM is stopped: stop it, resize it, start it")
                .arg(name)));
    Core::Future<void> cpus = resources.vcpus ? resizeVcpus(entry, *resources.vcpus) : Core::readyFuture();
    if (!resources.memoryMiB)
        return cpus;
    const qint64 memoryMiB = *resources.memoryMiB;
    return Core::then(cpus, this, [this, name, memoryMiB]() -> Core::Future<void> {
        Entry *en = m_registry.find(name);
        if (!en || !en->vm)
            return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted").arg(name)));
        return Core::then(LiveMemory::resize(en->vm.get(), memoryMiB), this, [name](qint64 mib) -> Core::Result {
            Core::Log::core()->info("{}: memory now {} MiB", name.toStdString(), mib);
            return {};
        });
    });
}

// Hot-plugged, within the quotas; the record then says what the VM has
// (its next start and its snapshots boot with that many).
Core::Future<void> VmManager::resizeVcpus(Entry *entry, int vcpus)
{
    const QString name = entry->record.name;
    if (vcpus > entry->record.vcpus) {
        VmRecord grown = entry->record;
        grown.vcpus = vcpus;
        if (auto ok = checkStartQuotas(grown); !ok)
            return Core::readyFuture<void>(ok.error());
    }
    // Even when the guest did not follow, the VMM may have: the record
    // follows the VM.
    Core::Promise<void> resized;
    Core::whenDone(LiveCpus::resize(entry->vm.get(), vcpus), this, [this, name, resized](const Core::Expected<int> &n) {
        Entry *en = m_registry.find(name);
        if (en && en->vm && (en->record.vcpus != en->vm->vcpus() || en->record.maxVcpus != en->vm->maxVcpus())) {
            en->record.vcpus = en->vm->vcpus();
            en->record.maxVcpus = en->vm->maxVcpus();
            m_registry.saveOrWarn(en->record);
            Core::Log::core()->info("{}: {} vCPUs now (at most {})", name.toStdString(), en->record.vcpus, en->vm->vcpuCeiling());
        }
        resized.resolve(n ? Core::Result() : Core::Result(n.error()));
    });
    return resized.future();
}

// Once `done` succeeded, the record says what the VM is now.
Core::Future<void> VmManager::persistDesiredAfter(const QString &name, Core::Future<void> done, VmRecord::Desired desired)
{
    return done.then(this, [this, name, desired](const Core::Result &r) -> Core::Result {
        Entry *en = m_registry.find(name);
        if (!r || !en)
            return r;
        en->record.desired = desired;
        return m_registry.save(en->record);
    });
}

Core::Future<void> VmManager::restart(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    return Core::then(stop(name), this, [this, name]() { return start(name); });
}

Core::Future<void> VmManager::remove(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Entry *entry = *e;
    entry->removing = true;
    if (!entry->vm || isStartable(entry->vm->state()))
        return Core::readyFuture<void>(forget(name));
    if (entry->vm->state() == VirtualMachine::State::Stopping) {
        // A stop is under way already; do not wait on it twice.
        entry->vm->kill();
        return Core::readyFuture<void>(forget(name));
    }
    Core::Promise<void> p;
    Core::whenDone(entry->vm->stop(), this, [this, name, p](const Core::Result &) { p.resolve(forget(name)); });
    return p.future();
}

// A VM's files beside its record: console log, writable disk, snapshots.
// Io when any of them is still there afterwards.
Core::Result VmManager::removeVmFiles(const QString &name) const
{
    const QString disk = diskDir(name);
    Vmm::ConsoleLog::remove(consoleLogPath(name));
    if (!QDir(disk).removeRecursively() || QFileInfo::exists(disk))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot delete the disk of VM %1 (%2)").arg(name, disk));
    if (auto snapshots = Snapshot::SnapshotStore(snapshotDir(name)).removeAll(); !snapshots)
        return snapshots;
    if (QFileInfo::exists(consoleLogPath(name)) || QFileInfo::exists(consoleLogPath(name) + QLatin1String(Vmm::ConsoleLog::kRotatedSuffix)))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot delete the console log of VM %1").arg(name));
    return {};
}

// The VM is stopped: its record, console log, disk and snapshots go.
Core::Result VmManager::forget(const QString &name)
{
    Entry *entry = m_registry.find(name);
    if (!entry)
        return {};
    // Files first, the record last: a delete that fails halfway (or a crash
    // in it) leaves a record to delete again, never a disk without one.
    Core::Result removed = removeVmFiles(name);
    if (removed)
        removed = m_registry.records().remove(name);
    if (!removed) {
        entry->removing = false;
        return removed.error();
    }
    m_ports->forget(name);
    std::unique_ptr<Entry> gone = m_registry.take(name);
    if (gone->vm) {
        // This may run inside the VM's own continuation: delete it later.
        gone->vm->disconnect(this);
        gone->vm->disconnect(m_adoption);
        gone->vm->kill();
        gone->vm.release()->deleteLater();
    }
    m_networks->detach(name);
    Q_EMIT vmRemoved(name);
    return {};
}

Core::Future<Snapshot::SnapshotInfo> VmManager::snapshot(const QString &name, const SnapshotOptions &options)
{
    return m_snapshots->take(name, options);
}

Core::Result VmManager::cancelSnapshot(const QString &name)
{
    return m_snapshots->cancel(name);
}

Core::Expected<QList<Snapshot::SnapshotInfo>> VmManager::snapshots(const QString &name) const
{
    return m_snapshots->list(name);
}

Core::Expected<Snapshot::SnapshotInfo> VmManager::snapshotInfo(const QString &name, const QString &snapshot) const
{
    return m_snapshots->info(name, snapshot);
}

Core::Future<void> VmManager::restore(const QString &name, const QString &snapshot)
{
    return m_snapshots->restore(name, snapshot);
}

Core::Future<QStringList> VmManager::fork(const QString &name, const QString &snapshot, const ForkOptions &options)
{
    return m_snapshots->fork(name, snapshot, options);
}

Core::Result VmManager::deleteSnapshot(const QString &name, const QString &snapshot)
{
    return m_snapshots->remove(name, snapshot);
}

Core::Expected<VmManager::PortStatus> VmManager::exposePort(const QString &name, const PortExposure &request)
{
    return m_ports->expose(name, request);
}

Core::Expected<QList<VmManager::PortStatus>> VmManager::ports(const QString &name) const
{
    return m_ports->list(name);
}

Core::Result VmManager::unexposePort(const QString &name, quint16 guestPort)
{
    return m_ports->unexpose(name, guestPort);
}

VmPorts::Totals VmManager::portTotals() const
{
    return m_ports->totals();
}

QStringList VmManager::detachAll()
{
    const VmAdoption::Detached detached = m_adoption->detachAll();
    for (const QString &name : detached.touched)
        if (const Entry *e = m_registry.find(name))
            Q_EMIT vmStateChanged(name, VmRegistry::reportedState(*e));
    // The networks of the VMs left running stay with them for the next life.
    for (const QString &name : names())
        if (!detached.left.contains(name))
            m_networks->detach(name);
    m_networks->release();
    return detached.left;
}

} // namespace Vm
