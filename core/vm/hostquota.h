#pragma once
// The host's limits on what its VMs may hold, and the check of a request
// against them. Pure: the manager counts, this decides.
//   vms        VMs that exist (created, running or stopped)
//   vcpus      vCPUs of the VMs that hold a VMM (starting, running, paused)
//   memory     memory of those VMs, in MiB; by default the host's RAM times
//              memoryOvercommit (idle guests do not touch all of theirs)
//   disk       bytes the data directory holds (VM disks, snapshots); a VM
//              is not created while it is over
// 0 means no limit. A request over a limit fails with QuotaExceeded, naming
// the limit, what is in use, what was asked and by how much it is over.

#include "core/expected.h"

#include <QString>

namespace Core {
struct Config;
}

namespace Vm {

struct QuotaLimits {
    static constexpr double kDefaultMemoryOvercommit = 1.5;
    static constexpr double kMaxMemoryOvercommit = 100.0;

    int maxVms = 0;
    int maxVcpus = 0;
    qint64 maxMemoryMiB = 0;
    qint64 maxDiskBytes = 0;

    // memoryMiB unset: hostMemoryMiB times overcommit (0 when the host's
    // memory is unknown: no limit).
    static QuotaLimits withHostMemory(qint64 hostMemoryMiB, double overcommit = kDefaultMemoryOvercommit);
    // The service's: each key from the environment (MVS_QUOTA_MAX_VMS, ...)
    // or else the config file (quota_max_vms, ...; see core/config.h), the
    // memory limit from the host's RAM when neither sets it. A value that is
    // not a number in range is an error naming its key.
    static Core::Expected<QuotaLimits> resolve(const Core::Config &config, qint64 hostMemoryMiB);
};

struct QuotaUsage {
    int vms = 0;
    int vcpus = 0; // of the VMs holding a VMM
    qint64 memoryMiB = 0; // of the VMs holding a VMM
    qint64 diskBytes = 0; // the data directory's

    bool operator==(const QuotaUsage &) const = default;
};

// count more VMs may be created (disk under its limit, VM count room).
Core::Result checkCreate(const QuotaLimits &limits, const QuotaUsage &usage, int count = 1);
// One more VM of this shape may run (usage: without it).
Core::Result checkStart(const QuotaLimits &limits, const QuotaUsage &usage, int vcpus, qint64 memoryMiB);

// The host's RAM in MiB (/proc/meminfo MemTotal); 0 when unknown.
qint64 hostMemoryMiB();
// What the files under dir hold on disk (allocated blocks, so sparse disks
// count what they use), not following links.
qint64 diskUsageBytes(const QString &dir);

} // namespace Vm
