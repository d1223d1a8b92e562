#pragma once

#include "core/agent/streamlimits.h"
#include "core/async.h"

#include <QByteArray>
#include <QObject>
#include <QPointer>
#include <QStringList>

#include <memory>

namespace Agent {

class AgentClient;
class ExecStream;

struct ExecRequest {
    QStringList argv; // run argv[0] with these arguments (PATH lookup in the guest)...
    QString shell; // ...or, when argv is empty, this string with /bin/sh -c
    QStringList env; // "NAME=value" added to the agent's environment
    bool clearEnv = false;
    QString cwd; // empty: /
    QByteArray stdinData; // sent then closed, unless streamStdin
    bool streamStdin = false; // stdin stays open for ExecHandle::writeStdin
    int timeoutMs = 0; // 0: none; on expiry the guest kills the process group
    bool collectOutput = true; // keep stdout/stderr in the ExecResult
    // maxBytes: what the ExecResult keeps of stdout, and of stderr; the rest
    // is dropped and the result says truncated (the signals still carry
    // every byte). deadlineMs: when the host gives up on the guest (0:
    // timeoutMs plus StreamLimits::kExecDeadlineGraceMs, none without one).
    StreamLimits limits = StreamLimits::exec();
};

struct ExecResult {
    int exitCode = -1; // valid when signal == 0
    int signal = 0; // terminating signal, 0 when it exited
    bool timedOut = false;
    qint64 durationUs = 0;
    int pid = 0;
    QByteArray stdoutData;
    QByteArray stderrData;
    bool stdoutTruncated = false; // stdoutData stops at ExecRequest::limits.maxBytes
    bool stderrTruncated = false;
};

// A command the host needs done in the guest (a restored guest's clock and
// RNG, a fork's host name): nothing when it exited 0, else why not, after
// `what`: the run's own error (Timeout when the guest did not answer by the
// host's deadline), Timeout when the guest killed it at its timeout, Agent
// when it exited non-zero or by a signal (with its stderr, guestText()).
Core::Result requireSuccess(const Core::Expected<ExecResult> &result, const QString &what);

// One running command in the guest. Output arrives as signals while it runs;
// result() resolves with the exit status (and the collected output), or with
// an error if it could not start, the agent went away, or the guest did not
// report the exit by the request's deadline (Timeout; the command is then
// killed in the guest). The state is the ExecStream's; this is its face.
class ExecHandle final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ExecHandle)
public:
    ~ExecHandle() override;

    quint32 streamId() const;
    Core::Future<ExecResult> result() const;
    bool isFinished() const;

    // Queued; it goes out while the agent channel has room. Stop writing
    // while stdinBytesToWrite() is high.
    void writeStdin(const QByteArray &data);
    void closeStdin();
    qint64 stdinBytesToWrite() const;
    // The output's reader is behind: the guest stops reading the command's
    // output once the credit in flight is spent (at most
    // Protocol::kStreamWindow more bytes arrive after pausing); other
    // operations on the VM go on. A deleted handle unpauses.
    void setOutputPaused(bool paused);
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
    ExecHandle(AgentClient *client, std::shared_ptr<ExecStream> stream);

    std::shared_ptr<ExecStream> m_stream; // its state and its promise
};

} // namespace Agent

Q_DECLARE_METATYPE(Agent::ExecResult)
