// The VM subnet and addresses: routes parsed from /proc/net/route and
// /proc/net/ipv6_route text (this machine's as a fixture), candidates
// skipped or refused when they overlap a route or the host's resolver, the
// /30 per slot, and MACs: deterministic, locally administered, unique.

#include "core/net/subnetplan.h"

#include <QRegularExpression>
#include <QTest>

using namespace Net;

namespace {

// This machine's routes (eth0 192.0.2.2/24, default via 192.0.2.1; fd00::/64).
const QByteArray kRoute = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                          "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                          "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
const QByteArray kIpv6Route = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 "
                              "00000000 00000001     eth0\n"
                              "fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000002 "
                              "00000000 00000001     eth0\n"
                              "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000003 "
                              "00000000 00000003     eth0\n";
// A host whose LAN is 10.213.5.0/24 and with Docker's bridge (172.17/16) and a VPN's 0/1.
const QByteArray kBusyRoute = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
                              "eth0\t00000000\t0105D50A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                              "eth0\t0005D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
                              "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
                              "tun0\t00000000\t00000000\t0001\t0\t0\t0\t00000080\t0\t0\t0\n";

QStringList routeStrings(const HostRoutes &h)
{
    QStringList out;
    for (const Cidr &c : h.routes)
        out << c.toString();
    return out;
}

} // namespace

class TestSubnetPlan : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parsesRoutes()
    {
        const HostRoutes h = HostRoutes::parse(kRoute, kIpv6Route);
        QCOMPARE(routeStrings(h),
                 (QStringList{QStringLiteral("0.0.0.0/0"), QStringLiteral("192.0.2.0/24"), QStringLiteral("fd00::/64"), QStringLiteral("fe80::/64"),
                              QStringLiteral("::/0")}));
        QCOMPARE(routeStrings(HostRoutes::parse(kBusyRoute, {})).at(3), QStringLiteral("0.0.0.0/1"));
        QVERIFY(HostRoutes::parse("garbage\nline without fields\n", "short line\n").routes.isEmpty());
        // This machine's own tables parse (whatever they hold).
        const HostRoutes own = HostRoutes::read();
        for (const Cidr &c : own.routes)
            QVERIFY(c.isValid());
    }

    void thisMachinesNetworkIsNeverChosen()
    {
        const HostRoutes h = HostRoutes::parse(kRoute, kIpv6Route);
        auto plan = SubnetPlan::choose({QStringLiteral("192.0.2.0/24")}, h);
        QVERIFY(!plan);
        QVERIFY2(plan.error().message.contains(QLatin1String("192.0.2.0/24")) && plan.error().message.contains(QLatin1String("route")),
                 qPrintable(plan.error().message));
        QVERIFY(!SubnetPlan::choose({QStringLiteral("192.0.0.0/16")}, h)); // a wider one holding it
        QVERIFY(!SubnetPlan::choose({QStringLiteral("192.0.2.128/25")}, h)); // a narrower one inside it
        auto def = SubnetPlan::choose({}, h, {QHostAddress(QStringLiteral("10.255.255.53"))});
        QVERIFY2(def, def ? "" : qPrintable(def.error().message));
        QCOMPARE(def->subnet().toString(), QStringLiteral("10.213.0.0/16"));
        // The real tables of this machine: whatever is chosen overlaps none of its routes.
        const HostRoutes own = HostRoutes::read();
        auto real = SubnetPlan::choose({}, own);
        if (real)
            for (const Cidr &r : own.routes)
                QVERIFY(r.prefix() < SubnetPlan::kMinRoutePrefix || !r.overlaps(real->subnet()));
    }

    void skipsBusyCandidates()
    {
        const HostRoutes h = HostRoutes::parse(kBusyRoute, {});
        auto plan = SubnetPlan::choose({}, h);
        QVERIFY(plan);
        QCOMPARE(plan->subnet().toString(), QStringLiteral("10.214.0.0/16")); // 10.213/16 holds the LAN; the VPN's /1 does not count
        auto resolver = SubnetPlan::choose({QStringLiteral("10.214.0.0/16"), QStringLiteral("10.215.0.0/20")}, h, {QHostAddress(QStringLiteral("10.214.9.9"))});
        QVERIFY(resolver);
        QCOMPARE(resolver->subnet().toString(), QStringLiteral("10.215.0.0/20"));
        auto none = SubnetPlan::choose({QStringLiteral("172.17.0.0/20"), QStringLiteral("10.213.0.0/16")}, h);
        QVERIFY(!none);
        QVERIFY2(none.error().message.contains(QLatin1String("172.17.0.0/16")) && none.error().message.contains(QLatin1String("10.213.5.0/24")),
                 qPrintable(none.error().message));
    }

    void refusesBadSubnets_data()
    {
        QTest::addColumn<QString>("subnet");
        QTest::addColumn<QString>("says");
        QTest::newRow("v6") << QStringLiteral("fd42::/64") << QStringLiteral("IPv6");
        QTest::newRow("too small") << QStringLiteral("10.9.9.0/28") << QStringLiteral("/8 to /24");
        QTest::newRow("too big") << QStringLiteral("10.0.0.0/7") << QStringLiteral("/8 to /24");
        QTest::newRow("host bits") << QStringLiteral("10.9.9.1/24") << QStringLiteral("10.9.9.0/24");
    }
    void refusesBadSubnets()
    {
        QFETCH(QString, subnet);
        QFETCH(QString, says);
        auto plan = SubnetPlan::choose({subnet}, {});
        QVERIFY(!plan);
        QVERIFY2(plan.error().message.contains(says), qPrintable(plan.error().message));
    }

    void addressesPerSlot()
    {
        auto plan = SubnetPlan::choose({QStringLiteral("10.213.0.0/16")}, {});
        QVERIFY(plan);
        QCOMPARE(plan->slotCount(), 16384);
        auto a0 = plan->address(0);
        QVERIFY(a0);
        QCOMPARE(a0->gateway, QHostAddress(QStringLiteral("10.213.0.1")));
        QCOMPARE(a0->address, QHostAddress(QStringLiteral("10.213.0.2")));
        QCOMPARE(a0->block.toString(), QStringLiteral("10.213.0.0/30"));
        auto a100 = plan->address(100);
        QCOMPARE(a100->gateway, QHostAddress(QStringLiteral("10.213.1.145")));
        QCOMPARE(a100->address, QHostAddress(QStringLiteral("10.213.1.146")));
        QCOMPARE(plan->address(16383)->address, QHostAddress(QStringLiteral("10.213.255.254")));
        QVERIFY(!plan->address(16384));
        QVERIFY(!plan->address(-1));
        // The same slot always gives the same addresses (restarts, adoption).
        auto again = SubnetPlan::choose({QStringLiteral("10.213.0.0/16")}, {});
        QCOMPARE(again->address(100)->address, a100->address);
        QCOMPARE(*plan->freeSlot({0, 1, 3}), 2);
        auto small = SubnetPlan::choose({QStringLiteral("10.9.9.0/24")}, {});
        QSet<int> all;
        for (int i = 0; i < small->slotCount(); ++i)
            all << i;
        auto full = small->freeSlot(all);
        QVERIFY(!full);
        QCOMPARE(full.error().code, Core::ErrorCode::NoSpace);
    }

    void macs()
    {
        const QString a = macForVm(QStringLiteral("vm-a"));
        QCOMPARE(a, macForVm(QStringLiteral("vm-a")));
        QVERIFY(a != macForVm(QStringLiteral("vm-b")));
        static const QRegularExpression form(QRegularExpression::anchoredPattern(QStringLiteral("[0-9a-f]{2}(:[0-9a-f]{2}){5}")));
        QSet<QString> taken;
        for (int i = 0; i < 2000; ++i) {
            const QString m = macForVm(QStringLiteral("vm-%1").arg(i), taken);
            QVERIFY(form.match(m).hasMatch());
            const int first = m.left(2).toInt(nullptr, 16);
            QVERIFY2((first & 0x01) == 0 && (first & 0x02) == 2, qPrintable(m)); // unicast, locally administered
            QVERIFY(!taken.contains(m));
            taken << m;
        }
        // A taken MAC (a fork's parent, a collision) moves on, deterministically.
        const QString next = macForVm(QStringLiteral("vm-a"), {a});
        QVERIFY(next != a);
        QCOMPARE(macForVm(QStringLiteral("vm-a"), {a}), next);
        QVERIFY(macForVm(QStringLiteral("vm-a"), {a, next}) != next);
    }
};

QTEST_GUILESS_MAIN(TestSubnetPlan)
#include "tst_subnetplan.moc"
