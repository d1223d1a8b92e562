#pragma once
// Operations inside a running guest, through its agent: exec (collected,
// with a cap, or streamed over a WebSocket by ExecSocket), files (upload,
// download, list) and the serial console's log. Every exec is counted here,
// once, whichever way it came.

#include "server/apitypes.h"

namespace Agent {
class ExecHandle;
struct ExecRequest;
struct ExecResult;
} // namespace Agent
namespace Vm {
class VmManager;
}

namespace Server {

class ActivityLog;
class Metrics;
class ProcessController;
class Router;

class GuestController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GuestController)
public:
    static constexpr qint64 kDefaultConsoleBytes = 256 * 1024;
    static constexpr qint64 kMaxConsoleBytes = 16 * 1024 * 1024;
    static constexpr double kMaxExecTimeoutS = 7 * 24 * 3600;

    // The manager, the metrics and the processes must outlive the
    // controller. An exec with "background": true goes to `processes`.
    // Execs and file transfers are told to `activity` (may be null) as they end.
    GuestController(Vm::VmManager &manager, Metrics &metrics, ProcessController &processes, ActivityLog *activity = nullptr, QObject *parent = nullptr);

    // Its routes, the exec WebSocket's among them.
    void addRoutes(Router &router);

    ApiFuture exec(const Request &request);
    ApiFuture putFile(const Request &request);
    ApiFuture getFile(const Request &request);
    ApiFuture listFiles(const Request &request);
    ApiFuture console(const Request &request);

    // The body of POST .../exec (and the first WebSocket message); its
    // "background" is checked here and acted on by the caller.
    static ApiExpected<Agent::ExecRequest> parseExecRequest(const QByteArray &body);
    // A command started with stdin left open, for streamed exec: the handle
    // (a child of the VM's agent client; output comes as its signals), or
    // why it could not start (counted as a failed exec).
    ApiExpected<Agent::ExecHandle *> execStream(const QString &name, const QByteArray &requestJson);
    // One exec ended: it ran (an exit status came back) or it failed.
    void countExec(bool ran, bool timedOut = false);
    // One exec of the VM came back with its status: the VM's series and a log line.
    void countVmExec(const QString &vm, const Agent::ExecResult &result, quint64 outputBytes);
    // A streamed exec ended (ExecSocket): one event of the VM's activity,
    // with its exit code, or the error's code when it failed.
    void tellStreamedExec(const QString &vm, const QByteArray &requestJson, const Core::Expected<Agent::ExecResult> &result, qint64 durationMs);

private:
    ApiExpected<Agent::ExecHandle *> startExec(const QString &name, const QByteArray &requestJson, bool streamStdin);
    // The answer to POST .../exec: its output collected up to the cap.
    ApiFuture collect(const QString &vm, Agent::ExecHandle *handle);

    // `answer` as one event of the VM's activity (see ActivityLog::track).
    ApiFuture tracked(const QString &vm, const QString &action, QJsonObject detail, ApiFuture answer, const char *sizeField = nullptr);

    Vm::VmManager &m_manager;
    Metrics &m_metrics;
    ProcessController &m_processes;
    ActivityLog *m_activity;
};

} // namespace Server
