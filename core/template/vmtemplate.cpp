#include "core/template/vmtemplate.h"

#include "core/paths.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QRegularExpression>

#include <yaml-cpp/yaml.h>

namespace Templates {
namespace {

Core::Error templateError(const QString &source, const QString &what)
{
    return Core::Error(Core::ErrorCode::Template, QStringLiteral("%1: %2").arg(source, what));
}

QString str(const YAML::Node &n)
{
    return QString::fromStdString(n.as<std::string>());
}

const QRegularExpression &namePattern()
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9._-]{0,62}")));
    return re;
}

} // namespace

QJsonObject ImageRecipe::toJson() const
{
    QJsonArray pkgs;
    for (const ExtraPackage &p : packages)
        pkgs.append(QJsonObject{{QStringLiteral("name"), p.name}, {QStringLiteral("binaries"), QJsonArray::fromStringList(p.binaries)}});
    return QJsonObject{{QStringLiteral("kernel_package"), kernelPackage},
                       {QStringLiteral("type"), type},
                       {QStringLiteral("busybox"), busyboxPackage},
                       {QStringLiteral("modules"), QJsonArray::fromStringList(modules)},
                       {QStringLiteral("packages"), pkgs},
                       {QStringLiteral("agent_port_name"), agentPortName},
                       {QStringLiteral("agent_vsock_port"), static_cast<qint64>(agentVsockPort)}};
}

Core::Expected<VmTemplate> VmTemplate::fromYaml(const QByteArray &yaml, const QString &sourceName)
{
    YAML::Node root;
    try {
        root = YAML::Load(yaml.toStdString());
    } catch (const YAML::Exception &e) {
        return templateError(sourceName, QStringLiteral("not valid YAML: %1").arg(QString::fromStdString(e.what())));
    }
    if (!root.IsMap())
        return templateError(sourceName, QStringLiteral("the top level must be a mapping"));

    static const QStringList knownTop = {QStringLiteral("name"), QStringLiteral("description"), QStringLiteral("vcpus"),
                                         QStringLiteral("memory_mb"), QStringLiteral("kernel"), QStringLiteral("image"),
                                         QStringLiteral("agent"), QStringLiteral("qemu")};
    VmTemplate t;
    t.sourcePath = sourceName;
    try {
        for (const auto &kv : root) {
            const QString key = str(kv.first);
            if (!knownTop.contains(key))
                return templateError(sourceName, QStringLiteral("unknown key '%1'").arg(key));
        }
        if (!root["name"])
            return templateError(sourceName, QStringLiteral("'name' is required"));
        t.name = str(root["name"]);
        if (!namePattern().match(t.name).hasMatch())
            return templateError(sourceName, QStringLiteral("name '%1' must be lowercase letters, digits, '.', '_' or '-'").arg(t.name));
        if (root["description"])
            t.description = str(root["description"]);
        if (root["vcpus"])
            t.vcpus = root["vcpus"].as<int>();
        if (root["memory_mb"])
            t.memoryMiB = root["memory_mb"].as<int>();
        if (t.vcpus < 1 || t.vcpus > 64)
            return templateError(sourceName, QStringLiteral("vcpus must be 1-64, not %1").arg(t.vcpus));
        if (t.memoryMiB < 64 || t.memoryMiB > 65536)
            return templateError(sourceName, QStringLiteral("memory_mb must be 64-65536, not %1").arg(t.memoryMiB));

        const YAML::Node kernel = root["kernel"];
        if (!kernel || !kernel.IsMap() || !kernel["package"])
            return templateError(sourceName, QStringLiteral("'kernel.package' is required"));
        t.image.kernelPackage = str(kernel["package"]);
        if (kernel["cmdline"])
            t.kernelCmdline = str(kernel["cmdline"]);

        const YAML::Node image = root["image"];
        if (image) {
            if (!image.IsMap())
                return templateError(sourceName, QStringLiteral("'image' must be a mapping"));
            if (image["type"])
                t.image.type = str(image["type"]);
            if (t.image.type != QLatin1String("initramfs"))
                return templateError(sourceName, QStringLiteral("image.type '%1' is not supported (initramfs)").arg(t.image.type));
            if (image["busybox"])
                t.image.busyboxPackage = str(image["busybox"]);
            if (image["modules"]) {
                if (!image["modules"].IsSequence())
                    return templateError(sourceName, QStringLiteral("image.modules must be a list"));
                for (const auto &m : image["modules"])
                    t.image.modules << str(m);
            }
            if (image["packages"]) {
                if (!image["packages"].IsSequence())
                    return templateError(sourceName, QStringLiteral("image.packages must be a list"));
                for (const auto &p : image["packages"]) {
                    ExtraPackage ep;
                    if (!p.IsMap() || !p["name"] || !p["binaries"] || !p["binaries"].IsSequence())
                        return templateError(sourceName, QStringLiteral("each image.packages entry needs 'name' and a 'binaries' list"));
                    ep.name = str(p["name"]);
                    for (const auto &b : p["binaries"]) {
                        const QString bin = str(b);
                        if (bin.startsWith(QLatin1Char('/')) || bin.contains(QStringLiteral("..")))
                            return templateError(sourceName, QStringLiteral("binary path '%1' must be relative to the package root").arg(bin));
                        ep.binaries << bin;
                    }
                    t.image.packages << ep;
                }
            }
        }
        const YAML::Node agent = root["agent"];
        if (agent) {
            if (agent["port_name"])
                t.agentPortName = str(agent["port_name"]);
            if (agent["vsock_port"])
                t.agentVsockPort = agent["vsock_port"].as<quint32>();
            if (agent["ready_timeout_s"])
                t.agentReadyTimeoutS = agent["ready_timeout_s"].as<int>();
            if (t.agentReadyTimeoutS < 1 || t.agentReadyTimeoutS > 3600)
                return templateError(sourceName, QStringLiteral("agent.ready_timeout_s must be 1-3600"));
        }
        t.image.agentPortName = t.agentPortName;
        t.image.agentVsockPort = t.agentVsockPort;
        const YAML::Node qemu = root["qemu"];
        if (qemu && qemu["machine"])
            t.qemuMachine = str(qemu["machine"]);
    } catch (const YAML::Exception &e) {
        return templateError(sourceName, QStringLiteral("bad value: %1").arg(QString::fromStdString(e.what())));
    }
    return t;
}

Core::Expected<VmTemplate> VmTemplate::fromFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("cannot read template %1: %2").arg(path, f.errorString()));
    return fromYaml(f.readAll(), path);
}

Core::Expected<VmTemplate> VmTemplate::load(const QString &nameOrPath)
{
    if (nameOrPath.contains(QLatin1Char('/')) || nameOrPath.endsWith(QLatin1String(".yaml")))
        return fromFile(nameOrPath);
    if (!namePattern().match(nameOrPath).hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("bad template name '%1'").arg(nameOrPath));
    const QStringList dirs = Core::Paths::templateSearchPath();
    for (const QString &dir : dirs) {
        const QString p = QDir(dir).filePath(nameOrPath + QStringLiteral(".yaml"));
        if (QFileInfo::exists(p))
            return fromFile(p);
    }
    return Core::Error(Core::ErrorCode::NotFound,
                       QStringLiteral("no template '%1' (looked in %2)").arg(nameOrPath, dirs.join(QStringLiteral(", "))));
}

QList<VmTemplate> VmTemplate::all()
{
    QList<VmTemplate> out;
    QStringList seen;
    for (const QString &dir : Core::Paths::templateSearchPath()) {
        const QStringList files = QDir(dir).entryList({QStringLiteral("*.yaml")}, QDir::Files, QDir::Name);
        for (const QString &f : files) {
            auto t = fromFile(QDir(dir).filePath(f));
            if (t && !seen.contains(t->name)) {
                seen << t->name;
                out << *t;
            }
        }
    }
    return out;
}

} // namespace Templates
