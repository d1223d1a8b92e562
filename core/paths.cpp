#include "core/paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include <sys/stat.h>
#include <unistd.h>

namespace Core::Paths {
namespace {

QString fromEnv(const char *name)
{
    return qEnvironmentVariable(name);
}

QString home()
{
    return QDir::homePath();
}

} // namespace

QString cacheDir()
{
    const QString env = fromEnv("MVS_CACHE_DIR");
    if (!env.isEmpty())
        return env;
    const QString xdg = fromEnv("XDG_CACHE_HOME");
    return (xdg.isEmpty() ? home() + QStringLiteral("/.cache") : xdg) + QStringLiteral("/microvm-sandbox");
}

QString dataDir()
{
    const QString env = fromEnv("MVS_DATA_DIR");
    if (!env.isEmpty())
        return env;
    const QString xdg = fromEnv("XDG_DATA_HOME");
    return (xdg.isEmpty() ? home() + QStringLiteral("/.local/share") : xdg) + QStringLiteral("/microvm-sandbox");
}

QString configDir()
{
    const QString env = fromEnv("MVS_CONFIG_DIR");
    if (!env.isEmpty())
        return env;
    const QString xdg = fromEnv("XDG_CONFIG_HOME");
    return (xdg.isEmpty() ? home() + QStringLiteral("/.config") : xdg) + QStringLiteral("/microvm-sandbox");
}

QString runtimeDir()
{
    const QString env = fromEnv("MVS_RUNTIME_DIR");
    if (!env.isEmpty())
        return env;
    const QString xdg = fromEnv("XDG_RUNTIME_DIR");
    if (!xdg.isEmpty() && QFileInfo(xdg).isWritable())
        return xdg + QStringLiteral("/microvm-sandbox");
    return QStringLiteral("/tmp/microvm-sandbox-%1").arg(::getuid());
}

Core::Result ensurePrivateDir(const QString &path)
{
    QDir dir(path);
    if (!dir.exists() && !QDir().mkpath(path))
        return Error(ErrorCode::Io, QStringLiteral("cannot create directory %1").arg(path));
    QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    return {};
}

Core::Result ensureOwnedPrivateDir(const QString &path)
{
    if (!QFileInfo::exists(path) && !QFileInfo(path).isSymLink() && !QDir().mkpath(path))
        return Error(ErrorCode::Io, QStringLiteral("cannot create directory %1").arg(path));
    // Never trust a directory someone else made (a shared /tmp): it must be
    // a real directory, not a link, and ours; then only we may use it.
    struct stat st { };
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return Error(ErrorCode::Io, QStringLiteral("cannot read directory %1").arg(path));
    if (S_ISLNK(st.st_mode) || !S_ISDIR(st.st_mode))
        return Error(ErrorCode::PermissionDenied, QStringLiteral("%1 is not a directory but a link or a file; refusing to use it (remove it)").arg(path));
    if (st.st_uid != ::geteuid())
        return Error(ErrorCode::PermissionDenied,
                     QStringLiteral("%1 belongs to another user (uid %2); refusing to use it (remove it, or set MVS_RUNTIME_DIR)").arg(path).arg(st.st_uid));
    if ((st.st_mode & 07777) != 0700 && ::chmod(QFile::encodeName(path).constData(), 0700) != 0)
        return Error(ErrorCode::Io, QStringLiteral("cannot make directory %1 private").arg(path));
    return {};
}

Core::Expected<QString> ensureRuntimeDir()
{
    const QString dir = runtimeDir();
    if (auto ok = ensureOwnedPrivateDir(dir); !ok)
        return ok.error();
    return dir;
}

QString installedDataDir()
{
    const QString appDir = QCoreApplication::instance() ? QCoreApplication::applicationDirPath() : QString();
    return appDir.isEmpty() ? QString() : QDir::cleanPath(appDir + QStringLiteral("/../share/microvm-sandbox"));
}

QStringList templateSearchPath()
{
    QStringList dirs;
    const QString env = fromEnv("MVS_TEMPLATE_PATH");
    if (!env.isEmpty())
        dirs += env.split(QLatin1Char(':'), Qt::SkipEmptyParts);
    dirs << configDir() + QStringLiteral("/templates");
    if (const QString share = installedDataDir(); !share.isEmpty())
        dirs << share + QStringLiteral("/templates");
    dirs << QStringLiteral(MVS_SOURCE_DIR "/templates");
    return dirs;
}

QString novncDir()
{
    const QString env = fromEnv("MVS_NOVNC_DIR");
    if (!env.isEmpty())
        return env;
    const QString share = installedDataDir();
    if (!share.isEmpty() && QFileInfo::exists(share + QStringLiteral("/novnc/core/rfb.js")))
        return share + QStringLiteral("/novnc");
    return QStringLiteral("/usr/share/novnc");
}

QString agentBinary()
{
    const QString env = fromEnv("MVS_AGENT_BINARY");
    if (!env.isEmpty())
        return env;
    const QString appDir = QCoreApplication::instance() ? QCoreApplication::applicationDirPath() : QString();
    if (!appDir.isEmpty()) {
        for (const QString &rel : {QStringLiteral("/microvm-agent"), QStringLiteral("/../guest-agent/microvm-agent"),
                                   QStringLiteral("/../../guest-agent/microvm-agent"), QStringLiteral("/../libexec/microvm-sandbox/microvm-agent")}) {
            const QString p = QDir::cleanPath(appDir + rel);
            if (QFileInfo(p).isExecutable())
                return p;
        }
    }
    return {};
}

} // namespace Core::Paths
