// The KVM boot probe on every path it can take, with fake QEMU binaries
// (shell scripts this test writes, named as such): a kernel that panics at
// once (KVM kept), QEMU exiting without a boot, QEMU hanging past the
// timeout, QEMU exiting just as the timeout fires, QEMU that cannot start and
// QEMU killed by a signal. Each must end with exactly one verdict, no process
// and no temporary directory left. Then the verdict file: written once, read
// back, shared by callers that ask at once, a foreign file probed again.

#include "core/vmm/kvmbootprobe.h"
#include "core/vmm/qemudriver.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <csignal>

using Vmm::KvmBootProbe;

namespace {

// Short, so the hanging cases stay quick; the product's is KvmBootProbe::kDefaultTimeoutMs.
constexpr int kTestTimeoutMs = 1500;

// The fake QEMU's prologue: record its pid, find the serial log in its
// arguments (-serial file:PATH) as the real one would.
const char *const kPrologue = R"(#!/bin/sh
echo $$ >> "%PIDS%"
serial=
prev=
for a in "$@"; do
    [ "$prev" = -serial ] && serial=${a#file:}
    prev=$a
done
)";

bool processGone(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray s = stat.readAll();
    return s.mid(s.lastIndexOf(')') + 2).startsWith('Z'); // a zombie runs nothing
}

} // namespace

class TestKvmBootProbe : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    QString m_work;

    QString pidsFile() const { return m_tmp.filePath(QStringLiteral("pids")); }

    QList<qint64> recordedPids() const
    {
        QList<qint64> pids;
        QFile f(pidsFile());
        if (f.open(QIODevice::ReadOnly))
            for (const QByteArray &l : f.readAll().split('\n'))
                if (!l.trimmed().isEmpty())
                    pids << l.trimmed().toLongLong();
        return pids;
    }

    QString fakeQemu(const QString &name, const QByteArray &body)
    {
        const QString path = m_tmp.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            qFatal("cannot write %s", qPrintable(path));
        f.write(QByteArray(kPrologue).replace("%PIDS%", pidsFile().toUtf8()) + body);
        f.close();
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        return path;
    }

    // Every process the fake QEMU started is gone and the work directory is empty.
    void verifyNothingLeft()
    {
        for (qint64 pid : recordedPids())
            QTRY_VERIFY2_WITH_TIMEOUT(processGone(pid), qPrintable(QStringLiteral("process %1 is left").arg(pid)), 5000);
        const QStringList left = QDir(m_work).entryList(QDir::AllEntries | QDir::NoDotAndDotDot);
        QVERIFY2(left.isEmpty(), qPrintable(left.join(QLatin1Char(' '))));
    }

    // Runs a probe to its end; checks one verdict, one done(), and nothing left.
    KvmBootProbe::Verdict probe(const QString &binary, int timeoutMs = kTestTimeoutMs, int blockMsAfterStart = 0)
    {
        auto *p = new KvmBootProbe(binary, QStringLiteral("/boot/vmlinuz-test"), m_work, timeoutMs);
        QSignalSpy done(p, &KvmBootProbe::done);
        auto first = p->verdict();
        auto second = p->verdict();
        p->start();
        p->start(); // once only
        if (blockMsAfterStart > 0)
            QThread::msleep(blockMsAfterStart); // the exit and the timeout both pending at once
        if (!QTest::qWaitFor([&]() { return done.count() > 0; }, timeoutMs + 10000)) {
            delete p;
            qWarning("the probe never finished");
            return {true, QStringLiteral("never finished")};
        }
        QTest::qWait(300); // late signals must not add a second verdict
        const KvmBootProbe::Verdict v = first.result().value();
        const bool consistent = done.count() == 1 && first.isFinished() && second.isFinished() && second.result().hasValue() && second.result()->kvm == v.kvm
            && second.result()->reason == v.reason && p->isDone();
        // A caller that asks after the end gets the same verdict at once.
        auto late = p->verdict();
        const bool lateSame = late.isFinished() && late.result()->reason == v.reason;
        delete p;
        if (!consistent || !lateSame)
            return {true, QStringLiteral("inconsistent: done %1 times").arg(done.count())};
        return v;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_tmp.isValid());
        m_work = m_tmp.filePath(QStringLiteral("probes"));
    }

    void init() { QFile::remove(pidsFile()); }

    void cleanup()
    {
        if (QTest::currentTestFailed())
            for (qint64 pid : recordedPids())
                ::kill(static_cast<pid_t>(pid), SIGKILL);
    }

    void argumentsBootTheKernelUnderKvmWithNoRoot()
    {
        const QStringList args = KvmBootProbe::arguments(QStringLiteral("/k"), QStringLiteral("/d/serial.log"));
        QVERIFY(args.contains(QStringLiteral("q35,accel=kvm")));
        QCOMPARE(args.at(args.indexOf(QStringLiteral("-kernel")) + 1), QStringLiteral("/k"));
        QCOMPARE(args.at(args.indexOf(QStringLiteral("-serial")) + 1), QStringLiteral("file:/d/serial.log"));
        QVERIFY(args.contains(QStringLiteral("-no-reboot")));
        QVERIFY(args.at(args.indexOf(QStringLiteral("-append")) + 1).contains(QStringLiteral("panic=-1")));
    }

    void kernelPanicKeepsKvm()
    {
        const QString q = fakeQemu(QStringLiteral("qemu-panics"),
                                   "printf 'Linux version 6.1\\nVFS: Unable to mount root fs on unknown-block(0,0)\\n"
                                   "Kernel panic - not syncing: VFS\\n' > \"$serial\"\nexit 0\n");
        const auto v = probe(q);
        QVERIFY2(v.kvm, qPrintable(v.reason));
        QVERIFY(v.reason.isEmpty());
        QCOMPARE(recordedPids().size(), 1);
        verifyNothingLeft();
    }

    void exitWithoutBootMeansTcg()
    {
        const QString q = fakeQemu(QStringLiteral("qemu-exits"), "echo 'qemu-system-x86_64: failed to initialize kvm: Operation not permitted' >&2\nexit 1\n");
        const auto v = probe(q);
        QVERIFY(!v.kvm);
        QVERIFY2(v.reason.contains(QStringLiteral("exit code 1")), qPrintable(v.reason));
        QVERIFY2(v.reason.contains(QStringLiteral("failed to initialize kvm")), qPrintable(v.reason));
        verifyNothingLeft();
    }

    void hangPastTheTimeoutIsKilled()
    {
        // A child of its own too: the whole process group goes.
        const QString q = fakeQemu(QStringLiteral("qemu-hangs"), "sleep 300 &\necho $! >> \"" + pidsFile().toUtf8() + "\"\nwait\n");
        const auto v = probe(q);
        QVERIFY(!v.kvm);
        QCOMPARE(v.reason, QStringLiteral("no kernel boot within %1 ms").arg(kTestTimeoutMs));
        QCOMPARE(recordedPids().size(), 2);
        verifyNothingLeft();
    }

    void exitJustAsTheTimeoutFires_data()
    {
        QTest::addColumn<int>("exitAfterMs");
        QTest::addColumn<int>("blockMs");
        for (int offset : {-40, -10, 0, 10, 40})
            QTest::addRow("exit at timeout%+d ms", offset) << kTestTimeoutMs + offset << 0;
        // The event loop blocked past both: exit and timeout are delivered in one pass.
        QTest::addRow("both pending at once") << kTestTimeoutMs / 2 << kTestTimeoutMs + 500;
    }

    void exitJustAsTheTimeoutFires()
    {
        QFETCH(int, exitAfterMs);
        QFETCH(int, blockMs);
        const QString q = fakeQemu(QStringLiteral("qemu-exits-late"),
                                   QStringLiteral("sleep %1.%2\nexit 1\n").arg(exitAfterMs / 1000).arg(exitAfterMs % 1000, 3, 10, QLatin1Char('0')).toUtf8());
        const auto v = probe(q, kTestTimeoutMs, blockMs);
        QVERIFY(!v.kvm);
        QVERIFY2(v.reason.startsWith(QStringLiteral("no kernel boot within")) || v.reason.contains(QStringLiteral("exit code 1")), qPrintable(v.reason));
        verifyNothingLeft();
    }

    void qemuThatCannotStart_data()
    {
        QTest::addColumn<QString>("binary");
        QTest::newRow("missing") << QStringLiteral("/nonexistent/qemu-system-x86_64");
        QTest::newRow("not executable") << QStringLiteral("not-executable");
    }

    void qemuThatCannotStart()
    {
        QFETCH(QString, binary);
        if (binary == QLatin1String("not-executable")) {
            binary = m_tmp.filePath(binary);
            QFile f(binary);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("#!/bin/sh\nexit 0\n");
            f.close();
            QVERIFY(f.setPermissions(QFile::ReadOwner | QFile::WriteOwner));
        }
        const auto v = probe(binary);
        QVERIFY(!v.kvm);
        QVERIFY2(v.reason.startsWith(QStringLiteral("QEMU failed to start")), qPrintable(v.reason));
        verifyNothingLeft();
    }

    void qemuKilledBySignal()
    {
        const QString q = fakeQemu(QStringLiteral("qemu-killed"), "kill -9 $$\n");
        const auto v = probe(q);
        QVERIFY(!v.kvm);
        QVERIFY2(v.reason.contains(QStringLiteral("killed by a signal")), qPrintable(v.reason));
        verifyNothingLeft();
    }

    void outputIsReadBounded()
    {
        // 4 MiB of output: only the tail is read for the reason.
        const QString q = fakeQemu(QStringLiteral("qemu-floods"), "head -c 4194304 /dev/zero | tr '\\0' x\necho; echo last-words\nexit 1\n");
        const auto v = probe(q, 20000);
        QVERIFY(!v.kvm);
        QVERIFY2(v.reason.endsWith(QStringLiteral("last-words")), qPrintable(v.reason.right(100)));
        QVERIFY(v.reason.size() < 400);
        verifyNothingLeft();
    }

    void destroyedMidwayEndsItsQemu()
    {
        const QString q = fakeQemu(QStringLiteral("qemu-hangs-long"), "exec sleep 300\n");
        auto *p = new KvmBootProbe(q, QStringLiteral("/boot/vmlinuz-test"), m_work, 60000);
        auto f = p->verdict();
        p->start();
        QTRY_COMPARE_WITH_TIMEOUT(recordedPids().size(), 1, 5000);
        delete p;
        QVERIFY(f.isFinished());
        QCOMPARE(f.result().error().code, Core::ErrorCode::Cancelled);
        verifyNothingLeft();
    }

    void verdictFileIsWrittenOnceAndShared()
    {
        const QString q = fakeQemu(QStringLiteral("qemu-slow-panic"), "sleep 0.3\nprintf 'Kernel panic - not syncing: VFS\\n' > \"$serial\"\nexit 0\n");
        const QString verdictFile = m_work + QStringLiteral("/kvm-boot-test");
        QFile::remove(verdictFile);
        // Three callers at once: one QEMU.
        QList<Core::Future<KvmBootProbe::Verdict>> all;
        for (int i = 0; i < 3; ++i)
            all << Vmm::kvmBootVerdict(q, QStringLiteral("/boot/vmlinuz-test"), verdictFile, kTestTimeoutMs);
        for (auto &f : all) {
            QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10000);
            QVERIFY(f.result().hasValue());
            QVERIFY(f.result()->kvm);
        }
        QCOMPARE(recordedPids().size(), 1);
        QFile v(verdictFile);
        QVERIFY(v.open(QIODevice::ReadOnly));
        QCOMPARE(v.readAll(), QByteArray("kvm\n"));
        v.close();
        // Cached: no new QEMU.
        auto again = Vmm::kvmBootVerdict(q, QStringLiteral("/boot/vmlinuz-test"), verdictFile, kTestTimeoutMs);
        QVERIFY(again.isFinished());
        QVERIFY(again.result()->kvm);
        QCOMPARE(recordedPids().size(), 1);
        QTest::qWait(100); // the finished probe is deleted later
        QCOMPARE(QDir(m_work).entryList(QDir::AllEntries | QDir::NoDotAndDotDot), QStringList{QStringLiteral("kvm-boot-test")});
        QFile::remove(verdictFile);
    }

    void tcgVerdictKeepsItsReasonAndForeignFilesAreProbedAgain()
    {
        const QString verdictFile = m_work + QStringLiteral("/kvm-boot-test");
        QDir().mkpath(m_work);
        QFile garbage(verdictFile);
        QVERIFY(garbage.open(QIODevice::WriteOnly));
        garbage.write("something else\n");
        garbage.close();
        const QString q = fakeQemu(QStringLiteral("qemu-hangs-too"), "exec sleep 300\n");
        auto f = Vmm::kvmBootVerdict(q, QStringLiteral("/boot/vmlinuz-test"), verdictFile, kTestTimeoutMs);
        QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10000);
        QVERIFY(!f.result()->kvm);
        QCOMPARE(recordedPids().size(), 1);
        QFile v(verdictFile);
        QVERIFY(v.open(QIODevice::ReadOnly));
        QCOMPARE(v.readAll(), QStringLiteral("tcg: no kernel boot within %1 ms\n").arg(kTestTimeoutMs).toUtf8());
        v.close();
        auto cached = Vmm::kvmBootVerdict(q, QStringLiteral("/boot/vmlinuz-test"), verdictFile, kTestTimeoutMs);
        QVERIFY(cached.isFinished());
        QCOMPARE(cached.result()->reason, QStringLiteral("no kernel boot within %1 ms").arg(kTestTimeoutMs));
        QTest::qWait(100);
        for (qint64 pid : recordedPids())
            QTRY_VERIFY_WITH_TIMEOUT(processGone(pid), 5000);
        QFile::remove(verdictFile);
        QVERIFY(QDir(m_work).isEmpty());
    }

    void verdictsLiveInTheRuntimeDirectory()
    {
        qputenv("MVS_RUNTIME_DIR", m_tmp.filePath(QStringLiteral("run")).toUtf8());
        QCOMPARE(Vmm::kvmProbeDir(), m_tmp.filePath(QStringLiteral("run/probes")));
        qunsetenv("MVS_RUNTIME_DIR");
    }
};

QTEST_GUILESS_MAIN(TestKvmBootProbe)
#include "tst_kvmbootprobe.moc"
