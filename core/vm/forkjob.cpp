#include "core/vm/forkjob.h"

#include "core/agent/agentclient.h"
#include "core/workerpool.h"

#include <QFileInfo>

namespace Vm {

Core::Expected<QStringList> ForkJob::freeNames(const VmRegistry &registry, const QString &prefix, int count)
{
    QStringList names;
    for (int n = 1; names.size() < count; ++n) {
        const QString candidate = prefix + QStringLiteral("-%1").arg(n);
        if (auto ok = validateVmName(candidate); !ok)
            return Core::Error(Core::ErrorCode::InvalidArgument,
                               QStringLiteral("bad name prefix '%1': fork names <prefix>-<n> must be valid VM names (1 to 63 lowercase letters, digits or '-')")
                                   .arg(prefix.left(80)));
        if (!registry.find(candidate) && !QFileInfo::exists(registry.records().recordPath(candidate)))
            names << candidate;
    }
    return names;
}

ForkJob::ForkJob(VmRegistry &registry, VmSnapshots::Host &host, Request request, QObject *parent)
    : QObject(parent)
    , m_registry(registry)
    , m_host(host)
    , m_request(std::move(request))
{
}

Core::Future<QStringList> ForkJob::run()
{
    const auto verified = verify();
    const auto names = Core::then(verified, this, [this]() { return chooseNames(); });
    const auto created = Core::then(names, this, [this](const QStringList &n) { return createForks(n); });
    return Core::then(created, this, [this](const QStringList &forks) { return startForks(forks); });
}

Core::Future<void> ForkJob::verify()
{
    return Core::runInThread<void>([snap = m_request.snapshot]() { return Snapshot::SnapshotStore::verify(snap); });
}

// Names again: others may have been created while the snapshot was verified.
Core::Expected<QStringList> ForkJob::chooseNames()
{
    return freeNames(m_registry, m_request.prefix, m_request.count);
}

Core::Expected<QStringList> ForkJob::createForks(const QStringList &names)
{
    const Snapshot::SnapshotInfo &snap = m_request.snapshot;
    for (const QString &fork : names) {
        auto created = m_host.createVm(fork, snap.templateName, snap.vcpus, snap.memoryMiB, sourceNetwork(), m_request.owner);
        if (!created) {
            removeForks(names);
            return created.error();
        }
        VmEntry *entry = m_registry.find(fork);
        entry->record.forkedFrom = m_request.vm + QLatin1Char('/') + snap.name;
        m_registry.saveOrWarn(entry->record);
    }
    return names;
}

// The source VM's network as it is now (its mode and policy; none when it
// was deleted meanwhile): each fork gets its own slot and MAC.
Templates::NetworkSpec ForkJob::sourceNetwork() const
{
    const VmEntry *source = m_registry.find(m_request.vm);
    return source ? source->record.network.spec : Templates::NetworkSpec();
}

Core::Future<QStringList> ForkJob::startForks(const QStringList &names)
{
    m_forks = names;
    m_pending = names.size();
    for (const QString &fork : names)
        Core::whenDone(startFork(fork), this, [this, fork](const Core::Result &r) { forkStarted(fork, r); });
    return m_started.future();
}

Core::Future<void> ForkJob::startFork(const QString &name)
{
    const auto restored = restoreFork(name);
    return Core::then(restored, this, [this, name]() { return nameGuest(name); });
}

Core::Future<void> ForkJob::restoreFork(const QString &name)
{
    VmEntry *entry = m_registry.find(name);
    if (!entry || !entry->vm)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted").arg(name)));
    entry->snapshotting = true;
    entry->record.desired = VmRecord::Desired::Running;
    entry->record.lastStartedAt = QDateTime::currentDateTimeUtc();
    entry->record.maxVcpus = m_request.snapshot.maxVcpus;
    if (auto ok = m_registry.save(entry->record); !ok)
        return Core::readyFuture<void>(ok.error());
    if (auto ok = m_host.prepareVmmStart(entry); !ok)
        return Core::readyFuture<void>(ok.error());
    return entry->vm->restoreSnapshot(m_request.snapshot);
}

// Its own identity in the guest too: the host name it was booted with
// belongs to the VM the snapshot was taken of. A guest that cannot take it,
// or does not answer by the deadline, fails the fork (all of it).
Core::Future<void> ForkJob::nameGuest(const QString &name)
{
    VmEntry *entry = m_registry.find(name);
    if (!entry || !entry->vm)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted").arg(name)));
    m_host.vmmStarted(name);
    Agent::ExecRequest req;
    req.argv = QStringList{QStringLiteral("hostname"), name};
    req.timeoutMs = kHostnameTimeoutMs;
    req.limits = Agent::StreamLimits::internalCommand(kHostnameTimeoutMs); // a silent guest cannot hold the fork
    Core::Promise<void> named;
    Core::whenDone(entry->vm->agent()->run(req), this, [named](const Core::Expected<Agent::ExecResult> &set) {
        named.resolve(Agent::requireSuccess(set, QStringLiteral("setting the guest's host name")));
    });
    return named.future();
}

void ForkJob::forkStarted(const QString &name, const Core::Result &r)
{
    if (VmEntry *entry = m_registry.find(name)) {
        entry->snapshotting = false;
        entry->boot = QStringLiteral("fork");
    }
    if (!r && !m_firstError)
        m_firstError = Core::Error(r.error().code, QStringLiteral("fork %1: %2").arg(name, r.error().message));
    if (--m_pending > 0)
        return;
    if (m_firstError) {
        // All or nothing: the forks that did start go again.
        removeForks(m_forks);
        m_started.resolve(*m_firstError);
        return;
    }
    m_started.resolve(m_forks);
}

void ForkJob::removeForks(const QStringList &names)
{
    for (const QString &made : names)
        if (m_registry.find(made))
            m_host.removeVm(made);
}

} // namespace Vm
