#include "core/net/resolver.h"

#include "core/net/hosttool.h"
#include "core/net/nftruleset.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSaveFile>
#include <QThread>

#include <arpa/inet.h>
#include <cerrno>
#include <csignal>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace Net {

namespace {

constexpr char kConfArgument[] = "--conf-file=";
constexpr qint64 kMaxProcFileBytes = 64 * 1024;
constexpr int kLogTailBytes = 600;

QByteArray readProcFile(qint64 pid, const char *name)
{
    QFile f(QStringLiteral("/proc/%1/%2").arg(pid).arg(QLatin1String(name)));
    return f.open(QIODevice::ReadOnly) ? f.read(kMaxProcFileBytes) : QByteArray();
}

// The file name of the --conf-file of pid if it is a dnsmasq, else empty.
QString resolverConfigName(qint64 pid)
{
    if (readProcFile(pid, "comm").trimmed() != "dnsmasq")
        return {};
    for (const QByteArray &arg : readProcFile(pid, "cmdline").split('\0'))
        if (arg.startsWith(kConfArgument))
            return QFileInfo(QFile::decodeName(arg.mid(int(qstrlen(kConfArgument))))).fileName();
    return {};
}

// Whether pid is a dnsmasq whose --conf-file names a file starting with prefix.
bool isResolverOf(qint64 pid, const QString &prefix)
{
    const QString name = resolverConfigName(pid);
    return !name.isEmpty() && name.startsWith(prefix);
}

// Alive and not a zombie.
bool isAlive(qint64 pid)
{
    const QByteArray stat = readProcFile(pid, "stat");
    const qsizetype close = stat.lastIndexOf(')');
    return close > 0 && stat.size() > close + 2 && stat.at(close + 2) != 'Z' && stat.at(close + 2) != 'X';
}

qint64 parentOf(qint64 pid)
{
    const QByteArray stat = readProcFile(pid, "stat");
    const qsizetype close = stat.lastIndexOf(')');
    const QList<QByteArray> fields = stat.mid(close + 2).split(' '); // state ppid ...
    return close > 0 && fields.size() > 1 ? fields.at(1).toLongLong() : 0;
}

// Whether pid lives in this process's network namespace. A resolver in
// another one serves another network (a service in a container, a chroot
// with its own namespace, the rootless helper's): its name may look like
// ours, since instance ids come from state paths, but it is not ours to end.
bool inOwnNetworkNamespace(qint64 pid)
{
    // "net:[4026531840]": the namespace's inode (readlink(2), not a path to resolve).
    const auto link = [](const QByteArray &path) {
        char target[64] = {};
        const ssize_t n = ::readlink(path.constData(), target, sizeof target - 1);
        return n > 0 ? QByteArray(target, n) : QByteArray();
    };
    static const QByteArray own = link(QByteArrayLiteral("/proc/self/ns/net"));
    const QByteArray theirs = link("/proc/" + QByteArray::number(pid) + "/ns/net");
    return !own.isEmpty() && theirs == own;
}

// Waits for pid to exit (a pidfd when the kernel has them, else polling /proc).
bool waitForExit(qint64 pid, int timeoutMs)
{
    const int pidfd = int(::syscall(SYS_pidfd_open, pid_t(pid), 0));
    if (pidfd >= 0) {
        struct pollfd p {
            pidfd, POLLIN, 0
        };
        const int n = ::poll(&p, 1, timeoutMs);
        ::close(pidfd);
        return n == 1 || !isAlive(pid);
    }
    QElapsedTimer t;
    t.start();
    while (isAlive(pid) && t.elapsed() < timeoutMs)
        QThread::msleep(Resolver::kPollIntervalMs);
    return !isAlive(pid);
}

bool answersTcp(const QHostAddress &address, int port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in sa { };
    sa.sin_family = AF_INET;
    sa.sin_port = htons(quint16(port));
    sa.sin_addr.s_addr = htonl(address.toIPv4Address());
    const bool ok = ::connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) == 0;
    ::close(fd);
    return ok;
}

qint64 pidInFile(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.read(32).trimmed().toLongLong() : 0;
}

// Past its bound, the log is copied to <log>.old and emptied in place:
// dnsmasq (which may have dropped root and could not make a new file in our
// directory) appends to the file it has open (O_APPEND), so it writes on
// from the start.
void boundLog(const QString &path)
{
    if (QFileInfo(path).size() <= Resolver::kMaxLogBytes)
        return;
    const QString old = path + QStringLiteral(".old");
    QFile::remove(old);
    QFile::copy(path, old);
    QFile::resize(path, 0);
}

} // namespace

Resolver::Resolver(const QString &dir, DnsmasqConfig config)
    : m_config(std::move(config))
{
    const QString base = QDir(dir).filePath(QStringLiteral("%1_v%2").arg(m_config.table).arg(m_config.slot));
    m_configPath = base + QStringLiteral(".conf");
    m_config.pidFile = base + QStringLiteral(".pid");
    m_config.logFile = base + QStringLiteral(".log");
}

QString Resolver::configFileName(const QString &table, int slot)
{
    return QStringLiteral("%1_v%2.conf").arg(table).arg(slot);
}

Core::Result Resolver::writeConfig() const
{
    auto text = m_config.text();
    if (!text)
        return text.error();
    QSaveFile f(m_configPath);
    if (!f.open(QIODevice::WriteOnly) || f.write(text->toUtf8()) < 0 || !f.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the resolver configuration %1: %2").arg(m_configPath, f.errorString()));
    return {};
}

QString Resolver::logTail() const
{
    QFile f(m_config.logFile);
    if (!f.open(QIODevice::ReadOnly))
        return QStringLiteral("(no log)");
    if (f.size() > kLogTailBytes)
        f.seek(f.size() - kLogTailBytes);
    return QString::fromUtf8(f.readAll()).trimmed();
}

Core::Result Resolver::waitUntilListening(qint64 pid) const
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < kStartTimeoutMs) {
        if (!isAlive(pid))
            return Core::Error(Core::ErrorCode::Io,
                               QStringLiteral("the resolver of VM slot %1 (dnsmasq) exited at start: %2").arg(m_config.slot).arg(logTail()));
        // dnsmasq writes its pid file once its sockets are bound.
        if (pidInFile(m_config.pidFile) == pid && answersTcp(m_config.listenAddress, NftRuleset::kDnsPort))
            return {};
        QThread::msleep(kPollIntervalMs);
    }
    return Core::Error(Core::ErrorCode::Timeout,
                       QStringLiteral("the resolver of VM slot %1 (dnsmasq) did not listen on %2 within kStartTimeoutMs (%3 ms): %4")
                           .arg(m_config.slot)
                           .arg(m_config.listenAddress.toString())
                           .arg(kStartTimeoutMs)
                           .arg(logTail()));
}

Core::Result Resolver::start()
{
    if (auto ok = stop(); !ok)
        return ok;
    const QString dnsmasq = HostTool::find(QStringLiteral("dnsmasq"));
    if (dnsmasq.isEmpty())
        return Core::Error(
            Core::ErrorCode::BinaryMissing,
            QStringLiteral("cannot start the resolver of VM slot %1: dnsmasq is not installed (Debian package dnsmasq-base)").arg(m_config.slot));
    if (auto ok = writeConfig(); !ok)
        return ok;
    boundLog(m_config.logFile);
    QFile::remove(m_config.pidFile);
    QProcess p;
    p.setProgram(dnsmasq);
    p.setArguments({QStringLiteral("--keep-in-foreground"), QLatin1String(kConfArgument) + m_configPath});
    p.setProcessEnvironment(HostTool::environment());
    p.setStandardInputFile(QProcess::nullDevice());
    p.setStandardOutputFile(m_config.logFile, QIODevice::Append);
    p.setStandardErrorFile(m_config.logFile, QIODevice::Append);
    qint64 pid = 0;
    if (!p.startDetached(&pid) || pid <= 0)
        return Core::Error(Core::ErrorCode::BinaryMissing,
                           QStringLiteral("cannot start the resolver of VM slot %1: %2 did not start").arg(m_config.slot).arg(dnsmasq));
    m_pid = pid;
    if (auto ok = waitUntilListening(pid); !ok) {
        [[maybe_unused]] const Core::Result stopped = stop();
        return ok;
    }
    return {};
}

Core::Result Resolver::replacePolicy(const NetworkPolicy &policy)
{
    m_config.policy = policy;
    return start();
}

Core::Result Resolver::stop()
{
    if (m_pid <= 0)
        return {};
    // Only ever our dnsmasq: a pid that was reused meanwhile is left alone.
    if (isResolverOf(m_pid, configFileName(m_config.table, m_config.slot)))
        if (auto ok = terminate(m_pid); !ok)
            return ok;
    m_pid = 0;
    QFile::remove(m_config.pidFile);
    return {};
}

void Resolver::rotateLog()
{
    if (QFileInfo(m_config.logFile).size() <= kMaxLogBytes)
        return;
    boundLog(m_config.logFile);
}

QList<Resolver::Running> Resolver::running(const QString &prefix)
{
    QList<Running> out;
    const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString &e : entries) {
        bool numeric = false;
        const qint64 pid = e.toLongLong(&numeric);
        if (!numeric)
            continue;
        const QString name = resolverConfigName(pid);
        // dnsmasq forks a child per TCP connection: only the parent counts.
        if (!name.isEmpty() && name.startsWith(prefix) && isAlive(pid) && resolverConfigName(parentOf(pid)) != name && inOwnNetworkNamespace(pid))
            out << Running{pid, name};
    }
    return out;
}

Core::Result Resolver::terminate(qint64 pid)
{
    for (const int signal : {SIGTERM, SIGKILL}) {
        if (::kill(pid_t(pid), signal) != 0)
            return errno == ESRCH ? Core::Result()
                                  : Core::Error(Core::ErrorCode::PermissionDenied, QStringLiteral("cannot signal resolver process %1").arg(pid));
        if (waitForExit(pid, kStopTimeoutMs))
            return {};
    }
    return Core::Error(Core::ErrorCode::Timeout,
                       QStringLiteral("resolver process %1 did not exit within kStopTimeoutMs (%2 ms) of SIGKILL").arg(pid).arg(kStopTimeoutMs));
}

} // namespace Net
