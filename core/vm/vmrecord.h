#pragma once

#include "core/expected.h"
#include "core/template/vmtemplate.h"
#include "core/vmm/detachedvmm.h"
#include "core/vm/portexposure.h"

#include <QDateTime>
#include <QJsonObject>
#include <QString>

#include <optional>

namespace Vm {

// A VM's network (issue 15): how it is connected (the template's network:
// section or the create request's override; the policy as last replaced)
// and its place, assigned at create and kept for its life: the slot (its
// /30 in the instance's VM subnet, Net::SubnetPlan) and its MAC. A VM with
// mode none has neither.
struct VmNetwork {
    Templates::NetworkSpec spec;
    int slot = -1;
    QString mac;

    bool hasNic() const { return spec.hasNic(); }
    QJsonObject toJson() const; // spec's fields plus "slot" and "mac"
    static Core::Expected<VmNetwork> fromJson(const QJsonObject &json);
};

// What a VmManager keeps on disk for one VM (<stateDir>/<name>.json).
struct VmRecord {
    // What the user last asked for. The VM's actual state is not persisted:
    // it lives in the VMM process, which does not outlive the manager
    // (unless left running: runningVmm).
    enum class Desired { Stopped, Running, Paused };

    QString name;
    QString templateName;
    int vcpus = 0;
    // The most vCPUs it may have while it runs (vCPU hot-plug); 0: vcpus.
    int maxVcpus = 0;
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
    // Who made it: the id of the API token that created it (or forked it
    // from a snapshot), whose own quota it counts against; empty: the app,
    // run, or a record written before owners. Optional in the file.
    QString owner;
    // Where the VM's VMM runs when it may outlive its manager: set while a
    // detachable manager runs it, and while it runs on without a manager
    // (VmManager::detachAll) until the manager that adopted it sees it end.
    // Optional in the file.
    std::optional<Vmm::DetachedVmm> runningVmm;
    // Optional in the file (records written before networking: mode none).
    VmNetwork network;
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
