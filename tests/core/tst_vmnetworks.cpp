// Vm::VmNetworks over a real host network (root only; without root the
// cases that need one skip, saying why): a VM's tap is kept from one run to
// the next (a restore of a running VM gets the same one), its guest spec
// carries its recorded MAC, a live policy change needs no restart, and
// detach takes its tap, address and resolver. Without a host network, every
// VM with a NIC is refused with the reason and VMs without one run.
// Everything stays on this machine: the resolver's upstream is an address
// of TEST-NET-2 that nothing asks (no guest sends a query here).

#include "core/net/guestnet.h"
#include "core/net/nftables.h"
#include "core/net/taplink.h"
#include "core/vm/vmnetworks.h"

#include <QJsonDocument>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

#include <unistd.h>

using namespace Vm;

namespace {

Net::NetworkPolicy policy(const QByteArray &json)
{
    auto p = Net::NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
    if (!p)
        qFatal("bad test policy: %s", qPrintable(p.error().message));
    return *p;
}

VmRecord record(const QString &name, const QString &mode, int slot, const QString &mac)
{
    VmRecord r;
    r.name = name;
    r.templateName = QStringLiteral("minimal");
    r.network.spec.mode = mode;
    r.network.spec.policy = policy(R"({"default": "deny", "allow": ["allowed.test"]})");
    r.network.slot = slot;
    r.network.mac = mac;
    return r;
}

} // namespace

class TestVmNetworks : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void withoutHostNetworkNicVmsAreRefused();
    void tapKeptUntilDetached();
    void livePolicyAndStatus();
    void foreignForwardDropsFound();
    void privateModeJoinsItsGroup();

private:
    std::unique_ptr<VmNetworks> started()
    {
        Net::HostNetworkOptions o;
        o.instanceId = QStringLiteral("tvn%1").arg(QRandomGenerator::global()->generate(), 8, 16, QLatin1Char('0'));
        o.runtimeDir = m_dir.filePath(o.instanceId);
        o.upstreams = {QStringLiteral("198.51.100.2")};
        auto host = std::make_unique<Net::HostNetwork>(o);
        auto ok = host->start();
        if (!ok) {
            qWarning("start: %s", qPrintable(ok.error().message));
            return nullptr;
        }
        return std::make_unique<VmNetworks>(std::move(host));
    }

    QTemporaryDir m_dir;
};

void TestVmNetworks::withoutHostNetworkNicVmsAreRefused()
{
    VmNetworks none(Core::Error(Core::ErrorCode::Unsupported, QStringLiteral("no root here")));
    const VmRecord nic = record(QStringLiteral("a"), QStringLiteral("egress"), 0, QStringLiteral("0a:00:00:00:00:01"));
    const auto refused = none.available(nic);
    QVERIFY(!refused);
    QCOMPARE(refused.error().code, Core::ErrorCode::Unsupported);
    QVERIFY2(refused.error().message.contains(QLatin1String("no root here")) && refused.error().message.contains(QLatin1String("egress")),
             qPrintable(refused.error().message));
    QCOMPARE(none.attach(nic).error().code, Core::ErrorCode::Unsupported);

    const VmRecord plain = record(QStringLiteral("b"), QStringLiteral("none"), -1, {});
    QVERIFY(none.available(plain));
    auto nothing = none.attach(plain);
    QVERIFY(nothing);
    QVERIFY(!nothing->has_value());
    QVERIFY(none.counters().empty());
}

void TestVmNetworks::tapKeptUntilDetached()
{
    if (::geteuid() != 0)
        QSKIP("needs root (taps, nftables)");
    auto networks = started();
    QVERIFY(networks);
    const QString mac = QStringLiteral("0a:12:34:56:78:9a");
    const VmRecord r = record(QStringLiteral("kept"), QStringLiteral("egress"), 2, mac);

    auto first = networks->attach(r);
    QVERIFY2(first, first ? "" : qPrintable(first.error().message));
    QVERIFY(first->has_value());
    const VmNic nic = **first;
    QVERIFY(nic.nic.tapFd >= 0);
    QCOMPARE(nic.nic.mac, mac);
    auto expected = Net::GuestNet::spec(*networks->hostNetwork()->plan().address(2), mac);
    QVERIFY(expected);
    QCOMPARE(nic.guestNetSpec, *expected);
    const QString tap = networks->hostNetwork()->tapName(2);
    QVERIFY(Net::TapLink::exists(tap));

    // Its next VMM (a restore) gets the very same tap.
    auto again = networks->attach(r);
    QVERIFY(again && again->has_value());
    QCOMPARE((*again)->nic.tapFd, nic.nic.tapFd);

    // Another VM may not take its MAC.
    const auto clash = networks->attach(record(QStringLiteral("clash"), QStringLiteral("egress"), 3, mac));
    QVERIFY(!clash);
    QCOMPARE(clash.error().code, Core::ErrorCode::AlreadyExists);

    networks->detach(r.name);
    QVERIFY(!networks->isAttached(r.name));
    QVERIFY2(!Net::TapLink::exists(tap), qPrintable(tap)); // ours was the only descriptor
    auto status = networks->status(r.name);
    QVERIFY(status);
    QVERIFY(!status->attached);
}

void TestVmNetworks::livePolicyAndStatus()
{
    if (::geteuid() != 0)
        QSKIP("needs root (taps, nftables)");
    auto networks = started();
    QVERIFY(networks);
    const VmRecord r = record(QStringLiteral("live"), QStringLiteral("egress"), 0, QStringLiteral("0a:12:34:56:78:9b"));
    // Not attached: nothing to apply (its next start takes the record's).
    QVERIFY(networks->setPolicy(r.name, policy(R"({"default": "allow"})")));
    QVERIFY(networks->attach(r));

    const Net::NetworkPolicy wider = policy(R"({"default": "deny", "allow": ["allowed.test", "198.51.100.20/32"]})");
    QVERIFY(networks->setPolicy(r.name, wider));
    QCOMPARE(*networks->hostNetwork()->policy(0), wider);

    auto status = networks->status(r.name);
    QVERIFY2(status, status ? "" : qPrintable(status.error().message));
    QVERIFY(status->attached);
    QCOMPARE(status->address.slot, 0);
    QCOMPARE(status->tap, networks->hostNetwork()->tapName(0));
    QCOMPARE(status->counters.allowed, quint64(0));
    QCOMPARE(status->counters.denied, quint64(0));
    QVERIFY(status->denials.isEmpty());
    QCOMPARE(networks->counters().size(), std::size_t(1));
    networks.reset(); // stops the host network: its table goes
}

// `nft -j list chains` of a host with Docker (iptables-nft) beside us: its
// FORWARD drops by default, its other chains and ours do not count.
void TestVmNetworks::foreignForwardDropsFound()
{
    const QByteArray json = R"({"nftables": [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
        {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
        {"chain": {"family": "ip", "table": "filter", "name": "DOCKER-USER", "handle": 9}},
        {"chain": {"family": "ip6", "table": "filter", "name": "FORWARD", "handle": 3, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
        {"chain": {"family": "inet", "table": "mvs_abc", "name": "forward", "handle": 4, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
        {"chain": {"family": "inet", "table": "firewalld", "name": "filter_FORWARD", "handle": 5, "type": "filter", "hook": "forward", "prio": 10, "policy": "drop"}}
    ]})";
    auto drops = Net::Nftables::parseForwardDrops(json, QStringLiteral("mvs_abc"));
    QVERIFY2(drops, drops ? "" : qPrintable(drops.error().message));
    QCOMPARE(*drops, (QStringList{QStringLiteral("ip filter FORWARD"), QStringLiteral("inet firewalld filter_FORWARD")}));
    QVERIFY(!Net::Nftables::parseForwardDrops("not json", QStringLiteral("mvs_abc")));
}

// A VM of mode private is attached as a member of its group (its tap in the
// group's nft set), one of mode egress is not; the detach takes it out.
void TestVmNetworks::privateModeJoinsItsGroup()
{
    if (::geteuid() != 0)
        QSKIP("needs root (taps, nftables)");
    auto networks = started();
    QVERIFY(networks);
    VmRecord member = record(QStringLiteral("member"), QStringLiteral("private"), 0, QStringLiteral("0a:12:34:56:78:a0"));
    member.network.spec.privateNetwork = QStringLiteral("team-a");
    const VmRecord outsider = record(QStringLiteral("outsider"), QStringLiteral("egress"), 1, QStringLiteral("0a:12:34:56:78:a1"));
    QVERIFY(networks->attach(member));
    QVERIFY(networks->attach(outsider));
    const auto groupSet = [&] {
        QProcess nft;
        nft.start(QStringLiteral("nft"),
                  {QStringLiteral("list"), QStringLiteral("set"), QStringLiteral("inet"), networks->hostNetwork()->table(),
                   Net::NftRuleset::groupSetName(QStringLiteral("team-a"), false)});
        nft.waitForFinished();
        return QString::fromUtf8(nft.readAllStandardOutput());
    };
    const QString members = groupSet();
    QVERIFY2(members.contains(networks->hostNetwork()->tapName(0)), qPrintable(members));
    QVERIFY2(!members.contains(networks->hostNetwork()->tapName(1)), qPrintable(members));
    networks->detach(member.name);
    QVERIFY2(!groupSet().contains(networks->hostNetwork()->tapName(0)), qPrintable(groupSet()));
    networks.reset();
}

QTEST_GUILESS_MAIN(TestVmNetworks)
#include "tst_vmnetworks.moc"
