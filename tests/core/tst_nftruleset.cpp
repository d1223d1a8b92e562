// The nftables scripts of an instance: golden files for several policies,
// and every script checked by the real nft in check mode (`nft -c -f`,
// which applies nothing) when nft is installed and we may use it.
// Regenerate the goldens with MVS_UPDATE_GOLDEN=1 and review the diff.

#include "core/net/nftruleset.h"
#include "golden.h"

#include <QJsonDocument>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace Net;

namespace {

constexpr int kNftTimeoutMs = 30000;

NetworkPolicy policy(const char *json)
{
    auto p = NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
    if (!p)
        qFatal("bad test policy: %s", qPrintable(p.error().message));
    return *p;
}

NftRuleset ruleset(const char *instance = "t1")
{
    return *NftRuleset::create(QLatin1String(instance), *Cidr::parse(QStringLiteral("10.213.0.0/16")));
}

VmFilter vm(int slot, const NetworkPolicy &p, const QString &privateNetwork = {})
{
    VmFilter v;
    v.privateNetwork = privateNetwork;
    v.slot = slot;
    v.tap = QStringLiteral("mvst1v%1").arg(slot);
    v.gateway = QHostAddress(QStringLiteral("10.213.0.%1").arg(slot * 4 + 1));
    v.address = QHostAddress(QStringLiteral("10.213.0.%1").arg(slot * 4 + 2));
    v.policy = p;
    return v;
}

const char *const kDenyAllowList = R"({"default": "deny",
    "allow": ["allowed.test", {"domain": "*.pythonhosted.org", "ports": [443]},
              {"cidr": "203.0.113.0/24", "ports": ["80/tcp", 443, "8000-8100", "8050-8200/tcp"]},
              {"cidr": "10.1.2.3/32", "ports": ["5432/tcp"]}, {"cidr": "192.0.2.2", "ports": ["8080/tcp"]},
              {"domain": "files.test", "ports": [443]}],
    "deny": [{"ports": ["25/tcp"]}, {"cidr": "198.51.100.66/32"}, "bad.allowed.test"]})";
const char *const kAllowDefault = R"({"default": "allow",
    "deny": [{"cidr": "198.51.100.0/24"}, "ads.example.com", {"ports": ["25/tcp", "465/tcp"]}]})";
const char *const kIpv6 = R"({"default": "deny",
    "allow": [{"cidr": "2001:db8::/32", "ports": [443]}, "example.org", {"cidr": "fd00::1/128", "ports": ["53/udp"]}]})";

} // namespace

class TestNftRuleset : public QObject {
    Q_OBJECT

    // nft -c -f on script; QSKIPs (from the calling test) when nft cannot check.
    static QString nftCheck(const QString &script)
    {
        const QString nft = QStandardPaths::findExecutable(QStringLiteral("nft"), {QStringLiteral("/usr/sbin"), QStringLiteral("/sbin")});
        if (nft.isEmpty())
            return QStringLiteral("skip: nft is not installed (Debian package nftables)");
        if (geteuid() != 0)
            return QStringLiteral("skip: nft -c needs CAP_NET_ADMIN (it validates through the kernel); run as root");
        QTemporaryDir dir;
        QFile f(dir.filePath(QStringLiteral("check.nft")));
        if (!f.open(QIODevice::WriteOnly) || f.write(script.toUtf8()) < 0)
            return QStringLiteral("cannot write %1").arg(f.fileName());
        f.close();
        QProcess p;
        p.start(nft, {QStringLiteral("-c"), QStringLiteral("-f"), f.fileName()});
        if (!p.waitForFinished(kNftTimeoutMs))
            return QStringLiteral("nft -c did not finish");
        const QString err = QString::fromUtf8(p.readAllStandardError());
        if (err.contains(QLatin1String("Operation not permitted")))
            return QStringLiteral("skip: nft -c was refused (%1): no CAP_NET_ADMIN in this namespace").arg(err.trimmed());
        return p.exitCode() == 0 ? QString() : QStringLiteral("nft -c failed:\n%1\n--- script:\n%2").arg(err, script);
    }

#define NFT_CHECK(script) \
    do { \
        const QString nftResult = nftCheck(script); \
        if (nftResult.startsWith(QLatin1String("skip: "))) \
            QSKIP(qPrintable(nftResult.mid(6))); \
        QVERIFY2(nftResult.isEmpty(), qPrintable(nftResult)); \
    } while (false)

private Q_SLOTS:
    void golden_data()
    {
        QTest::addColumn<QString>("golden");
        QTest::addColumn<QString>("script");
        const NftRuleset r = ruleset();
        QTest::newRow("table") << QStringLiteral("net/table.nft") << r.tableScript();
        QTest::newRow("deny-allowlist") << QStringLiteral("net/vm-deny-allowlist.nft") << *r.vmScript(vm(3, policy(kDenyAllowList)));
        QTest::newRow("allow-default") << QStringLiteral("net/vm-allow-default.nft") << *r.vmScript(vm(4, policy(kAllowDefault)));
        VmFilter v6 = vm(5, policy(kIpv6));
        v6.address6 = QHostAddress(QStringLiteral("fd42::16"));
        QTest::newRow("ipv6") << QStringLiteral("net/vm-ipv6.nft") << *r.vmScript(v6);
        QTest::newRow("replace") << QStringLiteral("net/vm-replace.nft") << *r.vmScript(vm(3, policy(kAllowDefault)), 3);
        QTest::newRow("delete") << QStringLiteral("net/vm-delete.nft") << *r.vmDeleteScript(vm(3, policy(kDenyAllowList)));
        QTest::newRow("table-delete") << QStringLiteral("net/table-delete.nft") << r.tableDeleteScript();
        QTest::newRow("private") << QStringLiteral("net/vm-private.nft") << *r.vmScript(vm(6, policy(kAllowDefault), QStringLiteral("team")));
        VmFilter private6 = vm(7, policy(kIpv6), QStringLiteral("team"));
        private6.address6 = QHostAddress(QStringLiteral("fd42::1e"));
        QTest::newRow("private-ipv6") << QStringLiteral("net/vm-private-ipv6.nft") << *r.vmScript(private6);
        QTest::newRow("private-delete") << QStringLiteral("net/vm-private-delete.nft") << *r.vmDeleteScript(private6);
    }
    void golden()
    {
        QFETCH(QString, golden);
        QFETCH(QString, script);
        Golden::compare(script.toUtf8(), golden);
    }

    // A service's whole life in one batch: the table, three VMs, a policy
    // replaced, a VM deleted, the table deleted.
    void nftAcceptsLifecycle()
    {
        const NftRuleset r = ruleset();
        VmFilter v6 = vm(5, policy(kIpv6));
        v6.address6 = QHostAddress(QStringLiteral("fd42::16"));
        const QString script = r.tableScript() + *r.vmScript(vm(3, policy(kDenyAllowList))) + *r.vmScript(vm(4, policy(kAllowDefault))) + *r.vmScript(v6)
            + *r.vmScript(vm(3, policy(kAllowDefault)), int(NftRuleset::dnsGroups(policy(kDenyAllowList)).size()))
            + *r.vmDeleteScript(vm(3, policy(kAllowDefault))) + *r.vmDeleteScript(v6) + r.tableDeleteScript();
        NFT_CHECK(script);
    }

    // Deleting a VM that is already gone, or was never added, succeeds.
    void nftAcceptsDeleteTwice()
    {
        const NftRuleset r = ruleset();
        const VmFilter v = vm(7, policy(kDenyAllowList));
        NFT_CHECK(r.tableScript() + *r.vmDeleteScript(v) + *r.vmScript(v) + *r.vmDeleteScript(v) + *r.vmDeleteScript(v));
    }

    // Two VMs of group "team" and one of "other": each is a member of its
    // group's set only, and only a member's chain accepts the group.
    void privatePair()
    {
        const NftRuleset r = ruleset();
        const QString team = QStringLiteral("team");
        const QString a = *r.vmScript(vm(1, policy(kDenyAllowList), team));
        const QString b = *r.vmScript(vm(2, policy(kDenyAllowList), team));
        const QString other = *r.vmScript(vm(3, policy(kDenyAllowList), QStringLiteral("other")));
        const QString egress = *r.vmScript(vm(4, policy(kDenyAllowList)));
        QVERIFY(a.contains(QLatin1String("add element inet mvs_t1 g_team_4 { \"mvst1v1\" . 10.213.0.6 }")));
        QVERIFY(b.contains(QLatin1String("add element inet mvs_t1 g_team_4 { \"mvst1v2\" . 10.213.0.10 }")));
        QVERIFY(a.contains(QLatin1String("oifname . ip daddr @g_team_4 counter name v1_allowed accept")));
        QVERIFY(b.contains(QLatin1String("oifname . ip daddr @g_team_4 counter name v2_allowed accept")));
        QVERIFY(!other.contains(QLatin1String("g_team_")));
        QVERIFY(other.contains(QLatin1String("oifname . ip daddr @g_other_4 counter name v3_allowed accept")));
        QVERIFY(!egress.contains(QLatin1String("g_")));
        QVERIFY(!a.contains(QLatin1String("ip6 daddr @g_team_6"))); // no IPv6 address, no IPv6 rule
        // After the VM's deny rules, before the always-denied ranges (the VM subnet among them).
        const qsizetype deny25 = a.indexOf(QLatin1String("tcp dport 25 jump v1_deny"));
        const qsizetype group = a.indexOf(QLatin1String("@g_team_4 counter"));
        const qsizetype reserved = a.indexOf(QLatin1String("ip daddr @reserved_4 jump v1_deny"));
        QVERIFY(deny25 > 0 && group > deny25 && reserved > group);
        // The host is not the group's: v<slot>_in is unchanged.
        auto inChain = [](const QString &script) { return script.section(QLatin1String("chain v1_in {\n        ip"), 1).section(QLatin1Char('}'), 0, 0); };
        QVERIFY(!inChain(a).isEmpty());
        QCOMPARE(inChain(a), inChain(*r.vmScript(vm(1, policy(kDenyAllowList)))));
        NFT_CHECK(r.tableScript() + a + b + other + egress);
    }

    // Detaching a member removes its element (the set stays for the others).
    void privateMembershipRemovedAtDetach()
    {
        const NftRuleset r = ruleset();
        const VmFilter a = vm(1, policy(kAllowDefault), QStringLiteral("team"));
        const QString del = *r.vmDeleteScript(a);
        QVERIFY(del.contains(QLatin1String("delete element inet mvs_t1 g_team_4 { \"mvst1v1\" . 10.213.0.6 }")));
        QVERIFY(!del.contains(QLatin1String("delete set inet mvs_t1 g_team_4")));
        NFT_CHECK(r.tableScript() + *r.vmScript(a) + *r.vmScript(vm(2, policy(kAllowDefault), QStringLiteral("team"))) + del + *r.vmDeleteScript(a));
    }

    // Group names are NetworkSpec's alphabet, escaped one-to-one into nft
    // identifiers; anything else is refused.
    void privateNetworkNames()
    {
        QCOMPARE(NftRuleset::groupSetName(QStringLiteral("team"), false), QStringLiteral("g_team_4"));
        QCOMPARE(NftRuleset::groupSetName(QStringLiteral("a-b.c_d9"), true), QStringLiteral("g_a_hb_dc__d9_6"));
        QVERIFY(NftRuleset::groupSetName(QStringLiteral("a-b"), false) != NftRuleset::groupSetName(QStringLiteral("a_b"), false));
        QVERIFY(NftRuleset::groupSetName(QStringLiteral("a_hb"), false) != NftRuleset::groupSetName(QStringLiteral("a-b"), false));
        const NftRuleset r = ruleset();
        for (const char *bad : {"Team", "-team", "a b", "a;b", "te\"am", "a}b", "x/y"})
            QVERIFY2(!r.vmScript(vm(1, policy(kAllowDefault), QLatin1String(bad))), bad);
        QVERIFY(!r.vmScript(vm(1, policy(kAllowDefault), QString(64, QLatin1Char('a')))));
        const QString longest = QString(63, QLatin1Char('-')).replace(0, 1, QLatin1Char('a'));
        const VmFilter v = vm(1, policy(kAllowDefault), longest);
        QVERIFY(r.vmScript(v));
        NFT_CHECK(r.tableScript() + *r.vmScript(v) + *r.vmScript(vm(2, policy(kAllowDefault), QStringLiteral("a-b.c_d9"))) + *r.vmDeleteScript(v));
    }

    void twoInstancesShareNothing()
    {
        const NftRuleset a = ruleset("a1");
        const NftRuleset b = ruleset("b2");
        QCOMPARE(a.table(), QStringLiteral("mvs_a1"));
        const QString sa = a.tableScript() + *a.vmScript(vm(1, policy(kDenyAllowList)));
        const QString sb = b.tableScript() + *b.vmScript(vm(1, policy(kDenyAllowList)));
        QVERIFY(!sa.contains(QLatin1String("mvs_b2")));
        QVERIFY(!sb.contains(QLatin1String("mvs_a1")));
        QVERIFY(!NftRuleset::create(QStringLiteral("A-1"), *Cidr::parse(QStringLiteral("10.213.0.0/16"))));
        QVERIFY(!NftRuleset::create(QStringLiteral("x"), *Cidr::parse(QStringLiteral("fd00::/64"))));
    }

    // The order that makes "names them" work: deny rules, the named reserved
    // allow, the reserved ranges, then what DNS and CIDR rules allow.
    void ruleOrder()
    {
        const QString s = *ruleset().vmScript(vm(3, policy(kDenyAllowList)));
        const qsizetype deny25 = s.indexOf(QLatin1String("tcp dport 25 jump v3_deny"));
        const qsizetype named = s.indexOf(QLatin1String("ip daddr 10.1.2.3 tcp dport 5432 counter name v3_allowed accept"));
        const qsizetype reserved = s.indexOf(QLatin1String("ip daddr @reserved_4 jump v3_deny"));
        const qsizetype dns = s.indexOf(QLatin1String("ip daddr @v3_d0_4 counter name v3_allowed accept"));
        QVERIFY(deny25 > 0 && named > deny25 && reserved > named && dns > reserved);
        // The default is the chain's last rule; the host is reached at the named single address only.
        QVERIFY(s.contains(QLatin1String("ip daddr 192.0.2.2 tcp dport 8080 counter name v3_allowed accept\n        jump v3_deny\n    }")));
        QVERIFY(s.contains(QLatin1String("ip daddr 10.213.0.13 udp dport 53 accept")));
        // Without an IPv6 address no IPv6 rule is emitted (its packets are dropped as spoofed).
        QVERIFY(!s.contains(QLatin1String("ip6 daddr @reserved_6")));
        QVERIFY(ruleset().tableScript().contains(QLatin1String("10.213.0.0/16")));
    }

    // Inside RootlessNetwork's namespace the outer host's addresses are
    // the host itself: set host_4 / host_6, sent through the VM's v<slot>_in
    // rules right after its deny rules (before an allow rule naming a wider
    // reserved range, 192.0.2.0/24 here, could open them), and more can be
    // added later. A root host's table has no such set or rule.
    void outerHostIsTheHost()
    {
        const QList<Cidr> host{*Cidr::parse(QStringLiteral("192.0.2.2/32")), *Cidr::parse(QStringLiteral("10.1.2.9/32"))};
        const NftRuleset r = *NftRuleset::create(QStringLiteral("t1"), *Cidr::parse(QStringLiteral("10.213.0.0/16")), host);
        const QString table = r.tableScript();
        QVERIFY2(table.contains(QLatin1String("set host_4")) && table.contains(QLatin1String("192.0.2.2/32")) && table.contains(QLatin1String("set host_6")),
                 qPrintable(table));
        QVERIFY(!ruleset().tableScript().contains(QLatin1String("host_4")));
        QVERIFY(!ruleset().vmScript(vm(3, policy(kDenyAllowList)))->contains(QLatin1String("host_4")));
        const QString s = *r.vmScript(vm(3, policy(kDenyAllowList)));
        const qsizetype deny25 = s.indexOf(QLatin1String("tcp dport 25 jump v3_deny"));
        const qsizetype toHost = s.indexOf(QLatin1String("ip daddr @host_4 goto v3_in"));
        const qsizetype named = s.indexOf(QLatin1String("ip daddr 10.1.2.3 tcp dport 5432 counter name v3_allowed accept"));
        QVERIFY2(deny25 > 0 && toHost > deny25 && named > toHost, qPrintable(s));
        // v3_in opens the host at the single address an allow rule names.
        QVERIFY(s.contains(QLatin1String("ip daddr 192.0.2.2 tcp dport 8080 counter name v3_allowed accept")));
        const QString added = r.outerHostAddScript({*Cidr::parse(QStringLiteral("198.51.100.1/32"))});
        QCOMPARE(added, QStringLiteral("add element inet mvs_t1 host_4 { 198.51.100.1/32 }\n"));
        const NftRuleset none = *NftRuleset::create(QStringLiteral("t2"), *Cidr::parse(QStringLiteral("10.213.0.0/16")), QList<Cidr>());
        QVERIFY(none.tableScript().contains(QLatin1String("set host_4 {\n        type ipv4_addr\n        flags interval\n    }")));
        NFT_CHECK(table + s + added + r.tableDeleteScript());
        NFT_CHECK(none.tableScript() + *none.vmScript(vm(3, policy(kAllowDefault))) + none.outerHostAddScript({*Cidr::parse(QStringLiteral("192.0.2.2/32"))})
                  + none.tableDeleteScript());
    }

    void dnsGroupsByPorts()
    {
        const auto groups = NftRuleset::dnsGroups(policy(kDenyAllowList));
        QCOMPARE(groups.size(), 2); // allowed.test: every port; *.pythonhosted.org and files.test: 443
        QVERIFY(groups.at(0).isEmpty());
        QCOMPARE(groups.at(1).size(), 1);
        QCOMPARE(NftRuleset::dnsSetName(3, 1, true), QStringLiteral("v3_d1_6"));
    }

    void badVmsRefused()
    {
        const NftRuleset r = ruleset();
        VmFilter v = vm(1, policy(kDenyAllowList));
        v.tap = QStringLiteral("a-tap-name-that-is-too-long");
        QVERIFY(!r.vmScript(v));
        v = vm(1, policy(kDenyAllowList));
        v.tap = QStringLiteral("tap\"; flush ruleset");
        QVERIFY(!r.vmScript(v));
        v = vm(1, policy(kDenyAllowList));
        v.address = QHostAddress(QStringLiteral("192.0.2.9"));
        QVERIFY(!r.vmScript(v));
        v = vm(1, policy(kDenyAllowList));
        v.slot = -1;
        QVERIFY(!r.vmDeleteScript(v));
    }
};

QTEST_GUILESS_MAIN(TestNftRuleset)
#include "tst_nftruleset.moc"
