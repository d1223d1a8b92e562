// The service's route table, pure: literal and {param} segments, the last
// {*rest} segment, percent-decoding per segment, the first route wins, and
// what the adapter answers 404 and 405 (with Allow) from.

#include "server/router.h"

#include <QTest>

using Server::Router;

namespace {

QStringList path(const char *p)
{
    return Router::pathSegments(QByteArray(p));
}

Router table()
{
    Router r;
    r.add("GET", QStringLiteral("/api/v1/vms"));
    r.add("POST", QStringLiteral("/api/v1/vms"));
    r.add("GET", QStringLiteral("/api/v1/vms/{name}"));
    r.add("DELETE", QStringLiteral("/api/v1/vms/{name}"));
    r.add("GET", QStringLiteral("/api/v1/vms/{name}/files/list"));
    r.add("GET", QStringLiteral("/api/v1/vms/{name}/snapshots/{snap}"));
    r.add("GET", QStringLiteral("/novnc/{*path}"));
    return r;
}

} // namespace

class TestRouter : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void literalRoutesMatchByMethod()
    {
        const Router r = table();
        auto m = r.find("GET", path("/api/v1/vms"));
        QVERIFY(m.route);
        QCOMPARE(m.route->pattern, QStringLiteral("/api/v1/vms"));
        QCOMPARE(m.route->method, QByteArray("GET"));
        m = r.find("POST", path("/api/v1/vms"));
        QVERIFY(m.route);
        QCOMPARE(m.route->method, QByteArray("POST"));
        QVERIFY(m.allowed.isEmpty());
    }

    void parametersAreNamedAndDecodedPerSegment()
    {
        const Router r = table();
        auto m = r.find("GET", path("/api/v1/vms/box/snapshots/clean%20one"));
        QVERIFY(m.route);
        QCOMPARE(m.params.value(QStringLiteral("name")), QStringLiteral("box"));
        QCOMPARE(m.params.value(QStringLiteral("snap")), QStringLiteral("clean one"));
        // An encoded slash stays inside its segment: no other route is reached.
        m = r.find("GET", path("/api/v1/vms/a%2Fb"));
        QVERIFY(m.route);
        QCOMPARE(m.route->pattern, QStringLiteral("/api/v1/vms/{name}"));
        QCOMPARE(m.params.value(QStringLiteral("name")), QStringLiteral("a/b"));
    }

    void literalsAreNotParameters()
    {
        const Router r = table();
        auto m = r.find("GET", path("/api/v1/vms/box/files/list"));
        QVERIFY(m.route);
        QCOMPARE(m.route->pattern, QStringLiteral("/api/v1/vms/{name}/files/list"));
        QVERIFY(!r.find("GET", path("/api/v1/vms/box/files/other")).route);
    }

    void anEmptyParameterMatchesNothing()
    {
        const Router r = table();
        auto m = r.find("GET", path("/api/v1/vms/"));
        QVERIFY(!m.route);
        QVERIFY(m.allowed.isEmpty());
    }

    void restTakesOneOrMoreSafeSegments()
    {
        const Router r = table();
        auto m = r.find("GET", path("/novnc/core/rfb.js"));
        QVERIFY(m.route);
        QCOMPARE(m.params.value(QStringLiteral("path")), QStringLiteral("core/rfb.js"));
        QVERIFY(!r.find("GET", path("/novnc")).route);
        QVERIFY(!r.find("GET", path("/novnc/../etc/passwd")).route);
        QVERIFY(!r.find("GET", path("/novnc/core/./x")).route);
        QVERIFY(!r.find("GET", path("/novnc/a//b")).route);
        QVERIFY(!r.find("GET", path("/novnc/a%2F..%2Fb")).route); // a decoded '/' inside a segment
    }

    void unknownPathIs404AndOtherMethodIs405WithAllow()
    {
        const Router r = table();
        auto m = r.find("GET", path("/api/v2/vms"));
        QVERIFY(!m.route);
        QVERIFY(m.allowed.isEmpty());
        m = r.find("PUT", path("/api/v1/vms/box"));
        QVERIFY(!m.route);
        QCOMPARE(m.allowed, (QByteArrayList{"GET", "DELETE"}));
        QVERIFY(m.params.isEmpty());
    }

    void theFirstMatchingRouteWins()
    {
        Router r;
        r.add("GET", QStringLiteral("/a/{x}")).needsAuth = false;
        r.add("GET", QStringLiteral("/a/b"));
        const auto m = r.find("GET", path("/a/b"));
        QVERIFY(m.route);
        QCOMPARE(m.route->pattern, QStringLiteral("/a/{x}"));
        QVERIFY(!m.route->needsAuth);
        QCOMPARE(r.routes().size(), size_t(2));
    }
};

QTEST_GUILESS_MAIN(TestRouter)
#include "tst_router.moc"
