#pragma once

#include "core/expected.h"

#include <QFile>
#include <QSet>
#include <QString>

namespace Image {

// Writes an uncompressed "newc" cpio archive, the format the Linux kernel
// unpacks as an initramfs. Entries are written as given (owner root), so
// device nodes need no privileges on the host.
class CpioWriter {
public:
    explicit CpioWriter(const QString &path);

    Core::Result open();
    // Parent directories are added automatically (mode 0755).
    Core::Result addDirectory(const QString &path, quint32 mode = 0755);
    Core::Result addFile(const QString &path, const QByteArray &data, quint32 mode = 0644);
    Core::Result addFileFrom(const QString &path, const QString &hostPath, quint32 mode);
    Core::Result addSymlink(const QString &path, const QString &target);
    Core::Result addCharDevice(const QString &path, quint32 mode, quint32 major, quint32 minor);
    // Writes the trailer and closes.
    Core::Result finish();

private:
    Core::Result ensureParents(const QString &path);
    Core::Result writeEntry(const QString &path, quint32 mode, const QByteArray &data, quint32 rdevMajor = 0, quint32 rdevMinor = 0);

    QFile m_file;
    quint32 m_nextInode = 1;
    QSet<QString> m_dirs;
};

} // namespace Image
