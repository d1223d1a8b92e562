#pragma once
// The real microvm-agent run on the host, listening on a Unix socket, for
// the suites that talk to an agent without a guest.

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
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

inline void stop(QProcess &p)
{
    p.terminate();
    if (!p.waitForFinished(5000)) {
        p.kill();
        p.waitForFinished(5000);
    }
}

} // namespace HostAgent
