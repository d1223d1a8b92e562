// The guest's network spec (protocol/netspec.h, parsed by the guest agent)
// and the host's builders of it (core/net/guestnet.h).

#include "core/net/guestnet.h"
#include "protocol/netspec.h"

#include <QTest>

class TestGuestNet : public QObject {
    Q_OBJECT

    static Net::VmAddress slot0()
    {
        auto plan = Net::SubnetPlan::choose({QStringLiteral("10.213.0.0/16")}, Net::HostRoutes{});
        if (!plan)
            return {};
        return plan->address(0).valueOr(Net::VmAddress{});
    }

private Q_SLOTS:
    void buildsFromASubnetPlanSlot()
    {
        const Net::VmAddress a = slot0();
        QCOMPARE(a.address.toString(), QStringLiteral("10.213.0.2"));
        const auto spec = Net::GuestNet::spec(a, QStringLiteral("0A:1b:2c:3d:4e:5f"));
        QVERIFY2(spec, spec ? "" : qPrintable(spec.error().message));
        QCOMPARE(*spec, QStringLiteral("10.213.0.2/30,10.213.0.1,0a:1b:2c:3d:4e:5f"));
        const auto arg = Net::GuestNet::kernelArgument(a, QStringLiteral("0a:1b:2c:3d:4e:5f"));
        QVERIFY(arg);
        QCOMPARE(*arg, QStringLiteral("mvs.net=10.213.0.2/30,10.213.0.1,0a:1b:2c:3d:4e:5f"));
        const auto cmd = Net::GuestNet::configureNetCommand(a, QStringLiteral("0a:1b:2c:3d:4e:5f"));
        QVERIFY(cmd);
        QCOMPARE(*cmd, (QStringList{QStringLiteral("microvm-agent"), QStringLiteral("--configure-net"), *spec}));
    }

    // Every MAC Net::macForVm hands out is one the guest takes.
    void macsForVmsAreAccepted()
    {
        for (int i = 0; i < 200; ++i) {
            const QString mac = Net::macForVm(QStringLiteral("vm-%1").arg(i));
            QVERIFY2(Net::GuestNet::spec(slot0(), mac), qPrintable(mac));
        }
    }

    void refusesWhatTheGuestWouldRefuse_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<QString>("gateway");
        QTest::addColumn<int>("prefix");
        QTest::addColumn<QString>("mac");
        QTest::newRow("ipv6") << "fd00::2"
                              << "fd00::1" << 64 << "0a:00:00:00:00:01";
        QTest::newRow("gateway outside") << "10.0.0.2"
                                         << "10.0.0.5" << 30 << "0a:00:00:00:00:01";
        QTest::newRow("gateway is the address") << "10.0.0.2"
                                                << "10.0.0.2" << 30 << "0a:00:00:00:00:01";
        QTest::newRow("multicast mac") << "10.0.0.2"
                                       << "10.0.0.1" << 30 << "01:00:5e:00:00:01";
        QTest::newRow("short mac") << "10.0.0.2"
                                   << "10.0.0.1" << 30 << "0a:00:00:00:01";
        QTest::newRow("mac with junk") << "10.0.0.2"
                                       << "10.0.0.1" << 30 << "0a:00:00:00:00:01 x";
        QTest::newRow("prefix 0") << "10.0.0.2"
                                  << "10.0.0.1" << 0 << "0a:00:00:00:00:01";
        QTest::newRow("prefix 33") << "10.0.0.2"
                                   << "10.0.0.1" << 33 << "0a:00:00:00:00:01";
    }
    void refusesWhatTheGuestWouldRefuse()
    {
        QFETCH(QString, address);
        QFETCH(QString, gateway);
        QFETCH(int, prefix);
        QFETCH(QString, mac);
        Net::VmAddress a;
        a.address = QHostAddress(address);
        a.gateway = QHostAddress(gateway);
        a.prefix = prefix;
        const auto s = Net::GuestNet::spec(a, mac);
        QVERIFY(!s);
        QCOMPARE(s.error().code, Core::ErrorCode::InvalidArgument);
    }

    void guestParserRoundTrips()
    {
        const auto spec = Protocol::NetSpec::parse("192.168.7.10/24,192.168.7.1,AA:bb:cc:dd:ee:f0");
        QVERIFY(spec);
        QCOMPARE(spec->address, 0xc0a8070aU);
        QCOMPARE(spec->gateway, 0xc0a80701U);
        QCOMPARE(spec->prefix, 24);
        QCOMPARE(spec->netmask(), 0xffffff00U);
        QCOMPARE(spec->mac[0], std::uint8_t(0xaa));
        QCOMPARE(QString::fromStdString(spec->format()), QStringLiteral("192.168.7.10/24,192.168.7.1,aa:bb:cc:dd:ee:f0"));
    }

    // What comes from the host's command line is parsed strictly: the
    // guest never configures half of a spec.
    void guestParserRefusesGarbage_data()
    {
        QTest::addColumn<QString>("text");
        for (const char *bad : {"", "10.0.0.2/30", "10.0.0.2/30,10.0.0.1", "10.0.0.2/30,10.0.0.1,0a:00:00:00:00:01,", "10.0.0.2,10.0.0.1,0a:00:00:00:00:01",
                                "10.0.0.256/30,10.0.0.1,0a:00:00:00:00:01", "10.0.0.02/30,10.0.0.1,0a:00:00:00:00:01",
                                "10.0.0.2/030,10.0.0.1,0a:00:00:00:00:01", "10.0.0.2/30,10.0.0.1,0a-00-00-00-00-01", "10.0.0.2/30,10.0.0.1,0a:00:00:00:00:0g",
                                "10.0.0.2/30x,10.0.0.1,0a:00:00:00:00:01", " 10.0.0.2/30,10.0.0.1,0a:00:00:00:00:01",
                                "10.0.0.2/30,10.0.0.1.1,0a:00:00:00:00:01", "10.0.0/30,10.0.0.1,0a:00:00:00:00:01", "10.0.0.2/30,10.0.1.1,0a:00:00:00:00:01"})
            QTest::newRow(bad) << QString::fromLatin1(bad);
    }
    void guestParserRefusesGarbage()
    {
        QFETCH(QString, text);
        QVERIFY(!Protocol::NetSpec::parse(text.toStdString()));
    }
};

QTEST_GUILESS_MAIN(TestGuestNet)
#include "tst_guestnet.moc"
