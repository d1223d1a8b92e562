#pragma once

#include "core/expected.h"
#include "core/snapshot/snapshotstore.h"

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>
#include <vector>

namespace Vmm {
class VmmDriver;
}

namespace Vm {

class VirtualMachine;
class WarmStarts;
} // namespace Vm
namespace Templates {
struct VmTemplate;
}
namespace Vm {

// VMs restored ahead from their template's warm snapshot and kept paused,
// so that starting a new VM of that template and shape is a resume
// (VirtualMachine::claim) instead of a restore. One target per template, at
// the template's own shape, VMs without a NIC only. The pool refills in the
// background, one VM at a time, only while what it would hold fits beside
// the VMs that run (the `fits` check, the host's quotas), and gives VMs up
// when a VM that is started needs the room (shrinkToFit). Pooled VMs live in
// <state dir>/.pool/ (disk and console) and die with the pool; they never
// outlive their process.
class VmPool final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmPool)
public:
    static constexpr int kMaxPerTemplate = 8;
    static constexpr const char *kMemberPrefix = "mvs-pool-";
    // A fill that failed is tried again after this, doubling up to the max.
    static constexpr int kRetryMs = 10000;
    static constexpr int kMaxRetryMs = 5 * 60 * 1000;

    struct Target {
        QString templateName;
        int count = 0;
        bool operator==(const Target &) const = default;
    };
    // "minimal=2, desktop=1": template names with counts (0 to
    // kMaxPerTemplate), each template once. Empty: no pool.
    static Core::Expected<QList<Target>> parseTargets(const QString &text);
    static QString formatTargets(const QList<Target> &targets);

    struct Status {
        QString templateName;
        int target = 0;
        int vcpus = 0;
        int memoryMiB = 0;
        int ready = 0; // paused, to be claimed
        int filling = 0; // being restored
        QString lastError; // of the last fill that failed (empty: none since one worked)
    };

    // Whether one more VM of this shape may hold a VMM beside the running
    // VMs and the VMs pooled already (vcpus, memory of those).
    using Fits = std::function<Core::Result(int vcpus, qint64 memoryMiB, int pooledVcpus, qint64 pooledMemoryMiB)>;

    // warm must outlive the pool.
    VmPool(const Vmm::VmmDriver &driver, WarmStarts &warm, QString stateDir, Fits fits, QObject *parent = nullptr);
    ~VmPool() override;

    // Each template's template must load and have no NIC; then the pool
    // fills or gives up VMs to match.
    Core::Result setTargets(const QList<Target> &targets);
    QList<Target> targets() const;
    QList<Status> status() const;
    int readyCount() const;
    // Pooled vCPUs and memory (ready and filling).
    int vcpus() const;
    qint64 memoryMiB() const;

    // A ready VM of this template and shape, or nullptr. Once its run was
    // claimed, hand it back to retire(), which deletes what is left of it
    // and refills (after the claim, so that the refill does not slow it).
    std::unique_ptr<VirtualMachine> take(const QString &templateName, int vcpus, int memoryMiB);
    void retire(std::unique_ptr<VirtualMachine> used);
    // Fill up to the targets, one VM at a time (also after VMs stopped and
    // made room).
    void refill();
    // Give up pooled VMs (filling ones first) until `fits` is met (the
    // caller counts the VM about to start); no refill until refill().
    void shrinkToFit(const std::function<bool(int pooledVcpus, qint64 pooledMemoryMiB)> &fits);

Q_SIGNALS:
    void changed();

private:
    struct Member {
        std::unique_ptr<VirtualMachine> vm;
        bool ready = false;
    };
    struct Slot {
        Target target;
        int vcpus = 0;
        int memoryMiB = 0;
        QString lastError;
        int retryMs = kRetryMs;
        bool retryPending = false;
        std::vector<Member> members;
    };

    Slot *slotFor(const QString &templateName);
    void fillOne(Slot &slot);
    void buildImage(const Templates::VmTemplate &tmpl);
    void restoreInto(const QString &templateName, VirtualMachine *vm, const Snapshot::SnapshotInfo &snapshot);
    void pauseRestored(const QString &templateName, VirtualMachine *vm);
    void fillFailed(const QString &templateName, VirtualMachine *vm, const Core::Error &error);
    void removeMember(Slot &slot, VirtualMachine *vm);
    void retryLater(Slot &slot);
    QString poolDir() const;

    const Vmm::VmmDriver &m_driver;
    WarmStarts &m_warm;
    QString m_stateDir;
    Fits m_fits;
    std::vector<Slot> m_slots;
    quint64 m_serial = 0;
    VirtualMachine *m_filling = nullptr; // being restored and paused
    bool m_finding = false; // looking for the warm snapshot
    bool m_waitingForBuild = false; // for WarmStarts to make it
};

} // namespace Vm
