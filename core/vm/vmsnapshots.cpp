#include "core/vm/vmsnapshots.h"

#include "core/image/imagebuilder.h"
#include "core/log.h"
#include "core/vm/forkjob.h"
#include "core/vmm/vmminstance.h"
#include "core/workerpool.h"

#include <QDir>
#include <QFile>

#include <sys/statvfs.h>

namespace Vm {
namespace {

constexpr qint64 kLowSpaceBytes = 4 * 1024 * 1024;

// A snapshot that failed while its file system is (nearly) full failed
// because of that, whatever the writer said (QEMU reports a broken pipe when
// its writer hits ENOSPC).
Core::Error explainSnapshotFailure(Core::Error error, const QString &dir)
{
    if (error.code == Core::ErrorCode::NoSpace)
        return error;
    if (error.code == Core::ErrorCode::Cancelled) {
        error.message += QStringLiteral("; nothing was kept");
        return error;
    }
    struct statvfs fs { };
    if (::statvfs(QFile::encodeName(dir).constData(), &fs) == 0 && qint64(fs.f_bavail) * qint64(fs.f_frsize) < kLowSpaceBytes)
        return Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("no space left for the snapshot in %1 (%2); nothing was kept").arg(dir, error.message));
    error.message += QStringLiteral("; nothing was kept");
    return error;
}

} // namespace

VmSnapshots::VmSnapshots(VmRegistry &registry, Host &host, QObject *parent)
    : QObject(parent)
    , m_registry(registry)
    , m_host(host)
{
}

// A snapshot being taken: where it is staged and what it will be.
struct VmSnapshots::Take {
    QString vm;
    Snapshot::SnapshotStore store{QString()};
    QString stagingDir;
    QString name;
    QString parent;
    QDateTime createdAt;
    std::vector<std::unique_ptr<Snapshot::GrowingFileHasher>> hashers;
};

Core::Future<Snapshot::SnapshotInfo> VmSnapshots::take(const QString &name, const SnapshotOptions &options)
{
    using Info = Snapshot::SnapshotInfo;
    auto e = m_registry.idleEntryFor(name);
    if (!e)
        return Core::readyFuture<Info>(e.error());
    VmEntry *entry = *e;
    const VirtualMachine::State s = VmRegistry::reportedState(*entry);
    if (!entry->vm || (s != VirtualMachine::State::Ready && s != VirtualMachine::State::Paused))
        return Core::readyFuture<Info>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; only a running or paused VM can be snapshotted").arg(name, stateName(s))));
    const Snapshot::SnapshotStore store(m_registry.records().snapshotDir(name));
    const QString snapName = options.name.isEmpty() ? store.uniqueName() : options.name;
    if (auto ok = Snapshot::SnapshotStore::validateName(snapName); !ok)
        return Core::readyFuture<Info>(ok.error());
    if (store.contains(snapName))
        return Core::readyFuture<Info>(
            Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("VM %1 has a snapshot named '%2' already").arg(name, snapName)));
    auto staging = store.beginStaging(snapName);
    if (!staging)
        return Core::readyFuture<Info>(explainSnapshotFailure(staging.error(), store.root()));

    entry->snapshotting = true;
    auto take = std::make_shared<Take>();
    take->vm = name;
    take->store = store;
    take->stagingDir = *staging;
    take->name = snapName;
    take->parent = entry->record.currentSnapshot;
    take->createdAt = QDateTime::currentDateTimeUtc();
    // The VMM's state files are hashed while they are written.
    if (Vmm::VmmInstance *instance = entry->vm->instance())
        for (const QString &file : instance->stateFiles())
            take->hashers.push_back(std::make_unique<Snapshot::GrowingFileHasher>(QDir(take->stagingDir).filePath(file)));

    const auto saved = entry->vm->saveSnapshot(take->stagingDir, options.leavePaused);
    const auto committed = Core::then(saved, this, [take](const Info &info) { return commit(take, info); });
    Core::Promise<Info> promise;
    Core::whenDone(committed, this, [this, take, promise](const Core::Expected<Info> &r) {
        if (!r) {
            promise.resolve(takeFailed(*take, r.error()));
            return;
        }
        taken(*take, *r);
        promise.resolve(r);
    });
    return promise.future();
}

// The VM is saved: finish the hashes, write the manifest and list it (off
// the event loop).
Core::Future<Snapshot::SnapshotInfo> VmSnapshots::commit(const std::shared_ptr<Take> &take, Snapshot::SnapshotInfo info)
{
    info.name = take->name;
    info.createdAt = take->createdAt;
    info.parent = take->parent;
    QStringList files = info.stateFiles;
    if (!info.diskFile.isEmpty())
        files << info.diskFile;
    return Core::runInThread<Snapshot::SnapshotInfo>([take, info, files]() {
        QList<Snapshot::SnapshotFile> hashed;
        for (const auto &hasher : take->hashers)
            if (auto h = hasher->finish())
                hashed << *h; // else commit hashes that file itself
        return take->store.commit(take->stagingDir, info, files, hashed);
    });
}

void VmSnapshots::taken(const Take &take, const Snapshot::SnapshotInfo &listed)
{
    const QString &name = take.vm;
    if (VmEntry *en = m_registry.find(name)) {
        en->snapshotting = false;
        en->record.currentSnapshot = listed.name;
        if (en->vm && en->vm->state() == VirtualMachine::State::Paused)
            en->record.desired = VmRecord::Desired::Paused;
        m_registry.saveOrWarn(en->record);
    }
    Core::Log::core()->info("{}: snapshot {} taken, {} bytes, paused {} ms", name.toStdString(), listed.name.toStdString(), listed.sizeBytes(),
                            listed.pausedMs);
    // Durable in the background; the checksums cover a power cut before.
    Core::whenDone(Core::runInThread<void>([listed]() { return Snapshot::SnapshotStore::syncFiles(listed); }), this, [name](const Core::Result &synced) {
        if (!synced)
            Core::Log::core()->warn("{}: {}", name.toStdString(), synced.error().message.toStdString());
    });
    Q_EMIT changed(name);
}

Core::Error VmSnapshots::takeFailed(Take &take, const Core::Error &error)
{
    take.hashers.clear(); // stop reading before the files go
    // Judge the free space before the partial files go and free it.
    const Core::Error explained = explainSnapshotFailure(error, take.store.root());
    take.store.discard(take.stagingDir);
    if (VmEntry *en = m_registry.find(take.vm))
        en->snapshotting = false;
    Core::Log::core()->warn("{}: snapshot failed: {}", take.vm.toStdString(), explained.message.toStdString());
    return explained;
}

Core::Result VmSnapshots::cancel(const QString &name)
{
    auto e = m_registry.entryFor(name);
    if (!e)
        return e.error();
    VirtualMachine *vm = (*e)->vm.get();
    if (!vm || !vm->snapshotBusy())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("no snapshot of VM %1 is under way").arg(name));
    if (!vm->cancelSnapshot())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the snapshot of VM %1 is past the point where it can be cancelled").arg(name));
    return {};
}

Core::Expected<QList<Snapshot::SnapshotInfo>> VmSnapshots::list(const QString &name) const
{
    if (auto ok = validateVmName(name); !ok)
        return ok.error();
    if (!m_registry.find(name))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    QStringList warnings;
    QList<Snapshot::SnapshotInfo> list = Snapshot::SnapshotStore(m_registry.records().snapshotDir(name)).list(&warnings);
    for (const QString &w : std::as_const(warnings))
        Core::Log::core()->warn("{}: skipped snapshot {}", name.toStdString(), w.toStdString());
    return list;
}

Core::Expected<Snapshot::SnapshotInfo> VmSnapshots::info(const QString &name, const QString &snapshot) const
{
    if (auto ok = validateVmName(name); !ok)
        return ok.error();
    if (!m_registry.find(name))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    auto info = Snapshot::SnapshotStore(m_registry.records().snapshotDir(name)).get(snapshot);
    if (!info && info.error().code == Core::ErrorCode::NotFound)
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("VM %1 has no snapshot named '%2'").arg(name, snapshot.left(80)));
    return info;
}

Core::Future<void> VmSnapshots::restore(const QString &name, const QString &snapshot)
{
    auto e = m_registry.idleEntryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    VmEntry *entry = *e;
    auto found = info(name, snapshot);
    if (!found)
        return Core::readyFuture<void>(found.error());
    if (auto ok = m_host.ensureVm(entry); !ok)
        return Core::readyFuture<void>(ok.error());
    const VirtualMachine::State s = entry->vm->state();
    if (s == VirtualMachine::State::Preparing || s == VirtualMachine::State::Booting || s == VirtualMachine::State::Stopping)
        return Core::readyFuture<void>(
            Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; restore it once it runs or has stopped").arg(name, stateName(s))));
    entry->snapshotting = true;
    const Snapshot::SnapshotInfo snap = *found;
    auto touched = std::make_shared<bool>(false); // the VM was handed the snapshot (else it is as it was)
    const auto verified = Core::runInThread<void>([snap, images = Image::ImageBuilder::imagesDir()]() -> Core::Result {
        if (auto confined = Snapshot::SnapshotStore::checkImagePaths(snap, images); !confined)
            return confined;
        return Snapshot::SnapshotStore::verify(snap);
    });
    const auto restored = Core::then(verified, this, [this, name, snap, touched]() { return restoreVerified(name, snap, touched.get()); });
    // The snapshot cannot be deleted while it is read. (Released where the
    // caller's future is resolved: a future runs one continuation only.)
    m_registry.beginReading(name, snap.name);
    Core::Promise<void> promise;
    Core::whenDone(restored, this, [this, name, snap, touched, promise](const Core::Result &r) {
        m_registry.endReading(name, snap.name);
        restoreEnded(name, snap, *touched, r);
        promise.resolve(r);
    });
    return promise.future();
}

// The snapshot's checksums hold: the VM runs from it now.
Core::Future<void> VmSnapshots::restoreVerified(const QString &name, const Snapshot::SnapshotInfo &snap, bool *touched)
{
    VmEntry *en = m_registry.find(name);
    if (!en || en->removing || !en->vm)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted").arg(name)));
    en->record.desired = VmRecord::Desired::Running;
    en->record.lastStartedAt = QDateTime::currentDateTimeUtc();
    en->record.lastError.reset();
    en->record.currentSnapshot = snap.name;
    en->record.vcpus = snap.vcpus;
    en->record.maxVcpus = snap.maxVcpus;
    en->record.memoryMiB = snap.memoryMiB;
    m_registry.saveOrWarn(en->record);
    *touched = true;
    if (auto ok = m_host.prepareVmmStart(en); !ok)
        return Core::readyFuture<void>(ok.error());
    return en->vm->restoreSnapshot(snap);
}

void VmSnapshots::restoreEnded(const QString &name, const Snapshot::SnapshotInfo &snap, bool touched, const Core::Result &r)
{
    VmEntry *after = m_registry.find(name);
    if (after)
        after->snapshotting = false;
    if (r) {
        if (after)
            after->boot = QStringLiteral("restore");
        m_host.vmmStarted(name);
        Core::Log::core()->info("{}: restored snapshot {}", name.toStdString(), snap.name.toStdString());
        return;
    }
    if (!after || !touched)
        return; // not verified, or deleted: the VM is left as it was
    after->record.desired = VmRecord::Desired::Stopped;
    if (r.error().code != Core::ErrorCode::Cancelled)
        m_registry.setLastError(name, r.error());
    else
        m_registry.saveOrWarn(after->record);
}

Core::Future<QStringList> VmSnapshots::fork(const QString &name, const QString &snapshot, const ForkOptions &options)
{
    if (options.count < 1 || options.count > kMaxForkCount)
        return Core::readyFuture<QStringList>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("count must be between 1 and %1, not %2").arg(kMaxForkCount).arg(options.count)));
    auto found = info(name, snapshot);
    if (!found)
        return Core::readyFuture<QStringList>(found.error());
    const QString prefix = options.namePrefix.isEmpty() ? name.left(50) + QStringLiteral("-fork") : options.namePrefix;
    if (auto names = ForkJob::freeNames(m_registry, prefix, options.count); !names)
        return Core::readyFuture<QStringList>(names.error());
    auto *job = new ForkJob(m_registry, m_host, ForkJob::Request{name, *found, prefix, options.count, options.owner}, this);
    m_registry.beginReading(name, found->name);
    Core::Promise<QStringList> promise;
    Core::whenDone(job->run(), this, [this, job, name, snap = found->name, promise](const Core::Expected<QStringList> &r) {
        m_registry.endReading(name, snap);
        job->deleteLater();
        promise.resolve(r);
    });
    return promise.future();
}

Core::Result VmSnapshots::remove(const QString &name, const QString &snapshot)
{
    auto e = m_registry.idleEntryFor(name);
    if (!e)
        return e.error();
    auto found = info(name, snapshot);
    if (!found && found.error().code == Core::ErrorCode::NotFound)
        return found.error();
    if (m_registry.isBeingRead(name, snapshot))
        return Core::Error(Core::ErrorCode::InvalidState,
                           QStringLiteral("snapshot '%1' of VM %2 is being restored or forked; delete it once that is done").arg(snapshot, name));
    const Snapshot::SnapshotStore store(m_registry.records().snapshotDir(name));
    if (auto ok = store.remove(snapshot); !ok)
        return ok;
    VmEntry *entry = *e;
    if (entry->record.currentSnapshot == snapshot) {
        entry->record.currentSnapshot = found ? found->parent : QString();
        m_registry.saveOrWarn(entry->record);
    }
    Core::Log::core()->info("{}: deleted snapshot {}", name.toStdString(), snapshot.toStdString());
    Q_EMIT changed(name);
    return {};
}

} // namespace Vm
