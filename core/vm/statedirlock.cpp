#include "core/vm/statedirlock.h"

#include "core/paths.h"

#include <QLockFile>

namespace Vm {

namespace {

Core::Error heldBy(const QString &dir, const QLockFile &lock)
{
    qint64 pid = 0;
    QString host;
    QString program;
    if (!lock.getLockInfo(&pid, &host, &program))
        return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("the VM directory %1 is in use by another service").arg(dir));
    return Core::Error(Core::ErrorCode::AlreadyExists,
                       QStringLiteral("the VM directory %1 is in use by %2 (pid %3 on %4): stop it, or give this one another data directory (MVS_DATA_DIR)")
                           .arg(dir, program.isEmpty() ? QStringLiteral("another service") : program)
                           .arg(pid)
                           .arg(host));
}

} // namespace

QString StateDirLock::lockPath(const QString &dir)
{
    return dir + QStringLiteral("/.lock");
}

Core::Expected<std::unique_ptr<StateDirLock>> StateDirLock::acquire(const QString &dir)
{
    if (auto made = Core::Paths::ensurePrivateDir(dir); !made)
        return made.error();
    auto lock = std::make_unique<QLockFile>(lockPath(dir));
    // Never stale by age: a service runs for months. A dead holder is still
    // recognised (same host, no such process) and its lock taken over.
    lock->setStaleLockTime(0);
    if (lock->tryLock(0))
        return std::unique_ptr<StateDirLock>(new StateDirLock(std::move(lock)));
    switch (lock->error()) {
    case QLockFile::LockFailedError: return heldBy(dir, *lock);
    case QLockFile::PermissionError:
        return Core::Error(Core::ErrorCode::PermissionDenied, QStringLiteral("cannot create the lock file %1: permission denied").arg(lockPath(dir)));
    default: return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot lock the VM directory %1").arg(dir));
    }
}

StateDirLock::StateDirLock(std::unique_ptr<QLockFile> lock)
    : m_lock(std::move(lock))
{
}

StateDirLock::~StateDirLock() = default;

} // namespace Vm
