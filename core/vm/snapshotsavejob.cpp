#include "core/vm/snapshotsavejob.h"

#include "core/image/vmdisk.h"
#include "core/vmm/vmminstance.h"
#include "core/workerpool.h"

#include <QDir>

namespace Vm {

SnapshotSaveJob::SnapshotSaveJob(Vmm::VmmInstance *instance, Request request, QObject *parent)
    : QObject(parent)
    , m_instance(instance)
    , m_request(std::move(request))
{
}

Core::Future<Snapshot::SnapshotInfo> SnapshotSaveJob::run()
{
    if (m_step != Step::NotStarted)
        return Core::readyFuture<Snapshot::SnapshotInfo>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the snapshot job already ran")));
    m_pausedFor.start();
    const auto paused = pauseVm();
    const auto saved = Core::then(paused, this, [this]() { return saveState(); });
    const auto copied = Core::then(saved, this, [this]() { return copyDisk(); });
    const auto resumed = Core::then(copied, this, [this]() { return resumeVm(); });
    const auto settled = Core::then(resumed, this, [this]() { return pauseAgainIfAsked(); });
    Core::whenDone(settled, this, [this](const Core::Expected<Snapshot::SnapshotInfo> &r) {
        if (r)
            finish(r);
        else
            recover(r.error());
    });
    return m_promise.future();
}

bool SnapshotSaveJob::cancel()
{
    switch (m_step) {
    case Step::Pausing:
    case Step::Copying:
        m_cancelRequested = true; // acted on when that step ends
        return true;
    case Step::Saving:
        if (m_instance && m_instance->cancelSaveState())
            return true;
        m_cancelRequested = true; // the VMM cannot stop its write: drop the result once it is done
        return true;
    case Step::NotStarted:
    case Step::Resuming:
    case Step::Repausing:
    case Step::Done: return false;
    }
    return false;
}

Core::Future<void> SnapshotSaveJob::pauseVm()
{
    m_step = Step::Pausing;
    if (m_request.wasPaused)
        return Core::readyFuture();
    return Core::then(m_instance->pause(), this, [this]() -> Core::Result {
        m_pausedBySnapshot = true;
        return {};
    });
}

Core::Future<void> SnapshotSaveJob::saveState()
{
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<void>(ok.error());
    m_step = Step::Saving;
    return m_instance->saveState(m_request.directory);
}

Core::Future<void> SnapshotSaveJob::copyDisk()
{
    if (auto ok = goOn(); !ok)
        return Core::readyFuture<void>(ok.error());
    if (m_request.diskSource.isEmpty())
        return Core::readyFuture();
    m_step = Step::Copying;
    const QString target = QDir(m_request.directory).filePath(m_request.info.diskFile);
    const auto copied = Core::runInThread<void>([source = m_request.diskSource, target]() { return Image::copyDiskFile(source, target); });
    return Core::then(copied, this, [this]() { return goOn(); });
}

// Saved: back to running. Also a VM that was paused before: QEMU holds a VM
// that was migrated out in "postmigrate", which refuses the next save; a run
// of a few milliseconds clears that.
Core::Future<void> SnapshotSaveJob::resumeVm()
{
    if (gone())
        return Core::readyFuture<void>(stoppedError());
    m_step = Step::Resuming;
    return Core::then(m_instance->resume(), this, [this]() -> Core::Result {
        m_request.info.pausedMs = m_pausedFor.elapsed();
        m_pausedBySnapshot = false;
        if (gone())
            return stoppedError();
        return {};
    });
}

Core::Future<Snapshot::SnapshotInfo> SnapshotSaveJob::pauseAgainIfAsked()
{
    if (!m_request.leavePaused && !m_request.wasPaused)
        return Core::readyFuture<Snapshot::SnapshotInfo>(m_request.info);
    m_step = Step::Repausing;
    return Core::then(m_instance->pause(), this, [this]() { return Core::Expected<Snapshot::SnapshotInfo>(m_request.info); });
}

// Before each step: the VM is still there and nobody cancelled.
Core::Result SnapshotSaveJob::goOn() const
{
    if (gone())
        return stoppedError();
    if (m_cancelRequested)
        return Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("the snapshot was cancelled"));
    return {};
}

// A step failed: the VM runs again if the snapshot paused it.
void SnapshotSaveJob::recover(const Core::Error &error)
{
    if (gone()) {
        finish(stoppedError());
        return;
    }
    if (m_step == Step::Resuming) {
        finish(Core::Error(error.code, QStringLiteral("the snapshot was saved but VM %1 did not run again: %2").arg(m_request.vmName, error.message)));
        return;
    }
    if (!m_pausedBySnapshot) {
        finish(error);
        return;
    }
    m_step = Step::Resuming;
    Core::whenDone(m_instance->resume(), this, [this, error](const Core::Result &) { finish(error); });
}

void SnapshotSaveJob::finish(const Core::Expected<Snapshot::SnapshotInfo> &result)
{
    m_step = Step::Done;
    // A step that failed because the VMM died says so, whatever it saw.
    m_promise.resolve(!result && m_abandonedFor ? Core::Expected<Snapshot::SnapshotInfo>(stoppedError()) : result);
}

void SnapshotSaveJob::abandon(const Core::Error &why)
{
    if (!m_abandoned)
        m_abandonedFor = why;
    m_abandoned = true;
}

Core::Error SnapshotSaveJob::stoppedError() const
{
    if (m_abandonedFor)
        return Core::Error(m_abandonedFor->code,
                           QStringLiteral("the VMM of VM %1 ended while its snapshot was being taken: %2").arg(m_request.vmName, m_abandonedFor->message));
    return Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 stopped while its snapshot was being taken").arg(m_request.vmName));
}

} // namespace Vm
