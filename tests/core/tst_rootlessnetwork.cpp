// Net::RootlessNetwork and its helper (issue 15, a service that is not
// root): the channel (whole JSON messages, a descriptor along), the
// protocol's checks, the refusals (no /dev/net/tun, an upstream it cannot
// reach), and the real thing without a guest: `microvm-sandbox net-helper`
// in namespaces of its own with pasta, handing over a tap that exists only
// in its namespace (and its /sys), under a filter that denies the host's own addresses;
// live policy, counters and denials over the channel; a helper or pasta
// that dies makes every later call fail naming it and ends the other at
// once; stop() and the death of the helper leave no process behind. With a
// test double of the helper (a script on the helper's end of the channel):
// answers out of step are dropped with their descriptors, a helper that does
// not answer in time fails the network closed. Nothing leaves this machine:
// the resolver's upstream is an address of TEST-NET-2 that nothing asks.

#include "core/net/helperchannel.h"
#include "core/net/nethelper.h"
#include "core/net/nethelperprotocol.h"
#include "core/net/rootlessnetwork.h"

#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QScopeGuard>
#include <QTest>

#include <csignal>
#include <cstring>
#include <thread>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace Net;

namespace {

constexpr int kGoneTimeoutMs = 10000;
constexpr int kDoubleRequestTimeoutMs = 1500;

// A test double of the helper's side of the channel (the real one cannot
// answer late or out of step on demand): it starts nothing, answers
// set_policy after two stray answers (one with a descriptor), counters with
// a descriptor nobody asked for, and never answers denials.
constexpr char kLateHelperDouble[] = R"(
import json, os, socket, time
channel = socket.socket(fileno=3)
def send(message, fds=()):
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(channel, [data], list(fds))
    else:
        channel.send(data)
send({"ready": True})
while True:
    data = channel.recv(262144)
    if not data:
        break
    request = json.loads(data)
    op, id = request.get("op"), request.get("id")
    if op == "start":
        send({"ok": True, "subnet": "10.213.0.0/24", "table": "double", "id": id})
    elif op == "set_policy":
        r, w = os.pipe()
        send({"ok": True, "id": id - 1}, [w])
        send({"ok": True, "id": id + 1000})
        send({"ok": False, "code": "invalid_argument", "message": "refused by the double", "id": id})
        os.close(r)
        os.close(w)
    elif op == "counters":
        r, w = os.pipe()
        send({"ok": True, "allowed": "1", "denied": "2", "id": id}, [w])
        os.close(r)
        os.close(w)
    elif op == "denials":
        time.sleep(3600)
    else:
        send({"ok": True, "id": id})
        if op == "stop":
            break
)";

NetworkPolicy policy(const QByteArray &json)
{
    auto p = NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object());
    if (!p)
        qFatal("bad test policy: %s", qPrintable(p.error().message));
    return *p;
}

bool alive(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray s = stat.readAll();
    const int close = s.lastIndexOf(')');
    return close > 0 && s.at(close + 2) != 'Z';
}

bool goneWithin(qint64 pid, int ms)
{
    for (int waited = 0; waited < ms; waited += 50) {
        if (!alive(pid))
            return true;
        QTest::qWait(50);
    }
    return false;
}

// The processes whose command line contains needle.
QList<qint64> processesWith(const QByteArray &needle)
{
    QList<qint64> out;
    for (const QString &e : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool numeric = false;
        const qint64 pid = e.toLongLong(&numeric);
        QFile f(QStringLiteral("/proc/%1/cmdline").arg(e));
        if (numeric && pid != ::getpid() && f.open(QIODevice::ReadOnly) && f.readAll().replace('\0', ' ').contains(needle) && alive(pid))
            out << pid;
    }
    return out;
}

int openDescriptors()
{
    return QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::AllEntries | QDir::System | QDir::NoDotAndDotDot).size();
}

QString run(const QString &program, const QStringList &args, int *exitCode = nullptr)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(program, args);
    p.waitForFinished(30000);
    if (exitCode)
        *exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    return QString::fromLocal8Bit(p.readAll());
}

} // namespace

class TestRootlessNetwork : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void channelCarriesMessagesAndDescriptors();
    void channelRefusesWhatIsNotAMessage();
    void helperAnswersTooLargeWithAnError();
    void answersOutOfStepAreDroppedAndLateOnesFailClosed();
    void protocolChecksWhatItReads();
    void upstreamsAsTheNamespaceReachesThem();
    void noTunIsAClearRefusal();
    void hostAddressesLeaveOutLoopback();
    void reservedAddressesHoldPastasOwn();
    void tapFromTheHelpersNamespace();
    void deadHelperFailsEveryCall();
    void deadPastaFailsEveryCall();
    void hostTapsAreNotTheHelpers();

private:
    std::unique_ptr<RootlessNetwork> started(const QString &instance);
    QTemporaryDir m_dir;
};

std::unique_ptr<RootlessNetwork> TestRootlessNetwork::started(const QString &instance)
{
    RootlessOptions o;
    o.network.instanceId = instance;
    o.network.runtimeDir = m_dir.filePath(instance);
    o.network.upstreams = {QStringLiteral("198.51.100.53")};
    o.helperCommand = {QStringLiteral(MVS_APP_BINARY), QStringLiteral("net-helper")};
    auto n = RootlessNetwork::start(o);
    if (!n) {
        qWarning("RootlessNetwork::start: %s", qPrintable(n.error().toString()));
        return nullptr;
    }
    return std::move(*n);
}

void TestRootlessNetwork::channelCarriesMessagesAndDescriptors()
{
    auto pair = HelperChannel::pair();
    QVERIFY2(pair, pair ? "" : qPrintable(pair.error().message));
    int pipe[2];
    QCOMPARE(::pipe(pipe), 0);
    QVERIFY(pair->first.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("x")}}, pipe[1]));
    ::close(pipe[1]);
    auto m = pair->second.receive(1000);
    QVERIFY2(m, m ? "" : qPrintable(m.error().message));
    QCOMPARE(m->json.value(QStringLiteral("op")).toString(), QStringLiteral("x"));
    QVERIFY(m->fd >= 0);
    QCOMPARE(::write(m->fd, "ok", 2), ssize_t(2)); // the very pipe
    char buf[2];
    QCOMPARE(::read(pipe[0], buf, 2), ssize_t(2));
    ::close(m->fd);
    ::close(pipe[0]);
    // A large message stays whole; one past the limit is refused.
    const QString big(HelperChannel::kMaxMessageBytes / 2, QLatin1Char('a'));
    QVERIFY(pair->second.send(QJsonObject{{QStringLiteral("big"), big}}));
    auto bigReceived = pair->first.receive(1000);
    QVERIFY(bigReceived);
    QCOMPARE(bigReceived->json.value(QStringLiteral("big")).toString(), big);
    auto tooBig = pair->second.send(QJsonObject{{QStringLiteral("big"), QString(big + big)}});
    QVERIFY(!tooBig);
    QCOMPARE(tooBig.error().code, Core::ErrorCode::TooLarge);
    // Nothing sent: a timeout; the peer gone: closed.
    auto none = pair->first.receive(50);
    QVERIFY(!none);
    QCOMPARE(none.error().code, Core::ErrorCode::Timeout);
    pair->second.close();
    auto closed = pair->first.receive(1000);
    QVERIFY(!closed);
    QCOMPARE(closed.error().code, Core::ErrorCode::Io);
    QVERIFY(!pair->first.send(QJsonObject{}));
}

void TestRootlessNetwork::channelRefusesWhatIsNotAMessage()
{
    auto pair = HelperChannel::pair();
    QVERIFY(pair);
    QCOMPARE(::send(pair->second.fd(), "[1,2]", 5, 0), ssize_t(5));
    auto notObject = pair->first.receive(1000);
    QVERIFY(!notObject);
    QCOMPARE(notObject.error().code, Core::ErrorCode::Protocol);
    QCOMPARE(::send(pair->second.fd(), "{\"a\":", 5, 0), ssize_t(5));
    QVERIFY(!pair->first.receive(1000));
    // A descriptor with an empty message: refused, and not kept open.
    int pipe[2];
    QCOMPARE(::pipe(pipe), 0);
    const int before = openDescriptors();
    char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &pipe[1], sizeof(int));
    QCOMPARE(::sendmsg(pair->second.fd(), &msg, 0), ssize_t(0));
    QVERIFY(!pair->first.receive(1000));
    QCOMPARE(openDescriptors(), before);
    ::close(pipe[0]);
    ::close(pipe[1]);
}

void TestRootlessNetwork::helperAnswersTooLargeWithAnError()
{
    auto pair = HelperChannel::pair();
    QVERIFY(pair);
    int exitCode = -1;
    std::thread helper([channel = std::move(pair->second), &exitCode]() mutable { exitCode = NetHelper(std::move(channel)).run(); });
    auto ready = pair->first.receive(5000);
    QVERIFY(ready && ready->json.value(QStringLiteral("ready")).toBool());
    // Its error repeats the bad network: an answer past the channel's limit.
    const QString huge(HelperChannel::kMaxMessageBytes - 64, QLatin1Char('x'));
    QVERIFY(pair->first.send(
        QJsonObject{{QStringLiteral("op"), QStringLiteral("start")}, {QStringLiteral("reserved"), QJsonArray{huge}}, {QStringLiteral("id"), 7}}));
    auto tooLarge = pair->first.receive(5000);
    QVERIFY2(tooLarge, tooLarge ? "" : qPrintable(tooLarge.error().message));
    QCOMPARE(tooLarge->json.value(QStringLiteral("id")).toInteger(), qint64(7));
    QCOMPARE(NetHelperProtocol::result(tooLarge->json).error().code, Core::ErrorCode::TooLarge);
    // It still answers.
    QVERIFY(pair->first.send(QJsonObject{{QStringLiteral("op"), QStringLiteral("counters")}, {QStringLiteral("id"), 8}}));
    auto next = pair->first.receive(5000);
    QVERIFY(next);
    QCOMPARE(next->json.value(QStringLiteral("id")).toInteger(), qint64(8));
    QCOMPARE(NetHelperProtocol::result(next->json).error().code, Core::ErrorCode::InvalidState);
    pair->first.close();
    helper.join();
    QCOMPARE(exitCode, 0);
}

void TestRootlessNetwork::answersOutOfStepAreDroppedAndLateOnesFailClosed()
{
    const QString script = m_dir.filePath(QStringLiteral("late-helper-double.py"));
    QFile f(script);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(kLateHelperDouble);
    f.close();
    RootlessOptions o;
    o.network.instanceId = QStringLiteral("rllate");
    o.network.runtimeDir = m_dir.filePath(o.network.instanceId);
    o.network.upstreams = {QStringLiteral("198.51.100.53")};
    o.helperCommand = {QStringLiteral("/usr/bin/python3"), script};
    o.requestTimeoutMs = kDoubleRequestTimeoutMs;
    auto n = RootlessNetwork::start(o);
    QVERIFY2(n, n ? "" : qPrintable(n.error().toString()));
    const qint64 helper = (*n)->helperPid();
    const qint64 pasta = (*n)->pastaPid();
    const int before = openDescriptors();
    // Two stray answers (a late one with a descriptor) before its own refusal.
    auto refused = (*n)->setPolicy(0, policy(R"({"default": "allow"})"));
    QVERIFY(!refused);
    QCOMPARE(refused.error().code, Core::ErrorCode::InvalidArgument);
    QCOMPARE(openDescriptors(), before);
    // A descriptor along an answer that has none to give is closed.
    auto counters = (*n)->counters(0);
    QVERIFY2(counters, counters ? "" : qPrintable(counters.error().toString()));
    QCOMPARE(counters->denied, 2u);
    QCOMPARE(openDescriptors(), before);
    // No answer in time: the helper and pasta end at once, every later call fails naming it.
    auto late = (*n)->denials(0);
    QVERIFY(!late);
    QVERIFY2(late.error().message.contains(QStringLiteral("did not answer")), qPrintable(late.error().message));
    QVERIFY(!alive(helper));
    QVERIFY(!alive(pasta));
    auto after = (*n)->counters(0);
    QVERIFY(!after);
    QCOMPARE(after.error().message, late.error().message);
    QVERIFY(!(*n)->setPolicy(0, NetworkPolicy()));
    QVERIFY(!(*n)->health());
}

void TestRootlessNetwork::protocolChecksWhatItReads()
{
    const Core::Error e(Core::ErrorCode::NoSpace, QStringLiteral("full"));
    auto r = NetHelperProtocol::result(NetHelperProtocol::error(e));
    QVERIFY(!r);
    QCOMPARE(r.error().code, Core::ErrorCode::NoSpace);
    QCOMPARE(r.error().message, QStringLiteral("full"));
    QVERIFY(NetHelperProtocol::result(NetHelperProtocol::ok()));
    QCOMPARE(NetHelperProtocol::result(QJsonObject{}).error().code, Core::ErrorCode::Protocol);
    for (int i = 0; i <= int(Core::ErrorCode::TooLarge); ++i)
        QCOMPARE(NetHelperProtocol::codeFromName(Core::errorCodeName(Core::ErrorCode(i))), Core::ErrorCode(i));

    VmAddress a;
    a.slot = 3;
    a.gateway = QHostAddress(QStringLiteral("10.213.0.13"));
    a.address = QHostAddress(QStringLiteral("10.213.0.14"));
    a.block = *Cidr::parse(QStringLiteral("10.213.0.12/30"));
    auto back = NetHelperProtocol::addressFromJson(NetHelperProtocol::addressToJson(a));
    QVERIFY(back);
    QCOMPARE(back->address, a.address);
    QCOMPARE(back->gateway, a.gateway);
    QCOMPARE(back->slot, 3);
    QJsonObject outside = NetHelperProtocol::addressToJson(a);
    outside[QStringLiteral("address")] = QStringLiteral("192.0.2.9");
    QVERIFY(!NetHelperProtocol::addressFromJson(outside));

    auto counters = NetHelperProtocol::countersFromJson(NetHelperProtocol::countersToJson(VmCounters{18446744073709551615ull, 7}));
    QVERIFY(counters);
    QCOMPARE(counters->allowed, 18446744073709551615ull);
    QVERIFY(!NetHelperProtocol::countersFromJson(QJsonObject{{QStringLiteral("allowed"), 1}}));

    Denial d{QHostAddress(QStringLiteral("203.0.113.7")), QStringLiteral("tcp"), 443, 60};
    auto denials = NetHelperProtocol::denialsFromJson(NetHelperProtocol::denialsToJson({d}));
    QVERIFY(denials);
    QCOMPARE(denials->size(), 1);
    QCOMPARE(denials->first().port, quint16(443));
    QJsonObject bad = NetHelperProtocol::denialsToJson({d});
    bad[QStringLiteral("denials")] = QJsonArray{QJsonObject{{QStringLiteral("address"), QStringLiteral("x")}}};
    QVERIFY(!NetHelperProtocol::denialsFromJson(bad));
}

void TestRootlessNetwork::upstreamsAsTheNamespaceReachesThem()
{
    bool forward = true;
    auto plain = RootlessNetwork::namespaceUpstreams({QStringLiteral("198.51.100.53"), QStringLiteral("198.51.100.54#5353")}, forward);
    QVERIFY(plain);
    QCOMPARE(*plain, QStringList({QStringLiteral("198.51.100.53"), QStringLiteral("198.51.100.54#5353")}));
    QVERIFY(!forward);
    auto local = RootlessNetwork::namespaceUpstreams({QStringLiteral("127.0.0.53"), QStringLiteral("::1")}, forward);
    QVERIFY(local);
    QCOMPARE(*local, QStringList({QLatin1String(RootlessNetwork::kDnsForward)}));
    QVERIFY(forward);
    auto withPort = RootlessNetwork::namespaceUpstreams({QStringLiteral("127.0.0.1#5353")}, forward);
    QVERIFY(!withPort);
    QCOMPARE(withPort.error().code, Core::ErrorCode::Unsupported);
    QVERIFY2(withPort.error().message.contains(QStringLiteral("127.0.0.1#5353")), qPrintable(withPort.error().message));
}

void TestRootlessNetwork::noTunIsAClearRefusal()
{
    RootlessOptions o;
    o.network.instanceId = QStringLiteral("rlnotun");
    o.network.runtimeDir = m_dir.filePath(QStringLiteral("notun"));
    o.helperCommand = {QStringLiteral(MVS_APP_BINARY), QStringLiteral("net-helper")};
    o.tunDevice = m_dir.filePath(QStringLiteral("no-such-tun"));
    auto n = RootlessNetwork::start(o);
    QVERIFY(!n);
    QCOMPARE(n.error().code, Core::ErrorCode::Unsupported);
    QVERIFY2(n.error().message.contains(o.tunDevice) && n.error().message.contains(QStringLiteral("0666")), qPrintable(n.error().message));
}

void TestRootlessNetwork::hostAddressesLeaveOutLoopback()
{
    const QList<Cidr> addresses = RootlessNetwork::hostAddresses();
    QVERIFY(!addresses.isEmpty());
    for (const Cidr &c : addresses) {
        QVERIFY(c.isSingleAddress());
        QVERIFY2(!c.address().isLoopback(), qPrintable(c.toString()));
    }
}

void TestRootlessNetwork::reservedAddressesHoldPastasOwn()
{
    const QList<Cidr> reserved = RootlessNetwork::reservedAddresses();
    for (const Cidr &c : RootlessNetwork::hostAddresses())
        QVERIFY(reserved.contains(c));
    for (const char *pasta : {RootlessNetwork::kUplinkGateway, RootlessNetwork::kDnsForward})
        QVERIFY2(reserved.contains(Cidr(QHostAddress(QLatin1String(pasta)), 32)), pasta);
}

void TestRootlessNetwork::tapFromTheHelpersNamespace()
{
    auto n = started(QStringLiteral("rltap"));
    QVERIFY(n);
    QVERIFY(n->health());
    const qint64 helper = n->helperPid();
    const qint64 pasta = n->pastaPid();
    auto a = n->attach(QStringLiteral("vm0"), 0, policy(R"({"default": "deny", "allow": ["allowed.test"]})"));
    QVERIFY2(a, a ? "" : qPrintable(a.error().toString()));
    QVERIFY(a->tap.isValid());
    struct ifreq ifr { };
    QCOMPARE(::ioctl(a->tap.fd(), TUNGETIFF, &ifr), 0);
    QCOMPARE(QString::fromLatin1(ifr.ifr_name), n->tapName(0));
    QVERIFY(n->subnet().contains(a->address.address));
    // The tap is the namespace's, not the host's.
    int code = 0;
    run(QStringLiteral("ip"), {QStringLiteral("link"), QStringLiteral("show"), n->tapName(0)}, &code);
    QVERIFY(code != 0);
    // The helper's /sys is its namespace's (TapLink reads /sys/class/net):
    // none of the host's interfaces, such as another service's taps.
    const QStringList sysNet = run(QStringLiteral("nsenter"),
                                   {QStringLiteral("--preserve-credentials"), QStringLiteral("-U"), QStringLiteral("-m"), QStringLiteral("-t"),
                                    QString::number(helper), QStringLiteral("ls"), QStringLiteral("/sys/class/net")})
                                   .split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QVERIFY2(sysNet.contains(n->tapName(0)), qPrintable(sysNet.join(QLatin1Char(' '))));
    for (const QString &host : QDir(QStringLiteral("/sys/class/net")).entryList(QDir::Dirs | QDir::System | QDir::NoDotAndDotDot))
        QVERIFY2(host == QLatin1String("lo") || !sysNet.contains(host), qPrintable(host));
    // Its resolver runs in the helper's namespaces.
    QCOMPARE(processesWith(QByteArray(n->table().toLatin1() + "_v0.conf")).size(), 1);
    // The filter there treats the host's own addresses as the host.
    const QString reserved =
        run(QStringLiteral("nsenter"),
            {QStringLiteral("--preserve-credentials"), QStringLiteral("-U"), QStringLiteral("-n"), QStringLiteral("-t"), QString::number(helper),
             QStringLiteral("nft"), QStringLiteral("list"), QStringLiteral("set"), QStringLiteral("inet"), n->table(), QStringLiteral("host_4")});
    // (nft merges neighbours such as pasta's 10.0.2.2 and .3: asked one by one.)
    for (const Cidr &c : RootlessNetwork::reservedAddresses())
        if (!c.isV6()) {
            int found = -1;
            const QString why = run(QStringLiteral("nsenter"),
                                    {QStringLiteral("--preserve-credentials"), QStringLiteral("-U"), QStringLiteral("-n"), QStringLiteral("-t"),
                                     QString::number(helper), QStringLiteral("nft"), QStringLiteral("get"), QStringLiteral("element"), QStringLiteral("inet"),
                                     n->table(), QStringLiteral("host_4"), QStringLiteral("{ %1 }").arg(c.address().toString())},
                                    &found);
            QVERIFY2(found == 0, qPrintable(c.toString() + QStringLiteral(": ") + why + reserved));
        }

    QVERIFY(n->setPolicy(0, policy(R"({"default": "allow"})")));
    auto counters = n->counters(0);
    QVERIFY2(counters, counters ? "" : qPrintable(counters.error().toString()));
    QCOMPARE(counters->allowed, 0u);
    auto denials = n->denials(0);
    QVERIFY(denials);
    QVERIFY(denials->isEmpty());
    QCOMPARE(n->counters(5).error().code, Core::ErrorCode::NotFound);
    QCOMPARE(n->adopt(QStringLiteral("vm0"), 0, NetworkPolicy()).error().code, Core::ErrorCode::Unsupported);
    QVERIFY(n->detach(0));
    QVERIFY(processesWith(QByteArray(n->table().toLatin1() + "_v0.conf")).isEmpty());

    // A second attach, then stop with it attached: nothing stays.
    auto b = n->attach(QStringLiteral("vm1"), 1, policy(R"({"default": "deny"})"));
    QVERIFY(b);
    const QString table = n->table();
    QVERIFY(n->stop());
    QVERIFY(goneWithin(helper, kGoneTimeoutMs));
    QVERIFY(goneWithin(pasta, kGoneTimeoutMs));
    QVERIFY(processesWith(QByteArray(table.toLatin1() + "_v1.conf")).isEmpty());
    QVERIFY(!n->attach(QStringLiteral("vm2"), 2, NetworkPolicy()));
}

void TestRootlessNetwork::deadHelperFailsEveryCall()
{
    auto n = started(QStringLiteral("rlhelper"));
    QVERIFY(n);
    auto a = n->attach(QStringLiteral("vm0"), 0, policy(R"({"default": "deny"})"));
    QVERIFY(a);
    const QString conf = n->table() + QStringLiteral("_v0.conf");
    const qint64 helper = n->helperPid();
    const qint64 pasta = n->pastaPid();
    QCOMPARE(::kill(pid_t(helper), SIGKILL), 0); // unshare: --kill-child takes the helper, and the PID namespace its resolvers
    QVERIFY(goneWithin(helper, kGoneTimeoutMs));
    // pasta ends right after, with no call made: the VMs' traffic stops.
    QVERIFY(goneWithin(pasta, kGoneTimeoutMs));
    QTRY_VERIFY_WITH_TIMEOUT(processesWith(conf.toLatin1()).isEmpty(), kGoneTimeoutMs);
    auto b = n->attach(QStringLiteral("vm1"), 1, NetworkPolicy());
    QVERIFY(!b);
    QCOMPARE(b.error().code, Core::ErrorCode::Unsupported);
    QVERIFY2(b.error().message.contains(QStringLiteral("helper")), qPrintable(b.error().message));
    QVERIFY(!n->setPolicy(0, NetworkPolicy()));
    QVERIFY(!n->counters(0));
    n->release();
}

void TestRootlessNetwork::deadPastaFailsEveryCall()
{
    auto n = started(QStringLiteral("rlpasta"));
    QVERIFY(n);
    const qint64 helper = n->helperPid();
    const qint64 pasta = n->pastaPid();
    QCOMPARE(::kill(pid_t(pasta), SIGKILL), 0);
    QVERIFY(goneWithin(pasta, kGoneTimeoutMs));
    QVERIFY(goneWithin(helper, kGoneTimeoutMs)); // the helper too: fail closed
    auto b = n->attach(QStringLiteral("vm1"), 1, NetworkPolicy());
    QVERIFY(!b);
    QVERIFY2(b.error().message.contains(QStringLiteral("pasta")), qPrintable(b.error().message));
    n.reset();
}

// A tap of a root service on the host (CI ran tst_vmnetwork beside this
// test): the helper's reconciliation must not see it (it once did, through
// the host's /sys, and failed to start on it).
void TestRootlessNetwork::hostTapsAreNotTheHelpers()
{
    const QString hostTap = QStringLiteral("mvsbeefv0");
    const auto run = [](const QStringList &arguments) {
        QProcess p;
        p.start(QStringLiteral("ip"), arguments);
        return p.waitForFinished(10000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
    };
    QVERIFY(run({QStringLiteral("tuntap"), QStringLiteral("add"), QStringLiteral("dev"), hostTap, QStringLiteral("mode"), QStringLiteral("tap")}));
    const auto removeTap = qScopeGuard([&] {
        run({QStringLiteral("tuntap"), QStringLiteral("del"), QStringLiteral("dev"), hostTap, QStringLiteral("mode"), QStringLiteral("tap")});
    });
    auto n = started(QStringLiteral("rlhosttap"));
    QVERIFY(n);
    QVERIFY(n->health());
    QVERIFY(QFile::exists(QStringLiteral("/sys/class/net/") + hostTap));
    n.reset();
    QVERIFY(QFile::exists(QStringLiteral("/sys/class/net/") + hostTap));
}

QTEST_GUILESS_MAIN(TestRootlessNetwork)
#include "tst_rootlessnetwork.moc"
