// The paused pool (issue 18) on real guests, through VmManager: the pool
// fills from the template's warm snapshot, a VM's first start claims a
// pooled VM (boot "pool") and runs as itself (its host name, its own random
// bytes), the pool refills; the pool stays under the host's quotas, gives
// its VMs up to a VM being started and refills once room is back; a pooled
// root-disk VM's disk becomes the claiming VM's own and keeps its files
// across a stop. QEMU here; the cloud-hypervisor row runs where KVM and its
// binary exist. Pooled VMMs die with this process (they are never
// persistent), so a crash leaves none behind.

#include "e2efixture.h"

#include "core/vm/vmpool.h"
#include "core/vm/warmstarts.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>

using namespace E2e;

namespace {

// Filling may first make the template's warm snapshot (a cold boot).
constexpr int kFillTimeoutMs = 600000;
// A shape of this suite's own for the VM that is not pooled.
constexpr int kOtherMemoryMiB = 296;

} // namespace

class TestVmPool : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_stateDir;
    std::unique_ptr<Vm::VmManager> m_manager;
    QStringList m_warmDirsToRemove;

    bool makeManager(Vmm::VmmDriver &driver, const Vm::QuotaLimits &quota = {})
    {
        m_manager.reset();
        m_stateDir = std::make_unique<QTemporaryDir>();
        if (!m_stateDir->isValid())
            return false;
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        m_manager->setQuota(quota);
        m_manager->setWarmStart(true);
        return true;
    }

    // Spin until the pool has `ready` VMs of its first template ready and
    // none filling (or the time is up).
    bool waitForPool(int ready, int timeoutMs = kFillTimeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            const auto status = m_manager->pool()->status();
            if (!status.isEmpty() && status.first().ready == ready && status.first().filling == 0)
                return true;
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
        }
        const auto status = m_manager->pool()->status();
        qWarning() << "pool never had" << ready << "ready:" << (status.isEmpty() ? -1 : status.first().ready) << "ready,"
                   << (status.isEmpty() ? -1 : status.first().filling) << "filling; last error:" << (status.isEmpty() ? QString() : status.first().lastError);
        return false;
    }

    // Stays at `ready` for a while (nothing fills past a limit).
    bool staysAt(int ready, int ms)
    {
        QDeadlineTimer deadline(ms);
        while (!deadline.hasExpired()) {
            const auto status = m_manager->pool()->status();
            if (status.first().ready + status.first().filling != ready)
                return false;
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
        }
        return true;
    }

    bool createAndStart(const QString &name, const QString &templateName = QStringLiteral("minimal"), std::optional<int> memoryMiB = std::nullopt)
    {
        return E2e::createAndStart(*m_manager, name, templateName, memoryMiB);
    }
    QString bootOf(const QString &name) const { return E2e::bootOf(*m_manager, name); }
    QString out(const QString &vm, const QString &command) { return shellOut(*m_manager, vm, command); }

    // The minimal template's warm snapshot for kOtherMemoryMiB: made by the
    // VM that is not pooled, removed after.
    void removeOtherWarmSnapshot()
    {
        Vmm::VmmDriver const *driver = m_manager ? &m_manager->driver() : nullptr;
        if (!driver)
            return;
        Vm::WarmStarts warm(*driver);
        if (auto dir = warm.directoryFor(minimalTemplate(), 1, kOtherMemoryMiB))
            m_warmDirsToRemove << *dir;
    }

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }
    void cleanup()
    {
        m_manager.reset(); // kills every VM, pooled or not
        m_stateDir.reset();
        for (const QString &dir : std::as_const(m_warmDirsToRemove))
            QDir(dir).removeRecursively();
        m_warmDirsToRemove.clear();
    }

    void fillsClaimsAndRefills_data() { addDriverRows(); }
    void fillsClaimsAndRefills()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QVERIFY(makeManager(driver));
        E2E_VERIFY_OK(m_manager->setPoolTargets({{QStringLiteral("minimal"), 2}}));
        QVERIFY(waitForPool(2));
        const QString poolDir = QDir(m_stateDir->path()).filePath(QStringLiteral(".pool"));
        QCOMPARE(QDir(poolDir).entryList({QStringLiteral("*.console.log")}, QDir::Files).size(), 2);

        QVERIFY(createAndStart(QStringLiteral("first")));
        QCOMPARE(bootOf(QStringLiteral("first")), QStringLiteral("pool"));
        QVERIFY(createAndStart(QStringLiteral("second")));
        QCOMPARE(bootOf(QStringLiteral("second")), QStringLiteral("pool"));
        // Each is itself: its host name, its own random stream, a clock of now.
        QCOMPARE(out(QStringLiteral("first"), QStringLiteral("hostname")), QStringLiteral("first"));
        QCOMPARE(out(QStringLiteral("second"), QStringLiteral("hostname")), QStringLiteral("second"));
        const QString bytes = QStringLiteral("head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'");
        const QString a = out(QStringLiteral("first"), bytes);
        const QString b = out(QStringLiteral("second"), bytes);
        QCOMPARE(a.size(), 32);
        QVERIFY2(a != b, qPrintable(a));
        const qint64 guestNow = out(QStringLiteral("first"), QStringLiteral("date +%s")).toLongLong();
        QVERIFY2(qAbs(guestNow - QDateTime::currentSecsSinceEpoch()) < 30, qPrintable(QString::number(guestNow)));
        // Its console log is its own file now, and the pool's files went with it.
        QVERIFY(QFileInfo::exists(m_manager->consoleLogPath(QStringLiteral("first"))));
        // The pool refills to its target.
        QVERIFY(waitForPool(2));
        QCOMPARE(QDir(poolDir).entryList({QStringLiteral("*.console.log")}, QDir::Files).size(), 2);
        // A second start of the same VM is its own (cold) boot, as always.
        E2E_VERIFY_OK(await(m_manager->stop(QStringLiteral("first")), 60000));
        E2E_VERIFY_OK(await(m_manager->start(QStringLiteral("first")), kBootTimeoutMs + 60000));
        QCOMPARE(bootOf(QStringLiteral("first")), QStringLiteral("cold"));
        QCOMPARE(out(QStringLiteral("first"), QStringLiteral("hostname")), QStringLiteral("first"));
        // A VM of another shape is not served from the pool.
        QVERIFY(createAndStart(QStringLiteral("other"), QStringLiteral("minimal"), kOtherMemoryMiB));
        removeOtherWarmSnapshot();
        QVERIFY(bootOf(QStringLiteral("other")) != QLatin1String("pool"));
        // Targets down to none: the pooled VMs go.
        E2E_VERIFY_OK(m_manager->setPoolTargets({{QStringLiteral("minimal"), 0}}));
        QCOMPARE(m_manager->pool()->readyCount(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(QDir(poolDir).entryList({QStringLiteral("*.console.log")}, QDir::Files).size(), 0, 10000);
    }

    // Pooled VMs count against the host's memory quota: the pool fills only
    // as far as it fits, gives way to a VM being started and refills once
    // that VM stopped.
    void staysUnderTheQuotas_data() { addDriverRows(); }
    void staysUnderTheQuotas()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const int memory = minimalTemplate().memoryMiB;
        Vm::QuotaLimits quota;
        quota.maxMemoryMiB = 2 * memory + memory / 2; // room for two and a half
        QVERIFY(makeManager(driver, quota));
        E2E_VERIFY_OK(m_manager->setPoolTargets({{QStringLiteral("minimal"), 3}}));
        QVERIFY(waitForPool(2));
        QVERIFY(staysAt(2, 3000));
        QVERIFY2(m_manager->pool()->status().first().lastError.contains(QLatin1String("memory")), qPrintable(m_manager->pool()->status().first().lastError));
        // A pooled VM claimed: one runs, one stays pooled, no room for more.
        QVERIFY(createAndStart(QStringLiteral("claimed")));
        QCOMPARE(bootOf(QStringLiteral("claimed")), QStringLiteral("pool"));
        QVERIFY(staysAt(1, 5000));
        // A VM the pool does not serve needs the pooled VM's room: it goes.
        QVERIFY(createAndStart(QStringLiteral("other"), QStringLiteral("minimal"), kOtherMemoryMiB));
        removeOtherWarmSnapshot();
        QCOMPARE(m_manager->pool()->status().first().ready + m_manager->pool()->status().first().filling, 0);
        const auto usage = m_manager->quotaUsage();
        QVERIFY(usage.memoryMiB + m_manager->pool()->memoryMiB() <= quota.maxMemoryMiB);
        // Room again: the pool refills as far as it fits.
        E2E_VERIFY_OK(await(m_manager->stop(QStringLiteral("other")), 60000));
        QVERIFY(waitForPool(1));
        QVERIFY(staysAt(1, 3000));
    }

    // A root-disk template without a NIC: the pooled VM's writable disk
    // becomes the claiming VM's, in its own disk directory, and keeps what
    // it wrote across a stop and start.
    void claimedDiskIsTheVmsOwn_data() { addDriverRows(); }
    void claimedDiskIsTheVmsOwn()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QTemporaryDir templates;
        QVERIFY(templates.isValid());
        auto agent = Templates::VmTemplate::load(QStringLiteral("agent"));
        E2E_VERIFY_OK(agent);
        QFile source(agent->sourcePath);
        QVERIFY(source.open(QIODevice::ReadOnly));
        QByteArray text = source.readAll();
        // Same image (the recipe is unchanged), its own name and no NIC
        // (the network section is the file's last).
        text.replace("name: agent\n", "name: pooled-agent\n");
        const qsizetype network = text.indexOf("\nnetwork:\n");
        QVERIFY(network > 0);
        text.truncate(network);
        text.append("\nnetwork:\n  mode: none\n");
        QFile pooled(templates.filePath(QStringLiteral("pooled-agent.yaml")));
        QVERIFY(pooled.open(QIODevice::WriteOnly) && pooled.write(text) == text.size());
        pooled.close();
        const QByteArray searchPath = qgetenv("MVS_TEMPLATE_PATH");
        qputenv("MVS_TEMPLATE_PATH", templates.path().toUtf8());
        const auto restorePath = qScopeGuard([&searchPath]() { qputenv("MVS_TEMPLATE_PATH", searchPath); });
        auto tmpl = Templates::VmTemplate::load(QStringLiteral("pooled-agent"));
        E2E_VERIFY_OK(tmpl);
        QVERIFY(!tmpl->network.hasNic());

        QVERIFY(makeManager(driver));
        if (auto warmDir = m_manager->warmStarts()->directoryFor(*tmpl, tmpl->vcpus, tmpl->memoryMiB))
            m_warmDirsToRemove << *warmDir;
        E2E_VERIFY_OK(m_manager->setPoolTargets({{QStringLiteral("pooled-agent"), 1}}));
        QVERIFY(waitForPool(1));
        QVERIFY(createAndStart(QStringLiteral("disky"), QStringLiteral("pooled-agent")));
        QCOMPARE(bootOf(QStringLiteral("disky")), QStringLiteral("pool"));
        const QDir diskDir(m_manager->diskDir(QStringLiteral("disky")));
        QCOMPARE(diskDir.entryList(QDir::Files).size(), 1);
        QCOMPARE(out(QStringLiteral("disky"), QStringLiteral("echo kept > /root/claimed.txt && sync && cat /root/claimed.txt")), QStringLiteral("kept"));
        E2E_VERIFY_OK(await(m_manager->stop(QStringLiteral("disky")), 120000));
        E2E_VERIFY_OK(await(m_manager->start(QStringLiteral("disky")), kBootTimeoutMs + 120000));
        QCOMPARE(bootOf(QStringLiteral("disky")), QStringLiteral("cold"));
        QCOMPARE(out(QStringLiteral("disky"), QStringLiteral("cat /root/claimed.txt")), QStringLiteral("kept"));
    }
};

QTEST_GUILESS_MAIN(TestVmPool)
#include "tst_vmpool.moc"
