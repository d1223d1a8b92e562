#pragma once
// The admin's routes over who may use the service: scoped tokens (made,
// listed, revoked; the secret is in the creation's answer only) and the
// audit log, read with filters. Only an admin token without a VM glob may
// use them: a token kept to some VMs cannot make itself a wider one.

#include "server/apitypes.h"

namespace Server {

class AuditLog;
class Router;
class TokenRegistry;

class TokenController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TokenController)
public:
    // The registry (and the log, which may be null: no audit log) must
    // outlive the controller.
    TokenController(TokenRegistry &tokens, AuditLog *audit, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture listTokens(const Request &request);
    ApiFuture createToken(const Request &request);
    ApiFuture revokeToken(const Request &request);
    ApiFuture readAudit(const Request &request);

private:
    TokenRegistry &m_tokens;
    AuditLog *m_audit;
};

} // namespace Server
