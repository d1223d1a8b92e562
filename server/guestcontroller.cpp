#include "server/guestcontroller.h"

#include "core/agent/agentclient.h"
#include "core/agent/filedownload.h"
#include "core/log.h"
#include "core/vm/vmmanager.h"
#include "server/activitylog.h"
#include "server/apijson.h"
#include "server/metrics.h"
#include "server/processcontroller.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QFutureWatcher>
#include <QPointer>

#include <cmath>
#include <utility>

namespace Server {

using namespace ApiJson;

namespace {

// An exec's command as its activity event shows it: the shell string, or
// the argv joined by spaces, clipped.
QString commandText(const QByteArray &body)
{
    const QJsonValue cmd = QJsonDocument::fromJson(body).object().value(QStringLiteral("cmd"));
    QStringList words;
    for (const QJsonValue &w : cmd.toArray())
        words.append(w.toString());
    return ActivityLog::clip(cmd.isString() ? cmd.toString() : words.join(QLatin1Char(' ')));
}

ApiError invalid(const QString &message)
{
    return ApiError(ApiError::Code::InvalidArgument, message);
}

ApiExpected<QString> guestPath(const Request &request)
{
    if (!request.query.hasQueryItem(QStringLiteral("path")))
        return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("the query parameter 'path' is required"));
    const QString path = request.query.queryItemValue(QStringLiteral("path"), QUrl::FullyDecoded);
    if (!path.startsWith(QLatin1Char('/')) || path.contains(QChar(0)))
        return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("'path' must be an absolute guest path"));
    return path;
}

// A file route's VM agent and its ?path=.
struct FileTarget {
    Agent::AgentClient *agent = nullptr;
    QString path;
};

ApiExpected<FileTarget> fileTarget(const Vm::VmManager &manager, const Request &request)
{
    auto agent = manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return ApiError::fromCore(agent.error());
    auto path = guestPath(request);
    if (!path)
        return path.error();
    return FileTarget{*agent, *path};
}

} // namespace

GuestController::GuestController(Vm::VmManager &manager, Metrics &metrics, ProcessController &processes, ActivityLog *activity, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_metrics(metrics)
    , m_processes(processes)
    , m_activity(activity)
{
}

// With the answer's exit_code (exec) or its size field (files) in the detail.
ApiFuture GuestController::tracked(const QString &vm, const QString &action, QJsonObject detail, ApiFuture answer, const char *sizeField)
{
    if (!m_activity)
        return answer;
    ActivityEvent e;
    e.vm = vm;
    e.action = action;
    e.detail = std::move(detail);
    return m_activity->track({e}, answer, [sizeField](ActivityEvent &event, const Response &r) {
        const QJsonObject o = r.json.toObject();
        if (o.contains(QStringLiteral("exit_code")))
            event.detail.insert(QStringLiteral("exit_code"), o.value(QStringLiteral("exit_code")));
        if (sizeField && o.contains(QLatin1String(sizeField)))
            event.detail.insert(QStringLiteral("bytes"), o.value(QLatin1String(sizeField)));
        if (r.kind == Response::Kind::Stream)
            event.detail.insert(QStringLiteral("bytes"), r.streamSize);
    });
}

void GuestController::addRoutes(Router &router)
{
    using C = GuestController;
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/exec"), this, &C::exec, {.role = Role::Operator});
    router.add("PUT", QStringLiteral("/api/v1/vms/{name}/files"), this, &C::putFile, {.role = Role::Operator, .body = RouteFlags::Body::File});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/files"), this, &C::getFile, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/files/list"), this, &C::listFiles, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/console"), this, &C::console, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/exec/ws"), {}, {.role = Role::Operator, .webSocket = RouteFlags::WebSocket::Exec});
}

void GuestController::countExec(bool ran, bool timedOut)
{
    m_metrics.recordExec(ran, timedOut);
}

void GuestController::tellStreamedExec(const QString &vm, const QByteArray &requestJson, const Core::Expected<Agent::ExecResult> &result, qint64 durationMs)
{
    if (!m_activity)
        return;
    ActivityEvent e;
    e.vm = vm;
    e.action = QStringLiteral("exec");
    e.detail = {{QStringLiteral("cmd"), commandText(requestJson)}, {QStringLiteral("streamed"), true}};
    if (result && !result->signal)
        e.detail.insert(QStringLiteral("exit_code"), result->exitCode);
    if (!result)
        e.result = apiErrorCodeName(ApiError::fromCore(result.error()).code);
    e.durationMs = durationMs;
    m_activity->publish(std::move(e));
}

void GuestController::countVmExec(const QString &vm, const Agent::ExecResult &result, quint64 outputBytes)
{
    if (m_manager.contains(vm))
        m_metrics.recordVmExec(vm, outputBytes);
    Core::Log::agent()->info("{}: exec ended: exit {}, signal {}, {} output bytes, {:.1f} ms{}", vm.toStdString(), result.exitCode, result.signal, outputBytes,
                             static_cast<double>(result.durationUs) / 1000.0, result.timedOut ? ", timed out" : "");
}

ApiExpected<Agent::ExecRequest> GuestController::parseExecRequest(const QByteArray &body)
{
    auto parsed = parseObject(body,
                              {QStringLiteral("cmd"), QStringLiteral("env"), QStringLiteral("cwd"), QStringLiteral("stdin"), QStringLiteral("timeout_s"),
                               QStringLiteral("background")});
    if (!parsed)
        return parsed.error();
    const QJsonObject &o = *parsed;
    if (o.contains(QStringLiteral("background")) && !o.value(QStringLiteral("background")).isBool())
        return wrongType(QStringLiteral("background"), QStringLiteral("true or false"));

    Agent::ExecRequest exec;
    const QJsonValue cmd = o.value(QStringLiteral("cmd"));
    if (cmd.isString() && !cmd.toString().isEmpty()) {
        exec.shell = cmd.toString();
    } else if (cmd.isArray() && !cmd.toArray().isEmpty()) {
        for (const QJsonValue &arg : cmd.toArray()) {
            if (!arg.isString())
                return wrongType(QStringLiteral("cmd"), QStringLiteral("an array of strings or a shell string"));
            exec.argv << arg.toString();
        }
        if (exec.argv.first().isEmpty())
            return wrongType(QStringLiteral("cmd"), QStringLiteral("an array whose first string names the program"));
    } else {
        return wrongType(QStringLiteral("cmd"), QStringLiteral("a non-empty array of strings or a non-empty shell string (required)"));
    }
    if (o.contains(QStringLiteral("env"))) {
        const QJsonValue env = o.value(QStringLiteral("env"));
        if (!env.isObject())
            return wrongType(QStringLiteral("env"), QStringLiteral("an object of string values"));
        const QJsonObject vars = env.toObject();
        for (auto it = vars.begin(); it != vars.end(); ++it) {
            if (it.key().isEmpty() || it.key().contains(QLatin1Char('=')) || it.key().contains(QChar(0)))
                return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("bad environment variable name '%1'").arg(it.key().left(64)));
            if (!it.value().isString())
                return wrongType(QStringLiteral("env.") + it.key().left(64), QStringLiteral("a string"));
            exec.env << it.key() + QLatin1Char('=') + it.value().toString();
        }
    }
    if (o.contains(QStringLiteral("cwd"))) {
        if (!o.value(QStringLiteral("cwd")).isString())
            return wrongType(QStringLiteral("cwd"), QStringLiteral("a string"));
        exec.cwd = o.value(QStringLiteral("cwd")).toString();
    }
    if (o.contains(QStringLiteral("stdin"))) {
        if (!o.value(QStringLiteral("stdin")).isString())
            return wrongType(QStringLiteral("stdin"), QStringLiteral("a string"));
        exec.stdinData = o.value(QStringLiteral("stdin")).toString().toUtf8();
    }
    if (o.contains(QStringLiteral("timeout_s"))) {
        const QJsonValue t = o.value(QStringLiteral("timeout_s"));
        if (!t.isDouble() || !(t.toDouble() > 0) || t.toDouble() > kMaxExecTimeoutS)
            return wrongType(QStringLiteral("timeout_s"), QStringLiteral("a number of seconds above 0, at most %1").arg(kMaxExecTimeoutS));
        exec.timeoutMs = qMax(1, static_cast<int>(std::ceil(t.toDouble() * 1000)));
    }

    return exec;
}

ApiExpected<Agent::ExecHandle *> GuestController::startExec(const QString &name, const QByteArray &requestJson, bool streamStdin)
{
    auto agent = m_manager.agent(name);
    if (!agent)
        return ApiError::fromCore(agent.error());
    auto exec = parseExecRequest(requestJson);
    if (!exec)
        return exec.error();
    // Collected, the output is kept up to core's cap (the result says what
    // was truncated); streamed, the caller takes it as it comes.
    exec->limits = Agent::StreamLimits::exec();
    exec->collectOutput = !streamStdin;
    if (!streamStdin)
        return (*agent)->exec(*exec);
    exec->streamStdin = true;
    const QByteArray initialStdin = std::exchange(exec->stdinData, QByteArray());
    Agent::ExecHandle *handle = (*agent)->exec(*exec);
    if (!initialStdin.isEmpty())
        handle->writeStdin(initialStdin);
    return handle;
}

ApiExpected<Agent::ExecHandle *> GuestController::execStream(const QString &name, const QByteArray &requestJson)
{
    if (ProcessController::backgroundRequested(requestJson))
        return ApiError(ApiError::Code::InvalidArgument,
                        QStringLiteral("\"background\": true is for POST .../exec; a streamed exec is never in the "
                                       "background (read a background process with GET .../processes/{pid}/output)"));
    auto started = startExec(name, requestJson, true);
    if (!started)
        countExec(false);
    return started;
}

ApiFuture GuestController::exec(const Request &request)
{
    if (ProcessController::backgroundRequested(request.body))
        return m_processes.start(request);
    const QString vm = request.param(QStringLiteral("name"));
    auto started = startExec(vm, request.body, false);
    if (!started) {
        countExec(false);
        return finished(started.error());
    }
    return tracked(vm, QStringLiteral("exec"), {{QStringLiteral("cmd"), commandText(request.body)}}, collect(vm, *started));
}

ApiFuture GuestController::collect(const QString &vm, Agent::ExecHandle *started)
{
    const QPointer<Agent::ExecHandle> handle = started;
    ApiPromise reply;
    // The client gone (the adapter cancels the answer): the command is
    // killed in the guest and its output dropped with the handle.
    auto *clientGone = new QFutureWatcher<ApiResult>(started);
    connect(clientGone, &QFutureWatcherBase::canceled, started, &QObject::deleteLater);
    clientGone->setFuture(reply.future());
    Core::whenDone(handle->result(), this, [this, reply, handle, vm](const Core::Expected<Agent::ExecResult> &r) {
        if (handle)
            handle->deleteLater();
        countExec(r.hasValue(), r && r->timedOut);
        if (r)
            countVmExec(vm, *r, static_cast<quint64>(r->stdoutData.size() + r->stderrData.size()));
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        QJsonObject out{{QStringLiteral("exit_code"), r->signal ? QJsonValue(QJsonValue::Null) : QJsonValue(r->exitCode)},
                        {QStringLiteral("stdout"), QString::fromUtf8(r->stdoutData)},
                        {QStringLiteral("stderr"), QString::fromUtf8(r->stderrData)},
                        {QStringLiteral("duration_ms"), static_cast<double>(r->durationUs) / 1000.0},
                        {QStringLiteral("timed_out"), r->timedOut}};
        if (r->signal)
            out[QStringLiteral("signal")] = r->signal;
        if (r->stdoutTruncated)
            out[QStringLiteral("stdout_truncated")] = true;
        if (r->stderrTruncated)
            out[QStringLiteral("stderr_truncated")] = true;
        reply.resolve(Response::ofJson(out));
    });
    return reply.future();
}

ApiFuture GuestController::putFile(const Request &request)
{
    auto target = fileTarget(m_manager, request);
    if (!target)
        return finished(target.error());
    quint32 mode = 0644;
    if (request.query.hasQueryItem(QStringLiteral("mode"))) {
        bool ok = false;
        mode = request.query.queryItemValue(QStringLiteral("mode")).toUInt(&ok, 8);
        if (!ok || mode > 07777)
            return finished(invalid(QStringLiteral("'mode' must be octal permission bits, e.g. 0644")));
    }
    const QString guestFile = target->path;
    Core::Future<quint64> put = request.bodyStream
        ? target->agent->putFile(guestFile, request.bodyStream, static_cast<quint64>(request.bodyStreamSize), mode, true)
        : target->agent->putData(guestFile, request.body, mode, true);
    const QString vm = request.param(QStringLiteral("name"));
    const ApiFuture answer = answerWhen(put, this, [this, guestFile, vm](quint64 size) {
        if (m_manager.contains(vm))
            m_metrics.recordVmTransfer(vm, Metrics::Transfer::Upload, size);
        return Response::ofJson(QJsonObject{{QStringLiteral("path"), guestFile}, {QStringLiteral("size"), static_cast<qint64>(size)}});
    });
    return tracked(vm, QStringLiteral("file_put"), {{QStringLiteral("path"), ActivityLog::clip(guestFile)}}, answer, "size");
}

ApiFuture GuestController::getFile(const Request &request)
{
    auto target = fileTarget(m_manager, request);
    if (!target)
        return finished(target.error());
    // Streamed as the client reads it; the reader is deleted (and an
    // unfinished transfer cancelled) once the answer is done with it.
    const QString vm = request.param(QStringLiteral("name"));
    const QString path = target->path;
    const ApiFuture answer = answerWhen(target->agent->download(target->path), this, [this, vm](Agent::FileDownload *download) {
        const auto size = static_cast<qint64>(download->fileSize());
        if (m_manager.contains(vm))
            m_metrics.recordVmTransfer(vm, Metrics::Transfer::Download, static_cast<quint64>(size));
        std::shared_ptr<QIODevice> body(download, [](QIODevice *d) { d->deleteLater(); });
        return Response::ofStream(std::move(body), size, QByteArrayLiteral("application/octet-stream"));
    });
    return tracked(vm, QStringLiteral("file_get"), {{QStringLiteral("path"), ActivityLog::clip(path)}}, answer);
}

ApiFuture GuestController::listFiles(const Request &request)
{
    auto target = fileTarget(m_manager, request);
    if (!target)
        return finished(target.error());
    const QString dir = target->path;
    return answerWhen(target->agent->list(dir), this, [dir](const QList<Agent::FileInfo> &files) {
        QJsonArray entries;
        for (const Agent::FileInfo &f : files)
            entries.append(fileToJson(f));
        return Response::ofJson(QJsonObject{{QStringLiteral("path"), dir}, {QStringLiteral("entries"), entries}});
    });
}

ApiFuture GuestController::console(const Request &request)
{
    qint64 bytes = kDefaultConsoleBytes;
    if (request.query.hasQueryItem(QStringLiteral("bytes"))) {
        bool ok = false;
        bytes = request.query.queryItemValue(QStringLiteral("bytes")).toLongLong(&ok);
        if (!ok || bytes < 1 || bytes > kMaxConsoleBytes)
            return finished(invalid(QStringLiteral("'bytes' must be between 1 and %1").arg(kMaxConsoleBytes)));
    }
    auto log = m_manager.consoleLog(request.param(QStringLiteral("name")), bytes);
    if (!log)
        return finished(ApiError::fromCore(log.error()));
    return finished(Response::ofBytes(*log, QByteArrayLiteral("text/plain; charset=utf-8")));
}

} // namespace Server
