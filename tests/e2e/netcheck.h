#pragma once
// Shared helpers of the e2e network suites (tst_vmnetwork,
// tst_vmnetworkrootless, tst_agentpackages): host tools, the guard table that
// keeps what a VM sends on this machine, a guest's network seen through the
// REST API (exec, fetch, probe, GET .../network, /metrics, the policy), a
// listener on the host and `microvm-sandbox --serve` as a subprocess.

#include "tests/apicall.h"

#include <QJsonObject>
#include <QMap>
#include <QNetworkAccessManager>
#include <QProcess>
#include <QProcessEnvironment>
#include <QTcpServer>

#include <sys/types.h>

namespace TestInternet {
class Session;
}

namespace E2e {

inline constexpr int kHostToolTimeoutMs = 15000; // ip, nft
inline constexpr int kExecGraceMs = 30000; // past a guest command's own timeout
inline constexpr int kExecTimeoutS = 60; // a guest command's, unless told
inline constexpr int kFetchTimeoutS = 20; // a fetch that must succeed
inline constexpr int kProbeTimeoutS = 5; // an attempt that must not be answered (nc's connect timeout)
inline constexpr quint16 kGuestHttpPort = 8080; // busybox httpd in the guests
inline constexpr char kListenerGreeting[] = "host-listener";

QByteArray json(const QJsonObject &o);
QJsonObject policyJson(const QString &text);
// An address without its "/prefix".
QString bare(const QString &address);
// /api/v1/vms/<vm>[/<rest>]
QString vmPath(const QString &vm, const QString &rest = {});

// A host tool's stdout; *error says why not when it fails (its exit, stderr
// and stdout).
QByteArray hostRun(const QString &program, const QStringList &args, QString *error = nullptr, const QByteArray &input = {}, int timeoutMs = kHostToolTimeoutMs,
                   const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());

// A table of the test's own that drops what a VM would send off this machine
// (anywhere but the test internet), should the product's filter fail: a
// product bug must not put a packet on the machine's network. Its drop rules
// count: what they dropped is what the product let through. Removed by the
// test's cleanupTestCase and by its ctest cleanup step after a crash.
class GuardTable {
public:
    // A forward chain after the product's filter: what a tap ("mvs*") sends
    // to anything but another tap and the test internet.
    static GuardTable forTaps(const QString &name);
    // An output chain: what sockets of `uid` send to anything but loopback
    // and the test internet (a rootless service: pasta's sockets are its).
    static GuardTable forUid(const QString &name, uid_t uid);

    // Empty when the table is in place (a leftover of the name replaced),
    // else why not.
    QString add();
    bool isAdded() const { return m_added; }
    // Packets its rules dropped (-1: unreadable).
    qint64 drops() const;
    void remove();

private:
    GuardTable(const QString &name, const QString &chain);

    QString m_name;
    QString m_chain; // the chain's text, in `table inet <name> { ... }`
    bool m_added = false;
};

// A guest command's answer (POST .../exec).
struct Exec {
    int exitCode = -1;
    QString out;
    QString err;
    QString describe() const;
};

// A VM's network as GET .../network answers it.
struct GuestNetwork {
    QString address; // bare
    QString gateway;
    QString mac; // lower case
    qint64 allowed = -1;
    qint64 denied = -1;
    QStringList denials; // "address protocol port"
};

// The REST API of a service on 127.0.0.1 (in the process or a subprocess),
// and the guests' network through it.
class VmApi {
public:
    void setService(quint16 port, const QByteArray &token);
    quint16 port() const { return m_port; }

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000);
    // Several requests at once (method, path; with bodies by index); their
    // answers in order.
    QList<TestApi::Reply> callAll(const QList<std::pair<QByteArray, QString>> &requests, const QList<QByteArray> &bodies, int timeoutMs);

    Exec exec(const QString &vm, const QString &command, int timeoutS = kExecTimeoutS);
    // What the guest got for GET http://<target>/ (trimmed), or "<why not>".
    QString fetch(const QString &vm, const QString &target, int timeoutS = kFetchTimeoutS);
    // Tries every "address:port" at once from the guest (an HTTP request,
    // kProbeTimeoutS to connect); the first line each one answered, by
    // target. A target that answered nothing is absent.
    QMap<QString, QString> probe(const QString &vm, const QStringList &targets);
    // busybox httpd on kGuestHttpPort serving the VM's `hostname`. Empty when
    // it runs.
    QString serveHttp(const QString &vm);

    // GET .../network; *error says why it could not be read or what it lacks.
    GuestNetwork network(const QString &vm, QString *error = nullptr);
    // mvs_vm_network_connections_total{vm=..., verdict=...} from /metrics, or -1.
    qint64 metric(const QString &vm, const QString &verdict);
    // <family>{vm="<vm>"} from /metrics (a per-VM series without other
    // labels), or -1.
    qint64 vmMetric(const QString &family, const QString &vm);
    // Empty when the policy was replaced and reads back as given, else why not.
    QString putPolicy(const QString &vm, const QString &policy);

private:
    QNetworkAccessManager m_nam;
    quint16 m_port = 0;
    QByteArray m_token;
};

// What probe() got, for messages: "answered: target: first line; ...".
QString describeAnswers(const QMap<QString, QString> &answered);

// Checks of a VM whose policy (`policy`) allows allowed.test and not
// denied.test, on the test internet; they fail the current test function
// (the caller checks QTest::currentTestFailed()).
//
// denied.test's address is unreachable by IP: the fetch fails and the test
// host logs no request.
void checkUnreachableByIp(VmApi &api, const TestInternet::Session &internet, const QString &vm);
// A replaced policy applies to the next connection, both ways: allowing
// denied.test's address lets the next fetch through (allowed.test still
// answers), `policy` put back blocks the next one, and allowed.test answers.
void checkPolicyReplacedAtRuntime(VmApi &api, const TestInternet::Session &internet, const QString &vm, const QString &policy);

// A TCP listener on one host address: greets each connection with a line
// and closes it, and remembers who connected.
class HostListener {
public:
    bool listen(const QHostAddress &address);
    // "address:port" of where it listens, or of `address` at its port.
    QString target() const;
    QString target(const QString &address) const;
    quint16 port() const { return m_server.serverPort(); }
    QStringList peers;

private:
    QTcpServer m_server;
};

// `<command> --serve --listen 127.0.0.1:<a free port>` as a subprocess (the
// command: microvm-sandbox, or a launcher before it); SIGTERM when the test
// dies, and (then SIGKILL) when it is destroyed still running.
class Serve {
public:
    Serve(const QProcessEnvironment &env, const QStringList &command, int startTimeoutMs, int stopTimeoutMs);
    ~Serve();
    // True once it answers /api/v1/health.
    bool start();
    void kill();
    // SIGTERM: true when it exits 0.
    bool stop();
    quint16 port() const { return m_port; }
    // Its output's end.
    QString log();

private:
    QProcess m_process;
    QStringList m_command;
    int m_startTimeoutMs;
    int m_stopTimeoutMs;
    quint16 m_port = 0;
    QByteArray m_log;
};

} // namespace E2e
