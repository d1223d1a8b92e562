#include "netcheck.h"

#include "net/testinternet.h"

#include "core/net/networkpolicy.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTest>

#include <algorithm>
#include <csignal>
#include <functional>

#include <sys/prctl.h>
#include <unistd.h>

namespace E2e {

namespace {

constexpr int kHealthCallMs = 2000;
constexpr int kHealthPollMs = 200;
constexpr int kLogChars = 6000;
constexpr int kDescribeChars = 800;

// The packets counted by every counter in an `nft -j` document.
qint64 countedPackets(const QJsonValue &v)
{
    qint64 packets = 0;
    if (v.isArray())
        for (const QJsonValue &e : v.toArray())
            packets += countedPackets(e);
    if (!v.isObject())
        return packets;
    const QJsonObject o = v.toObject();
    if (o.value(QStringLiteral("counter")).isObject())
        packets += o.value(QStringLiteral("counter")).toObject().value(QStringLiteral("packets")).toInteger();
    for (const QJsonValue &e : o)
        packets += countedPackets(e);
    return packets;
}

} // namespace

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

QString vmPath(const QString &vm, const QString &rest)
{
    return rest.isEmpty() ? QStringLiteral("/api/v1/vms/") + vm : QStringLiteral("/api/v1/vms/%1/%2").arg(vm, rest);
}

QByteArray hostRun(const QString &program, const QStringList &args, QString *error, const QByteArray &input, int timeoutMs, const QProcessEnvironment &env)
{
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    if (!p.waitForFinished(timeoutMs) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        if (error)
            *error = QStringLiteral("%1 %2: exit %3: %4 %5")
                         .arg(program, args.join(QLatin1Char(' ')))
                         .arg(p.exitCode())
                         .arg(QString::fromLocal8Bit(p.readAllStandardError()), QString::fromLocal8Bit(p.readAllStandardOutput()));
        p.kill();
        p.waitForFinished();
        return {};
    }
    return p.readAllStandardOutput();
}

// --- GuardTable

GuardTable::GuardTable(const QString &name, const QString &chain)
    : m_name(name)
    , m_chain(chain)
{
}

GuardTable GuardTable::forTaps(const QString &name)
{
    return GuardTable(name,
                      QStringLiteral("  chain forward {\n"
                                     "    type filter hook forward priority 10; policy accept;\n"
                                     "    iifname \"mvs*\" oifname != \"mvs*\" meta nfproto ipv6 counter drop\n"
                                     "    iifname \"mvs*\" oifname != \"mvs*\" ip daddr != { %1, %2 } counter drop\n"
                                     "  }\n")
                          .arg(QLatin1String(TestInternet::kLinkSubnet), QLatin1String(TestInternet::kRoutedSubnet)));
}

GuardTable GuardTable::forUid(const QString &name, uid_t uid)
{
    return GuardTable(name,
                      QStringLiteral("  chain output {\n"
                                     "    type filter hook output priority 10; policy accept;\n"
                                     "    meta skuid %1 meta nfproto ipv6 ip6 daddr != ::1 counter drop\n"
                                     "    meta skuid %1 ip daddr != { 127.0.0.0/8, %2, %3 } counter drop\n"
                                     "  }\n")
                          .arg(uid)
                          .arg(QLatin1String(TestInternet::kLinkSubnet), QLatin1String(TestInternet::kRoutedSubnet)));
}

QString GuardTable::add()
{
    remove();
    QString error;
    hostRun(QStringLiteral("nft"), {QStringLiteral("-f"), QStringLiteral("-")}, &error, QStringLiteral("table inet %1 {\n%2}\n").arg(m_name, m_chain).toUtf8());
    m_added = error.isEmpty();
    return error;
}

qint64 GuardTable::drops() const
{
    const QByteArray text =
        hostRun(QStringLiteral("nft"), {QStringLiteral("-j"), QStringLiteral("list"), QStringLiteral("table"), QStringLiteral("inet"), m_name});
    if (text.isEmpty())
        return -1;
    return countedPackets(QJsonDocument::fromJson(text).object());
}

void GuardTable::remove()
{
    hostRun(QStringLiteral("nft"), {QStringLiteral("delete"), QStringLiteral("table"), QStringLiteral("inet"), m_name});
    m_added = false;
}

// --- the guests through the API

QString Exec::describe() const
{
    return QStringLiteral("exit %1, stdout \"%2\", stderr \"%3\"").arg(exitCode).arg(out.right(kDescribeChars), err.right(kDescribeChars));
}

void VmApi::setService(quint16 port, const QByteArray &token)
{
    m_port = port;
    m_token = token;
}

TestApi::Reply VmApi::call(const QByteArray &method, const QString &path, const QByteArray &body, int timeoutMs)
{
    return TestApi::call(m_nam, m_port, m_token, method, path, body, timeoutMs);
}

QList<TestApi::Reply> VmApi::callAll(const QList<std::pair<QByteArray, QString>> &requests, const QList<QByteArray> &bodies, int timeoutMs)
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

Exec VmApi::exec(const QString &vm, const QString &command, int timeoutS)
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

QString VmApi::fetch(const QString &vm, const QString &target, int timeoutS)
{
    const Exec e = exec(vm, TestInternet::fetchCommand(target, timeoutS), timeoutS + 10);
    return e.exitCode == 0 ? e.out.trimmed() : QStringLiteral("<%1>").arg(e.describe());
}

QMap<QString, QString> VmApi::probe(const QString &vm, const QStringList &targets)
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

QString VmApi::serveHttp(const QString &vm)
{
    const Exec e = exec(vm,
                        QStringLiteral("mkdir -p /tmp/www && hostname > /tmp/www/index.html && "
                                       "(pidof httpd >/dev/null || httpd -p %1 -h /tmp/www) && echo serving")
                            .arg(kGuestHttpPort));
    return e.out.trimmed() == QLatin1String("serving") ? QString() : QStringLiteral("httpd in %1: %2").arg(vm, e.describe());
}

GuestNetwork VmApi::network(const QString &vm, QString *error)
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

qint64 VmApi::metric(const QString &vm, const QString &verdict)
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

qint64 VmApi::vmMetric(const QString &family, const QString &vm)
{
    const auto r = call("GET", QStringLiteral("/metrics"));
    const QString wanted = QStringLiteral("%1{vm=\"%2\"} ").arg(family, vm);
    for (const QString &l : QString::fromUtf8(r.body).split(QLatin1Char('\n')))
        if (l.startsWith(wanted))
            return l.mid(wanted.size()).toLongLong();
    return -1;
}

QString VmApi::putPolicy(const QString &vm, const QString &policy)
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

QString describeAnswers(const QMap<QString, QString> &answered)
{
    QStringList out;
    for (auto it = answered.cbegin(); it != answered.cend(); ++it)
        out << it.key() + QStringLiteral(": ") + it.value();
    return QStringLiteral("answered: ") + out.join(QStringLiteral("; "));
}

// --- checks

void checkUnreachableByIp(VmApi &api, const TestInternet::Session &internet, const QString &vm)
{
    const qsizetype requests = internet.httpLog().count("denied.test ");
    const QString byIp = api.fetch(vm, QLatin1String(TestInternet::kDeniedAddress), kProbeTimeoutS);
    QVERIFY2(byIp.startsWith(QLatin1Char('<')), qPrintable(byIp));
    QCOMPARE(internet.httpLog().count("denied.test "), requests);
}

void checkPolicyReplacedAtRuntime(VmApi &api, const TestInternet::Session &internet, const QString &vm, const QString &policy)
{
    const QString deniedHost = QLatin1String(TestInternet::kDeniedAddress);
    const QString open = QStringLiteral(R"({"default":"deny","allow":[{"domain":"allowed.test"},{"cidr":"%1/32"}]})").arg(deniedHost);
    const QString opened = api.putPolicy(vm, open);
    QVERIFY2(opened.isEmpty(), qPrintable(opened));
    QCOMPARE(api.fetch(vm, deniedHost), QStringLiteral("denied.test"));
    QCOMPARE(api.fetch(vm, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
    const QString reverted = api.putPolicy(vm, policy);
    QVERIFY2(reverted.isEmpty(), qPrintable(reverted));
    checkUnreachableByIp(api, internet, vm);
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(api.fetch(vm, QLatin1String(TestInternet::kAllowedName)), QStringLiteral("allowed.test"));
}

// --- HostListener

bool HostListener::listen(const QHostAddress &address)
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

QString HostListener::target() const
{
    return target(m_server.serverAddress().toString());
}

QString HostListener::target(const QString &address) const
{
    return QStringLiteral("%1:%2").arg(address).arg(m_server.serverPort());
}

// --- Serve

Serve::Serve(const QProcessEnvironment &env, const QStringList &command, int startTimeoutMs, int stopTimeoutMs)
    : m_command(command)
    , m_startTimeoutMs(startTimeoutMs)
    , m_stopTimeoutMs(stopTimeoutMs)
{
    m_process.setProcessEnvironment(env);
    m_process.setProcessChannelMode(QProcess::MergedChannels);
    // A test that dies takes the service down with it (which stops its VMs
    // and network). A launcher that changes the uid sets it again after.
    m_process.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGTERM); });
}

Serve::~Serve()
{
    if (m_process.state() != QProcess::NotRunning)
        stop();
}

bool Serve::start()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    m_port = probe.serverPort();
    probe.close();
    m_process.start(m_command.first(),
                    m_command.mid(1) + QStringList{QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(m_port)});
    if (!m_process.waitForStarted(m_startTimeoutMs))
        return false;
    QNetworkAccessManager nam;
    QDeadlineTimer deadline(m_startTimeoutMs);
    while (!deadline.hasExpired() && m_process.state() == QProcess::Running) {
        if (TestApi::call(nam, m_port, {}, "GET", QStringLiteral("/api/v1/health"), {}, kHealthCallMs).status == 200)
            return true;
        QTest::qWait(kHealthPollMs);
    }
    return false;
}

void Serve::kill()
{
    m_process.kill();
    m_process.waitForFinished(m_stopTimeoutMs);
    m_log += m_process.readAll();
}

bool Serve::stop()
{
    ::kill(pid_t(m_process.processId()), SIGTERM);
    if (!m_process.waitForFinished(m_stopTimeoutMs))
        kill();
    m_log += m_process.readAll();
    return m_process.exitStatus() == QProcess::NormalExit && m_process.exitCode() == 0;
}

QString Serve::log()
{
    m_log += m_process.readAll();
    return QString::fromLocal8Bit(m_log.right(kLogChars));
}

} // namespace E2e
