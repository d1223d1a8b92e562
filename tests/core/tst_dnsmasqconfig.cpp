// One VM's dnsmasq configuration: golden files for several policies, each
// checked by the real dnsmasq (`dnsmasq --test`, which starts nothing) when
// it is installed, and the refusals. Regenerate the goldens with
// MVS_UPDATE_GOLDEN=1 and review the diff.

#include "core/net/dnsmasqconfig.h"
#include "core/net/nftruleset.h"
#include "core/template/vmtemplate.h"
#include "golden.h"

#include <QFile>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace Net;

namespace {

constexpr int kDnsmasqTimeoutMs = 30000;

NetworkPolicy policy(const char *json)
{
    auto p = NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
    if (!p)
        qFatal("bad test policy: %s", qPrintable(p.error().message));
    return *p;
}

DnsmasqConfig config(const char *json)
{
    DnsmasqConfig c;
    c.table = QStringLiteral("mvs_t1");
    c.slot = 3;
    c.listenAddress = QHostAddress(QStringLiteral("10.213.0.13"));
    c.upstreams = {QStringLiteral("10.255.255.53")};
    c.pidFile = QStringLiteral("/run/microvm-sandbox/net/v3/dnsmasq.pid");
    c.logFile = QStringLiteral("/run/microvm-sandbox/net/v3/dnsmasq.log");
    c.policy = policy(json);
    return c;
}

const char *const kDenyAllowList = R"({"default": "deny",
    "allow": ["allowed.test", {"domain": "*.pythonhosted.org", "ports": [443]}, {"domain": "files.test", "ports": [443]},
              "203.0.113.0/24", "clash.test"],
    "deny": ["bad.allowed.test", "clash.test", {"ports": ["25/tcp"]}]})";
const char *const kAllowDefault = R"({"default": "allow", "allow": ["api.ads.test"], "deny": ["ads.test", "*.tracker.test"]})";
const char *const kDenyAll = R"({"default": "deny"})";

} // namespace

class TestDnsmasqConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void golden_data()
    {
        QTest::addColumn<QString>("golden");
        QTest::addColumn<QString>("text");
        QTest::newRow("deny-allowlist") << QStringLiteral("net/dnsmasq-deny-allowlist.conf") << *config(kDenyAllowList).text();
        DnsmasqConfig allow = config(kAllowDefault);
        allow.upstreams << QStringLiteral("127.0.0.53#53");
        allow.logQueries = true;
        QTest::newRow("allow-default") << QStringLiteral("net/dnsmasq-allow-default.conf") << *allow.text();
        QTest::newRow("deny-all") << QStringLiteral("net/dnsmasq-deny-all.conf") << *config(kDenyAll).text();
        DnsmasqConfig inNamespace = config(kDenyAll);
        inNamespace.inUserNamespace = true; // RootlessNetwork: keeps the namespace's root
        QTest::newRow("user-namespace") << QStringLiteral("net/dnsmasq-user-namespace.conf") << *inNamespace.text();
    }
    void golden()
    {
        QFETCH(QString, golden);
        QFETCH(QString, text);
        Golden::compare(text.toUtf8(), golden);
        if (QTest::currentTestFailed())
            return;
        const QString dnsmasq = QStandardPaths::findExecutable(QStringLiteral("dnsmasq"), {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")});
        if (dnsmasq.isEmpty())
            QSKIP("dnsmasq is not installed (Debian package dnsmasq-base): the golden is not checked by dnsmasq --test");
        QProcess p;
        p.start(dnsmasq, {QStringLiteral("--test"), QStringLiteral("--conf-file=") + Golden::path(golden)});
        QVERIFY(p.waitForFinished(kDnsmasqTimeoutMs));
        const QByteArray out = p.readAllStandardOutput() + p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, out.constData());
        QVERIFY2(out.contains("syntax check OK"), out.constData());
    }

    // What the policy says about names is what the configuration does: every
    // allowed pattern (not also denied) is forwarded with its nftset, the
    // rest answers NXDOMAIN.
    void followsPolicy()
    {
        const QString t = *config(kDenyAllowList).text();
        QVERIFY(t.contains(QLatin1String("\naddress=/#/\n")));
        QVERIFY(t.contains(QLatin1String("\nserver=/allowed.test/10.255.255.53\n")));
        QVERIFY(t.contains(QLatin1String("\nnftset=/allowed.test/4#inet#mvs_t1#v3_d0_4,6#inet#mvs_t1#v3_d0_6\n")));
        QVERIFY(t.contains(QLatin1String("\nnftset=/*.pythonhosted.org/4#inet#mvs_t1#v3_d1_4,6#inet#mvs_t1#v3_d1_6\n")));
        QVERIFY(t.contains(QLatin1String("\nnftset=/files.test/4#inet#mvs_t1#v3_d1_4,")));
        QVERIFY(t.contains(QLatin1String("\naddress=/bad.allowed.test/\n")));
        QVERIFY(!t.contains(QLatin1String("server=/clash.test/"))); // deny wins the tie
        QVERIFY(!t.contains(QLatin1String("\nserver=10.255.255.53\n"))); // nothing forwarded by default
        QVERIFY(!t.contains(QLatin1String("interface=")));
        for (const char *line : {"\nno-resolv\n", "\nno-hosts\n", "\nbind-interfaces\n", "\nlisten-address=10.213.0.13\n"})
            QVERIFY2(t.contains(QLatin1String(line)), line);
        QVERIFY(!t.contains(QLatin1String("dhcp")));
        QVERIFY(!t.contains(QLatin1String("stop-dns-rebind"))); // it drops TEST-NET answers; nft refuses reserved ranges
        QVERIFY(!t.contains(QLatin1String("log-queries")));
        const QString a = *config(kAllowDefault).text();
        QVERIFY(!a.contains(QLatin1String("address=/#/")));
        QVERIFY(a.contains(QLatin1String("\nserver=10.255.255.53\n")));
        QVERIFY(a.contains(QLatin1String("\naddress=/*.tracker.test/\n")));
    }

    // dnsmasq --test checks option syntax only (an nftset spec without its set
    // passes): every set a configuration names is one the VM's nftables
    // script declares, in the same table.
    void nftsetsExistInTheRuleset()
    {
        for (const char *json : {kDenyAllowList, kAllowDefault}) {
            const DnsmasqConfig c = config(json);
            const auto ruleset = NftRuleset::create(QStringLiteral("t1"), *Cidr::parse(QStringLiteral("10.213.0.0/16")));
            QVERIFY(ruleset);
            VmFilter vm;
            vm.slot = c.slot;
            vm.tap = QStringLiteral("mvst1v3");
            vm.gateway = c.listenAddress;
            vm.address = QHostAddress(QStringLiteral("10.213.0.14"));
            vm.policy = c.policy;
            const QString script = *ruleset->vmScript(vm);
            static const QRegularExpression spec(QStringLiteral("[46]#inet#([a-z0-9_]+)#([a-z0-9_]+)"));
            int seen = 0;
            for (auto it = spec.globalMatch(*c.text()); it.hasNext(); ++seen) {
                const auto m = it.next();
                QCOMPARE(m.captured(1), ruleset->table());
                QVERIFY2(script.contains(QStringLiteral("    set %1 {\n").arg(m.captured(2))), qPrintable(m.captured(2)));
            }
            QVERIFY(seen > 0);
        }
    }

    // The agent template's stated policy (templates/agent.yaml), as a VM
    // created from it without a "network" gets it: dnsmasq takes the
    // configuration, each allowed index is forwarded into its nft set, and
    // every other name answers NXDOMAIN.
    void agentTemplatePolicy()
    {
        auto t = Templates::VmTemplate::load(QStringLiteral("ai-agent"));
        QVERIFY2(t, qPrintable(t ? QString() : t.error().message));
        QCOMPARE(t->network.mode, QStringLiteral("egress"));
        DnsmasqConfig c = config(kDenyAll);
        c.policy = t->network.policy;
        const QString text = *c.text();
        QVERIFY(text.contains(QLatin1String("\naddress=/#/\n")));
        for (const char *domain : {"pypi.org", "files.pythonhosted.org", "registry.npmjs.org", "github.com", "githubusercontent.com", "deb.debian.org"}) {
            QVERIFY2(text.contains(QStringLiteral("\nserver=/%1/10.255.255.53\n").arg(QLatin1String(domain))), domain);
            QVERIFY2(text.contains(QStringLiteral("\nnftset=/%1/4#inet#mvs_t1#").arg(QLatin1String(domain))), domain);
        }
        const QString dnsmasq = QStandardPaths::findExecutable(QStringLiteral("dnsmasq"), {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")});
        if (dnsmasq.isEmpty())
            QSKIP("dnsmasq is not installed (Debian package dnsmasq-base): the configuration is not checked by dnsmasq --test");
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QFile f(dir.filePath(QStringLiteral("agent.conf")));
        QVERIFY(f.open(QIODevice::WriteOnly) && f.write(text.toUtf8()) > 0);
        f.close();
        QProcess p;
        p.start(dnsmasq, {QStringLiteral("--test"), QStringLiteral("--conf-file=") + f.fileName()});
        QVERIFY(p.waitForFinished(kDnsmasqTimeoutMs));
        const QByteArray out = p.readAllStandardOutput() + p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0 && out.contains("syntax check OK"), out.constData());
    }

    void refusals_data()
    {
        QTest::addColumn<int>("variant");
        QTest::addColumn<QString>("says");
        QTest::newRow("no upstream") << 0 << QStringLiteral("upstream");
        QTest::newRow("bad upstream") << 1 << QStringLiteral("not an address");
        QTest::newRow("itself") << 2 << QStringLiteral("resolver itself");
        QTest::newRow("v6 listen") << 3 << QStringLiteral("IPv4 gateway");
        QTest::newRow("relative pid") << 4 << QStringLiteral("pid_file");
        QTest::newRow("newline log") << 5 << QStringLiteral("log_file");
        QTest::newRow("table") << 6 << QStringLiteral("table");
        QTest::newRow("bad port") << 7 << QStringLiteral("address#port");
    }
    void refusals()
    {
        QFETCH(int, variant);
        QFETCH(QString, says);
        DnsmasqConfig c = config(kDenyAll);
        switch (variant) {
        case 0: c.upstreams.clear(); break;
        case 1: c.upstreams = {QStringLiteral("resolver.example")}; break;
        case 2: c.upstreams = {QStringLiteral("10.213.0.13")}; break;
        case 3: c.listenAddress = QHostAddress(QStringLiteral("fd42::1")); break;
        case 4: c.pidFile = QStringLiteral("dnsmasq.pid"); break;
        case 5: c.logFile = QStringLiteral("/tmp/x\nserver=1.1.1.1"); break;
        case 6: c.table = QStringLiteral("filter"); break;
        default: c.upstreams = {QStringLiteral("10.0.0.1#0")}; break;
        }
        auto t = c.text();
        QVERIFY(!t);
        QVERIFY2(t.error().message.contains(says), qPrintable(t.error().message));
    }

    void nameserversOfResolvConf()
    {
        const QByteArray conf = "# generated\nsearch example\nnameserver 10.255.255.53\nnameserver  127.0.0.53 \nnameserver fe80::1%eth0\n"
                                "nameserver bogus\noptions edns0\nnameserver 10.255.255.53\nnameserver 2001:db8::53\n";
        QCOMPARE(DnsmasqConfig::nameservers(conf),
                 (QStringList{QStringLiteral("10.255.255.53"), QStringLiteral("127.0.0.53"), QStringLiteral("2001:db8::53")}));
    }
};

QTEST_GUILESS_MAIN(TestDnsmasqConfig)
#include "tst_dnsmasqconfig.moc"
