#pragma once
// The real microvm-agent run on the host, listening on a Unix socket, for
// the suites that talk to an agent without a guest.

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>
#include <QTest>

namespace HostAgent {

// Starts `p` as the agent on `socket`; true once the socket exists.
inline bool start(QProcess &p, const QString &socket)
{
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    p.start(QStringLiteral(MVS_AGENT_BINARY), {QStringLiteral("--unix"), socket, QStringLiteral("--no-shutdown")});
    if (!p.waitForStarted())
        return false;
    QDeadlineTimer d(5000);
    while (!QFile::exists(socket) && !d.hasExpired())
        QTest::qWait(10);
    return QFile::exists(socket);
}

// The commands the host runs in a guest to set it up after a restore or a
// fork (the clock, the RNG reseed, the host name) would change this machine
// when the "guest" is the host agent. With these stubs first on the agent's
// PATH they only write their arguments to <stubDir>/<command>.args (the
// reseed also takes its seed from stdin).
inline const QStringList kStubbedCommands{QStringLiteral("date"), QStringLiteral("hostname"), QStringLiteral("microvm-agent")};

// Writes <stubDir>/<command> as a shell script with this body: a guest
// command that fails or hangs (writeCommandStubs() puts the usual one back).
inline bool writeStub(const QString &stubDir, const QString &command, const QByteArray &body)
{
    const QString path = stubDir + QLatin1Char('/') + command;
    QFile f(path + QStringLiteral(".new"));
    if (!f.open(QIODevice::WriteOnly))
        return false;
    f.write("#!/bin/sh\n" + body + "\n");
    f.close();
    f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
    // Renamed into place: the agent may be running the old one right now.
    QFile::remove(path);
    return f.rename(path);
}

inline bool writeCommandStubs(const QString &stubDir)
{
    for (const QString &command : kStubbedCommands) {
        QByteArray body = "echo \"$*\" >> \"$(dirname \"$0\")/" + command.toUtf8() + ".args\"";
        if (command == QLatin1String("microvm-agent"))
            body += "\ncat >/dev/null";
        if (!writeStub(stubDir, command, body))
            return false;
    }
    return true;
}

// As start(), with the command stubs in stubDir first on the agent's PATH.
inline bool startWithStubs(QProcess &p, const QString &socket, const QString &stubDir)
{
    if (!writeCommandStubs(stubDir))
        return false;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("PATH"), stubDir + QLatin1Char(':') + env.value(QStringLiteral("PATH")));
    p.setProcessEnvironment(env);
    return start(p, socket);
}

// What a stub was called with, one line per call.
inline QStringList stubCalls(const QString &stubDir, const QString &command)
{
    QFile f(stubDir + QLatin1Char('/') + command + QStringLiteral(".args"));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
}

inline void stop(QProcess &p)
{
    p.terminate();
    if (!p.waitForFinished(5000)) {
        p.kill();
        p.waitForFinished(5000);
    }
}

} // namespace HostAgent
