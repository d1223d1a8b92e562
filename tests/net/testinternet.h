#pragma once
// The test internet of the end-to-end tests and the benchmark: a network
// namespace holding hosts at documentation addresses, joined to this host by
// a veth (tests/net/testinternet.sh says what runs where). No traffic of it
// leaves the machine.
//
// Use (the test's CMake: mvs_use_testinternet(tst_foo), which also adds the
// ctest cleanup step that ends it after a crash):
//
//   #include "net/testinternet.h"
//   TestInternet::Session m_internet;                 // a member of the test class
//   void initTestCase() { TESTINTERNET_UP_OR_SKIP(m_internet); ... }
//   void cleanupTestCase() { TESTINTERNET_DOWN(m_internet); }
//
// and give the product TestInternet::kDnsAddress as its DNS upstream. The
// session holds an in-use lock from up to down, so two runs on this machine
// (only one test internet may be up at a time) wait for each other.

#include <QDeadlineTimer>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QThread>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace TestInternet {

// The host's end of the veth: where masqueraded VM traffic comes from.
inline constexpr char kHostAddress[] = "198.51.100.1";
// The DNS server (the product's resolvers' upstream), port 53 UDP and TCP.
inline constexpr char kDnsAddress[] = "198.51.100.2";
inline constexpr quint16 kDnsPort = 53;
inline constexpr int kDnsTtlSeconds = 60; // of every answer, as on the real internet
inline constexpr char kLinkSubnet[] = "198.51.100.0/24";
inline constexpr char kRoutedSubnet[] = "203.0.113.0/28"; // routed via kDnsAddress (not /24: the mirrors here are 203.0.113.80)

// Hosts, each with an HTTP server on kHttpPort: GET / answers its name and a
// newline ("allowed.test\n"), GET /zero/N answers N zero bytes.
inline constexpr quint16 kHttpPort = 80;
inline constexpr char kAllowedName[] = "allowed.test";
inline constexpr char kAllowedAddress[] = "198.51.100.10";
inline constexpr char kDeniedName[] = "denied.test";
inline constexpr char kDeniedAddress[] = "198.51.100.20";
inline constexpr char kOtherName[] = "other.test";
inline constexpr char kOtherAddress[] = "203.0.113.10";
// CNAMEs: www.allowed.test -> allowed.test, alias.test -> denied.test.
inline constexpr char kAllowedAlias[] = "www.allowed.test";
inline constexpr char kDeniedAlias[] = "alias.test";
// Any other name (under test or not) is NXDOMAIN; the server has no upstream.
inline constexpr char kMissingName[] = "nosuch.test";

// Package hosts (testhosts.py, packageindex.py): each serves a PEP 503
// "simple" index (http://<host>/simple/) and a static npm registry
// (http://<host>/) holding one tiny package, built when the hosts start.
// pypi.org and registry.npmjs.org, the agent template's own names, answer
// only the VMs (their resolvers' upstream is kDnsAddress); the host's own
// resolver never asks this server.
inline constexpr char kPypiName[] = "pypi.test";
inline constexpr char kPypiAddress[] = "198.51.100.30";
inline constexpr char kPypiOrgName[] = "pypi.org";
inline constexpr char kPypiOrgAddress[] = "198.51.100.31";
inline constexpr char kNpmName[] = "npm.test";
inline constexpr char kNpmAddress[] = "198.51.100.40";
inline constexpr char kNpmjsName[] = "registry.npmjs.org";
inline constexpr char kNpmjsAddress[] = "198.51.100.41";
// The package: distribution and npm name mvs-tiny 1.0.0; Python's
// `import mvs_tiny` has ANSWER, node's require('mvs-tiny') has answer, both 42.
inline constexpr char kPackageName[] = "mvs-tiny";
inline constexpr char kPythonModule[] = "mvs_tiny";
inline constexpr int kPackageAnswer = 42;

// On kAllowedAddress, for the benchmark. Sink: discards what it gets and,
// when the client ends its side, answers the byte count in decimal and a
// newline. Source: streams zeros until the client leaves. Echo: sends back
// what it gets.
inline constexpr char kBenchAddress[] = "198.51.100.10";
inline constexpr quint16 kSinkPort = 5001;
inline constexpr quint16 kSourcePort = 5002;
inline constexpr quint16 kEchoPort = 5003;

// Shell commands for a guest (the minimal image's busybox: wget has no
// timeout of its own, nc ends its side at the end of its input).
// GET http://<host>/: prints the host's name and a newline, exits 0.
inline QString fetchCommand(const QString &host, int timeoutS = 10)
{
    return QStringLiteral("timeout %1 wget -q -O - http://%2/").arg(timeoutS).arg(host);
}
// Sends `bytes` zeros to the sink: prints the count it received.
inline QString sinkCommand(qint64 bytes, int timeoutS = 60)
{
    return QStringLiteral("head -c %1 /dev/zero | timeout %2 nc %3 %4").arg(bytes).arg(timeoutS).arg(QLatin1String(kBenchAddress)).arg(kSinkPort);
}
// Reads `bytes` from the source: prints the count read.
inline QString sourceCommand(qint64 bytes, int timeoutS = 60)
{
    return QStringLiteral("timeout %2 nc %3 %4 | head -c %1 | wc -c").arg(bytes).arg(timeoutS).arg(QLatin1String(kBenchAddress)).arg(kSourcePort);
}

inline constexpr int kScriptTimeoutMs = 120000; // the script waits up to 60 s for its own lock
inline constexpr int kInUseWaitMs = 900000; // another run's whole e2e suite
inline constexpr int kInUsePollMs = 200;
inline constexpr char kInUseLock[] = "/run/mvsti.inuse.lock";

#ifdef MVS_TESTINTERNET_TAG
inline constexpr char kDefaultTag[] = MVS_TESTINTERNET_TAG;
#else
inline constexpr char kDefaultTag[] = "test";
#endif
#ifdef MVS_TESTINTERNET_SCRIPT
inline constexpr char kScript[] = MVS_TESTINTERNET_SCRIPT;
#else
inline constexpr char kScript[] = "tests/net/testinternet.sh";
#endif

// Why the test internet cannot be built here, or empty.
inline QString skipReason()
{
    if (::geteuid() != 0)
        return QStringLiteral("the test internet needs root (a network namespace, a veth, a route)");
    for (const char *tool : {"/usr/sbin/ip", "/usr/sbin/dnsmasq", "/usr/bin/python3"}) {
        if (!QFile::exists(QLatin1String(tool)))
            return QStringLiteral("the test internet needs %1").arg(QLatin1String(tool));
    }
    return {};
}

// Runs testinternet.sh `action` `tag`; the error (with the script's output), or empty.
inline QString runScript(const QString &action, const QString &tag)
{
    QProcess p;
    p.setProcessChannelMode(QProcess::MergedChannels);
    p.start(QStringLiteral("/bin/sh"), {QLatin1String(kScript), action, tag});
    if (!p.waitForFinished(kScriptTimeoutMs)) {
        p.kill();
        p.waitForFinished();
        return QStringLiteral("testinternet.sh %1 %2 did not finish in %3 ms").arg(action, tag).arg(kScriptTimeoutMs);
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return QStringLiteral("testinternet.sh %1 %2 failed (exit %3): %4")
            .arg(action, tag)
            .arg(p.exitCode())
            .arg(QString::fromLocal8Bit(p.readAll().trimmed()));
    return {};
}

// One test's use of the test internet, from up() to down() (or destruction).
class Session {
public:
    explicit Session(QString tag = QLatin1String(kDefaultTag))
        : m_tag(std::move(tag))
    {
    }
    ~Session() { down(); }
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    const QString &tag() const { return m_tag; }
    QString namespaceName() const { return QStringLiteral("mvsti-") + m_tag; }
    QString hostInterface() const { return QStringLiteral("mvsti-") + m_tag; }
    bool isUp() const { return m_up; }

    // Waits for the in-use lock, then builds the test internet (replacing
    // whatever a crashed run of this tag left). The error, or empty.
    QString up()
    {
        if (const QString error = lock(); !error.isEmpty())
            return error;
        if (QString error = runScript(QStringLiteral("up"), m_tag); !error.isEmpty()) {
            runScript(QStringLiteral("down"), m_tag);
            unlock();
            return error;
        }
        m_up = true;
        return {};
    }

    // Ends it (processes, namespace, veth, route) and releases the lock.
    // The error, or empty. Does nothing when it is not up.
    QString down()
    {
        if (m_lockFd < 0)
            return {};
        QString error = runScript(QStringLiteral("down"), m_tag);
        m_up = false;
        unlock();
        return error;
    }

    // Releases the in-use lock and leaves the test internet up, as a run
    // that crashed would (for the self-test of the cleanup step).
    void releaseWithoutDown()
    {
        m_up = false;
        unlock();
    }

    // What the DNS server was asked ("query[A] allowed.test from 198.51.100.1")
    // and answered, one line each, since up().
    QByteArray dnsLog() const { return readState(QStringLiteral("dnsmasq.log")); }
    // The HTTP servers' requests ("allowed.test 198.51.100.1 \"GET / HTTP/1.1\" 200 -").
    QByteArray httpLog() const { return readState(QStringLiteral("testhosts.log")); }

private:
    QByteArray readState(const QString &name) const
    {
        QFile f(QStringLiteral("/run/mvsti-%1/%2").arg(m_tag, name));
        return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
    }

    QString lock()
    {
        if (m_lockFd >= 0)
            return {};
        const int fd = ::open(kInUseLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            return QStringLiteral("cannot open %1: %2").arg(QLatin1String(kInUseLock), QString::fromLocal8Bit(strerror(errno)));
        QDeadlineTimer deadline(kInUseWaitMs);
        while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (deadline.hasExpired()) {
                ::close(fd);
                return QStringLiteral("another run held the test internet (%1) for %2 ms").arg(QLatin1String(kInUseLock)).arg(kInUseWaitMs);
            }
            QThread::msleep(kInUsePollMs);
        }
        m_lockFd = fd;
        return {};
    }

    void unlock()
    {
        if (m_lockFd >= 0)
            ::close(m_lockFd);
        m_lockFd = -1;
    }

    QString m_tag;
    int m_lockFd = -1;
    bool m_up = false;
};

} // namespace TestInternet

// In initTestCase: skips (with the reason) where the test internet cannot be
// built (not root), fails where building it fails.
#define TESTINTERNET_UP_OR_SKIP(session) \
    do { \
        if (const QString reason_ = TestInternet::skipReason(); !reason_.isEmpty()) \
            QSKIP(qPrintable(reason_)); \
        const QString error_ = (session).up(); \
        QVERIFY2(error_.isEmpty(), qPrintable(error_)); \
    } while (false)

// In cleanupTestCase.
#define TESTINTERNET_DOWN(session) \
    do { \
        const QString error_ = (session).down(); \
        QVERIFY2(error_.isEmpty(), qPrintable(error_)); \
    } while (false)
