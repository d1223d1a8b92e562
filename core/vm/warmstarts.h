#pragma once

#include "core/async.h"
#include "core/snapshot/snapshotstore.h"
#include "core/net/tapdevice.h"
#include "core/template/vmtemplate.h"

#include <QHash>
#include <QObject>
#include <QSet>

#include <map>

namespace Vmm {
class VmmDriver;
}

namespace Vm {

// Templates' warm snapshots: a VM of a template and shape (vCPUs, memory)
// booted once, saved paused right after its agent answered, so that a new
// VM of that template and shape is restored from it (about the time of a
// snapshot restore) instead of booting cold. One per shape, beside the
// template's image in the image cache:
//   <images>/<image key>/warm/<shape key>/warm/   (a Snapshot::SnapshotStore)
// The image key covers the recipe and the agent; the shape key the
// template's file, the vCPUs, the memory and the driver. A template or
// agent change therefore finds no snapshot (the old one goes with its
// image); another VMM version or accelerator fails the restore, and the
// caller discards the snapshot and boots cold, which makes a new one.
// Snapshots are verified (checksums, image paths) once per process.
// VMs with a NIC have warm snapshots of their own (the NIC is a device of
// the shape), made by a builder whose NIC is a tap of its own that leads
// nowhere (root only: CAP_NET_ADMIN); a restore gives the guest its VM's
// tap, and its agent the VM's address and MAC (VmManager::start).
class WarmStarts final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WarmStarts)
public:
    // The builder VMs' names: mvs-warm-<first 12 of the shape key>.
    static constexpr const char *kBuilderPrefix = "mvs-warm-";
    static constexpr int kMaxConcurrentBuilds = 1; // a builder is a whole VM
    // Warm snapshots kept per image (each about the guest memory it
    // touched): making one more first removes the least recently used.
    static constexpr int kMaxShapesPerImage = 8;

    explicit WarmStarts(const Vmm::VmmDriver &driver, QObject *parent = nullptr);
    ~WarmStarts() override;

    // Where the warm snapshot of this shape lives; NotFound while the
    // template's image is not built.
    Core::Expected<QString> directoryFor(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, bool nic = false) const;
    // The warm snapshot of this shape, verified; NotFound when there is
    // none (yet), Corrupted (and discarded) when it does not verify.
    Core::Future<Snapshot::SnapshotInfo> find(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, bool nic = false);
    // Make it in the background, unless it exists or is being made (or as
    // many builds run as allowed: the next cold boot asks again).
    // With a NIC, the builder's tap is made here (as root; without the
    // right, no snapshot is made and VMs with a NIC boot cold).
    void build(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, bool nic = false);
    // A warm snapshot that could not be restored goes (the next cold boot
    // of its shape makes another).
    void discard(const Snapshot::SnapshotInfo &snapshot);
    bool isBuilding() const { return !m_building.isEmpty(); }
    // Make room for one more shape under an image's warm directory (its
    // "warm/"): the least recently used shape directories go (by their
    // modification time, which a restore from them renews) until fewer
    // than `keep` are left; `except` stays whatever its age. Returns what
    // was removed.
    static QStringList makeRoom(const QString &warmRoot, int keep, const QString &except = QString());

Q_SIGNALS:
    // A build ended: its directory, and why it failed (empty: it did not).
    void buildEnded(const QString &directory, const QString &error);

private:
    static QByteArray shapeKey(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, const QString &driver, bool nic);
    void verified(const Snapshot::SnapshotInfo &snapshot);
    static Core::Expected<Net::TapDevice> builderTap(const QString &directory);

    const Vmm::VmmDriver &m_driver;
    QSet<QString> m_building; // warm directories
    std::map<QString, Net::TapDevice> m_builderTaps; // by warm directory, while its builder runs
    QHash<QString, QDateTime> m_verified; // snapshot directory -> its createdAt when verified
};

} // namespace Vm
