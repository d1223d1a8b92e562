#pragma once

#include "core/expected.h"
#include "core/template/vmtemplate.h"

#include <QString>

#include <atomic>
#include <functional>

namespace Image {

// The shared, read-only root disk of a "rootfs" template: a raw ext4 image.
struct RootDisk {
    QString key; // sha256 of the rootfs recipe and the builder version
    QString dir; // <cache>/images/rootfs-<key>
    QString path; // <dir>/rootfs.img (mode 0444; VMs write to their own layer)
    int sizeMiB = 0;
};

// Builds root disks: debootstrap (the host's apt mirror) into a scratch
// tree, the recipe's trimming, the guest's init files, then mke2fs -d (no
// mount, no loop device). Cached like the boot images under
// <cache>/images/rootfs-<key>, published atomically under a lock. The disk
// does not contain the guest agent: the initramfs brings it and bind-mounts
// it over /usr/sbin/microvm-agent, so a new agent costs no disk rebuild; the
// same for the code runner (/usr/local/bin/mvs-code-runner).
namespace RootfsBuilder {

// Bump when the way the tree is made changes: every disk is rebuilt. The
// init files are keyed by their content already.
inline constexpr int kVersion = 1;
inline constexpr int kDebootstrapTimeoutMs = 30 * 60 * 1000;
inline constexpr int kLockTimeoutMs = 40 * 60 * 1000;

using Report = std::function<void(const QString &step, int percent)>;

QString diskKey(const Templates::ImageRecipe &recipe);
Core::Expected<RootDisk> cached(const Templates::ImageRecipe &recipe);
// Blocking: runs on the image builder's worker thread. percent is 0-100 of this step.
Core::Expected<RootDisk> ensure(const Templates::ImageRecipe &recipe, const std::atomic<bool> &cancel, const Report &report);

// The first http(s) or file URI the host's apt sources use for this suite
// (deb822 *.sources and one-line *.list), else http://deb.debian.org/debian.
// aptDir: the directory holding sources.list and sources.list.d.
QString hostMirror(const QString &suite, const QString &aptDir = QStringLiteral("/etc/apt"));

// The initramfs /init of a root-disk image: runs the agent's --init-setup
// (mounts, modules), mounts root= (default /dev/vda), bind-mounts the
// initramfs' agent and code runner into it, moves the mounts and switch_roots into busybox
// init on the disk.
QString initramfsInit();

// Removes a scratch tree safely: unmounts anything still mounted below it
// (an interrupted debootstrap leaves /proc and /sys mounted) and never
// crosses into another filesystem.
void removeTree(const QString &path);

} // namespace RootfsBuilder
} // namespace Image
