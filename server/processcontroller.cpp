#include "server/processcontroller.h"

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"
#include "server/apijson.h"
#include "server/guestcontroller.h"
#include "server/outputtext.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>

#include <csignal>

namespace Server {

using namespace ApiJson;

namespace {

QJsonObject processToJson(const Agent::ProcessInfo &p)
{
    return QJsonObject{{QStringLiteral("pid"), p.pid},
                       {QStringLiteral("command"), QJsonArray::fromStringList(p.command)},
                       {QStringLiteral("running"), p.running},
                       {QStringLiteral("exit_code"), p.exitCode ? QJsonValue(*p.exitCode) : QJsonValue(QJsonValue::Null)},
                       {QStringLiteral("signal"), p.signal ? QJsonValue(*p.signal) : QJsonValue(QJsonValue::Null)},
                       {QStringLiteral("started_at"), timeOrNull(p.startedAt)},
                       {QStringLiteral("ended_at"), timeOrNull(p.endedAt)}};
}

// The route's VM agent and {pid}.
struct Target {
    Agent::AgentClient *agent = nullptr;
    qint32 pid = 0;
};

ApiExpected<Target> target(const Vm::VmManager &manager, const Request &request)
{
    auto agent = manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return ApiError::fromCore(agent.error());
    bool ok = false;
    const int pid = request.param(QStringLiteral("pid")).toInt(&ok);
    if (!ok || pid < 1)
        return ApiError(ApiError::Code::NotFound,
                        QStringLiteral("no background process '%1': a pid is a positive integer").arg(request.param(QStringLiteral("pid")).left(16)));
    return Target{*agent, pid};
}

// A byte offset from the query (default 0).
ApiExpected<quint64> offsetParam(const Request &request, const QString &name)
{
    if (!request.query.hasQueryItem(name))
        return 0;
    bool ok = false;
    const qulonglong offset = request.query.queryItemValue(name).toULongLong(&ok);
    if (!ok)
        return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("'%1' must be a byte offset, an integer from 0").arg(name));
    return offset;
}

// "signal": a number or a name (TERM, SIGKILL, ...); TERM when left out.
ApiExpected<int> signalFrom(const QByteArray &body)
{
    static const QHash<QString, int> kNames{{QStringLiteral("HUP"), SIGHUP},   {QStringLiteral("INT"), SIGINT},   {QStringLiteral("QUIT"), SIGQUIT},
                                            {QStringLiteral("KILL"), SIGKILL}, {QStringLiteral("USR1"), SIGUSR1}, {QStringLiteral("USR2"), SIGUSR2},
                                            {QStringLiteral("TERM"), SIGTERM}, {QStringLiteral("CONT"), SIGCONT}, {QStringLiteral("STOP"), SIGSTOP}};
    auto parsed = parseOptionalObject(body, {QStringLiteral("signal")});
    if (!parsed)
        return parsed.error();
    const QJsonValue v = parsed->value(QStringLiteral("signal"));
    if (v.isUndefined() || v.isNull())
        return SIGTERM;
    QString name = v.toString().toUpper();
    if (name.startsWith(QLatin1String("SIG")))
        name = name.mid(3);
    if (isInteger(v) && v.toInt() >= 1 && v.toInt() < NSIG)
        return v.toInt();
    if (v.isString() && kNames.contains(name))
        return kNames.value(name);
    return wrongType(QStringLiteral("signal"), QStringLiteral("a signal number or one of HUP, INT, QUIT, KILL, USR1, USR2, TERM, CONT, STOP"));
}

// What a ProcessWrite frame's payload holds besides the data, at most.
constexpr qint64 kStdinWriteOverheadBytes = 64;

// Whether a start's stdin goes to the agent in one write (its frame limit)
// and fits what the guest holds of a process's stdin.
bool stdinFits(const Agent::AgentClient &client, const QByteArray &data)
{
    return data.size() <= ProcessController::kMaxStartStdinBytes && data.size() + kStdinWriteOverheadBytes <= qint64(client.maxPayload());
}

// Writes a just started process's stdin: the process as the write left
// it, or the write's error, the process removed (killed) rather than left
// waiting for a stdin that never comes.
Core::Future<Agent::ProcessInfo> writeStartStdin(const QPointer<Agent::AgentClient> &client, const Agent::ProcessInfo &started, const QByteArray &data,
                                                 QObject *context)
{
    if (!client)
        return Core::readyFuture<Agent::ProcessInfo>(Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("the guest agent went away")));
    Core::Promise<Agent::ProcessInfo> done;
    Core::whenDone(client->writeProcessStdin(started.pid, data, false), context,
                   [client, pid = started.pid, done](const Core::Expected<Agent::ProcessInfo> &r) {
                       if (r)
                           return done.resolve(r);
                       if (client)
                           client->removeProcess(pid);
                       Core::Error error = r.error();
                       error.message = QStringLiteral("process %1 was started, then removed: its stdin could not be written: %2").arg(pid).arg(error.message);
                       done.resolve(error);
                   });
    return done.future();
}

} // namespace

ProcessController::ProcessController(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
}

void ProcessController::addRoutes(Router &router)
{
    using C = ProcessController;
    // POST .../exec with "background": true comes through GuestController.
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/processes"), this, &C::list, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/processes/{pid}"), this, &C::status, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/processes/{pid}/output"), this, &C::output, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/processes/{pid}/stdin"), this, &C::writeStdin, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/processes/{pid}/kill"), this, &C::kill, {.role = Role::Operator});
    router.add("DELETE", QStringLiteral("/api/v1/vms/{name}/processes/{pid}"), this, &C::remove, {.role = Role::Operator});
}

bool ProcessController::backgroundRequested(const QByteArray &execBody)
{
    const QJsonDocument doc = QJsonDocument::fromJson(execBody);
    return doc.isObject() && doc.object().value(QStringLiteral("background")).toBool();
}

ApiFuture ProcessController::start(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return finished(ApiError::fromCore(agent.error()));
    auto exec = GuestController::parseExecRequest(request.body);
    if (!exec)
        return finished(exec.error());
    const QByteArray stdinData = std::exchange(exec->stdinData, QByteArray());
    const QPointer<Agent::AgentClient> client = *agent;
    if (!stdinFits(*client, stdinData))
        return finished(ApiError(ApiError::Code::PayloadTooLarge,
                                 QStringLiteral("'stdin' of a background process is at most %1 bytes at the start: write the rest to .../processes/{pid}/stdin")
                                     .arg(qMin<qint64>(kMaxStartStdinBytes, client->maxPayload() - kStdinWriteOverheadBytes))));
    auto started = client->startProcess(*exec);
    const auto created = [](const Agent::ProcessInfo &p) { return Response::ofJson(processToJson(p), true); };
    if (stdinData.isEmpty())
        return answerWhen(started, this, created);
    // Requests reach the agent in order: the stdin after the start, written
    // before the answer (a write that fails is the answer).
    auto written = Core::then(started, this, [this, client, stdinData](const Agent::ProcessInfo &p) { return writeStartStdin(client, p, stdinData, this); });
    return answerWhen(written, this, created);
}

ApiFuture ProcessController::list(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return finished(ApiError::fromCore(agent.error()));
    return answerWhen((*agent)->processes(), this, [](const QList<Agent::ProcessInfo> &processes) {
        QJsonArray out;
        for (const Agent::ProcessInfo &p : processes)
            out.append(processToJson(p));
        return Response::ofJson(QJsonObject{{QStringLiteral("processes"), out}});
    });
}

ApiFuture ProcessController::status(const Request &request)
{
    auto t = target(m_manager, request);
    if (!t)
        return finished(t.error());
    return answerWhen(t->agent->process(t->pid), this, [](const Agent::ProcessInfo &p) { return Response::ofJson(processToJson(p)); });
}

ApiFuture ProcessController::output(const Request &request)
{
    auto t = target(m_manager, request);
    if (!t)
        return finished(t.error());
    const auto out = offsetParam(request, QStringLiteral("stdout_offset"));
    const auto err = offsetParam(request, QStringLiteral("stderr_offset"));
    if (!out || !err)
        return finished(!out ? out.error() : err.error());
    return answerWhen(t->agent->processOutput(t->pid, *out, *err), this, [](const Agent::ProcessOutput &o) {
        // Text cut at whole characters (OutputText): the offsets follow the cut.
        const OutputText::Chunk stdoutText = OutputText::cut(o.stdoutData, o.stdoutOffset, !o.process.running);
        const OutputText::Chunk stderrText = OutputText::cut(o.stderrData, o.stderrOffset, !o.process.running);
        return Response::ofJson(
            QJsonObject{{QStringLiteral("stdout"), stdoutText.text},
                        {QStringLiteral("stderr"), stderrText.text},
                        {QStringLiteral("stdout_offset"), static_cast<qint64>(stdoutText.nextOffset)},
                        {QStringLiteral("stderr_offset"), static_cast<qint64>(stderrText.nextOffset)},
                        {QStringLiteral("truncated"), o.truncated},
                        {QStringLiteral("running"), o.process.running},
                        {QStringLiteral("exit_code"), o.process.exitCode ? QJsonValue(*o.process.exitCode) : QJsonValue(QJsonValue::Null)}});
    });
}

ApiFuture ProcessController::writeStdin(const Request &request)
{
    auto t = target(m_manager, request);
    if (!t)
        return finished(t.error());
    auto parsed = parseObject(request.body, {QStringLiteral("data"), QStringLiteral("eof")});
    if (!parsed)
        return finished(parsed.error());
    const QJsonValue data = parsed->value(QStringLiteral("data"));
    const QJsonValue eof = parsed->value(QStringLiteral("eof"));
    if (!data.isUndefined() && !data.isString())
        return finished(wrongType(QStringLiteral("data"), QStringLiteral("a string")));
    if (!eof.isUndefined() && !eof.isBool())
        return finished(wrongType(QStringLiteral("eof"), QStringLiteral("true or false")));
    return answerWhen(t->agent->writeProcessStdin(t->pid, data.toString().toUtf8(), eof.toBool()), this,
                      [](const Agent::ProcessInfo &) { return Response::empty(); });
}

ApiFuture ProcessController::kill(const Request &request)
{
    auto t = target(m_manager, request);
    if (!t)
        return finished(t.error());
    const auto signal = signalFrom(request.body);
    if (!signal)
        return finished(signal.error());
    return answerWhen(t->agent->signalProcess(t->pid, *signal), this, [](const Agent::ProcessInfo &p) { return Response::ofJson(processToJson(p)); });
}

ApiFuture ProcessController::remove(const Request &request)
{
    auto t = target(m_manager, request);
    if (!t)
        return finished(t.error());
    return answerWhen(t->agent->removeProcess(t->pid), this, [](const Agent::ProcessInfo &) { return Response::empty(); });
}

} // namespace Server
