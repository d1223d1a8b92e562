#pragma once

#include "core/expected.h"

#include <QString>

#include <memory>

class QLockFile;

namespace Vm {

// One state directory, one service: the lock a service (the GUI's or
// --serve) holds on its VM records for its whole life, so a second one on
// the same directory is refused instead of overwriting the first one's
// records and deleting the disks of VMs it runs. A holder that died (same
// host, its pid gone) leaves a stale lock that the next acquire takes over.
class StateDirLock {
    Q_DISABLE_COPY_MOVE(StateDirLock)
public:
    // The directory is made (0700) if missing. AlreadyExists names the
    // holder (program, pid, host) when another process holds it.
    static Core::Expected<std::unique_ptr<StateDirLock>> acquire(const QString &dir);
    ~StateDirLock();

    static QString lockPath(const QString &dir);

private:
    explicit StateDirLock(std::unique_ptr<QLockFile> lock);

    std::unique_ptr<QLockFile> m_lock;
};

} // namespace Vm
