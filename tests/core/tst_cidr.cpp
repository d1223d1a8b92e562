// Net::Cidr: strict parsing (the error names the network meant), containment
// and overlap across prefixes, IPv4 offsets.

#include "core/net/cidr.h"

#include <QTest>

using Net::Cidr;

class TestCidr : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parses_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("canonical");
        QTest::newRow("v4") << QStringLiteral("10.0.0.0/8") << QStringLiteral("10.0.0.0/8");
        QTest::newRow("v4 host") << QStringLiteral("169.254.169.254") << QStringLiteral("169.254.169.254/32");
        QTest::newRow("v4 any") << QStringLiteral("0.0.0.0/0") << QStringLiteral("0.0.0.0/0");
        QTest::newRow("v6") << QStringLiteral("fe80::/10") << QStringLiteral("fe80::/10");
        QTest::newRow("v6 host") << QStringLiteral("2001:db8::1") << QStringLiteral("2001:db8::1/128");
        QTest::newRow("v6 upper") << QStringLiteral("FD00::/8") << QStringLiteral("fd00::/8");
    }
    void parses()
    {
        QFETCH(QString, text);
        QFETCH(QString, canonical);
        auto c = Cidr::parse(text);
        QVERIFY2(c, c ? "" : qPrintable(c.error().message));
        QCOMPARE(c->toString(), canonical);
    }

    void refuses_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("says");
        QTest::newRow("host bits") << QStringLiteral("10.1.2.3/8") << QStringLiteral("10.0.0.0/8");
        QTest::newRow("v6 host bits") << QStringLiteral("fe80::1/10") << QStringLiteral("fe80::/10");
        QTest::newRow("prefix") << QStringLiteral("10.0.0.0/33") << QStringLiteral("0-32");
        QTest::newRow("v6 prefix") << QStringLiteral("::/129") << QStringLiteral("0-128");
        QTest::newRow("short v4") << QStringLiteral("10.1") << QStringLiteral("IPv4");
        QTest::newRow("octet") << QStringLiteral("10.0.0.256") << QStringLiteral("bad address");
        QTest::newRow("name") << QStringLiteral("example.com") << QStringLiteral("IPv4");
        QTest::newRow("scope") << QStringLiteral("fe80::1%eth0") << QStringLiteral("IPv4");
        QTest::newRow("empty prefix") << QStringLiteral("10.0.0.0/") << QStringLiteral("prefix");
        QTest::newRow("sign") << QStringLiteral("10.0.0.0/+8") << QStringLiteral("prefix");
    }
    void refuses()
    {
        QFETCH(QString, text);
        QFETCH(QString, says);
        auto c = Cidr::parse(text);
        QVERIFY(!c);
        QVERIFY2(c.error().message.contains(says), qPrintable(c.error().message));
        QVERIFY(c.error().message.contains(text));
    }

    void containsAndOverlaps()
    {
        const Cidr ten = *Cidr::parse(QStringLiteral("10.0.0.0/8"));
        const Cidr sub = *Cidr::parse(QStringLiteral("10.213.0.0/16"));
        const Cidr any = *Cidr::parse(QStringLiteral("0.0.0.0/0"));
        const Cidr wide = *Cidr::parse(QStringLiteral("8.0.0.0/6")); // 8.0.0.0-11.255.255.255
        QVERIFY(ten.contains(sub));
        QVERIFY(!sub.contains(ten));
        QVERIFY(sub.overlaps(ten) && ten.overlaps(sub));
        QVERIFY(any.contains(ten));
        QVERIFY(!ten.contains(wide) && wide.contains(ten));
        QVERIFY(!ten.overlaps(*Cidr::parse(QStringLiteral("11.0.0.0/8"))));
        QVERIFY(ten.contains(QHostAddress(QStringLiteral("10.255.255.53"))));
        QVERIFY(!ten.contains(QHostAddress(QStringLiteral("::ffff:10.0.0.1"))));
        const Cidr ula = *Cidr::parse(QStringLiteral("fc00::/7"));
        QVERIFY(ula.contains(*Cidr::parse(QStringLiteral("fd00::/64"))));
        QVERIFY(!ula.overlaps(ten));
        QVERIFY(!ula.contains(ten));
    }

    void ipv4Offsets()
    {
        const Cidr c = *Cidr::parse(QStringLiteral("10.213.0.0/30"));
        QCOMPARE(c.ipv4Size(), quint64(4));
        QCOMPARE(c.ipv4At(1), QHostAddress(QStringLiteral("10.213.0.1")));
        QVERIFY(c.ipv4At(4).isNull());
        QCOMPARE(Cidr(QHostAddress(QStringLiteral("192.168.7.9")), 24).toString(), QStringLiteral("192.168.7.0/24"));
        QCOMPARE(Cidr::parse(QStringLiteral("1.2.3.4"))->toString(true), QStringLiteral("1.2.3.4"));
        QCOMPARE(Cidr::parse(QStringLiteral("::/0"))->ipv4Size(), quint64(0));
    }
};

QTEST_GUILESS_MAIN(TestCidr)
#include "tst_cidr.moc"
