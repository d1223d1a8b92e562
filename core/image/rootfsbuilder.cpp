#include "core/image/rootfsbuilder.h"

#include "core/log.h"
#include "core/paths.h"

#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QHash>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLockFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>
#include <QTemporaryDir>

#include <algorithm>
#include <csignal>
#include <memory>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace Image::RootfsBuilder {
namespace {

constexpr const char *kManifest = "manifest.json";
constexpr const char *kDiskFile = "rootfs.img";
constexpr int kToolTimeoutMs = 10 * 60 * 1000;
// Free space on top of the tree, and ext4's own overhead (inode tables, journal).
constexpr int kMinFreeMiB = 128;
constexpr double kOverheadFactor = 1.25;

Core::Error buildError(const QString &m)
{
    return Core::Error(Core::ErrorCode::ImageBuild, m);
}

QString imagesDir()
{
    return Core::Paths::cacheDir() + QStringLiteral("/images");
}

QString diskDir(const QString &key)
{
    return imagesDir() + QStringLiteral("/rootfs-") + key;
}

// root and its descendants, from /proc (parents before children).
QList<pid_t> processTree(pid_t root)
{
    QHash<pid_t, QList<pid_t>> children;
    for (const QString &entry : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        bool isPid = false;
        const pid_t pid = entry.toInt(&isPid);
        if (!isPid)
            continue;
        QFile stat(QStringLiteral("/proc/%1/stat").arg(entry));
        if (!stat.open(QIODevice::ReadOnly))
            continue;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        const QByteArray text = stat.readAll();
        const QList<QByteArray> rest = text.mid(text.lastIndexOf(')') + 2).split(' ');
        if (rest.size() > 1)
            children[static_cast<pid_t>(rest.at(1).toInt())] << pid;
    }
    QList<pid_t> tree{root};
    for (qsizetype i = 0; i < tree.size(); ++i)
        tree += children.value(tree.at(i));
    return tree;
}

// Runs a tool, polling for cancellation; a cancelled or overdue run is
// terminated with all its descendants (debootstrap runs dpkg, chroot, ...).
Core::Expected<QByteArray> runTool(const QString &program, const QStringList &args, const std::atomic<bool> &cancel, int timeoutMs = kToolTimeoutMs)
{
    QProcess p;
    p.setProgram(program);
    p.setArguments(args);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("LC_ALL"), QStringLiteral("C"));
    env.insert(QStringLiteral("DEBIAN_FRONTEND"), QStringLiteral("noninteractive"));
    p.setProcessEnvironment(env);
    // Our process group, so a Ctrl-C in the terminal stops the whole tree
    // (debootstrap runs dpkg, chroot, ...); SIGTERM when the building thread
    // dies with its process otherwise.
    p.setChildProcessModifier([]() { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
    p.start();
    if (!p.waitForStarted())
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot run %1 (%2)").arg(program, p.errorString()));
    const QDeadlineTimer deadline(timeoutMs);
    const auto stopGroup = [&p]() {
        const pid_t pid = static_cast<pid_t>(p.processId());
        if (pid <= 0)
            return;
        // Collected before signalling: orphans are reparented at once.
        const QList<pid_t> tree = processTree(pid);
        for (pid_t t : tree)
            ::kill(t, SIGTERM);
        if (!p.waitForFinished(10000)) {
            for (pid_t t : processTree(pid) + tree)
                ::kill(t, SIGKILL);
            p.waitForFinished(-1);
        }
    };
    while (!p.waitForFinished(200)) {
        if (p.state() == QProcess::NotRunning)
            break;
        if (cancel.load()) {
            stopGroup();
            return Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("image build cancelled"));
        }
        if (deadline.hasExpired()) {
            stopGroup();
            return buildError(QStringLiteral("%1 took longer than %2 s").arg(program).arg(timeoutMs / 1000));
        }
    }
    const QByteArray out = p.readAllStandardOutput();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        QString err = QString::fromLocal8Bit(p.readAllStandardError()).trimmed();
        if (err.isEmpty())
            err = QString::fromLocal8Bit(out).trimmed();
        return buildError(QStringLiteral("%1 failed (exit %2): %3").arg(program).arg(p.exitCode()).arg(err.right(600)));
    }
    return out;
}

// Mount points at or below path, deepest first (from /proc/self/mountinfo).
QStringList mountsBelow(const QString &path)
{
    QFile f(QStringLiteral("/proc/self/mountinfo"));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QString root = QDir::cleanPath(path);
    QStringList out;
    for (const QByteArray &line : f.readAll().split('\n')) {
        const QList<QByteArray> fields = line.split(' ');
        if (fields.size() < 5)
            continue;
        // Field 5 is the mount point, with spaces and such as octal escapes.
        QByteArray raw = fields.at(4), point;
        for (qsizetype i = 0; i < raw.size(); ++i) {
            if (raw.at(i) == '\\' && i + 3 < raw.size()) {
                point.append(static_cast<char>(raw.mid(i + 1, 3).toInt(nullptr, 8)));
                i += 3;
            } else {
                point.append(raw.at(i));
            }
        }
        const QString p = QString::fromLocal8Bit(point);
        if (p == root || p.startsWith(root + QLatin1Char('/')))
            out << p;
    }
    std::sort(out.begin(), out.end(), [](const QString &a, const QString &b) { return a.size() > b.size(); });
    return out;
}

Core::Result writeFile(const QString &path, const QByteArray &data, QFile::Permissions perms)
{
    QDir().mkpath(QFileInfo(path).path());
    QFile::remove(path); // a symlink from the package would be followed otherwise
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(data) != data.size())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(path, f.errorString()));
    f.close();
    f.setPermissions(perms);
    return {};
}

constexpr QFile::Permissions kExec =
    QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadGroup | QFile::ExeGroup | QFile::ReadOther | QFile::ExeOther;
constexpr QFile::Permissions kRead = QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther;

QString inittab(const Templates::ImageRecipe &recipe)
{
    QString t = QStringLiteral("# MicroVM Sandbox root disk init (busybox init), written by the image builder.\n"
                               "# The initramfs already mounted the filesystems and loaded the modules;\n"
                               "# --init-setup only does what is missing.\n"
                               "::sysinit:/usr/sbin/microvm-agent --init-setup\n"
                               "::respawn:/usr/sbin/microvm-agent --auto --port-name %1 --vsock-port %2\n")
                    .arg(recipe.agentPortName)
                    .arg(recipe.agentVsockPort);
    if (recipe.rootfs.hasDesktop())
        t += QStringLiteral("::respawn:/usr/lib/microvm-sandbox/desktop xvnc\n"
                            "::respawn:/usr/lib/microvm-sandbox/desktop wm\n"
                            "::respawn:/usr/lib/microvm-sandbox/desktop terminal\n");
    for (qsizetype i = 0; i < recipe.rootfs.programs.size(); ++i)
        t += QStringLiteral("::respawn:/usr/lib/microvm-sandbox/desktop-session program %1\n").arg(i + 1);
    if (!recipe.rootfs.readyCheck.isEmpty())
        t += QStringLiteral("::respawn:/usr/lib/microvm-sandbox/desktop-session ready\n");
    t += QStringLiteral("::ctrlaltdel:/bin/busybox reboot -f\n"
                        "::shutdown:/bin/busybox sync\n");
    return t;
}

// The programs and the readiness check, only when the template has them
// (so the disks of templates without them keep their cache keys).
bool hasSession(const Templates::RootfsRecipe &r)
{
    return !r.programs.isEmpty() || !r.readyCheck.isEmpty();
}

QString sessionConf(const Templates::RootfsRecipe &r)
{
    QString conf;
    for (qsizetype i = 0; i < r.programs.size(); ++i)
        conf += QStringLiteral("program_%1='%2'\n").arg(i + 1).arg(r.programs.at(i));
    if (!r.readyCheck.isEmpty())
        conf += QStringLiteral("ready_check='%1'\n").arg(r.readyCheck);
    return conf;
}

QString desktopConf(const Templates::RootfsRecipe &r)
{
    // Validated by the template parser: one line each, no quotes.
    return QStringLiteral("# Written by the MicroVM Sandbox image builder (the template's desktop section).\n"
                          "window_manager='%1'\n"
                          "terminal='%2'\n")
               .arg(r.windowManager, r.terminal)
        + sessionConf(r);
}

// One script, three roles, each kept running by busybox init (respawn).
// Geometry, display and port come from the kernel command line, so a
// template can change them without rebuilding the disk.
QString desktopScript()
{
    return QStringLiteral(R"sh(#!/bin/sh
# MicroVM Sandbox desktop session, run by busybox init (/etc/inittab):
#   desktop xvnc | wm | terminal
# mvs.desktop=WxHxDEPTH mvs.display=N mvs.vnc_port=P on the kernel command
# line; the commands in /etc/microvm-sandbox/desktop.conf.
role=$1
geometry=1280x800x24
display=0
port=5900
for arg in $(cat /proc/cmdline); do
    case $arg in
    mvs.desktop=*) geometry=${arg#*=} ;;
    mvs.display=*) display=${arg#*=} ;;
    mvs.vnc_port=*) port=${arg#*=} ;;
    esac
done
. /etc/microvm-sandbox/desktop.conf
export DISPLAY=:$display HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /root
exec >>/var/log/mvs-desktop-$role.log 2>&1
log() {
    echo "[$(cut -d' ' -f1 /proc/uptime)] $*"
}

# wait_for TRIES INTERVAL COMMAND...: poll until the command succeeds.
# Under TCG every X client started costs CPU the boot needs: the cheap
# checks (shell builtins) poll fast, the X clients slowly.
wait_for() {
    tries=$1
    interval=$2
    shift 2
    n=0
    until "$@" >/dev/null 2>&1; do
        n=$((n + 1))
        if [ $n -gt "$tries" ]; then
            echo "gave up waiting for: $*"
            sleep 1
            exit 1
        fi
        sleep "$interval"
    done
}
# Polled once a second: under TCG every X client started costs the boot a
# fraction of a second of CPU, which the window manager needs to start.
wm_running() {
    xprop -root _NET_SUPPORTING_WM_CHECK | grep -q 'window id'
}

case $role in
xvnc)
    rm -f /tmp/.X$display-lock /tmp/.X11-unix/X$display /run/mvs-desktop-wm
    log "starting Xvnc :$display $geometry on 127.0.0.1:$port"
    exec Xvnc :$display -geometry "${geometry%x*}" -depth "${geometry##*x}" \
        -rfbport "$port" -interface 127.0.0.1 -SecurityTypes None -AlwaysShared \
        -nolisten tcp -desktop microvm
    ;;
wm)
    # A client connecting to the socket waits until the server serves it.
    wait_for 1200 0.1 test -S /tmp/.X11-unix/X$display
    touch /run/mvs-desktop-wm
    log "starting $window_manager"
    exec $window_manager
    ;;
terminal)
    # Started once the window manager runs, so it gets the keyboard focus.
    wait_for 1200 0.1 test -e /run/mvs-desktop-wm
    wait_for 120 1 wm_running
    log "starting $terminal"
    exec $terminal
    ;;
esac
echo "unknown role '$role'"
sleep 1
exit 2
)sh");
}

// The template's programs and its readiness check, each kept running by
// busybox init (respawn) beside the desktop script's roles.
QString sessionScript()
{
    return QStringLiteral(R"sh(#!/bin/sh
# MicroVM Sandbox desktop session, run by busybox init (/etc/inittab):
#   desktop-session program N   the template's Nth program (program_N in
#                               /etc/microvm-sandbox/desktop.conf), started
#                               once the window manager runs
#   desktop-session ready       runs ready_check until it succeeds, then
#                               creates /run/mvs-desktop-ready (what the host
#                               asks for), removed again when Xvnc restarts
role=$1
display=0
for arg in $(cat /proc/cmdline); do
    case $arg in
    mvs.display=*) display=${arg#*=} ;;
    esac
done
. /etc/microvm-sandbox/desktop.conf
export DISPLAY=:$display HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cd /root
ready=/run/mvs-desktop-ready
lock=/tmp/.X$display-lock
log() {
    echo "[$(cut -d' ' -f1 /proc/uptime)] $*"
}
wm_running() {
    xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id'
}
# The window manager's marker, then the window manager itself: polled
# slowly, under TCG every X client started costs the boot CPU time.
wait_for_wm() {
    until [ -e /run/mvs-desktop-wm ]; do sleep 0.2; done
    until wm_running; do sleep 1; done
}

case $role in
program)
    exec >>/var/log/mvs-desktop-program-$2.log 2>&1
    eval "command=\${program_$2}"
    if [ -z "$command" ]; then
        echo "no program_$2 in desktop.conf"
        sleep 60
        exit 2
    fi
    wait_for_wm
    log "starting $command"
    exec $command
    ;;
ready)
    exec >>/var/log/mvs-desktop-ready.log 2>&1
    until [ -e /run/mvs-desktop-wm ]; do sleep 0.2; done
    until sh -c "$ready_check" >/dev/null 2>&1; do sleep 1; done
    read -r xvnc 2>/dev/null <$lock
    touch $ready
    log "ready: $ready_check (Xvnc $xvnc)"
    # Until Xvnc restarts (a new lock, or none): the session is new then.
    while read -r now 2>/dev/null <$lock && [ "$now" = "$xvnc" ]; do sleep 2; done
    rm -f $ready
    log "Xvnc went away: not ready"
    exit 0
    ;;
esac
echo "unknown role '$role'"
sleep 1
exit 2
)sh");
}

Core::Result removeMatching(const QString &tree, const QString &treeCanonical, const QString &rel)
{
    const QString full = QDir::cleanPath(tree + QLatin1Char('/') + rel);
    const QFileInfo fi(full);
    // The parent must resolve inside the tree: an absolute symlink in the
    // path would point at the host.
    const QString parent = QFileInfo(fi.path()).canonicalFilePath();
    if (parent.isEmpty())
        return {}; // nothing there
    if (parent != treeCanonical && !parent.startsWith(treeCanonical + QLatin1Char('/')))
        return buildError(QStringLiteral("image.rootfs.remove: '%1' leads outside the root filesystem").arg(rel));
    QStringList victims;
    const QString name = fi.fileName();
    if (name.contains(QLatin1Char('*')) || name.contains(QLatin1Char('?')))
        for (const QString &e : QDir(parent).entryList({name}, QDir::AllEntries | QDir::System | QDir::Hidden | QDir::NoDotAndDotDot))
            victims << parent + QLatin1Char('/') + e;
    else
        victims << parent + QLatin1Char('/') + name;
    for (const QString &v : victims) {
        const QFileInfo vi(v);
        if (vi.isDir() && !vi.isSymLink())
            removeTree(v);
        else
            QFile::remove(v);
    }
    return {};
}

Core::Expected<RootDisk> readCached(const QString &key)
{
    const QString dir = diskDir(key);
    QFile manifest(dir + QLatin1Char('/') + QLatin1String(kManifest));
    if (!manifest.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("root disk %1 is not built").arg(key));
    const QJsonObject m = QJsonDocument::fromJson(manifest.readAll()).object();
    RootDisk disk{key, dir, dir + QLatin1Char('/') + QLatin1String(kDiskFile), m.value(QStringLiteral("size_mb")).toInt()};
    if (!QFileInfo::exists(disk.path))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("root disk %1 is incomplete").arg(key));
    return disk;
}

} // namespace

QString diskKey(const Templates::ImageRecipe &recipe)
{
    // What ends up on the disk: the tree and the init files, by content.
    QString init = inittab(recipe) + desktopScript() + desktopConf(recipe.rootfs);
    if (hasSession(recipe.rootfs))
        init += sessionScript();
    const QByteArray initFiles = init.toUtf8();
    const QJsonObject key{{QStringLiteral("rootfs"), recipe.rootfs.toJson()},
                          {QStringLiteral("init_sha256"), QString::fromLatin1(QCryptographicHash::hash(initFiles, QCryptographicHash::Sha256).toHex())},
                          {QStringLiteral("rootfs_builder"), kVersion}};
    const QByteArray canonical = QJsonDocument(key).toJson(QJsonDocument::Compact);
    return QString::fromLatin1(QCryptographicHash::hash(canonical, QCryptographicHash::Sha256).toHex().left(32));
}

Core::Expected<RootDisk> cached(const Templates::ImageRecipe &recipe)
{
    return readCached(diskKey(recipe));
}

QString hostMirror(const QString &suite, const QString &aptDir)
{
    const auto usable = [](const QString &uri) {
        return uri.startsWith(QLatin1String("http://")) || uri.startsWith(QLatin1String("https://")) || uri.startsWith(QLatin1String("file:/"));
    };
    const QDir d(aptDir + QStringLiteral("/sources.list.d"));
    // deb822: paragraphs of "Key: value" lines.
    for (const QString &name : d.entryList({QStringLiteral("*.sources")}, QDir::Files, QDir::Name)) {
        QFile f(d.filePath(name));
        if (!f.open(QIODevice::ReadOnly))
            continue;
        const QString text = QString::fromUtf8(f.readAll());
        for (const QString &para : text.split(QRegularExpression(QStringLiteral("\\n\\s*\\n")))) {
            QHash<QString, QStringList> fields;
            for (const QString &line : para.split(QLatin1Char('\n'))) {
                if (line.startsWith(QLatin1Char('#')) || !line.contains(QLatin1Char(':')))
                    continue;
                fields.insert(line.section(QLatin1Char(':'), 0, 0).trimmed().toLower(),
                              line.section(QLatin1Char(':'), 1).simplified().split(QLatin1Char(' '), Qt::SkipEmptyParts));
            }
            if (fields.value(QStringLiteral("enabled")).value(0) == QLatin1String("no"))
                continue;
            if (fields.value(QStringLiteral("types")).contains(QLatin1String("deb")) && fields.value(QStringLiteral("suites")).contains(suite))
                for (const QString &uri : fields.value(QStringLiteral("uris")))
                    if (usable(uri))
                        return uri;
        }
    }
    // One-line format: deb [options] URI suite components...
    QStringList lists{aptDir + QStringLiteral("/sources.list")};
    for (const QString &name : d.entryList({QStringLiteral("*.list")}, QDir::Files, QDir::Name))
        lists << d.filePath(name);
    for (const QString &path : lists) {
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly))
            continue;
        for (const QString &raw : QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'))) {
            QString line = raw.section(QLatin1Char('#'), 0, 0);
            line.remove(QRegularExpression(QStringLiteral("\\[[^]]*\\]")));
            const QStringList w = line.simplified().split(QLatin1Char(' '), Qt::SkipEmptyParts);
            if (w.size() >= 3 && w.at(0) == QLatin1String("deb") && w.at(2) == suite && usable(w.at(1)))
                return w.at(1);
        }
    }
    return QStringLiteral("http://deb.debian.org/debian");
}

QString initramfsInit()
{
    return QStringLiteral(R"sh(#!/bin/sh
# MicroVM Sandbox initramfs for a root disk, written by the image builder.
echo "mvs-init: reached"
/usr/sbin/microvm-agent --init-setup
root=/dev/vda
for arg in $(cat /proc/cmdline); do
    case $arg in root=*) root=${arg#root=} ;; esac
done
n=0
while [ ! -b "$root" ] && [ $n -lt 200 ]; do
    usleep 50000
    n=$((n + 1))
done
if ! mount -t ext4 -o rw,noatime "$root" /newroot; then
    echo "mvs-init: cannot mount the root disk $root"
    sync
    reboot -f
fi
# The disk has a placeholder; the agent always matches the host's build.
mount --bind /usr/sbin/microvm-agent /newroot/usr/sbin/microvm-agent
# So does the code runner (its mount point made in this VM's own layer).
runner=/usr/local/bin/mvs-code-runner
mkdir -p /newroot/usr/local/bin
[ -e /newroot$runner ] || : > /newroot$runner
mount --bind $runner /newroot$runner
for m in dev proc sys run tmp; do
    mount --move /$m /newroot/$m
done
exec switch_root /newroot /bin/busybox init
)sh");
}

void removeTree(const QString &path)
{
    if (path.isEmpty() || !QFileInfo::exists(path))
        return;
    for (const QString &m : mountsBelow(path))
        if (::umount2(m.toLocal8Bit().constData(), MNT_DETACH) != 0)
            Core::Log::image()->warn("cannot unmount {} below a scratch tree", m.toStdString());
    std::atomic<bool> never{false};
    if (auto r = runTool(QStringLiteral("rm"), {QStringLiteral("-rf"), QStringLiteral("--one-file-system"), QStringLiteral("--"), path}, never); !r)
        Core::Log::image()->warn("cannot remove {}: {}", path.toStdString(), r.error().message.toStdString());
}

namespace {

// One build of one root disk, on the image builder's worker thread: a flat
// sequence of steps sharing what they found on this object. Holds the build
// lock while it lives, and removes its scratch tree when it goes.
class RootfsBuild {
public:
    RootfsBuild(const Templates::ImageRecipe &recipe, const std::atomic<bool> &cancel, const Report &report)
        : m_recipe(recipe)
        , m_r(recipe.rootfs)
        , m_cancel(cancel)
        , m_report(report)
        , m_key(diskKey(recipe))
        , m_images(imagesDir())
        , m_lock(m_images + QStringLiteral("/rootfs-") + m_key + QStringLiteral(".lock"))
    {
    }
    ~RootfsBuild() { removeTree(m_scratch); }
    RootfsBuild(const RootfsBuild &) = delete;
    RootfsBuild &operator=(const RootfsBuild &) = delete;

    Core::Expected<RootDisk> run();

private:
    using Step = Core::Result (RootfsBuild::*)();

    Core::Result checkHost() const;
    Core::Result lock();
    Core::Result makeWorkDir();
    Core::Result debootstrap();
    Core::Result configureTree();
    Core::Result writeInitFiles();
    Core::Result writeDiskImage();
    Core::Result writeManifest();
    Core::Result moveIntoPlace();
    Core::Result checkCancelled() const;

    const Templates::ImageRecipe &m_recipe;
    const Templates::RootfsRecipe &m_r;
    const std::atomic<bool> &m_cancel;
    const Report &m_report;
    const QString m_key;
    const QString m_images;
    QLockFile m_lock;
    std::unique_ptr<QTemporaryDir> m_work;
    QString m_scratch; // removed on destruction unless published

    QString m_tree;
    QString m_mirror;
    QElapsedTimer m_timer;
    qint64 m_debootstrapS = 0;
    int m_treeMiB = 0;
    int m_sizeMiB = 0;
};

Core::Expected<RootDisk> RootfsBuild::run()
{
    if (auto disk = readCached(m_key))
        return disk;
    if (auto ok = checkHost(); !ok)
        return ok.error();
    if (auto ok = lock(); !ok)
        return ok.error();
    if (auto disk = readCached(m_key))
        return disk; // built by another process meanwhile
    static constexpr Step kSteps[] = {
        &RootfsBuild::makeWorkDir,    &RootfsBuild::debootstrap,   &RootfsBuild::configureTree,
        &RootfsBuild::writeDiskImage, &RootfsBuild::writeManifest, &RootfsBuild::moveIntoPlace,
    };
    for (const Step step : kSteps) {
        if (auto ok = (this->*step)(); !ok)
            return ok.error();
    }
    m_report(QStringLiteral("Root disk ready"), 100);
    return readCached(m_key);
}

Core::Result RootfsBuild::checkHost() const
{
    if (::geteuid() != 0)
        return Core::Error(Core::ErrorCode::PermissionDenied,
                           QStringLiteral("building a root disk image needs root (debootstrap); run 'microvm-sandbox image build' as root once"));
    for (const char *tool : {"debootstrap", "mke2fs"})
        if (QStandardPaths::findExecutable(QLatin1String(tool), {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin"), QStringLiteral("/usr/bin")}).isEmpty())
            return Core::Error(
                Core::ErrorCode::BinaryMissing,
                QStringLiteral("%1 is missing: install debootstrap and e2fsprogs (apt-get install debootstrap e2fsprogs)").arg(QLatin1String(tool)));
    return {};
}

Core::Result RootfsBuild::lock()
{
    if (auto ok = Core::Paths::ensurePrivateDir(m_images); !ok)
        return ok.error();
    m_lock.setStaleLockTime(0);
    m_report(QStringLiteral("Waiting for other builds of root disk %1").arg(m_key), 0);
    if (!m_lock.tryLock(kLockTimeoutMs))
        return buildError(QStringLiteral("another process holds the build lock of root disk %1").arg(m_key));
    return {};
}

Core::Result RootfsBuild::makeWorkDir()
{
    // Under the lock, any other scratch tree of this disk is an interrupted build's.
    for (const QString &stale : QDir(m_images).entryList({QStringLiteral(".build-rootfs-") + m_key + QStringLiteral("-*")}, QDir::Dirs | QDir::Hidden))
        removeTree(m_images + QLatin1Char('/') + stale);
    m_work = std::make_unique<QTemporaryDir>(m_images + QStringLiteral("/.build-rootfs-") + m_key + QStringLiteral("-XXXXXX"));
    if (!m_work->isValid())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create a build directory under %1").arg(m_images));
    // QTemporaryDir would remove recursively, through any mount debootstrap left behind.
    m_work->setAutoRemove(false);
    m_scratch = m_work->path();
    return {};
}

Core::Result RootfsBuild::checkCancelled() const
{
    if (m_cancel.load())
        return Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("image build cancelled"));
    return {};
}

// debootstrap, with the packages cached across builds.
Core::Result RootfsBuild::debootstrap()
{
    m_tree = m_work->filePath(QStringLiteral("tree"));
    const QString debCache = Core::Paths::cacheDir() + QStringLiteral("/debootstrap");
    if (auto ok = Core::Paths::ensurePrivateDir(debCache); !ok)
        return ok.error();
    m_mirror = m_r.mirror == QLatin1String("auto") ? hostMirror(m_r.suite) : m_r.mirror;
    QStringList include = m_r.packages;
    if (!include.contains(QLatin1String("busybox-static")))
        include << QStringLiteral("busybox-static"); // the disk's init
    m_report(QStringLiteral("debootstrap %1 (%2) from %3: a few minutes").arg(m_r.suite, m_r.variant, m_mirror), 5);
    m_timer.start();
    auto boot = runTool(QStringLiteral("debootstrap"),
                        {QStringLiteral("--variant=") + m_r.variant, QStringLiteral("--arch=amd64"), QStringLiteral("--cache-dir=") + debCache,
                         QStringLiteral("--include=") + include.join(QLatin1Char(',')), m_r.suite, m_tree, m_mirror},
                        m_cancel, kDebootstrapTimeoutMs);
    if (!boot)
        return boot.error();
    m_debootstrapS = m_timer.elapsed() / 1000;
    Core::Log::image()->info("debootstrap {} took {} s", m_r.suite.toStdString(), m_debootstrapS);
    for (const QString &m : mountsBelow(m_tree)) // debootstrap unmounts on success; be sure
        ::umount2(m.toLocal8Bit().constData(), MNT_DETACH);
    return checkCancelled();
}

// Trim, then the init files.
Core::Result RootfsBuild::configureTree()
{
    m_report(QStringLiteral("Configuring the root filesystem"), 70);
    const QString treeCanonical = QFileInfo(m_tree).canonicalFilePath();
    for (const QString &rel : m_r.remove)
        if (auto ok = removeMatching(m_tree, treeCanonical, rel); !ok)
            return ok.error();
    if (auto ok = writeInitFiles(); !ok)
        return ok;
    if (!QFileInfo(m_tree + QStringLiteral("/bin/busybox")).isExecutable())
        return buildError(QStringLiteral("the root filesystem has no /bin/busybox (busybox-static) for its init"));
    return {};
}

Core::Result RootfsBuild::writeInitFiles()
{
    const QString agentPlaceholder = QStringLiteral("#!/bin/sh\necho 'microvm-agent: the initramfs supplies the agent at boot' >&2\nexit 127\n");
    Core::Result status;
    const auto write = [&status](const QString &path, const QByteArray &data, QFile::Permissions perms) {
        if (status)
            status = writeFile(path, data, perms);
    };
    write(m_tree + QStringLiteral("/etc/inittab"), inittab(m_recipe).toUtf8(), kRead);
    write(m_tree + QStringLiteral("/usr/sbin/microvm-agent"), agentPlaceholder.toUtf8(), kExec);
    write(m_tree + QStringLiteral("/etc/modules"), "# The initramfs loads the kernel modules (microvm-sandbox).\n", kRead);
    write(m_tree + QStringLiteral("/etc/mvs-image.json"), QJsonDocument(m_recipe.toJson()).toJson(), kRead);
    if (m_r.hasDesktop()) {
        write(m_tree + QStringLiteral("/usr/lib/microvm-sandbox/desktop"), desktopScript().toUtf8(), kExec);
        write(m_tree + QStringLiteral("/etc/microvm-sandbox/desktop.conf"), desktopConf(m_r).toUtf8(), kRead);
    }
    if (hasSession(m_r))
        write(m_tree + QStringLiteral("/usr/lib/microvm-sandbox/desktop-session"), sessionScript().toUtf8(), kExec);
    return status;
}

// The ext4 image, filled from the tree (no mount, no loop device).
Core::Result RootfsBuild::writeDiskImage()
{
    auto du = runTool(QStringLiteral("du"), {QStringLiteral("-sxm"), m_tree}, m_cancel);
    if (!du)
        return du.error();
    m_treeMiB = QString::fromLatin1(du->split('\t').value(0)).toInt();
    const int neededMiB = static_cast<int>(m_treeMiB * kOverheadFactor) + kMinFreeMiB;
    m_sizeMiB = std::max(m_r.diskSizeMiB, neededMiB);
    if (m_sizeMiB > m_r.diskSizeMiB)
        Core::Log::image()->info("root filesystem needs {} MiB: disk grown from {} MiB", neededMiB, m_r.diskSizeMiB);
    m_report(QStringLiteral("Writing the %1 MiB ext4 image (%2 MiB of files)").arg(m_sizeMiB).arg(m_treeMiB), 80);
    const QString img = m_work->filePath(QLatin1String(kDiskFile));
    auto mk = runTool(QStringLiteral("mke2fs"),
                      {QStringLiteral("-t"), QStringLiteral("ext4"), QStringLiteral("-q"), QStringLiteral("-F"), QStringLiteral("-L"),
                       QStringLiteral("mvs-root"), QStringLiteral("-m"), QStringLiteral("0"), QStringLiteral("-E"), QStringLiteral("root_owner=0:0"),
                       QStringLiteral("-d"), m_tree, img, QStringLiteral("%1M").arg(m_sizeMiB)},
                      m_cancel);
    if (!mk)
        return mk.error();
    removeTree(m_tree);
    if (auto ok = checkCancelled(); !ok)
        return ok;
    QFile::setPermissions(img, QFile::ReadOwner | QFile::ReadGroup | QFile::ReadOther); // shared by every VM: never written
    return {};
}

// Publishing is atomic: the manifest, then a rename.
Core::Result RootfsBuild::writeManifest()
{
    QJsonObject manifest{{QStringLiteral("key"), m_key},
                         {QStringLiteral("rootfs"), m_r.toJson()},
                         {QStringLiteral("mirror"), m_mirror},
                         {QStringLiteral("size_mb"), m_sizeMiB},
                         {QStringLiteral("tree_mb"), m_treeMiB},
                         {QStringLiteral("debootstrap_s"), m_debootstrapS},
                         {QStringLiteral("build_s"), m_timer.elapsed() / 1000},
                         {QStringLiteral("rootfs_builder"), kVersion}};
    QSaveFile mf(m_work->filePath(QLatin1String(kManifest)));
    if (!mf.open(QIODevice::WriteOnly) || mf.write(QJsonDocument(manifest).toJson()) < 0 || !mf.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the root disk manifest"));
    return {};
}

Core::Result RootfsBuild::moveIntoPlace()
{
    const QString final = diskDir(m_key);
    removeTree(final); // an incomplete leftover without a manifest
    if (!QDir().rename(m_work->path(), final))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot move the root disk into %1").arg(final));
    m_scratch.clear();
    return {};
}

} // namespace

Core::Expected<RootDisk> ensure(const Templates::ImageRecipe &recipe, const std::atomic<bool> &cancel, const Report &report)
{
    return RootfsBuild(recipe, cancel, report).run();
}

} // namespace Image::RootfsBuilder
