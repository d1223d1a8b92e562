#pragma once

#include "core/expected.h"

#include <QJsonObject>
#include <QString>

#include <optional>

namespace Vmm {

// What a later process needs to find a VMM again that was left running
// (VmManager::detachAll) and to take it over (adopt): the process, told
// apart from a later process that reuses its pid by its start time, and
// where it listens. Stored in the VM's record under "running_vmm".
struct DetachedVmm {
    QString driver; // "qemu"
    qint64 pid = 0;
    quint64 startTime = 0; // /proc/<pid>/stat field 22 (clock ticks since boot)
    QString runtimeDir; // kept when detached; removed when the VM stops
    QString apiSocket; // QEMU: the QMP socket
    QString agentSocket;
    QString accel; // "kvm" or "tcg"
    // The process that manages the VMM now (0: none, it was left running).
    // Another manager on the same state directory must not take it over.
    qint64 managerPid = 0;
    quint64 managerStartTime = 0;

    QJsonObject toJson() const;
    static Core::Expected<DetachedVmm> fromJson(const QJsonObject &json);

    // Ok when the process still runs and is this VM's VMM: the pid exists (not
    // a zombie), started at startTime, and its command line names the guest
    // ("guest=<vmName>"). Otherwise the error says why the record is stale.
    Core::Result checkAlive(const QString &vmName) const;
    // Another live process (not this one) manages the VMM.
    bool managedElsewhere() const;
    // Make this process its manager.
    void setManagedHere();
};

// /proc/<pid>/stat field 22, or nothing when the process does not exist or
// is a zombie.
std::optional<quint64> processStartTime(qint64 pid);
// The CPU time a process has used (user + system), in milliseconds, or
// nothing when it does not exist or is a zombie.
std::optional<qint64> processCpuMs(qint64 pid);

} // namespace Vmm
