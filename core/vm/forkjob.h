#pragma once

#include "core/async.h"
#include "core/snapshot/snapshotstore.h"
#include "core/vm/vmsnapshots.h"

#include <QObject>

#include <optional>

namespace Vm {

// Starts new VMs from one snapshot, as a flat sequence of steps: verify the
// snapshot's checksums (once for all), choose free names, create the VMs,
// run each from the snapshot and give its guest its own host name, then
// settle: all or nothing (if one fails, the others are removed again).
class ForkJob final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ForkJob)
public:
    static constexpr int kHostnameTimeoutMs = 10000;

    struct Request {
        QString vm;
        Snapshot::SnapshotInfo snapshot;
        QString prefix; // VMs are named <prefix>-<n>, n = the next free numbers
        int count = 1;
        QString owner = QString(); // the forks'
    };

    // Free names <prefix>-<n> in the registry (and its state directory).
    static Core::Expected<QStringList> freeNames(const VmRegistry &registry, const QString &prefix, int count);

    ForkJob(VmRegistry &registry, VmSnapshots::Host &host, Request request, QObject *parent = nullptr);

    // Once. Resolves with the new VMs' names.
    Core::Future<QStringList> run();

private:
    Core::Future<void> verify();
    Core::Expected<QStringList> chooseNames();
    Core::Expected<QStringList> createForks(const QStringList &names);
    Templates::NetworkSpec sourceNetwork() const;
    Core::Future<QStringList> startForks(const QStringList &names);
    Core::Future<void> startFork(const QString &name);
    Core::Future<void> restoreFork(const QString &name);
    Core::Future<void> nameGuest(const QString &name);
    void forkStarted(const QString &name, const Core::Result &r);
    void removeForks(const QStringList &names);

    VmRegistry &m_registry;
    VmSnapshots::Host &m_host;
    Request m_request;
    QStringList m_forks;
    int m_pending = 0;
    std::optional<Core::Error> m_firstError;
    Core::Promise<QStringList> m_started;
};

} // namespace Vm
