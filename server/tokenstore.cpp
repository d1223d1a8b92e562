#include "server/tokenstore.h"

#include "core/paths.h"

#include <QFile>
#include <QFileInfo>
#include <QRandomGenerator>
#include <QSaveFile>

namespace Server {

TokenStore::TokenStore(QString path)
    : m_path(path.isEmpty() ? defaultPath() : std::move(path))
{
}

QString TokenStore::defaultPath()
{
    return Core::Paths::configDir() + QStringLiteral("/token");
}

QByteArray TokenStore::generate()
{
    QByteArray raw(kTokenBytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(raw.data()), kTokenBytes / sizeof(quint32));
    return raw.toHex();
}

bool TokenStore::equals(QByteArrayView a, QByteArrayView b)
{
    if (a.size() != b.size())
        return false;
    unsigned char diff = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

Core::Expected<QByteArray> TokenStore::load() const
{
    QFile f(m_path);
    if (!f.exists())
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no token file %1").arg(m_path));
    if (!f.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read the token file %1: %2").arg(m_path, f.errorString()));
    const QByteArray token = f.read(4096).trimmed();
    if (token.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the token file %1 is empty").arg(m_path));
    for (char c : token) {
        if (c <= ' ' || c > '~')
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the token file %1 holds more than one printable word").arg(m_path));
    }
    return token;
}

Core::Expected<QByteArray> TokenStore::loadOrCreate(bool *created) const
{
    if (created)
        *created = false;
    auto existing = load();
    if (existing || existing.error().code != Core::ErrorCode::NotFound)
        return existing;

    // A missing directory is made private; an existing one is left as it is
    // (the path may be anywhere).
    const QString dir = QFileInfo(m_path).absolutePath();
    if (!QFileInfo::exists(dir)) {
        if (auto ok = Core::Paths::ensurePrivateDir(dir); !ok)
            return ok.error();
    }
    const QByteArray token = generate();
    QSaveFile f(m_path);
    if (!f.open(QIODevice::WriteOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the token file %1: %2").arg(m_path, f.errorString()));
    // The temporary file gets the mode before the token is written into it.
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    f.write(token + '\n');
    if (!f.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the token file %1: %2").arg(m_path, f.errorString()));
    if (created)
        *created = true;
    return token;
}

} // namespace Server
