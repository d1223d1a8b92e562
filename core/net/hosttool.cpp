#include "core/net/hosttool.h"

#include <QProcess>
#include <QStandardPaths>

namespace Net {

namespace {

const QStringList &toolPath()
{
    static const QStringList p = {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin"), QStringLiteral("/usr/bin"), QStringLiteral("/bin")};
    return p;
}

QString commandLine(const QString &name, const QStringList &arguments)
{
    return (QStringList{name} + arguments).join(QLatin1Char(' '));
}

} // namespace

QProcessEnvironment HostTool::environment()
{
    QProcessEnvironment env;
    env.insert(QStringLiteral("PATH"), toolPath().join(QLatin1Char(':')));
    env.insert(QStringLiteral("LC_ALL"), QStringLiteral("C.UTF-8"));
    return env;
}

QString HostTool::find(const QString &name)
{
    return QStandardPaths::findExecutable(name, toolPath());
}

Core::Expected<QByteArray> HostTool::run(const QString &name, const QStringList &arguments, const QString &what, const QByteArray &input)
{
    const QString program = find(name);
    if (program.isEmpty())
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot %1: %2 is not installed").arg(what, name));
    QProcess p;
    p.setProcessEnvironment(environment());
    p.start(program, arguments);
    if (!p.waitForStarted(kTimeoutMs))
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot %1: %2 did not start (%3)").arg(what, program, p.errorString()));
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(kTimeoutMs)) {
        p.kill();
        p.waitForFinished(kTimeoutMs);
        return Core::Error(Core::ErrorCode::Timeout,
                           QStringLiteral("cannot %1: `%2` did not finish in %3 ms").arg(what, commandLine(name, arguments)).arg(kTimeoutMs));
    }
    const QByteArray out = p.readAllStandardOutput().left(kMaxOutputBytes);
    const QString err = QString::fromUtf8(p.readAllStandardError().left(kMaxOutputBytes)).trimmed();
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        const Core::ErrorCode code = err.contains(QLatin1String("Operation not permitted")) ? Core::ErrorCode::PermissionDenied : Core::ErrorCode::Io;
        return Core::Error(code, QStringLiteral("cannot %1: `%2` failed (exit %3): %4").arg(what, commandLine(name, arguments)).arg(p.exitCode()).arg(err));
    }
    return out;
}

} // namespace Net
