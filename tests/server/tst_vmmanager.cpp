// VmManager without booting anything: names, duplicates, records written
// atomically and read back by a new manager, desired-running VMs reported
// stopped after a reload, broken records skipped, removal.

#include "core/vm/vmmanager.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <limits>

namespace {

// Never asked for an instance here: nothing is started.
class NoDriver final : public Vmm::VmmDriver {
public:
    Vmm::DriverKind kind() const override { return Vmm::DriverKind::Qemu; }
    QString name() const override { return QStringLiteral("none"); }
    Core::Result checkAvailable() const override { return {}; }
    std::unique_ptr<Vmm::VmmInstance> createInstance(const Vmm::VmSpec &) const override { return nullptr; }
};

template<typename T>
Core::Expected<T> await(Core::Future<T> future, int timeoutMs = 10000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!future.isFinished() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    if (!future.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("gave up waiting"));
    return future.result();
}

Vm::VmManager::CreateOptions options(const QString &name, const QString &tmpl = QStringLiteral("minimal"))
{
    Vm::VmManager::CreateOptions o;
    o.name = name;
    o.templateName = tmpl;
    return o;
}

QJsonObject readJson(const QString &path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return QJsonDocument::fromJson(f.readAll()).object();
}

void writeFile(const QString &path, const QByteArray &data)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

} // namespace

class TestVmManager : public QObject {
    Q_OBJECT

private:
    NoDriver m_driver;
    std::unique_ptr<QTemporaryDir> m_dir;

    QString stateDir() const { return m_dir->filePath(QStringLiteral("vms")); }
    QStringList recordFiles() const { return QDir(stateDir()).entryList({QStringLiteral("*.json")}, QDir::Files); }

private Q_SLOTS:
    void init()
    {
        m_dir = std::make_unique<QTemporaryDir>();
        QVERIFY(m_dir->isValid());
    }

    void nameValidation_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("valid");
        QTest::newRow("one letter") << QStringLiteral("a") << true;
        QTest::newRow("digits and dash") << QStringLiteral("vm-1") << true;
        QTest::newRow("leading digit") << QStringLiteral("0abc") << true;
        QTest::newRow("63 chars") << QString(63, QLatin1Char('a')) << true;
        QTest::newRow("empty") << QString() << false;
        QTest::newRow("64 chars") << QString(64, QLatin1Char('a')) << false;
        QTest::newRow("leading dash") << QStringLiteral("-a") << false;
        QTest::newRow("upper case") << QStringLiteral("Web") << false;
        QTest::newRow("underscore") << QStringLiteral("a_b") << false;
        QTest::newRow("dot") << QStringLiteral("a.b") << false;
        QTest::newRow("dot dot") << QStringLiteral("..") << false;
        QTest::newRow("slash") << QStringLiteral("a/b") << false;
        QTest::newRow("space") << QStringLiteral("a b") << false;
        QTest::newRow("trailing newline") << QStringLiteral("ab\n") << false;
        QTest::newRow("non-ascii") << QStringLiteral("caf\u00e9") << false;
    }
    void nameValidation()
    {
        QFETCH(QString, name);
        QFETCH(bool, valid);
        QCOMPARE(bool(Vm::VmManager::validateName(name)), valid);
        Vm::VmManager m(m_driver, stateDir());
        auto created = m.create(options(name));
        QCOMPARE(bool(created), valid);
        if (!valid) {
            QCOMPARE(created.error().code, Core::ErrorCode::InvalidArgument);
            QVERIFY(recordFiles().isEmpty());
        }
    }

    void createWritesPrivateRecord()
    {
        Vm::VmManager m(m_driver, stateDir());
        QSignalSpy added(&m, &Vm::VmManager::vmAdded);
        auto o = options(QStringLiteral("alpha"));
        o.vcpus = 2;
        o.memoryMiB = 512;
        auto info = m.create(o);
        QVERIFY2(info, qPrintable(info ? QString() : info.error().toString()));
        QCOMPARE(info->state, Vm::VirtualMachine::State::Created);
        QCOMPARE(added.count(), 1);
        QCOMPARE(added.first().first().toString(), QStringLiteral("alpha"));

        const QString path = stateDir() + QStringLiteral("/alpha.json");
        QCOMPARE(QFile::permissions(path) & ~(QFile::ReadUser | QFile::WriteUser), QFile::ReadOwner | QFile::WriteOwner);
        const QJsonObject j = readJson(path);
        QCOMPARE(j[QStringLiteral("name")].toString(), QStringLiteral("alpha"));
        QCOMPARE(j[QStringLiteral("template")].toString(), QStringLiteral("minimal"));
        QCOMPARE(j[QStringLiteral("vcpus")].toInt(), 2);
        QCOMPARE(j[QStringLiteral("memory_mb")].toInt(), 512);
        QCOMPARE(j[QStringLiteral("desired_state")].toString(), QStringLiteral("stopped"));
        QVERIFY(j[QStringLiteral("last_error")].isNull());
        QVERIFY(j[QStringLiteral("last_started_at")].isNull());
        QVERIFY(QDateTime::fromString(j[QStringLiteral("created_at")].toString(), Qt::ISODateWithMs).isValid());
        // No temporary files left beside it.
        QCOMPARE(QDir(stateDir()).entryList(QDir::Files), QStringList{QStringLiteral("alpha.json")});

        // The console log goes beside the record.
        QCOMPARE(m.vm(QStringLiteral("alpha"))->consoleLogPath(), stateDir() + QStringLiteral("/alpha.console.log"));
        QCOMPARE(m.vm(QStringLiteral("alpha"))->vcpus(), 2);
        QCOMPARE(m.vm(QStringLiteral("alpha"))->memoryMiB(), 512);
    }

    void duplicateRejected()
    {
        Vm::VmManager m(m_driver, stateDir());
        auto o = options(QStringLiteral("twice"));
        o.vcpus = 1;
        QVERIFY(m.create(o));
        o.vcpus = 3;
        auto again = m.create(o);
        QVERIFY(!again);
        QCOMPARE(again.error().code, Core::ErrorCode::AlreadyExists);
        QCOMPARE(readJson(stateDir() + QStringLiteral("/twice.json"))[QStringLiteral("vcpus")].toInt(), 1);
        QCOMPARE(m.names(), QStringList{QStringLiteral("twice")});
    }

    void badInputsLeaveNothing_data()
    {
        QTest::addColumn<QString>("tmpl");
        QTest::addColumn<int>("vcpus");
        QTest::addColumn<int>("memory");
        QTest::addColumn<int>("code");
        const int invalid = static_cast<int>(Core::ErrorCode::InvalidArgument);
        QTest::newRow("unknown template") << QStringLiteral("no-such-template") << 0 << 0 << static_cast<int>(Core::ErrorCode::NotFound);
        QTest::newRow("template path") << QStringLiteral("/etc/passwd") << 0 << 0 << invalid;
        QTest::newRow("template relative path") << QStringLiteral("../minimal.yaml") << 0 << 0 << invalid;
        QTest::newRow("empty template") << QString() << 0 << 0 << invalid;
        QTest::newRow("zero vcpus") << QStringLiteral("minimal") << -1 << 0 << invalid;
        QTest::newRow("too many vcpus") << QStringLiteral("minimal") << 1000 << 0 << invalid;
        QTest::newRow("too little memory") << QStringLiteral("minimal") << 0 << 1 << invalid;
        QTest::newRow("too much memory") << QStringLiteral("minimal") << 0 << 100000000 << invalid;
    }
    void badInputsLeaveNothing()
    {
        QFETCH(QString, tmpl);
        QFETCH(int, vcpus);
        QFETCH(int, memory);
        QFETCH(int, code);
        Vm::VmManager m(m_driver, stateDir());
        auto o = options(QStringLiteral("bad"), tmpl);
        if (vcpus)
            o.vcpus = vcpus < 0 ? 0 : vcpus;
        if (memory)
            o.memoryMiB = memory;
        auto r = m.create(o);
        QVERIFY(!r);
        QCOMPARE(static_cast<int>(r.error().code), code);
        QVERIFY(!m.contains(QStringLiteral("bad")));
        QVERIFY(recordFiles().isEmpty());
    }

    void recordsSurviveAReload()
    {
        QDateTime created;
        {
            Vm::VmManager m(m_driver, stateDir());
            auto o = options(QStringLiteral("keep"));
            o.memoryMiB = 384;
            auto info = m.create(o);
            QVERIFY(info);
            created = info->record.createdAt;
            QVERIFY(m.create(options(QStringLiteral("another"))));
        }
        // A VM that ran when its manager went away, as the record says.
        QJsonObject ran = readJson(stateDir() + QStringLiteral("/another.json"));
        ran[QStringLiteral("desired_state")] = QStringLiteral("running");
        ran[QStringLiteral("last_started_at")] = QStringLiteral("2026-01-02T03:04:05.006Z");
        writeFile(stateDir() + QStringLiteral("/another.json"), QJsonDocument(ran).toJson());

        Vm::VmManager m(m_driver, stateDir());
        QVERIFY(m.loadWarnings().isEmpty());
        QCOMPARE(m.names(), (QStringList{QStringLiteral("another"), QStringLiteral("keep")}));
        auto keep = m.info(QStringLiteral("keep"));
        QVERIFY(keep);
        QCOMPARE(keep->record.templateName, QStringLiteral("minimal"));
        QCOMPARE(keep->record.memoryMiB, 384);
        QCOMPARE(keep->record.vcpus, 1);
        QCOMPARE(keep->record.createdAt, created);
        QCOMPARE(keep->state, Vm::VirtualMachine::State::Created);
        QCOMPARE(keep->record.desired, Vm::VmRecord::Desired::Stopped);

        // Its VMM died with the previous process: stopped, desire kept.
        auto another = m.info(QStringLiteral("another"));
        QVERIFY(another);
        QCOMPARE(another->state, Vm::VirtualMachine::State::Stopped);
        QCOMPARE(another->record.desired, Vm::VmRecord::Desired::Running);
        QCOMPARE(another->record.lastStartedAt, QDateTime::fromString(QStringLiteral("2026-01-02T03:04:05.006Z"), Qt::ISODateWithMs));
        QVERIFY(!m.vm(QStringLiteral("another"))); // instantiated on its next start

        // Nothing runs, so there is no agent to talk to.
        auto agent = m.agent(QStringLiteral("another"));
        QVERIFY(!agent);
        QCOMPARE(agent.error().code, Core::ErrorCode::InvalidState);
        // Stopping a stopped VM is fine and records the desire.
        QVERIFY(await(m.stop(QStringLiteral("another"))));
        QCOMPARE(readJson(stateDir() + QStringLiteral("/another.json"))[QStringLiteral("desired_state")].toString(), QStringLiteral("stopped"));
    }

    void lastErrorRoundTrip()
    {
        Vm::VmRecord r;
        r.name = QStringLiteral("e");
        r.templateName = QStringLiteral("minimal");
        r.vcpus = 1;
        r.memoryMiB = 256;
        r.createdAt = QDateTime::currentDateTimeUtc();
        r.lastError = Core::Error(Core::ErrorCode::Timeout, QStringLiteral("too slow"));
        auto back = Vm::VmRecord::fromJson(r.toJson());
        QVERIFY(back);
        QVERIFY(back->lastError.has_value());
        QCOMPARE(back->lastError->code, Core::ErrorCode::Timeout);
        QCOMPARE(back->lastError->message, QStringLiteral("too slow"));
        QCOMPARE(back->createdAt, r.createdAt);
    }

    void brokenRecordsAreSkipped()
    {
        {
            Vm::VmManager m(m_driver, stateDir());
            QVERIFY(m.create(options(QStringLiteral("good"))));
        }
        writeFile(stateDir() + QStringLiteral("/garbage.json"), "{ not json");
        writeFile(stateDir() + QStringLiteral("/array.json"), "[1, 2]");
        QJsonObject other = readJson(stateDir() + QStringLiteral("/good.json"));
        writeFile(stateDir() + QStringLiteral("/renamed.json"), QJsonDocument(other).toJson()); // name says "good"
        other[QStringLiteral("name")] = QStringLiteral("Bad_Name");
        writeFile(stateDir() + QStringLiteral("/Bad_Name.json"), QJsonDocument(other).toJson());
        QJsonObject noVcpus = readJson(stateDir() + QStringLiteral("/good.json"));
        noVcpus.remove(QStringLiteral("vcpus"));
        noVcpus[QStringLiteral("name")] = QStringLiteral("partial");
        writeFile(stateDir() + QStringLiteral("/partial.json"), QJsonDocument(noVcpus).toJson());

        Vm::VmManager m(m_driver, stateDir());
        QCOMPARE(m.names(), QStringList{QStringLiteral("good")});
        QCOMPARE(m.loadWarnings().size(), 5);
    }

    void removeForgetsEverything()
    {
        Vm::VmManager m(m_driver, stateDir());
        QVERIFY(m.create(options(QStringLiteral("gone"))));
        writeFile(m.consoleLogPath(QStringLiteral("gone")), "old console output\n");
        auto log = m.consoleLog(QStringLiteral("gone"), 4);
        QVERIFY(log);
        QCOMPARE(*log, QByteArray("put\n"));
        QSignalSpy removed(&m, &Vm::VmManager::vmRemoved);
        auto r = await(m.remove(QStringLiteral("gone")));
        QVERIFY2(r, qPrintable(r ? QString() : r.error().toString()));
        QCOMPARE(removed.count(), 1);
        QVERIFY(!m.contains(QStringLiteral("gone")));
        QVERIFY(QDir(stateDir()).entryList(QDir::Files).isEmpty());
        // The name is free again, with a fresh console log.
        QVERIFY(m.create(options(QStringLiteral("gone"))));
        QCOMPARE(*m.consoleLog(QStringLiteral("gone"), 100), QByteArray());
    }

    void unknownAndBadNames()
    {
        Vm::VmManager m(m_driver, stateDir());
        for (auto op :
             {&Vm::VmManager::start, &Vm::VmManager::stop, &Vm::VmManager::pause, &Vm::VmManager::resume, &Vm::VmManager::restart, &Vm::VmManager::remove}) {
            auto r = await((m.*op)(QStringLiteral("nobody")));
            QVERIFY(!r);
            QCOMPARE(r.error().code, Core::ErrorCode::NotFound);
            auto bad = await((m.*op)(QStringLiteral("../etc")));
            QVERIFY(!bad);
            QCOMPARE(bad.error().code, Core::ErrorCode::InvalidArgument);
        }
        QCOMPARE(m.info(QStringLiteral("nobody")).error().code, Core::ErrorCode::NotFound);
        QCOMPARE(m.consoleLog(QStringLiteral("nobody"), 10).error().code, Core::ErrorCode::NotFound);
        QCOMPARE(m.agent(QStringLiteral("Nobody")).error().code, Core::ErrorCode::InvalidArgument);
    }

    void operationsThatDoNotFitTheState()
    {
        Vm::VmManager m(m_driver, stateDir());
        QVERIFY(m.create(options(QStringLiteral("idle"))));
        auto pause = await(m.pause(QStringLiteral("idle")));
        QVERIFY(!pause);
        QCOMPARE(pause.error().code, Core::ErrorCode::InvalidState);
        auto resume = await(m.resume(QStringLiteral("idle")));
        QVERIFY(!resume);
        QCOMPARE(resume.error().code, Core::ErrorCode::InvalidState);
        auto agent = m.agent(QStringLiteral("idle"));
        QVERIFY(!agent);
        QCOMPARE(agent.error().code, Core::ErrorCode::InvalidState);
        QVERIFY2(agent.error().message.contains(QLatin1String("start it first")), qPrintable(agent.error().message));
        auto cpu = m.vmmCpuMs(QStringLiteral("idle"));
        QVERIFY(!cpu);
        QCOMPARE(cpu.error().code, Core::ErrorCode::InvalidState);
        auto cancel = m.cancelImageBuild(QStringLiteral("idle"));
        QVERIFY(!cancel);
        QCOMPARE(cancel.error().code, Core::ErrorCode::InvalidState);
        QCOMPARE(m.vmmCpuMs(QStringLiteral("nobody")).error().code, Core::ErrorCode::NotFound);
    }

    // What the GUI asks the manager instead of reaching into a VM.
    void desktopAndCpuTimeThroughTheManager()
    {
        Vm::VmManager m(m_driver, stateDir());
        QVERIFY(m.create(options(QStringLiteral("plain"))));
        QVERIFY(m.create(options(QStringLiteral("screen"), QStringLiteral("desktop"))));
        QCOMPARE(m.hasDesktop(QStringLiteral("plain")).valueOr(true), false);
        QCOMPARE(m.hasDesktop(QStringLiteral("screen")).valueOr(false), true);
        // Also for a VM known only from its record (not instantiated yet).
        Vm::VmManager reloaded(m_driver, stateDir());
        QCOMPARE(reloaded.hasDesktop(QStringLiteral("screen")).valueOr(false), true);
        QCOMPARE(reloaded.hasDesktop(QStringLiteral("nobody")).error().code, Core::ErrorCode::NotFound);
        // The CPU time of a process, as the VM list samples a VMM's.
        const auto self = Vmm::processCpuMs(QCoreApplication::applicationPid());
        QVERIFY(self && *self >= 0);
        QVERIFY(!Vmm::processCpuMs(0));
        QVERIFY(!Vmm::processCpuMs(std::numeric_limits<int>::max()));
    }
};

QTEST_GUILESS_MAIN(TestVmManager)
#include "tst_vmmanager.moc"
