#include "server/metacontroller.h"

#include "core/agent/agentclient.h"
#include "core/template/vmtemplate.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/chdriver.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmminstance.h"
#include "core/workerpool.h"
#include "server/hoststats.h"
#include "server/openapi.h"
#include "server/poolcontroller.h"
#include "server/router.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonObject>
#include <QStorageInfo>
#include <QThread>
#include <QTimer>

#include <memory>

#include <unistd.h>

namespace Server {

MetaController::MetaController(const Vm::VmManager &manager, const Metrics &metrics, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_metrics(metrics)
{
}

void MetaController::addRoutes(Router &router)
{
    using C = MetaController;
    router.add("GET", QStringLiteral("/api/v1/health"), this, &C::health, {.needsAuth = false, .role = Role::Viewer});
    router.add("GET", QStringLiteral("/api/v1/templates"), this, &C::listTemplates, {.role = Role::Viewer});
    // The docs page (/docs) reads it with its session cookie.
    router.add("GET", QStringLiteral("/api/v1/openapi.json"), this, &C::openApi,
               {.role = Role::Viewer, .cookieOk = true, .session = RouteFlags::Session::Docs});
    router.add("GET", QStringLiteral("/metrics"), this, &C::metrics, {.role = Role::Viewer});
    router.add("GET", QStringLiteral("/api/v1/system"), this, &C::system, {.role = Role::Viewer});
}

ApiFuture MetaController::health(const Request &)
{
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")}, {QStringLiteral("version"), QStringLiteral(MVS_VERSION)}}));
}

ApiFuture MetaController::listTemplates(const Request &)
{
    QJsonArray list;
    for (const Templates::VmTemplate &t : Templates::VmTemplate::all()) {
        list.append(QJsonObject{{QStringLiteral("name"), t.name},
                                {QStringLiteral("aliases"), QJsonArray::fromStringList(t.aliases)},
                                {QStringLiteral("description"), t.description},
                                {QStringLiteral("vcpus"), t.vcpus},
                                {QStringLiteral("memory_mb"), t.memoryMiB}});
    }
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("templates"), list}}));
}

ApiFuture MetaController::openApi(const Request &)
{
    return finished(Response::ofJson(OpenApi::document()));
}

QMap<QString, int> MetaController::vmCountsByState() const
{
    using State = Vm::VirtualMachine::State;
    QMap<QString, int> counts;
    for (State s : {State::Created, State::Preparing, State::Booting, State::Ready, State::Paused, State::Stopping, State::Stopped, State::Failed})
        counts.insert(Vm::stateName(s), 0);
    for (const Vm::VmInfo &info : m_manager.list())
        ++counts[Vm::stateName(info.state)];
    return counts;
}

QByteArray MetaController::renderMetrics(const std::map<QString, Metrics::VmLive> &live) const
{
    const Vm::VmPorts::Totals t = m_manager.portTotals();
    const Metrics::PortCounts ports{t.active, t.waiting, t.failed, t.openConnections, t.connectionsTotal, t.connectionFailures};
    std::map<QString, Metrics::VmConnectionCounts> network;
    for (const auto &[vm, c] : m_manager.networkCounters())
        network.emplace(vm, Metrics::VmConnectionCounts{c.allowed, c.denied});
    const QStorageInfo disk(m_manager.stateDir());
    const Metrics::Disk dataDisk{static_cast<quint64>(qMax<qint64>(0, disk.bytesTotal())), static_cast<quint64>(qMax<qint64>(0, disk.bytesAvailable()))};
    const Vm::QuotaLimits &quota = m_manager.quota();
    return m_metrics.render(vmCountsByState()) + Metrics::renderPorts(ports) + Metrics::renderNetwork(network) + m_metrics.renderVms(live)
        + Metrics::renderDisk(dataDisk) + Metrics::renderQuota(quota, m_manager.quotaUsage(QString(), quota.maxDiskBytes > 0));
}

// Each running VM's VMM process now; its guest's memory once its agent
// answered, or without it after kHealthWaitMs.
ApiFuture MetaController::metrics(const Request &)
{
    struct Gathering {
        std::map<QString, Metrics::VmLive> live;
        int pending = 0;
        ApiPromise reply;
    };
    auto g = std::make_shared<Gathering>();
    auto answer = [this, g]() { g->reply.resolve(Response::ofBytes(renderMetrics(g->live), Metrics::contentType())); };
    for (const Vm::VmInfo &info : m_manager.list()) {
        const QString name = info.record.name;
        const Vm::VirtualMachine *vm = m_manager.vm(name);
        if (!vm || !vm->instance())
            continue;
        const HostStats::ProcessSample p = HostStats::readProcess(vm->instance()->pid());
        g->live[name] = Metrics::VmLive{p.cpuSeconds, p.residentBytes, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
        if (const auto traffic = m_manager.networkTraffic(name)) {
            g->live[name].networkReceivedBytes = traffic->receivedBytes;
            g->live[name].networkSentBytes = traffic->sentBytes;
        }
        if (info.state != Vm::VirtualMachine::State::Ready || !vm->agent())
            continue;
        ++g->pending;
        Core::whenDone(vm->agent()->health(), this, [g, name, answer](const Core::Expected<Agent::Health> &h) {
            if (h && h->memTotalKiB > 0) {
                g->live[name].guestMemTotalBytes = h->memTotalKiB * 1024;
                g->live[name].guestMemAvailableBytes = h->memAvailableKiB * 1024;
            }
            if (--g->pending == 0 && !g->reply.isResolved())
                answer();
        });
    }
    if (g->pending == 0)
        answer();
    else
        QTimer::singleShot(kHealthWaitMs, this, [g, answer]() {
            if (!g->reply.isResolved())
                answer();
        });
    return g->reply.future();
}

Core::Future<MetaController::SlowFacts> MetaController::slowFacts()
{
    if (m_facts)
        return Core::readyFuture<SlowFacts>(*m_facts);
    const Vmm::VmmDriver &driver = m_manager.driver();
    QString binary;
    if (const auto *qemu = dynamic_cast<const Vmm::QemuDriver *>(&driver))
        binary = qemu->binary();
    else if (const auto *ch = dynamic_cast<const Vmm::ChDriver *>(&driver))
        binary = ch->binary();
    auto learned = Core::runInThread<SlowFacts>([binary]() {
        const Vmm::KvmStatus kvm = Vmm::kvmStatus();
        return Core::Expected<SlowFacts>(SlowFacts{kvm.usable, kvm.reason, HostStats::binaryVersion(binary)});
    });
    return Core::then(learned, this, [this](const SlowFacts &facts) {
        m_facts = facts;
        return Core::Expected<SlowFacts>(facts);
    });
}

// The accelerator the running VMs use (cloud-hypervisor: always KVM), and
// why KVM is not used when it is not.
QJsonObject MetaController::accelerator(const SlowFacts &facts) const
{
    bool kvm = false;
    bool tcg = false;
    for (const Vm::VmInfo &info : m_manager.list()) {
        if (info.state == Vm::VirtualMachine::State::Ready || info.state == Vm::VirtualMachine::State::Paused)
            (info.accelerated ? kvm : tcg) = true;
    }
    const bool ch = m_manager.driver().kind() == Vmm::DriverKind::CloudHypervisor;
    const QJsonValue inUse = ch || kvm ? QJsonValue(QStringLiteral("kvm")) : tcg ? QJsonValue(QStringLiteral("tcg")) : QJsonValue(QJsonValue::Null);
    QString reason;
    if (!facts.kvmUsable) {
        reason = facts.kvmReason;
    } else if (tcg) {
        QFile verdict(Vmm::kvmVmmUserVerdictPath());
        reason = verdict.open(QIODevice::ReadOnly) ? QString::fromUtf8(verdict.read(4096)).trimmed()
                                                   : QStringLiteral("KVM looks usable, but a guest kernel does not boot under it on this host (boot probe), "
                                                                    "or TCG was asked for");
    }
    QJsonObject o{{QStringLiteral("in_use"), inUse}, {QStringLiteral("kvm_usable"), facts.kvmUsable}};
    o.insert(QStringLiteral("reason"), reason.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(reason));
    return o;
}

// Same-page merging: whether it runs and what it saves now; null without
// KSM in the kernel.
QJsonValue MetaController::ksmJson()
{
    const std::optional<HostStats::Ksm> ksm = HostStats::readKsm();
    if (!ksm)
        return QJsonValue(QJsonValue::Null);
    const qint64 page = ::sysconf(_SC_PAGESIZE);
    return QJsonObject{{QStringLiteral("running"), ksm->running},
                       {QStringLiteral("pages_shared"), static_cast<qint64>(ksm->pagesShared)},
                       {QStringLiteral("pages_sharing"), static_cast<qint64>(ksm->pagesSharing)},
                       {QStringLiteral("saved_bytes"), static_cast<qint64>(ksm->pagesSharing) * page}};
}

// The host's quotas (null: no limit) and what the VMs hold against them; the
// data directory is walked only when its size is limited.
QJsonObject MetaController::quota() const
{
    const Vm::QuotaLimits &limits = m_manager.quota();
    const bool disk = limits.maxDiskBytes > 0;
    const Vm::QuotaUsage usage = m_manager.quotaUsage(QString(), disk);
    const auto limit = [](qint64 v) { return v > 0 ? QJsonValue(v) : QJsonValue(QJsonValue::Null); };
    const QJsonObject limitsJson{{QStringLiteral("vms"), limit(limits.maxVms)},
                                 {QStringLiteral("vcpus"), limit(limits.maxVcpus)},
                                 {QStringLiteral("memory_mb"), limit(limits.maxMemoryMiB)},
                                 {QStringLiteral("disk_bytes"), limit(limits.maxDiskBytes)}};
    const QJsonObject usageJson{{QStringLiteral("vms"), usage.vms},
                                {QStringLiteral("vcpus"), usage.vcpus},
                                {QStringLiteral("memory_mb"), usage.memoryMiB},
                                {QStringLiteral("disk_bytes"), disk ? QJsonValue(usage.diskBytes) : QJsonValue(QJsonValue::Null)}};
    return QJsonObject{{QStringLiteral("limits"), limitsJson}, {QStringLiteral("usage"), usageJson}};
}

ApiFuture MetaController::system(const Request &)
{
    return answerWhen(slowFacts(), this, [this](const SlowFacts &facts) {
        QJsonObject host{{QStringLiteral("cpus"), QThread::idealThreadCount()}};
        if (const auto load = HostStats::readLoad())
            host.insert(QStringLiteral("load"), QJsonArray{(*load)[0], (*load)[1], (*load)[2]});
        if (const auto mem = HostStats::readMemory())
            host.insert(QStringLiteral("memory"),
                        QJsonObject{{QStringLiteral("total_bytes"), static_cast<qint64>(mem->totalBytes)},
                                    {QStringLiteral("available_bytes"), static_cast<qint64>(mem->availableBytes)}});
        host.insert(QStringLiteral("ksm"), ksmJson());
        const QStorageInfo disk(m_manager.stateDir());
        const QJsonObject dataDir{{QStringLiteral("path"), m_manager.stateDir()},
                                  {QStringLiteral("total_bytes"), disk.bytesTotal()},
                                  {QStringLiteral("available_bytes"), disk.bytesAvailable()}};
        QJsonObject byState;
        int total = 0;
        const QMap<QString, int> counts = vmCountsByState();
        for (auto it = counts.cbegin(); it != counts.cend(); ++it) {
            byState.insert(it.key(), it.value());
            total += it.value();
        }
        const QJsonObject versions{{QStringLiteral("app"), QStringLiteral(MVS_VERSION)},
                                   {QStringLiteral("qt"), QString::fromLatin1(qVersion())},
                                   {QStringLiteral("vmm"), facts.vmmVersion.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(facts.vmmVersion)}};
        return Response::ofJson(QJsonObject{{QStringLiteral("host"), host},
                                            {QStringLiteral("data_dir"), dataDir},
                                            {QStringLiteral("driver"), m_manager.driver().name()},
                                            {QStringLiteral("accelerator"), accelerator(facts)},
                                            {QStringLiteral("versions"), versions},
                                            {QStringLiteral("quota"), quota()},
                                            {QStringLiteral("warm_start"),
                                             QJsonObject{{QStringLiteral("enabled"), m_manager.warmStart()},
                                                         {QStringLiteral("building"), m_manager.warmStart() && m_manager.warmStarts()->isBuilding()}}},
                                            {QStringLiteral("pool"), PoolController::statusJson(m_manager).value(QStringLiteral("templates"))},
                                            {QStringLiteral("vms"), QJsonObject{{QStringLiteral("total"), total}, {QStringLiteral("by_state"), byState}}}});
    });
}

} // namespace Server
