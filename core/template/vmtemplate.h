#pragma once

#include "core/expected.h"

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

// What the image builder needs; its canonical JSON is hashed into the cache key.
struct ImageRecipe {
    QString kernelPackage;
    QString type = QStringLiteral("initramfs");
    QString busyboxPackage = QStringLiteral("busybox-static");
    QStringList modules;
    QList<ExtraPackage> packages;
    // The agent's channels are baked into the image's init.
    QString agentPortName = QStringLiteral("org.microvm.agent");
    quint32 agentVsockPort = 1024;
    QJsonObject toJson() const;
};

struct VmTemplate {
    QString name;
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

    // Parse and validate YAML text. Errors name the file, the key and why.
    static Core::Expected<VmTemplate> fromYaml(const QByteArray &yaml, const QString &sourceName);
    static Core::Expected<VmTemplate> fromFile(const QString &path);
    // Find "<name>.yaml" on Core::Paths::templateSearchPath() (or a path).
    static Core::Expected<VmTemplate> load(const QString &nameOrPath);
    // Every template found on the search path (first one of each name wins).
    static QList<VmTemplate> all();
};

} // namespace Templates
