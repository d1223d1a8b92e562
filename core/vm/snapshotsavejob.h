#pragma once

#include "core/async.h"
#include "core/snapshot/snapshotstore.h"

#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

#include <optional>

namespace Vmm {
class VmmInstance;
}

namespace Vm {

// Saves a running or paused VM into a directory, as a flat sequence of
// steps: pause, save the VMM's state, copy the disk, run again (and pause
// cleanly again when asked to stay paused). The job owns its progress and
// its cancellation; the VM keeps only the job while it runs.
//
// A failure or a cancel after the VM was paused for the snapshot runs it
// again (unless it was paused before). If the VMM goes away meanwhile (the
// VM was stopped, abandon()), the job ends with Cancelled at its next step;
// if it died (abandon(why)), with that error (VmmFailed).
class SnapshotSaveJob final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SnapshotSaveJob)
public:
    struct Request {
        QString vmName;
        QString directory; // existing, empty: where the state and disk go
        QString diskSource; // the VM's writable disk; empty when it has none
        bool wasPaused = false;
        bool leavePaused = false;
        Snapshot::SnapshotInfo info; // what the VM runs (filled by the VM)
    };

    SnapshotSaveJob(Vmm::VmmInstance *instance, Request request, QObject *parent = nullptr);

    // Once. The info gets pausedMs; it tells the VM whether to show Paused.
    Core::Future<Snapshot::SnapshotInfo> run();
    // Stop the job before the state and disk are saved: it then fails with
    // Cancelled and the VM runs on. False once it is too late.
    bool cancel();
    // The VMM is gone (the VM stopped or was killed).
    void abandon() { m_abandoned = true; }
    // The VMM died: the job fails with why (the first reason given stands).
    void abandon(const Core::Error &why);

private:
    enum class Step { NotStarted, Pausing, Saving, Copying, Resuming, Repausing, Done };

    Core::Future<void> pauseVm();
    Core::Future<void> saveState();
    Core::Future<void> copyDisk();
    Core::Future<void> resumeVm();
    Core::Future<Snapshot::SnapshotInfo> pauseAgainIfAsked();
    Core::Result goOn() const;
    void recover(const Core::Error &error);
    void finish(const Core::Expected<Snapshot::SnapshotInfo> &result);
    bool gone() const { return m_abandoned || !m_instance; }
    Core::Error stoppedError() const;

    QPointer<Vmm::VmmInstance> m_instance;
    Request m_request;
    Step m_step = Step::NotStarted;
    bool m_pausedBySnapshot = false;
    bool m_cancelRequested = false;
    bool m_abandoned = false;
    std::optional<Core::Error> m_abandonedFor; // the VMM died of this
    QElapsedTimer m_pausedFor;
    Core::Promise<Snapshot::SnapshotInfo> m_promise;
};

} // namespace Vm
