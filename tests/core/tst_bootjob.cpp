// BootJob's steps against a VMM test double (tests/fakevmm.h: no QEMU runs)
// and a test Host standing in for the VM: the image and disk steps, the VMM
// start, the agent (the real microvm-agent on the host, on a Unix socket),
// a restore's saved state, an adoption, and what ends a job early: a failing
// VMM, an agent that never answers, a restored guest whose clock step fails
// or hangs, and an abandon in the middle of a step.

#include "e2efixture.h"

#include "tests/fakevmm.h"
#include "tests/hostagent.h"
#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/vm/bootjob.h"

#include <QDateTime>
#include <QElapsedTimer>
#include <QScopeGuard>
#include <QDir>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <functional>

using Vm::BootJob;
using namespace E2e;

namespace {

// Stands in for the VM: keeps what the job attaches, and says what it was asked.
class TestHost final : public BootJob::Host {
public:
    TestHost(const FakeVmm::Driver &driver, QString dir)
        : m_driver(driver)
        , m_dir(std::move(dir))
    {
    }

    Core::Expected<Vmm::VmmInstance *> attachInstance(Vmm::VmSpec spec) override
    {
        calls << QStringLiteral("instance");
        if (spec.runtimeDir.isEmpty())
            spec.runtimeDir = m_dir;
        attachedSpec = spec;
        m_instance = m_driver.createInstance(spec);
        if (onInstance)
            onInstance(instance());
        return m_instance.get();
    }
    Agent::AgentClient *attachAgent() override
    {
        calls << QStringLiteral("agent");
        m_agent = std::make_unique<Agent::AgentClient>(m_instance->agentEndpoint());
        return m_agent.get();
    }
    Core::Expected<QString> writableDiskDir() override
    {
        calls << QStringLiteral("disk-dir");
        return m_dir;
    }
    QString consoleLog(int) const override { return QStringLiteral("the guest's last words"); }

    FakeVmm::Instance *instance() const { return static_cast<FakeVmm::Instance *>(m_instance.get()); }

    QStringList calls;
    Vmm::VmSpec attachedSpec;
    // Set up the VMM test double before the job calls it (hold or fail a call).
    std::function<void(FakeVmm::Instance *)> onInstance;

private:
    const FakeVmm::Driver &m_driver;
    QString m_dir;
    std::unique_ptr<Vmm::VmmInstance> m_instance;
    std::unique_ptr<Agent::AgentClient> m_agent;
};

// A boot that builds the minimal image on a first run takes minutes.
constexpr int kFirstBootMs = 300000;

BootJob::Request baseRequest(BootJob::Kind kind, const QString &name)
{
    BootJob::Request r;
    r.kind = kind;
    r.spec.name = name;
    r.spec.kernelCmdline = QStringLiteral("console=ttyS0");
    r.readyTimeoutMs = 20000;
    return r;
}

// A snapshot without a disk (the minimal template's kind).
Snapshot::SnapshotInfo diskless(const QString &dir)
{
    Snapshot::SnapshotInfo s;
    s.name = QStringLiteral("snap");
    s.directory = dir;
    s.kernelPath = QStringLiteral("/boot/vmlinuz-test");
    s.initramfsPath = QStringLiteral("/boot/initramfs-test");
    s.accel = QStringLiteral("tcg");
    s.vmmVersion = QStringLiteral("9.9.9");
    return s;
}

} // namespace

class TestBootJob : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_agent;
    QString m_agentSocket;
    QString m_silentSocket; // nobody listens there

    QString stubs() const { return m_dir.filePath(QStringLiteral("stubs")); }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_dir.isValid());
        qputenv("MVS_RUNTIME_DIR", m_dir.filePath(QStringLiteral("run")).toUtf8());
        m_agentSocket = m_dir.filePath(QStringLiteral("agent.sock"));
        m_silentSocket = m_dir.filePath(QStringLiteral("nobody-listens.sock"));
        // The restored guest's clock step must not set this machine's clock.
        QVERIFY(QDir().mkpath(m_dir.filePath(QStringLiteral("stubs"))));
        QVERIFY(HostAgent::startWithStubs(m_agent, m_agentSocket, m_dir.filePath(QStringLiteral("stubs"))));
    }
    void cleanupTestCase() { HostAgent::stop(m_agent); }

    // Fresh: the template's image (built or cached), no disk for an
    // initramfs image, the VMM started with the image's kernel, the agent
    // answering: the outcome says its version and how long it took.
    void freshBootRunsEveryStep()
    {
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        Image::ImageBuilder builder;
        BootJob::Request request = baseRequest(BootJob::Kind::Fresh, QStringLiteral("fresh"));
        request.builder = &builder;
        request.image = minimalTemplate().image;
        request.agentBinary = QStringLiteral(MVS_AGENT_BINARY);
        BootJob job(host, request);
        const auto r = await(job.run(), kFirstBootMs);
        QVERIFY2(r.hasValue(), r ? "" : qPrintable(r.error().message));
        QVERIFY(!r->agentVersion.isEmpty());
        QVERIFY(!r->paused);
        QCOMPARE(host.calls, (QStringList{QStringLiteral("instance"), QStringLiteral("agent")}));
        QCOMPARE(host.instance()->log(), QStringList{QStringLiteral("start")});
        QVERIFY(QFileInfo::exists(host.attachedSpec.kernelPath));
        QVERIFY(!host.attachedSpec.kernelCmdline.contains(QStringLiteral("root=")));
        QVERIFY(host.attachedSpec.disks.isEmpty());
        // Once only.
        QCOMPARE(await(job.run(), kFirstBootMs).error().code, Core::ErrorCode::InvalidState);
    }

    // Restore: the VMM loads the snapshot's state with the accelerator and
    // VMM version it was saved with; the restored guest's clock and RNG step
    // runs (both stubs here).
    void restoreLoadsTheSavedState()
    {
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        BootJob::Request request = baseRequest(BootJob::Kind::Restore, QStringLiteral("restored"));
        request.snapshot = diskless(m_dir.filePath(QStringLiteral("snap")));
        BootJob job(host, request);
        const auto r = await(job.run(), kFirstBootMs);
        QVERIFY2(r.hasValue(), r ? "" : qPrintable(r.error().message));
        QCOMPARE(host.instance()->log(), QStringList{QStringLiteral("load")});
        QCOMPARE(host.attachedSpec.accel, QStringLiteral("tcg"));
        QCOMPARE(host.attachedSpec.kernelPath, QStringLiteral("/boot/vmlinuz-test"));
        QCOMPARE(host.attachedSpec.initramfsPath, QStringLiteral("/boot/initramfs-test"));
        QVERIFY(!host.calls.contains(QStringLiteral("disk-dir"))); // no disk to copy
        // The guest's clock was set to now, in one exec with the RNG reseed.
        const QStringList dates = HostAgent::stubCalls(stubs(), QStringLiteral("date"));
        QCOMPARE(dates.size(), 1);
        QVERIFY2(dates.first().startsWith(QStringLiteral("-u -s @")), qPrintable(dates.first()));
        const qint64 setTo = dates.first().mid(7).toLongLong();
        QVERIFY2(qAbs(setTo - QDateTime::currentSecsSinceEpoch()) <= 5, qPrintable(dates.first()));
        QCOMPARE(HostAgent::stubCalls(stubs(), QStringLiteral("microvm-agent")), QStringList{QStringLiteral("--reseed-rng")});
    }

    // A restored guest whose clock cannot be set, or that does not finish
    // setting it by the deadline: the restore fails (with the guest's words,
    // or Timeout once the guest's timeout and the host's grace passed); the
    // RNG reseed is not run.
    void restoreFailsWhenTheGuestCannotMoveOn_data()
    {
        QTest::addColumn<QByteArray>("dateStub");
        QTest::addColumn<int>("code"); // Core::ErrorCode
        QTest::addColumn<QString>("says");
        QTest::newRow("date fails") << QByteArray("echo 'date: cannot set date: Operation not permitted' >&2; exit 1") << int(Core::ErrorCode::Agent)
                                    << QStringLiteral("exit 1: date: cannot set date: Operation not permitted");
        QTest::newRow("date hangs") << QByteArray("exec sleep 600") << int(Core::ErrorCode::Timeout) << QStringLiteral("in time");
    }
    void restoreFailsWhenTheGuestCannotMoveOn()
    {
        QFETCH(QByteArray, dateStub);
        QFETCH(int, code);
        QFETCH(QString, says);
        QVERIFY(HostAgent::writeStub(stubs(), QStringLiteral("date"), dateStub));
        const auto restoreStubs = qScopeGuard([this] { HostAgent::writeCommandStubs(stubs()); });
        const int reseedsBefore = HostAgent::stubCalls(stubs(), QStringLiteral("microvm-agent")).size();
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        BootJob::Request request = baseRequest(BootJob::Kind::Restore, QStringLiteral("stuck"));
        request.snapshot = diskless(m_dir.filePath(QStringLiteral("snap")));
        BootJob job(host, request);
        QElapsedTimer t;
        t.start();
        const auto r = await(job.run(), BootJob::kClockSyncTimeoutMs + Agent::StreamLimits::kInternalGraceMs + 10000);
        QVERIFY(!r);
        QCOMPARE(int(r.error().code), code);
        QVERIFY2(r.error().message.contains(QLatin1String("clock")) && r.error().message.contains(says), qPrintable(r.error().message));
        QVERIFY2(t.elapsed() < BootJob::kClockSyncTimeoutMs + Agent::StreamLimits::kInternalGraceMs + 5000, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(HostAgent::stubCalls(stubs(), QStringLiteral("microvm-agent")).size(), reseedsBefore);
    }

    // Adopt: the VMM left running is taken over in its own runtime directory.
    // (The test double cannot adopt: the driver's refusal ends the job with
    // that error and no agent is attached.)
    void adoptUsesTheRecordedRuntimeDirectory()
    {
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        BootJob::Request request = baseRequest(BootJob::Kind::Adopt, QStringLiteral("adopted"));
        request.adopted.runtimeDir = m_dir.filePath(QStringLiteral("left-running"));
        request.adopted.accel = QStringLiteral("kvm");
        BootJob job(host, request);
        const auto r = await(job.run(), kFirstBootMs);
        QCOMPARE(host.attachedSpec.runtimeDir, m_dir.filePath(QStringLiteral("left-running")));
        QCOMPARE(host.attachedSpec.accel, QStringLiteral("kvm"));
        QVERIFY(host.attachedSpec.persistent);
        QVERIFY(!r);
        QVERIFY(!host.calls.contains(QStringLiteral("agent")));
    }

    // A VMM that fails to start ends the job with its error; the agent step
    // never runs.
    void vmmFailureSkipsTheRest()
    {
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        host.onInstance = [](FakeVmm::Instance *vmm) {
            vmm->failWith(QStringLiteral("load"), Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU exited during start")));
        };
        BootJob::Request request = baseRequest(BootJob::Kind::Restore, QStringLiteral("fails"));
        request.snapshot = diskless(m_dir.filePath(QStringLiteral("snap")));
        BootJob job(host, request);
        const auto r = await(job.run(), 10000);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QCOMPARE(r.error().message, QStringLiteral("QEMU exited during start"));
        QCOMPARE(host.calls, QStringList{QStringLiteral("instance")});
    }

    // An agent that never answers: Timeout, saying how long, under which
    // accelerator, and the tail of the serial log.
    void silentAgentTimesOutWithTheSerialTail()
    {
        FakeVmm::Driver driver(m_silentSocket);
        TestHost host(driver, m_dir.path());
        BootJob::Request request = baseRequest(BootJob::Kind::Restore, QStringLiteral("silent"));
        request.snapshot = diskless(m_dir.filePath(QStringLiteral("snap")));
        request.readyTimeoutMs = 1500;
        BootJob job(host, request);
        const auto r = await(job.run(), 30000);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Timeout);
        QVERIFY2(r.error().message.contains(QStringLiteral("did not reach its guest agent within 1 s (TCG)")), qPrintable(r.error().message));
        QVERIFY2(r.error().message.contains(QStringLiteral("the guest's last words")), qPrintable(r.error().message));
    }

    // Abandoned while the VMM starts (the VM was killed): the job ends
    // Cancelled when the step returns, and nothing more is attached.
    void abandonMidStepEndsCancelled()
    {
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        host.onInstance = [](FakeVmm::Instance *vmm) { vmm->hold(QStringLiteral("load")); };
        BootJob::Request request = baseRequest(BootJob::Kind::Restore, QStringLiteral("abandoned"));
        request.snapshot = diskless(m_dir.filePath(QStringLiteral("snap")));
        BootJob job(host, request);
        const auto r = job.run();
        QVERIFY(host.instance()->isHolding(QStringLiteral("load")));
        QVERIFY(!r.isFinished());
        job.abandon();
        host.instance()->release(QStringLiteral("load"));
        const auto ended = await(r, 10000);
        QVERIFY(!ended);
        QCOMPARE(ended.error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(host.calls, QStringList{QStringLiteral("instance")});
    }

    // The job destroyed mid-step (its owner went): the chain ends Cancelled.
    void destroyedJobEndsCancelled()
    {
        FakeVmm::Driver driver(m_agentSocket);
        TestHost host(driver, m_dir.path());
        host.onInstance = [](FakeVmm::Instance *vmm) { vmm->hold(QStringLiteral("load")); };
        BootJob::Request request = baseRequest(BootJob::Kind::Restore, QStringLiteral("destroyed"));
        request.snapshot = diskless(m_dir.filePath(QStringLiteral("snap")));
        auto job = std::make_unique<BootJob>(host, request);
        const auto r = job->run();
        QVERIFY(host.instance()->isHolding(QStringLiteral("load")));
        job.reset();
        host.instance()->release(QStringLiteral("load"));
        const auto ended = await(r, 10000);
        QVERIFY(!ended);
        QCOMPARE(ended.error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(host.calls, QStringList{QStringLiteral("instance")});
    }
};

QTEST_MAIN(TestBootJob)
#include "tst_bootjob.moc"
