#include "core/image/cpiowriter.h"

#include <sys/stat.h>

namespace Image {

CpioWriter::CpioWriter(const QString &path)
    : m_file(path)
{
}

Core::Result CpioWriter::open()
{
    if (!m_file.open(QIODevice::WriteOnly | QIODevice::Truncate))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(m_file.fileName(), m_file.errorString()));
    return {};
}

Core::Result CpioWriter::ensureParents(const QString &path)
{
    const QStringList parts = path.split(QLatin1Char('/'), Qt::SkipEmptyParts);
    QString cur;
    for (int i = 0; i + 1 < parts.size(); ++i) {
        cur += (cur.isEmpty() ? QString() : QStringLiteral("/")) + parts.at(i);
        if (!m_dirs.contains(cur)) {
            m_dirs.insert(cur);
            if (auto r = writeEntry(cur, S_IFDIR | 0755, {}); !r)
                return r;
        }
    }
    return {};
}

Core::Result CpioWriter::addDirectory(const QString &path, quint32 mode)
{
    const QString p = path.mid(path.startsWith(QLatin1Char('/')) ? 1 : 0);
    if (auto r = ensureParents(p); !r)
        return r;
    if (m_dirs.contains(p))
        return {};
    m_dirs.insert(p);
    return writeEntry(p, S_IFDIR | (mode & 07777), {});
}

Core::Result CpioWriter::addFile(const QString &path, const QByteArray &data, quint32 mode)
{
    const QString p = path.mid(path.startsWith(QLatin1Char('/')) ? 1 : 0);
    if (auto r = ensureParents(p); !r)
        return r;
    return writeEntry(p, S_IFREG | (mode & 07777), data);
}

Core::Result CpioWriter::addFileFrom(const QString &path, const QString &hostPath, quint32 mode)
{
    QFile f(hostPath);
    if (!f.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read %1: %2").arg(hostPath, f.errorString()));
    return addFile(path, f.readAll(), mode);
}

Core::Result CpioWriter::addSymlink(const QString &path, const QString &target)
{
    const QString p = path.mid(path.startsWith(QLatin1Char('/')) ? 1 : 0);
    if (auto r = ensureParents(p); !r)
        return r;
    return writeEntry(p, S_IFLNK | 0777, target.toUtf8());
}

Core::Result CpioWriter::addCharDevice(const QString &path, quint32 mode, quint32 major, quint32 minor)
{
    const QString p = path.mid(path.startsWith(QLatin1Char('/')) ? 1 : 0);
    if (auto r = ensureParents(p); !r)
        return r;
    return writeEntry(p, S_IFCHR | (mode & 07777), {}, major, minor);
}

Core::Result CpioWriter::writeEntry(const QString &path, quint32 mode, const QByteArray &data, quint32 rdevMajor, quint32 rdevMinor)
{
    const QByteArray name = path.toUtf8();
    auto hex = [](quint32 v) { return QByteArray::number(v, 16).rightJustified(8, '0'); };
    QByteArray header = "070701";
    header += hex(m_nextInode++);
    header += hex(mode);
    header += hex(0); // uid
    header += hex(0); // gid
    header += hex((mode & S_IFMT) == S_IFDIR ? 2 : 1); // nlink
    header += hex(0); // mtime: reproducible
    header += hex(static_cast<quint32>(data.size()));
    header += hex(0) + hex(0); // dev
    header += hex(rdevMajor) + hex(rdevMinor);
    header += hex(static_cast<quint32>(name.size() + 1));
    header += hex(0); // check
    header += name;
    header += '\0';
    while (header.size() % 4)
        header += '\0';
    QByteArray body = data;
    while (body.size() % 4)
        body += '\0';
    if (m_file.write(header) != header.size() || m_file.write(body) != body.size())
        return Core::Error(m_file.error() == QFileDevice::ResourceError ? Core::ErrorCode::NoSpace : Core::ErrorCode::Io,
                           QStringLiteral("writing %1: %2").arg(m_file.fileName(), m_file.errorString()));
    return {};
}

Core::Result CpioWriter::finish()
{
    if (auto r = writeEntry(QStringLiteral("TRAILER!!!"), 0, {}); !r)
        return r;
    if (!m_file.flush())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("writing %1: %2").arg(m_file.fileName(), m_file.errorString()));
    m_file.close();
    return {};
}

} // namespace Image
