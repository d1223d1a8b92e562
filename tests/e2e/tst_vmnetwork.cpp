// VM networking end to end (issue 15, "What it must show"): real QEMU guests
// (minimal template) with NICs from the service's host network (TAPs,
// nftables, a dnsmasq per VM), driven through the REST service in this
// process, against the test internet (tests/net/testinternet.h: allowed.test,
// denied.test and a DNS server in a network namespace). Needs root.
//
//  1. policy deny + allow [allowed.test]: the guest fetches allowed.test by
//     name; denied.test does not resolve; denied.test's address is
//     unreachable by IP; the host (a listener on the VM's gateway, on another
//     VM's gateway, on the test internet's host address, on 127.0.0.1 reached
//     through the gateway, and the API's own port), 169.254.169.254 and
//     another VM are unreachable; replacing the policy lets the next
//     connection through and reverting it blocks the next one; denials show
//     in GET .../network and /metrics.
//  2. a snapshot taken with the NIC, forked 3 times: distinct addresses and
//     MACs, each fetches allowed.test, none reaches another; a fork of a
//     fork likewise.
//  3. ten restores of one VM in a row, each followed by a fetch.
//  4. 20 create/start/delete cycles leave no tap, nft object, resolver or
//     address that the running VMs do not own; stopping the service leaves
//     none at all.
//  5. the real `microvm-sandbox --serve` killed with SIGKILL while 3 VMs
//     run, then started again: nothing is left that the running VMs (none)
//     own, and a new VM's network works.
//
// The cases build on each other (the VMs web and peer, the snapshot) and run
// in order. A guard table (kGuardTable, its own ctest cleanup step) drops
// whatever a VM would send off this machine should the product's filter
// fail: it sees only what the product's filter let through, so every
// "unreachable" below is also checked against the product's own denial list.

#include "e2efixture.h"
#include "e2eservice.h"
#include "net/testinternet.h"
#include "tests/apicall.h"

#include "core/net/cidr.h"
#include "core/net/hostnetwork.h"
#include "core/net/subnetplan.h"
#include "core/vm/vmnetworks.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSet>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <csignal>
#include <functional>
#include <memory>

#include <sys/prctl.h>
#include <unistd.h>

using namespace E2e;

namespace {

constexpr char kInstance[] = "e2evmnet";
// Drops what a VM's tap sends off this machine (anywhere but the test
// internet and other taps): a product bug must not put a packet on the
// machine's network. Priority after the product's filter. Removed by
// cleanupTestCase and by the ctest cleanup step after a crash.
constexpr char kGuardTable[] = "vmnetguard";
constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image
constexpr int kOpTimeoutMs = 240000; // a snapshot, restore, fork or delete under TCG on a busy host
constexpr int kExecGraceMs = 30000; // past a guest command's own timeout
constexpr int kFetchTimeoutS = 20; // a fetch that must succeed
constexpr int kProbeTimeoutS = 5; // an attempt that must not be answered (nc's connect timeout)
constexpr quint16 kGuestHttpPort = 8080; // busybox httpd in the guests
constexpr int kForkCount = 3;
constexpr int kRestoreCycles = 10;
constexpr int kCleanupCycles = 20;
constexpr int kCyclesAtOnce = 2;
constexpr int kKilledServiceVms = 3;
constexpr int kServeStartMs = 30000;
constexpr int kServeStopMs = 60000;
constexpr int kHostToolTimeoutMs = 15000;
constexpr char kListenerGreeting[] = "host-listener";

const QString kPolicy = QStringLiteral(R"({"default":"deny","allow":[{"domain":"allowed.test"}]})");

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject policyJson(const QString &text)
{
    return QJsonDocument::fromJson(text.toUtf8()).object();
}

QString bare(const QString &address)
{
    return address.section(QLatin1Char('/'), 0, 0);
}

// A host tool's stdout; *error says why not when it fails.
QByteArray hostRun(const QString &program, const QStringList &args, QString *error = nullptr, const QByteArray &input = {})
{
    QProcess p;
    p.start(program, args);
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(kHostToolTimeoutMs) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        if (error)
            *error = QStringLiteral("%1 %2: exit %3: %4")
                         .arg(program, args.join(QLatin1Char(' ')))
                         .arg(p.exitCode())
                         .arg(QString::fromLocal8Bit(p.readAllStandardError()));
        p.kill();
        p.waitForFinished();
        return {};
    }
    return p.readAllStandardOutput();
}

// What this instance has on the host, seen with the host's own tools (ip,
// nft, /proc), not the product's.
struct HostObjects {
    QMap<QString, QStringList> taps; // our taps and their IPv4 addresses
    QSet<int> tapSlots;
    QStringList subnetAddresses; // host IPv4 addresses in the VM subnet, on any interface
    bool table = false;
    QSet<int> nftSlots; // slots named by the table's objects, rules and elements
    QMap<qint64, int> resolvers; // dnsmasq pid -> slot
    QString error;

    QSet<int> resolverSlots() const { return QSet<int>(resolvers.cbegin(), resolvers.cend()); }
    QString describe() const
    {
        QStringList tapList;
        for (auto it = taps.cbegin(); it != taps.cend(); ++it)
            tapList << QStringLiteral("%1 [%2]").arg(it.key(), it.value().join(QLatin1Char(' ')));
        const auto sorted = [](const QSet<int> &s) {
            QList<int> l(s.cbegin(), s.cend());
            std::sort(l.begin(), l.end());
            QStringList out;
            for (int i : l)
                out << QString::number(i);
            return out.join(QLatin1Char(','));
        };
        QStringList resolverList;
        for (auto it = resolvers.cbegin(); it != resolvers.cend(); ++it)
            resolverList << QStringLiteral("%1(v%2)").arg(it.key()).arg(it.value());
        return QStringLiteral("taps: {%1}; subnet addresses: {%2}; table: %3, slots {%4}; resolvers: {%5}%6")
            .arg(tapList.join(QStringLiteral(", ")), subnetAddresses.join(QLatin1Char(' ')), table ? QStringLiteral("yes") : QStringLiteral("no"),
                 sorted(nftSlots), resolverList.join(QLatin1Char(' ')), error.isEmpty() ? QString() : QStringLiteral("; error: ") + error);
    }
};

// Every string in a JSON value, recursively.
void collectStrings(const QJsonValue &v, QStringList &out)
{
    if (v.isString())
        out << v.toString();
    else if (v.isArray())
        for (const QJsonValue &e : v.toArray())
            collectStrings(e, out);
    else if (v.isObject())
        for (const QJsonValue &e : v.toObject())
            collectStrings(e, out);
}

void observeLinks(HostObjects &o, const QString &tapPrefix, const Net::Cidr &subnet)
{
    const QRegularExpression tapName(QRegularExpression::anchoredPattern(QRegularExpression::escape(tapPrefix) + QStringLiteral("v([0-9]+)")));
    for (const QByteArray &line : hostRun(QStringLiteral("ip"), {QStringLiteral("-o"), QStringLiteral("link")}, &o.error).split('\n')) {
        const QString name = QString::fromUtf8(line).section(QLatin1Char(':'), 1, 1).trimmed().section(QLatin1Char('@'), 0, 0);
        if (auto m = tapName.match(name); m.hasMatch()) {
            o.taps[name];
            o.tapSlots << m.captured(1).toInt();
        }
    }
    for (const QByteArray &line : hostRun(QStringLiteral("ip"), {QStringLiteral("-o"), QStringLiteral("-4"), QStringLiteral("addr")}, &o.error).split('\n')) {
        const QStringList f = QString::fromUtf8(line).split(QLatin1Char(' '), Qt::SkipEmptyParts);
        if (f.size() < 4 || f.at(2) != QLatin1String("inet"))
            continue;
        const QString address = bare(f.at(3));
        if (o.taps.contains(f.at(1)))
            o.taps[f.at(1)] << address;
        if (subnet.contains(QHostAddress(address)))
            o.subnetAddresses << address;
    }
    o.subnetAddresses.sort();
}

void observeTable(HostObjects &o, const QString &tapPrefix, const QString &table)
{
    QString missing;
    const QByteArray text =
        hostRun(QStringLiteral("nft"), {QStringLiteral("-j"), QStringLiteral("list"), QStringLiteral("table"), QStringLiteral("inet"), table}, &missing);
    o.table = !text.isEmpty();
    if (!o.table && !missing.contains(QLatin1String("No such file")))
        o.error += missing;
    QStringList strings;
    collectStrings(QJsonDocument::fromJson(text).object().value(QStringLiteral("nftables")), strings);
    static const QRegularExpression object(QStringLiteral("^v([0-9]+)_"));
    const QRegularExpression tap(QRegularExpression::anchoredPattern(QRegularExpression::escape(tapPrefix) + QStringLiteral("v([0-9]+)")));
    for (const QString &s : std::as_const(strings)) {
        if (auto m = object.match(s); m.hasMatch())
            o.nftSlots << m.captured(1).toInt();
        else if (auto t = tap.match(s); t.hasMatch())
            o.nftSlots << t.captured(1).toInt();
    }
}

// The parent pid of a process, or 0.
qint64 parentOf(const QString &pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return 0;
    const QByteArray s = stat.readAll();
    return s.mid(s.lastIndexOf(')') + 2).split(' ').value(1).toLongLong(); // "pid (comm) state ppid ..."
}

// Whether a process runs (exists and is no zombie: a resolver the service
// ended is init's to reap, which may take a moment).
bool isRunning(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray s = stat.readAll();
    const QByteArray state = s.mid(s.lastIndexOf(')') + 2, 1);
    return !state.isEmpty() && state != "Z" && state != "X";
}

// The instance's dnsmasq processes (by their configuration's name on their
// command line); not the children dnsmasq forks per TCP connection.
void observeResolvers(HostObjects &o, const QString &instance)
{
    const QRegularExpression conf(QStringLiteral("mvs_%1_v([0-9]+)\\.conf").arg(instance));
    QMap<qint64, qint64> parents;
    for (const QString &p : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool isPid = false;
        const qint64 pid = p.toLongLong(&isPid);
        if (!isPid)
            continue;
        QFile comm(QStringLiteral("/proc/%1/comm").arg(p));
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(p));
        if (!comm.open(QIODevice::ReadOnly) || comm.readAll().trimmed() != "dnsmasq" || !cmdline.open(QIODevice::ReadOnly))
            continue;
        if (auto m = conf.match(QString::fromUtf8(cmdline.readAll().replace('\0', ' '))); m.hasMatch()) {
            o.resolvers.insert(pid, m.captured(1).toInt());
            parents.insert(pid, parentOf(p));
        }
    }
    for (auto it = parents.cbegin(); it != parents.cend(); ++it)
        if (o.resolvers.value(it.value(), -1) == o.resolvers.value(it.key()))
            o.resolvers.remove(it.key());
}

HostObjects observe(const QString &instance, const Net::Cidr &subnet)
{
    HostObjects o;
    const QString tapPrefix = Net::HostNetwork::tapPrefix(instance);
    observeLinks(o, tapPrefix, subnet);
    observeTable(o, tapPrefix, QStringLiteral("mvs_") + instance);
    observeResolvers(o, instance);
    return o;
}

// Empty when the host holds exactly what VMs with these gateways own (one
// tap each with its gateway address, their slots' nft objects and
// resolvers, nothing else of the instance; the table while tableExpected),
// else what is wrong.
QString ownedOnlyBy(const HostObjects &o, QStringList gateways, bool tableExpected)
{
    gateways.sort();
    QStringList problems;
    if (!o.error.isEmpty())
        problems << o.error;
    QStringList tapAddresses;
    for (const QStringList &a : o.taps)
        tapAddresses << a;
    tapAddresses.sort();
    if (o.taps.size() != gateways.size() || tapAddresses != gateways)
        problems << QStringLiteral("the taps' addresses are not the running VMs' gateways {%1}").arg(gateways.join(QLatin1Char(' ')));
    if (o.subnetAddresses != gateways)
        problems << QStringLiteral("the host's addresses in the VM subnet are not the running VMs' gateways");
    if (o.table != tableExpected)
        problems << (tableExpected ? QStringLiteral("the table is gone") : QStringLiteral("the table is left"));
    if (o.nftSlots != o.tapSlots)
        problems << QStringLiteral("the table's per-VM objects are not the running VMs'");
    if (o.resolverSlots() != o.tapSlots || o.resolvers.size() != o.tapSlots.size())
        problems << QStringLiteral("the resolvers are not the running VMs'");
    return problems.isEmpty() ? QString() : problems.join(QStringLiteral("; ")) + QStringLiteral(" (") + o.describe() + QLatin1Char(')');
}

// A TCP listener on one host address: greets each connection with a line
// and closes it, and remembers who connected.
class HostListener {
public:
    bool listen(const QHostAddress &address)
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, [this]() {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                peers << s->peerAddress().toString();
                s->write(QByteArray(kListenerGreeting) + '\n');
                s->disconnectFromHost();
                QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
        return m_server.listen(address, 0);
    }
    QString target() const { return QStringLiteral("%1:%2").arg(m_server.serverAddress().toString()).arg(m_server.serverPort()); }
    quint16 port() const { return m_server.serverPort(); }
    QStringList peers;

private:
    QTcpServer m_server;
};

// What probe() got, for messages: "target: first line", one per target.
QString describeAnswers(const QMap<QString, QString> &answered)
{
    QStringList out;
    for (auto it = answered.cbegin(); it != answered.cend(); ++it)
        out << it.key() + QStringLiteral(": ") + it.value();
    return QStringLiteral("answered: ") + out.join(QStringLiteral("; "));
}

// A VM's network as GET .../network answers it.
struct GuestNetwork {
    QString address; // bare
    QString gateway;
    QString mac;
    qint64 allowed = -1;
    qint64 denied = -1;
    QStringList denials; // "address protocol port"
};

// The inet tables named like an instance's ("mvs_<id>").
QSet<QString> ourTables()
{
    QSet<QString> out;
    const QJsonArray all = QJsonDocument::fromJson(hostRun(QStringLiteral("nft"), {QStringLiteral("-j"), QStringLiteral("list"), QStringLiteral("tables")}))
                               .object()
                               .value(QStringLiteral("nftables"))
                               .toArray();
    for (const QJsonValue &v : all) {
        const QJsonObject t = v[QStringLiteral("table")].toObject();
        if (t[QStringLiteral("family")].toString() == QLatin1String("inet") && t[QStringLiteral("name")].toString().startsWith(QLatin1String("mvs_")))
            out << t[QStringLiteral("name")].toString();
    }
    return out;
}

// `microvm-sandbox --serve` as a subprocess on a free port of 127.0.0.1;
// SIGTERM (then SIGKILL) when it is destroyed still running.
class Serve {
public:
    explicit Serve(const QProcessEnvironment &env)
    {
        m_process.setProcessEnvironment(env);
        m_process.setProcessChannelMode(QProcess::MergedChannels);
        // A test that dies takes the service down with it (which stops its VMs and network).
        m_process.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
    }
    ~Serve()
    {
        if (m_process.state() != QProcess::NotRunning)
            stop();
    }
    // True once it answers /api/v1/health.
    bool start()
    {
        QTcpServer probe;
        probe.listen(QHostAddress::LocalHost, 0);
        m_port = probe.serverPort();
        probe.close();
        m_process.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(m_port)});
        if (!m_process.waitForStarted(kServeStartMs))
            return false;
        QNetworkAccessManager nam;
        QDeadlineTimer deadline(kServeStartMs);
        while (!deadline.hasExpired() && m_process.state() == QProcess::Running) {
            if (TestApi::call(nam, m_port, {}, "GET", QStringLiteral("/api/v1/health"), {}, 2000).status == 200)
                return true;
            QTest::qWait(200);
        }
        return false;
    }
    void kill()
    {
        m_process.kill();
        m_process.waitForFinished(kServeStopMs);
        m_log += m_process.readAll();
    }
    // SIGTERM: true when it exits 0.
    bool stop()
    {
        ::kill(pid_t(m_process.processId()), SIGTERM);
        if (!m_process.waitForFinished(kServeStopMs))
            kill();
        m_log += m_process.readAll();
        return m_process.exitStatus() == QProcess::NormalExit && m_process.exitCode() == 0;
    }
    quint16 port() const { return m_port; }
    QString log()
    {
        m_log += m_process.readAll();
        return QString::fromLocal8Bit(m_log.right(4000));
    }

private:
    QProcess m_process;
    quint16 m_port = 0;
    QByteArray m_log;
};

} // namespace

class TestVmNetwork : public QObject {
    Q_OBJECT

    TestInternet::Session m_internet;
    QTemporaryDir m_home; // tst_vmnetwork-XXXXXX: the reaper's prefix
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    Net::Cidr m_subnet;
    QNetworkAccessManager m_nam;
    quint16 m_port = 0; // the service the API calls go to: m_service's, or case 5's subprocess
    QByteArray m_token;
    bool m_guard = false;
    const QString m_web = QStringLiteral("web");
    const QString m_peer = QStringLiteral("peer");
    const QString m_snapshot = QStringLiteral("withnic");
    QString m_webAddress; // kept across restores

    // --- the API

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000)
    {
        return TestApi::call(m_nam, m_port, m_token, method, path, body, timeoutMs);
    }
    static QString vmPath(const QString &vm, const QString &rest = {})
    {
        return rest.isEmpty() ? QStringLiteral("/api/v1/vms/") + vm : QStringLiteral("/api/v1/vms/%1/%2").arg(vm, rest);
    }
    static QByteArray createBody(const QString &name, const QString &policy = kPolicy)
    {
        return json(
            {{QStringLiteral("name"), name},
             {QStringLiteral("template"), QStringLiteral("minimal")},
             {QStringLiteral("network"), QJsonObject{{QStringLiteral("mode"), QStringLiteral("egress")}, {QStringLiteral("policy"), policyJson(policy)}}}});
    }
    // A VM of mode private in group.
    static QByteArray createPrivateBody(const QString &name, const QString &group)
    {
        return json({{QStringLiteral("name"), name},
                     {QStringLiteral("template"), QStringLiteral("minimal")},
                     {QStringLiteral("network"),
                      QJsonObject{{QStringLiteral("mode"), QStringLiteral("private")},
                                  {QStringLiteral("private_network"), group},
                                  {QStringLiteral("policy"), policyJson(kPolicy)}}}});
    }

    // Several requests at once; their answers in order.
    QList<TestApi::Reply> callAll(const QList<std::pair<QByteArray, QString>> &requests, const QList<QByteArray> &bodies, int timeoutMs)
    {
        QList<QNetworkReply *> replies;
        for (qsizetype i = 0; i < requests.size(); ++i) {
            QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_port).arg(requests.at(i).second)));
            req.setRawHeader("Authorization", QByteArrayLiteral("Bearer ") + m_token);
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
            req.setTransferTimeout(timeoutMs);
            replies << m_nam.sendCustomRequest(req, requests.at(i).first, bodies.value(i));
        }
        QDeadlineTimer deadline(timeoutMs);
        const auto done = [&replies] { return std::all_of(replies.cbegin(), replies.cend(), [](QNetworkReply *r) { return r->isFinished(); }); };
        while (!done() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        QList<TestApi::Reply> out;
        for (QNetworkReply *reply : replies) {
            if (!reply->isFinished())
                reply->abort();
            TestApi::Reply r;
            r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            r.body = reply->readAll();
            r.json = QJsonDocument::fromJson(r.body).object();
            reply->deleteLater();
            out << r;
        }
        return out;
    }

    // Empty when the VM was created and runs, else why not.
    QString create(const QString &name, const QString &policy = kPolicy)
    {
        const auto r = call("POST", QStringLiteral("/api/v1/vms"), createBody(name, policy), kCreateTimeoutMs);
        return r.status == 201 ? QString() : QStringLiteral("create %1: %2").arg(name, r.describe());
    }

    QString remove(const QString &name)
    {
        const auto r = call("DELETE", vmPath(name), {}, kOpTimeoutMs);
        return r.status == 200 || r.status == 204 ? QString() : QStringLiteral("delete %1: %2").arg(name, r.describe());
    }

    QStringList vmNames()
    {
        QStringList names;
        for (const QJsonValue &v : call("GET", QStringLiteral("/api/v1/vms")).json[QStringLiteral("vms")].toArray())
            names << v[QStringLiteral("name")].toString();
        return names;
    }

    // GET .../network; *error says why it could not be read.
    GuestNetwork network(const QString &vm, QString *error = nullptr)
    {
        const auto r = call("GET", vmPath(vm, QStringLiteral("network")));
        GuestNetwork n;
        if (r.status != 200) {
            if (error)
                *error = QStringLiteral("GET %1/network: %2").arg(vm, r.describe());
            return n;
        }
        n.address = bare(r.json[QStringLiteral("address")].toString());
        n.gateway = bare(r.json[QStringLiteral("gateway")].toString());
        n.mac = r.json[QStringLiteral("mac")].toString().toLower();
        const QJsonObject counters = r.json[QStringLiteral("counters")].toObject();
        n.allowed = counters.value(QStringLiteral("allowed")).toInteger(-1);
        n.denied = counters.value(QStringLiteral("denied")).toInteger(-1);
        for (const QJsonValue &d : r.json[QStringLiteral("denials")].toArray())
            n.denials << QStringLiteral("%1 %2 %3")
                             .arg(d[QStringLiteral("address")].toString(), d[QStringLiteral("protocol")].toString())
                             .arg(d[QStringLiteral("port")].toInt());
        if (error && (n.address.isEmpty() || n.gateway.isEmpty() || n.mac.isEmpty() || n.allowed < 0 || n.denied < 0))
            *error = QStringLiteral("GET %1/network is incomplete: %2").arg(vm, r.describe());
        return n;
    }

    // mvs_vm_network_connections_total{vm=..., verdict=...} from /metrics, or -1.
    qint64 metric(const QString &vm, const QString &verdict)
    {
        const auto r = call("GET", QStringLiteral("/metrics"));
        static const QRegularExpression line(QStringLiteral("^mvs_vm_network_connections_total\\{([^}]*)\\} ([0-9]+)$"), QRegularExpression::MultilineOption);
        for (auto it = line.globalMatch(QString::fromUtf8(r.body)); it.hasNext();) {
            const auto m = it.next();
            const QStringList labels = m.captured(1).split(QLatin1Char(','));
            if (labels.contains(QStringLiteral("vm=\"%1\"").arg(vm)) && labels.contains(QStringLiteral("verdict=\"%1\"").arg(verdict)))
                return m.captured(2).toLongLong();
        }
        return -1;
    }

    // Empty when the policy was replaced, else why not.
    QString putPolicy(const QString &vm, const QString &policy)
    {
        const auto r = call("PUT", vmPath(vm, QStringLiteral("network/policy")), policy.toUtf8());
        if (r.status != 200)
            return QStringLiteral("PUT %1 policy: %2").arg(vm, r.describe());
        const auto back = call("GET", vmPath(vm, QStringLiteral("network/policy")));
        const Core::Expected<Net::NetworkPolicy> want = Net::NetworkPolicy::fromJson(policyJson(policy));
        if (back.status != 200 || !want || back.json != want->toJson())
            return QStringLiteral("GET %1 policy after PUT: %2").arg(vm, back.describe());
        return {};
    }

    // --- the guest

    struct Exec {
        int exitCode = -1;
        QString out;
        QString err;
        QString describe() const { return QStringLiteral("exit %1, stdout \"%2\", stderr \"%3\"").arg(exitCode).arg(out.left(600), err.left(600)); }
    };
    Exec exec(const QString &vm, const QString &command, int timeoutS = 60)
    {
        const auto r = call("POST", vmPath(vm, QStringLiteral("exec")), json({{QStringLiteral("cmd"), command}, {QStringLiteral("timeout_s"), timeoutS}}),
                            timeoutS * 1000 + kExecGraceMs);
        Exec e;
        if (r.status != 200) {
            e.err = r.describe();
            return e;
        }
        e.exitCode = r.json[QStringLiteral("exit_code")].toInt(-1);
        e.out = r.json[QStringLiteral("stdout")].toString();
        e.err = r.json[QStringLiteral("stderr")].toString();
        return e;
    }

    // What the guest got for GET http://<target>/ (trimmed), or why nothing.
    QString fetch(const QString &vm, const QString &target, int timeoutS = kFetchTimeoutS)
    {
        const Exec e = exec(vm, TestInternet::fetchCommand(target, timeoutS), timeoutS + 10);
        return e.exitCode == 0 ? e.out.trimmed() : QStringLiteral("<%1>").arg(e.describe());
    }

    // Tries every "address:port" at once from the guest (an HTTP request,
    // kProbeTimeoutS to connect); the first line each one answered, by
    // target. A target that answered nothing is absent.
    QMap<QString, QString> probe(const QString &vm, const QStringList &targets)
    {
        const QString command = QStringLiteral("for t in %1; do ( printf 'GET / HTTP/1.0\\r\\n\\r\\n' | timeout %2 nc -w %3 ${t%:*} ${t##*:} 2>/dev/null "
                                               "| head -n 1 | sed \"s|^|$t |\" ) & done; wait")
                                    .arg(targets.join(QLatin1Char(' ')))
                                    .arg(kProbeTimeoutS + 3)
                                    .arg(kProbeTimeoutS);
        const Exec e = exec(vm, command, kProbeTimeoutS + 20);
        QMap<QString, QString> answered;
        for (const QString &line : e.out.split(QLatin1Char('\n'), Qt::SkipEmptyParts))
            answered.insert(line.section(QLatin1Char(' '), 0, 0), line.section(QLatin1Char(' '), 1).trimmed());
        if (e.exitCode != 0)
            answered.insert(QStringLiteral("error"), e.describe());
        return answered;
    }

    // busybox httpd on kGuestHttpPort serving the VM's own name (`hostname`
    // is refreshed by the caller where a fork renamed it). Empty when it runs.
    QString serveHttp(const QString &vm)
    {
        const Exec e = exec(vm,
                            QStringLiteral("mkdir -p /tmp/www && hostname > /tmp/www/index.html && "
                                           "(pidof httpd >/dev/null || httpd -p %1 -h /tmp/www) && echo serving")
                                .arg(kGuestHttpPort));
        return e.out.trimmed() == QLatin1String("serving") ? QString() : QStringLiteral("httpd in %1: %2").arg(vm, e.describe());
    }

    // --- the host

    // Empty when the guard table is in place, else why not.
    QString addGuard()
    {
        const QString script = QStringLiteral("table inet %1 {\n"
                                              "  chain forward {\n"
                                              "    type filter hook forward priority 10; policy accept;\n"
                                              "    iifname \"mvs*\" oifname != \"mvs*\" meta nfproto ipv6 counter drop\n"
                                              "    iifname \"mvs*\" oifname != \"mvs*\" ip daddr != { %2, %3 } counter drop\n"
                                              "  }\n"
                                              "}\n")
                                   .arg(QLatin1String(kGuardTable), QLatin1String(TestInternet::kLinkSubnet), QLatin1String(TestInternet::kRoutedSubnet));
        removeGuard();
        QString error;
        hostRun(QStringLiteral("nft"), {QStringLiteral("-f"), QStringLiteral("-")}, &error, script.toUtf8());
        m_guard = error.isEmpty();
        return error;
    }
    // Packets the guard table dropped: what the product's filter let
    // through towards somewhere off this machine (-1: unreadable).
    static qint64 guardDrops()
    {
        const QByteArray text = hostRun(
            QStringLiteral("nft"), {QStringLiteral("-j"), QStringLiteral("list"), QStringLiteral("table"), QStringLiteral("inet"), QLatin1String(kGuardTable)});
        if (text.isEmpty())
            return -1;
        qint64 packets = 0;
        std::function<void(const QJsonValue &)> walk = [&](const QJsonValue &v) {
            if (v.isArray())
                for (const QJsonValue &e : v.toArray())
                    walk(e);
            if (!v.isObject())
                return;
            const QJsonObject o = v.toObject();
            if (o.value(QStringLiteral("counter")).isObject())
                packets += o.value(QStringLiteral("counter")).toObject().value(QStringLiteral("packets")).toInteger();
            for (const QJsonValue &e : o)
                walk(e);
        };
        walk(QJsonDocument::fromJson(text).object());
        return packets;
    }
    static void removeGuard()
    {
        hostRun(QStringLiteral("nft"), {QStringLiteral("delete"), QStringLiteral("table"), QStringLiteral("inet"), QLatin1String(kGuardTable)});
    }

    // The running VMs' gateways (GET .../network of each VM that runs).
    QStringList runningGateways(QString *error)
    {
        QStringList gateways;
        for (const QJsonValue &v : call("GET", QStringLiteral("/api/v1/vms")).json[QStringLiteral("vms")].toArray()) {
            if (v[QStringLiteral("state")].toString() != QLatin1String("running"))
                continue;
            const GuestNetwork n = network(v[QStringLiteral("name")].toString(), error);
            gateways << n.gateway;
        }
        return gateways;
    }

    QString leftoverProblem()
    {
        QString error;
        const QStringList gateways = runningGateways(&error);
        if (!error.isEmpty())
            return error;
        return ownedOnlyBy(observe(QLatin1String(kInstance), m_subnet), gateways, true);
    }

    void unreachableCases();
    void policyReplacedAtRuntime();
    void killedServiceCase(const QString &dir);

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void policyDenyAllowDomain();
    void privateNetworkGroup();
    void forkOfThree();
    void tenRestores();
    void cleanupAfterCycles();
    void serviceStopLeavesNothing();
    void serviceKilledAndRestarted();
};

void TestVmNetwork::initTestCase()
{
    initEnvironment();
    QVERIFY(m_home.isValid());
    TESTINTERNET_UP_OR_SKIP(m_internet);
    const QString guard = addGuard();
    QVERIFY2(guard.isEmpty(), qPrintable(guard));
    qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
    qputenv("MVS_RUNTIME_DIR", m_home.filePath(QStringLiteral("run")).toUtf8());
    auto d = driverFor(Vmm::DriverKind::Qemu);
    QVERIFY2(d.driver, qPrintable(d.skipReason));
    m_driver = d.driver;

    Net::HostNetworkOptions options;
    options.instanceId = QLatin1String(kInstance);
    options.runtimeDir = m_home.filePath(QStringLiteral("net"));
    options.upstreams = {QLatin1String(TestInternet::kDnsAddress)};
    auto networks = Vm::VmNetworks::start(options);
    QVERIFY(networks);
    Vm::VmRecord withNic;
    withNic.network.spec.mode = QStringLiteral("egress");
    const Core::Result available = networks->available(withNic);
    QVERIFY2(networks->hasHostNetwork() && available, qPrintable(available ? QStringLiteral("no host network") : available.error().toString()));
    m_subnet = networks->hostNetwork()->plan().subnet();
    qInfo("VM subnet %s, taps %s*", qPrintable(m_subnet.toString()), qPrintable(Net::HostNetwork::tapPrefix(QLatin1String(kInstance))));
    const QString problem = m_service.start(*m_driver, Service::Displays::None, std::move(networks));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    m_port = m_service.port();
    m_token = m_service.token();

    // Two VMs with the policy, booted at once.
    const auto created =
        callAll({{"POST", QStringLiteral("/api/v1/vms")}, {"POST", QStringLiteral("/api/v1/vms")}}, {createBody(m_web), createBody(m_peer)}, kCreateTimeoutMs);
    for (const TestApi::Reply &r : created)
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
    QString error;
    m_webAddress = network(m_web, &error).address;
    QVERIFY2(error.isEmpty(), qPrintable(error));
}

void TestVmNetwork::cleanupTestCase()
{
    m_service.stop();
    if (m_guard)
        removeGuard();
    TESTINTERNET_DOWN(m_internet);
}

// Case 1, by name and by address: allowed.test by name works, denied.test
// neither resolves nor is reachable by IP.
void TestVmNetwork::policyDenyAllowDomain()
{
    QString error;
    const GuestNetwork before = network(m_web, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const qint64 deniedMetricBefore = metric(m_web, QStringLiteral("denied"));
    QVERIFY2(deniedMetricBefore >= 0, "no mvs_vm_network_connections_total{vm=\"web\",verdict=\"denied\"} in /metrics");

    // The guest's side: its address, MAC and resolver as the API says.
    const Exec self = exec(m_web, QStringLiteral("ip -o -4 addr; ip -o link; cat /etc/resolv.conf"));
    QVERIFY2(self.exitCode == 0, qPrintable(self.describe()));
    QVERIFY2(self.out.contains(QStringLiteral("inet %1/").arg(before.address)), qPrintable(self.out));
    QVERIFY2(self.out.toLower().contains(before.mac), qPrintable(self.out));
    QVERIFY2(self.out.contains(QStringLiteral("nameserver %1").arg(before.gateway)), qPrintable(self.out));

    QCOMPARE(fetch(m_web, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    QVERIFY(m_internet.httpLog().contains("allowed.test 198.51.100.1 "));

    const Exec resolved = exec(m_web, QStringLiteral("nslookup allowed.test; nslookup denied.test; nslookup alias.test"));
    QVERIFY2(resolved.out.contains(QLatin1String(TestInternet::kAllowedAddress)), qPrintable(resolved.describe()));
    QVERIFY2(!resolved.out.contains(QLatin1String(TestInternet::kDeniedAddress)), qPrintable(resolved.describe()));
    const QString byName = fetch(m_web, QLatin1String(TestInternet::kDeniedName), kProbeTimeoutS);
    QVERIFY2(byName.startsWith(QLatin1Char('<')) && !byName.contains(QLatin1String("denied.test\n")), qPrintable(byName));

    const qsizetype deniedRequests = m_internet.httpLog().count("denied.test ");
    const QString byIp = fetch(m_web, QLatin1String(TestInternet::kDeniedAddress), kProbeTimeoutS);
    QVERIFY2(byIp.startsWith(QLatin1Char('<')), qPrintable(byIp));
    QCOMPARE(m_internet.httpLog().count("denied.test "), deniedRequests);

    unreachableCases();
    if (QTest::currentTestFailed())
        return;
    policyReplacedAtRuntime();
    if (QTest::currentTestFailed())
        return;

    // The denials, in the VM's list and in /metrics.
    const GuestNetwork after = network(m_web, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    qInfo("web: allowed %lld -> %lld, denied %lld -> %lld; denials: %s", before.allowed, after.allowed, before.denied, after.denied,
          qPrintable(after.denials.join(QStringLiteral(", "))));
    QVERIFY2(after.denied > before.denied, qPrintable(QStringLiteral("%1 -> %2").arg(before.denied).arg(after.denied)));
    QVERIFY2(after.allowed > before.allowed, qPrintable(QStringLiteral("%1 -> %2").arg(before.allowed).arg(after.allowed)));
    for (const QString &denial : {QStringLiteral("198.51.100.20 tcp 80"), QStringLiteral("169.254.169.254 tcp 80")})
        QVERIFY2(after.denials.contains(denial), qPrintable(denial + QStringLiteral(" not in ") + after.denials.join(QStringLiteral(", "))));
    const qint64 deniedMetricAfter = metric(m_web, QStringLiteral("denied"));
    QVERIFY2(deniedMetricAfter > deniedMetricBefore, qPrintable(QStringLiteral("%1 -> %2").arg(deniedMetricBefore).arg(deniedMetricAfter)));
    QVERIFY(metric(m_web, QStringLiteral("allowed")) > 0);
    QCOMPARE(guardDrops(), 0);
}

// Case 1: the host (its listeners on the VM's gateway, another VM's gateway
// and the test internet's host address; 127.0.0.1 routed through the
// gateway; the API port), 169.254.169.254 and another VM are unreachable.
void TestVmNetwork::unreachableCases()
{
    QString error;
    const GuestNetwork web = network(m_web, &error);
    const GuestNetwork peer = network(m_peer, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    HostListener onGateway, onPeerGateway, onTestLink, onLoopback;
    QVERIFY(onGateway.listen(QHostAddress(web.gateway)));
    QVERIFY(onPeerGateway.listen(QHostAddress(peer.gateway)));
    QVERIFY(onTestLink.listen(QHostAddress(QLatin1String(TestInternet::kHostAddress))));
    QVERIFY(onLoopback.listen(QHostAddress::LocalHost));
    const QString serving = serveHttp(m_peer);
    QVERIFY2(serving.isEmpty(), qPrintable(serving));
    const QString peerHttp = QStringLiteral("%1:%2").arg(peer.address).arg(kGuestHttpPort);
    // Controls: the peer's server answers there (from itself), and the
    // listeners answer the host.
    QCOMPARE(probe(m_peer, {peerHttp}).value(peerHttp), QStringLiteral("HTTP/1.1 200 OK")); // busybox httpd
    for (HostListener *l : {&onGateway, &onPeerGateway, &onTestLink, &onLoopback}) {
        QTcpSocket s;
        s.connectToHost(QHostAddress(l->target().section(QLatin1Char(':'), 0, 0)), l->port());
        QVERIFY2(s.waitForConnected(5000), qPrintable(l->target()));
        QDeadlineTimer deadline(5000); // the listener answers from this thread's event loop
        while (!s.canReadLine() && !deadline.hasExpired())
            QTest::qWait(20);
        QCOMPARE(s.readLine().trimmed(), QByteArray(kListenerGreeting));
        l->peers.clear();
    }

    const QString apiOnGateway = QStringLiteral("%1:%2").arg(web.gateway).arg(m_service.port());
    const QString metadata = QStringLiteral("169.254.169.254:80");
    const QStringList targets{onGateway.target(), onPeerGateway.target(), onTestLink.target(), apiOnGateway, metadata, peerHttp};
    const QMap<QString, QString> answered = probe(m_web, targets);
    QVERIFY2(answered.isEmpty(), qPrintable(describeAnswers(answered)));
    for (HostListener *l : {&onGateway, &onPeerGateway, &onTestLink})
        QVERIFY2(l->peers.isEmpty(), qPrintable(l->target() + QStringLiteral(" was reached from ") + l->peers.join(QLatin1Char(' '))));

    // 127.0.0.1 through the gateway: the guest (root) routes the host's
    // loopback to its gateway, as a hostile guest would.
    const Exec routed = exec(m_peer,
                             QStringLiteral("IF=$(ip -o link | grep -i %1 | cut -d: -f2 | tr -d ' ') && "
                                            "sysctl -w net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.$IF.route_localnet=1 >/dev/null && "
                                            "ip route del local 127.0.0.0/8 dev lo table local && ip route del local 127.0.0.1 dev lo table local; "
                                            "ip route add 127.0.0.1/32 via %2 dev $IF && ip route get 127.0.0.1")
                                 .arg(peer.mac, peer.gateway));
    QVERIFY2(routed.exitCode == 0 && routed.out.contains(QStringLiteral("via %1").arg(peer.gateway)), qPrintable(routed.describe()));
    const QString apiOnLoopback = QStringLiteral("127.0.0.1:%1").arg(m_service.port());
    const QMap<QString, QString> loopback = probe(m_peer, {onLoopback.target(), apiOnLoopback, onPeerGateway.target()});
    QVERIFY2(loopback.isEmpty(), qPrintable(describeAnswers(loopback)));
    QVERIFY2(onLoopback.peers.isEmpty() && onPeerGateway.peers.isEmpty(), qPrintable(onLoopback.peers.join(QLatin1Char(' '))));

    // What the product says it refused (the guard table drops only what it let through).
    const GuestNetwork denied = network(m_web, &error);
    for (const QString &target : {metadata, peerHttp, onTestLink.target()}) {
        const QString denial = QStringLiteral("%1 tcp %2").arg(target.section(QLatin1Char(':'), 0, 0), target.section(QLatin1Char(':'), 1));
        QVERIFY2(denied.denials.contains(denial), qPrintable(denial + QStringLiteral(" not in ") + denied.denials.join(QStringLiteral(", "))));
    }

    // Control: an allow rule naming the gateway as a single address, with
    // the listener's port, opens exactly that (README: the host is reached
    // only at an address an allow rule names); reverting closes it again.
    const QString open =
        QStringLiteral(R"({"default":"deny","allow":[{"domain":"allowed.test"},{"cidr":"%1/32","ports":[%2]}]})").arg(web.gateway).arg(onGateway.port());
    const QString put = putPolicy(m_web, open);
    QVERIFY2(put.isEmpty(), qPrintable(put));
    const QMap<QString, QString> opened = probe(m_web, {onGateway.target(), apiOnGateway});
    QCOMPARE(opened.value(onGateway.target()), QLatin1String(kListenerGreeting));
    QVERIFY2(!opened.contains(apiOnGateway), qPrintable(opened.value(apiOnGateway)));
    const QString reverted = putPolicy(m_web, kPolicy);
    QVERIFY2(reverted.isEmpty(), qPrintable(reverted));
    onGateway.peers.clear();
    const QMap<QString, QString> closed = probe(m_web, {onGateway.target()});
    QVERIFY2(closed.isEmpty(), qPrintable(QStringLiteral("after the policy was reverted, ") + describeAnswers(closed)));
    QVERIFY2(onGateway.peers.isEmpty(), qPrintable(onGateway.peers.join(QLatin1Char(' '))));
}

// Case 1: a new policy applies to the next connection, both ways.
void TestVmNetwork::policyReplacedAtRuntime()
{
    const QString deniedHost = QLatin1String(TestInternet::kDeniedAddress);
    const QString open = QStringLiteral(R"({"default":"deny","allow":[{"domain":"allowed.test"},{"cidr":"%1/32"}]})").arg(deniedHost);
    const QString opened = putPolicy(m_web, open);
    QVERIFY2(opened.isEmpty(), qPrintable(opened));
    QCOMPARE(fetch(m_web, deniedHost), QStringLiteral("denied.test"));
    QCOMPARE(fetch(m_web, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    const QString reverted = putPolicy(m_web, kPolicy);
    QVERIFY2(reverted.isEmpty(), qPrintable(reverted));
    const qsizetype requests = m_internet.httpLog().count("denied.test ");
    const QString after = fetch(m_web, deniedHost, kProbeTimeoutS);
    QVERIFY2(after.startsWith(QLatin1Char('<')), qPrintable(after));
    QCOMPARE(m_internet.httpLog().count("denied.test "), requests);
    QCOMPARE(fetch(m_web, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
}

// Two VMs of private network "team" reach each other's httpd; peer (mode
// egress) reaches neither and neither reaches it; the group still reaches
// what its policy allows outside.
void TestVmNetwork::privateNetworkGroup()
{
    const QStringList team{QStringLiteral("team1"), QStringLiteral("team2")};
    const auto created =
        callAll({{"POST", QStringLiteral("/api/v1/vms")}, {"POST", QStringLiteral("/api/v1/vms")}},
                {createPrivateBody(team.at(0), QStringLiteral("team")), createPrivateBody(team.at(1), QStringLiteral("team"))}, kCreateTimeoutMs);
    const auto removeTeam = qScopeGuard([&] {
        for (const QString &vm : team)
            remove(vm);
    });
    for (const TestApi::Reply &r : created)
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
    QString error;
    QMap<QString, QString> http;
    for (const QString &vm : QStringList{team.at(0), team.at(1), m_peer}) {
        const QString serving = serveHttp(vm);
        QVERIFY2(serving.isEmpty(), qPrintable(serving));
        http[vm] = QStringLiteral("%1:%2").arg(network(vm, &error).address).arg(kGuestHttpPort);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }
    const QStringList targets = http.values();
    for (const QString &vm : team) {
        const QString other = team.at(vm == team.at(0) ? 1 : 0);
        const QMap<QString, QString> answered = probe(vm, targets);
        QVERIFY2(answered.value(http[other]) == QLatin1String("HTTP/1.1 200 OK"), qPrintable(vm + QStringLiteral(": ") + describeAnswers(answered)));
        QVERIFY2(!answered.contains(http[m_peer]), qPrintable(vm + QStringLiteral(" reached peer: ") + describeAnswers(answered)));
        QCOMPARE(fetch(vm, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    }
    const QMap<QString, QString> fromPeer = probe(m_peer, targets);
    QVERIFY2(!fromPeer.contains(http[team.at(0)]) && !fromPeer.contains(http[team.at(1)]), qPrintable(QStringLiteral("peer: ") + describeAnswers(fromPeer)));
    QVERIFY2(fromPeer.value(http[m_peer]) == QLatin1String("HTTP/1.1 200 OK"), qPrintable(QStringLiteral("peer: ") + describeAnswers(fromPeer)));
    const GuestNetwork peer = network(m_peer, &error);
    QVERIFY2(peer.denials.contains(QStringLiteral("%1 tcp %2").arg(http[team.at(0)].section(QLatin1Char(':'), 0, 0)).arg(kGuestHttpPort)),
             qPrintable(peer.denials.join(QStringLiteral(", "))));
    QCOMPARE(guardDrops(), 0);
}

// Case 2: a snapshot of web (its httpd running) forked three times.
void TestVmNetwork::forkOfThree()
{
    const QString serving = serveHttp(m_web);
    QVERIFY2(serving.isEmpty(), qPrintable(serving));
    auto r = call("POST", vmPath(m_web, QStringLiteral("snapshots")), json({{QStringLiteral("name"), m_snapshot}}), kOpTimeoutMs);
    QVERIFY2(r.status == 201, qPrintable(r.describe()));
    r = call("POST", vmPath(m_web, QStringLiteral("snapshots/%1/fork").arg(m_snapshot)),
             json({{QStringLiteral("count"), kForkCount}, {QStringLiteral("name_prefix"), QStringLiteral("fk")}}), kOpTimeoutMs);
    QStringList forks;
    for (const QJsonValue &v : r.json[QStringLiteral("vms")].toArray())
        forks << v[QStringLiteral("name")].toString();
    const auto removeForks = qScopeGuard([&] {
        for (auto it = forks.crbegin(); it != forks.crend(); ++it) // a fork of a fork first
            remove(*it);
    });
    QVERIFY2(r.status == 201 && forks.size() == kForkCount, qPrintable(r.describe()));

    QString error;
    const GuestNetwork web = network(m_web, &error);
    QMap<QString, GuestNetwork> nets;
    QSet<QString> addresses{web.address}, macs{web.mac};
    for (const QString &f : std::as_const(forks)) {
        nets[f] = network(f, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        addresses << nets[f].address;
        macs << nets[f].mac;
        qInfo("%s: %s %s gateway %s", qPrintable(f), qPrintable(nets[f].address), qPrintable(nets[f].mac), qPrintable(nets[f].gateway));
    }
    QCOMPARE(addresses.size(), kForkCount + 1);
    QCOMPARE(macs.size(), kForkCount + 1);

    QStringList targets{QStringLiteral("%1:%2").arg(web.address).arg(kGuestHttpPort)};
    for (const QString &f : std::as_const(forks))
        targets << QStringLiteral("%1:%2").arg(nets[f].address).arg(kGuestHttpPort);
    for (const QString &f : std::as_const(forks)) {
        // The guest was moved to its own address and MAC before it counted as ready.
        const Exec self = exec(f, QStringLiteral("ip -o -4 addr; ip -o link; cat /etc/resolv.conf; hostname > /tmp/www/index.html"));
        QVERIFY2(self.exitCode == 0, qPrintable(self.describe()));
        QVERIFY2(self.out.contains(QStringLiteral("inet %1/").arg(nets[f].address)) && !self.out.contains(QStringLiteral("inet %1/").arg(web.address)),
                 qPrintable(self.out));
        QVERIFY2(self.out.toLower().contains(nets[f].mac), qPrintable(self.out));
        QVERIFY2(self.out.contains(QStringLiteral("nameserver %1").arg(nets[f].gateway)), qPrintable(self.out));
        QCOMPARE(fetch(f, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    }
    for (const QString &f : std::as_const(forks)) {
        // Its own server answers it; no other VM's does.
        const QString own = QStringLiteral("%1:%2").arg(nets[f].address).arg(kGuestHttpPort);
        const QMap<QString, QString> answered = probe(f, targets);
        QVERIFY2(answered.value(own).startsWith(QLatin1String("HTTP/1.1 200")), qPrintable(f + QStringLiteral(": ") + answered.value(own)));
        QVERIFY2(answered.size() == 1, qPrintable(f + QStringLiteral(": ") + describeAnswers(answered)));
        const GuestNetwork after = network(f, &error);
        for (const QString &t : std::as_const(targets))
            if (t != own)
                QVERIFY2(after.denials.contains(QStringLiteral("%1 tcp %2").arg(t.section(QLatin1Char(':'), 0, 0)).arg(kGuestHttpPort)),
                         qPrintable(f + QStringLiteral(": ") + t + QStringLiteral(" not in its denials ") + after.denials.join(QStringLiteral(", "))));
    }

    // A fork of a fork: its own address and MAC again, and a working network.
    r = call("POST", vmPath(forks.first(), QStringLiteral("snapshots")), json({{QStringLiteral("name"), QStringLiteral("again")}}), kOpTimeoutMs);
    QVERIFY2(r.status == 201, qPrintable(r.describe()));
    r = call("POST", vmPath(forks.first(), QStringLiteral("snapshots/again/fork")),
             json({{QStringLiteral("count"), 1}, {QStringLiteral("name_prefix"), QStringLiteral("fkfk")}}), kOpTimeoutMs);
    const QString grandchild = r.json[QStringLiteral("vms")].toArray().at(0)[QStringLiteral("name")].toString();
    if (!grandchild.isEmpty())
        forks << grandchild;
    QVERIFY2(r.status == 201 && !grandchild.isEmpty(), qPrintable(r.describe()));
    const GuestNetwork third = network(grandchild, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY2(!addresses.contains(third.address) && !macs.contains(third.mac), qPrintable(third.address + QLatin1Char(' ') + third.mac));
    QCOMPARE(fetch(grandchild, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));

    const QString leftovers = leftoverProblem();
    QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers));
}

// Case 3: ten restores of web, each followed by a fetch from allowed.test.
void TestVmNetwork::tenRestores()
{
    QElapsedTimer t;
    t.start();
    for (int i = 1; i <= kRestoreCycles; ++i) {
        const auto r = call("POST", vmPath(m_web, QStringLiteral("snapshots/%1/restore").arg(m_snapshot)), {}, kOpTimeoutMs);
        QVERIFY2(r.status == 200, qPrintable(QStringLiteral("restore %1: %2").arg(i).arg(r.describe())));
        const QString got = fetch(m_web, QLatin1String(TestInternet::kAllowedName));
        QVERIFY2(got == QLatin1String("allowed.test"), qPrintable(QStringLiteral("fetch after restore %1: %2").arg(i).arg(got)));
    }
    qInfo("%d restores and fetches in %lld ms", kRestoreCycles, t.elapsed());
    QString error;
    QCOMPARE(network(m_web, &error).address, m_webAddress);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const QString leftovers = leftoverProblem();
    QVERIFY2(leftovers.isEmpty(), qPrintable(leftovers));
}

// Case 4: 20 create/start/delete cycles (kCyclesAtOnce at a time).
void TestVmNetwork::cleanupAfterCycles()
{
    QElapsedTimer t;
    t.start();
    QStringList gone; // gateways of deleted VMs
    for (int round = 0; round < kCleanupCycles / kCyclesAtOnce; ++round) {
        QList<std::pair<QByteArray, QString>> creates, deletes;
        QList<QByteArray> bodies;
        QStringList names;
        for (int i = 0; i < kCyclesAtOnce; ++i) {
            names << QStringLiteral("cycle-%1").arg(round * kCyclesAtOnce + i);
            creates.append({"POST", QStringLiteral("/api/v1/vms")});
            deletes.append({"DELETE", vmPath(names.last())});
            bodies << createBody(names.last());
        }
        const auto removeThem = qScopeGuard([&] { callAll(deletes, {}, kOpTimeoutMs); });
        for (const TestApi::Reply &r : callAll(creates, bodies, kCreateTimeoutMs))
            QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QString error;
        for (const QString &name : std::as_const(names))
            gone << network(name, &error).gateway;
        QVERIFY2(error.isEmpty(), qPrintable(error));
        const QString running = leftoverProblem();
        QVERIFY2(running.isEmpty(), qPrintable(QStringLiteral("round %1, running: %2").arg(round).arg(running)));
        for (const TestApi::Reply &r : callAll(deletes, {}, kOpTimeoutMs))
            QVERIFY2(r.status == 200 || r.status == 204, qPrintable(r.describe()));
        const QString deleted = leftoverProblem();
        QVERIFY2(deleted.isEmpty(), qPrintable(QStringLiteral("round %1, deleted: %2").arg(round).arg(deleted)));
    }
    qInfo("%d cycles in %lld ms; their gateways: %s", kCleanupCycles, t.elapsed(), qPrintable(gone.join(QLatin1Char(' '))));
    QCOMPARE(vmNames(), (QStringList{m_peer, m_web}));
}

// Case 4: the service stopped (its VMs killed) leaves nothing of its instance.
void TestVmNetwork::serviceStopLeavesNothing()
{
    const HostObjects running = observe(QLatin1String(kInstance), m_subnet);
    qInfo("before the stop: %s", qPrintable(running.describe()));
    QVERIFY(!running.taps.isEmpty());
    QCOMPARE(guardDrops(), 0); // nothing the product let through headed off this machine
    m_service.stop();
    const QString problem = ownedOnlyBy(observe(QLatin1String(kInstance), m_subnet), {}, false);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    for (const qint64 pid : running.resolvers.keys())
        QVERIFY2(!isRunning(pid), qPrintable(QStringLiteral("resolver %1 runs on").arg(pid)));
}

// Case 5: the real service as a subprocess, SIGKILLed with 3 VMs running.
void TestVmNetwork::serviceKilledAndRestarted()
{
    const QString dir = m_home.filePath(QStringLiteral("serve"));
    QVERIFY(QDir().mkpath(dir));
    killedServiceCase(dir);
}

void TestVmNetwork::killedServiceCase(const QString &dir)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("MVS_DATA_DIR"), dir + QStringLiteral("/data"));
    env.insert(QStringLiteral("MVS_CONFIG_DIR"), dir + QStringLiteral("/config"));
    env.insert(QStringLiteral("MVS_RUNTIME_DIR"), dir + QStringLiteral("/run"));
    env.insert(QStringLiteral("MVS_TOKEN"), QStringLiteral("vmnet-token"));
    env.insert(QStringLiteral("MVS_DRIVER"), QStringLiteral("qemu"));
    env.insert(QLatin1String(Vm::VmNetworks::kUpstreamsVariable), QLatin1String(TestInternet::kDnsAddress));
    // Its instance, named after its state directory (<data dir>/vms).
    const QString instance = Vm::VmNetworks::serviceOptions(dir + QStringLiteral("/data/vms")).instanceId;
    Serve serve(env);
    QVERIFY2(serve.start(), qPrintable(serve.log()));
    m_port = serve.port();
    m_token = "vmnet-token";
    QVERIFY2(ourTables().contains(QStringLiteral("mvs_") + instance),
             qPrintable(QStringLiteral("no table mvs_%1; the service said:\n%2").arg(instance, serve.log())));

    QList<std::pair<QByteArray, QString>> creates;
    QList<QByteArray> bodies;
    QStringList names;
    for (int i = 1; i <= kKilledServiceVms; ++i) {
        names << QStringLiteral("killed-%1").arg(i);
        creates.append({"POST", QStringLiteral("/api/v1/vms")});
        bodies << createBody(names.last());
    }
    for (const TestApi::Reply &r : callAll(creates, bodies, kCreateTimeoutMs))
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
    QString error;
    const GuestNetwork first = network(names.first(), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    Net::Cidr subnet;
    for (const QString &candidate : Net::SubnetPlan::defaultCandidates())
        if (auto c = Net::Cidr::parse(candidate); c && c->contains(QHostAddress(first.address)))
            subnet = *c;
    QVERIFY2(subnet.isValid(), qPrintable(first.address));
    for (const QString &name : std::as_const(names))
        QCOMPARE(fetch(name, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    const HostObjects running = observe(instance, subnet);
    QCOMPARE(running.taps.size(), kKilledServiceVms);
    QCOMPARE(running.resolvers.size(), kKilledServiceVms);

    serve.kill();
    qInfo("after SIGKILL: %s", qPrintable(observe(instance, subnet).describe()));
    QVERIFY2(serve.start(), qPrintable(serve.log()));
    m_port = serve.port();
    const QString restarted = ownedOnlyBy(observe(instance, subnet), runningGateways(&error), true);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QVERIFY2(restarted.isEmpty(), qPrintable(QStringLiteral("after the restart: ") + restarted));
    for (const qint64 pid : running.resolvers.keys())
        QVERIFY2(!isRunning(pid), qPrintable(QStringLiteral("resolver %1 of the killed service runs on").arg(pid)));

    // The restarted service gives a VM a working network again.
    const auto started = call("POST", vmPath(names.first(), QStringLiteral("start")), {}, kCreateTimeoutMs);
    QVERIFY2(started.status == 200, qPrintable(started.describe()));
    QCOMPARE(fetch(names.first(), QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    const QString one = ownedOnlyBy(observe(instance, subnet), runningGateways(&error), true);
    QVERIFY2(one.isEmpty(), qPrintable(QStringLiteral("one VM running: ") + one));

    QVERIFY2(serve.stop(), qPrintable(serve.log()));
    const QString stopped = ownedOnlyBy(observe(instance, subnet), {}, false);
    QVERIFY2(stopped.isEmpty(), qPrintable(QStringLiteral("after SIGTERM: ") + stopped));
}

QTEST_GUILESS_MAIN(TestVmNetwork)
#include "tst_vmnetwork.moc"
