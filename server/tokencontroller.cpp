#include "server/tokencontroller.h"

#include "server/apijson.h"
#include "server/auditlog.h"
#include "server/router.h"
#include "server/tokenregistry.h"

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

using namespace ApiJson;

namespace {

std::optional<ApiError> unrestrictedAdmin(const Request &request)
{
    if (!request.caller.vmGlob.isEmpty())
        return ApiError(ApiError::Code::Forbidden, QStringLiteral("tokens and the audit log need an admin token that is not kept to some VMs"));
    return std::nullopt;
}

ApiExpected<TokenRegistry::Spec> tokenSpec(const QJsonObject &o)
{
    TokenRegistry::Spec spec;
    const std::optional<Role> role = parseRole(o.value(QStringLiteral("role")).toString());
    if (!role)
        return wrongType(QStringLiteral("role"), QStringLiteral("\"viewer\", \"operator\" or \"admin\" (required)"));
    spec.role = *role;
    const QJsonValue vms = o.value(QStringLiteral("vms"));
    if (!vms.isUndefined() && !vms.isNull() && !vms.isString())
        return wrongType(QStringLiteral("vms"), QStringLiteral("a glob on VM names such as \"ci-*\""));
    spec.vmGlob = vms.toString();
    const QJsonValue ttl = o.value(QStringLiteral("expires_in_s"));
    if (!ttl.isUndefined() && !ttl.isNull()) {
        if (!isInteger(ttl) || ttl.toInteger() < 1)
            return wrongType(QStringLiteral("expires_in_s"), QStringLiteral("a positive integer (seconds)"));
        spec.ttlSeconds = ttl.toInteger();
    }
    const QJsonValue name = o.value(QStringLiteral("name"));
    if (!name.isUndefined() && !name.isString())
        return wrongType(QStringLiteral("name"), QStringLiteral("a string"));
    spec.name = name.toString();
    auto quota = TokenRegistry::quotaFromJson(o.value(QStringLiteral("quota")));
    if (!quota)
        return ApiError::fromCore(quota.error());
    spec.quota = *quota;
    return spec;
}

} // namespace

TokenController::TokenController(TokenRegistry &tokens, AuditLog *audit, QObject *parent)
    : QObject(parent)
    , m_tokens(tokens)
    , m_audit(audit)
{
}

void TokenController::addRoutes(Router &router)
{
    using C = TokenController;
    router.add("GET", QStringLiteral("/api/v1/tokens"), this, &C::listTokens, {.role = Role::Admin});
    router.add("POST", QStringLiteral("/api/v1/tokens"), this, &C::createToken, {.role = Role::Admin});
    router.add("DELETE", QStringLiteral("/api/v1/tokens/{id}"), this, &C::revokeToken, {.role = Role::Admin});
    router.add("GET", QStringLiteral("/api/v1/audit"), this, &C::readAudit, {.role = Role::Admin});
}

ApiFuture TokenController::listTokens(const Request &request)
{
    if (auto refused = unrestrictedAdmin(request))
        return finished(*refused);
    QJsonArray list;
    for (const TokenRegistry::Token &t : m_tokens.list())
        list.append(t.toJson());
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("tokens"), list}}));
}

ApiFuture TokenController::createToken(const Request &request)
{
    if (auto refused = unrestrictedAdmin(request))
        return finished(*refused);
    auto parsed = parseObject(request.body,
                              {QStringLiteral("role"), QStringLiteral("vms"), QStringLiteral("expires_in_s"), QStringLiteral("name"), QStringLiteral("quota")});
    if (!parsed)
        return finished(parsed.error());
    auto spec = tokenSpec(*parsed);
    if (!spec)
        return finished(spec.error());
    auto made = m_tokens.create(*spec);
    if (!made)
        return finished(ApiError::fromCore(made.error()));
    QJsonObject o = made->token.toJson();
    o.insert(QStringLiteral("secret"), QString::fromLatin1(made->secret));
    return finished(Response::ofJson(o, true));
}

ApiFuture TokenController::revokeToken(const Request &request)
{
    if (auto refused = unrestrictedAdmin(request))
        return finished(*refused);
    if (auto r = m_tokens.revoke(request.param(QStringLiteral("id"))); !r)
        return finished(ApiError::fromCore(r.error()));
    return finished(Response::empty());
}

ApiFuture TokenController::readAudit(const Request &request)
{
    if (auto refused = unrestrictedAdmin(request))
        return finished(*refused);
    if (!m_audit)
        return finished(ApiError(ApiError::Code::Unsupported, QStringLiteral("this service keeps no audit log")));
    AuditLog::Query q;
    const QString since = request.query.queryItemValue(QStringLiteral("since"), QUrl::FullyDecoded);
    if (!since.isEmpty()) {
        q.since = QDateTime::fromString(since, Qt::ISODateWithMs);
        if (!q.since.isValid())
            return finished(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("since must be an ISO 8601 time")));
    }
    q.vm = request.query.queryItemValue(QStringLiteral("vm"), QUrl::FullyDecoded);
    q.token = request.query.queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded);
    q.outcome = request.query.queryItemValue(QStringLiteral("outcome"), QUrl::FullyDecoded);
    if (request.query.hasQueryItem(QStringLiteral("limit"))) {
        bool ok = false;
        q.limit = request.query.queryItemValue(QStringLiteral("limit")).toInt(&ok);
        if (!ok || q.limit < 1 || q.limit > AuditLog::kMaxQueryLimit)
            return finished(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("limit must be 1 to %1").arg(AuditLog::kMaxQueryLimit)));
    }
    QJsonArray entries;
    for (const QJsonObject &e : m_audit->read(q))
        entries.append(e);
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("entries"), entries}}));
}

} // namespace Server
