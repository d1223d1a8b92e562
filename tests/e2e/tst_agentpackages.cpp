// pip install and npm install on the agent template reach what the VM's
// policy allows (issue 16), on real QEMU guests with NICs from the service's
// host network (TAPs, nftables, a dnsmasq per VM), through the REST service
// in this process, against the test internet (tests/net/testinternet.h). Its
// package hosts serve a PEP 503 index and a static npm registry holding one
// tiny package, mvs-tiny (tests/net/packageindex.py builds the wheel and the
// tarball when the hosts start), as pypi.test and npm.test, and as pypi.org
// and registry.npmjs.org, the agent template's own names, at TEST-NET-2
// addresses. The VMs' resolvers ask only the test internet's DNS
// (MVS_NET_UPSTREAMS's option: their configuration names no other server),
// so no query leaves the machine. Needs root.
//
//  1. policy default deny + allow pypi.test and npm.test (port 80): pypi.org
//     and registry.npmjs.org do not resolve and pip and npm fail there
//     (the hosts log no request); by address they are refused and listed in
//     GET .../network's denials; then `pip install --index-url
//     http://pypi.test/simple/ mvs-tiny` and `npm install --registry
//     http://npm.test/ mvs-tiny` succeed, and `import mvs_tiny` and
//     require('mvs-tiny') work.
//  2. the template's own policy (the create request names no network): the
//     VM's policy is agent.yaml's; pypi.test, npm.test and allowed.test do
//     not resolve (and the test DNS is not even asked), pip and npm fail
//     there and by address; pip and npm install from pypi.org and
//     registry.npmjs.org, which the test DNS answered.
//
// A guard table (kGuardTable, its own ctest cleanup step) drops whatever a
// VM would send off this machine should the product's filter fail; its
// counters stay at zero.

#include "e2eservice.h"
#include "e2efixture.h"
#include "netcheck.h"
#include "net/testinternet.h"
#include "tests/apicall.h"

#include "core/net/hostnetwork.h"
#include "core/vm/vmnetworks.h"

#include <QDirIterator>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QTemporaryDir>

#include <memory>

using namespace E2e;
using namespace TestInternet;

namespace {

constexpr char kInstance[] = "e2epkgs";
// Drops what a VM's tap sends off this machine (anywhere but the test
// internet): a product bug must not put a packet on the machine's network.
constexpr char kGuardTable[] = "pkgsguard";
// The first create may build the agent root disk (debootstrap) before booting.
constexpr int kCreateTimeoutMs = 40 * 60 * 1000 + 180000;
constexpr int kOpTimeoutMs = 240000; // a delete under TCG on a busy host
constexpr int kInstallTimeoutS = 240; // pip or npm under TCG on a busy host
constexpr int kRefusedTimeoutS = 5; // pip's and npm's connect timeout where the filter drops
constexpr int kCommandTimeoutS = 120;

const QString kPackagePolicy = QStringLiteral(R"({"default":"deny","allow":[{"domain":"pypi.test","ports":[80]},{"domain":"npm.test","ports":[80]}]})");

// The guest's pip installing the tiny package from http://<host>/simple/
// (a plain-HTTP index needs --trusted-host, as pip says). One retry: pip
// prints why a connection failed only when it retries.
QString pipInstall(const QString &host, int connectTimeoutS)
{
    return QStringLiteral("python3 -m pip install --disable-pip-version-check --no-cache-dir --root-user-action=ignore --retries 1 --timeout %1 "
                          "--trusted-host %2 --index-url http://%2/simple/ %3")
        .arg(connectTimeoutS)
        .arg(host, QLatin1String(kPackageName));
}

// The guest's npm installing the tiny package from http://<host>/ into a
// project directory of its own (a lock file of another registry is not reused).
QString npmInstall(const QString &host, int connectTimeoutS)
{
    return QStringLiteral("mkdir -p /root/npm-%1 && cd /root/npm-%1 && npm install --no-audit --no-fund --no-update-notifier --fetch-retries=0 "
                          "--fetch-timeout=%2 --registry http://%1/ %3")
        .arg(host)
        .arg(connectTimeoutS * 1000)
        .arg(QLatin1String(kPackageName));
}

QString pythonImport()
{
    return QStringLiteral("python3 -c 'import %1; print(%1.ANSWER)'").arg(QLatin1String(kPythonModule));
}

QString nodeRequire(const QString &host)
{
    return QStringLiteral("cd /root/npm-%1 && node -e \"console.log(require('%2').answer)\"").arg(host, QLatin1String(kPackageName));
}

} // namespace

class TestAgentPackages : public QObject {
    Q_OBJECT

    TestInternet::Session m_internet;
    QTemporaryDir m_home; // tst_agentpackages-XXXXXX: the reaper's prefix
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    VmApi m_api; // to m_service
    GuardTable m_guard = GuardTable::forTaps(QLatin1String(kGuardTable));

    // Empty when the VM was created and runs, else why not. network: the
    // create request's, or none at all (the template's).
    QString create(const QString &name, const QJsonObject &network)
    {
        QJsonObject body{{QStringLiteral("name"), name}, {QStringLiteral("template"), QStringLiteral("agent")}};
        if (!network.isEmpty())
            body.insert(QStringLiteral("network"), network);
        const auto r = m_api.call("POST", QStringLiteral("/api/v1/vms"), json(body), kCreateTimeoutMs);
        return r.status == 201 ? QString() : QStringLiteral("create %1: %2").arg(name, r.describe());
    }
    void remove(const QString &name) { m_api.call("DELETE", vmPath(name), {}, kOpTimeoutMs); }

    // A guest command; its output trimmed (pip's and node's answers are
    // compared whole).
    Exec exec(const QString &vm, const QString &command, int timeoutS = kCommandTimeoutS)
    {
        Exec e = m_api.exec(vm, command, timeoutS);
        e.out = e.out.trimmed();
        e.err = e.err.trimmed();
        return e;
    }

    // Requests the test host `name` logged (from any client).
    qsizetype requestsTo(const QString &name) const { return m_internet.httpLog().count(QByteArray(name.toLatin1() + ' ')); }
    // Queries for `name` the test DNS logged.
    qsizetype queriesFor(const QString &name) const { return m_internet.dnsLog().count(QByteArray("] " + name.toLatin1() + " from ")); }

    void checkResolves(const QString &vm, const QString &name, const QString &address);
    void checkRefusedByName(const QString &vm, const QString &pipHost, const QString &npmHost);
    void checkRefusedByAddress(const QString &vm, const QString &pipAddress, const QString &npmAddress);
    void checkInstalls(const QString &vm, const QString &pipHost, const QString &npmHost);

    // Empty when every resolver of this instance asks the test DNS and
    // nothing else (no resolv.conf, every server= line kDnsAddress).
    QString resolversAskOnlyTheTestDns()
    {
        QStringList problems;
        int configs = 0;
        const QRegularExpression name(QStringLiteral("mvs_%1_v[0-9]+\\.conf$").arg(QLatin1String(kInstance)));
        for (QDirIterator it(m_home.filePath(QStringLiteral("net")), QDir::Files); it.hasNext();) {
            const QString path = it.next();
            if (!name.match(path).hasMatch())
                continue;
            ++configs;
            QFile f(path);
            if (!f.open(QIODevice::ReadOnly)) {
                problems << QStringLiteral("cannot read ") + path;
                continue;
            }
            const QString text = QString::fromUtf8(f.readAll());
            if (!text.contains(QLatin1String("\nno-resolv\n")))
                problems << path + QStringLiteral(" may read resolv.conf");
            for (const QString &line : text.split(QLatin1Char('\n')))
                if (line.startsWith(QLatin1String("server=")) && !line.endsWith(QLatin1Char('/') + QLatin1String(kDnsAddress))
                    && line != QStringLiteral("server=") + QLatin1String(kDnsAddress))
                    problems << path + QStringLiteral(": ") + line;
        }
        if (configs == 0)
            problems
                << QStringLiteral("no resolver configuration of instance %1 under %2").arg(QLatin1String(kInstance), m_home.filePath(QStringLiteral("net")));
        return problems.join(QStringLiteral("; "));
    }

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();

    void policyAllowsThePackageHosts();
    void templatePolicy();
};

void TestAgentPackages::initTestCase()
{
    initEnvironment();
    QVERIFY(m_home.isValid());
    TESTINTERNET_UP_OR_SKIP(m_internet);
    const QString guard = m_guard.add();
    QVERIFY2(guard.isEmpty(), qPrintable(guard));
    const QString problem = startWithHostNetwork(m_service, &m_driver, m_home, QLatin1String(kInstance), QLatin1String(kDnsAddress));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    m_api.setService(m_service.port(), m_service.token());
}

void TestAgentPackages::cleanupTestCase()
{
    m_service.stop();
    if (m_guard.isAdded())
        m_guard.remove();
    TESTINTERNET_DOWN(m_internet);
}

// `name` resolves in the guest to `address`.
void TestAgentPackages::checkResolves(const QString &vm, const QString &name, const QString &address)
{
    const Exec e = exec(vm, QStringLiteral("getent hosts ") + name);
    QVERIFY2(e.exitCode == 0 && e.out.startsWith(address + QLatin1Char(' ')), qPrintable(name + QStringLiteral(": ") + e.describe()));
}

// The names do not resolve; pip and npm fail there, and their hosts see no request.
void TestAgentPackages::checkRefusedByName(const QString &vm, const QString &pipHost, const QString &npmHost)
{
    const qsizetype pipRequests = requestsTo(pipHost), npmRequests = requestsTo(npmHost);
    for (const QString &name : {pipHost, npmHost}) {
        const Exec e = exec(vm, QStringLiteral("getent hosts ") + name);
        QVERIFY2(e.exitCode != 0 && e.out.isEmpty(), qPrintable(name + QStringLiteral(" resolved: ") + e.describe()));
    }
    const Exec pip = exec(vm, pipInstall(pipHost, kRefusedTimeoutS), kCommandTimeoutS);
    QVERIFY2(pip.exitCode == 1 && QString(pip.out + pip.err).contains(QLatin1String("Name or service not known")), qPrintable(pip.describe()));
    const Exec npm = exec(vm, npmInstall(npmHost, kRefusedTimeoutS), kCommandTimeoutS);
    QVERIFY2(npm.exitCode != 0 && QString(npm.out + npm.err).contains(QLatin1String("ENOTFOUND")), qPrintable(npm.describe()));
    QCOMPARE(requestsTo(pipHost), pipRequests);
    QCOMPARE(requestsTo(npmHost), npmRequests);
}

// pip and npm fail by address; the denials show in GET .../network.
void TestAgentPackages::checkRefusedByAddress(const QString &vm, const QString &pipAddress, const QString &npmAddress)
{
    QString error;
    const qint64 deniedBefore = m_api.network(vm, &error).denied;
    QVERIFY2(error.isEmpty() && deniedBefore >= 0, qPrintable(error));
    const qsizetype logged = m_internet.httpLog().size();
    const Exec pip = exec(vm, pipInstall(pipAddress, kRefusedTimeoutS), kCommandTimeoutS);
    QVERIFY2(pip.exitCode == 1 && QString(pip.out + pip.err).contains(QLatin1String("(from versions: none)")), qPrintable(pip.describe()));
    const Exec npm = exec(vm, npmInstall(npmAddress, kRefusedTimeoutS), kCommandTimeoutS);
    QVERIFY2(npm.exitCode != 0, qPrintable(npm.describe()));
    QCOMPARE(m_internet.httpLog().size(), logged); // no test host was reached
    const GuestNetwork network = m_api.network(vm, &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    const qint64 deniedAfter = network.denied;
    const QStringList after = network.denials;
    qInfo("%s: denied %lld -> %lld; denials: %s", qPrintable(vm), deniedBefore, deniedAfter, qPrintable(after.join(QStringLiteral(", "))));
    QVERIFY2(deniedAfter > deniedBefore, qPrintable(QStringLiteral("%1 -> %2").arg(deniedBefore).arg(deniedAfter)));
    for (const QString &address : {pipAddress, npmAddress})
        QVERIFY2(after.contains(address + QStringLiteral(" tcp 80")), qPrintable(address + QStringLiteral(" not in ") + after.join(QStringLiteral(", "))));
}

// pip and npm install the tiny package from the hosts, which log the
// requests; Python imports it and node requires it.
void TestAgentPackages::checkInstalls(const QString &vm, const QString &pipHost, const QString &npmHost)
{
    const QString answer = QString::number(kPackageAnswer);
    const Exec pip = exec(vm, pipInstall(pipHost, kInstallTimeoutS), kInstallTimeoutS);
    QVERIFY2(pip.exitCode == 0 && pip.out.contains(QLatin1String("Successfully installed mvs-tiny-1.0.0")), qPrintable(pip.describe()));
    const Exec imported = exec(vm, pythonImport());
    QVERIFY2(imported.exitCode == 0 && imported.out == answer, qPrintable(imported.describe()));
    const Exec npm = exec(vm, npmInstall(npmHost, kInstallTimeoutS), kInstallTimeoutS);
    QVERIFY2(npm.exitCode == 0 && npm.out.contains(QLatin1String("added 1 package")), qPrintable(npm.describe()));
    const Exec required = exec(vm, nodeRequire(npmHost));
    QVERIFY2(required.exitCode == 0 && required.out == answer, qPrintable(required.describe()));
    const QByteArray log = m_internet.httpLog();
    const QByteArrayList requests{QByteArray(pipHost.toLatin1() + " 198.51.100.1 \"GET /simple/mvs-tiny/ HTTP/1.1\" 200"),
                                  QByteArray(pipHost.toLatin1() + " 198.51.100.1 \"GET /files/mvs_tiny-1.0.0-py3-none-any.whl HTTP/1.1\" 200"),
                                  QByteArray(npmHost.toLatin1() + " 198.51.100.1 \"GET /mvs-tiny HTTP/1.1\" 200"),
                                  QByteArray(npmHost.toLatin1() + " 198.51.100.1 \"GET /mvs-tiny/-/mvs-tiny-1.0.0.tgz HTTP/1.1\" 200")};
    for (const QByteArray &request : requests)
        QVERIFY2(log.contains(request), qPrintable(QString::fromLatin1(request) + QStringLiteral(" not in the log:\n") + QString::fromLatin1(log.right(3000))));
}

// Case 1: a policy allowing pypi.test and npm.test only.
void TestAgentPackages::policyAllowsThePackageHosts()
{
    const QString vm = QStringLiteral("pkgs");
    const QJsonObject network{{QStringLiteral("mode"), QStringLiteral("egress")},
                              {QStringLiteral("policy"), QJsonDocument::fromJson(kPackagePolicy.toUtf8()).object()}};
    const auto removeVm = qScopeGuard([&] { remove(vm); });
    const QString created = create(vm, network);
    QVERIFY2(created.isEmpty(), qPrintable(created));

    checkResolves(vm, QLatin1String(kPypiName), QLatin1String(kPypiAddress));
    checkResolves(vm, QLatin1String(kNpmName), QLatin1String(kNpmAddress));
    checkRefusedByName(vm, QLatin1String(kPypiOrgName), QLatin1String(kNpmjsName));
    if (QTest::currentTestFailed())
        return;
    checkRefusedByAddress(vm, QLatin1String(kPypiOrgAddress), QLatin1String(kNpmjsAddress));
    if (QTest::currentTestFailed())
        return;
    checkInstalls(vm, QLatin1String(kPypiName), QLatin1String(kNpmName));
    if (QTest::currentTestFailed())
        return;
    const QString resolvers = resolversAskOnlyTheTestDns();
    QVERIFY2(resolvers.isEmpty(), qPrintable(resolvers));
    QCOMPARE(m_guard.drops(), 0);
}

// Case 2: the create request names no network: agent.yaml's policy.
void TestAgentPackages::templatePolicy()
{
    const QString vm = QStringLiteral("tpl");
    const auto removeVm = qScopeGuard([&] { remove(vm); });
    const QString created = create(vm, {});
    QVERIFY2(created.isEmpty(), qPrintable(created));
    const auto policy = m_api.call("GET", vmPath(vm, QStringLiteral("network/policy")));
    QVERIFY2(policy.status == 200, qPrintable(policy.describe()));
    QCOMPARE(policy.json[QStringLiteral("default")].toString(), QStringLiteral("deny"));
    QStringList domains;
    for (const QJsonValue &rule : policy.json[QStringLiteral("allow")].toArray())
        domains << rule[QStringLiteral("domain")].toString();
    QCOMPARE(
        domains,
        (QStringList{QStringLiteral("pypi.org"), QStringLiteral("files.pythonhosted.org"), QStringLiteral("registry.npmjs.org"), QStringLiteral("github.com"),
                     QStringLiteral("githubusercontent.com"), QStringLiteral("deb.debian.org"), QStringLiteral("security.debian.org")}));

    // Names it does not list: NXDOMAIN from the VM's own resolver, which
    // does not even ask the test DNS.
    const qsizetype asked = queriesFor(QLatin1String(kPypiName)) + queriesFor(QLatin1String(kNpmName)) + queriesFor(QLatin1String(kAllowedName));
    const Exec allowedTest = exec(vm, QStringLiteral("getent hosts ") + QLatin1String(kAllowedName));
    QVERIFY2(allowedTest.exitCode != 0 && allowedTest.out.isEmpty(), qPrintable(allowedTest.describe()));
    checkRefusedByName(vm, QLatin1String(kPypiName), QLatin1String(kNpmName));
    if (QTest::currentTestFailed())
        return;
    QCOMPARE(queriesFor(QLatin1String(kPypiName)) + queriesFor(QLatin1String(kNpmName)) + queriesFor(QLatin1String(kAllowedName)), asked);
    checkRefusedByAddress(vm, QLatin1String(kPypiAddress), QLatin1String(kNpmAddress));
    if (QTest::currentTestFailed())
        return;

    // Names it lists: answered by the test DNS, installed from.
    checkResolves(vm, QLatin1String(kPypiOrgName), QLatin1String(kPypiOrgAddress));
    checkResolves(vm, QLatin1String(kNpmjsName), QLatin1String(kNpmjsAddress));
    QVERIFY2(queriesFor(QLatin1String(kPypiOrgName)) > 0 && queriesFor(QLatin1String(kNpmjsName)) > 0, m_internet.dnsLog().right(3000).constData());
    checkInstalls(vm, QLatin1String(kPypiOrgName), QLatin1String(kNpmjsName));
    if (QTest::currentTestFailed())
        return;
    const QString resolvers = resolversAskOnlyTheTestDns();
    QVERIFY2(resolvers.isEmpty(), qPrintable(resolvers));
    QCOMPARE(m_guard.drops(), 0);
}

QTEST_GUILESS_MAIN(TestAgentPackages)
#include "tst_agentpackages.moc"
