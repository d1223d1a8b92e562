#pragma once

#include "core/expected.h"
#include "core/vmm/detachedvmm.h"
#include "core/vm/portexposure.h"

#include <QDateTime>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace Vm {

// What a VmManager keeps on disk for one VM (<stateDir>/<name>.json).
struct VmRecord {
    // What the user last asked for. The VM's actual state is not persisted:
    // it lives in the VMM process, which does not outlive the manager
    // (unless left running: runningVmm).
    enum class Desired { Stopped, Running, Paused };

    QString name;
    QString templateName;
    int vcpus = 0;
    int memoryMiB = 0;
    Desired desired = Desired::Stopped;
    QDateTime createdAt;
    QDateTime lastStartedAt; // invalid: never started
    std::optional<Core::Error> lastError;
    // The snapshot the VM's current state descends from (the last one taken
    // or restored): the parent of its next snapshot. Empty: a cold boot.
    QString currentSnapshot;
    // "<vm>/<snapshot>" when the VM was forked from a snapshot.
    QString forkedFrom;
    // Where the VM's VMM runs when it may outlive its manager: set while a
    // detachable manager runs it, and while it runs on without a manager
    // (VmManager::detachAll) until the manager that adopted it sees it end.
    // Optional in the file.
    std::optional<Vmm::DetachedVmm> runningVmm;
    // Guest ports exposed on this host, one per guest port (see VmPorts).
    // Optional in the file; malformed entries and repeated guest ports are
    // dropped when it loads.
    QList<PortExposure> ports;

    QJsonObject toJson() const;
    static Core::Expected<VmRecord> fromJson(const QJsonObject &json);
};

QString desiredName(VmRecord::Desired desired);

// VM names: ^[a-z0-9][a-z0-9-]{0,62}$ (they end up in host names, file
// names and URLs).
Core::Result validateVmName(const QString &name);

} // namespace Vm
