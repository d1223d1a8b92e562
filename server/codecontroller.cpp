#include "server/codecontroller.h"

#include "core/code/coderunner.h"
#include "core/vm/vmmanager.h"
#include "server/activitylog.h"
#include "server/apijson.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>

namespace Server {

using namespace ApiJson;

namespace {

ApiExpected<Code::CodeRequest> parseCodeRequest(const QByteArray &body)
{
    auto parsed = parseObject(body, {QStringLiteral("language"), QStringLiteral("code"), QStringLiteral("session"), QStringLiteral("timeout_s")});
    if (!parsed)
        return parsed.error();
    const QJsonObject &o = *parsed;
    Code::CodeRequest request;
    const auto language = Code::languageFromName(o.value(QStringLiteral("language")).toString());
    if (!language)
        return wrongType(QStringLiteral("language"), QStringLiteral("\"python\", \"javascript\" or \"bash\" (required)"));
    request.language = *language;
    if (!o.value(QStringLiteral("code")).isString())
        return wrongType(QStringLiteral("code"), QStringLiteral("a string (required)"));
    request.code = o.value(QStringLiteral("code")).toString();
    const QJsonValue session = o.value(QStringLiteral("session"));
    if (!session.isUndefined() && !session.isNull()) {
        if (!session.isString())
            return wrongType(QStringLiteral("session"), QStringLiteral("a string"));
        request.session = session.toString();
    }
    if (o.contains(QStringLiteral("timeout_s"))) {
        const QJsonValue t = o.value(QStringLiteral("timeout_s"));
        if (!t.isDouble() || !(t.toDouble() > 0) || t.toDouble() > Code::CodeRunner::kMaxTimeoutS)
            return wrongType(QStringLiteral("timeout_s"), QStringLiteral("a number of seconds above 0, at most %1").arg(Code::CodeRunner::kMaxTimeoutS));
        request.timeoutMs = qMax(1, static_cast<int>(std::ceil(t.toDouble() * 1000)));
    }
    auto checked = Code::CodeRunner::checkRequest(request);
    if (!checked)
        return ApiError::fromCore(checked.error());
    return *checked;
}

ApiExpected<QString> sessionParam(const Request &request)
{
    const QString id = request.param(QStringLiteral("id"));
    if (!Code::CodeRunner::validSessionId(id))
        return ApiError(ApiError::Code::NotFound, QStringLiteral("no code session '%1'").arg(id.left(Code::CodeRunner::kMaxSessionIdLength)));
    return id;
}

} // namespace

CodeController::CodeController(Vm::VmManager &manager, ActivityLog *activity, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_activity(activity)
{
}

void CodeController::addRoutes(Router &router)
{
    using C = CodeController;
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/code"), this, &C::execute, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/code/sessions"), this, &C::listSessions, {.role = Role::Operator});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/code/sessions/{id}/restart"), this, &C::restartSession, {.role = Role::Operator});
    router.add("DELETE", QStringLiteral("/api/v1/vms/{name}/code/sessions/{id}"), this, &C::closeSession, {.role = Role::Operator});
}

ApiFuture CodeController::execute(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return finished(ApiError::fromCore(agent.error()));
    auto code = parseCodeRequest(request.body);
    if (!code)
        return finished(code.error());
    const ApiFuture answer =
        answerWhen(Code::CodeRunner::execute(**agent, *code), this, [](const Code::CodeResult &r) { return Response::ofJson(r.toJson()); });
    if (!m_activity)
        return answer;
    const QJsonObject body = QJsonDocument::fromJson(request.body).object();
    ActivityEvent e;
    e.vm = request.param(QStringLiteral("name"));
    e.action = QStringLiteral("code");
    e.detail = QJsonObject{{QStringLiteral("language"), ActivityLog::clip(body.value(QStringLiteral("language")).toString())},
                           {QStringLiteral("code"), ActivityLog::clip(body.value(QStringLiteral("code")).toString())}};
    return m_activity->track({e}, answer);
}

ApiFuture CodeController::listSessions(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return finished(ApiError::fromCore(agent.error()));
    return answerWhen(Code::CodeRunner::sessions(**agent), this, [](const QList<Code::CodeSession> &sessions) {
        QJsonArray out;
        for (const Code::CodeSession &s : sessions)
            out.append(s.toJson());
        return Response::ofJson(QJsonObject{{QStringLiteral("sessions"), out}});
    });
}

ApiFuture CodeController::restartSession(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return finished(ApiError::fromCore(agent.error()));
    auto id = sessionParam(request);
    if (!id)
        return finished(id.error());
    return answerWhen(Code::CodeRunner::restart(**agent, *id), this, [](const Code::CodeSession &s) { return Response::ofJson(s.toJson()); });
}

ApiFuture CodeController::closeSession(const Request &request)
{
    auto agent = m_manager.agent(request.param(QStringLiteral("name")));
    if (!agent)
        return finished(ApiError::fromCore(agent.error()));
    auto id = sessionParam(request);
    if (!id)
        return finished(id.error());
    return answerWhen(Code::CodeRunner::close(**agent, *id), this, []() { return Response::empty(); });
}

} // namespace Server
