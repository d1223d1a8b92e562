#pragma once

#include "core/async.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QStringList>

namespace Agent {

class AgentClient;

struct ExecRequest {
    QStringList argv;   // run argv[0] with these arguments (PATH lookup in the guest)...
    QString shell;      // ...or, when argv is empty, this string with /bin/sh -c
    QStringList env;    // "NAME=value" added to the agent's environment
    bool clearEnv = false;
    QString cwd;        // empty: /
    QByteArray stdinData; // sent then closed, unless streamStdin
    bool streamStdin = false; // stdin stays open for ExecHandle::writeStdin
    int timeoutMs = 0;  // 0: none; on expiry the guest kills the process group
    bool collectOutput = true; // keep stdout/stderr in the ExecResult
};

struct ExecResult {
    int exitCode = -1; // valid when signal == 0
    int signal = 0;    // terminating signal, 0 when it exited
    bool timedOut = false;
    qint64 durationUs = 0;
    int pid = 0;
    QByteArray stdoutData;
    QByteArray stderrData;
};

// One running command in the guest. Output arrives as signals while it runs;
// result() resolves with the exit status (and the collected output), or with
// an error if it could not start or the agent went away.
class ExecHandle final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ExecHandle)
public:
    ~ExecHandle() override;

    quint32 streamId() const { return m_stream; }
    Core::Future<ExecResult> result() const { return m_promise.future(); }
    bool isFinished() const { return m_promise.isResolved(); }

    void writeStdin(const QByteArray &data);
    void closeStdin();
    // Kill the process group in the guest; result() still resolves (signal 9).
    void cancel();

Q_SIGNALS:
    void started(int pid);
    void stdoutReceived(const QByteArray &data);
    void stderrReceived(const QByteArray &data);
    void finished(const Agent::ExecResult &result);
    void failed(const Core::Error &error);

private:
    friend class AgentClient;
    ExecHandle(AgentClient *client, quint32 stream, bool collect);
    void onStarted(int pid);
    void onOutput(bool isStderr, const QByteArray &data);
    void onExit(ExecResult r);
    void onError(const Core::Error &e);

    QPointer<AgentClient> m_client; // null once the client is being destroyed (it is our parent)
    quint32 m_stream;
    bool m_collect;
    ExecResult m_result;
    Core::Promise<ExecResult> m_promise;
};

} // namespace Agent

Q_DECLARE_METATYPE(Agent::ExecResult)
