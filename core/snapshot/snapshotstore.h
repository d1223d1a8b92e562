#pragma once

#include "core/expected.h"

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace Snapshot {

// One file a snapshot wrote, with the checksum it had when written.
struct SnapshotFile {
    QString name; // relative to the snapshot's directory
    qint64 size = 0;
    QString sha256; // lowercase hex
};

// What one snapshot holds and where it came from (<dir>/manifest.json).
// A snapshot stands alone: its files are its own (the disk is a copy of
// the VM's writable layer, never a link into another snapshot), so deleting
// one never harms another. "parent" is lineage only.
struct SnapshotInfo {
    QString name;
    QString vm; // the VM it was taken of
    QDateTime createdAt; // UTC
    QString parent; // the snapshot this VM's state descended from; empty: a cold boot
    QString driver; // "qemu" or "cloud-hypervisor"
    QString vmmVersion; // the VMM that saved it; only the same version loads it (empty: not recorded)
    QString templateName;
    int vcpus = 0;
    int maxVcpus = 0; // the VM's hot-plug ceiling (VmSpec::maxVcpus); 0: none
    int memoryMiB = 0;
    QString accel; // "kvm" or "tcg": a saved state loads only with the accelerator it was saved with
    // The guest image the VM booted. The image cache keeps it (it is keyed
    // by recipe); a snapshot whose image is gone cannot be restored.
    QString kernelPath;
    QString initramfsPath;
    QString baseDiskPath; // the read-only base of the disk; empty without a disk
    QString diskFile; // the VM's writable disk in this snapshot; empty without one
    QString diskFormat; // "qcow2" or "raw"
    QStringList stateFiles; // the VMM's state (QEMU: memory.state)
    qint64 pausedMs = 0; // how long the VM was paused for it
    QList<SnapshotFile> files;
    QString directory; // where it is (not stored)

    qint64 sizeBytes() const;
    QJsonObject toJson() const;
    static Core::Expected<SnapshotInfo> fromJson(const QJsonObject &json);
};

// The snapshots of one VM, one directory each under root:
//   <root>/<name>/manifest.json and the files it lists.
// A snapshot is written into a staging directory (<root>/.staging-<name>-*)
// and appears under its name in one rename, after its files are hashed and
// synced, so a snapshot interrupted at any point (VMM or writer killed, disk
// full, power cut) is never listed; stale staging directories are removed
// by recover(). A directory without a readable manifest is not a snapshot.
//
// The blocking calls (commit, verify) hash whole files: run them on a worker
// thread (Core::runInThread). The others are quick file-system calls.
class SnapshotStore {
public:
    static constexpr const char *kManifest = "manifest.json";
    static constexpr const char *kStagingPrefix = ".staging-";

    explicit SnapshotStore(QString root);

    // ^[a-z0-9][a-z0-9-]{0,62}$, like VM names.
    static Core::Result validateName(const QString &name);

    QString root() const { return m_root; }
    QString directoryOf(const QString &name) const;

    // Remove staging directories left by an interrupted snapshot. Returns
    // what was removed, one line each.
    QStringList recover() const;
    // Sorted by creation time, oldest first. Unreadable entries are skipped
    // and reported in *warnings.
    QList<SnapshotInfo> list(QStringList *warnings = nullptr) const;
    Core::Expected<SnapshotInfo> get(const QString &name) const;
    bool contains(const QString &name) const;
    // "snap-<UTC time>", with "-<n>" when taken twice in a second.
    QString uniqueName() const;

    // A new, empty staging directory for the snapshot `name` (mode 0700).
    Core::Expected<QString> beginStaging(const QString &name) const;
    void discard(const QString &stagingDir) const;
    // Blocking. Hash every file in `files` (relative to the staging
    // directory), write and sync the manifest, rename the directory to its
    // name. On any error the staging directory is removed.
    // `hashed`: checksums already taken (GrowingFileHasher); a file whose
    // size still matches is not read again.
    Core::Expected<SnapshotInfo> commit(const QString &stagingDir, SnapshotInfo info, const QStringList &files, const QList<SnapshotFile> &hashed = {}) const;
    // Blocking. fsync every file of a listed snapshot.
    static Core::Result syncFiles(const SnapshotInfo &info);
    // Blocking. Every file listed exists with its size and checksum;
    // Corrupted names the first that does not.
    static Core::Result verify(const SnapshotInfo &info);
    // The image files a snapshot boots from (kernel, initramfs, base disk)
    // exist and lie in imagesDir once links are resolved: NotFound or
    // Corrupted otherwise. A manifest never makes the VMM open another file.
    static Core::Result checkImagePaths(const SnapshotInfo &info, const QString &imagesDir);
    // Delete a snapshot. Snapshots that named it as their parent get its
    // parent instead (their manifests are rewritten atomically); their files
    // are not touched, nor are the VM's.
    Core::Result remove(const QString &name) const;
    // Delete every snapshot and the root (when the VM is deleted).
    Core::Result removeAll() const;

private:
    Core::Result writeManifest(const QString &dir, const SnapshotInfo &info) const;

    QString m_root;
};

// SHA-256 of a file, lowercase hex (blocking).
Core::Expected<QString> sha256File(const QString &path);

// Hashes a file while another process writes it (a VMM saving its state):
// a thread of its own reads whatever has been written, waits for more, and
// once finish() says the writer is done, reads to the end. The snapshot's
// checksum is then ready when the save is, instead of a second pass over
// the file afterwards. For files that only grow (QEMU's migration stream,
// cloud-hypervisor's memory-ranges).
class GrowingFileHasher {
public:
    static constexpr int kPollMs = 2; // no new data yet: look again after this
    static constexpr int kNice = 10; // the hashing thread's niceness

    explicit GrowingFileHasher(QString path);
    ~GrowingFileHasher(); // stops the thread; the result is dropped
    GrowingFileHasher(const GrowingFileHasher &) = delete;
    GrowingFileHasher &operator=(const GrowingFileHasher &) = delete;

    QString path() const { return m_path; }
    // Blocking (briefly: the rest of the file). The writer is done; the
    // file's size and checksum as hashed.
    Core::Expected<SnapshotFile> finish();

private:
    struct State;
    QString m_path;
    std::shared_ptr<State> m_state;
};

} // namespace Snapshot
