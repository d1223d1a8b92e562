// `microvm-sandbox vm ...` and `template list` as a user runs them: the real
// binary against the real service, started here in-process on an ephemeral
// port (so this process keeps its event loop running while a child runs).
// A real guest (QEMU driver): create, exec with streams and exit code, cp
// both ways with a sha256 check, console, stop, rm; --json parsed; a wrong
// token and a service that is not running give one clear line. Snapshots:
// snapshot, snapshots, restore, fork, snapshot-delete on another guest.
// Exposed ports (no guest): expose, ports, unexpose and their errors.

#include "e2efixture.h"

#include "e2eservice.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>

using namespace E2e;

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;

    QByteArray describe() const { return "exit " + QByteArray::number(exitCode) + "\nstdout: " + out.left(2000) + "\nstderr: " + err.left(2000); }
};

constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image

QByteArray sha256(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();
}

} // namespace

class TestClientCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    QProcessEnvironment m_env = QProcessEnvironment::systemEnvironment();

    // Runs the binary while this process's event loop serves its requests.
    Run cli(const QStringList &args, int timeoutMs = 120000)
    {
        QProcess p;
        p.setProcessEnvironment(m_env);
        p.start(QStringLiteral(MVS_APP_BINARY), args);
        QDeadlineTimer deadline(timeoutMs);
        while (p.state() != QProcess::NotRunning && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        if (p.state() != QProcess::NotRunning) {
            p.kill();
            p.waitForFinished(5000);
            return {-2, p.readAllStandardOutput(), p.readAllStandardError() + "\n(the test killed it after its time was up)"};
        }
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(), p.readAllStandardError()};
    }

    QString vmState(const QString &name)
    {
        const Run r = cli({QStringLiteral("vm"), QStringLiteral("list"), QStringLiteral("--json")});
        for (const QJsonValue &v : QJsonDocument::fromJson(r.out).array())
            if (v[QStringLiteral("name")].toString() == name)
                return v[QStringLiteral("state")].toString();
        return QString();
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        if (!d.driver)
            QFAIL(qPrintable(d.skipReason));
        m_driver = d.driver;
        const QString problem = m_service.start(*m_driver);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));

        // The child finds the token in the config dir's file, as a user's does.
        m_env = QProcessEnvironment::systemEnvironment();
        m_env.remove(QStringLiteral("MVS_TOKEN"));
        m_env.insert(QStringLiteral("MVS_URL"), QStringLiteral("http://127.0.0.1:%1").arg(m_service.port()));
    }

    void cleanupTestCase() { m_service.stop(); }

    void serviceDownSaysHowToStartIt()
    {
        const Run r = cli({QStringLiteral("vm"), QStringLiteral("list"), QStringLiteral("--url"), QStringLiteral("http://127.0.0.1:1")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("microvm-sandbox --serve"), r.describe().constData());
        QCOMPARE(r.err.count('\n'), 1);
        QVERIFY(r.out.isEmpty());
    }

    void wrongTokenSaysWhereTheTokenIs()
    {
        const Run r = cli({QStringLiteral("vm"), QStringLiteral("list"), QStringLiteral("--token"), QStringLiteral("not-the-token")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("401"), r.describe().constData());
        QVERIFY2(r.err.contains(Server::TokenStore().path().toUtf8()), r.describe().constData());
        QCOMPARE(r.err.count('\n'), 1);

        QProcessEnvironment saved = m_env;
        m_env.insert(QStringLiteral("MVS_TOKEN"), QStringLiteral("also-wrong"));
        const Run e = cli({QStringLiteral("template"), QStringLiteral("list")});
        m_env = saved;
        QCOMPARE(e.exitCode, 1);
        QVERIFY2(e.err.contains("MVS_TOKEN"), e.describe().constData());
    }

    void usageErrors()
    {
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("frobnicate")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("exec"), QStringLiteral("x")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("code")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("code"), QStringLiteral("x"), QStringLiteral("-c"), QStringLiteral("1"), QStringLiteral("extra")})
                     .exitCode,
                 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("code"), QStringLiteral("x"), QStringLiteral("--timeout"), QStringLiteral("0"), QStringLiteral("-c"),
                      QStringLiteral("1")})
                     .exitCode,
                 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("cp"), QStringLiteral("a"), QStringLiteral("b")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("snapshot")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("snapshot"), QStringLiteral("x"), QStringLiteral("--name")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("snapshots"), QStringLiteral("x"), QStringLiteral("y")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("restore"), QStringLiteral("x")}).exitCode, 2);
        QCOMPARE(
            cli({QStringLiteral("vm"), QStringLiteral("fork"), QStringLiteral("x"), QStringLiteral("s"), QStringLiteral("--count"), QStringLiteral("many")})
                .exitCode,
            2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("snapshot-delete"), QStringLiteral("x")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("resize"), QStringLiteral("x")}).exitCode, 2);
        QCOMPARE(cli({QStringLiteral("vm"), QStringLiteral("resize"), QStringLiteral("x"), QStringLiteral("--memory"), QStringLiteral("lots")}).exitCode, 2);
        const Run help = cli({QStringLiteral("vm"), QStringLiteral("--help")});
        QCOMPARE(help.exitCode, 0);
        for (const char *verb : {"vm snapshot NAME", "vm snapshots NAME", "vm restore NAME SNAP", "vm fork NAME SNAP", "vm snapshot-delete NAME SNAP"})
            QVERIFY2(help.out.contains(verb), help.out.constData());
    }

    void templateList()
    {
        const Run r = cli({QStringLiteral("template"), QStringLiteral("list")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QVERIFY(r.out.startsWith("NAME"));
        QVERIFY(r.out.contains("minimal"));
        const Run j = cli({QStringLiteral("template"), QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(j.exitCode, 0);
        bool found = false;
        for (const QJsonValue &v : QJsonDocument::fromJson(j.out).array())
            found = found || v[QStringLiteral("name")].toString() == QLatin1String("minimal");
        QVERIFY2(found, j.out.constData());
    }

    // pool: what the service pools; new targets refused clearly where they
    // cannot be (this suite's service runs with warm starts off, which the
    // pool needs; tst_vmpool has pooled guests).
    void pool()
    {
        const Run none = cli({QStringLiteral("pool")});
        QVERIFY2(none.exitCode == 0, none.describe().constData());
        QVERIFY2(none.out.contains("no pool (warm starts are off: the pool needs them)"), none.describe().constData());
        const Run json = cli({QStringLiteral("pool"), QStringLiteral("--json")});
        QCOMPARE(json.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(json.out)[QStringLiteral("templates")].toArray().size(), 0);
        const Run cold = cli({QStringLiteral("pool"), QStringLiteral("set"), QStringLiteral("minimal=1")});
        QVERIFY2(cold.exitCode != 0 && cold.err.contains("warm_start"), cold.describe().constData());
        const Run bad = cli({QStringLiteral("pool"), QStringLiteral("set"), QStringLiteral("minimal=lots")});
        QVERIFY2(bad.exitCode == 2 && bad.err.contains("is not <template>=<count>"), bad.describe().constData());
        const Run zero = cli({QStringLiteral("pool"), QStringLiteral("set"), QStringLiteral("minimal=0")});
        QVERIFY2(zero.exitCode == 0, zero.describe().constData());
    }

    // vm expose/ports/unexpose on a VM that is not started (its port is held, waiting).
    void exposedPorts()
    {
        const QString vm = QStringLiteral("cli-p");
        const QString vmCmd = QStringLiteral("vm");
        Run r = cli({vmCmd, QStringLiteral("create"), vm, QStringLiteral("--no-start")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        r = cli({vmCmd, QStringLiteral("expose"), vm, QStringLiteral("8000")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QVERIFY2(r.out.startsWith("guest port 8000 of cli-p is exposed on 127.0.0.1:") && r.out.contains("(waiting)"), r.describe().constData());
        r = cli({vmCmd, QStringLiteral("expose"), vm, QStringLiteral("8000")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("already exposed") && r.err.count('\n') == 1, r.describe().constData());
        r = cli({vmCmd, QStringLiteral("expose"), vm, QStringLiteral("22"), QStringLiteral("--host-address"), QStringLiteral("::1"), QStringLiteral("--json")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object()[QStringLiteral("host_address")].toString(), QStringLiteral("::1"));

        r = cli({vmCmd, QStringLiteral("ports"), vm});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QVERIFY2(lines.at(0).startsWith("GUEST") && lines.at(0).contains("HOST") && lines.at(0).contains("STATE"), r.out.constData());
        QVERIFY2(lines.at(1).startsWith("22 ") && lines.at(1).contains("[::1]:") && lines.at(1).contains("waiting"), r.out.constData());
        QVERIFY2(lines.at(2).startsWith("8000 ") && lines.at(2).contains("127.0.0.1:"), r.out.constData());
        r = cli({vmCmd, QStringLiteral("ports"), vm, QStringLiteral("--json")});
        QCOMPARE(QJsonDocument::fromJson(r.out).array().size(), 2);

        r = cli({vmCmd, QStringLiteral("unexpose"), vm, QStringLiteral("8000")});
        QVERIFY2(r.exitCode == 0 && r.out == "guest port 8000 of cli-p is no longer exposed\n", r.describe().constData());
        r = cli({vmCmd, QStringLiteral("unexpose"), vm, QStringLiteral("8000")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("not exposed"), r.describe().constData());
        r = cli({vmCmd, QStringLiteral("expose"), QStringLiteral("no-such-vm"), QStringLiteral("80")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("no VM named"), r.describe().constData());
        QCOMPARE(cli({vmCmd, QStringLiteral("expose"), vm, QStringLiteral("http")}).exitCode, 2);
        QCOMPARE(cli({vmCmd, QStringLiteral("expose"), vm, QStringLiteral("80"), QStringLiteral("--host-port"), QStringLiteral("-1")}).exitCode, 2);
        QCOMPARE(cli({vmCmd, QStringLiteral("unexpose"), vm}).exitCode, 2);
        QCOMPARE(cli({vmCmd, QStringLiteral("ports")}).exitCode, 2);
        QVERIFY(cli({vmCmd, QStringLiteral("rm"), vm}).exitCode == 0);
    }

    void lifecycleWithARealGuest()
    {
        const QString vm = QStringLiteral("cli-a");
        Run r = cli({QStringLiteral("vm"), QStringLiteral("list"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(QJsonDocument::fromJson(r.out).isArray());
        QCOMPARE(QJsonDocument::fromJson(r.out).array().size(), 0);

        r = cli({QStringLiteral("vm"), QStringLiteral("create"), vm, QStringLiteral("--template"), QStringLiteral("minimal"), QStringLiteral("--json")},
                kCreateTimeoutMs);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        const QJsonObject created = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(created[QStringLiteral("name")].toString(), vm);
        QCOMPARE(created[QStringLiteral("state")].toString(), QStringLiteral("running"));

        r = cli({QStringLiteral("vm"), QStringLiteral("list")});
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.startsWith("NAME"));
        QVERIFY2(r.out.contains("cli-a") && r.out.contains("running"), r.out.constData());

        // exec: streams to the right place, the command's exit code
        r = cli({QStringLiteral("vm"), QStringLiteral("exec"), vm, QStringLiteral("--"), QStringLiteral("sh"), QStringLiteral("-c"),
                 QStringLiteral("uname -s; echo to-stderr >&2; exit 7")});
        QCOMPARE(r.exitCode, 7);
        QCOMPARE(r.out, QByteArray("Linux\n"));
        QCOMPARE(r.err, QByteArray("to-stderr\n"));
        r = cli(
            {QStringLiteral("vm"), QStringLiteral("exec"), QStringLiteral("--json"), vm, QStringLiteral("--"), QStringLiteral("echo"), QStringLiteral("hi")});
        QCOMPARE(r.exitCode, 0);
        const QJsonObject ex = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(ex[QStringLiteral("exit_code")].toInt(-1), 0);
        QCOMPARE(ex[QStringLiteral("stdout")].toString(), QStringLiteral("hi\n"));

        // code: the minimal template has no Python, and the error says where to run code
        r = cli({QStringLiteral("vm"), QStringLiteral("code"), vm, QStringLiteral("--lang"), QStringLiteral("bash"), QStringLiteral("-c"),
                 QStringLiteral("echo hi")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("agent template"), r.describe().constData());

        // cp both ways: a few MiB of random bytes, same sha256 after the trip
        QByteArray blob(5 * 1024 * 1024 + 123, Qt::Uninitialized);
        QRandomGenerator::global()->fillRange(reinterpret_cast<quint32 *>(blob.data()), blob.size() / 4);
        const QString local = m_home.filePath(QStringLiteral("blob"));
        const QString back = m_home.filePath(QStringLiteral("blob.back"));
        {
            QFile f(local);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(blob);
        }
        r = cli({QStringLiteral("vm"), QStringLiteral("cp"), local, vm + QStringLiteral(":/tmp/dir/blob")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        r = cli({QStringLiteral("vm"), QStringLiteral("exec"), vm, QStringLiteral("--"), QStringLiteral("wc"), QStringLiteral("-c"),
                 QStringLiteral("/tmp/dir/blob")});
        QVERIFY2(r.exitCode == 0 && r.out.trimmed().startsWith(QByteArray::number(blob.size())), r.describe().constData());
        r = cli({QStringLiteral("vm"), QStringLiteral("cp"), vm + QStringLiteral(":/tmp/dir/blob"), back});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QFile f(back);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(sha256(f.readAll()), sha256(blob));
        r = cli({QStringLiteral("vm"), QStringLiteral("cp"), vm + QStringLiteral(":/tmp/nope"), back});
        QCOMPARE(r.exitCode, 1);
        QCOMPARE(r.err.count('\n'), 1);

        r = cli({QStringLiteral("vm"), QStringLiteral("console"), vm});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QVERIFY2(!r.out.isEmpty(), "the console log of a booted guest is not empty");

        // resize: the running guest's memory through its balloon, shown as now/booted
        r = cli({QStringLiteral("vm"), QStringLiteral("resize"), vm, QStringLiteral("--memory"), QStringLiteral("192")});
        QVERIFY2(r.exitCode == 0 && r.out.contains("192/256 MiB"), r.describe().constData());
        r = cli({QStringLiteral("vm"), QStringLiteral("resize"), vm, QStringLiteral("--vcpus"), QStringLiteral("2")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("give it max_vcpus"), r.describe().constData());
        r = cli({QStringLiteral("vm"), QStringLiteral("resize"), vm, QStringLiteral("--memory"), QStringLiteral("256"), QStringLiteral("--json")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object()[QStringLiteral("memory_current_mb")].toInt(), 256);

        r = cli({QStringLiteral("vm"), QStringLiteral("stop"), vm}, 60000);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QCOMPARE(vmState(vm), QStringLiteral("stopped"));
        // Stopped: room for vCPUs added while it runs, from its next start.
        r = cli({QStringLiteral("vm"), QStringLiteral("resize"), vm, QStringLiteral("--max-vcpus"), QStringLiteral("2"), QStringLiteral("--json")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QCOMPARE(QJsonDocument::fromJson(r.out).object()[QStringLiteral("max_vcpus")].toInt(), 2);
        r = cli({QStringLiteral("vm"), QStringLiteral("resize"), vm, QStringLiteral("--max-vcpus"), QStringLiteral("two")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("--max-vcpus take integers"), r.describe().constData());
        r = cli({QStringLiteral("vm"), QStringLiteral("exec"), vm, QStringLiteral("--"), QStringLiteral("true")});
        QCOMPARE(r.exitCode, 1);

        r = cli({QStringLiteral("vm"), QStringLiteral("rm"), vm}, 60000);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QCOMPARE(vmState(vm), QString());
        r = cli({QStringLiteral("vm"), QStringLiteral("rm"), vm});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("cli-a"), r.describe().constData());
    }

    void snapshotsWithARealGuest()
    {
        const QString vm = QStringLiteral("cli-s");
        const QString vmCmd = QStringLiteral("vm");
        Run r = cli({vmCmd, QStringLiteral("create"), vm}, kCreateTimeoutMs);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        r = cli({vmCmd, QStringLiteral("exec"), vm, QStringLiteral("--"), QStringLiteral("sh"), QStringLiteral("-c"),
                 QStringLiteral("echo before > /root/state.txt")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());

        // snapshot: --json gives the snapshot object, the text one line
        r = cli({vmCmd, QStringLiteral("snapshot"), vm, QStringLiteral("--name"), QStringLiteral("one"), QStringLiteral("--json")}, 300000);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        const QJsonObject one = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(one[QStringLiteral("name")].toString(), QStringLiteral("one"));
        QCOMPARE(one[QStringLiteral("vm")].toString(), vm);
        QVERIFY(one[QStringLiteral("size_bytes")].toInteger() > 0);
        r = cli({vmCmd, QStringLiteral("exec"), vm, QStringLiteral("--"), QStringLiteral("sh"), QStringLiteral("-c"),
                 QStringLiteral("echo after > /root/state.txt")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        r = cli({vmCmd, QStringLiteral("snapshot"), vm}, 300000);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QVERIFY2(r.out.startsWith("snapshot snap-") && r.out.contains(" of cli-s") && r.out.count('\n') == 1, r.describe().constData());
        r = cli({vmCmd, QStringLiteral("snapshot"), vm, QStringLiteral("--name"), QStringLiteral("one")}, 300000);
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("one") && r.err.count('\n') == 1, r.describe().constData());

        // snapshots: a table (oldest first), or the array
        r = cli({vmCmd, QStringLiteral("snapshots"), vm});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QVERIFY2(lines.at(0).startsWith("NAME") && lines.at(0).contains("CREATED") && lines.at(0).contains("PARENT") && lines.at(0).contains("SIZE"),
                 r.out.constData());
        QVERIFY2(lines.at(1).startsWith("one ") && lines.at(1).contains(" - ") && lines.at(1).contains("iB"), r.out.constData());
        QVERIFY2(lines.at(2).startsWith("snap-") && lines.at(2).contains(" one "), r.out.constData());
        r = cli({vmCmd, QStringLiteral("snapshots"), vm, QStringLiteral("--json")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        const QJsonArray list = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(list.size(), 2);
        QCOMPARE(list.at(0)[QStringLiteral("name")].toString(), QStringLiteral("one"));
        QCOMPARE(list.at(1)[QStringLiteral("parent")].toString(), QStringLiteral("one"));
        const QString second = list.at(1)[QStringLiteral("name")].toString();

        // restore: the VM as `vm start` prints it; the file as it was
        r = cli({vmCmd, QStringLiteral("restore"), vm, QStringLiteral("one")}, 300000);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QVERIFY2(r.out.startsWith("NAME") && r.out.contains("cli-s") && r.out.contains("running"), r.describe().constData());
        r = cli({vmCmd, QStringLiteral("exec"), vm, QStringLiteral("--"), QStringLiteral("cat"), QStringLiteral("/root/state.txt")});
        QCOMPARE(r.out, QByteArray("before\n"));
        r = cli({vmCmd, QStringLiteral("restore"), vm, QStringLiteral("nope"), QStringLiteral("--json")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("nope") && r.err.count('\n') == 1, r.describe().constData());

        // fork: one new VM, listed; it has the second snapshot's file
        r = cli({vmCmd, QStringLiteral("fork"), vm, second, QStringLiteral("--count"), QStringLiteral("1"), QStringLiteral("--prefix"), QStringLiteral("clifk"),
                 QStringLiteral("--json")},
                300000);
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        const QJsonArray forks = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(forks.size(), 1);
        QCOMPARE(forks.at(0)[QStringLiteral("name")].toString(), QStringLiteral("clifk-1"));
        QCOMPARE(forks.at(0)[QStringLiteral("forked_from")].toString(), vm + QLatin1Char('/') + second);
        QCOMPARE(vmState(QStringLiteral("clifk-1")), QStringLiteral("running"));
        r = cli({vmCmd, QStringLiteral("exec"), QStringLiteral("clifk-1"), QStringLiteral("--"), QStringLiteral("cat"), QStringLiteral("/root/state.txt")});
        QCOMPARE(r.out, QByteArray("after\n"));
        r = cli({vmCmd, QStringLiteral("fork"), vm, second, QStringLiteral("--count"), QStringLiteral("17")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.err.contains("count") && r.err.count('\n') == 1, r.describe().constData());
        QCOMPARE(cli({vmCmd, QStringLiteral("rm"), QStringLiteral("clifk-1")}, 60000).exitCode, 0);

        // snapshot-delete, then the list has it no more
        r = cli({vmCmd, QStringLiteral("snapshot-delete"), vm, QStringLiteral("one")});
        QVERIFY2(r.exitCode == 0, r.describe().constData());
        QCOMPARE(r.out, QByteArray("deleted snapshot one of cli-s\n"));
        r = cli({vmCmd, QStringLiteral("snapshots"), vm, QStringLiteral("--json")});
        const QJsonArray after = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(after.size(), 1);
        QCOMPARE(after.at(0)[QStringLiteral("name")].toString(), second);
        r = cli({vmCmd, QStringLiteral("snapshot-delete"), vm, QStringLiteral("one")});
        QCOMPARE(r.exitCode, 1);

        QCOMPARE(cli({vmCmd, QStringLiteral("rm"), vm}, 60000).exitCode, 0);
    }
};

QTEST_GUILESS_MAIN(TestClientCli)
#include "tst_clientcli.moc"
