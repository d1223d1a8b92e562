// VM networking of a service that is NOT root (issue 15, Net::RootlessNetwork):
// the real `microvm-sandbox --serve` runs as an unprivileged uid of its own
// (kServiceUid, no passwd entry, no groups) with its own data, config,
// runtime and image cache directories in a temporary directory, and real
// QEMU guests (minimal template, TCG) get their NICs from its user-mode
// network (a helper in a user namespace of the service's own, pasta to the
// host), against the test internet (tests/net/testinternet.h).
//
//  1. policy deny + allow [allowed.test]: the guest fetches allowed.test by
//     name; denied.test does not resolve; denied.test's address is
//     unreachable by IP; the host's own addresses (its test-link address,
//     its uplink address), the other VM and 169.254.169.254 are
//     unreachable, and the product lists those denials; the counters and
//     /metrics count them.
//  2. a replaced policy applies to the next connection, both ways; under
//     default allow with the whole test link allowed, the host's own
//     address there stays unreachable.
//  3. mode private: two VMs of one group reach each other, and the VM of
//     mode egress reaches neither.
//  4. SIGKILL of the service with VMs running: its helper, pasta and the
//     resolvers are gone at once, and nothing of the network was ever on
//     the host (no interface, no nftables table); a VM started again by a
//     restarted service fetches; SIGTERM then leaves no helper, pasta or
//     resolver of the service's uid.
//
// Traffic stays on this machine: the service's uid may send only to the test
// internet and loopback (kGuardTable, an output chain by socket uid, since
// pasta's sockets are the service's); its drop counter must stay 0.

#include "e2efixture.h"
#include "netcheck.h"
#include "net/testinternet.h"
#include "tests/apicall.h"

#include "core/net/hostnetwork.h"
#include "core/net/networkpolicy.h"
#include "core/vm/vmnetworks.h"

#include <QDir>
#include <QDirIterator>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkInterface>
#include <QRegularExpression>
#include <QTemporaryDir>

#include <csignal>

#include <unistd.h>

using namespace E2e;

namespace {

constexpr uid_t kServiceUid = 61874; // no passwd entry: nothing else runs as it
constexpr char kGuardTable[] = "vmnetrlguard";
constexpr char kToken[] = "rootless-token";
constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000;
constexpr int kServeStartMs = 60000;
constexpr int kServeStopMs = 120000;
constexpr int kGoneTimeoutMs = 10000;
constexpr int kToolTimeoutMs = 600000; // an image build

const QString kPolicy = QStringLiteral(R"({"default":"deny","allow":[{"domain":"allowed.test"}]})");

// The live processes of uid, "pid comm" each.
QStringList processesOf(uid_t uid)
{
    QStringList out;
    for (const QString &e : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool numeric = false;
        e.toLongLong(&numeric);
        if (!numeric)
            continue;
        QFile status(QStringLiteral("/proc/%1/status").arg(e));
        if (!status.open(QIODevice::ReadOnly))
            continue;
        const QString text = QString::fromLatin1(status.readAll());
        static const QRegularExpression uidLine(QStringLiteral("^Uid:\\s+(\\d+)"), QRegularExpression::MultilineOption);
        static const QRegularExpression stateLine(QStringLiteral("^State:\\s+(\\S)"), QRegularExpression::MultilineOption);
        static const QRegularExpression nameLine(QStringLiteral("^Name:\\s+(\\S+)"), QRegularExpression::MultilineOption);
        if (uidLine.match(text).captured(1).toUInt() == uid && stateLine.match(text).captured(1) != QLatin1String("Z"))
            out << e + QLatin1Char(' ') + nameLine.match(text).captured(1);
    }
    return out;
}

// The processes of uid that are the network's: helper, pasta, resolvers.
QStringList networkProcessesOf(uid_t uid)
{
    QStringList out;
    for (const QString &p : processesOf(uid))
        if (!p.endsWith(QLatin1String("qemu-system-x86")) && !p.endsWith(QLatin1String("qemu-system-x86_64")))
            out << p;
    return out;
}

QStringList hostInterfaces()
{
    QStringList out;
    for (const QNetworkInterface &i : QNetworkInterface::allInterfaces())
        out << i.name();
    out.sort();
    return out;
}

QString hostTables()
{
    return QString::fromUtf8(hostRun(QStringLiteral("nft"), {QStringLiteral("list"), QStringLiteral("tables")}, nullptr, {}, kToolTimeoutMs));
}

// What the service at `stateDir` would have put on the host, had it taken the
// root path: its taps (its instance's tap prefix) and its table. Named by its
// instance, so the root services of suites running beside this one (tst_sdk's,
// whose VMs have NICs) are not mistaken for it.
QString hostStateOf(const QString &stateDir)
{
    const QString instance = Vm::VmNetworks::serviceOptions(stateDir).instanceId;
    const QString tapPrefix = Net::HostNetwork::tapPrefix(instance);
    QStringList found;
    for (const QString &name : hostInterfaces())
        if (name.startsWith(tapPrefix))
            found << name;
    const QString table = QStringLiteral("inet mvs_") + instance;
    for (const QString &line : hostTables().split(QLatin1Char('\n'), Qt::SkipEmptyParts))
        if (line.trimmed() == QLatin1String("table ") + table)
            found << line.trimmed();
    return found.join(QLatin1Char(' '));
}

} // namespace

class TestVmNetworkRootless : public QObject {
    Q_OBJECT

    TestInternet::Session m_internet;
    QTemporaryDir m_home;
    QString m_serviceDir;
    QString serviceStateDir() const { return m_serviceDir + QStringLiteral("/data/vms"); } // the service's (Vm::VmManager::defaultStateDir)
    QProcessEnvironment m_env;
    std::unique_ptr<Serve> m_serve;
    VmApi m_api; // to m_serve
    GuardTable m_guard = GuardTable::forUid(QLatin1String(kGuardTable), kServiceUid);
    const QString m_web = QStringLiteral("web");
    const QString m_peer = QStringLiteral("peer");

    QString create(const QString &name, const QJsonObject &network)
    {
        const auto r =
            m_api.call("POST", QStringLiteral("/api/v1/vms"),
                       json({{QStringLiteral("name"), name}, {QStringLiteral("template"), QStringLiteral("minimal")}, {QStringLiteral("network"), network}}),
                       kCreateTimeoutMs);
        return r.status == 201 ? QString() : QStringLiteral("create %1: %2\n%3").arg(name, r.describe(), m_serve->log());
    }
    static QJsonObject egress(const QString &policy = kPolicy)
    {
        return {{QStringLiteral("mode"), QStringLiteral("egress")}, {QStringLiteral("policy"), policyJson(policy)}};
    }

    QString prepareServiceDir();
    // `microvm-sandbox --serve` as kServiceUid (setpriv, which keeps the
    // parent-death signal across the uid change).
    std::unique_ptr<Serve> makeServe() const
    {
        return std::make_unique<Serve>(m_env,
                                       QStringList{QStringLiteral("setpriv"), QStringLiteral("--reuid=%1").arg(kServiceUid),
                                                   QStringLiteral("--regid=%1").arg(kServiceUid), QStringLiteral("--clear-groups"),
                                                   QStringLiteral("--pdeathsig=TERM"), QStringLiteral("--"), QStringLiteral(MVS_APP_BINARY)},
                                       kServeStartMs, kServeStopMs);
    }

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void policyDenyAllowDomain();
    void policyReplacedAtRuntime();
    void privateNetworkGroup();
    void serviceKilledLeavesNothing();
};

// The service's directories, its own; its image cache holds a copy of the
// minimal template's image (built here as root if this machine has none),
// and its agent binary a copy of this build's.
QString TestVmNetworkRootless::prepareServiceDir()
{
    m_serviceDir = m_home.filePath(QStringLiteral("svc"));
    QString error;
    QProcessEnvironment rootEnv = QProcessEnvironment::systemEnvironment();
    rootEnv.insert(QStringLiteral("MVS_AGENT_BINARY"), QStringLiteral(MVS_AGENT_BINARY));
    hostRun(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("image"), QStringLiteral("build"), QStringLiteral("--template"), QStringLiteral("minimal")}, &error,
            {}, kToolTimeoutMs, rootEnv);
    if (!error.isEmpty())
        return error;
    // "kernel <dir>/vmlinuz\ninitramfs <dir>/initramfs.cpio"
    const QString paths = QString::fromUtf8(hostRun(QStringLiteral(MVS_APP_BINARY),
                                                    {QStringLiteral("image"), QStringLiteral("path"), QStringLiteral("--template"), QStringLiteral("minimal")},
                                                    &error, {}, kToolTimeoutMs, rootEnv));
    const QString image = QFileInfo(paths.section(QLatin1Char('\n'), 0, 0).section(QLatin1Char(' '), 1).trimmed()).path();
    if (!error.isEmpty() || !QFileInfo(image).isDir())
        return QStringLiteral("no image path: %1 %2").arg(image, error);
    const QString images = m_serviceDir + QStringLiteral("/cache/images");
    QDir().mkpath(images);
    hostRun(QStringLiteral("cp"), {QStringLiteral("-a"), image, images + QLatin1Char('/')}, &error, {}, kToolTimeoutMs);
    hostRun(QStringLiteral("cp"), {QStringLiteral(MVS_AGENT_BINARY), m_serviceDir + QStringLiteral("/microvm-agent")}, &error, {}, kToolTimeoutMs);
    for (const char *d : {"data", "config", "run", "home"})
        QDir().mkpath(m_serviceDir + QLatin1Char('/') + QLatin1String(d));
    hostRun(QStringLiteral("chown"), {QStringLiteral("-R"), QStringLiteral("%1:%1").arg(kServiceUid), m_serviceDir}, &error, {}, kToolTimeoutMs);
    QFile::setPermissions(m_home.path(),
                          QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ExeOther | QFileDevice::ReadOther);
    if (!error.isEmpty())
        return error;
    m_env = QProcessEnvironment();
    m_env.insert(QStringLiteral("PATH"), QStringLiteral("/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"));
    m_env.insert(QStringLiteral("HOME"), m_serviceDir + QStringLiteral("/home"));
    m_env.insert(QStringLiteral("MVS_DATA_DIR"), m_serviceDir + QStringLiteral("/data"));
    m_env.insert(QStringLiteral("MVS_CONFIG_DIR"), m_serviceDir + QStringLiteral("/config"));
    m_env.insert(QStringLiteral("MVS_RUNTIME_DIR"), m_serviceDir + QStringLiteral("/run"));
    m_env.insert(QStringLiteral("MVS_CACHE_DIR"), m_serviceDir + QStringLiteral("/cache"));
    m_env.insert(QStringLiteral("MVS_AGENT_BINARY"), m_serviceDir + QStringLiteral("/microvm-agent"));
    m_env.insert(QStringLiteral("MVS_TOKEN"), QLatin1String(kToken));
    m_env.insert(QStringLiteral("MVS_DRIVER"), QStringLiteral("qemu"));
    m_env.insert(QLatin1String(Vm::VmNetworks::kUpstreamsVariable), QLatin1String(TestInternet::kDnsAddress));
    return {};
}

void TestVmNetworkRootless::initTestCase()
{
    initEnvironment();
    if (::geteuid() != 0)
        QSKIP("needs root: to start the service as another uid, and for the test internet");
    QVERIFY(m_home.isValid());
    QVERIFY2(processesOf(kServiceUid).isEmpty(), qPrintable(processesOf(kServiceUid).join(QLatin1Char(' '))));
    TESTINTERNET_UP_OR_SKIP(m_internet);
    const QString guard = m_guard.add();
    QVERIFY2(guard.isEmpty(), qPrintable(guard));
    const QString prepared = prepareServiceDir();
    QVERIFY2(prepared.isEmpty(), qPrintable(prepared));

    m_serve = makeServe();
    QVERIFY2(m_serve->start(), qPrintable(m_serve->log()));
    m_api.setService(m_serve->port(), kToken);
    // Its user-mode network: the helper (under unshare) and pasta (passt's binary).
    const QString processes = processesOf(kServiceUid).join(QLatin1Char(' '));
    QVERIFY2(processes.contains(QLatin1String(" unshare")) && processes.contains(QLatin1String(" passt")), qPrintable(processes + m_serve->log()));
    const QString created = create(m_web, egress());
    QVERIFY2(created.isEmpty(), qPrintable(created));
    const QString peer = create(m_peer, egress());
    QVERIFY2(peer.isEmpty(), qPrintable(peer));
    // Nothing of it on the host: no tap, no table.
    const QString onHost = hostStateOf(serviceStateDir());
    QVERIFY2(onHost.isEmpty(), qPrintable(onHost));
}

void TestVmNetworkRootless::cleanupTestCase()
{
    if (m_serve)
        m_serve->stop();
    m_serve.reset();
    for (const QString &p : processesOf(kServiceUid)) // a failed case's leftovers (asserted on in case 4)
        ::kill(pid_t(p.section(QLatin1Char(' '), 0, 0).toLongLong()), SIGKILL);
    if (m_guard.isAdded()) {
        QCOMPARE(m_guard.drops(), 0);
        m_guard.remove();
    }
    TESTINTERNET_DOWN(m_internet);
}

// Case 1.
void TestVmNetworkRootless::policyDenyAllowDomain()
{
    QString error;
    const GuestNetwork before = m_api.network(m_web, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const GuestNetwork peer = m_api.network(m_peer, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));

    QCOMPARE(m_api.fetch(m_web, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    const Exec resolved = m_api.exec(m_web, QStringLiteral("nslookup allowed.test; nslookup denied.test"));
    QVERIFY2(resolved.out.contains(QLatin1String(TestInternet::kAllowedAddress)), qPrintable(resolved.describe()));
    QVERIFY2(!resolved.out.contains(QLatin1String(TestInternet::kDeniedAddress)), qPrintable(resolved.describe()));
    checkUnreachableByIp(m_api, m_internet, m_web);
    if (QTest::currentTestFailed())
        return;

    // The host's own addresses (a listener on all of them), the other VM,
    // the metadata address and the API's port through the gateway.
    HostListener host;
    QVERIFY(host.listen(QHostAddress::AnyIPv4));
    const QString serving = m_api.serveHttp(m_peer);
    QVERIFY2(serving.isEmpty(), qPrintable(serving));
    QString uplink; // the host's address on its default route's interface (not the test link)
    for (const QNetworkInterface &i : QNetworkInterface::allInterfaces())
        for (const QNetworkAddressEntry &e : i.addressEntries())
            if (e.ip().protocol() == QAbstractSocket::IPv4Protocol && !e.ip().isLoopback() && e.ip().toString() != QLatin1String(TestInternet::kHostAddress)
                && uplink.isEmpty() && !i.name().startsWith(QLatin1String("mvs")))
                uplink = e.ip().toString();
    const QString peerHttp = QStringLiteral("%1:%2").arg(peer.address).arg(kGuestHttpPort);
    const QString metadata = QStringLiteral("169.254.169.254:80");
    const QString apiOnGateway = QStringLiteral("%1:%2").arg(before.gateway).arg(m_serve->port());
    QStringList targets{host.target(QLatin1String(TestInternet::kHostAddress)), peerHttp, metadata, apiOnGateway};
    if (!uplink.isEmpty())
        targets << host.target(uplink);
    const QMap<QString, QString> answered = m_api.probe(m_web, targets);
    QVERIFY2(answered.isEmpty(), qPrintable(QStringList(answered.values()).join(QStringLiteral("; "))));
    QVERIFY2(host.peers.isEmpty(), qPrintable(host.peers.join(QLatin1Char(' '))));
    // Control: the listener answers the host, the peer's httpd itself.
    QCOMPARE(m_api.probe(m_peer, {peerHttp}).value(peerHttp), QStringLiteral("HTTP/1.1 200 OK"));

    const GuestNetwork after = m_api.network(m_web, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    qInfo("web: allowed %lld -> %lld, denied %lld -> %lld; denials: %s", before.allowed, after.allowed, before.denied, after.denied,
          qPrintable(after.denials.join(QStringLiteral(", "))));
    QStringList expected{QStringLiteral("%1 tcp 80").arg(QLatin1String(TestInternet::kDeniedAddress)), QStringLiteral("169.254.169.254 tcp 80"),
                         QStringLiteral("%1 tcp %2").arg(peer.address).arg(kGuestHttpPort),
                         host.target(QLatin1String(TestInternet::kHostAddress)).replace(QLatin1Char(':'), QStringLiteral(" tcp "))};
    if (!uplink.isEmpty())
        expected << host.target(uplink).replace(QLatin1Char(':'), QStringLiteral(" tcp "));
    for (const QString &denial : expected)
        QVERIFY2(after.denials.contains(denial), qPrintable(denial + QStringLiteral(" not in ") + after.denials.join(QStringLiteral(", "))));
    QVERIFY(after.denied > before.denied);
    QVERIFY(after.allowed > before.allowed);
    QVERIFY(m_api.metric(m_web, QStringLiteral("denied")) > 0);
    QVERIFY(m_api.metric(m_web, QStringLiteral("allowed")) > 0);
}

// Case 2.
void TestVmNetworkRootless::policyReplacedAtRuntime()
{
    checkPolicyReplacedAtRuntime(m_api, m_internet, m_web, kPolicy);
    if (QTest::currentTestFailed())
        return;

    // default allow, and a rule naming the whole test link: the host's own
    // address there stays the host's (unreachable), the test hosts do not.
    const QString deniedHost = QLatin1String(TestInternet::kDeniedAddress);
    HostListener host;
    QVERIFY(host.listen(QHostAddress::AnyIPv4));
    const QString wide = QStringLiteral(R"({"default":"allow","allow":[{"cidr":"%1"}]})").arg(QLatin1String(TestInternet::kLinkSubnet));
    const QString put = m_api.putPolicy(m_web, wide);
    QVERIFY2(put.isEmpty(), qPrintable(put));
    QCOMPARE(m_api.fetch(m_web, deniedHost), QStringLiteral("denied.test"));
    const QString onHost = host.target(QLatin1String(TestInternet::kHostAddress));
    const QMap<QString, QString> answered = m_api.probe(m_web, {onHost});
    QVERIFY2(answered.isEmpty() && host.peers.isEmpty(), qPrintable(answered.value(onHost) + host.peers.join(QLatin1Char(' '))));
    const QString back = m_api.putPolicy(m_web, kPolicy);
    QVERIFY2(back.isEmpty(), qPrintable(back));
}

// Case 3.
void TestVmNetworkRootless::privateNetworkGroup()
{
    QJsonObject team = egress();
    team[QStringLiteral("mode")] = QStringLiteral("private");
    team[QStringLiteral("private_network")] = QStringLiteral("team");
    const QString a = create(QStringLiteral("team-a"), team);
    QVERIFY2(a.isEmpty(), qPrintable(a));
    const QString b = create(QStringLiteral("team-b"), team);
    QVERIFY2(b.isEmpty(), qPrintable(b));
    QString error;
    const GuestNetwork na = m_api.network(QStringLiteral("team-a"), &error);
    const GuestNetwork nb = m_api.network(QStringLiteral("team-b"), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY(m_api.serveHttp(QStringLiteral("team-b")).isEmpty());
    QVERIFY(m_api.serveHttp(QStringLiteral("team-a")).isEmpty());
    const QString toB = QStringLiteral("%1:%2").arg(nb.address).arg(kGuestHttpPort);
    const QString toA = QStringLiteral("%1:%2").arg(na.address).arg(kGuestHttpPort);
    QCOMPARE(m_api.probe(QStringLiteral("team-a"), {toB}).value(toB), QStringLiteral("HTTP/1.1 200 OK"));
    const QMap<QString, QString> fromEgress = m_api.probe(m_web, {toA, toB});
    QVERIFY2(fromEgress.isEmpty(), qPrintable(QStringList(fromEgress.values()).join(QStringLiteral("; "))));
    QCOMPARE(m_api.fetch(QStringLiteral("team-a"), QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    for (const QString &vm : {QStringLiteral("team-a"), QStringLiteral("team-b")}) {
        const auto r = m_api.call("DELETE", vmPath(vm), {}, kCreateTimeoutMs);
        QVERIFY2(r.status == 200 || r.status == 204, qPrintable(r.describe()));
    }
}

// Case 4.
void TestVmNetworkRootless::serviceKilledLeavesNothing()
{
    QVERIFY2(networkProcessesOf(kServiceUid).size() > 2, qPrintable(networkProcessesOf(kServiceUid).join(QLatin1Char(' '))));
    m_serve->kill();
    QDeadlineTimer deadline(kGoneTimeoutMs);
    while (!networkProcessesOf(kServiceUid).isEmpty() && !deadline.hasExpired())
        QTest::qWait(100);
    QVERIFY2(networkProcessesOf(kServiceUid).isEmpty(),
             qPrintable(QStringLiteral("left after SIGKILL: ") + networkProcessesOf(kServiceUid).join(QLatin1Char(' '))));
    const QString onHost = hostStateOf(serviceStateDir());
    QVERIFY2(onHost.isEmpty(), qPrintable(onHost));

    // Restarted: a VM started again has a network again (its VMM died with
    // the service: the VMMs' parent-death signal).
    m_serve = makeServe();
    QVERIFY2(m_serve->start(), qPrintable(m_serve->log()));
    m_api.setService(m_serve->port(), kToken);
    const auto started = m_api.call("POST", vmPath(m_web, QStringLiteral("start")), {}, kCreateTimeoutMs);
    QVERIFY2(started.status == 200, qPrintable(started.describe() + m_serve->log()));
    QCOMPARE(m_api.fetch(m_web, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));

    QVERIFY2(m_serve->stop(), qPrintable(m_serve->log()));
    m_serve.reset();
    QDeadlineTimer gone(kGoneTimeoutMs);
    while (!networkProcessesOf(kServiceUid).isEmpty() && !gone.hasExpired())
        QTest::qWait(100);
    QVERIFY2(networkProcessesOf(kServiceUid).isEmpty(),
             qPrintable(QStringLiteral("left after SIGTERM: ") + networkProcessesOf(kServiceUid).join(QLatin1Char(' '))));
    const QString leftOnHost = hostStateOf(serviceStateDir());
    QVERIFY2(leftOnHost.isEmpty(), qPrintable(leftOnHost));
}

QTEST_GUILESS_MAIN(TestVmNetworkRootless)
#include "tst_vmnetworkrootless.moc"
