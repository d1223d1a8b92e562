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
#include <memory>

namespace Image {
namespace {

constexpr const char *kManifest = "manifest.json";

Core::Error buildError(const QString &m)
{
    return Core::Error(Core::ErrorCode::ImageBuild, m);
}

} // namespace

QString ImageBuilder::imagesDir()
{
    return Core::Paths::cacheDir() + QStringLiteral("/images");
}

namespace {

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
    return QStringLiteral("::sysinit:/etc/rc.sysinit\n"
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

// One build of one image, on a worker thread: a flat sequence of steps that
// share what they found on this object. Holds the build lock while it lives.
class ImageBuild {
public:
    using Report = std::function<void(const QString &, int)>;

    ImageBuild(const Templates::ImageRecipe &recipe, const QString &agentBinary, const QString &key, const std::atomic<bool> &cancel, const Report &report)
        : m_recipe(recipe)
        , m_agentBinary(agentBinary)
        , m_key(key)
        , m_cancel(cancel)
        , m_report(report)
        , m_images(ImageBuilder::imagesDir())
        , m_lock(m_images + QLatin1Char('/') + key + QStringLiteral(".lock"))
    {
    }

    Core::Expected<GuestImage> run();

private:
    // A file the initramfs gets from the host.
    struct Copy {
        QString guestPath;
        QString hostPath;
        quint32 mode;
    };
    using Step = Core::Result (ImageBuild::*)();

    Core::Result lock();
    Core::Result makeWorkDir();
    Core::Result buildRootDisk();
    Core::Result fetchKernel();
    Core::Result followKernelDependency(const QString &deb);
    Core::Result resolveModules();
    Core::Result fetchBusybox();
    Core::Result fetchExtraPackages();
    Core::Result addPackageBinaries(const Templates::ExtraPackage &pkg, const QString &root);
    Core::Result writeInitramfs();
    Core::Result writeSkeleton(CpioWriter &cpio);
    Core::Result writeApplets(CpioWriter &cpio);
    Core::Result writeModulesAndExtras(CpioWriter &cpio);
    Core::Result writeConfiguration(CpioWriter &cpio);
    Core::Result copyKernel();
    Core::Result writeManifest();
    Core::Result moveIntoPlace();

    Core::Result checkCancelled() const;
    // Progress of the steps after the root disk, scaled behind it.
    int at(int percent) const;

    const Templates::ImageRecipe &m_recipe;
    const QString &m_agentBinary;
    const QString &m_key;
    const std::atomic<bool> &m_cancel;
    const Report &m_report;
    const QString m_images;
    QLockFile m_lock;
    std::unique_ptr<QTemporaryDir> m_work;

    QString m_kernelPkg;
    QString m_kernelRoot;
    QString m_kernelFile;
    QString m_kernelVersion;
    QString m_moduleDir;
    QStringList m_moduleOrder;
    QString m_busybox;
    QByteArray m_applets;
    QList<Copy> m_extra;
    QStringList m_modulesList;
};

} // namespace

ImageBuilder::ImageBuilder(QObject *parent)
    : QObject(parent)
{
}

ImageBuilder::~ImageBuilder()
{
    *m_cancel = true;
}

QByteArray ImageBuilder::codeRunner()
{
    QFile f(QStringLiteral(":/guest/mvs-code-runner"));
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
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
    key.insert(QStringLiteral("code_runner_sha256"), QString::fromLatin1(QCryptographicHash::hash(codeRunner(), QCryptographicHash::Sha256).toHex()));
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
    GuestImage img{
        *key, dir, dir + QStringLiteral("/vmlinuz"), dir + QStringLiteral("/initramfs.cpio"), m.value(QStringLiteral("kernel_version")).toString(), QString()};
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
        QMetaObject::invokeMethod(
            QCoreApplication::instance(),
            [self, step, percent]() {
                if (self)
                    Q_EMIT self->progress(step, percent);
            },
            Qt::QueuedConnection);
    };
    return Core::runInThread<GuestImage>(
        [recipe, agentBinary, k = *key, cancel = m_cancel, report]() { return ImageBuild(recipe, agentBinary, k, *cancel, report).run(); });
}

namespace {

Core::Expected<GuestImage> ImageBuild::run()
{
    if (auto ok = lock(); !ok)
        return ok.error();
    if (auto img = ImageBuilder::cached(m_recipe, m_agentBinary))
        return img; // built by another process meanwhile
    static constexpr Step kSteps[] = {
        &ImageBuild::makeWorkDir,        &ImageBuild::buildRootDisk,  &ImageBuild::fetchKernel, &ImageBuild::resolveModules, &ImageBuild::fetchBusybox,
        &ImageBuild::fetchExtraPackages, &ImageBuild::writeInitramfs, &ImageBuild::copyKernel,  &ImageBuild::writeManifest,  &ImageBuild::moveIntoPlace,
    };
    for (const Step step : kSteps) {
        if (auto ok = (this->*step)(); !ok)
            return ok.error();
    }
    m_report(QStringLiteral("Image ready"), 100);
    return ImageBuilder::cached(m_recipe, m_agentBinary);
}

Core::Result ImageBuild::lock()
{
    if (auto ok = Core::Paths::ensurePrivateDir(m_images); !ok)
        return ok.error();
    m_lock.setStaleLockTime(0);
    m_report(QStringLiteral("Waiting for other builds of this image"), 0);
    if (!m_lock.tryLock(ImageBuilder::kLockTimeoutMs))
        return buildError(QStringLiteral("another process holds the build lock of image %1").arg(m_key));
    return {};
}

Core::Result ImageBuild::makeWorkDir()
{
    m_work = std::make_unique<QTemporaryDir>(m_images + QStringLiteral("/.build-") + m_key + QStringLiteral("-XXXXXX"));
    if (!m_work->isValid())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a build directory under %1").arg(m_images));
    return {};
}

Core::Result ImageBuild::checkCancelled() const
{
    if (m_cancel.load())
        return Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("image build cancelled"));
    return {};
}

int ImageBuild::at(int percent) const
{
    const int base = m_recipe.hasRootDisk() ? 60 : 0;
    return base + percent * (100 - base) / 100;
}

// The root disk: slow, cached on its own key (a new agent does not rebuild it).
Core::Result ImageBuild::buildRootDisk()
{
    if (!m_recipe.hasRootDisk())
        return {};
    auto disk = RootfsBuilder::ensure(m_recipe, m_cancel, [this](const QString &step, int percent) { m_report(step, percent * 6 / 10); });
    if (!disk)
        return disk.error();
    return checkCancelled();
}

// Follows a metapackage to the package that has /boot/vmlinuz-*.
Core::Result ImageBuild::fetchKernel()
{
    m_report(QStringLiteral("Downloading kernel package %1").arg(m_recipe.kernelPackage), at(5));
    m_kernelPkg = m_recipe.kernelPackage;
    for (int depth = 0; depth < 4 && m_kernelFile.isEmpty(); ++depth) {
        auto deb = downloadPackage(m_kernelPkg);
        if (!deb)
            return deb.error();
        if (auto ok = checkCancelled(); !ok)
            return ok;
        m_kernelRoot = m_work->filePath(QStringLiteral("kernel-%1").arg(depth));
        m_report(QStringLiteral("Unpacking %1").arg(QFileInfo(*deb).fileName()), at(20));
        if (auto ok = extractPackage(*deb, m_kernelRoot); !ok)
            return ok.error();
        m_kernelFile = findKernel(m_kernelRoot);
        if (m_kernelFile.isEmpty()) {
            if (auto ok = followKernelDependency(*deb); !ok)
                return ok;
        }
    }
    if (m_kernelFile.isEmpty())
        return buildError(QStringLiteral("no /boot/vmlinuz-* found following %1").arg(m_recipe.kernelPackage));
    m_kernelVersion = QFileInfo(m_kernelFile).fileName().mid(QStringLiteral("vmlinuz-").size());
    m_moduleDir = m_kernelRoot + QStringLiteral("/lib/modules/") + m_kernelVersion;
    return {};
}

// A package without a kernel: the next one to try is the linux-image it depends on.
Core::Result ImageBuild::followKernelDependency(const QString &deb)
{
    auto deps = runTool(QStringLiteral("dpkg-deb"), {QStringLiteral("-f"), deb, QStringLiteral("Depends")});
    if (!deps)
        return deps.error();
    static const QRegularExpression imageDep(QStringLiteral("(linux-image-[A-Za-z0-9.+-]+)"));
    const auto m = imageDep.match(QString::fromLatin1(*deps));
    if (!m.hasMatch())
        return buildError(QStringLiteral("package %1 has no kernel and depends on no linux-image package").arg(m_kernelPkg));
    m_kernelPkg = m.captured(1);
    return {};
}

Core::Result ImageBuild::resolveModules()
{
    m_report(QStringLiteral("Resolving kernel modules"), at(35));
    if (m_recipe.modules.isEmpty())
        return {};
    auto km = KernelModules::scan(m_moduleDir);
    if (!km)
        return km.error();
    auto order = km->loadOrder(m_recipe.modules);
    if (!order)
        return order.error();
    m_moduleOrder = *order;
    return {};
}

Core::Result ImageBuild::fetchBusybox()
{
    m_report(QStringLiteral("Downloading %1").arg(m_recipe.busyboxPackage), at(45));
    auto bbDeb = downloadPackage(m_recipe.busyboxPackage);
    if (!bbDeb)
        return bbDeb.error();
    const QString bbRoot = m_work->filePath(QStringLiteral("busybox"));
    if (auto ok = extractPackage(*bbDeb, bbRoot); !ok)
        return ok.error();
    m_busybox = bbRoot + QStringLiteral("/bin/busybox");
    if (!QFileInfo(m_busybox).isExecutable())
        return buildError(QStringLiteral("package %1 has no bin/busybox").arg(m_recipe.busyboxPackage));
    auto applets = runTool(m_busybox, {QStringLiteral("--list-full")});
    if (!applets)
        return applets.error();
    m_applets = *applets;
    return checkCancelled();
}

// Extra packages: their binaries and the libraries those need.
Core::Result ImageBuild::fetchExtraPackages()
{
    int pkgIndex = 0;
    for (const Templates::ExtraPackage &pkg : m_recipe.packages) {
        m_report(QStringLiteral("Adding package %1").arg(pkg.name), at(55));
        auto deb = downloadPackage(pkg.name);
        if (!deb)
            return deb.error();
        const QString root = m_work->filePath(QStringLiteral("pkg-%1").arg(pkgIndex++));
        if (auto ok = extractPackage(*deb, root); !ok)
            return ok.error();
        if (auto ok = addPackageBinaries(pkg, root); !ok)
            return ok;
    }
    return {};
}

Core::Result ImageBuild::addPackageBinaries(const Templates::ExtraPackage &pkg, const QString &root)
{
    for (const QString &bin : pkg.binaries) {
        const QString host = root + QLatin1Char('/') + bin;
        if (!QFileInfo(host).isFile())
            return buildError(QStringLiteral("package %1 has no %2").arg(pkg.name, bin));
        m_extra << Copy{bin, host, 0755};
        auto libs = sharedLibraries(host);
        if (!libs)
            return libs.error();
        for (const QString &lib : *libs)
            m_extra << Copy{lib.mid(1), lib, 0755};
    }
    return {};
}

Core::Result ImageBuild::writeInitramfs()
{
    m_report(QStringLiteral("Writing the initramfs"), at(70));
    CpioWriter cpio(m_work->filePath(QStringLiteral("initramfs.cpio")));
    if (auto ok = cpio.open(); !ok)
        return ok;
    for (auto part : {&ImageBuild::writeSkeleton, &ImageBuild::writeApplets, &ImageBuild::writeModulesAndExtras, &ImageBuild::writeConfiguration}) {
        if (auto ok = (this->*part)(cpio); !ok)
            return ok;
    }
    return checkCancelled();
}

// Directories, device nodes, busybox and the init.
Core::Result ImageBuild::writeSkeleton(CpioWriter &cpio)
{
    auto check = [](const Core::Result &r) { return r.hasValue(); };
    Core::Result status;
    for (const char *d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "run", "root", "var/log", "mnt", "lib/modules"})
        if (!check(status = cpio.addDirectory(QString::fromLatin1(d))))
            return status;
    if (!check(status = cpio.addCharDevice(QStringLiteral("dev/console"), 0600, 5, 1))
        || !check(status = cpio.addCharDevice(QStringLiteral("dev/null"), 0666, 1, 3))
        || !check(status = cpio.addFileFrom(QStringLiteral("bin/busybox"), m_busybox, 0755)))
        return status;
    // Busybox init from the initramfs, or a script that switches into the root disk.
    status = m_recipe.hasRootDisk() ? cpio.addFile(QStringLiteral("init"), RootfsBuilder::initramfsInit().toUtf8(), 0755)
                                    : cpio.addSymlink(QStringLiteral("init"), QStringLiteral("/bin/busybox"));
    if (!check(status) || (m_recipe.hasRootDisk() && !check(status = cpio.addDirectory(QStringLiteral("newroot")))))
        return status;
    return {};
}

Core::Result ImageBuild::writeApplets(CpioWriter &cpio)
{
    for (const QByteArray &line : m_applets.split('\n')) {
        const QString applet = QString::fromLatin1(line.trimmed());
        if (applet.isEmpty() || applet == QLatin1String("bin/busybox"))
            continue;
        if (auto ok = cpio.addSymlink(applet, QStringLiteral("/bin/busybox")); !ok)
            return ok;
    }
    return {};
}

Core::Result ImageBuild::writeModulesAndExtras(CpioWriter &cpio)
{
    for (const QString &rel : m_moduleOrder) {
        const QString guestRel = m_kernelVersion + QLatin1Char('/') + rel;
        if (auto ok = cpio.addFileFrom(QStringLiteral("lib/modules/") + guestRel, m_moduleDir + QLatin1Char('/') + rel, 0644); !ok)
            return ok;
        m_modulesList << guestRel;
    }
    for (const Copy &c : m_extra)
        if (auto ok = cpio.addFileFrom(c.guestPath, c.hostPath, c.mode); !ok)
            return ok;
    return {};
}

// The agent, the init scripts and /etc, then the trailer.
Core::Result ImageBuild::writeConfiguration(CpioWriter &cpio)
{
    auto check = [](const Core::Result &r) { return r.hasValue(); };
    Core::Result status;
    if (!check(status = cpio.addFileFrom(QStringLiteral("usr/sbin/microvm-agent"), m_agentBinary, 0755))
        || !check(status = cpio.addFile(QString::fromLatin1(ImageBuilder::kCodeRunnerGuestPath).mid(1), ImageBuilder::codeRunner(), 0755))
        || !check(status = cpio.addFile(QStringLiteral("etc/rc.sysinit"), initScript().toUtf8(), 0755))
        || !check(status = cpio.addFile(QStringLiteral("etc/inittab"), inittab(m_recipe).toUtf8(), 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/modules"), (m_modulesList.join(QLatin1Char('\n')) + QLatin1Char('\n')).toUtf8(), 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n", 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/group"), "root:x:0:\n", 0644))
        || !check(status = cpio.addFile(QStringLiteral("etc/mvs-image.json"), QJsonDocument(m_recipe.toJson()).toJson(), 0644))
        || !check(status = cpio.finish()))
        return status;
    return {};
}

// Publishing is atomic: copy the kernel, write the manifest, rename.
Core::Result ImageBuild::copyKernel()
{
    m_report(QStringLiteral("Publishing image %1").arg(m_key), at(90));
    const QString kernel = m_work->filePath(QStringLiteral("vmlinuz"));
    if (!QFile::copy(m_kernelFile, kernel))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot copy the kernel into %1").arg(m_work->path()));
    // World-readable whatever the package's mode: a root service's QEMU runs
    // as the VMM user and reads it through /proc/self/fd (Vmm::openQemuFds).
    QFile::setPermissions(kernel, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther);
    return {};
}

Core::Result ImageBuild::writeManifest()
{
    QJsonObject manifest = m_recipe.toJson();
    manifest.insert(QStringLiteral("key"), m_key);
    manifest.insert(QStringLiteral("kernel_version"), m_kernelVersion);
    manifest.insert(QStringLiteral("kernel_deb_package"), m_kernelPkg);
    manifest.insert(QStringLiteral("modules_loaded"), QJsonArray::fromStringList(m_modulesList));
    manifest.insert(QStringLiteral("builder"), ImageBuilder::kBuilderVersion);
    QSaveFile mf(m_work->filePath(QLatin1String(kManifest)));
    if (!mf.open(QIODevice::WriteOnly) || mf.write(QJsonDocument(manifest).toJson()) < 0 || !mf.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the image manifest"));
    return {};
}

// Drops the unpacked packages, keeps only the image files, and renames the
// work directory into the cache.
Core::Result ImageBuild::moveIntoPlace()
{
    for (const QString &entry : QDir(m_work->path()).entryList(QDir::Dirs | QDir::NoDotAndDotDot))
        QDir(m_work->filePath(entry)).removeRecursively();
    const QString final = m_images + QLatin1Char('/') + m_key;
    QDir(final).removeRecursively(); // an incomplete leftover without a manifest
    if (!QDir().rename(m_work->path(), final))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot move the image into %1").arg(final));
    m_work->setAutoRemove(false);
    return {};
}

} // namespace

} // namespace Image
