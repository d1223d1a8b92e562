// The host side of VM networking for real (root only): taps with their
// gateway address, the VM's nftables objects, its dnsmasq resolving through
// a test upstream into the VM's nft set, the counters and denial sets fed by
// packets written into the tap as the VM would, and what a SIGKILLed
// instance leaves, removed by the next one while a live one's is kept.
// Run as root (CI does); without root every case skips, saying why.
//
// Everything runs on this machine: the upstream resolver is a dnsmasq on
// 127.0.0.1, the only packet sent towards the outside (to TEST-NET-3) is
// denied by the VM's chain before it could leave. Every case ends its
// instances (cleanup()); a crashed run's leftovers are removed by the next
// start and by the ctest cleanup step (this binary with --reap).

#include "core/net/hostnetwork.h"
#include "core/net/hosttool.h"
#include "core/net/leftovers.h"
#include "core/net/taplink.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <csignal>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <vector>

using namespace Net;

namespace {

constexpr char kChildArgument[] = "--hostnet-child";
constexpr char kReapArgument[] = "--reap";
constexpr char kStandInVmms[] = "stand-in-vmms";
constexpr char kStandInSeconds[] = "120";
constexpr char kReady[] = "ready";
constexpr int kChildReadyTimeoutMs = 30000;
constexpr int kDnsTimeoutMs = 3000;
constexpr int kCounterWaitMs = 3000;
constexpr int kCycles = 20;
constexpr int kNoError = 0;
constexpr int kNxDomain = 3;
constexpr char kAllowedAnswer[] = "198.51.100.10"; // TEST-NET-2
constexpr char kDeniedDestination[] = "203.0.113.77"; // TEST-NET-3: denied before it could leave
constexpr quint16 kDeniedPort = 4444;
constexpr quint16 kAllowedGatewayPort = 9; // discard: nothing listens, the host answers port unreachable
constexpr int kVnetHeaderBytes = 10; // struct virtio_net_hdr (IFF_VNET_HDR without TUNSETVNETHDRSZ)

NetworkPolicy policy(const QByteArray &json)
{
    auto p = NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
    if (!p)
        qFatal("bad test policy: %s", qPrintable(p.error().message));
    return *p;
}

NetworkPolicy allowListPolicy()
{
    return policy(R"({"default": "deny", "allow": ["allowed.test"]})");
}

QString newInstanceId()
{
    return QStringLiteral("tst%1").arg(QRandomGenerator::global()->generate(), 8, 16, QLatin1Char('0'));
}

// A free UDP port on 127.0.0.1 (bound and released: a race no one else runs).
quint16 freeUdpPort()
{
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    ::bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&sa), &len);
    ::close(fd);
    return ntohs(sa.sin_port);
}

QByteArray run(const QString &program, const QStringList &args)
{
    QProcess p;
    p.start(program, args);
    p.waitForFinished(10000);
    return p.readAllStandardOutput();
}

// The names of the table's chains, sets, maps and counters ("chain v0_fwd").
QStringList tableObjects(const QString &table)
{
    const QJsonArray all = QJsonDocument::fromJson(run(QStringLiteral("nft"),
                                                       {QStringLiteral("-j"), QStringLiteral("list"), QStringLiteral("table"), QStringLiteral("inet"), table}))
                               .object()
                               .value(QLatin1String("nftables"))
                               .toArray();
    QStringList out;
    for (const QJsonValue &v : all)
        for (const char *kind : {"chain", "set", "map", "counter"})
            if (v.toObject().contains(QLatin1String(kind)))
                out << QStringLiteral("%1 %2").arg(QLatin1String(kind),
                                                   v.toObject().value(QLatin1String(kind)).toObject().value(QLatin1String("name")).toString());
    return out;
}

QStringList vmObjects(const QString &table, int slot)
{
    QStringList out;
    const QString prefix = QStringLiteral("v%1_").arg(slot);
    for (const QString &o : tableObjects(table))
        if (o.section(QLatin1Char(' '), 1).startsWith(prefix))
            out << o;
    return out;
}

// The chain's rules as `nft list chain` prints them.
QString chainText(const QString &table, const QString &chain)
{
    return QString::fromUtf8(run(QStringLiteral("nft"), {QStringLiteral("list"), QStringLiteral("chain"), QStringLiteral("inet"), table, chain}));
}

// The IPv4 addresses of an interface ("10.213.0.1/30").
QStringList ipv4Addresses(const QString &dev)
{
    QStringList out;
    const QJsonArray links = QJsonDocument::fromJson(run(QStringLiteral("ip"),
                                                         {QStringLiteral("-j"), QStringLiteral("-4"), QStringLiteral("address"), QStringLiteral("show"),
                                                          QStringLiteral("dev"), dev}))
                                 .array();
    for (const QJsonValue &l : links)
        for (const QJsonValue &a : l.toObject().value(QLatin1String("addr_info")).toArray())
            out << QStringLiteral("%1/%2")
                       .arg(a.toObject().value(QLatin1String("local")).toString())
                       .arg(a.toObject().value(QLatin1String("prefixlen")).toInt());
    return out;
}

bool isUp(const QString &dev)
{
    const QJsonArray links =
        QJsonDocument::fromJson(run(QStringLiteral("ip"), {QStringLiteral("-j"), QStringLiteral("link"), QStringLiteral("show"), dev})).array();
    return !links.isEmpty() && links.at(0).toObject().value(QLatin1String("flags")).toArray().contains(QStringLiteral("UP"));
}

// --- DNS: a query we build, an answer we parse (rcode and the A records).
struct DnsAnswer {
    int rcode = -1;
    QStringList addresses;
};

QByteArray dnsQuery(const QString &name, quint16 id)
{
    QByteArray q;
    q.append(char(id >> 8)).append(char(id & 0xff));
    q.append("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10); // RD; one question
    for (const QString &label : name.split(QLatin1Char('.')))
        q.append(char(label.size())).append(label.toLatin1());
    q.append("\x00\x00\x01\x00\x01", 5); // root, type A, class IN
    return q;
}

// Skips a (possibly compressed) name at offset; -1 when malformed.
int skipName(const QByteArray &m, int offset)
{
    while (offset < m.size()) {
        const quint8 len = quint8(m.at(offset));
        if (len == 0)
            return offset + 1;
        if ((len & 0xc0) == 0xc0)
            return offset + 2;
        offset += 1 + len;
    }
    return -1;
}

DnsAnswer parseDns(const QByteArray &m)
{
    DnsAnswer a;
    if (m.size() < 12)
        return a;
    a.rcode = quint8(m.at(3)) & 0x0f;
    const int answers = (quint8(m.at(6)) << 8) | quint8(m.at(7));
    int at = skipName(m, 12);
    at = at < 0 ? -1 : at + 4; // type, class of the question
    for (int i = 0; i < answers && at > 0; ++i) {
        at = skipName(m, at);
        if (at < 0 || at + 10 > m.size())
            break;
        const int type = (quint8(m.at(at)) << 8) | quint8(m.at(at + 1));
        const int rdLength = (quint8(m.at(at + 8)) << 8) | quint8(m.at(at + 9));
        at += 10;
        if (type == 1 && rdLength == 4 && at + 4 <= m.size())
            a.addresses << QHostAddress(quint32((quint8(m.at(at)) << 24) | (quint8(m.at(at + 1)) << 16) | (quint8(m.at(at + 2)) << 8) | quint8(m.at(at + 3))))
                               .toString();
        at += rdLength;
    }
    return a;
}

DnsAnswer resolve(const QHostAddress &server, const QString &name)
{
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    timeval tv{kDnsTimeoutMs / 1000, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(53);
    sa.sin_addr.s_addr = htonl(server.toIPv4Address());
    const QByteArray q = dnsQuery(name, 0x4d56);
    ::sendto(fd, q.constData(), size_t(q.size()), 0, reinterpret_cast<sockaddr *>(&sa), sizeof sa);
    QByteArray reply(512, '\0');
    const ssize_t n = ::recv(fd, reply.data(), size_t(reply.size()), 0);
    ::close(fd);
    return n > 0 ? parseDns(reply.left(int(n))) : DnsAnswer();
}

// --- A packet as the VM sends it: virtio-net header, Ethernet, IPv4, UDP.
QByteArray macBytes(const QString &mac)
{
    return QByteArray::fromHex(mac.toLatin1().replace(':', ""));
}

void put16(QByteArray &b, int at, quint16 v)
{
    b[at] = char(v >> 8);
    b[at + 1] = char(v & 0xff);
}

void put32(QByteArray &b, int at, quint32 v)
{
    put16(b, at, quint16(v >> 16));
    put16(b, at + 2, quint16(v & 0xffff));
}

QByteArray udpFrame(const QString &dstMac, const QString &srcMac, const QHostAddress &src, const QHostAddress &dst, quint16 port)
{
    QByteArray ip(28, '\0'); // IPv4 header (20) + UDP header (8), no payload
    ip[0] = char(0x45);
    put16(ip, 2, quint16(ip.size()));
    ip[8] = char(64); // TTL
    ip[9] = char(17); // UDP
    put32(ip, 12, src.toIPv4Address());
    put32(ip, 16, dst.toIPv4Address());
    quint32 sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += (quint8(ip.at(i)) << 8) | quint8(ip.at(i + 1));
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    put16(ip, 10, quint16(~sum));
    put16(ip, 20, 40000); // source port
    put16(ip, 22, port);
    put16(ip, 24, 8); // UDP length; checksum 0: none
    return QByteArray(kVnetHeaderBytes, '\0') + macBytes(dstMac) + macBytes(srcMac) + QByteArray("\x08\x00", 2) + ip;
}

// A VMM's stand-in: a process that holds a tap's descriptor (and outlives
// its parent, as a persistent VMM does) for kStandInSeconds at most.
qint64 spawnStandInVmm(const TapDevice &tap)
{
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setsid();
        ::dup2(tap.fd(), 3); // without FD_CLOEXEC
        ::execlp("sleep", "sleep", kStandInSeconds, static_cast<char *>(nullptr));
        ::_exit(127);
    }
    return pid;
}

// --- The helper instance a test SIGKILLs: starts, attaches two VMs, says
// "ready" (with the pids of the VMM stand-ins holding its taps, when asked
// for) and waits to be killed, holding its taps.
int runChild(const QStringList &args)
{
    if (args.size() < 6)
        return 2;
    const bool standIns = args.at(5) == QLatin1String(kStandInVmms);
    HostNetworkOptions o;
    o.instanceId = args.at(2);
    o.runtimeDir = args.at(3);
    o.upstreams = {args.at(4)};
    auto *net = new HostNetwork(o); // never destroyed: the process is killed
    auto started = net->start();
    if (!started) {
        fprintf(stderr, "child start: %s\n", qPrintable(started.error().message));
        return 1;
    }
    auto *taps = new std::vector<TapDevice>;
    for (int slot : {0, 1}) {
        auto a = net->attach(QStringLiteral("child-vm-%1").arg(slot), slot, allowListPolicy());
        if (!a) {
            fprintf(stderr, "child attach: %s\n", qPrintable(a.error().message));
            return 1;
        }
        if (standIns)
            fprintf(stdout, "%lld ", static_cast<long long>(spawnStandInVmm(a->tap)));
        taps->push_back(std::move(a->tap));
    }
    fprintf(stdout, "%s\n", kReady);
    fflush(stdout);
    for (;;)
        ::pause();
}

int reap()
{
    auto report = Leftovers::removeDead(HostNetworkOptions().lockDir);
    if (!report) {
        fprintf(stderr, "reap: %s\n", qPrintable(report.error().message));
        return 1;
    }
    fprintf(stdout, "reaped tables [%s], %d resolvers, taps [%s]\n", qPrintable(report->tables.join(QLatin1Char(' '))), int(report->resolvers.size()),
            qPrintable(report->taps.join(QLatin1Char(' '))));
    return 0;
}

} // namespace

class TestHostNetwork : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_upstream;
    QString m_upstreamAddress; // "127.0.0.1#<port>"
    std::vector<std::unique_ptr<HostNetwork>> m_nets;
    std::vector<std::unique_ptr<QProcess>> m_children;
    QList<qint64> m_standIns; // pids of the VMM stand-ins (not our children)

    HostNetwork &make()
    {
        HostNetworkOptions o;
        o.instanceId = newInstanceId();
        o.runtimeDir = m_dir.filePath(o.instanceId);
        o.upstreams = {m_upstreamAddress};
        m_nets.push_back(std::make_unique<HostNetwork>(o));
        return *m_nets.back();
    }

    // A started instance, or the test fails.
    HostNetwork *started()
    {
        HostNetwork &net = make();
        auto ok = net.start();
        if (!ok)
            qWarning("start: %s", qPrintable(ok.error().message));
        return ok ? &net : nullptr;
    }

    void startUpstream()
    {
        const quint16 port = freeUdpPort();
        m_upstreamAddress = QStringLiteral("127.0.0.1#%1").arg(port);
        QFile conf(m_dir.filePath(QStringLiteral("upstream.conf")));
        QVERIFY(conf.open(QIODevice::WriteOnly));
        conf.write(QStringLiteral("listen-address=127.0.0.1\nbind-interfaces\nport=%1\nno-resolv\nno-hosts\naddress=/allowed.test/%2\naddress=/#/\n")
                       .arg(port)
                       .arg(QLatin1String(kAllowedAnswer))
                       .toUtf8());
        conf.close();
        m_upstream.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); }); // gone with this process, however it ends
        m_upstream.start(HostTool::find(QStringLiteral("dnsmasq")),
                         {QStringLiteral("--keep-in-foreground"), QStringLiteral("--log-facility=-"), QStringLiteral("--conf-file=") + conf.fileName()});
        QVERIFY2(m_upstream.waitForStarted(), qPrintable(m_upstream.errorString()));
        // It answers once it listens.
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < kDnsTimeoutMs && m_upstream.state() == QProcess::Running) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in sa{};
            sa.sin_family = AF_INET;
            sa.sin_port = htons(port);
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const bool up = ::connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof sa) == 0;
            ::close(fd);
            if (up)
                return;
            QThread::msleep(10);
        }
        QFAIL(qPrintable(QStringLiteral("the test upstream dnsmasq did not listen: %1").arg(QString::fromUtf8(m_upstream.readAll()))));
    }

    // The child instance of childId, ready (and the stand-ins' pids in m_standIns).
    QProcess *startChild(const QString &childId, bool standInVmms)
    {
        m_children.push_back(std::make_unique<QProcess>());
        QProcess &child = *m_children.back();
        child.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        child.start(QCoreApplication::applicationFilePath(),
                    {QLatin1String(kChildArgument), childId, m_dir.filePath(childId), m_upstreamAddress,
                     standInVmms ? QLatin1String(kStandInVmms) : QLatin1String("none")});
        QElapsedTimer t;
        t.start();
        while (!child.canReadLine() && child.state() != QProcess::NotRunning && t.elapsed() < kChildReadyTimeoutMs)
            child.waitForReadyRead(100);
        const QList<QByteArray> words = child.readLine().simplified().split(' ');
        if (words.isEmpty() || words.last() != kReady) {
            qWarning("the child instance did not get ready");
            return nullptr;
        }
        for (qsizetype i = 0; i + 1 < words.size(); ++i)
            m_standIns << words.at(i).toLongLong();
        return &child;
    }

    bool waitForCounter(HostNetwork &net, int slot, bool allowed)
    {
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < kCounterWaitMs) {
            auto c = net.counters(slot);
            if (c && (allowed ? c->allowed : c->denied) > 0)
                return true;
            QThread::msleep(20);
        }
        return false;
    }

private Q_SLOTS:
    void initTestCase()
    {
        if (::geteuid() != 0)
            QSKIP("the host network needs root (CAP_NET_ADMIN: taps, addresses, nftables); CI runs this as root");
        for (const char *tool : {"nft", "ip", "dnsmasq"})
            QVERIFY2(!HostTool::find(QLatin1String(tool)).isEmpty(), tool); // scripts/setup.sh installs them
        QVERIFY(m_dir.isValid());
        startUpstream();
    }

    void cleanup()
    {
        for (auto &child : m_children) {
            child->kill();
            child->waitForFinished();
        }
        m_children.clear();
        for (const qint64 pid : std::as_const(m_standIns))
            ::kill(pid_t(pid), SIGKILL);
        m_standIns.clear();
        for (auto &net : m_nets) {
            auto ok = net->stop();
            if (!ok)
                qWarning("stop: %s", qPrintable(ok.error().message));
        }
        m_nets.clear();
        // What a killed child (or a failed case) left.
        auto reaped = Leftovers::removeDead(HostNetworkOptions().lockDir);
        if (!reaped)
            qWarning("reap: %s", qPrintable(reaped.error().message));
    }

    void cleanupTestCase()
    {
        m_upstream.kill();
        m_upstream.waitForFinished();
    }

    void attachCreatesTapLinkRulesAndResolver()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        QVERIFY(*Nftables::hasTable(net->table()));
        auto a = net->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        QVERIFY(a->tap.isValid());
        QCOMPARE(a->tap.name(), net->tapName(0));
        QVERIFY(a->tap.name().size() <= TapDevice::kMaxNameLength);
        QCOMPARE(a->mac, macForVm(QStringLiteral("vm-a")));
        QVERIFY(net->plan().subnet().contains(a->address.address));
        QCOMPARE(ipv4Addresses(a->tap.name()), QStringList{QStringLiteral("%1/30").arg(a->address.gateway.toString())});
        QVERIFY(isUp(a->tap.name()));
        const QStringList objects = vmObjects(net->table(), 0);
        for (const char *o : {"chain v0_fwd", "chain v0_in", "chain v0_deny", "set v0_d0_4", "set v0_d0_6", "set v0_denied_4", "set v0_denied_6",
                              "counter v0_allowed", "counter v0_denied"})
            QVERIFY2(objects.contains(QLatin1String(o)), o);
        QCOMPARE(*Nftables::mapKeys(net->table(), QStringLiteral("fwd_vmap")), QStringList{a->tap.name()});
        auto counters = net->counters(0);
        QVERIFY2(counters, counters ? "" : qPrintable(counters.error().message));
        QCOMPARE(counters->allowed + counters->denied, quint64(0));
        QVERIFY(net->denials(0)->isEmpty());
        QCOMPARE(Resolver::running(QStringLiteral("%1_v0.conf").arg(net->table())).size(), 1);
        QVERIFY(TapLink::exists(a->tap.name()));
    }

    void tapGoesWithItsLastDescriptor()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        auto a = net->attach(QStringLiteral("vm-a"), 3, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        const QString name = a->tap.name();
        QVERIFY(TapLink::exists(name));
        // Another attach of that name is refused while it exists.
        QCOMPARE(TapDevice::create(name).error().code, Core::ErrorCode::AlreadyExists);
        a->tap.reset();
        QVERIFY(!TapLink::exists(name));
    }

    void setPolicyReplacesRulesAndResolver()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        auto a = net->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        const auto before = Resolver::running(QStringLiteral("%1_v0.conf").arg(net->table()));
        QCOMPARE(before.size(), 1);
        auto ok = net->setPolicy(0, policy(R"({"default": "allow", "deny": [{"cidr": "203.0.113.0/24"}]})"));
        QVERIFY2(ok, ok ? "" : qPrintable(ok.error().message));
        const QStringList objects = vmObjects(net->table(), 0);
        QVERIFY2(!objects.contains(QLatin1String("set v0_d0_4")), qPrintable(objects.join(QLatin1Char(','))));
        QVERIFY(objects.contains(QLatin1String("chain v0_fwd")));
        const QString fwd = chainText(net->table(), QStringLiteral("v0_fwd"));
        QVERIFY2(fwd.contains(QLatin1String("ip daddr 203.0.113.0/24 jump v0_deny")), qPrintable(fwd));
        QVERIFY2(!fwd.contains(QLatin1String("v0_d0_4")), qPrintable(fwd));
        const auto after = Resolver::running(QStringLiteral("%1_v0.conf").arg(net->table()));
        QCOMPARE(after.size(), 1);
        QVERIFY(after.first().pid != before.first().pid); // restarted with the new names
        QFile conf(m_dir.filePath(QStringLiteral("%1/%2_v0.conf").arg(net->instanceId(), net->table())));
        QVERIFY(conf.open(QIODevice::ReadOnly));
        QVERIFY(!conf.readAll().contains("allowed.test"));
        QCOMPARE(*net->policy(0), policy(R"({"default": "allow", "deny": [{"cidr": "203.0.113.0/24"}]})"));
    }

    void detachRemovesExactlyThatVm()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        auto a = net->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        auto b = net->attach(QStringLiteral("vm-b"), 1, allowListPolicy());
        QVERIFY2(b, b ? "" : qPrintable(b.error().message));
        QVERIFY(a->mac != b->mac);
        const QStringList vm1Before = vmObjects(net->table(), 1);
        const QStringList allBefore = tableObjects(net->table());
        auto ok = net->detach(0);
        QVERIFY2(ok, ok ? "" : qPrintable(ok.error().message));
        QCOMPARE(vmObjects(net->table(), 0), QStringList());
        QCOMPARE(vmObjects(net->table(), 1), vm1Before);
        QStringList expected = allBefore;
        expected.erase(
            std::remove_if(expected.begin(), expected.end(), [](const QString &o) { return o.section(QLatin1Char(' '), 1).startsWith(QLatin1String("v0_")); }),
            expected.end());
        QCOMPARE(tableObjects(net->table()), expected);
        QCOMPARE(*Nftables::mapKeys(net->table(), QStringLiteral("fwd_vmap")), QStringList{b->tap.name()});
        QCOMPARE(*Nftables::mapKeys(net->table(), QStringLiteral("in_vmap")), QStringList{b->tap.name()});
        QVERIFY(ipv4Addresses(a->tap.name()).isEmpty());
        QVERIFY(!isUp(a->tap.name()));
        QCOMPARE(ipv4Addresses(b->tap.name()).size(), 1);
        QVERIFY(Resolver::running(QStringLiteral("%1_v0.conf").arg(net->table())).isEmpty());
        QCOMPARE(Resolver::running(QStringLiteral("%1_v1.conf").arg(net->table())).size(), 1);
        QCOMPARE(net->detach(0).error().code, Core::ErrorCode::NotFound);
    }

    // Attach and detach 20 times (the tap closed each time, as a VM's
    // deletion does): nothing of the VM is left, the table is as before.
    void repeatedAttachDetachLeavesNothing()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        const QStringList tableBefore = tableObjects(net->table());
        for (int i = 0; i < kCycles; ++i) {
            auto a = net->attach(QStringLiteral("vm-%1").arg(i), i % 2, allowListPolicy());
            QVERIFY2(a, a ? "" : qPrintable(a.error().message));
            auto ok = net->detach(i % 2);
            QVERIFY2(ok, ok ? "" : qPrintable(ok.error().message));
        }
        QCOMPARE(tableObjects(net->table()), tableBefore);
        QVERIFY(Nftables::mapKeys(net->table(), QStringLiteral("fwd_vmap"))->isEmpty());
        QVERIFY(Resolver::running(net->table() + QLatin1Char('_')).isEmpty());
        QVERIFY(TapLink::interfaces(HostNetwork::tapPrefix(net->instanceId())).isEmpty());
    }

    void resolverForwardsAllowedNamesIntoTheVmSet()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        auto a = net->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        const DnsAnswer allowed = resolve(a->address.gateway, QStringLiteral("allowed.test"));
        QCOMPARE(allowed.rcode, kNoError);
        QCOMPARE(allowed.addresses, QStringList{QLatin1String(kAllowedAnswer)});
        auto set = Nftables::setAddresses(net->table(), NftRuleset::dnsSetName(0, 0, false));
        QVERIFY2(set, set ? "" : qPrintable(set.error().message));
        QCOMPARE(*set, QStringList{QLatin1String(kAllowedAnswer)});
        const DnsAnswer denied = resolve(a->address.gateway, QStringLiteral("denied.test"));
        QCOMPARE(denied.rcode, kNxDomain);
        QVERIFY(denied.addresses.isEmpty());
        QCOMPARE(*Nftables::setAddresses(net->table(), NftRuleset::dnsSetName(0, 0, false)), QStringList{QLatin1String(kAllowedAnswer)});
    }

    void countsAndRecordsWhatTheVmSends()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        NetworkPolicy p = allowListPolicy();
        auto a = net->attach(QStringLiteral("vm-a"), 0, p);
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        // The host at the gateway, one UDP port: named by a single address.
        p = policy(QStringLiteral(R"({"default": "deny", "allow": ["allowed.test", {"cidr": "%1/32", "ports": ["%2/udp"]}]})")
                       .arg(a->address.gateway.toString())
                       .arg(kAllowedGatewayPort)
                       .toUtf8());
        QVERIFY(net->setPolicy(0, p));
        QFile mac(QStringLiteral("/sys/class/net/%1/address").arg(a->tap.name()));
        QVERIFY(mac.open(QIODevice::ReadOnly));
        const QString tapMac = QString::fromLatin1(mac.readAll().trimmed());
        const QByteArray denied = udpFrame(tapMac, a->mac, a->address.address, QHostAddress(QLatin1String(kDeniedDestination)), kDeniedPort);
        QCOMPARE(::write(a->tap.fd(), denied.constData(), size_t(denied.size())), ssize_t(denied.size()));
        QVERIFY2(waitForCounter(*net, 0, false), "the denied packet was not counted");
        auto denials = net->denials(0);
        QVERIFY2(denials, denials ? "" : qPrintable(denials.error().message));
        QCOMPARE(denials->size(), 1);
        QCOMPARE(denials->first().address, QHostAddress(QLatin1String(kDeniedDestination)));
        QCOMPARE(denials->first().protocol, QStringLiteral("udp"));
        QCOMPARE(denials->first().port, kDeniedPort);
        QVERIFY(denials->first().expiresS > 0 && denials->first().expiresS <= NftRuleset::kDeniedTimeoutS);
        const QByteArray allowed = udpFrame(tapMac, a->mac, a->address.address, a->address.gateway, kAllowedGatewayPort);
        QCOMPARE(::write(a->tap.fd(), allowed.constData(), size_t(allowed.size())), ssize_t(allowed.size()));
        QVERIFY2(waitForCounter(*net, 0, true), "the allowed packet was not counted");
        QCOMPARE(net->counters(0)->denied, quint64(1));
    }

    // Packets written into the taps as the VMs would send them: a and b of
    // private network "team" reach each other; c (mode egress) neither
    // reaches them nor is reached; once b is detached, a no longer reaches
    // its address.
    void privateNetworkMembersReachEachOther()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        const NetworkPolicy p = allowListPolicy();
        const QString team = QStringLiteral("team");
        auto a = net->attach(QStringLiteral("vm-a"), 0, p, {}, team);
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        auto b = net->attach(QStringLiteral("vm-b"), 1, p, {}, team);
        QVERIFY2(b, b ? "" : qPrintable(b.error().message));
        auto c = net->attach(QStringLiteral("vm-c"), 2, p);
        QVERIFY2(c, c ? "" : qPrintable(c.error().message));
        const QStringList objects = tableObjects(net->table());
        QVERIFY2(objects.contains(QStringLiteral("set ") + NftRuleset::groupSetName(team, false)), qPrintable(objects.join(QLatin1Char(','))));
        auto send = [](const VmAttachment &from, const QHostAddress &to) {
            QFile mac(QStringLiteral("/sys/class/net/%1/address").arg(from.tap.name()));
            if (!mac.open(QIODevice::ReadOnly))
                return false;
            const QByteArray f = udpFrame(QString::fromLatin1(mac.readAll().trimmed()), from.mac, from.address.address, to, kDeniedPort);
            return ::write(from.tap.fd(), f.constData(), size_t(f.size())) == ssize_t(f.size());
        };
        // Waits until slot's counter is at least n; false when it is not in time.
        auto counted = [&](int slot, bool allowed, quint64 n) {
            QElapsedTimer t;
            t.start();
            do {
                auto k = net->counters(slot);
                if (k && (allowed ? k->allowed : k->denied) >= n)
                    return true;
                QThread::msleep(20);
            } while (t.elapsed() < kCounterWaitMs);
            return false;
        };
        QVERIFY(send(*a, b->address.address));
        QVERIFY2(counted(0, true, 1), "a -> b was not allowed");
        QVERIFY(send(*b, a->address.address));
        QVERIFY2(counted(1, true, 1), "b -> a was not allowed");
        QVERIFY(send(*a, c->address.address));
        QVERIFY2(counted(0, false, 1), "a -> c was not denied");
        QVERIFY(send(*c, a->address.address));
        QVERIFY2(counted(2, false, 1), "c -> a was not denied");
        QVERIFY(send(*c, b->address.address));
        QVERIFY2(counted(2, false, 2), "c -> b was not denied");
        QCOMPARE(net->counters(0)->allowed, quint64(1));
        QCOMPARE(net->counters(2)->allowed, quint64(0));
        QVERIFY(net->detach(1));
        QVERIFY(send(*a, b->address.address));
        QVERIFY2(counted(0, false, 2), "a -> b's address was not denied after b's detach");
        QCOMPARE(net->counters(0)->allowed, quint64(1));
    }

    void deadInstanceLeftoversGoAndLiveOnesStay()
    {
        HostNetwork *live = started();
        QVERIFY(live);
        auto liveVm = live->attach(QStringLiteral("live-vm"), 0, allowListPolicy());
        QVERIFY2(liveVm, liveVm ? "" : qPrintable(liveVm.error().message));

        const QString childId = newInstanceId();
        const QString childTable = QStringLiteral("mvs_") + childId;
        QProcess *childProcess = startChild(childId, false);
        QVERIFY(childProcess);
        QProcess &child = *childProcess;
        QVERIFY(*Nftables::hasTable(childTable));
        QCOMPARE(Resolver::running(childTable + QLatin1Char('_')).size(), 2);

        child.kill(); // SIGKILL
        QVERIFY(child.waitForFinished());
        QVERIFY(*Nftables::hasTable(childTable)); // the kernel keeps what it made
        QCOMPARE(Resolver::running(childTable + QLatin1Char('_')).size(), 2); // detached: they outlive it
        const QString childTaps = HostNetwork::tapPrefix(childId);
        QVERIFY(TapLink::interfaces(childTaps).isEmpty()); // gone with its descriptors

        HostNetwork *next = started();
        QVERIFY(next);
        QVERIFY(!*Nftables::hasTable(childTable));
        QVERIFY(Resolver::running(childTable + QLatin1Char('_')).isEmpty());
        // The live instance keeps everything.
        QVERIFY(*Nftables::hasTable(live->table()));
        QVERIFY(vmObjects(live->table(), 0).contains(QLatin1String("chain v0_fwd")));
        QCOMPARE(Resolver::running(live->table() + QLatin1Char('_')).size(), 1);
        QCOMPARE(ipv4Addresses(liveVm->tap.name()).size(), 1);
        QVERIFY(next->plan().subnet() != live->plan().subnet());
        QCOMPARE(resolve(liveVm->address.gateway, QStringLiteral("allowed.test")).rcode, kNoError);
    }

    // A VM whose VMM outlived its (SIGKILLed) instance: the instance's next
    // life takes its tap down at start and configures it again on adopt();
    // a VM not adopted stays cut off.
    void nextLifeAdoptsAVmWhoseVmmSurvived()
    {
        const QString id = newInstanceId();
        QProcess *child = startChild(id, true);
        QVERIFY(child);
        QCOMPARE(m_standIns.size(), 2);
        child->kill();
        QVERIFY(child->waitForFinished());
        HostNetworkOptions o;
        o.instanceId = id;
        o.runtimeDir = m_dir.filePath(id);
        o.upstreams = {m_upstreamAddress};
        HostNetwork &next = *m_nets.emplace_back(std::make_unique<HostNetwork>(o));
        const QString tap0 = next.tapName(0);
        const QString tap1 = next.tapName(1);
        QVERIFY(TapLink::exists(tap0) && TapLink::exists(tap1)); // held by the stand-ins
        QCOMPARE(ipv4Addresses(tap0).size(), 1);
        const QString gateway0 = ipv4Addresses(tap0).first();
        auto report = next.start();
        QVERIFY2(report, report ? "" : qPrintable(report.error().message));
        QVERIFY2(report->tables.contains(QStringLiteral("mvs_") + id), qPrintable(report->tables.join(QLatin1Char(' '))));
        QCOMPARE(report->resolvers.size(), 2);
        QVERIFY(report->taps.contains(tap0) && report->taps.contains(tap1));
        QVERIFY(ipv4Addresses(tap0).isEmpty() && !isUp(tap0));

        auto adopted = next.adopt(QStringLiteral("child-vm-0"), 0, allowListPolicy());
        QVERIFY2(adopted, adopted ? "" : qPrintable(adopted.error().message));
        QVERIFY(!adopted->tap.isValid());
        QCOMPARE(ipv4Addresses(tap0), QStringList{QStringLiteral("%1/30").arg(adopted->address.gateway.toString())});
        QCOMPARE(ipv4Addresses(tap0), QStringList{gateway0}); // the same subnet again: its lock was free
        QVERIFY(isUp(tap0));
        QVERIFY(vmObjects(next.table(), 0).contains(QLatin1String("chain v0_fwd")));
        QCOMPARE(resolve(adopted->address.gateway, QStringLiteral("allowed.test")).addresses, QStringList{QLatin1String(kAllowedAnswer)});
        QVERIFY(ipv4Addresses(tap1).isEmpty() && !isUp(tap1)); // not adopted: cut off
        QVERIFY(vmObjects(next.table(), 1).isEmpty());

        for (const qint64 pid : std::as_const(m_standIns))
            ::kill(pid_t(pid), SIGKILL); // the VMMs end: their taps go
        m_standIns.clear();
        QElapsedTimer t;
        t.start();
        while ((TapLink::exists(tap0) || TapLink::exists(tap1)) && t.elapsed() < kCounterWaitMs)
            QThread::msleep(20);
        QVERIFY(!TapLink::exists(tap0) && !TapLink::exists(tap1));
        QCOMPARE(next.adopt(QStringLiteral("child-vm-1"), 1, allowListPolicy()).error().code, Core::ErrorCode::NotFound);
    }

    void errorsNameWhatFailed()
    {
        auto broken =
            Nftables::apply(QStringLiteral("table inet mvs_tstbroken {\n    chain c {\n        nonsense\n    }\n}\n"), QStringLiteral("apply a broken script"));
        QVERIFY(!broken);
        QVERIFY2(broken.error().message.startsWith(QLatin1String("cannot apply a broken script: `nft -f -` failed")), qPrintable(broken.error().message));
        QVERIFY2(broken.error().message.contains(QLatin1String("nonsense")), qPrintable(broken.error().message)); // nft's stderr
        QVERIFY(!*Nftables::hasTable(QStringLiteral("mvs_tstbroken")));

        auto noTap = TapLink::configure(QStringLiteral("mvsnosuchtap"), *(*SubnetPlan::choose({QStringLiteral("10.213.0.0/16")}, {})).address(0));
        QVERIFY(!noTap);
        QVERIFY2(noTap.error().message.contains(QLatin1String("mvsnosuchtap")), qPrintable(noTap.error().message));

        HostNetwork *net = started();
        QVERIFY(net);
        QCOMPARE(net->setPolicy(7, allowListPolicy()).error().code, Core::ErrorCode::NotFound);
        QCOMPARE(net->counters(7).error().code, Core::ErrorCode::NotFound);
        auto a = net->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY(a);
        QCOMPARE(net->attach(QStringLiteral("vm-b"), 0, allowListPolicy()).error().code, Core::ErrorCode::AlreadyExists);
        QCOMPARE(net->attach(QStringLiteral("vm-b"), net->plan().slotCount(), allowListPolicy()).error().code, Core::ErrorCode::InvalidArgument);
    }

    // A dnsmasq that cannot bind exits at start: the error has its log's
    // tail. A log past its bound is set aside at start.
    void resolverStartFailureAndBoundedLog()
    {
        QTemporaryDir dir;
        DnsmasqConfig c;
        c.table = QStringLiteral("mvs_tstresolver");
        c.slot = 0;
        c.listenAddress = QHostAddress(QStringLiteral("10.213.255.253")); // on no interface
        c.upstreams = {m_upstreamAddress};
        c.policy = allowListPolicy();
        Resolver r(dir.path(), c);
        QFile log(r.config().logFile);
        QVERIFY(log.open(QIODevice::WriteOnly));
        QVERIFY(log.write(QByteArray(Resolver::kMaxLogBytes + 1, 'x')) > Resolver::kMaxLogBytes);
        log.close();
        auto ok = r.start();
        QVERIFY(!ok);
        QVERIFY2(ok.error().message.contains(QLatin1String("exited at start")), qPrintable(ok.error().message));
        QVERIFY2(ok.error().message.contains(QLatin1String("10.213.255.253")), qPrintable(ok.error().message)); // dnsmasq's own words
        QCOMPARE(QFileInfo(r.config().logFile + QStringLiteral(".old")).size(), Resolver::kMaxLogBytes + 1);
        QVERIFY(QFileInfo(r.config().logFile).size() < Resolver::kMaxLogBytes);
        QVERIFY(Resolver::running(QStringLiteral("mvs_tstresolver_")).isEmpty());
    }

    // A running resolver's log past its bound is copied aside and emptied.
    void runningResolverLogIsBounded()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        auto a = net->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        const QString logFile = m_dir.filePath(QStringLiteral("%1/%2_v0.log").arg(net->instanceId(), net->table()));
        QFile log(logFile);
        QVERIFY(log.open(QIODevice::Append));
        QVERIFY(log.write(QByteArray(Resolver::kMaxLogBytes, 'x')) == Resolver::kMaxLogBytes);
        log.close();
        net->rotateLogs();
        QCOMPARE(QFileInfo(logFile).size(), 0);
        QVERIFY(QFileInfo(logFile + QStringLiteral(".old")).size() > Resolver::kMaxLogBytes);
        QCOMPARE(resolve(a->address.gateway, QStringLiteral("allowed.test")).rcode, kNoError); // still serving
    }

    // A service that leaves its VMs running releases its network: the VM
    // stays filtered and served; the next life takes it over with adopt().
    void releaseLeavesEverythingForTheNextLife()
    {
        HostNetwork *first = started();
        QVERIFY(first);
        auto a = first->attach(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(a, a ? "" : qPrintable(a.error().message));
        const QString id = first->instanceId();
        first->release();
        QVERIFY(!first->isStarted());
        QVERIFY(*Nftables::hasTable(QStringLiteral("mvs_") + id));
        QCOMPARE(resolve(a->address.gateway, QStringLiteral("allowed.test")).rcode, kNoError);
        QCOMPARE(ipv4Addresses(a->tap.name()).size(), 1);

        HostNetworkOptions o;
        o.instanceId = id;
        o.runtimeDir = m_dir.filePath(id);
        o.upstreams = {m_upstreamAddress};
        o.subnetCandidates = {first->plan().subnet().toString()}; // the recorded one
        HostNetwork &next = *m_nets.emplace_back(std::make_unique<HostNetwork>(o));
        auto report = next.start();
        QVERIFY2(report, report ? "" : qPrintable(report.error().message));
        QCOMPARE(next.plan().subnet(), first->plan().subnet());
        auto adopted = next.adopt(QStringLiteral("vm-a"), 0, allowListPolicy());
        QVERIFY2(adopted, adopted ? "" : qPrintable(adopted.error().message));
        QCOMPARE(adopted->address.address, a->address.address);
        QCOMPARE(adopted->mac, a->mac);
        QCOMPARE(resolve(a->address.gateway, QStringLiteral("allowed.test")).addresses, QStringList{QLatin1String(kAllowedAnswer)});
    }

    void secondStartOfAnInstanceIsRefused()
    {
        HostNetwork *net = started();
        QVERIFY(net);
        HostNetworkOptions o;
        o.instanceId = net->instanceId();
        o.runtimeDir = m_dir.filePath(QStringLiteral("twin"));
        o.upstreams = {m_upstreamAddress};
        HostNetwork twin(o);
        auto second = twin.start();
        QVERIFY(!second);
        QCOMPARE(second.error().code, Core::ErrorCode::AlreadyExists);
        QVERIFY(*Nftables::hasTable(net->table())); // untouched
    }
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    if (args.size() > 1 && args.at(1) == QLatin1String(kChildArgument))
        return runChild(args);
    if (args.size() > 1 && args.at(1) == QLatin1String(kReapArgument))
        return reap();
    TestHostNetwork t;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&t, argc, argv);
}

#include "tst_hostnetwork.moc"
