#pragma once

#include "core/async.h"
#include "core/snapshot/snapshotstore.h"
#include "core/vm/vmregistry.h"

#include <QObject>

namespace Vm {

struct SnapshotOptions {
    QString name; // empty: snap-<UTC time>
    bool leavePaused = false; // stay paused afterwards (else it runs as before; a paused VM stays paused)
};

struct ForkOptions {
    int count = 1;
    QString namePrefix; // empty: "<vm>-fork"; VMs are named <prefix>-<n>, n = the next free numbers
    QString owner = QString(); // the forks' (see VmRecord::owner)
};

// The snapshots of a manager's VMs (<state dir>/<name>.snapshots/, see
// Snapshot::SnapshotStore): taking, listing, restoring, forking and
// deleting them, each operation a flat chain of named steps (a fork is a
// ForkJob). VmManager documents the behaviour its callers see.
class VmSnapshots final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmSnapshots)
public:
    static constexpr int kMaxForkCount = 16;

    // What the snapshot operations ask of the manager.
    class Host {
    public:
        virtual ~Host() = default;
        // Instantiate the entry's VM when that was not done yet.
        virtual Core::Result ensureVm(VmEntry *entry) = 0;
        // The VM is about to run a new VMM (restored or forked), and it runs:
        // the manager makes it persistent and records where it is when VMs
        // may be left running, and gives it its NIC (which may fail).
        virtual Core::Result prepareVmmStart(VmEntry *entry) = 0;
        virtual void vmmStarted(const QString &name) = 0;
        // network: the VM's (a fork's: its source's mode and policy; it gets
        // its own slot and MAC).
        virtual Core::Expected<VmInfo> createVm(const QString &name, const QString &templateName, int vcpus, int memoryMiB,
                                                const Templates::NetworkSpec &network, const QString &owner) = 0;
        virtual void removeVm(const QString &name) = 0;
    };

    VmSnapshots(VmRegistry &registry, Host &host, QObject *parent = nullptr);

    Core::Future<Snapshot::SnapshotInfo> take(const QString &vm, const SnapshotOptions &options);
    Core::Result cancel(const QString &vm);
    Core::Expected<QList<Snapshot::SnapshotInfo>> list(const QString &vm) const;
    Core::Expected<Snapshot::SnapshotInfo> info(const QString &vm, const QString &snapshot) const;
    Core::Future<void> restore(const QString &vm, const QString &snapshot);
    Core::Future<QStringList> fork(const QString &vm, const QString &snapshot, const ForkOptions &options);
    Core::Result remove(const QString &vm, const QString &snapshot);

Q_SIGNALS:
    // A snapshot of the VM was taken or deleted.
    void changed(const QString &vm);

private:
    struct Take;
    static Core::Future<Snapshot::SnapshotInfo> commit(const std::shared_ptr<Take> &take, Snapshot::SnapshotInfo info);
    void taken(const Take &take, const Snapshot::SnapshotInfo &listed);
    Core::Error takeFailed(Take &take, const Core::Error &error);
    Core::Future<void> restoreVerified(const QString &vm, const Snapshot::SnapshotInfo &snap, bool *touched);
    void restoreEnded(const QString &vm, const Snapshot::SnapshotInfo &snap, bool touched, const Core::Result &r);

    VmRegistry &m_registry;
    Host &m_host;
};

} // namespace Vm
