// The test internet itself (tests/net/testinternet.sh, testinternet.h),
// from the host: its DNS answers the zone test (and the package hosts' names)
// and NXDOMAIN for the rest, its HTTP servers name their host, the package
// hosts' index and registry install the tiny package with the host's own pip
// and npm, the benchmark's sink, source and echo work; a second one is
// refused while it is up; `down` leaves no namespace, veth, process, state or
// route, also after a crash; the host's default route (via 192.0.2.1) and its
// own network are untouched throughout. As root.

#include "net/testinternet.h"

#include <QDir>
#include <QFile>
#include <QHash>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>

using namespace TestInternet;

namespace {

constexpr int kToolTimeoutMs = 30000;
constexpr int kSocketTimeoutS = 10;
constexpr int kStreamBytes = 8 << 20;
constexpr char kOtherTag[] = "selftest2";
constexpr char kOwnNetwork[] = "192.0.2.";
constexpr char kOffMachine[] = "8.8.8.8";
constexpr char kLoosePeer[] = "mvstiselfpeer";
constexpr int kCleanupWaitMs = 2000;
constexpr int kEchoChunk = 32 << 10;
constexpr int kEchoRounds = 16;
constexpr int kPackageToolTimeoutMs = 120000; // pip or npm installing one tiny package

// A tool's standard output (fails the test's expectations with empty output).
QByteArray run(const QString &program, const QStringList &args)
{
    QProcess p;
    p.start(program, args);
    if (!p.waitForFinished(kToolTimeoutMs))
        return {};
    return p.readAllStandardOutput();
}

QByteArray ip(const QStringList &args)
{
    return run(QStringLiteral("/usr/sbin/ip"), args);
}

// Every route of every table, IPv4 and IPv6.
QList<QByteArray> allRoutes()
{
    QList<QByteArray> lines =
        ip({QStringLiteral("-4"), QStringLiteral("route"), QStringLiteral("show"), QStringLiteral("table"), QStringLiteral("all")}).split('\n');
    lines += ip({QStringLiteral("-6"), QStringLiteral("route"), QStringLiteral("show"), QStringLiteral("table"), QStringLiteral("all")}).split('\n');
    lines.removeAll(QByteArray());
    return lines;
}

// The routes that name the test internet's addresses or devices, or the
// machine's own network: others on this shared machine may change the rest.
QList<QByteArray> watchedRoutes()
{
    QList<QByteArray> watched;
    for (const QByteArray &line : allRoutes()) {
        if (line.contains("198.51.100.") || line.contains("203.0.113.") || line.contains("mvsti-") || line.contains(kOwnNetwork) || line.startsWith("default"))
            watched += line;
    }
    return watched;
}

QByteArray routeGet(const char *address)
{
    return ip({QStringLiteral("route"), QStringLiteral("get"), QLatin1String(address)}).simplified();
}

// The IPv4 addresses of the package mirrors this machine installs from (on
// these machines they resolve to 203.0.113.80, a TEST-NET-3 address) and of
// its resolvers: the test internet must never route them away.
QList<QByteArray> hostDependencies()
{
    QList<QByteArray> addresses;
    QFile resolv(QStringLiteral("/etc/resolv.conf"));
    if (resolv.open(QIODevice::ReadOnly)) {
        for (const QByteArray &line : resolv.readAll().split('\n')) {
            const QList<QByteArray> f = line.simplified().split(' ');
            if (f.size() >= 2 && f[0] == "nameserver" && !f[1].contains(':'))
                addresses += f[1];
        }
    }
    for (const char *host : {"deb.debian.org", "registry.npmjs.org"}) {
        QProcess p;
        p.start(QStringLiteral("getent"), {QStringLiteral("ahostsv4"), QLatin1String(host)});
        p.waitForFinished(10000);
        for (const QByteArray &line : p.readAllStandardOutput().split('\n')) {
            const QByteArray a = line.simplified().split(' ').value(0);
            if (!a.isEmpty() && !addresses.contains(a))
                addresses += a;
        }
    }
    return addresses;
}

bool hasNamespace(const QString &name)
{
    for (const QByteArray &line : ip({QStringLiteral("netns"), QStringLiteral("list")}).split('\n')) {
        if (line.split(' ').value(0) == name.toLatin1())
            return true;
    }
    return false;
}

bool hasLink(const QString &name)
{
    return QFileInfo::exists(QStringLiteral("/sys/class/net/") + name);
}

QList<int> namespacePids(const QString &ns)
{
    QList<int> pids;
    for (const QByteArray &line : ip({QStringLiteral("netns"), QStringLiteral("pids"), ns}).split('\n')) {
        if (!line.trimmed().isEmpty())
            pids += line.trimmed().toInt();
    }
    return pids;
}

// Whether `pid` is gone (or a zombie, which runs nothing and holds no socket).
bool processGone(int pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray text = stat.readAll();
    return text.mid(text.lastIndexOf(')') + 2, 1) == "Z";
}

// A socket with send and receive timeouts; closes itself.
class Socket {
public:
    explicit Socket(int type)
        : m_fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0))
    {
        const timeval tv{kSocketTimeoutS, 0};
        ::setsockopt(m_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(m_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    ~Socket() { ::close(m_fd); }
    Socket(const Socket &) = delete;
    Socket &operator=(const Socket &) = delete;

    bool connectTo(const char *address, quint16 port)
    {
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        ::inet_pton(AF_INET, address, &sa.sin_addr);
        return ::connect(m_fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) == 0;
    }
    bool sendAll(const QByteArray &data)
    {
        for (qsizetype done = 0; done < data.size();) {
            const ssize_t n = ::send(m_fd, data.constData() + done, size_t(data.size() - done), MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            done += n;
        }
        return true;
    }
    // Up to `max` bytes, until the peer ends its side, `max` or an error.
    QByteArray receive(qsizetype max)
    {
        QByteArray data;
        char buf[65536];
        while (data.size() < max) {
            const ssize_t n = ::recv(m_fd, buf, size_t(std::min<qsizetype>(sizeof buf, max - data.size())), 0);
            if (n <= 0)
                break;
            data.append(buf, n);
        }
        return data;
    }
    void endSending() { ::shutdown(m_fd, SHUT_WR); }
    int fd() const { return m_fd; }

private:
    int m_fd;
};

QByteArray httpGet(const char *address, const QByteArray &path)
{
    Socket s(SOCK_STREAM);
    if (!s.connectTo(address, kHttpPort) || !s.sendAll("GET " + path + " HTTP/1.0\r\nHost: " + address + "\r\n\r\n"))
        return {};
    return s.receive(kStreamBytes * 2);
}

// The body of an HTTP response, or empty when the status is not `status`.
QByteArray httpBody(const QByteArray &response, int status)
{
    const QByteArray statusLine = response.left(response.indexOf("\r\n"));
    if (statusLine.split(' ').value(1) != QByteArray::number(status))
        return {};
    return response.mid(response.indexOf("\r\n\r\n") + 4);
}

// A DNS answer: the response code and the A records' addresses.
struct DnsAnswer {
    int rcode = -1;
    QStringList addresses;
    int ttl = -1; // of the last A record
};

constexpr quint16 kTypeA = 1;
constexpr int kDnsHeaderSize = 12;

QByteArray dnsQuery(const QByteArray &name)
{
    QByteArray q = QByteArray::fromHex("abcd01000001000000000000"); // id, RD, one question
    for (const QByteArray &label : name.split('.'))
        q += char(label.size()) + label;
    q += QByteArray::fromHex("00") + QByteArray::fromHex("00010001"); // type A, class IN
    return q;
}

// Skips a (possibly compressed) name at `pos`; -1 when it runs off the end.
int skipName(const QByteArray &m, int pos)
{
    while (pos < m.size()) {
        const auto len = quint8(m.at(pos));
        if (len == 0)
            return pos + 1;
        if ((len & 0xc0) == 0xc0)
            return pos + 2;
        pos += len + 1;
    }
    return -1;
}

quint16 be16(const QByteArray &m, int pos)
{
    return quint16(quint8(m.at(pos)) << 8 | quint8(m.at(pos + 1)));
}

DnsAnswer parseDns(const QByteArray &m)
{
    DnsAnswer a;
    if (m.size() < kDnsHeaderSize || be16(m, 0) != 0xabcd)
        return a;
    a.rcode = be16(m, 2) & 0xf;
    int pos = skipName(m, kDnsHeaderSize) + 4; // the question's name, type, class
    for (int i = 0; i < be16(m, 6) && pos > 3; ++i) {
        pos = skipName(m, pos);
        if (pos < 0 || pos + 10 > m.size())
            break;
        const quint16 type = be16(m, pos);
        const quint16 length = be16(m, pos + 8);
        pos += 10;
        if (type == kTypeA && length == 4 && pos + 4 <= m.size()) {
            a.ttl = be16(m, pos - 6) << 16 | be16(m, pos - 4);
            a.addresses +=
                QStringLiteral("%1.%2.%3.%4").arg(quint8(m.at(pos))).arg(quint8(m.at(pos + 1))).arg(quint8(m.at(pos + 2))).arg(quint8(m.at(pos + 3)));
        }
        pos += length;
    }
    return a;
}

DnsAnswer resolve(const QByteArray &name)
{
    Socket s(SOCK_DGRAM);
    if (!s.connectTo(kDnsAddress, kDnsPort) || !s.sendAll(dnsQuery(name)))
        return {};
    char buf[512];
    const ssize_t n = ::recv(s.fd(), buf, sizeof buf, 0);
    return n > 0 ? parseDns(QByteArray(buf, n)) : DnsAnswer{};
}

} // namespace

class TestTestInternet : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        if (const QString reason = skipReason(); !reason.isEmpty())
            QSKIP(qPrintable(reason));
        m_routesBefore = watchedRoutes();
        m_offMachineBefore = routeGet(kOffMachine);
        for (const QByteArray &a : hostDependencies())
            m_dependencyRoutesBefore.insert(a, routeGet(a.constData()));
        QVERIFY2(m_offMachineBefore.contains("via 192.0.2.1"), m_offMachineBefore.constData());
        TESTINTERNET_UP_OR_SKIP(m_internet);
        QVERIFY(m_internet.isUp());
    }

    void cleanupTestCase()
    {
        TESTINTERNET_DOWN(m_internet);
        if (m_offMachineBefore.isEmpty())
            return; // skipped: nothing was built
        QCOMPARE(watchedRoutes(), m_routesBefore);
        QCOMPARE(routeGet(kOffMachine), m_offMachineBefore);
    }

    // The host reaches the namespace through the veth and 203.0.113.0/28 via
    // it; the default route and the machine's own network are as they were.
    void routes()
    {
        QVERIFY(hasNamespace(m_internet.namespaceName()));
        QVERIFY(
            ip({QStringLiteral("-4"), QStringLiteral("-o"), QStringLiteral("addr"), QStringLiteral("show"), QStringLiteral("dev"), m_internet.hostInterface()})
                .contains("inet 198.51.100.1/24"));
        const QByteArray other = routeGet(kOtherAddress);
        QVERIFY2(other.contains(QByteArray("via 198.51.100.2 dev " + m_internet.hostInterface().toLatin1())), other.constData());
        const QByteArray dns = routeGet(kDnsAddress);
        QVERIFY2(dns.contains(QByteArray("dev " + m_internet.hostInterface().toLatin1())) && !dns.contains("via"), dns.constData());
        QCOMPARE(routeGet(kOffMachine), m_offMachineBefore);
        // The machine's mirrors and resolvers are reached as before (the
        // mirrors here are 203.0.113.80: a /24 route cut them off once).
        for (const QByteArray &a : hostDependencies())
            QCOMPARE(routeGet(a.constData()), m_dependencyRoutesBefore.value(a));
        QStringList own;
        for (const QByteArray &line : allRoutes()) {
            if (line.contains(kOwnNetwork) || line.startsWith("default"))
                own += QString::fromLatin1(line);
        }
        QStringList ownBefore;
        for (const QByteArray &line : m_routesBefore) {
            if (line.contains(kOwnNetwork) || line.startsWith("default"))
                ownBefore += QString::fromLatin1(line);
        }
        QCOMPARE(own, ownBefore);
        // The namespace answers the host link only: no way out of it.
        const QByteArray nsRoutes = run(QStringLiteral("/usr/sbin/ip"),
                                        {QStringLiteral("-n"), m_internet.namespaceName(), QStringLiteral("route"), QStringLiteral("show"),
                                         QStringLiteral("table"), QStringLiteral("all")});
        QVERIFY2(!nsRoutes.contains("default") && !nsRoutes.contains(kOwnNetwork), nsRoutes.constData());
    }

    void dns_data()
    {
        QTest::addColumn<QByteArray>("name");
        QTest::addColumn<int>("rcode");
        QTest::addColumn<QStringList>("addresses");
        const int noError = 0;
        const int nxDomain = 3;
        QTest::newRow("allowed") << QByteArray(kAllowedName) << noError << QStringList{QLatin1String(kAllowedAddress)};
        QTest::newRow("denied") << QByteArray(kDeniedName) << noError << QStringList{QLatin1String(kDeniedAddress)};
        QTest::newRow("other") << QByteArray(kOtherName) << noError << QStringList{QLatin1String(kOtherAddress)};
        QTest::newRow("allowed alias") << QByteArray(kAllowedAlias) << noError << QStringList{QLatin1String(kAllowedAddress)};
        QTest::newRow("denied alias") << QByteArray(kDeniedAlias) << noError << QStringList{QLatin1String(kDeniedAddress)};
        QTest::newRow("pypi.test") << QByteArray(kPypiName) << noError << QStringList{QLatin1String(kPypiAddress)};
        QTest::newRow("pypi.org") << QByteArray(kPypiOrgName) << noError << QStringList{QLatin1String(kPypiOrgAddress)};
        QTest::newRow("npm.test") << QByteArray(kNpmName) << noError << QStringList{QLatin1String(kNpmAddress)};
        QTest::newRow("registry.npmjs.org") << QByteArray(kNpmjsName) << noError << QStringList{QLatin1String(kNpmjsAddress)};
        QTest::newRow("missing") << QByteArray(kMissingName) << nxDomain << QStringList{};
        QTest::newRow("outside the zone") << QByteArray("example.com") << nxDomain << QStringList{};
    }

    void dns()
    {
        QFETCH(QByteArray, name);
        QFETCH(int, rcode);
        QFETCH(QStringList, addresses);
        const DnsAnswer answer = resolve(name);
        QCOMPARE(answer.rcode, rcode);
        QCOMPARE(answer.addresses, addresses);
        if (!addresses.isEmpty())
            QCOMPARE(answer.ttl, kDnsTtlSeconds);
        QVERIFY2(m_internet.dnsLog().contains(QByteArray("query[A] " + name + " from 198.51.100.1")), m_internet.dnsLog().constData());
    }

    void http_data()
    {
        QTest::addColumn<QByteArray>("address");
        QTest::addColumn<QByteArray>("name");
        QTest::newRow("allowed") << QByteArray(kAllowedAddress) << QByteArray(kAllowedName);
        QTest::newRow("denied") << QByteArray(kDeniedAddress) << QByteArray(kDeniedName);
        QTest::newRow("other (routed)") << QByteArray(kOtherAddress) << QByteArray(kOtherName);
        QTest::newRow("pypi.test") << QByteArray(kPypiAddress) << QByteArray(kPypiName);
        QTest::newRow("pypi.org") << QByteArray(kPypiOrgAddress) << QByteArray(kPypiOrgName);
        QTest::newRow("npm.test") << QByteArray(kNpmAddress) << QByteArray(kNpmName);
        QTest::newRow("registry.npmjs.org") << QByteArray(kNpmjsAddress) << QByteArray(kNpmjsName);
    }

    void http()
    {
        QFETCH(QByteArray, address);
        QFETCH(QByteArray, name);
        QCOMPARE(httpBody(httpGet(address.constData(), "/"), 200), name + '\n');
        QCOMPARE(httpBody(httpGet(address.constData(), "/zero/" + QByteArray::number(kStreamBytes)), 200), QByteArray(kStreamBytes, '\0'));
        QVERIFY(!httpGet(address.constData(), "/nothing").isEmpty());
        QCOMPARE(httpBody(httpGet(address.constData(), "/nothing"), 404), QByteArray("not found\n"));
        QVERIFY2(m_internet.httpLog().contains(QByteArray(name + " 198.51.100.1 \"GET / HTTP/1.0\" 200")), m_internet.httpLog().constData());
    }

    // The package hosts' index and registry, through the host's own pip
    // and npm (scripts/setup.sh test installs both): the tiny package
    // installs into a temporary directory and imports.
    void packageClients_data()
    {
        QTest::addColumn<QByteArray>("address");
        QTest::addColumn<QByteArray>("name");
        QTest::addColumn<QByteArray>("npmAddress");
        QTest::addColumn<QByteArray>("npmName");
        QTest::newRow("pypi.test, npm.test") << QByteArray(kPypiAddress) << QByteArray(kPypiName) << QByteArray(kNpmAddress) << QByteArray(kNpmName);
        QTest::newRow("pypi.org, registry.npmjs.org") << QByteArray(kPypiOrgAddress) << QByteArray(kPypiOrgName) << QByteArray(kNpmjsAddress)
                                                      << QByteArray(kNpmjsName);
    }

    void packageClients()
    {
        QFETCH(QByteArray, address);
        QFETCH(QByteArray, name);
        QFETCH(QByteArray, npmAddress);
        QFETCH(QByteArray, npmName);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString answer = QString::number(kPackageAnswer);
        const auto tool = [&](const QString &program, const QStringList &args, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment()) {
            QProcess p;
            p.setProcessEnvironment(env);
            p.setProcessChannelMode(QProcess::MergedChannels);
            p.setWorkingDirectory(dir.path());
            p.start(program, args);
            const bool ended = p.waitForFinished(kPackageToolTimeoutMs);
            const QString out = QString::fromLocal8Bit(p.readAll());
            return ended && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0 ? out.trimmed() : QStringLiteral("<failed: ") + out + u'>';
        };
        const QString pip = tool(QStringLiteral("/usr/bin/python3"),
                                 {QStringLiteral("-m"), QStringLiteral("pip"), QStringLiteral("install"), QStringLiteral("--disable-pip-version-check"),
                                  QStringLiteral("--no-cache-dir"), QStringLiteral("--target"), dir.filePath(QStringLiteral("py")),
                                  QStringLiteral("--trusted-host"), QLatin1String(address), QStringLiteral("--index-url"),
                                  QStringLiteral("http://%1/simple/").arg(QLatin1String(address)), QLatin1String(kPackageName)});
        QVERIFY2(pip.contains(QLatin1String("Successfully installed mvs-tiny-1.0.0")), qPrintable(pip));
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("PYTHONPATH"), dir.filePath(QStringLiteral("py")));
        QCOMPARE(tool(QStringLiteral("/usr/bin/python3"),
                      {QStringLiteral("-c"), QStringLiteral("import %1; print(%1.ANSWER)").arg(QLatin1String(kPythonModule))}, env),
                 answer);
        const QString npm = tool(QStringLiteral("npm"),
                                 {QStringLiteral("install"), QStringLiteral("--cache"), dir.filePath(QStringLiteral("npmcache")), QStringLiteral("--no-audit"),
                                  QStringLiteral("--no-fund"), QStringLiteral("--registry"), QStringLiteral("http://%1/").arg(QLatin1String(npmAddress)),
                                  QLatin1String(kPackageName)});
        QVERIFY2(!npm.startsWith(QLatin1String("<failed")), qPrintable(npm));
        QCOMPARE(tool(QStringLiteral("node"), {QStringLiteral("-e"), QStringLiteral("console.log(require('%1').answer)").arg(QLatin1String(kPackageName))}),
                 answer);
        // From these hosts, not a cache.
        const QByteArray log = m_internet.httpLog();
        const QByteArrayList requests{QByteArray(name + " 198.51.100.1 \"GET /simple/mvs-tiny/ HTTP/1.1\" 200"),
                                      QByteArray(name + " 198.51.100.1 \"GET /files/mvs_tiny-1.0.0-py3-none-any.whl HTTP/1.1\" 200"),
                                      QByteArray(npmName + " 198.51.100.1 \"GET /mvs-tiny HTTP/1.1\" 200"),
                                      QByteArray(npmName + " 198.51.100.1 \"GET /mvs-tiny/-/mvs-tiny-1.0.0.tgz HTTP/1.1\" 200")};
        for (const QByteArray &request : requests)
            QVERIFY2(log.contains(request), qPrintable(QString::fromLatin1(request) + QStringLiteral(" not in the log:\n") + QString::fromLatin1(log)));
    }

    void sink()
    {
        Socket s(SOCK_STREAM);
        QVERIFY(s.connectTo(kBenchAddress, kSinkPort));
        QVERIFY(s.sendAll(QByteArray(kStreamBytes, 'x')));
        s.endSending();
        QCOMPARE(s.receive(64), QByteArray::number(kStreamBytes) + '\n');
    }

    void source()
    {
        Socket s(SOCK_STREAM);
        QVERIFY(s.connectTo(kBenchAddress, kSourcePort));
        QCOMPARE(s.receive(kStreamBytes), QByteArray(kStreamBytes, '\0'));
    }

    void echo()
    {
        Socket s(SOCK_STREAM);
        QVERIFY(s.connectTo(kBenchAddress, kEchoPort));
        QVERIFY(s.sendAll("ping"));
        QCOMPARE(s.receive(4), QByteArray("ping"));
        for (int i = 0; i < kEchoRounds; ++i) { // a chunk at a time: both ways' buffers hold it
            const QByteArray chunk(kEchoChunk, char('a' + i));
            QVERIFY(s.sendAll(chunk));
            QCOMPARE(s.receive(kEchoChunk), chunk);
        }
    }

    // While one is up, a second (another tag) is refused with a clear error
    // and leaves nothing; the first still answers.
    void secondRefused()
    {
        const QString error = runScript(QStringLiteral("up"), QLatin1String(kOtherTag));
        QVERIFY2(error.contains(QLatin1String("198.51.100.1 is already assigned")) && error.contains(QLatin1String("only one test internet")),
                 qPrintable(error));
        QVERIFY(!hasNamespace(QStringLiteral("mvsti-") + QLatin1String(kOtherTag)));
        QVERIFY(!hasLink(QStringLiteral("mvsti-") + QLatin1String(kOtherTag)));
        QCOMPARE(resolve(kAllowedName).addresses, QStringList{QLatin1String(kAllowedAddress)});
    }

    // `up` again replaces it: the same servers answer, new processes.
    void upAgain()
    {
        const QList<int> before = namespacePids(m_internet.namespaceName());
        QVERIFY(!before.isEmpty());
        const QString error = runScript(QStringLiteral("up"), m_internet.tag());
        QVERIFY2(error.isEmpty(), qPrintable(error));
        for (int pid : before)
            QVERIFY2(processGone(pid), qPrintable(QString::number(pid)));
        QCOMPARE(resolve(kAllowedName).addresses, QStringList{QLatin1String(kAllowedAddress)});
        QCOMPARE(httpBody(httpGet(kDeniedAddress, "/"), 200), QByteArray("denied.test\n"));
    }

    // The ctest cleanup step waits while a run still uses the test internet
    // (holds the in-use lock), and ends it once that run has gone.
    void cleanupWaitsForTheRun()
    {
        QProcess cleanup;
        cleanup.start(QStringLiteral("/bin/sh"), {QLatin1String(kScript), QStringLiteral("cleanup"), m_internet.tag()});
        QVERIFY(cleanup.waitForStarted());
        QVERIFY(!cleanup.waitForFinished(kCleanupWaitMs));
        QCOMPARE(resolve(kAllowedName).addresses, QStringList{QLatin1String(kAllowedAddress)});
        const QList<int> pids = namespacePids(m_internet.namespaceName());
        m_internet.releaseWithoutDown(); // as a crashed run would
        QVERIFY(cleanup.waitForFinished(kToolTimeoutMs));
        QCOMPARE(cleanup.exitCode(), 0);
        verifyNothingLeft(m_internet.tag(), pids);
        TESTINTERNET_UP_OR_SKIP(m_internet);
    }

    // `down` ends every process and removes the namespace, the veth, the
    // state and the routes; a second `down` is a no-op.
    void downLeavesNothing()
    {
        const QList<int> pids = namespacePids(m_internet.namespaceName());
        QCOMPARE(pids.size(), 2); // dnsmasq, testhosts.py
        const QString error = m_internet.down();
        QVERIFY2(error.isEmpty(), qPrintable(error));
        verifyNothingLeft(m_internet.tag(), pids);
        const QString again = runScript(QStringLiteral("down"), m_internet.tag());
        QVERIFY2(again.isEmpty(), qPrintable(again));
        TESTINTERNET_UP_OR_SKIP(m_internet);
    }

    // What a crash leaves, piece by piece, goes with `down` and with the
    // ctest cleanup step: a killed server and a lost pid file, a namespace
    // alone, a veth alone.
    void downAfterCrash()
    {
        const QString ns = m_internet.namespaceName();
        const QList<int> pids = namespacePids(ns);
        QFile pidFile(QStringLiteral("/run/%1/testhosts.pid").arg(ns));
        QVERIFY(pidFile.open(QIODevice::ReadOnly));
        QCOMPARE(::kill(pidFile.readAll().trimmed().toInt(), SIGKILL), 0);
        QVERIFY(QFile::remove(QStringLiteral("/run/%1/dnsmasq.pid").arg(ns))); // only `ip netns pids` finds it now
        QString error = m_internet.down();
        QVERIFY2(error.isEmpty(), qPrintable(error));
        verifyNothingLeft(m_internet.tag(), pids);

        ip({QStringLiteral("netns"), QStringLiteral("add"), ns});
        QVERIFY(hasNamespace(ns));
        error = runScript(QStringLiteral("cleanup"), m_internet.tag());
        QVERIFY2(error.isEmpty(), qPrintable(error));
        verifyNothingLeft(m_internet.tag(), {});

        ip({QStringLiteral("link"), QStringLiteral("add"), m_internet.hostInterface(), QStringLiteral("type"), QStringLiteral("veth"), QStringLiteral("peer"),
            QStringLiteral("name"), QLatin1String(kLoosePeer)});
        QVERIFY(hasLink(m_internet.hostInterface()));
        error = runScript(QStringLiteral("cleanup"), m_internet.tag());
        QVERIFY2(error.isEmpty(), qPrintable(error));
        verifyNothingLeft(m_internet.tag(), {});
        QVERIFY(!hasLink(QLatin1String(kLoosePeer)));
    }

private:
    void verifyNothingLeft(const QString &tag, const QList<int> &pids)
    {
        const QString name = QStringLiteral("mvsti-") + tag;
        QVERIFY(!hasNamespace(name));
        QVERIFY(!hasLink(name));
        QVERIFY(!QFileInfo::exists(QStringLiteral("/run/") + name));
        for (int pid : pids)
            QVERIFY2(processGone(pid), qPrintable(QString::number(pid)));
        QCOMPARE(watchedRoutes(), m_routesBefore);
        QCOMPARE(routeGet(kOffMachine), m_offMachineBefore);
    }

    Session m_internet{QLatin1String(kDefaultTag)};
    QList<QByteArray> m_routesBefore;
    QByteArray m_offMachineBefore;
    QHash<QByteArray, QByteArray> m_dependencyRoutesBefore;
};

QTEST_GUILESS_MAIN(TestTestInternet)
#include "tst_testinternet.moc"
