#pragma once

#include "core/async.h"
#include "core/vmm/vmspec.h"

#include <QString>

namespace Image {

// How a VM gets its own writable root disk over a shared read-only base.
enum class DiskLayer {
    Qcow2Overlay, // QEMU: qemu-img create -f qcow2 -F raw -b <base>; only changed blocks are stored
    RawCopy, // cloud-hypervisor (raw only): cp --reflink=auto --sparse=always
};

// The VM's disk in dir ("root.qcow2" or "root.raw"), made on first use and
// reused afterwards, so the VM's writes survive a stop and a start. Made
// under a temporary name and renamed: an interrupted copy is never used.
// The tools run on a worker thread; the future resolves on the main thread.
Core::Future<Vmm::DiskSpec> prepareVmDisk(const QString &basePath, const QString &dir, DiskLayer layer);

// Copy a VM disk file (blocking; call it from a worker thread): reflinked
// where the file system can, sparse otherwise, written under a temporary
// name and renamed over dst, so dst is never half written. NoSpace when the
// file system is full.
Core::Result copyDiskFile(const QString &src, const QString &dst);

} // namespace Image
