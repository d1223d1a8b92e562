// `microvm-sandbox` as a user runs it: the main job (run a command in a fresh
// VM), exit codes, streams, and Ctrl-C tearing everything down.

#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmmcredentials.h"
#include "tests/vmmprocesses.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

namespace {

struct Run {
    int exitCode = -1;
    QByteArray out;
    QByteArray err;
};

Run runCli(const QStringList &args, const QByteArray &stdinData = {}, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(QStringLiteral(MVS_APP_BINARY), args);
    if (!p.waitForStarted())
        return {};
    if (!stdinData.isNull()) {
        p.write(stdinData);
        p.closeWriteChannel();
    }
    p.waitForFinished(300000);
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(), p.readAllStandardError()};
}

// The VMMs that hold something under this runtime directory (their sockets
// are bound there; a root service's VMM, run as the VMM user with its
// sockets passed as descriptors, names none of it on its command line).
int qemuProcessesUnder(const QString &runtimeDir)
{
    return int(VmmProcesses::vmmsUnder(runtimeDir).size());
}

// What a VM left in the runtime directory: everything but the KVM boot
// probe's verdicts (per-boot state kept in "probes"), which must hold no
// temporary directory either.
QStringList leftoversIn(const QString &runtimeDir)
{
    QStringList left = QDir(runtimeDir).entryList(QDir::AllEntries | QDir::NoDotAndDotDot);
    left.removeAll(QStringLiteral("probes"));
    for (const QString &p : QDir(runtimeDir + QStringLiteral("/probes")).entryList(QDir::AllEntries | QDir::NoDotAndDotDot))
        if (!QFileInfo(runtimeDir + QStringLiteral("/probes/") + p).isFile())
            left << QStringLiteral("probes/") + p;
    return left;
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_runtime{QStringLiteral("/tmp/mvs-cli-XXXXXX")};
    QProcessEnvironment m_env = QProcessEnvironment::systemEnvironment();

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_runtime.isValid());
        m_env.insert(QStringLiteral("MVS_RUNTIME_DIR"), m_runtime.path());
        m_env.insert(QStringLiteral("MVS_AGENT_BINARY"), QStringLiteral(MVS_AGENT_BINARY));
        // Build (or find) the image first, so the tests below time only VMs.
        const Run r = runCli({QStringLiteral("image"), QStringLiteral("build")}, {}, m_env);
        QVERIFY2(r.exitCode == 0, r.err.constData());
    }

    // The first VM on a new machine: an empty cache (so `run` builds the
    // image itself, without `image build` first) and no probe verdict (this
    // runtime directory is new), so `run` probes whether KVM boots a kernel
    // here. The probe must finish once, whatever it finds, and leave one
    // verdict behind that the next run reads. As root with a VMM user that
    // may not open /dev/kvm there is no probe: the verdict kept says why.
    void firstRunOnAFreshMachine()
    {
        QTemporaryDir cache;
        QVERIFY(cache.isValid());
        QProcessEnvironment env = m_env;
        env.insert(QStringLiteral("MVS_CACHE_DIR"), cache.path());
        QVERIFY(!QDir(m_runtime.path() + QStringLiteral("/probes")).exists());
        const Run r = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("echo"), QStringLiteral("first")}, {}, env);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QCOMPARE(r.out, QByteArray("first\n"));
        QVERIFY2(!QDir(cache.path() + QStringLiteral("/images")).isEmpty(), "run built no image");
        QVERIFY2(r.err.count("does not boot under it") <= 1, r.err.constData());
        QVERIFY2(leftoversIn(m_runtime.path()).isEmpty(), qPrintable(leftoversIn(m_runtime.path()).join(QLatin1Char(' '))));
        if (Vmm::kvmStatus().usable) // else there is nothing to probe
            QVERIFY2(!QDir(m_runtime.path() + QStringLiteral("/probes")).entryList(QDir::Files).isEmpty(), "no verdict was kept");
        // As root, a VMM user that may not open /dev/kvm means TCG without the
        // boot probe: that verdict is the one kept, saying why.
        const auto vmmUser = Vmm::vmmCredentials();
        if (vmmUser && *vmmUser && !Vmm::kvmStatusFor(Vmm::kvmStatus(), *vmmUser).usable && Vmm::kvmStatus().usable) {
            QFile verdict(m_runtime.path() + QStringLiteral("/probes/kvm-vmm-user"));
            QVERIFY2(verdict.open(QIODevice::ReadOnly), "no verdict for the VMM user's /dev/kvm");
            QVERIFY(verdict.readAll().startsWith("tcg: the VMM user"));
        }
        // The second run reads the verdict (and the image): no second warning.
        const Run again = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("true")}, {}, env);
        QVERIFY2(again.exitCode == 0, again.err.constData());
        QVERIFY2(!again.err.contains("does not boot under it"), again.err.constData());
    }

    void cachedImageBuildReturnsAtOnce()
    {
        QElapsedTimer t;
        t.start();
        const Run r = runCli({QStringLiteral("image"), QStringLiteral("build")}, {}, m_env);
        QCOMPARE(r.exitCode, 0);
        QVERIFY(r.out.contains("initramfs "));
        QVERIFY2(t.elapsed() < 30000, "a cached image must not be rebuilt");
    }

    void runStreamsOutputAndReturnsExitCode()
    {
        const Run r = runCli(
            {QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("sh"), QStringLiteral("-c"), QStringLiteral("uname -s; echo to-stderr >&2; exit 3")},
            {}, m_env);
        QCOMPARE(r.exitCode, 3);
        QCOMPARE(r.out, QByteArray("Linux\n"));
        QVERIFY2(r.err.contains("to-stderr\n"), r.err.constData());
        QVERIFY(!r.out.contains("to-stderr"));
        QVERIFY2(leftoversIn(m_runtime.path()).isEmpty(), "the VM's runtime directory must be gone");
    }

    void pipedStdinIsForwarded()
    {
        const Run r = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("wc"), QStringLiteral("-c")}, QByteArray(100000, 'x'), m_env);
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.out.trimmed(), QByteArray("100000"));
    }

    void timeoutGives124()
    {
        const Run r = runCli(
            {QStringLiteral("run"), QStringLiteral("--timeout"), QStringLiteral("2"), QStringLiteral("--"), QStringLiteral("sleep"), QStringLiteral("60")}, {},
            m_env);
        QCOMPARE(r.exitCode, 124);
        QVERIFY(r.err.contains("timed out"));
    }

    void badInputGivesClearErrors()
    {
        Run r = runCli({QStringLiteral("run")}, {}, m_env);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("usage"));
        r = runCli({QStringLiteral("run"), QStringLiteral("--template"), QStringLiteral("nope"), QStringLiteral("--"), QStringLiteral("true")}, {}, m_env);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("no template 'nope'"));
        r = runCli({QStringLiteral("run"), QStringLiteral("--driver"), QStringLiteral("vmware"), QStringLiteral("--"), QStringLiteral("true")}, {}, m_env);
        QCOMPARE(r.exitCode, 2);
        QVERIFY(r.err.contains("unknown VMM driver"));
        r = runCli({QStringLiteral("run"), QStringLiteral("--qemu-binary"), QStringLiteral("/nonexistent/qemu"), QStringLiteral("--driver"),
                    QStringLiteral("qemu"), QStringLiteral("--"), QStringLiteral("true")},
                   {}, m_env);
        QCOMPARE(r.exitCode, 125);
        QVERIFY(r.err.contains("apt-get install qemu-system-x86"));
        QProcessEnvironment noAgent = m_env;
        noAgent.insert(QStringLiteral("MVS_AGENT_BINARY"), QStringLiteral("/nonexistent/agent"));
        r = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("true")}, {}, noAgent);
        QCOMPARE(r.exitCode, 125);
        QVERIFY(r.err.contains("/nonexistent/agent"));
        r = runCli({QStringLiteral("frobnicate")}, {}, m_env);
        QCOMPARE(r.exitCode, 2);
    }

    void configFileSelectsTheDriverAndFlagsOverrideIt()
    {
        QTemporaryDir config;
        QProcessEnvironment env = m_env;
        env.insert(QStringLiteral("MVS_CONFIG_DIR"), config.path());
        env.remove(QStringLiteral("MVS_DRIVER"));
        env.remove(QStringLiteral("MVS_QEMU"));
        auto writeConfig = [&](const QByteArray &yaml) {
            QFile f(config.filePath(QStringLiteral("config.yaml")));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(yaml);
        };
        writeConfig("driver: qemu\nqemu_binary: /nonexistent/qemu-from-config\n");
        Run r = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("true")}, {}, env);
        QCOMPARE(r.exitCode, 125);
        QVERIFY2(r.err.contains("/nonexistent/qemu-from-config"), r.err.constData());
        // The flag wins over the config key.
        r = runCli({QStringLiteral("run"), QStringLiteral("--qemu-binary"), QStringLiteral("qemu-system-x86_64"), QStringLiteral("--"), QStringLiteral("true")},
                   {}, env);
        QCOMPARE(r.exitCode, 0);
        writeConfig("driver: [not, a, string]\n");
        r = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("true")}, {}, env);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("config.yaml"), r.err.constData());
        writeConfig("colour: red\n");
        r = runCli({QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("true")}, {}, env);
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("unknown key 'colour'"), r.err.constData());
    }

    void ctrlCTearsEverythingDown()
    {
        QProcess p;
        p.setProcessEnvironment(m_env);
        p.start(QStringLiteral(MVS_APP_BINARY),
                {QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("sh"), QStringLiteral("-c"), QStringLiteral("echo started; sleep 600")});
        QVERIFY(p.waitForStarted());
        QByteArray out;
        QElapsedTimer t;
        t.start();
        while (!out.contains("started") && t.elapsed() < 120000) {
            p.waitForReadyRead(1000);
            out += p.readAllStandardOutput();
        }
        QVERIFY2(out.contains("started"), "the command never ran");
        QCOMPARE(qemuProcessesUnder(m_runtime.path()), 1);
        ::kill(pid_t(p.processId()), SIGINT);
        QVERIFY(p.waitForFinished(10000));
        QCOMPARE(p.exitCode(), 128 + SIGINT);
        QTRY_COMPARE_WITH_TIMEOUT(qemuProcessesUnder(m_runtime.path()), 0, 5000);
        QVERIFY2(leftoversIn(m_runtime.path()).isEmpty(), qPrintable(leftoversIn(m_runtime.path()).join(QLatin1Char(' '))));
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
