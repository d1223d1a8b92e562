#pragma once

#include "core/expected.h"
#include "core/template/networkspec.h"

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

namespace Templates {

// An extra Debian package for an image: the binaries listed are copied into
// the image together with the shared libraries they need.
struct ExtraPackage {
    QString name;
    QStringList binaries; // paths inside the package, e.g. "usr/sbin/qemu-ga"
};

// A Debian root filesystem on a disk (image type "rootfs"): debootstrapped,
// trimmed and turned into a raw ext4 image that every VM of the template
// shares read-only under its own writable layer.
struct RootfsRecipe {
    QString suite = QStringLiteral("bookworm");
    QString mirror = QStringLiteral("auto"); // "auto": the host's apt source, else deb.debian.org
    QString variant = QStringLiteral("minbase");
    QStringList packages; // --include; busybox-static is always added (init)
    QStringList remove; // paths (relative to /) deleted from the tree afterwards
    int diskSizeMiB = 2048; // the filesystem size (grown when the tree needs more)
    // The desktop session baked into the image's init (both empty: none).
    QString windowManager; // e.g. "matchbox-window-manager -use_titlebar no"
    QString terminal; // e.g. "xterm"
    // Started once the window manager runs, after the terminal, each kept
    // running (e.g. a browser).
    QStringList programs;
    // Run in the guest's session until it succeeds (e.g. the window meant to
    // have the focus has it); the guest then reports the desktop ready.
    // Empty: ready as soon as the VNC server answers.
    QString readyCheck;
    bool hasDesktop() const { return !windowManager.isEmpty() || !terminal.isEmpty(); }
    QJsonObject toJson() const;
};

// What the image builder needs; its canonical JSON is hashed into the cache key.
struct ImageRecipe {
    QString kernelPackage;
    QString type = QStringLiteral("initramfs"); // "initramfs" or "rootfs"
    QString busyboxPackage = QStringLiteral("busybox-static");
    QStringList modules;
    QList<ExtraPackage> packages;
    // The agent's channels are baked into the image's init.
    QString agentPortName = QStringLiteral("org.microvm.agent");
    quint32 agentVsockPort = 1024;
    RootfsRecipe rootfs; // type "rootfs" only
    bool hasRootDisk() const { return type == QLatin1String("rootfs"); }
    QJsonObject toJson() const;
};

// The desktop a rootfs template starts (Xvnc, a window manager, a terminal).
// Given to the guest on the kernel command line, so changing it needs no
// image rebuild.
struct DesktopSpec {
    bool enabled = false;
    int width = 1280;
    int height = 800;
    int depth = 24;
    int display = 0; // X display :N
    quint16 vncPort = 5900; // Xvnc listens on 127.0.0.1:<vncPort> in the guest
    // "mvs.desktop=1280x800x24 mvs.display=0 mvs.vnc_port=5900", or empty.
    QString kernelArgs() const;
};

struct VmTemplate {
    QString name;
    // Other names the template answers to (load() resolves them); a file
    // named after a template wins over another template's alias.
    QStringList aliases;
    QString description;
    QString sourcePath;
    int vcpus = 1;
    int memoryMiB = 256;
    QString kernelCmdline;
    ImageRecipe image;
    QString agentPortName = QStringLiteral("org.microvm.agent");
    quint32 agentVsockPort = 1024;
    int agentReadyTimeoutS = 60;
    QString qemuMachine;
    DesktopSpec desktop;
    NetworkSpec network;

    // Parse and validate YAML text. Errors name the file, the key and why.
    static Core::Expected<VmTemplate> fromYaml(const QByteArray &yaml, const QString &sourceName);
    static Core::Expected<VmTemplate> fromFile(const QString &path);
    // Find "<name>.yaml" on Core::Paths::templateSearchPath() (or a path),
    // else the template that has nameOrPath among its aliases.
    static Core::Expected<VmTemplate> load(const QString &nameOrPath);
    // Every template found on the search path (first one of each name wins).
    static QList<VmTemplate> all();
};

} // namespace Templates
