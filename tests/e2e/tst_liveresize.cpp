// Resizing VMs (issue 18) on real guests, through VmManager: a running
// VM's memory shrinks and grows back through its balloon, seen in the
// guest's /proc/meminfo; its vCPUs are hot-plugged up to its max_vcpus,
// seen in the guest's nproc, kept by its snapshots, its forks and its next
// start; what cannot be done is refused with the numbers (growing past the
// boot size, shrinking below what the guest can spare, vCPUs beyond the
// ceiling or without one, removing them from QEMU, a paused VM); a stopped VM takes a new shape at
// its next start, within the quotas; memory the guest frees leaves the
// VMM (free page reporting). QEMU here; the cloud-hypervisor row
// runs where KVM and its binary exist.

#include "e2efixture.h"

#include "core/vm/livememory.h"
#include "server/hoststats.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>

using namespace E2e;

namespace {

constexpr int kBootMiB = 256;
constexpr int kShrunkMiB = 160;
constexpr int kResizeTimeoutMs = 60000;
constexpr int kFillMiB = 96; // written to the guest's tmpfs and removed again
constexpr int kReportTimeoutMs = 30000;
constexpr qint64 kSlackKiB = 1024; // MemTotal moves by the balloon's pages; the kernel's own rounding aside

} // namespace

class TestLiveResize : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_stateDir;
    std::unique_ptr<Vm::VmManager> m_manager;

    bool startVm(Vmm::VmmDriver &driver, const QString &name)
    {
        m_stateDir = std::make_unique<QTemporaryDir>();
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        auto created = m_manager->create({name, QStringLiteral("minimal"), 1, kBootMiB});
        if (!created) {
            qWarning() << created.error().toString();
            return false;
        }
        auto started = await(m_manager->start(name), kBootTimeoutMs);
        if (!started)
            qWarning() << started.error().toString();
        return started.hasValue();
    }

    Core::Result resize(const QString &name, std::optional<int> vcpus, std::optional<int> memoryMiB, std::optional<int> maxVcpus = std::nullopt)
    {
        return await(m_manager->resize(name, {vcpus, memoryMiB, maxVcpus}), kResizeTimeoutMs);
    }

    // What the guest says: its online vCPUs (nproc) and sysfs's list of them.
    QString guestCpus(const QString &name)
    {
        auto r = runInVm(*m_manager, name, QStringLiteral("echo $(nproc) $(cat /sys/devices/system/cpu/online)"), 30000);
        return r ? QString::fromUtf8(r->stdoutData).trimmed() : r.error().toString();
    }

    // Work on every vCPU: n processes counting, all of them done.
    QString busyOn(const QString &name, int n)
    {
        const QString cmd = QStringLiteral("for i in $(seq %1); do (i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done) & done; wait").arg(n);
        auto r = runInVm(*m_manager, name, cmd, 60000);
        return r ? QString::fromUtf8(r->stdoutData).trimmed().replace(QLatin1Char('\n'), QLatin1Char(' ')) : r.error().toString();
    }

    // The guest's MemTotal (/proc/meminfo, as its agent reads it), in KiB; -1 when unreadable.
    qint64 guestMemTotalKiB(const QString &name)
    {
        auto agent = m_manager->agent(name);
        if (!agent)
            return -1;
        auto health = await((*agent)->health(), 30000);
        return health ? qint64(health->memTotalKiB) : -1;
    }

    static qint64 vmmResidentKiB(qint64 pid) { return qint64(Server::HostStats::readProcess(pid).residentBytes.value_or(0) / 1024); }

    qint64 memoryNow(const QString &name) const
    {
        auto info = m_manager->info(name);
        return info ? info->memoryNowMiB : -1;
    }

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }
    void cleanup()
    {
        m_manager.reset(); // kills every VM
        m_stateDir.reset();
    }

    // The must-show: the guest sees its memory go and come back.
    void runningVmShrinksAndGrowsBack_data() { addDriverRows(); }
    void runningVmShrinksAndGrowsBack()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const QString vm = QStringLiteral("balloon");
        QVERIFY(startVm(driver, vm));
        QCOMPARE(memoryNow(vm), qint64(kBootMiB));
        const qint64 bootTotal = guestMemTotalKiB(vm);
        QVERIFY2(bootTotal > 150 * 1024, qPrintable(QString::number(bootTotal)));

        E2E_VERIFY_OK(resize(vm, std::nullopt, kShrunkMiB));
        QCOMPARE(memoryNow(vm), qint64(kShrunkMiB));
        const qint64 shrunkTotal = guestMemTotalKiB(vm);
        const qint64 given = bootTotal - shrunkTotal;
        qInfo("MemTotal %lld kB at boot, %lld kB at %d MiB: %lld kB given back", bootTotal, shrunkTotal, kShrunkMiB, given);
        QVERIFY2(qAbs(given - (kBootMiB - kShrunkMiB) * 1024) <= kSlackKiB, qPrintable(QString::number(given)));
        // The record keeps what it booted with; the guest still works.
        QCOMPARE(m_manager->info(vm)->record.memoryMiB, kBootMiB);
        auto r = runInVm(*m_manager, vm, QStringLiteral("head -c 1000000 /dev/urandom | wc -c"), 30000);
        E2E_VERIFY_OK(r);
        QCOMPARE(QString::fromUtf8(r->stdoutData).trimmed(), QStringLiteral("1000000"));

        E2E_VERIFY_OK(resize(vm, std::nullopt, kBootMiB));
        QCOMPARE(memoryNow(vm), qint64(kBootMiB));
        QVERIFY(qAbs(guestMemTotalKiB(vm) - bootTotal) <= kSlackKiB);
    }

    // Free page reporting: memory the guest uses and frees again leaves the
    // VMM's resident set (QEMU drops the pages the guest reports free): it
    // ends well under what it was with the memory filled.
    void freedGuestMemoryGoesBackToTheHost_data() { addDriverRows(); }
    void freedGuestMemoryGoesBackToTheHost()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const QString vm = QStringLiteral("reporting");
        QVERIFY(startVm(driver, vm));
        const qint64 pid = m_manager->vm(vm)->instance()->pid();
        const qint64 before = vmmResidentKiB(pid);
        auto filled = runInVm(*m_manager, vm, QStringLiteral("head -c %1 /dev/urandom > /tmp/fill && sync").arg(kFillMiB * 1024 * 1024), 60000);
        E2E_VERIFY_OK(filled);
        QCOMPARE(filled->exitCode, 0);
        // (a cold-booted guest has touched most of its memory already, so
        // filling it adds less than kFillMiB to QEMU's resident set)
        const qint64 full = vmmResidentKiB(pid);
        auto freed = runInVm(*m_manager, vm, QStringLiteral("rm /tmp/fill"), 30000);
        E2E_VERIFY_OK(freed);
        // The guest reports free pages in 2-4 MiB blocks a couple of seconds after they are freed.
        QTRY_VERIFY2_WITH_TIMEOUT(full - vmmResidentKiB(pid) >= kFillMiB / 2 * 1024,
                                  qPrintable(QStringLiteral("resident %1 KiB before, %2 filled, %3 now").arg(before).arg(full).arg(vmmResidentKiB(pid))),
                                  kReportTimeoutMs);
        qInfo("VMM resident: %lld KiB, %lld with %d MiB filled, %lld after freeing it", before, full, kFillMiB, vmmResidentKiB(pid));
    }

    // A guest without the balloon driver (an image or snapshot made before
    // every VM had one): refused at once, saying why, instead of a balloon
    // nobody answers.
    void guestWithoutTheDriverIsRefusedAtOnce_data() { addDriverRows(); }
    void guestWithoutTheDriverIsRefusedAtOnce()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QTemporaryDir templates;
        QFile minimal(QStringLiteral(MVS_SOURCE_DIR "/templates/minimal.yaml"));
        QVERIFY(minimal.open(QIODevice::ReadOnly));
        QByteArray yaml = minimal.readAll();
        QVERIFY(yaml.contains(", virtio_balloon]"));
        yaml.replace(", virtio_balloon]", "]").replace("name: minimal", "name: noballoon");
        QFile own(templates.filePath(QStringLiteral("noballoon.yaml")));
        QVERIFY(own.open(QIODevice::WriteOnly) && own.write(yaml) == yaml.size());
        own.close();
        const QByteArray searchPath = qgetenv("MVS_TEMPLATE_PATH");
        qputenv("MVS_TEMPLATE_PATH", templates.path().toUtf8());
        m_stateDir = std::make_unique<QTemporaryDir>();
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        const auto created = m_manager->create({QStringLiteral("old"), QStringLiteral("noballoon"), 1, kBootMiB});
        qputenv("MVS_TEMPLATE_PATH", searchPath);
        E2E_VERIFY_OK(created);
        E2E_VERIFY_OK(await(m_manager->start(QStringLiteral("old")), kBootTimeoutMs + 300000)); // its own image is built first

        QElapsedTimer t;
        t.start();
        auto r = resize(QStringLiteral("old"), std::nullopt, kShrunkMiB);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Unsupported);
        QVERIFY2(r.error().message.contains(QStringLiteral("no virtio_balloon driver")), qPrintable(r.error().message));
        QVERIFY2(t.elapsed() < Vm::LiveMemory::kDriverCheckTimeoutMs, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(memoryNow(QStringLiteral("old")), qint64(kBootMiB));
    }

    void whatCannotBeDoneIsRefused_data() { addDriverRows(); }
    void whatCannotBeDoneIsRefused()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const QString vm = QStringLiteral("refuse");
        QVERIFY(startVm(driver, vm));

        auto more = resize(vm, std::nullopt, kBootMiB + 64);
        QVERIFY(!more);
        QCOMPARE(more.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(more.error().message.contains(QStringLiteral("grow back to the %1 MiB").arg(kBootMiB)), qPrintable(more.error().message));

        // Below what the guest can spare: its kernel would kill its processes.
        auto starve = resize(vm, std::nullopt, int(Vm::LiveMemory::kMinMiB));
        QVERIFY(!starve);
        QCOMPARE(starve.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(starve.error().message.contains(QStringLiteral("can shrink to")), qPrintable(starve.error().message));
        QCOMPARE(memoryNow(vm), qint64(kBootMiB));

        auto cpus = resize(vm, 2, std::nullopt);
        QVERIFY(!cpus);
        QCOMPARE(cpus.error().code, Core::ErrorCode::Unsupported);
        // The same vCPU count is no change.
        E2E_VERIFY_OK(resize(vm, 1, std::nullopt));

        E2E_VERIFY_OK(await(m_manager->pause(vm), 30000));
        auto paused = resize(vm, std::nullopt, kShrunkMiB);
        QVERIFY(!paused);
        QCOMPARE(paused.error().code, Core::ErrorCode::InvalidState);
        E2E_VERIFY_OK(await(m_manager->resume(vm), 30000));
        E2E_VERIFY_OK(resize(vm, std::nullopt, kShrunkMiB));

        auto none = resize(vm, std::nullopt, std::nullopt);
        QVERIFY(!none);
        QCOMPARE(none.error().code, Core::ErrorCode::InvalidArgument);
        auto unknown = resize(QStringLiteral("nobody"), std::nullopt, kShrunkMiB);
        QVERIFY(!unknown);
        QCOMPARE(unknown.error().code, Core::ErrorCode::NotFound);
    }

    // The must-show for vCPUs: hot-plugged up to max_vcpus, each seen by
    // the guest at once and put to work; the count is the VM's from then on
    // (its record, a snapshot of it, a fork, its next start). QEMU refuses
    // to remove them (it corrupts its memory doing so: found here).
    void vcpusArePluggedWhileItRuns_data() { addDriverRows(); }
    void vcpusArePluggedWhileItRuns()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const QString vm = QStringLiteral("cpus");
        m_stateDir = std::make_unique<QTemporaryDir>();
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        Vm::VmManager::CreateOptions options{vm, QStringLiteral("minimal"), 1, kBootMiB};
        options.maxVcpus = 3;
        E2E_VERIFY_OK(m_manager->create(options));
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs));
        QCOMPARE(guestCpus(vm), QStringLiteral("1 0"));
        QCOMPARE(m_manager->info(vm)->record.maxVcpus, 3);

        QElapsedTimer t;
        t.start();
        E2E_VERIFY_OK(resize(vm, 2, std::nullopt));
        qInfo("1 -> 2 vCPUs, online in the guest, in %lld ms", t.elapsed());
        QCOMPARE(guestCpus(vm), QStringLiteral("2 0-1"));
        QCOMPARE(m_manager->info(vm)->record.vcpus, 2);
        // Its snapshot has 2 and room for 3.
        E2E_VERIFY_OK(await(m_manager->snapshot(vm, {QStringLiteral("two"), false}), kResizeTimeoutMs));
        t.restart();
        E2E_VERIFY_OK(resize(vm, 3, std::nullopt));
        qInfo("2 -> 3 vCPUs in %lld ms", t.elapsed());
        QCOMPARE(guestCpus(vm), QStringLiteral("3 0-2"));
        QCOMPARE(busyOn(vm, 3), QStringLiteral("done done done"));

        auto fewer = resize(vm, 1, std::nullopt);
        if (driver.name() == QLatin1String("qemu")) {
            QVERIFY(!fewer);
            QCOMPARE(fewer.error().code, Core::ErrorCode::Unsupported);
            QVERIFY2(fewer.error().message.contains(QStringLiteral("while the VM is stopped")), qPrintable(fewer.error().message));
            QCOMPARE(guestCpus(vm), QStringLiteral("3 0-2"));
        } else {
            E2E_VERIFY_OK(fewer);
            QCOMPARE(guestCpus(vm), QStringLiteral("1 0"));
        }

        // Restored, it has the snapshot's 2 and still takes the third.
        E2E_VERIFY_OK(await(m_manager->restore(vm, QStringLiteral("two")), kResizeTimeoutMs));
        QCOMPARE(guestCpus(vm), QStringLiteral("2 0-1"));
        QCOMPARE(m_manager->info(vm)->record.vcpus, 2);
        E2E_VERIFY_OK(resize(vm, 3, std::nullopt));
        QCOMPARE(guestCpus(vm), QStringLiteral("3 0-2"));

        // A fork of it has the snapshot's 2, and the same room.
        auto forks = await(m_manager->fork(vm, QStringLiteral("two"), {}), kResizeTimeoutMs);
        E2E_VERIFY_OK(forks);
        const QString fork = forks->first();
        QCOMPARE(guestCpus(fork), QStringLiteral("2 0-1"));
        QCOMPARE(m_manager->info(fork)->record.maxVcpus, 3);
        E2E_VERIFY_OK(resize(fork, 3, std::nullopt));
        QCOMPARE(guestCpus(fork), QStringLiteral("3 0-2"));

        // Its next start boots with what it has, fewer when lowered while
        // stopped, with the same room.
        E2E_VERIFY_OK(await(m_manager->stop(vm), 30000));
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs));
        QCOMPARE(guestCpus(vm), QStringLiteral("3 0-2"));
        E2E_VERIFY_OK(await(m_manager->stop(vm), 30000));
        E2E_VERIFY_OK(resize(vm, 1, std::nullopt));
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs));
        QCOMPARE(guestCpus(vm), QStringLiteral("1 0"));
        E2E_VERIFY_OK(resize(vm, 3, std::nullopt));
        QCOMPARE(guestCpus(vm), QStringLiteral("3 0-2"));
    }

    // Without room, beyond it, past the quota, the ceiling itself while it
    // runs, a ceiling below vcpus: refused, nothing changed. Room given
    // while it is stopped counts from its next start.
    void vcpuChangesThatCannotBeDoneAreRefused_data() { addDriverRows(); }
    void vcpuChangesThatCannotBeDoneAreRefused()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const QString vm = QStringLiteral("cpus");
        m_stateDir = std::make_unique<QTemporaryDir>();
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        Vm::VmManager::CreateOptions options{vm, QStringLiteral("minimal"), 2, kBootMiB};
        auto low = options;
        low.maxVcpus = 1;
        auto refused = m_manager->create(low);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(refused.error().message.contains(QStringLiteral("max_vcpus must be between vcpus (2)")), qPrintable(refused.error().message));
        E2E_VERIFY_OK(m_manager->create(options));
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs));

        auto more = resize(vm, 3, std::nullopt);
        QVERIFY(!more);
        QCOMPARE(more.error().code, Core::ErrorCode::Unsupported);
        QVERIFY2(more.error().message.contains(QStringLiteral("max_vcpus")), qPrintable(more.error().message));
        auto ceiling = resize(vm, std::nullopt, std::nullopt, 4);
        QVERIFY(!ceiling);
        QCOMPARE(ceiling.error().code, Core::ErrorCode::InvalidState);
        auto zero = resize(vm, 0, std::nullopt);
        QVERIFY(!zero);
        QCOMPARE(zero.error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(guestCpus(vm), QStringLiteral("2 0-1"));

        // Room from its next start.
        E2E_VERIFY_OK(await(m_manager->stop(vm), 30000));
        E2E_VERIFY_OK(resize(vm, std::nullopt, std::nullopt, 4));
        QCOMPARE(m_manager->info(vm)->record.maxVcpus, 4);
        // It is kept: a new manager on the state directory reads it.
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        QCOMPARE(m_manager->info(vm)->record.maxVcpus, 4);
        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs));
        QCOMPARE(guestCpus(vm), QStringLiteral("2 0-1"));
        auto beyond = resize(vm, 5, std::nullopt);
        QVERIFY(!beyond);
        QCOMPARE(beyond.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(beyond.error().message.contains(QStringLiteral("between 1 and 4")), qPrintable(beyond.error().message));

        Vm::QuotaLimits limits;
        limits.maxVcpus = 3;
        m_manager->setQuota(limits);
        auto quota = resize(vm, 4, std::nullopt);
        QVERIFY(!quota);
        QCOMPARE(quota.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(guestCpus(vm), QStringLiteral("2 0-1"));
        E2E_VERIFY_OK(resize(vm, 3, std::nullopt));
        m_manager->setQuota({});
        E2E_VERIFY_OK(resize(vm, 4, std::nullopt));
        QCOMPARE(guestCpus(vm), QStringLiteral("4 0-3"));
    }

    // A stopped VM takes its new shape at its next start, within the quotas.
    void stoppedVmStartsWithItsNewShape_data() { addDriverRows(); }
    void stoppedVmStartsWithItsNewShape()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const QString vm = QStringLiteral("reshape");
        QVERIFY(startVm(driver, vm));
        const qint64 bootTotal = guestMemTotalKiB(vm);
        E2E_VERIFY_OK(await(m_manager->stop(vm), 30000));

        Vm::QuotaLimits limits;
        limits.maxMemoryMiB = 384;
        m_manager->setQuota(limits);
        auto over = resize(vm, std::nullopt, 512);
        QVERIFY(!over);
        QCOMPARE(over.error().code, Core::ErrorCode::QuotaExceeded);
        QCOMPARE(m_manager->info(vm)->record.memoryMiB, kBootMiB);

        E2E_VERIFY_OK(resize(vm, 2, kBootMiB + 64));
        QCOMPARE(m_manager->info(vm)->record.vcpus, 2);
        QCOMPARE(m_manager->info(vm)->record.memoryMiB, kBootMiB + 64);
        // It is kept: a new manager on the state directory reads it.
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        QCOMPARE(m_manager->info(vm)->record.memoryMiB, kBootMiB + 64);

        E2E_VERIFY_OK(await(m_manager->start(vm), kBootTimeoutMs));
        auto nproc = runInVm(*m_manager, vm, QStringLiteral("nproc"), 30000);
        E2E_VERIFY_OK(nproc);
        QCOMPARE(QString::fromUtf8(nproc->stdoutData).trimmed(), QStringLiteral("2"));
        const qint64 grown = guestMemTotalKiB(vm) - bootTotal;
        QVERIFY2(qAbs(grown - 64 * 1024) <= 8 * kSlackKiB, qPrintable(QString::number(grown)));
    }
};

QTEST_GUILESS_MAIN(TestLiveResize)
#include "tst_liveresize.moc"
