// The egress policy: JSON both ways, errors naming the bad field, how names
// resolve (dnsmasq's matching, deny on a tie), and which allow rules name an
// always-denied range.

#include "core/net/networkpolicy.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using namespace Net;

namespace {

Core::Expected<NetworkPolicy> parse(const char *json)
{
    return NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
}

} // namespace

class TestNetworkPolicy : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesAndRoundTrips()
    {
        auto p = parse(R"({"default": "deny", "allow": ["Allowed.Test.", "*.pythonhosted.org", "203.0.113.0/24", "2001:db8::/32",
            {"domain": "pypi.org", "ports": [443, "80/tcp", "8000-8100/udp"]}, {"cidr": "198.51.100.7", "ports": ["53/udp"]}],
            "deny": [{"ports": ["25/tcp"]}]})");
        QVERIFY2(p, p ? "" : qPrintable(p.error().message));
        QCOMPARE(p->defaultAction, NetworkPolicy::Default::Deny);
        QCOMPARE(p->allow.size(), 6);
        QCOMPARE(p->allow.at(0).domain, QStringLiteral("allowed.test"));
        QVERIFY(p->allow.at(1).isWildcard());
        QCOMPARE(p->allow.at(2).cidr.toString(), QStringLiteral("203.0.113.0/24"));
        QVERIFY(p->allow.at(3).cidr.isV6());
        QCOMPARE(p->allow.at(4).ports.size(), 3);
        QCOMPARE(p->allow.at(4).ports.at(2).protocol, Transport::Udp);
        QCOMPARE(p->allow.at(5).cidr.toString(), QStringLiteral("198.51.100.7/32"));
        QCOMPARE(p->deny.at(0).ports.at(0).toString(), QStringLiteral("25/tcp"));

        const QJsonObject json = p->toJson();
        QCOMPARE(json.value(QLatin1String("default")).toString(), QStringLiteral("deny"));
        auto again = NetworkPolicy::fromJson(json);
        QVERIFY(again);
        QVERIFY(*again == *p);
        QCOMPARE(again->toJson(), json);
        QCOMPARE(QJsonDocument(p->allow.at(4).toJson()).toJson(QJsonDocument::Compact),
                 QByteArray(R"({"domain":"pypi.org","ports":["443","80/tcp","8000-8100/udp"]})"));
    }

    void errorsNameTheField_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("says");
        QTest::newRow("no default") << QByteArray(R"({"allow": []})") << QStringLiteral("policy.default") << QStringLiteral("required");
        QTest::newRow("bad default") << QByteArray(R"({"default": "maybe"})") << QStringLiteral("policy.default") << QStringLiteral("\"deny\" or \"allow\"");
        QTest::newRow("unknown top") << QByteArray(R"({"default": "deny", "alow": []})") << QStringLiteral("policy.alow") << QStringLiteral("unknown");
        QTest::newRow("allow not list") << QByteArray(R"({"default": "deny", "allow": "x.test"})") << QStringLiteral("policy.allow") << QStringLiteral("list");
        QTest::newRow("bad cidr") << QByteArray(R"({"default": "deny", "allow": ["ok.test", {"cidr": "10.1.2.3/8"}]})")
                                  << QStringLiteral("policy.allow[1].cidr") << QStringLiteral("10.0.0.0/8");
        QTest::newRow("bad domain") << QByteArray(R"({"default": "deny", "allow": ["exa mple.com"]})") << QStringLiteral("policy.allow[0]")
                                    << QStringLiteral("not a domain");
        QTest::newRow("star inside") << QByteArray(R"({"default": "deny", "allow": ["a.*.example.com"]})") << QStringLiteral("policy.allow[0]")
                                     << QStringLiteral("whole first label");
        QTest::newRow("star alone") << QByteArray(R"({"default": "deny", "allow": ["*"]})") << QStringLiteral("policy.allow[0]")
                                    << QStringLiteral("not a domain");
        QTest::newRow("unicode") << QByteArray(R"({"default": "deny", "allow": ["bücher.example"]})") << QStringLiteral("policy.allow[0]")
                                 << QStringLiteral("xn--");
        QTest::newRow("both") << QByteArray(R"({"default": "deny", "deny": [{"domain": "a.test", "cidr": "1.2.3.4"}]})") << QStringLiteral("policy.deny[0]")
                              << QStringLiteral("one destination");
        QTest::newRow("empty rule") << QByteArray(R"({"default": "deny", "deny": [{}]})") << QStringLiteral("policy.deny[0]") << QStringLiteral("needs");
        QTest::newRow("rule field") << QByteArray(R"({"default": "deny", "deny": [{"host": "a"}]})") << QStringLiteral("policy.deny[0].host")
                                    << QStringLiteral("unknown");
        QTest::newRow("port 0") << QByteArray(R"({"default": "deny", "allow": [{"ports": [0]}]})") << QStringLiteral("policy.allow[0].ports[0]")
                                << QStringLiteral("1-65535");
        QTest::newRow("port range") << QByteArray(R"({"default": "deny", "allow": [{"ports": ["9-3"]}]})") << QStringLiteral("policy.allow[0].ports[0]")
                                    << QStringLiteral("low-high");
        QTest::newRow("port proto") << QByteArray(R"({"default": "deny", "allow": [{"ports": ["53/sctp"]}]})") << QStringLiteral("policy.allow[0].ports[0]")
                                    << QStringLiteral("53/udp");
        QTest::newRow("port big") << QByteArray(R"({"default": "deny", "allow": [{"ports": [70000]}]})") << QStringLiteral("policy.allow[0].ports[0]")
                                  << QStringLiteral("1-65535");
        QTest::newRow("ports empty") << QByteArray(R"({"default": "deny", "allow": [{"ports": []}]})") << QStringLiteral("policy.allow[0].ports")
                                     << QStringLiteral("1-64");
        QTest::newRow("denied domain ports") << QByteArray(R"({"default": "allow", "deny": [{"domain": "x.test", "ports": [443]}]})")
                                             << QStringLiteral("policy.deny[0].ports") << QStringLiteral("not resolved at all");
        QTest::newRow("rule type") << QByteArray(R"({"default": "deny", "allow": [42]})") << QStringLiteral("policy.allow[0]")
                                   << QStringLiteral("string or an object");
    }
    void errorsNameTheField()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, field);
        QFETCH(QString, says);
        auto p = NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
        QVERIFY(!p);
        QCOMPARE(p.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(p.error().message.startsWith(field + QLatin1Char(':')), qPrintable(p.error().message));
        QVERIFY2(p.error().message.contains(says), qPrintable(p.error().message));
    }

    void tooManyRules()
    {
        QJsonArray a;
        for (int i = 0; i < 257; ++i)
            a.append(QStringLiteral("h%1.test").arg(i));
        auto p = NetworkPolicy::fromJson(QJsonObject{{QStringLiteral("default"), QStringLiteral("deny")}, {QStringLiteral("allow"), a}},
                                         QStringLiteral("network.policy"));
        QVERIFY(!p);
        QVERIFY2(p.error().message.startsWith(QLatin1String("network.policy.allow:")), qPrintable(p.error().message));
    }

    void namesResolveAsDnsmasqMatches_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("resolves");
        const QByteArray p = R"({"default": "deny", "allow": ["allowed.test", "*.files.test", "api.denied.test", "clash.test"],
                                 "deny": ["denied.test", "bad.allowed.test", "clash.test", "*.sub.files.test"]})";
        QTest::newRow("exact") << p << QStringLiteral("allowed.test") << true;
        QTest::newRow("below exact") << p << QStringLiteral("www.allowed.test") << true;
        QTest::newRow("trailing dot, case") << p << QStringLiteral("WWW.Allowed.Test.") << true;
        QTest::newRow("not a label match") << p << QStringLiteral("notallowed.test") << false;
        QTest::newRow("unlisted") << p << QStringLiteral("example.com") << false;
        QTest::newRow("wildcard not itself") << p << QStringLiteral("files.test") << false;
        QTest::newRow("wildcard below") << p << QStringLiteral("a.files.test") << true;
        QTest::newRow("wildcard deep") << p << QStringLiteral("a.b.files.test") << true;
        QTest::newRow("deny more specific") << p << QStringLiteral("x.bad.allowed.test") << false;
        QTest::newRow("allow more specific") << p << QStringLiteral("api.denied.test") << true;
        QTest::newRow("denied") << p << QStringLiteral("denied.test") << false;
        QTest::newRow("tie: deny wins") << p << QStringLiteral("clash.test") << false;
        QTest::newRow("longer wildcard deny") << p << QStringLiteral("x.sub.files.test") << false;
        const QByteArray q = R"({"default": "allow", "allow": ["example.com"], "deny": ["*.example.com", "ads.test"]})";
        QTest::newRow("label beats wildcard") << q << QStringLiteral("www.example.com") << true;
        QTest::newRow("default allow") << q << QStringLiteral("anything.test") << true;
        QTest::newRow("default allow, denied") << q << QStringLiteral("x.ads.test") << false;
    }
    void namesResolveAsDnsmasqMatches()
    {
        QFETCH(QByteArray, json);
        QFETCH(QString, name);
        QFETCH(bool, resolves);
        auto p = NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
        QVERIFY2(p, p ? "" : qPrintable(p.error().message));
        QCOMPARE(p->resolves(name), resolves);
    }

    // "Names them": an allow network wholly inside an always-denied range.
    void namedReservedAllows()
    {
        auto p = parse(R"({"default": "deny", "allow": ["10.1.2.3", "192.168.0.0/16", "169.254.169.254/32", "fd00::/64", "0.0.0.0/0",
            "8.0.0.0/6", "203.0.113.0/24", "internal.test", "10.213.0.6/32", "::/0"]})");
        QVERIFY(p);
        const QList<PolicyRule> named = p->namedReservedAllows({*Cidr::parse(QStringLiteral("10.213.0.0/16"))});
        QStringList got;
        for (const PolicyRule &r : named)
            got << r.cidr.toString();
        QCOMPARE(got,
                 (QStringList{QStringLiteral("10.1.2.3/32"), QStringLiteral("192.168.0.0/16"), QStringLiteral("169.254.169.254/32"),
                              QStringLiteral("fd00::/64"), QStringLiteral("10.213.0.6/32")}));
        // An extra range (another instance's subnet outside 10/8) counts too.
        auto q = parse(R"({"default": "deny", "allow": ["198.18.0.5"]})");
        QVERIFY(q->namedReservedAllows().isEmpty());
        QCOMPARE(q->namedReservedAllows({*Cidr::parse(QStringLiteral("198.18.0.0/15"))}).size(), 1);
    }

    void alwaysDeniedRanges()
    {
        const QList<Cidr> &r = NetworkPolicy::alwaysDenied();
        auto covered = [&](const char *a) {
            return std::any_of(r.begin(), r.end(), [&](const Cidr &c) { return c.contains(QHostAddress(QLatin1String(a))); });
        };
        for (const char *a : {"127.0.0.1", "169.254.169.254", "10.255.255.53", "172.31.0.1", "192.168.1.1", "100.64.0.1", "224.0.0.1", "255.255.255.255",
                              "0.0.0.0", "::1", "fe80::1", "fd00::2", "ff02::1", "::ffff:10.0.0.1", "::"})
            QVERIFY2(covered(a), a);
        for (const char *a : {"192.0.2.2", "198.51.100.1", "203.0.113.9", "8.8.8.8", "2001:db8::1", "172.32.0.1", "100.128.0.1"})
            QVERIFY2(!covered(a), a);
    }
};

QTEST_GUILESS_MAIN(TestNetworkPolicy)
#include "tst_networkpolicy.moc"
