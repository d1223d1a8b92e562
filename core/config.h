#pragma once

#include "core/expected.h"

#include <QString>

namespace Core {

// User settings from <configDir>/config.yaml (all keys optional):
//   driver: auto | qemu | cloud-hypervisor
//   accel: auto | kvm | tcg                 (QEMU)
//   qemu_binary: /usr/bin/qemu-system-x86_64
//   cloud_hypervisor_binary: /opt/ch/cloud-hypervisor
//   quota_max_vms: 50                       (the host's quotas, 0: none;
//   quota_max_vcpus: 0                       see core/vm/hostquota.h)
//   quota_max_memory_mib: 0                 (0: RAM x overcommit)
//   quota_memory_overcommit: 1.5
//   quota_max_disk_gib: 0
//   warm_start: on                          (on | off, see Vm::WarmStarts)
//   idle_pause_after_s: 0                   (0: off, see Server::IdlePause)
//   idle_action: pause                      (pause | snapshot: snapshot and
//                                            stop, restored on use)
//   pool: minimal=2                         (VMs kept paused, per template;
//                                            see Vm::VmPool; none by default)
// Command-line flags override the environment (MVS_DRIVER, MVS_ACCEL,
// MVS_QEMU, MVS_CLOUD_HYPERVISOR; MVS_QUOTA_MAX_VMS and so on, the key in
// capitals), which overrides this file.
struct Config {
    QString driver;
    QString accel;
    QString qemuBinary;
    QString chBinary;
    // The quota keys as written (checked by Vm::QuotaLimits::resolve).
    QString quotaMaxVms;
    QString quotaMaxVcpus;
    QString quotaMaxMemoryMiB;
    QString quotaMemoryOvercommit;
    QString quotaMaxDiskGiB;
    QString warmStart;
    QString idlePauseAfterS;
    QString pool;
    QString idleAction;

    static QString path();
    // A missing file is an empty config; a malformed one is an error that
    // names the file and the key.
    static Expected<Config> load(const QString &path = Config::path());
    // warm_start (MVS_WARM_START overrides it): on unless off.
    Expected<bool> warmStartEnabled() const;
    // idle_pause_after_s (MVS_IDLE_PAUSE_AFTER_S overrides it) in ms: 0 (off)
    // unless set to whole seconds, at most a week.
    Expected<qint64> idlePauseAfterMs() const;
    // idle_action (MVS_IDLE_ACTION overrides it), as written.
    QString idleActionText() const;
    // pool (MVS_POOL overrides it), as written: "<template>=<count>, ...".
    QString poolTargets() const;
};

} // namespace Core
