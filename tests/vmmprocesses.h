#pragma once
// The VMM processes (QEMU, cloud-hypervisor) that belong to a test's
// directories, found by what they hold rather than by their command line: a
// root service passes its VMM (run as the VMM user) its sockets, disks and
// kernel as descriptors, so the command line may name none of its paths.
// The same rules as tests/reaptestvmms.sh, the cleanup step that reaps what a
// crashed test left.

#include <QDir>
#include <QFile>
#include <QList>
#include <QSet>
#include <QString>

#include <climits>
#include <optional>
#include <unistd.h>

namespace VmmProcesses {

// Whether /proc/<pid>/comm names a VMM (comm is cut at 15 bytes).
inline bool isVmm(const QString &pid)
{
    QFile comm(QStringLiteral("/proc/%1/comm").arg(pid));
    if (!comm.open(QIODevice::ReadOnly))
        return false;
    const QByteArray name = comm.readAll().trimmed();
    return name.startsWith("qemu-system") || name.startsWith("cloud-hyperviso");
}

// The inodes of the Unix sockets (of `pid`'s network namespace) bound to a
// path under `dir`: /proc/<pid>/net/unix lists "... Inode Path" per socket.
inline QSet<QByteArray> unixSocketInodesUnder(const QString &pid, const QByteArray &dir)
{
    QSet<QByteArray> inodes;
    QFile f(QStringLiteral("/proc/%1/net/unix").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return inodes;
    f.readLine(); // the header
    while (!f.atEnd()) {
        const QList<QByteArray> cols = f.readLine().simplified().split(' ');
        if (cols.size() >= 8 && cols.at(7).startsWith(dir))
            inodes.insert(cols.at(6));
    }
    return inodes;
}

// What a /proc/<pid>/fd/<n> link says: a path, or "socket:[inode]" and the like.
inline QByteArray linkTarget(const QString &link)
{
    char buf[PATH_MAX];
    const ssize_t n = ::readlink(QFile::encodeName(link).constData(), buf, sizeof(buf));
    return n > 0 ? QByteArray(buf, int(n)) : QByteArray();
}

// Whether `pid` holds a descriptor naming a path under `dir` (a file it was
// passed or opened) or a Unix socket bound under it, or names `dir` on its
// command line (a VMM started with paths).
inline bool holdsSomethingUnder(const QString &pid, const QString &dir)
{
    const QByteArray prefix = QFile::encodeName(QDir::cleanPath(dir)) + '/';
    QFile cmd(QStringLiteral("/proc/%1/cmdline").arg(pid));
    if (cmd.open(QIODevice::ReadOnly) && cmd.readAll().contains(prefix))
        return true;
    const QDir fds(QStringLiteral("/proc/%1/fd").arg(pid));
    std::optional<QSet<QByteArray>> sockets; // read once, at the first socket
    for (const QString &fd : fds.entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot)) {
        const QByteArray target = linkTarget(fds.filePath(fd));
        if (target.startsWith(prefix))
            return true;
        if (!target.startsWith("socket:[") || !target.endsWith(']'))
            continue;
        if (!sockets)
            sockets = unixSocketInodesUnder(pid, prefix);
        if (sockets->contains(target.mid(8, target.size() - 9)))
            return true;
    }
    return false;
}

// The pids of the VMMs that hold something under `dir`.
inline QList<qint64> vmmsUnder(const QString &dir)
{
    QList<qint64> pids;
    for (const QString &pid : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        bool numeric = false;
        const qint64 n = pid.toLongLong(&numeric);
        if (numeric && isVmm(pid) && holdsSomethingUnder(pid, dir))
            pids << n;
    }
    return pids;
}

} // namespace VmmProcesses
