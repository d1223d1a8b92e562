#include "core/image/imagebuilder.h"

#include "core/image/cpiowriter.h"
#include "core/image/kernelmodules.h"
#include "core/image/rootfsbuilder.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/workerpool.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLockFile>
#include <QPointer>
#include <QProcess>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTemporaryDir>

#include <functional>

namespace Image {
namespace {

constexpr const char *kManifest = "manifest.json";

Core::Error buildError(const QString &m)
{
    return Core::Error(Core::ErrorCode::ImageBuild, m);
}

QString imagesDir()
{
    return Core::Paths::cacheDir() + QStringLiteral("/images");
}

Core::Expected<QByteArray> sha256OfFile(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(&f);
    return h.result().toHex();
}

// Runs a tool to completion on the calling (worker) thread.
Core::Expected<QByteArray> runTool(const QString &program, const QStringList &args, const QString &workDir = QString())
{
    QProcess p;
    p.setProgram(program);
    p.setArguments(args);
    if (!workDir.isEmpty())
        p.setWorkingDirectory(workDir);
    p.setProcessChannelMode(QProcess::SeparateChannels);
    p.start();
    if (!p.waitForStarted())
        return Core::Error(Core::ErrorCode::BinaryMissing,
                           QStringLiteral("cannot run %1 (%2): the image builder needs apt-get and dpkg-deb (Debian)").arg(program, p.errorString()));
    if (!p.waitForFinished(ImageBuilder::kToolTimeoutMs)) {
        p.kill();
        p.waitForFinished();
        return buildError(QStringLiteral("%1 %2 took too long").arg(program, args.join(QLatin1Char(' '))));
    }
    const QByteArray out = p.readAllStandardOutput();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        const QString err = QString::fromLocal8Bit(p.readAllStandardError()).trimmed();
        return buildError(QStringLiteral("%1 %2 failed: %3").arg(program, args.join(QLatin1Char(' ')), err.right(400)));
    }
    return out;
}

// apt-get download <pkg> into the deb cache; returns the .deb path.
Core::Expected<QString> downloadPackage(const QString &package)
{
    static const QRegularExpression valid(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9.+-]+(=[A-Za-z0-9.+:~-]+)?")));
    if (!valid.match(package).hasMatch())
        return buildError(QStringLiteral("'%1' is not a Debian package name").arg(package));
    const QString debs = Core::Paths::cacheDir() + QStringLiteral("/debs");
    if (auto ok = Core::Paths::ensurePrivateDir(debs); !ok)
        return ok.error();
    const QString bare = package.section(QLatin1Char('='), 0, 0);
    auto r = runTool(QStringLiteral("apt-get"), {QStringLiteral("download"), QStringLiteral("-q"), package}, debs);
    if (!r) {
        Core::Error e = r.error();
        if (e.message.contains(QLatin1String("Unable to locate package")) || e.message.contains(QLatin1String("has no installation candidate")))
            e.message += QStringLiteral(" (run 'apt-get update' first)");
        return e;
    }
    // The newest matching file (apt-get download names it <pkg>_<version>_<arch>.deb).
    const QFileInfoList files = QDir(debs).entryInfoList({bare + QStringLiteral("_*.deb")}, QDir::Files, QDir::Time);
    if (files.isEmpty())
        return buildError(QStringLiteral("apt-get download %1 produced no .deb file").arg(package));
    return files.first().absoluteFilePath();
}

Core::Result extractPackage(const QString &deb, const QString &dest)
{
    QDir().mkpath(dest);
    auto r = runTool(QStringLiteral("dpkg-deb"), {QStringLiteral("-x"), deb, dest});
    if (!r)
        return r.error();
    return {};
}

QString findKernel(const QString &root)
{
    const QStringList k = QDir(root + QStringLiteral("/boot")).entryList({QStringLiteral("vmlinuz-*")}, QDir::Files);
    return k.isEmpty() ? QString() : root + QStringLiteral("/boot/") + k.first();
}

QString initScript()
{
    // The marker is a shell builtin (no fork): the benchmark's floor is the
    // moment it appears. Everything else is the agent's --init-setup.
    return QStringLiteral("#!/bin/sh\n"
                          "# MicroVM Sandbox guest init, written by the image builder.\n"
                          "echo \"mvs-init: reached\"\n"
                          "exec /usr/sbin/microvm-agent --init-setup\n");
}

QString inittab(const Templates::ImageRecipe &recipe)
{
    return QStringLiteral(
               "::sysinit:/etc/rc.sysinit\n"
               "::respawn:/usr/sbin/microvm-agent --auto --port-name %1 --vsock-port %2\n"
               "::ctrlaltdel:/sbin/reboot -f\n"
               "::shutdown:/bin/sync\n")
        .arg(recipe.agentPortName)
        .arg(recipe.agentVsockPort);
}

// Shared libraries a dynamically linked binary needs, per the host's ldd.
Core::Expected<QStringList> sharedLibraries(const QString &binary)
{
    auto out = runTool(QStringLiteral("ldd"), {binary});
    if (!out) {
        if (out.error().message.contains(QLatin1String("not a dynamic executable")))
            return QStringList();
        return out.error();
    }
    QStringList libs;
    for (const QByteArray &raw : out->split('\n')) {
        const QString line = QString::fromLocal8Bit(raw).trimmed();
        if (line.isEmpty() || line.startsWith(QLatin1String("linux-vdso")))
            continue;
        if (line.contains(QLatin1String("not found")))
            return buildError(QStringLiteral("%1 needs %2, which this host does not have: install the Debian package that provides it")
                                  .arg(binary, line.section(QLatin1Char(' '), 0, 0)));
        const qsizetype arrow = line.indexOf(QLatin1String("=> "));
        const QString path = (arrow >= 0 ? line.mid(arrow + 3) : line).section(QLatin1Char(' '), 0, 0);
        if (path.startsWith(QLatin1Char('/')))
            libs << path;
    }
    return libs;
}

Core::Expected<GuestImage> buildImage(const Templates::ImageRecipe &recipe, const QString &agentBinary, const QString &key,
                                     const std::atomic<bool> &cancel, const std::function<void(const QString &, int)> &report);

} // namespace

ImageBuilder::ImageBuilder(QObject *parent)
    : QObject(parent)
{
}

ImageBuilder::~ImageBuilder()
{
    *m_cancel = true;
}

Core::Expected<QString> ImageBuilder::cacheKey(const Templates::ImageRecipe &recipe, const QString &agentBinary)
{
    if (agentBinary.isEmpty())
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("the guest agent binary (microvm-agent) was not found; build it or set MVS_AGENT_BINARY"));
    auto agentHash = sha256OfFile(agentBinary);
    if (!agentHash)
        return agentHash.error();
    QJsonObject key = recipe.toJson();
    key.insert(QStringLiteral("agent_sha256"), QString::fromLatin1(*agentHash));
    key.insert(QStringLiteral("builder"), kBuilderVersion);
    if (recipe.hasRootDisk()) {
        key.insert(QStringLiteral("root_disk"), RootfsBuilder::diskKey(recipe)); // includes its builder version
        key.insert(QStringLiteral("initramfs_init"),
                   QString::fromLatin1(QCryptographicHash::hash(RootfsBuilder::initramfsInit().toUtf8(), QCryptographicHash::Sha256).toHex()));
    }
    const QByteArray canonical = QJsonDocument(key).toJson(QJsonDocument::Compact);
    return QString::fromLatin1(QCryptographicHash::hash(canonical, QCryptographicHash::Sha256).toHex().left(32));
}

Core::Expected<GuestImage> ImageBuilder::cached(const Templates::ImageRecipe &recipe, const QString &agentBinary)
{
    auto key = cacheKey(recipe, agentBinary);
    if (!key)
        return key.error();
    const QString dir = imagesDir() + QLatin1Char('/') + *key;
    QFile manifest(dir + QLatin1Char('/') + QLatin1String(kManifest));
    if (!manifest.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("image %1 is not built").arg(*key));
    const QJsonObject m = QJsonDocument::fromJson(manifest.readAll()).object();
    GuestImage img{*key, dir, dir + QStringLiteral("/vmlinuz"), dir + QStringLiteral("/initramfs.cpio"),
                   m.value(QStringLiteral("kernel_version")).toString(), QString()};
    if (!QFileInfo::exists(img.kernelPath) || !QFileInfo::exists(img.initramfsPath))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("image %1 is incomplete").arg(*key));
    if (recipe.hasRootDisk()) {
        auto disk = RootfsBuilder::cached(recipe);
        if (!disk)
            return disk.error();
        img.rootDiskPath = disk->path;
    }
    return img;
}

Core::Future<GuestImage> ImageBuilder::ensure(const Templates::ImageRecipe &recipe, const QString &agentBinary)
{
    auto key = cacheKey(recipe, agentBinary);
    if (!key)
        return Core::readyFuture<GuestImage>(key.error());
    if (auto img = cached(recipe, agentBinary))
        return Core::readyFuture<GuestImage>(img);

    *m_cancel = false;
    QPointer<ImageBuilder> self(this);
    auto report = [self](const QString &step, int percent) {
        Core::Log::image()->info("[{}%] {}", percent, step.toStdString());
        QMetaObject::invokeMethod(QCoreApplication::instance(), [self, step, percent]() {
            if (self)
                Q_EMIT self->progress(step, percent);
        }, Qt::QueuedConnection);
    };
    return Core::runInThread<GuestImage>(
        [recipe, agentBinary, k = *key, cancel = m_cancel, report]() { return buildImage(recipe, agentBinary, k, *cancel, report); });
}

namespace {

Core::Expected<GuestImage> buildImage(const Templates::ImageRecipe &recipe, const QString &agentBinary, const QString &key,
                                     const std::atomic<bool> &cancel, const std::function<void(const QString &, int)> &report)
{
    const QString images = imagesDir();
    if (auto ok = Core::Paths::ensurePrivateDir(images); !ok)
        return ok.error();
    QLockFile lock(images + QLatin1Char('/') + key + QStringLiteral(".lock"));
    lock.setStaleLockTime(0);
    report(QStringLiteral("Waiting for other builds of this image"), 0);
    if (!lock.tryLock(ImageBuilder::kLockTimeoutMs))
        return buildError(QStringLiteral("another process holds the build lock of image %1").arg(key));
    if (auto img = ImageBuilder::cached(recipe, agentBinary))
        return img; // built by another process meanwhile

    QTemporaryDir work(images + QStringLiteral("/.build-") + key + QStringLiteral("-XXXXXX"));
    if (!work.isValid())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a build directory under %1").arg(images));
    auto cancelled = [&cancel]() { return cancel.load(); };
    const Core::Error cancelError(Core::ErrorCode::Cancelled, QStringLiteral("image build cancelled"));

    // 0. The root disk (slow, cached on its own key: a new agent does not rebuild it).
    if (recipe.hasRootDisk()) {
        auto disk = RootfsBuilder::ensure(recipe, cancel, [&report](const QString &step, int percent) { report(step, percent * 6 / 10); });
        if (!disk)
            return disk.error();
        if (cancelled())
            return cancelError;
    }
    const int base = recipe.hasRootDisk() ? 60 : 0; // progress of the rest, scaled after the disk
    const auto at = [base](int percent) { return base + percent * (100 - base) / 100; };

    // 1. Kernel: follow a metapackage to the package that has /boot/vmlinuz-*.
    report(QStringLiteral("Downloading kernel package %1").arg(recipe.kernelPackage), at(5));
    QString kernelPkg = recipe.kernelPackage;
    QString kernelRoot, kernelFile;
    for (int depth = 0; depth < 4 && kernelFile.isEmpty(); ++depth) {
        auto deb = downloadPackage(kernelPkg);
        if (!deb)
            return deb.error();
        if (cancelled())
            return cancelError;
        kernelRoot = work.filePath(QStringLiteral("kernel-%1").arg(depth));
        report(QStringLiteral("Unpacking %1").arg(QFileInfo(*deb).fileName()), at(20));
        if (auto ok = extractPackage(*deb, kernelRoot); !ok)
            return ok.error();
        kernelFile = findKernel(kernelRoot);
        if (kernelFile.isEmpty()) {
            auto deps = runTool(QStringLiteral("dpkg-deb"), {QStringLiteral("-f"), *deb, QStringLiteral("Depends")});
            if (!deps)
                return deps.error();
            static const QRegularExpression imageDep(QStringLiteral("(linux-image-[A-Za-z0-9.+-]+)"));
            const auto m = imageDep.match(QString::fromLatin1(*deps));
            if (!m.hasMatch())
                return buildError(QStringLiteral("package %1 has no kernel and depends on no linux-image package").arg(kernelPkg));
            kernelPkg = m.captured(1);
        }
    }
    if (kernelFile.isEmpty())
        return buildError(QStringLiteral("no /boot/vmlinuz-* found following %1").arg(recipe.kernelPackage));
    const QString kernelVersion = QFileInfo(kernelFile).fileName().mid(QStringLiteral("vmlinuz-").size());
    const QString moduleDir = kernelRoot + QStringLiteral("/lib/modules/") + kernelVersion;

    report(QStringLiteral("Resolving kernel modules"), at(35));
    QStringList moduleOrder;
    if (!recipe.modules.isEmpty()) {
        auto km = KernelModules::scan(moduleDir);
        if (!km)
            return km.error();
        auto order = km->loadOrder(recipe.modules);
        if (!order)
            return order.error();
        moduleOrder = *order;
    }

    // 2. Busybox.
    report(QStringLiteral("Downloading %1").arg(recipe.busyboxPackage), at(45));
    auto bbDeb = downloadPackage(recipe.busyboxPackage);
    if (!bbDeb)
        return bbDeb.error();
    const QString bbRoot = work.filePath(QStringLiteral("busybox"));
    if (auto ok = extractPackage(*bbDeb, bbRoot); !ok)
        return ok.error();
    const QString busybox = bbRoot + QStringLiteral("/bin/busybox");
    if (!QFileInfo(busybox).isExecutable())
        return buildError(QStringLiteral("package %1 has no bin/busybox").arg(recipe.busyboxPackage));
    auto applets = runTool(busybox, {QStringLiteral("--list-full")});
    if (!applets)
        return applets.error();
    if (cancelled())
        return cancelError;

    // 3. Extra packages: their binaries and the libraries those need.
    struct Copy {
        QString guestPath;
        QString hostPath;
        quint32 mode;
    };
    QList<Copy> extra;
    int pkgIndex = 0;
    for (const Templates::ExtraPackage &pkg : recipe.packages) {
        report(QStringLiteral("Adding package %1").arg(pkg.name), at(55));
        auto deb = downloadPackage(pkg.name);
        if (!deb)
            return deb.error();
        const QString root = work.filePath(QStringLiteral("pkg-%1").arg(pkgIndex++));
        if (auto ok = extractPackage(*deb, root); !ok)
            return ok.error();
        for (const QString &bin : pkg.binaries) {
            const QString host = root + QLatin1Char('/') + bin;
            if (!QFileInfo(host).isFile())
                return buildError(QStringLiteral("package %1 has no %2").arg(pkg.name, bin));
            extra << Copy{bin, host, 0755};
            auto libs = sharedLibraries(host);
            if (!libs)
                return libs.error();
            for (const QString &lib : *libs)
                extra << Copy{lib.mid(1), lib, 0755};
        }
    }

    // 4. The initramfs.
    report(QStringLiteral("Writing the initramfs"), at(70));
    const QString cpioPath = work.filePath(QStringLiteral("initramfs.cpio"));
    CpioWriter cpio(cpioPath);
    auto check = [](const Core::Result &r) { return r.hasValue(); };
    Core::Result status = cpio.open();
    if (!status)
        return status.error();
    for (const char *d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "var/log", "mnt", "lib/modules"})
        if (!check(status = cpio.addDirectory(QString::fromLatin1(d))))
            return status.error();
    if (!check(status = cpio.addCharDevice(QStringLiteral("dev/console"), 0600, 5, 1))
        || !check(status = cpio.addCharDevice(QStringLiteral("dev/null"), 0666, 1, 3))
        || !check(status = cpio.addFileFrom(QStringLiteral("bin/busybox"), busybox, 0755)))
        return status.error();
    // Busybox init from the initramfs, or a script that switches into the root disk.
    status = recipe.hasRootDisk() ? cpio.addFile(QStringLiteral("init"), RootfsBuilder::initramfsInit().toUtf8(), 0755)
                                  : cpio.addSymlink(QStringLiteral("init"), QStringLiteral("/bin/busybox"));
    if (!check(status) || (recipe.hasRootDisk() && !check(status = cpio.addDirectory(QStringLiteral("newroot")))))
        return status.error();
    for (const QByteArray &line : applets->split('\n')) {
        const QString applet = QString::fromLatin1(line.trimmed());
        if (applet.isEmpty() || applet == QLatin1String("bin/busybox"))
            continue;
        if (!check(status = cpio.addSymlink(applet, QStringLiteral("/bin/busybox"))))
            return status.error();
    }
    QStringList modulesList;
    for (const QString &rel : moduleOrder) {
        const QString guestRel = kernelVersion + QLatin1Char('/') + rel;
        if (!check(status = cpio.addFileFrom(QStringLiteral("lib/modules/") + guestRel, moduleDir + QLatin1Char('/') + rel, 0644)))
            return status.error();
        modulesList << guestRel;
    }
    for (const Copy &c : extra)
        if (!check(status = cpio.addFileFrom(c.guestPath, c.hostPath, c.mode)))
            return status.error();
    if (!check(status = cpio.addFileFrom(QStringLiteral("usr/sbin/microvm-agent"), agentBinary, 0755))
        || !check(status = cpio.addFile(QStringLiteral("etc/rc.sysinit"), initScript().toUtf8(), 0755))
        || !check(status = cpio.addFile(QStringLiteral("etc/inittab"), inittab(recipe).toUtf8(), 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/modules"), (modulesList.join(QLatin1Char('\n')) + QLatin1Char('\n')).toUtf8(), 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/group"), "root:x:0:\n", 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/mvs-image.json"), QJsonDocument(recipe.toJson()).toJson(), 0644))
        || !check(status = cpio.finish()))
        return status.error();
    if (cancelled())
        return cancelError;

    // 5. Publish atomically: copy the kernel, write the manifest, rename.
    report(QStringLiteral("Publishing image %1").arg(key), at(90));
    if (!QFile::copy(kernelFile, work.filePath(QStringLiteral("vmlinuz"))))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot copy the kernel into %1").arg(work.path()));
    QJsonObject manifest = recipe.toJson();
    manifest.insert(QStringLiteral("key"), key);
    manifest.insert(QStringLiteral("kernel_version"), kernelVersion);
    manifest.insert(QStringLiteral("kernel_deb_package"), kernelPkg);
    manifest.insert(QStringLiteral("modules_loaded"), QJsonArray::fromStringList(modulesList));
    manifest.insert(QStringLiteral("builder"), ImageBuilder::kBuilderVersion);
    {
        QSaveFile mf(work.filePath(QLatin1String(kManifest)));
        if (!mf.open(QIODevice::WriteOnly) || mf.write(QJsonDocument(manifest).toJson()) < 0 || !mf.commit())
            return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the image manifest"));
    }
    // Drop the unpacked packages, keep only the image files.
    for (const QString &entry : QDir(work.path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        QDir(work.filePath(entry)).removeRecursively();
    const QString final = images + QLatin1Char('/') + key;
    QDir(final).removeRecursively(); // an incomplete leftover without a manifest
    if (!QDir().rename(work.path(), final))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot move the image into %1").arg(final));
    work.setAutoRemove(false);
    report(QStringLiteral("Image ready"), 100);
    return ImageBuilder::cached(recipe, agentBinary);
}

} // namespace

} // namespace Image
