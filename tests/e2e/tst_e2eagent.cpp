// End to end: a real guest booted from the minimal template, driven through
// the driver interface and the guest agent: exec, streams, timeouts,
// concurrency, files of any size, errors. One VM per driver, shared by the
// test functions of this suite.

#include "e2efixture.h"

#include "core/agent/agentclient.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryFile>

using namespace E2e;

class TestE2eAgent : public QObject {
    Q_OBJECT

private:
    struct Fixture {
        std::shared_ptr<Vmm::VmmDriver> driver;
        std::unique_ptr<Vm::VirtualMachine> vm;
        QString skip;
        QString failure;
    };
    QHash<int, std::shared_ptr<Fixture>> m_fixtures;

    // The row's running VM, booted on first use; nullptr with *why set when
    // the driver cannot run here (skip) or the boot failed (fail).
    Vm::VirtualMachine *vmForRow(QString *skip, QString *failure)
    {
        const Vmm::DriverKind kind = currentDriverKind();
        auto &f = m_fixtures[static_cast<int>(kind)];
        if (!f) {
            f = std::make_shared<Fixture>();
            auto d = driverFor(kind);
            if (d.skipReason.startsWith(QLatin1String("FAIL: ")))
                f->failure = d.skipReason;
            else if (!d.driver)
                f->skip = d.skipReason;
            else {
                f->driver = d.driver;
                f->vm = std::make_unique<Vm::VirtualMachine>(QStringLiteral("e2e-%1").arg(Vmm::driverKindName(kind)), minimalTemplate(), *f->driver);
                f->vm->setReadyTimeoutMs(kBootTimeoutMs);
                auto started = await(f->vm->start(), kBootTimeoutMs + 300000); // first run may build the image
                if (!started)
                    f->failure = started.error().toString();
                else
                    qInfo("%s: booted to agent in %lld ms (%s)", qPrintable(Vmm::driverKindName(kind)), f->vm->bootMs(),
                          f->vm->instance()->accelerated() ? "KVM" : "TCG");
            }
        }
        *skip = f->skip;
        *failure = f->failure;
        return f->skip.isEmpty() && f->failure.isEmpty() ? f->vm.get() : nullptr;
    }

#define ACQUIRE_VM(vm) \
    QString skip_, failure_; \
    Vm::VirtualMachine *vm = vmForRow(&skip_, &failure_); \
    if (!skip_.isEmpty()) \
        QSKIP(qPrintable(skip_)); \
    QVERIFY2(vm != nullptr, qPrintable(failure_))

    Agent::ExecResult run(Vm::VirtualMachine *vm, const Agent::ExecRequest &req, int timeoutMs = 60000)
    {
        auto r = await(vm->agent()->run(req), timeoutMs);
        if (!r) {
            QTest::qFail(qPrintable(r.error().toString()), __FILE__, __LINE__);
            return {};
        }
        return *r;
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
    }
    void cleanupTestCase()
    {
        for (auto &f : m_fixtures)
            if (f->vm)
                (void)await(f->vm->stop(), 15000);
        m_fixtures.clear();
    }

    void execOutputAndExitCode_data()
    {
        addDriverRows();
    }
    void execOutputAndExitCode()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest req;
        req.argv = QStringList{QStringLiteral("echo"), QStringLiteral("hello"), QStringLiteral("world")};
        const auto r = run(vm, req);
        QCOMPARE(r.stdoutData, QByteArray("hello world\n"));
        QCOMPARE(r.stderrData, QByteArray());
        QCOMPARE(r.exitCode, 0);
        QCOMPARE(r.signal, 0);
        QVERIFY(!r.timedOut);
        QVERIFY(r.pid > 1);

        Agent::ExecRequest uname;
        uname.argv = QStringList{QStringLiteral("uname"), QStringLiteral("-s")};
        QCOMPARE(run(vm, uname).stdoutData, QByteArray("Linux\n"));
    }

    void stderrSeparateFromStdout_data()
    {
        addDriverRows();
    }
    void stderrSeparateFromStdout()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest req;
        req.shell = QStringLiteral("echo to-out; echo to-err >&2; echo more-out; echo more-err 1>&2");
        const auto r = run(vm, req);
        QCOMPARE(r.stdoutData, QByteArray("to-out\nmore-out\n"));
        QCOMPARE(r.stderrData, QByteArray("to-err\nmore-err\n"));
        QCOMPARE(r.exitCode, 0);
    }

    void nonZeroExit_data()
    {
        addDriverRows();
    }
    void nonZeroExit()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest req;
        req.shell = QStringLiteral("echo failing; exit 42");
        const auto r = run(vm, req);
        QCOMPARE(r.exitCode, 42);
        QCOMPARE(r.signal, 0);
        QCOMPARE(r.stdoutData, QByteArray("failing\n"));

        Agent::ExecRequest f;
        f.argv = QStringList{QStringLiteral("false")};
        QCOMPARE(run(vm, f).exitCode, 1);
    }

    void envCwdAndStdin_data()
    {
        addDriverRows();
    }
    void envCwdAndStdin()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest req;
        req.shell = QStringLiteral("echo \"$GREETING\"; pwd; cat");
        req.env = QStringList{QStringLiteral("GREETING=hi there")};
        req.cwd = QStringLiteral("/tmp");
        req.stdinData = QByteArray("from stdin\n");
        const auto r = run(vm, req);
        QCOMPARE(r.stdoutData, QByteArray("hi there\n/tmp\nfrom stdin\n"));
        QCOMPARE(r.exitCode, 0);
    }

    void commandKilledByTimeout_data()
    {
        addDriverRows();
    }
    void commandKilledByTimeout()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest req;
        // A child in the background too: the whole process group must die.
        req.shell = QStringLiteral("sleep 300 & echo started; sleep 300");
        req.timeoutMs = 1500;
        QElapsedTimer t;
        t.start();
        const auto r = run(vm, req, 60000);
        QVERIFY(r.timedOut);
        QCOMPARE(r.signal, 9);
        QCOMPARE(r.stdoutData, QByteArray("started\n"));
        QVERIFY2(t.elapsed() < 60000, "the timeout did not end the command");
        // Nothing of it is left running in the guest.
        Agent::ExecRequest ps;
        ps.shell = QStringLiteral("ps -o args | grep -c '^sleep 300' || true");
        QCOMPARE(run(vm, ps).stdoutData.trimmed(), QByteArray("0"));
    }

    void eightCommandsAtOnce_data()
    {
        addDriverRows();
    }
    void eightCommandsAtOnce()
    {
        ACQUIRE_VM(vm);
        // Each command waits until all 8 have started (a file per command in
        // a shared directory), so they can only finish if they run at once.
        Agent::ExecRequest prep;
        prep.shell = QStringLiteral("rm -rf /tmp/par && mkdir -p /tmp/par");
        QCOMPARE(run(vm, prep).exitCode, 0);
        QList<Agent::ExecHandle *> handles;
        for (int i = 0; i < 8; ++i) {
            Agent::ExecRequest req;
            req.shell = QStringLiteral("touch /tmp/par/%1; n=0; while [ $(ls /tmp/par | wc -l) -lt 8 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; "
                                       "echo cmd-%1 $(ls /tmp/par | wc -l); echo err-%1 >&2")
                            .arg(i);
            handles << vm->agent()->exec(req);
        }
        for (int i = 0; i < 8; ++i) {
            auto r = await(handles[i]->result(), 120000);
            E2E_VERIFY_OK(r);
            QCOMPARE(r->exitCode, 0);
            QCOMPARE(r->stdoutData, QStringLiteral("cmd-%1 8\n").arg(i).toUtf8());
            QCOMPARE(r->stderrData, QStringLiteral("err-%1\n").arg(i).toUtf8());
        }
        qDeleteAll(handles);
    }

    void streamedOutputArrivesBeforeExit_data()
    {
        addDriverRows();
    }
    void streamedOutputArrivesBeforeExit()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest req;
        req.shell = QStringLiteral("echo first; read line; echo got-$line");
        req.streamStdin = true;
        Agent::ExecHandle *h = vm->agent()->exec(req);
        QSignalSpy out(h, &Agent::ExecHandle::stdoutReceived);
        QTRY_VERIFY_WITH_TIMEOUT(!out.isEmpty(), 30000);
        QCOMPARE(out.first().first().toByteArray(), QByteArray("first\n"));
        QVERIFY(!h->isFinished()); // still waiting for our stdin
        h->writeStdin("ping\n");
        h->closeStdin();
        auto r = await(h->result(), 30000);
        E2E_VERIFY_OK(r);
        QCOMPARE(r->stdoutData, QByteArray("first\ngot-ping\n"));
        delete h;
    }

    void fileRoundTrip32MiB_data()
    {
        addDriverRows();
    }
    void fileRoundTrip32MiB()
    {
        ACQUIRE_VM(vm);
        QByteArray data(32 * 1024 * 1024, Qt::Uninitialized);
        QRandomGenerator gen(1234);
        gen.fillRange(reinterpret_cast<quint32 *>(data.data()), data.size() / 4);
        const QByteArray hash = QCryptographicHash::hash(data, QCryptographicHash::Sha256).toHex();

        QElapsedTimer t;
        t.start();
        auto put = await(vm->agent()->putData(QStringLiteral("/tmp/sub/dir/big.bin"), data, 0640), 300000);
        E2E_VERIFY_OK(put);
        QCOMPARE(*put, quint64(data.size()));
        const qint64 putMs = t.restart();

        // The guest sees the same bytes and mode.
        Agent::ExecRequest sum;
        sum.shell = QStringLiteral("sha256sum /tmp/sub/dir/big.bin | cut -d' ' -f1; stat -c %a /tmp/sub/dir/big.bin");
        QCOMPARE(run(vm, sum, 120000).stdoutData, hash + "\n640\n");

        t.restart();
        auto got = await(vm->agent()->getData(QStringLiteral("/tmp/sub/dir/big.bin")), 300000);
        E2E_VERIFY_OK(got);
        const qint64 getMs = t.elapsed();
        QCOMPARE(got->size(), data.size());
        QCOMPARE(QCryptographicHash::hash(*got, QCryptographicHash::Sha256).toHex(), hash);
        qInfo("32 MiB put %lld ms, get %lld ms", putMs, getMs);

        auto st = await(vm->agent()->stat(QStringLiteral("/tmp/sub/dir/big.bin")), 30000);
        E2E_VERIFY_OK(st);
        QCOMPARE(st->size, quint64(data.size()));
        QCOMPARE(st->mode, 0640u);
        QCOMPARE(st->type, Agent::FileInfo::Type::Regular);
    }

    void fileFromDiskStreams_data()
    {
        addDriverRows();
    }
    void fileFromDiskStreams()
    {
        ACQUIRE_VM(vm);
        // Upload from a file and download into a file: nothing held in memory.
        QTemporaryFile src;
        QVERIFY(src.open());
        QByteArray block(1 << 20, 'x');
        for (int i = 0; i < 5; ++i) {
            block[0] = char('a' + i);
            src.write(block);
        }
        src.write("tail");
        src.flush();
        const qint64 size = src.size();
        auto in = std::make_shared<QFile>(src.fileName());
        QVERIFY(in->open(QIODevice::ReadOnly));
        auto put = await(vm->agent()->putFile(QStringLiteral("/tmp/fromdisk"), in, quint64(size), 0755), 120000);
        E2E_VERIFY_OK(put);
        QTemporaryFile dst;
        QVERIFY(dst.open());
        auto out = std::make_shared<QFile>(dst.fileName());
        QVERIFY(out->open(QIODevice::WriteOnly));
        auto got = await(vm->agent()->getFile(QStringLiteral("/tmp/fromdisk"), out), 120000);
        E2E_VERIFY_OK(got);
        out->close();
        QCOMPARE(qint64(*got), size);
        src.seek(0);
        dst.seek(0);
        QCOMPARE(dst.readAll(), src.readAll());
        auto st = await(vm->agent()->stat(QStringLiteral("/tmp/fromdisk")), 30000);
        E2E_VERIFY_OK(st);
        QCOMPARE(st->mode, 0755u);
    }

    void listDirectory_data()
    {
        addDriverRows();
    }
    void listDirectory()
    {
        ACQUIRE_VM(vm);
        Agent::ExecRequest prep;
        prep.shell = QStringLiteral("rm -rf /tmp/ls && mkdir -p /tmp/ls/sub && echo abc > /tmp/ls/b.txt && ln -s b.txt /tmp/ls/a-link");
        QCOMPARE(run(vm, prep).exitCode, 0);
        auto l = await(vm->agent()->list(QStringLiteral("/tmp/ls")), 30000);
        E2E_VERIFY_OK(l);
        QCOMPARE(l->size(), 3);
        QCOMPARE(l->at(0).name, QStringLiteral("a-link"));
        QCOMPARE(l->at(0).type, Agent::FileInfo::Type::Symlink);
        QCOMPARE(l->at(0).linkTarget, QStringLiteral("b.txt"));
        QCOMPARE(l->at(1).name, QStringLiteral("b.txt"));
        QCOMPARE(l->at(1).size, quint64(4));
        QCOMPARE(l->at(2).name, QStringLiteral("sub"));
        QCOMPARE(l->at(2).type, Agent::FileInfo::Type::Directory);
    }

    void missingPathsGiveClearErrors_data()
    {
        addDriverRows();
    }
    void missingPathsGiveClearErrors()
    {
        ACQUIRE_VM(vm);
        auto got = await(vm->agent()->getData(QStringLiteral("/no/such/file")), 30000);
        QVERIFY(!got);
        QCOMPARE(got.error().code, Core::ErrorCode::NotFound);
        QVERIFY2(got.error().message.contains(QLatin1String("/no/such/file")), qPrintable(got.error().message));

        auto st = await(vm->agent()->stat(QStringLiteral("/no/such/file")), 30000);
        QVERIFY(!st);
        QCOMPARE(st.error().code, Core::ErrorCode::NotFound);

        auto ls = await(vm->agent()->list(QStringLiteral("/no/such/dir")), 30000);
        QVERIFY(!ls);
        QCOMPARE(ls.error().code, Core::ErrorCode::NotFound);

        auto dir = await(vm->agent()->getData(QStringLiteral("/tmp")), 30000);
        QVERIFY(!dir);
        QCOMPARE(dir.error().code, Core::ErrorCode::InvalidArgument); // is a directory

        auto put = await(vm->agent()->putData(QStringLiteral("/proc/nope/x"), "data", 0644, false), 30000);
        QVERIFY(!put);

        Agent::ExecRequest req;
        req.argv = QStringList{QStringLiteral("/no/such/binary")};
        auto r = await(vm->agent()->run(req), 30000);
        QVERIFY(!r);
        QVERIFY2(r.error().message.contains(QLatin1String("/no/such/binary")), qPrintable(r.error().message));

        // The VM and its agent are unaffected.
        Agent::ExecRequest ok;
        ok.argv = QStringList{QStringLiteral("true")};
        QCOMPARE(run(vm, ok).exitCode, 0);
    }

    void health_data()
    {
        addDriverRows();
    }
    void health()
    {
        ACQUIRE_VM(vm);
        auto h = await(vm->agent()->health(), 30000);
        E2E_VERIFY_OK(h);
        QCOMPARE(h->agentVersion, QStringLiteral(MVS_VERSION));
        QVERIFY(h->memTotalKiB > 100 * 1024);
        QVERIFY(h->memAvailableKiB > 0 && h->memAvailableKiB <= h->memTotalKiB);
        QCOMPARE(h->cpus, quint32(vm->vcpus()));
        QCOMPARE(h->hostname, vm->name());
        QVERIFY2(h->kernel.startsWith(QLatin1String("Linux 6.")), qPrintable(h->kernel));
        QVERIFY(h->systemUptimeMs > 0);
        QVERIFY(!vm->agent()->info().bootId.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestE2eAgent)
#include "tst_e2eagent.moc"
