#include "server/apicontroller.h"

#include "core/agent/agentclient.h"
#include "core/snapshot/snapshotstore.h"
#include "core/template/vmtemplate.h"
#include "core/vm/vmmanager.h"
#include "server/displaycontroller.h"
#include "server/openapi.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QPromise>

#include <cmath>
#include <memory>

namespace Server {
namespace {

// A copyable handle on the promise of one API answer; the first resolve wins.
class Reply {
public:
    Reply() : m_p(std::make_shared<QPromise<ApiResult>>()) { m_p->start(); }
    ApiFuture future() const { return m_p->future(); }
    void resolve(ApiResult result) const
    {
        if (m_p->future().isFinished())
            return;
        m_p->addResult(std::move(result));
        m_p->finish();
    }

private:
    std::shared_ptr<QPromise<ApiResult>> m_p;
};

ApiFuture ready(ApiResult result)
{
    Reply r;
    r.resolve(std::move(result));
    return r.future();
}

ApiFuture fail(ApiError::Code code, const QString &message)
{
    return ready(ApiError(code, message));
}

ApiFuture fail(const Core::Error &error)
{
    return ready(ApiError::fromCore(error));
}

// --- request bodies -------------------------------------------------------

using ObjectOrError = std::variant<QJsonObject, ApiError>;

ObjectOrError parseObject(const QByteArray &body, const QStringList &fields)
{
    if (body.trimmed().isEmpty())
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("the request body must be a JSON object"));
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &pe);
    if (pe.error != QJsonParseError::NoError)
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("malformed JSON at offset %1: %2").arg(pe.offset).arg(pe.errorString()));
    if (!doc.isObject())
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("the request body must be a JSON object"));
    const QJsonObject o = doc.object();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!fields.contains(it.key()))
            return ApiError(ApiError::Code::InvalidArgument,
                            QStringLiteral("unknown field '%1' (this route takes: %2)").arg(it.key().left(64), fields.join(QStringLiteral(", "))));
    }
    return o;
}

// A body that may be left out: nothing (or only white space) is {}.
ObjectOrError parseOptionalObject(const QByteArray &body, const QStringList &fields)
{
    if (body.trimmed().isEmpty())
        return QJsonObject();
    return parseObject(body, fields);
}

ApiError wrongType(const QString &field, const QString &expected)
{
    return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("field '%1' must be %2").arg(field, expected));
}

bool isInteger(const QJsonValue &v)
{
    if (!v.isDouble())
        return false;
    const double d = v.toDouble();
    return std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 2147483647.0;
}

// --- query parameters -----------------------------------------------------

std::variant<QString, ApiError> guestPath(const Request &request)
{
    if (!request.query.hasQueryItem(QStringLiteral("path")))
        return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("the query parameter 'path' is required"));
    const QString path = request.query.queryItemValue(QStringLiteral("path"), QUrl::FullyDecoded);
    if (!path.startsWith(QLatin1Char('/')) || path.contains(QChar(0)))
        return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("'path' must be an absolute guest path"));
    return path;
}

QString iso(const QDateTime &t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

QJsonValue timeOrNull(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(iso(t)) : QJsonValue(QJsonValue::Null);
}

QJsonValue stringOrNull(const QString &s)
{
    return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s);
}

QJsonObject fileToJson(const Agent::FileInfo &f)
{
    QJsonObject o{{QStringLiteral("name"), f.name},
                  {QStringLiteral("type"), Agent::fileTypeName(f.type)},
                  {QStringLiteral("mode"), static_cast<qint64>(f.mode)},
                  {QStringLiteral("size"), static_cast<qint64>(f.size)},
                  {QStringLiteral("mtime"), f.mtimeSec},
                  {QStringLiteral("uid"), static_cast<qint64>(f.uid)},
                  {QStringLiteral("gid"), static_cast<qint64>(f.gid)}};
    if (f.type == Agent::FileInfo::Type::Symlink)
        o[QStringLiteral("link_target")] = f.linkTarget;
    return o;
}

} // namespace

Response Response::ofJson(QJsonValue json, bool created)
{
    Response r;
    r.kind = Kind::Json;
    r.json = std::move(json);
    r.created = created;
    return r;
}

Response Response::empty()
{
    Response r;
    r.kind = Kind::Empty;
    return r;
}

Response Response::ofBytes(QByteArray bytes, QByteArray contentType)
{
    Response r;
    r.kind = Kind::Bytes;
    r.bytes = std::move(bytes);
    r.contentType = std::move(contentType);
    return r;
}

ApiError ApiError::fromCore(const Core::Error &error)
{
    using C = Core::ErrorCode;
    Code code = Code::Internal;
    switch (error.code) {
    case C::InvalidArgument: code = Code::InvalidArgument; break;
    case C::NotFound: code = Code::NotFound; break;
    case C::AlreadyExists: code = Code::AlreadyExists; break;
    case C::InvalidState:
    case C::Cancelled: code = Code::InvalidState; break;
    case C::Timeout: code = Code::Timeout; break;
    case C::BinaryMissing:
    case C::KvmUnavailable:
    case C::VmmFailed:
    case C::VmmApi:
    case C::ImageBuild:
    case C::Template: code = Code::VmFailed; break;
    case C::AgentUnavailable: code = Code::AgentUnavailable; break;
    case C::Agent:
    case C::Protocol: code = Code::GuestError; break;
    case C::NoSpace: code = Code::NoSpace; break;
    case C::PermissionDenied: code = Code::PermissionDenied; break;
    case C::Unsupported: code = Code::Unsupported; break;
    case C::Corrupted: code = Code::Corrupted; break;
    case C::Io:
    case C::Internal: code = Code::Internal; break;
    }
    return ApiError(code, error.message);
}

QString apiErrorCodeName(ApiError::Code code)
{
    switch (code) {
    case ApiError::Code::InvalidJson: return QStringLiteral("invalid_json");
    case ApiError::Code::InvalidArgument: return QStringLiteral("invalid_argument");
    case ApiError::Code::Unauthorized: return QStringLiteral("unauthorized");
    case ApiError::Code::PermissionDenied: return QStringLiteral("permission_denied");
    case ApiError::Code::NotFound: return QStringLiteral("not_found");
    case ApiError::Code::MethodNotAllowed: return QStringLiteral("method_not_allowed");
    case ApiError::Code::AlreadyExists: return QStringLiteral("already_exists");
    case ApiError::Code::InvalidState: return QStringLiteral("invalid_state");
    case ApiError::Code::PayloadTooLarge: return QStringLiteral("payload_too_large");
    case ApiError::Code::Timeout: return QStringLiteral("timeout");
    case ApiError::Code::AgentUnavailable: return QStringLiteral("agent_unavailable");
    case ApiError::Code::GuestError: return QStringLiteral("guest_error");
    case ApiError::Code::VmFailed: return QStringLiteral("vm_failed");
    case ApiError::Code::NoSpace: return QStringLiteral("no_space");
    case ApiError::Code::Unsupported: return QStringLiteral("unsupported");
    case ApiError::Code::ControlHeld: return QStringLiteral("control_held");
    case ApiError::Code::Corrupted: return QStringLiteral("corrupted");
    case ApiError::Code::Internal: return QStringLiteral("internal");
    }
    return QStringLiteral("internal");
}

ApiController::ApiController(Vm::VmManager &manager, Desktop::DisplayHub *displays, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_displays(displays)
    , m_display(std::make_unique<DisplayController>(displays))
{
}

ApiController::~ApiController() = default;

ApiFuture ApiController::screenshot(const Request &request)
{
    return m_display->screenshot(request);
}

ApiFuture ApiController::input(const Request &request)
{
    return m_display->input(request);
}

ApiFuture ApiController::display(const Request &request)
{
    return m_display->display(request);
}

ApiFuture ApiController::displayControl(const Request &request)
{
    return m_display->control(request);
}

ApiFuture ApiController::viewerPage(const Request &request)
{
    return m_display->viewerPage(request);
}

ApiFuture ApiController::novncAsset(const Request &request)
{
    return m_display->novncAsset(request);
}

QJsonObject ApiController::vmToJson(const Vm::VmInfo &info)
{
    const Vm::VmRecord &r = info.record;
    QJsonObject o{{QStringLiteral("name"), r.name},
                  {QStringLiteral("template"), r.templateName},
                  {QStringLiteral("state"), Vm::stateName(info.state)},
                  {QStringLiteral("desired_state"), Vm::desiredName(r.desired)},
                  {QStringLiteral("vcpus"), r.vcpus},
                  {QStringLiteral("memory_mb"), r.memoryMiB},
                  {QStringLiteral("created_at"), timeOrNull(r.createdAt)},
                  {QStringLiteral("last_started_at"), timeOrNull(r.lastStartedAt)},
                  {QStringLiteral("current_snapshot"), stringOrNull(r.currentSnapshot)},
                  {QStringLiteral("forked_from"), stringOrNull(r.forkedFrom)}};
    if (r.lastError) {
        const ApiError e = ApiError::fromCore(*r.lastError);
        o[QStringLiteral("last_error")] = QJsonObject{{QStringLiteral("code"), apiErrorCodeName(e.code)}, {QStringLiteral("message"), e.message}};
    } else {
        o[QStringLiteral("last_error")] = QJsonValue(QJsonValue::Null);
    }
    if (info.state == Vm::VirtualMachine::State::Ready || info.state == Vm::VirtualMachine::State::Paused) {
        o[QStringLiteral("boot_ms")] = info.bootMs;
        o[QStringLiteral("accelerated")] = info.accelerated;
    }
    return o;
}

ApiFuture ApiController::health(const Request &)
{
    return ready(Response::ofJson(QJsonObject{{QStringLiteral("status"), QStringLiteral("ok")},
                                              {QStringLiteral("version"), QStringLiteral(MVS_VERSION)}}));
}

ApiFuture ApiController::listTemplates(const Request &)
{
    QJsonArray list;
    for (const Templates::VmTemplate &t : Templates::VmTemplate::all()) {
        list.append(QJsonObject{{QStringLiteral("name"), t.name},
                                {QStringLiteral("description"), t.description},
                                {QStringLiteral("vcpus"), t.vcpus},
                                {QStringLiteral("memory_mb"), t.memoryMiB}});
    }
    return ready(Response::ofJson(QJsonObject{{QStringLiteral("templates"), list}}));
}

ApiFuture ApiController::listVms(const Request &)
{
    QJsonArray list;
    for (const Vm::VmInfo &info : m_manager.list())
        list.append(vmToJson(info));
    return ready(Response::ofJson(QJsonObject{{QStringLiteral("vms"), list}}));
}

ApiFuture ApiController::createVm(const Request &request)
{
    auto parsed = parseObject(request.body, {QStringLiteral("name"), QStringLiteral("template"), QStringLiteral("vcpus"),
                                             QStringLiteral("memory_mb"), QStringLiteral("start")});
    if (auto *e = std::get_if<ApiError>(&parsed))
        return ready(*e);
    const QJsonObject o = std::get<QJsonObject>(parsed);

    Vm::VmManager::CreateOptions options;
    const QJsonValue name = o.value(QStringLiteral("name"));
    if (!name.isString())
        return ready(wrongType(QStringLiteral("name"), QStringLiteral("a string (required)")));
    options.name = name.toString();
    const QJsonValue tmpl = o.value(QStringLiteral("template"));
    if (!tmpl.isString())
        return ready(wrongType(QStringLiteral("template"), QStringLiteral("a string (required)")));
    options.templateName = tmpl.toString();
    if (o.contains(QStringLiteral("vcpus"))) {
        if (!isInteger(o.value(QStringLiteral("vcpus"))))
            return ready(wrongType(QStringLiteral("vcpus"), QStringLiteral("an integer")));
        options.vcpus = o.value(QStringLiteral("vcpus")).toInt();
    }
    if (o.contains(QStringLiteral("memory_mb"))) {
        if (!isInteger(o.value(QStringLiteral("memory_mb"))))
            return ready(wrongType(QStringLiteral("memory_mb"), QStringLiteral("an integer")));
        options.memoryMiB = o.value(QStringLiteral("memory_mb")).toInt();
    }
    bool start = true;
    if (o.contains(QStringLiteral("start"))) {
        if (!o.value(QStringLiteral("start")).isBool())
            return ready(wrongType(QStringLiteral("start"), QStringLiteral("true or false")));
        start = o.value(QStringLiteral("start")).toBool();
    }

    auto created = m_manager.create(options);
    if (!created)
        return fail(created.error());
    if (!start)
        return ready(Response::ofJson(vmToJson(*created), true));

    // Started as part of creation: a VM that does not start is not kept.
    Reply reply;
    const QString vmName = options.name;
    Core::whenDone(m_manager.start(vmName), this, [this, reply, vmName](const Core::Result &r) {
        if (r) {
            auto info = m_manager.info(vmName);
            reply.resolve(info ? ApiResult(Response::ofJson(vmToJson(*info), true)) : ApiResult(ApiError::fromCore(info.error())));
            return;
        }
        ApiError error = ApiError::fromCore(r.error());
        error.message = QStringLiteral("VM %1 did not start and was removed: %2").arg(vmName, error.message);
        Core::whenDone(m_manager.remove(vmName), this, [reply, error](const Core::Result &) { reply.resolve(error); });
    });
    return reply.future();
}

ApiFuture ApiController::getVm(const Request &request)
{
    auto info = m_manager.info(request.param(QStringLiteral("name")));
    if (!info)
        return fail(info.error());
    return ready(Response::ofJson(vmToJson(*info)));
}

ApiFuture ApiController::deleteVm(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    Reply reply;
    Core::whenDone(m_manager.remove(name), this, [reply, name](const Core::Result &r) {
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        reply.resolve(Response::ofJson(QJsonObject{{QStringLiteral("name"), name}, {QStringLiteral("deleted"), true}}));
    });
    return reply.future();
}

ApiFuture ApiController::vmAction(const Request &request, Core::Future<void> (Vm::VmManager::*operation)(const QString &))
{
    const QString name = request.param(QStringLiteral("name"));
    return answerWithVm((m_manager.*operation)(name), name);
}

ApiFuture ApiController::answerWithVm(Core::Future<void> pending, const QString &name)
{
    Reply reply;
    Core::whenDone(pending, this, [this, reply, name](const Core::Result &r) {
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        auto info = m_manager.info(name);
        reply.resolve(info ? ApiResult(Response::ofJson(vmToJson(*info))) : ApiResult(ApiError::fromCore(info.error())));
    });
    return reply.future();
}

ApiFuture ApiController::startVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::start);
}

ApiFuture ApiController::stopVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::stop);
}

ApiFuture ApiController::pauseVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::pause);
}

ApiFuture ApiController::resumeVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::resume);
}

ApiFuture ApiController::restartVm(const Request &request)
{
    return vmAction(request, &Vm::VmManager::restart);
}

std::optional<ApiError> ApiController::parseExecRequest(const QByteArray &body, Agent::ExecRequest *out)
{
    auto parsed = parseObject(body, {QStringLiteral("cmd"), QStringLiteral("env"), QStringLiteral("cwd"), QStringLiteral("stdin"),
                                     QStringLiteral("timeout_s")});
    if (auto *e = std::get_if<ApiError>(&parsed))
        return *e;
    const QJsonObject o = std::get<QJsonObject>(parsed);

    Agent::ExecRequest &exec = *out;
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

    return std::nullopt;
}

std::variant<Agent::ExecHandle *, ApiError> ApiController::execStream(const QString &name, const QByteArray &requestJson)
{
    auto agent = m_manager.agent(name);
    if (!agent)
        return ApiError::fromCore(agent.error());
    Agent::ExecRequest exec;
    if (auto e = parseExecRequest(requestJson, &exec))
        return *e;
    exec.collectOutput = false;
    exec.streamStdin = true;
    const QByteArray initialStdin = std::exchange(exec.stdinData, QByteArray());
    Agent::ExecHandle *handle = (*agent)->exec(exec);
    if (!initialStdin.isEmpty())
        handle->writeStdin(initialStdin);
    return handle;
}

ApiFuture ApiController::exec(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return fail(agent.error());
    Agent::ExecRequest exec;
    if (auto e = parseExecRequest(request.body, &exec))
        return ready(*e);
    exec.collectOutput = false; // collected here, with a cap

    struct Output {
        QByteArray out;
        QByteArray err;
        bool outTruncated = false;
        bool errTruncated = false;
    };
    auto output = std::make_shared<Output>();
    auto append = [](QByteArray &to, bool &truncated, const QByteArray &data) {
        const qint64 room = kMaxExecOutputBytes - to.size();
        if (data.size() > room) {
            truncated = true;
            to += data.left(qMax<qint64>(0, room));
        } else {
            to += data;
        }
    };
    QPointer<Agent::ExecHandle> handle = (*agent)->exec(exec);
    connect(handle, &Agent::ExecHandle::stdoutReceived, this,
            [output, append](const QByteArray &d) { append(output->out, output->outTruncated, d); });
    connect(handle, &Agent::ExecHandle::stderrReceived, this,
            [output, append](const QByteArray &d) { append(output->err, output->errTruncated, d); });
    Reply reply;
    Core::whenDone(handle->result(), this, [reply, output, handle](const Core::Expected<Agent::ExecResult> &r) {
        if (handle)
            handle->deleteLater();
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        QJsonObject out{{QStringLiteral("exit_code"), r->signal ? QJsonValue(QJsonValue::Null) : QJsonValue(r->exitCode)},
                      {QStringLiteral("stdout"), QString::fromUtf8(output->out)},
                      {QStringLiteral("stderr"), QString::fromUtf8(output->err)},
                      {QStringLiteral("duration_ms"), static_cast<double>(r->durationUs) / 1000.0},
                      {QStringLiteral("timed_out"), r->timedOut}};
        if (r->signal)
            out[QStringLiteral("signal")] = r->signal;
        if (output->outTruncated)
            out[QStringLiteral("stdout_truncated")] = true;
        if (output->errTruncated)
            out[QStringLiteral("stderr_truncated")] = true;
        reply.resolve(Response::ofJson(out));
    });
    return reply.future();
}

ApiFuture ApiController::putFile(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return fail(agent.error());
    auto path = guestPath(request);
    if (auto *e = std::get_if<ApiError>(&path))
        return ready(*e);
    quint32 mode = 0644;
    if (request.query.hasQueryItem(QStringLiteral("mode"))) {
        bool ok = false;
        mode = request.query.queryItemValue(QStringLiteral("mode")).toUInt(&ok, 8);
        if (!ok || mode > 07777)
            return fail(ApiError::Code::InvalidArgument, QStringLiteral("'mode' must be octal permission bits, e.g. 0644"));
    }
    const QString guestFile = std::get<QString>(path);
    Reply reply;
    Core::Future<quint64> put = request.bodyStream
                                    ? (*agent)->putFile(guestFile, request.bodyStream, static_cast<quint64>(request.bodyStreamSize), mode, true)
                                    : (*agent)->putData(guestFile, request.body, mode, true);
    Core::whenDone(put, this, [reply, guestFile](const Core::Expected<quint64> &r) {
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        reply.resolve(Response::ofJson(QJsonObject{{QStringLiteral("path"), guestFile}, {QStringLiteral("size"), static_cast<qint64>(*r)}}));
    });
    return reply.future();
}

ApiFuture ApiController::getFile(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return fail(agent.error());
    auto path = guestPath(request);
    if (auto *e = std::get_if<ApiError>(&path))
        return ready(*e);
    Reply reply;
    Core::whenDone((*agent)->getData(std::get<QString>(path)), this, [reply](const Core::Expected<QByteArray> &r) {
        reply.resolve(r ? ApiResult(Response::ofBytes(*r, QByteArrayLiteral("application/octet-stream")))
                        : ApiResult(ApiError::fromCore(r.error())));
    });
    return reply.future();
}

ApiFuture ApiController::listFiles(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return fail(agent.error());
    auto path = guestPath(request);
    if (auto *e = std::get_if<ApiError>(&path))
        return ready(*e);
    const QString dir = std::get<QString>(path);
    Reply reply;
    Core::whenDone((*agent)->list(dir), this, [reply, dir](const Core::Expected<QList<Agent::FileInfo>> &r) {
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        QJsonArray entries;
        for (const Agent::FileInfo &f : *r)
            entries.append(fileToJson(f));
        reply.resolve(Response::ofJson(QJsonObject{{QStringLiteral("path"), dir}, {QStringLiteral("entries"), entries}}));
    });
    return reply.future();
}

ApiFuture ApiController::console(const Request &request)
{
    qint64 bytes = kDefaultConsoleBytes;
    if (request.query.hasQueryItem(QStringLiteral("bytes"))) {
        bool ok = false;
        bytes = request.query.queryItemValue(QStringLiteral("bytes")).toLongLong(&ok);
        if (!ok || bytes < 1 || bytes > kMaxConsoleBytes)
            return fail(ApiError::Code::InvalidArgument, QStringLiteral("'bytes' must be between 1 and %1").arg(kMaxConsoleBytes));
    }
    auto log = m_manager.consoleLog(request.param(QStringLiteral("name")), bytes);
    if (!log)
        return fail(log.error());
    return ready(Response::ofBytes(*log, QByteArrayLiteral("text/plain; charset=utf-8")));
}

// --- snapshots ----------------------------------------------------------------

QJsonObject ApiController::snapshotToJson(const Snapshot::SnapshotInfo &info)
{
    QJsonArray files;
    for (const Snapshot::SnapshotFile &f : info.files)
        files.append(QJsonObject{{QStringLiteral("name"), f.name}, {QStringLiteral("size"), f.size}, {QStringLiteral("sha256"), f.sha256}});
    return QJsonObject{{QStringLiteral("name"), info.name},
                       {QStringLiteral("vm"), info.vm},
                       {QStringLiteral("created_at"), timeOrNull(info.createdAt)},
                       {QStringLiteral("parent"), stringOrNull(info.parent)},
                       {QStringLiteral("size_bytes"), info.sizeBytes()},
                       {QStringLiteral("paused_ms"), info.pausedMs},
                       {QStringLiteral("template"), info.templateName},
                       {QStringLiteral("vcpus"), info.vcpus},
                       {QStringLiteral("memory_mb"), info.memoryMiB},
                       {QStringLiteral("driver"), info.driver},
                       {QStringLiteral("vmm_version"), stringOrNull(info.vmmVersion)},
                       {QStringLiteral("has_disk"), !info.diskFile.isEmpty()},
                       {QStringLiteral("files"), files}};
}

ApiFuture ApiController::createSnapshot(const Request &request)
{
    auto parsed = parseOptionalObject(request.body, {QStringLiteral("name"), QStringLiteral("leave_paused")});
    if (auto *e = std::get_if<ApiError>(&parsed))
        return ready(*e);
    const QJsonObject o = std::get<QJsonObject>(parsed);
    Vm::VmManager::SnapshotOptions options;
    if (o.contains(QStringLiteral("name"))) {
        const QJsonValue name = o.value(QStringLiteral("name"));
        if (!name.isString() || name.toString().isEmpty())
            return ready(wrongType(QStringLiteral("name"), QStringLiteral("a non-empty string (leave it out for snap-<UTC time>)")));
        options.name = name.toString();
    }
    if (o.contains(QStringLiteral("leave_paused"))) {
        if (!o.value(QStringLiteral("leave_paused")).isBool())
            return ready(wrongType(QStringLiteral("leave_paused"), QStringLiteral("true or false")));
        options.leavePaused = o.value(QStringLiteral("leave_paused")).toBool();
    }
    Reply reply;
    Core::whenDone(m_manager.snapshot(request.param(QStringLiteral("name")), options), this,
                   [reply](const Core::Expected<Snapshot::SnapshotInfo> &r) {
        reply.resolve(r ? ApiResult(Response::ofJson(snapshotToJson(*r), true)) : ApiResult(ApiError::fromCore(r.error())));
    });
    return reply.future();
}

ApiFuture ApiController::listSnapshots(const Request &request)
{
    auto list = m_manager.snapshots(request.param(QStringLiteral("name")));
    if (!list)
        return fail(list.error());
    QJsonArray out;
    for (const Snapshot::SnapshotInfo &info : *list)
        out.append(snapshotToJson(info));
    return ready(Response::ofJson(QJsonObject{{QStringLiteral("snapshots"), out}}));
}

ApiFuture ApiController::getSnapshot(const Request &request)
{
    auto info = m_manager.snapshotInfo(request.param(QStringLiteral("name")), request.param(QStringLiteral("snap")));
    if (!info)
        return fail(info.error());
    return ready(Response::ofJson(snapshotToJson(*info)));
}

ApiFuture ApiController::restoreSnapshot(const Request &request)
{
    auto parsed = parseOptionalObject(request.body, {});
    if (auto *e = std::get_if<ApiError>(&parsed))
        return ready(*e);
    const QString name = request.param(QStringLiteral("name"));
    return answerWithVm(m_manager.restore(name, request.param(QStringLiteral("snap"))), name);
}

ApiFuture ApiController::forkSnapshot(const Request &request)
{
    auto parsed = parseOptionalObject(request.body, {QStringLiteral("count"), QStringLiteral("name_prefix")});
    if (auto *e = std::get_if<ApiError>(&parsed))
        return ready(*e);
    const QJsonObject o = std::get<QJsonObject>(parsed);
    Vm::VmManager::ForkOptions options;
    if (o.contains(QStringLiteral("count"))) {
        const QJsonValue count = o.value(QStringLiteral("count"));
        if (!isInteger(count) || count.toInt() < 1 || count.toInt() > Vm::VmManager::kMaxForkCount)
            return ready(wrongType(QStringLiteral("count"), QStringLiteral("an integer from 1 to %1").arg(Vm::VmManager::kMaxForkCount)));
        options.count = count.toInt();
    }
    if (o.contains(QStringLiteral("name_prefix"))) {
        const QJsonValue prefix = o.value(QStringLiteral("name_prefix"));
        if (!prefix.isString() || prefix.toString().isEmpty())
            return ready(wrongType(QStringLiteral("name_prefix"), QStringLiteral("a non-empty string (leave it out for <vm>-fork)")));
        options.namePrefix = prefix.toString();
    }
    Reply reply;
    Core::whenDone(m_manager.fork(request.param(QStringLiteral("name")), request.param(QStringLiteral("snap")), options), this,
                   [this, reply](const Core::Expected<QStringList> &r) {
        if (!r) {
            reply.resolve(ApiError::fromCore(r.error()));
            return;
        }
        QJsonArray vms;
        for (const QString &fork : *r) {
            auto info = m_manager.info(fork);
            if (!info) {
                reply.resolve(ApiError::fromCore(info.error()));
                return;
            }
            vms.append(vmToJson(*info));
        }
        reply.resolve(Response::ofJson(QJsonObject{{QStringLiteral("vms"), vms}}, true));
    });
    return reply.future();
}

ApiFuture ApiController::deleteSnapshot(const Request &request)
{
    auto r = m_manager.deleteSnapshot(request.param(QStringLiteral("name")), request.param(QStringLiteral("snap")));
    if (!r)
        return fail(r.error());
    return ready(Response::empty());
}

ApiFuture ApiController::openApi(const Request &)
{
    return ready(Response::ofJson(OpenApi::document()));
}

QMap<QString, int> ApiController::vmCountsByState() const
{
    using State = Vm::VirtualMachine::State;
    QMap<QString, int> counts;
    for (State s : {State::Created, State::Preparing, State::Booting, State::Ready, State::Paused, State::Stopping, State::Stopped,
                    State::Failed})
        counts.insert(Vm::stateName(s), 0);
    for (const Vm::VmInfo &info : m_manager.list())
        ++counts[Vm::stateName(info.state)];
    return counts;
}

ApiFuture ApiController::metrics(const Request &)
{
    return ready(Response::ofBytes(m_metrics.render(vmCountsByState()), Metrics::contentType()));
}

} // namespace Server
