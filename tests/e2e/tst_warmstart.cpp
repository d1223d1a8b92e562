// Warm starts (issue 18) on real guests, through VmManager: a VM's first
// start boots cold and leaves its template's warm snapshot behind; the next
// VMs of that shape restore from it, each with its own host name, random
// bytes and clock; a snapshot that does not verify is discarded and the VM
// boots cold; another shape or template text finds no snapshot; a VM that
// ran before never starts warm (its disk is its own). QEMU here; the
// cloud-hypervisor row runs where KVM and its binary exist.

#include "e2efixture.h"

#include "core/snapshot/snapshotstore.h"
#include "core/vm/warmbuildjob.h"
#include "core/vm/warmstarts.h"

#include <QDir>
#include <QFile>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>

using namespace E2e;

namespace {

// A shape of this suite's own, so that its warm snapshot (in the shared
// image cache) is made and removed by it alone.
constexpr int kMemoryMiB = 232;
constexpr int kBuildTimeoutMs = 300000;

} // namespace

class TestWarmStart : public QObject {
    Q_OBJECT

    std::unique_ptr<QTemporaryDir> m_stateDir;
    std::unique_ptr<Vm::VmManager> m_manager;
    QString m_warmDir;

    bool makeManager(Vmm::VmmDriver &driver)
    {
        m_manager.reset();
        m_stateDir = std::make_unique<QTemporaryDir>();
        if (!m_stateDir->isValid())
            return false;
        m_manager = std::make_unique<Vm::VmManager>(driver, m_stateDir->path());
        m_manager->setWarmStart(true);
        return true;
    }

    bool createAndStart(const QString &name) { return E2e::createAndStart(*m_manager, name, QStringLiteral("minimal"), kMemoryMiB); }
    QString bootOf(const QString &name) const { return E2e::bootOf(*m_manager, name); }
    QString out(const QString &vm, const QString &command) { return shellOut(*m_manager, vm, command); }

    // The first start of the shape: cold, then the snapshot is made.
    bool bootColdAndWaitForTheSnapshot(const QString &name)
    {
        QSignalSpy built(m_manager->warmStarts(), &Vm::WarmStarts::buildEnded);
        if (!createAndStart(name) || bootOf(name) != QLatin1String("cold")) {
            qWarning() << name << "did not boot cold:" << bootOf(name);
            return false;
        }
        if (!built.wait(kBuildTimeoutMs)) {
            qWarning() << "no warm snapshot was made";
            return false;
        }
        const QString error = built.takeFirst().at(1).toString();
        if (!error.isEmpty())
            qWarning() << error;
        return error.isEmpty();
    }

    // A new manager, this suite's shape without a warm snapshot, then its
    // first VM (`first`, cold) and the snapshot that makes.
    Core::Expected<Snapshot::SnapshotInfo> freshWarmSnapshot(Vmm::VmmDriver &driver, const QString &first)
    {
        if (!makeManager(driver))
            return Core::Error(Core::ErrorCode::Io, QStringLiteral("no state directory"));
        auto dir = m_manager->warmStarts()->directoryFor(minimalTemplate(), 1, kMemoryMiB);
        if (!dir)
            return dir.error();
        m_warmDir = *dir;
        removeWarmDir();
        if (!bootColdAndWaitForTheSnapshot(first))
            return Core::Error(Core::ErrorCode::VmmFailed, QStringLiteral("%1 did not boot cold and make the warm snapshot").arg(first));
        return Snapshot::SnapshotStore(m_warmDir).get(QString::fromLatin1(Vm::WarmBuildJob::kSnapshotName));
    }

    void removeWarmDir()
    {
        if (!m_warmDir.isEmpty())
            QDir(m_warmDir).removeRecursively();
    }

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }
    void cleanup()
    {
        m_manager.reset(); // kills every VM, and a builder
        m_stateDir.reset();
        removeWarmDir();
    }

    void shapesAndTemplatesHaveTheirOwnSnapshot_data() { addDriverRows(); }
    void shapesAndTemplatesHaveTheirOwnSnapshot()
    {
        E2E_DRIVER_OR_SKIP(driver);
        Vm::WarmStarts warm(driver);
        Templates::VmTemplate tmpl = minimalTemplate();
        // The image must be there for a directory to exist (built once per machine).
        QVERIFY(makeManager(driver));
        QVERIFY(createAndStart(QStringLiteral("imagecheck")));
        m_manager.reset();
        const auto base = warm.directoryFor(tmpl, 1, kMemoryMiB);
        E2E_VERIFY_OK(base);
        QVERIFY(base->contains(QLatin1String("/warm/")));
        QCOMPARE(*warm.directoryFor(tmpl, 1, kMemoryMiB), *base);
        QVERIFY(*warm.directoryFor(tmpl, 2, kMemoryMiB) != *base);
        QVERIFY(*warm.directoryFor(tmpl, 1, kMemoryMiB + 8) != *base);
        QVERIFY(*warm.directoryFor(tmpl, 1, kMemoryMiB, true) != *base); // with a NIC (tst_vmnetwork boots those)
        QCOMPARE(*warm.directoryFor(tmpl, 1, kMemoryMiB, false), *base);
        // The template's text changed (a kernel argument): another snapshot.
        QTemporaryDir dir;
        QFile source(tmpl.sourcePath);
        QVERIFY(source.open(QIODevice::ReadOnly));
        const QString changedPath = dir.filePath(QStringLiteral("minimal.yaml"));
        QFile changed(changedPath);
        QVERIFY(changed.open(QIODevice::WriteOnly));
        changed.write(source.readAll() + "\n# a comment changes nothing the guest sees, yet the key\n");
        changed.close();
        auto edited = Templates::VmTemplate::fromFile(changedPath);
        E2E_VERIFY_OK(edited);
        QVERIFY(*warm.directoryFor(*edited, 1, kMemoryMiB) != *base);
        // Its image recipe changed: that image was never built, so no snapshot either.
        Templates::VmTemplate otherImage = tmpl;
        otherImage.image.modules << QStringLiteral("mvs-no-such-module-for-warm-start");
        QCOMPARE(warm.directoryFor(otherImage, 1, kMemoryMiB).error().code, Core::ErrorCode::NotFound);
        auto none = await(warm.find(otherImage, 1, kMemoryMiB), 10000);
        QVERIFY(!none);
        QCOMPARE(none.error().code, Core::ErrorCode::NotFound);
    }

    // The must-show: warm VMs differ from their siblings and run commands.
    void warmStartsAreUniqueAndWork_data() { addDriverRows(); }
    void warmStartsAreUniqueAndWork()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const auto snapshot = freshWarmSnapshot(driver, QStringLiteral("first"));
        E2E_VERIFY_OK(snapshot);
        QCOMPARE(snapshot->memoryMiB, kMemoryMiB);

        QSet<QString> names;
        QSet<QString> randoms;
        const QStringList vms{QStringLiteral("warm-a"), QStringLiteral("warm-b"), QStringLiteral("warm-c")};
        for (const QString &vm : vms) {
            QVERIFY(createAndStart(vm));
            QCOMPARE(bootOf(vm), QStringLiteral("warm"));
            qInfo("%s: warm start, spawn -> agent %lld ms", qPrintable(vm), m_manager->info(vm)->bootMs);
        }
        for (const QString &vm : vms) {
            const QString host = out(vm, QStringLiteral("hostname"));
            QCOMPARE(host, vm);
            names << host;
            randoms << out(vm, QStringLiteral("head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'"));
            // Its clock was moved on to the host's (within the TCG slack).
            const qint64 guestNow = out(vm, QStringLiteral("date +%s")).toLongLong();
            QVERIFY2(qAbs(guestNow - QDateTime::currentSecsSinceEpoch()) < 30, qPrintable(QString::number(guestNow)));
            QCOMPARE(out(vm, QStringLiteral("echo $((6 * 7)) > /tmp/x && cat /tmp/x")), QStringLiteral("42"));
        }
        QCOMPARE(names.size(), 3);
        QCOMPARE(randoms.size(), 3);
        // A VM that ran before starts cold again: its state is its own.
        E2E_VERIFY_OK(await(m_manager->stop(QStringLiteral("warm-a")), 60000));
        E2E_VERIFY_OK(await(m_manager->start(QStringLiteral("warm-a")), kBootTimeoutMs));
        QCOMPARE(bootOf(QStringLiteral("warm-a")), QStringLiteral("cold"));
        QCOMPARE(out(QStringLiteral("warm-a"), QStringLiteral("hostname")), QStringLiteral("warm-a"));
    }

    // A snapshot that does not verify is not restored: the VM boots cold,
    // the snapshot goes and a good one is made again.
    void corruptSnapshotBootsColdAndIsRemade_data() { addDriverRows(); }
    void corruptSnapshotBootsColdAndIsRemade()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const auto snapshot = freshWarmSnapshot(driver, QStringLiteral("maker"));
        E2E_VERIFY_OK(snapshot);
        QFile state(QDir(snapshot->directory).filePath(snapshot->stateFiles.first()));
        QVERIFY(state.open(QIODevice::ReadWrite));
        QVERIFY(state.seek(state.size() / 2));
        state.write(QByteArray(4096, '\x5a'));
        state.close();

        // A new manager verifies again (the first one trusted what it made).
        QVERIFY(makeManager(driver));
        QSignalSpy built(m_manager->warmStarts(), &Vm::WarmStarts::buildEnded);
        QVERIFY(createAndStart(QStringLiteral("victim")));
        QCOMPARE(bootOf(QStringLiteral("victim")), QStringLiteral("cold"));
        QCOMPARE(out(QStringLiteral("victim"), QStringLiteral("hostname")), QStringLiteral("victim"));
        QVERIFY(built.wait(kBuildTimeoutMs));
        QCOMPARE(built.takeFirst().at(1).toString(), QString());
        QVERIFY(createAndStart(QStringLiteral("healed")));
        QCOMPARE(bootOf(QStringLiteral("healed")), QStringLiteral("warm"));
    }
};

QTEST_GUILESS_MAIN(TestWarmStart)
#include "tst_warmstart.moc"
