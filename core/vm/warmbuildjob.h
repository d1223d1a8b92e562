#pragma once

#include "core/async.h"
#include "core/snapshot/snapshotstore.h"
#include "core/template/vmtemplate.h"
#include "core/vmm/vmspec.h"

#include <QObject>

#include <memory>
#include <optional>

namespace Vmm {
class VmmDriver;
}

namespace Vm {

class VirtualMachine;

// Makes a template's warm snapshot (see WarmStarts) as a flat sequence of
// steps: a builder VM of the asked shape, of its own (in no registry, its
// disk in a private directory; a NIC only when asked, on a tap that leads
// nowhere, left unconfigured in the guest), boots cold; once its agent answered
// and the guest settled, it is saved paused into a staging directory of the
// warm directory, committed there as the snapshot "warm" (hashed, synced,
// one rename), and the builder is killed. Whatever fails, nothing that
// looks like a warm snapshot is left, and neither is the builder.
class WarmBuildJob final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WarmBuildJob)
public:
    // After the agent's handshake: the guest's own boot-time work (udev,
    // its first timers) ends before its memory is saved, so that no restore
    // repeats it.
    static constexpr int kSettleMs = 1000;
    static constexpr const char *kSnapshotName = "warm";

    struct Request {
        Templates::VmTemplate tmpl;
        int vcpus = 1;
        int memoryMiB = 256;
        QString directory; // the warm directory of this shape
        QString builderName; // the builder VM's name (its first host name)
        // A NIC (its tap's descriptor stays the caller's, open until run()
        // resolved): for the warm snapshot of VMs with one, whose restore
        // gives the guest its own address and MAC.
        std::optional<Vmm::NicSpec> nic = std::nullopt;
    };

    WarmBuildJob(const Vmm::VmmDriver &driver, Request request, QObject *parent = nullptr);
    ~WarmBuildJob() override;

    // Once. Resolves with the committed snapshot.
    Core::Future<Snapshot::SnapshotInfo> run();

private:
    Core::Future<void> boot();
    Core::Future<void> settle();
    Core::Future<Snapshot::SnapshotInfo> save();
    Core::Future<Snapshot::SnapshotInfo> commit(Snapshot::SnapshotInfo info);
    void tearDown();

    const Vmm::VmmDriver &m_driver;
    Request m_request;
    std::unique_ptr<VirtualMachine> m_vm;
    QString m_stagingDir;
};

} // namespace Vm
