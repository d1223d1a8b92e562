#include "core/template/vmtemplate.h"

#include "core/paths.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonObject>
#include <QRegularExpression>

#include <yaml-cpp/yaml.h>

namespace Templates {
namespace {

constexpr qsizetype kMaxDesktopPrograms = 8; // one init line each

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

const QRegularExpression &packagePattern()
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9.+-]+")));
    return re;
}

Core::Expected<QStringList> stringList(const YAML::Node &n, const QString &source, const QString &key)
{
    if (!n.IsSequence())
        return templateError(source, QStringLiteral("%1 must be a list").arg(key));
    QStringList out;
    for (const auto &v : n)
        out << str(v);
    return out;
}

// A command baked into the guest's init: one line, no quotes (it is written
// into a shell file in single quotes).
Core::Result checkCommand(const QString &cmd, const QString &source, const QString &key)
{
    if (cmd.trimmed().isEmpty() || cmd.contains(QLatin1Char('\'')) || cmd.contains(QLatin1Char('\n')) || cmd.contains(QLatin1Char('\\')))
        return templateError(source, QStringLiteral("%1 must be one non-empty line without quotes or backslashes").arg(key));
    return {};
}

Core::Result parseRootfs(const YAML::Node &n, RootfsRecipe &r, const QString &source)
{
    if (!n || !n.IsMap())
        return templateError(source, QStringLiteral("image.type rootfs needs an 'image.rootfs' mapping (suite, packages, disk_size_mb)"));
    static const QStringList known = {QStringLiteral("suite"),    QStringLiteral("mirror"), QStringLiteral("variant"),
                                      QStringLiteral("packages"), QStringLiteral("remove"), QStringLiteral("disk_size_mb")};
    for (const auto &kv : n)
        if (!known.contains(str(kv.first)))
            return templateError(source, QStringLiteral("unknown key 'image.rootfs.%1'").arg(str(kv.first)));
    if (n["suite"])
        r.suite = str(n["suite"]);
    static const QRegularExpression suite(QRegularExpression::anchoredPattern(QStringLiteral("[a-z][a-z0-9-]{1,31}")));
    if (!suite.match(r.suite).hasMatch())
        return templateError(source, QStringLiteral("image.rootfs.suite '%1' is not a Debian suite name").arg(r.suite));
    if (n["mirror"])
        r.mirror = str(n["mirror"]);
    if (r.mirror != QLatin1String("auto") && !r.mirror.startsWith(QLatin1String("http://")) && !r.mirror.startsWith(QLatin1String("https://"))
        && !r.mirror.startsWith(QLatin1String("file:/")))
        return templateError(source, QStringLiteral("image.rootfs.mirror must be 'auto' or an http(s):// or file:/ URL, not '%1'").arg(r.mirror));
    if (n["variant"])
        r.variant = str(n["variant"]);
    if (r.variant != QLatin1String("minbase") && r.variant != QLatin1String("buildd"))
        return templateError(source, QStringLiteral("image.rootfs.variant '%1' is not supported (minbase, buildd)").arg(r.variant));
    if (n["packages"]) {
        auto pkgs = stringList(n["packages"], source, QStringLiteral("image.rootfs.packages"));
        if (!pkgs)
            return pkgs.error();
        for (const QString &p : *pkgs)
            if (!packagePattern().match(p).hasMatch())
                return templateError(source, QStringLiteral("image.rootfs.packages: '%1' is not a Debian package name").arg(p));
        r.packages = *pkgs;
    }
    if (n["remove"]) {
        auto paths = stringList(n["remove"], source, QStringLiteral("image.rootfs.remove"));
        if (!paths)
            return paths.error();
        for (const QString &p : *paths) {
            const QString clean = QDir::cleanPath(p);
            if (p.startsWith(QLatin1Char('/')) || clean.isEmpty() || clean == QLatin1String(".") || clean.startsWith(QLatin1String("..")))
                return templateError(source, QStringLiteral("image.rootfs.remove: '%1' must be a path relative to the root, inside it").arg(p));
        }
        r.remove = *paths;
    }
    if (n["disk_size_mb"])
        r.diskSizeMiB = n["disk_size_mb"].as<int>();
    if (r.diskSizeMiB < 256 || r.diskSizeMiB > 1024 * 1024)
        return templateError(source, QStringLiteral("image.rootfs.disk_size_mb must be 256-1048576, not %1").arg(r.diskSizeMiB));
    return {};
}

// desktop.programs and desktop.ready_check: commands baked into the guest's session.
Core::Result parseSessionCommands(const YAML::Node &n, RootfsRecipe &r, const QString &source)
{
    if (n["programs"]) {
        auto programs = stringList(n["programs"], source, QStringLiteral("desktop.programs"));
        if (!programs)
            return programs.error();
        if (programs->size() > kMaxDesktopPrograms)
            return templateError(source, QStringLiteral("desktop.programs lists %1 programs; at most %2").arg(programs->size()).arg(kMaxDesktopPrograms));
        for (qsizetype i = 0; i < programs->size(); ++i)
            if (auto ok = checkCommand(programs->at(i), source, QStringLiteral("desktop.programs[%1]").arg(i)); !ok)
                return ok;
        r.programs = *programs;
    }
    if (n["ready_check"]) {
        r.readyCheck = str(n["ready_check"]);
        if (auto ok = checkCommand(r.readyCheck, source, QStringLiteral("desktop.ready_check")); !ok)
            return ok;
    }
    return {};
}

Core::Result parseDesktop(const YAML::Node &n, VmTemplate &t, const QString &source)
{
    if (!n.IsMap())
        return templateError(source, QStringLiteral("'desktop' must be a mapping"));
    static const QStringList known = {QStringLiteral("geometry"),       QStringLiteral("depth"),    QStringLiteral("display"),  QStringLiteral("vnc_port"),
                                      QStringLiteral("window_manager"), QStringLiteral("terminal"), QStringLiteral("programs"), QStringLiteral("ready_check")};
    for (const auto &kv : n)
        if (!known.contains(str(kv.first)))
            return templateError(source, QStringLiteral("unknown key 'desktop.%1'").arg(str(kv.first)));
    if (!t.image.hasRootDisk())
        return templateError(source, QStringLiteral("'desktop' needs image.type rootfs (the desktop runs from a Debian root filesystem)"));
    DesktopSpec &d = t.desktop;
    d.enabled = true;
    if (n["geometry"]) {
        static const QRegularExpression geometry(QRegularExpression::anchoredPattern(QStringLiteral("([0-9]{3,4})x([0-9]{3,4})")));
        const QString g = str(n["geometry"]);
        const auto m = geometry.match(g);
        if (!m.hasMatch())
            return templateError(source, QStringLiteral("desktop.geometry must be WIDTHxHEIGHT (e.g. 1280x800), not '%1'").arg(g));
        d.width = m.captured(1).toInt();
        d.height = m.captured(2).toInt();
        if (d.width < 320 || d.width > 7680 || d.height < 200 || d.height > 4320)
            return templateError(source, QStringLiteral("desktop.geometry %1 is out of range (320x200 to 7680x4320)").arg(g));
    }
    if (n["depth"])
        d.depth = n["depth"].as<int>();
    if (d.depth != 16 && d.depth != 24 && d.depth != 32)
        return templateError(source, QStringLiteral("desktop.depth must be 16, 24 or 32, not %1").arg(d.depth));
    if (n["display"])
        d.display = n["display"].as<int>();
    if (d.display < 0 || d.display > 63)
        return templateError(source, QStringLiteral("desktop.display must be 0-63, not %1").arg(d.display));
    if (n["vnc_port"]) {
        const int port = n["vnc_port"].as<int>();
        if (port < 1 || port > 65535)
            return templateError(source, QStringLiteral("desktop.vnc_port must be 1-65535, not %1").arg(port));
        d.vncPort = static_cast<quint16>(port);
    }
    RootfsRecipe &r = t.image.rootfs;
    r.windowManager = n["window_manager"] ? str(n["window_manager"]) : QStringLiteral("matchbox-window-manager -use_titlebar no");
    r.terminal = n["terminal"] ? str(n["terminal"]) : QStringLiteral("xterm");
    if (auto ok = checkCommand(r.windowManager, source, QStringLiteral("desktop.window_manager")); !ok)
        return ok;
    if (auto ok = checkCommand(r.terminal, source, QStringLiteral("desktop.terminal")); !ok)
        return ok;
    return parseSessionCommands(n, r, source);
}

// A YAML tree as JSON (scalars as strings), for parsers that take JSON.
QJsonValue yamlToJson(const YAML::Node &n)
{
    if (n.IsSequence()) {
        QJsonArray a;
        for (const auto &v : n)
            a.append(yamlToJson(v));
        return a;
    }
    if (n.IsMap()) {
        QJsonObject o;
        for (const auto &kv : n)
            o.insert(str(kv.first), yamlToJson(kv.second));
        return o;
    }
    if (n.IsScalar())
        return str(n);
    return QJsonValue();
}

// network: {mode, private_network, policy}; the policy as the REST API takes it.
Core::Result parseNetwork(const YAML::Node &n, NetworkSpec &net, const QString &source)
{
    if (!n.IsMap())
        return templateError(source, QStringLiteral("'network' must be a mapping"));
    auto parsed = NetworkSpec::fromJson(yamlToJson(n).toObject());
    if (!parsed)
        return templateError(source, parsed.error().message);
    net = *parsed;
    return {};
}

// aliases: names of the same rules as the template's own name.
Core::Result parseAliases(const YAML::Node &n, VmTemplate &t, const QString &source)
{
    if (!n)
        return {};
    auto aliases = stringList(n, source, QStringLiteral("aliases"));
    if (!aliases)
        return aliases.error();
    for (const QString &a : *aliases) {
        if (!namePattern().match(a).hasMatch())
            return templateError(source, QStringLiteral("alias '%1' must be lowercase letters, digits, '.', '_' or '-'").arg(a));
        if (a == t.name || t.aliases.contains(a))
            return templateError(source, QStringLiteral("alias '%1' is listed twice or is the template's name").arg(a));
        t.aliases << a;
    }
    return {};
}

// name, description, aliases, vcpus and memory_mb; every top-level key must be known.
Core::Result parseBasics(const YAML::Node &root, VmTemplate &t, const QString &source)
{
    static const QStringList knownTop = {QStringLiteral("name"),    QStringLiteral("description"), QStringLiteral("vcpus"),  QStringLiteral("memory_mb"),
                                         QStringLiteral("kernel"),  QStringLiteral("image"),       QStringLiteral("agent"),  QStringLiteral("qemu"),
                                         QStringLiteral("desktop"), QStringLiteral("network"),     QStringLiteral("aliases")};
    for (const auto &kv : root) {
        const QString key = str(kv.first);
        if (!knownTop.contains(key))
            return templateError(source, QStringLiteral("unknown key '%1'").arg(key));
    }
    if (!root["name"])
        return templateError(source, QStringLiteral("'name' is required"));
    t.name = str(root["name"]);
    if (!namePattern().match(t.name).hasMatch())
        return templateError(source, QStringLiteral("name '%1' must be lowercase letters, digits, '.', '_' or '-'").arg(t.name));
    if (root["description"])
        t.description = str(root["description"]);
    if (auto ok = parseAliases(root["aliases"], t, source); !ok)
        return ok;
    if (root["vcpus"])
        t.vcpus = root["vcpus"].as<int>();
    if (root["memory_mb"])
        t.memoryMiB = root["memory_mb"].as<int>();
    if (t.vcpus < 1 || t.vcpus > 64)
        return templateError(source, QStringLiteral("vcpus must be 1-64, not %1").arg(t.vcpus));
    if (t.memoryMiB < 64 || t.memoryMiB > 65536)
        return templateError(source, QStringLiteral("memory_mb must be 64-65536, not %1").arg(t.memoryMiB));
    return {};
}

Core::Result parseKernel(const YAML::Node &kernel, VmTemplate &t, const QString &source)
{
    if (!kernel || !kernel.IsMap() || !kernel["package"])
        return templateError(source, QStringLiteral("'kernel.package' is required"));
    t.image.kernelPackage = str(kernel["package"]);
    if (kernel["cmdline"])
        t.kernelCmdline = str(kernel["cmdline"]);
    return {};
}

Core::Result parseExtraPackages(const YAML::Node &packages, ImageRecipe &recipe, const QString &source)
{
    if (!packages.IsSequence())
        return templateError(source, QStringLiteral("image.packages must be a list"));
    for (const auto &p : packages) {
        ExtraPackage ep;
        if (!p.IsMap() || !p["name"] || !p["binaries"] || !p["binaries"].IsSequence())
            return templateError(source, QStringLiteral("each image.packages entry needs 'name' and a 'binaries' list"));
        ep.name = str(p["name"]);
        for (const auto &b : p["binaries"]) {
            const QString bin = str(b);
            if (bin.startsWith(QLatin1Char('/')) || bin.contains(QStringLiteral("..")))
                return templateError(source, QStringLiteral("binary path '%1' must be relative to the package root").arg(bin));
            ep.binaries << bin;
        }
        recipe.packages << ep;
    }
    return {};
}

// The optional 'image' mapping: type, rootfs, busybox, modules, packages.
Core::Result parseImage(const YAML::Node &image, ImageRecipe &recipe, const QString &source)
{
    if (!image)
        return {};
    if (!image.IsMap())
        return templateError(source, QStringLiteral("'image' must be a mapping"));
    if (image["type"])
        recipe.type = str(image["type"]);
    if (recipe.type != QLatin1String("initramfs") && recipe.type != QLatin1String("rootfs"))
        return templateError(source, QStringLiteral("image.type '%1' is not supported (initramfs, rootfs)").arg(recipe.type));
    if (recipe.hasRootDisk()) {
        if (auto ok = parseRootfs(image["rootfs"], recipe.rootfs, source); !ok)
            return ok;
    } else if (image["rootfs"]) {
        return templateError(source, QStringLiteral("image.rootfs needs image.type rootfs"));
    }
    if (image["busybox"])
        recipe.busyboxPackage = str(image["busybox"]);
    if (image["modules"]) {
        if (!image["modules"].IsSequence())
            return templateError(source, QStringLiteral("image.modules must be a list"));
        for (const auto &m : image["modules"])
            recipe.modules << str(m);
    }
    if (image["packages"])
        return parseExtraPackages(image["packages"], recipe, source);
    return {};
}

// The initramfs mounts the root disk: it needs the block driver and the filesystem.
Core::Result checkRootDiskModules(const ImageRecipe &recipe, const QString &source)
{
    if (!recipe.hasRootDisk())
        return {};
    for (const char *m : {"virtio_pci", "virtio_blk", "ext4"})
        if (!recipe.modules.contains(QLatin1String(m)))
            return templateError(
                source, QStringLiteral("image.modules must include %1 for a rootfs image (the initramfs mounts the root disk with it)").arg(QLatin1String(m)));
    return {};
}

// The optional 'agent' mapping; the image recipe gets the agent's channels.
Core::Result parseAgent(const YAML::Node &agent, VmTemplate &t, const QString &source)
{
    if (agent) {
        if (agent["port_name"])
            t.agentPortName = str(agent["port_name"]);
        if (agent["vsock_port"])
            t.agentVsockPort = agent["vsock_port"].as<quint32>();
        if (agent["ready_timeout_s"])
            t.agentReadyTimeoutS = agent["ready_timeout_s"].as<int>();
        if (t.agentReadyTimeoutS < 1 || t.agentReadyTimeoutS > 3600)
            return templateError(source, QStringLiteral("agent.ready_timeout_s must be 1-3600"));
    }
    t.image.agentPortName = t.agentPortName;
    t.image.agentVsockPort = t.agentVsockPort;
    return {};
}

// Every section of a template in order; YAML conversion errors propagate as exceptions.
Core::Result parseSections(const YAML::Node &root, VmTemplate &t, const QString &source)
{
    if (auto ok = parseBasics(root, t, source); !ok)
        return ok;
    if (auto ok = parseKernel(root["kernel"], t, source); !ok)
        return ok;
    if (auto ok = parseImage(root["image"], t.image, source); !ok)
        return ok;
    if (auto ok = checkRootDiskModules(t.image, source); !ok)
        return ok;
    if (root["desktop"])
        if (auto ok = parseDesktop(root["desktop"], t, source); !ok)
            return ok;
    if (auto ok = parseAgent(root["agent"], t, source); !ok)
        return ok;
    if (root["network"])
        if (auto ok = parseNetwork(root["network"], t.network, source); !ok)
            return ok;
    const YAML::Node qemu = root["qemu"];
    if (qemu && qemu["machine"])
        t.qemuMachine = str(qemu["machine"]);
    return {};
}

} // namespace

QJsonObject RootfsRecipe::toJson() const
{
    QJsonObject json{{QStringLiteral("suite"), suite},
                     {QStringLiteral("mirror"), mirror},
                     {QStringLiteral("variant"), variant},
                     {QStringLiteral("packages"), QJsonArray::fromStringList(packages)},
                     {QStringLiteral("remove"), QJsonArray::fromStringList(remove)},
                     {QStringLiteral("disk_size_mb"), diskSizeMiB},
                     {QStringLiteral("window_manager"), windowManager},
                     {QStringLiteral("terminal"), terminal}};
    // Only when set: the cache keys of recipes without them stay what they were.
    if (!programs.isEmpty())
        json.insert(QStringLiteral("programs"), QJsonArray::fromStringList(programs));
    if (!readyCheck.isEmpty())
        json.insert(QStringLiteral("ready_check"), readyCheck);
    return json;
}

QString DesktopSpec::kernelArgs() const
{
    if (!enabled)
        return {};
    return QStringLiteral("mvs.desktop=%1x%2x%3 mvs.display=%4 mvs.vnc_port=%5").arg(width).arg(height).arg(depth).arg(display).arg(vncPort);
}

QJsonObject ImageRecipe::toJson() const
{
    QJsonArray pkgs;
    for (const ExtraPackage &p : packages)
        pkgs.append(QJsonObject{{QStringLiteral("name"), p.name}, {QStringLiteral("binaries"), QJsonArray::fromStringList(p.binaries)}});
    QJsonObject json{{QStringLiteral("kernel_package"), kernelPackage},
                     {QStringLiteral("type"), type},
                     {QStringLiteral("busybox"), busyboxPackage},
                     {QStringLiteral("modules"), QJsonArray::fromStringList(modules)},
                     {QStringLiteral("packages"), pkgs},
                     {QStringLiteral("agent_port_name"), agentPortName},
                     {QStringLiteral("agent_vsock_port"), static_cast<qint64>(agentVsockPort)}};
    // Only rootfs recipes carry this: initramfs cache keys stay what they were.
    if (hasRootDisk())
        json.insert(QStringLiteral("rootfs"), rootfs.toJson());
    return json;
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

    VmTemplate t;
    t.sourcePath = sourceName;
    try {
        if (auto ok = parseSections(root, t, sourceName); !ok)
            return ok.error();
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
    for (const VmTemplate &t : all())
        if (t.aliases.contains(nameOrPath))
            return t;
    return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no template '%1' (looked in %2)").arg(nameOrPath, dirs.join(QStringLiteral(", "))));
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
