#pragma once

#include "core/expected.h"

#include <QString>

namespace Net {

// An exclusive flock(2) on a file, held while this object lives (move-only).
// The kernel drops it when the holder dies, however it dies: whether a lock
// is free tells whether its owner is alive. Lock files are never deleted
// (deleting one races with a process about to lock it); they are a few bytes
// in a tmpfs.
class FileLock {
public:
    static constexpr int kRetryIntervalMs = 20;

    // Creates the file (0600) if missing and locks it, trying for up to
    // waitMs (another process may hold it a moment: a start-up reconciling a
    // dead owner's leftovers holds that owner's lock while it cleans).
    // AlreadyExists when another process still holds it.
    static Core::Expected<FileLock> tryAcquire(const QString &path, int waitMs = 0);
    // Whether a live process holds the lock at path (a missing file: no).
    static bool isHeld(const QString &path);

    FileLock() = default;
    FileLock(FileLock &&other) noexcept;
    FileLock &operator=(FileLock &&other) noexcept;
    FileLock(const FileLock &) = delete;
    FileLock &operator=(const FileLock &) = delete;
    ~FileLock();

    bool isLocked() const { return m_fd >= 0; }
    QString path() const { return m_path; }
    void unlock();

private:
    int m_fd = -1;
    QString m_path;
};

} // namespace Net
