#include "core/vm/warmbuildjob.h"

#include "core/vm/virtualmachine.h"
#include "core/workerpool.h"

#include <QDir>
#include <QTimer>

namespace Vm {

WarmBuildJob::WarmBuildJob(const Vmm::VmmDriver &driver, Request request, QObject *parent)
    : QObject(parent)
    , m_driver(driver)
    , m_request(std::move(request))
{
}

WarmBuildJob::~WarmBuildJob()
{
    tearDown();
}

Core::Future<Snapshot::SnapshotInfo> WarmBuildJob::run()
{
    const auto booted = boot();
    const auto settled = Core::then(booted, this, [this]() { return settle(); });
    const auto saved = Core::then(settled, this, [this]() { return save(); });
    const auto committed = Core::then(saved, this, [this](const Snapshot::SnapshotInfo &info) { return commit(info); });
    Core::Promise<Snapshot::SnapshotInfo> done;
    Core::whenDone(committed, this, [this, done](const Core::Expected<Snapshot::SnapshotInfo> &r) {
        tearDown();
        done.resolve(r);
    });
    return done.future();
}

Core::Future<void> WarmBuildJob::boot()
{
    m_vm = std::make_unique<VirtualMachine>(m_request.builderName, m_request.tmpl, m_driver);
    m_vm->setVcpus(m_request.vcpus);
    m_vm->setMemoryMiB(m_request.memoryMiB);
    m_vm->setNic(m_request.nic); // no guest spec: the guest leaves it down
    return m_vm->start();
}

Core::Future<void> WarmBuildJob::settle()
{
    Core::Promise<void> settled;
    QTimer::singleShot(kSettleMs, this, [settled]() { settled.resolve(Core::Expected<void>()); });
    return settled.future();
}

Core::Future<Snapshot::SnapshotInfo> WarmBuildJob::save()
{
    if (!QDir().mkpath(m_request.directory))
        return Core::readyFuture<Snapshot::SnapshotInfo>(
            Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create the warm snapshot directory %1").arg(m_request.directory)));
    const Snapshot::SnapshotStore store(m_request.directory);
    store.recover(); // what an interrupted build left
    auto staging = store.beginStaging(QString::fromLatin1(kSnapshotName));
    if (!staging)
        return Core::readyFuture<Snapshot::SnapshotInfo>(staging.error());
    m_stagingDir = *staging;
    return m_vm->saveSnapshot(m_stagingDir, true);
}

// Hashed, synced and renamed off the event loop. Another process that
// committed the same shape first wins: ours goes (commit removes it).
Core::Future<Snapshot::SnapshotInfo> WarmBuildJob::commit(Snapshot::SnapshotInfo info)
{
    info.name = QString::fromLatin1(kSnapshotName);
    info.createdAt = QDateTime::currentDateTimeUtc();
    QStringList files = info.stateFiles;
    if (!info.diskFile.isEmpty())
        files << info.diskFile;
    const QString staging = std::exchange(m_stagingDir, QString());
    return Core::runInThread<Snapshot::SnapshotInfo>([store = Snapshot::SnapshotStore(m_request.directory), staging, info, files]() {
        auto committed = store.commit(staging, info, files);
        if (committed)
            if (auto synced = Snapshot::SnapshotStore::syncFiles(*committed); !synced)
                return Core::Expected<Snapshot::SnapshotInfo>(synced.error());
        return committed;
    });
}

// Reentrant: killing the builder during its boot fails the boot, whose
// continuation tears down again, from inside kill().
void WarmBuildJob::tearDown()
{
    const std::unique_ptr<VirtualMachine> vm = std::move(m_vm);
    if (vm)
        vm->kill();
    if (!m_stagingDir.isEmpty())
        Snapshot::SnapshotStore(m_request.directory).discard(std::exchange(m_stagingDir, QString()));
}

} // namespace Vm
