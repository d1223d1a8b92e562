// Every route the real controllers register (the Api's table, as the
// service builds it) has a role decision, and it is the one this table
// expects: a route added without one, or not listed here, fails. Each role
// is checked against each route (allowed or 403), and a token kept to
// "ci-*" is refused on other VMs' routes.

#include "servicefixture.h"
#include "server/httpmapping.h"
#include "server/requestauth.h"

#include <QTest>

using Server::Principal;
using Server::RequestAuth;
using Server::Role;
using Server::Route;

namespace {

// "METHOD pattern" -> the least role. Public routes (needsAuth false) too.
const QHash<QString, Role> &expectedRoles()
{
    static const QHash<QString, Role> table{
        {QStringLiteral("GET /api/v1/health"), Role::Viewer},
        {QStringLiteral("GET /api/v1/templates"), Role::Viewer},
        {QStringLiteral("GET /api/v1/openapi.json"), Role::Viewer},
        {QStringLiteral("GET /api/v1/system"), Role::Viewer},
        {QStringLiteral("GET /api/v1/pool"), Role::Viewer},
        {QStringLiteral("PUT /api/v1/pool"), Role::Admin},
        {QStringLiteral("GET /docs"), Role::Viewer},
        {QStringLiteral("GET /docs/{*path}"), Role::Viewer},
        {QStringLiteral("GET /metrics"), Role::Viewer},
        {QStringLiteral("GET /api/v1/vms"), Role::Viewer},
        {QStringLiteral("POST /api/v1/vms"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}"), Role::Viewer},
        {QStringLiteral("DELETE /api/v1/vms/{name}"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/start"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/stop"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/pause"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/resume"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/restart"), Role::Operator},
        {QStringLiteral("PATCH /api/v1/vms/{name}/resources"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/exec"), Role::Operator},
        {QStringLiteral("PUT /api/v1/vms/{name}/files"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/files"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/files/list"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/console"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/stats"), Role::Viewer},
        {QStringLiteral("GET /api/v1/vms/{name}/events"), Role::Viewer},
        {QStringLiteral("GET /api/v1/vms/{name}/events/ws"), Role::Viewer},
        {QStringLiteral("GET /api/v1/vms/{name}/exec/ws"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/processes"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/processes/{pid}"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/processes/{pid}/output"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/processes/{pid}/stdin"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/processes/{pid}/kill"), Role::Operator},
        {QStringLiteral("DELETE /api/v1/vms/{name}/processes/{pid}"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/snapshots"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/snapshots"), Role::Viewer},
        {QStringLiteral("GET /api/v1/vms/{name}/snapshots/{snap}"), Role::Viewer},
        {QStringLiteral("DELETE /api/v1/vms/{name}/snapshots/{snap}"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/snapshots/{snap}/restore"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/snapshots/{snap}/fork"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/network"), Role::Viewer},
        {QStringLiteral("GET /api/v1/vms/{name}/network/policy"), Role::Viewer},
        {QStringLiteral("PUT /api/v1/vms/{name}/network/policy"), Role::Admin},
        {QStringLiteral("POST /api/v1/vms/{name}/ports"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/ports"), Role::Viewer},
        {QStringLiteral("DELETE /api/v1/vms/{name}/ports/{port}"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/screenshot"), Role::Viewer},
        {QStringLiteral("POST /api/v1/vms/{name}/input"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/display"), Role::Viewer},
        {QStringLiteral("POST /api/v1/vms/{name}/display/control"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/vnc"), Role::Viewer},
        {QStringLiteral("GET /vnc/{name}"), Role::Viewer},
        {QStringLiteral("GET /novnc/{*path}"), Role::Viewer},
        {QStringLiteral("POST /api/v1/vms/{name}/code"), Role::Operator},
        {QStringLiteral("GET /api/v1/vms/{name}/code/sessions"), Role::Operator},
        {QStringLiteral("POST /api/v1/vms/{name}/code/sessions/{id}/restart"), Role::Operator},
        {QStringLiteral("DELETE /api/v1/vms/{name}/code/sessions/{id}"), Role::Operator},
        {QStringLiteral("GET /api/v1/tokens"), Role::Admin},
        {QStringLiteral("POST /api/v1/tokens"), Role::Admin},
        {QStringLiteral("DELETE /api/v1/tokens/{id}"), Role::Admin},
        {QStringLiteral("GET /api/v1/audit"), Role::Admin},
    };
    return table;
}

QString key(const Route &r)
{
    return QString::fromLatin1(r.method) + QLatin1Char(' ') + r.pattern;
}

} // namespace

class TestRouteRoles : public QObject {
    Q_OBJECT

    TestService::Service m_service; // the Api as the service builds it

    const std::vector<Route> &routes() { return m_service.controller().router().routes(); }

private Q_SLOTS:
    void everyRouteHasADecision()
    {
        QVERIFY(routes().size() > 40);
        QSet<QString> seen;
        for (const Route &r : routes()) {
            QVERIFY2(r.role != Role::Undecided, qPrintable(key(r) + QStringLiteral(" has no role decision (RouteFlags::role)")));
            QVERIFY2(expectedRoles().contains(key(r)), qPrintable(key(r) + QStringLiteral(" is not in tst_routeroles' table")));
            QCOMPARE(Server::roleName(r.role), Server::roleName(expectedRoles().value(key(r))));
            seen.insert(key(r));
        }
        for (const QString &k : expectedRoles().keys())
            QVERIFY2(seen.contains(k), qPrintable(k + QStringLiteral(" is in the table but not registered")));
    }

    // Each role on each route: allowed when the role reaches the route's.
    void eachRoleAgainstEachRoute()
    {
        for (const Route &r : routes()) {
            for (Role role : {Role::Viewer, Role::Operator, Role::Admin}) {
                const Principal caller{QStringLiteral("t1"), role, {}};
                const std::optional<Server::ApiError> refusal = RequestAuth::authorize(caller, r, QStringLiteral("ci-1"));
                const bool allowed = !r.needsAuth || role >= expectedRoles().value(key(r));
                QVERIFY2(allowed == !refusal, qPrintable(key(r) + QStringLiteral(" as ") + Server::roleName(role)));
                if (refusal)
                    QCOMPARE(Server::httpStatus(refusal->code), 403);
            }
        }
    }

    // A token kept to ci-*: refused on another VM's routes, allowed on its own.
    void vmGlobOnScopedRoutes()
    {
        const Principal admin{QStringLiteral("t2"), Role::Admin, QStringLiteral("ci-*")};
        int scoped = 0;
        for (const Route &r : routes()) {
            const bool named = r.pattern.contains(QLatin1String("{name}"));
            QCOMPARE(r.vmScoped(), named);
            scoped += named ? 1 : 0;
            QVERIFY2(!RequestAuth::authorize(admin, r, QStringLiteral("ci-7")), qPrintable(key(r)));
            const auto other = RequestAuth::authorize(admin, r, QStringLiteral("prod-1"));
            QVERIFY2(bool(other) == (named && r.needsAuth), qPrintable(key(r)));
        }
        QVERIFY(scoped > 30);
    }

    // A route nobody decided about is for admins only (a test double's, say).
    void undecidedIsAdminOnly()
    {
        Server::Router router;
        const Route &r = router.add("GET", QStringLiteral("/x"));
        QVERIFY(RequestAuth::authorize({QStringLiteral("t"), Role::Operator, {}}, r, {}));
        QVERIFY(!RequestAuth::authorize(Principal::admin(), r, {}));
    }
};

QTEST_GUILESS_MAIN(TestRouteRoles)
#include "tst_routeroles.moc"
