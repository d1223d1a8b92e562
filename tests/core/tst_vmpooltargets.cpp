// The pool's targets (no guests; tst_vmpool has the guests): the config's
// "<template>=<count>, ..." parsed, and read back; what is refused, and
// why: bad items, counts over the limit, a template named twice, a
// template that gives its VMs a NIC, an unknown template, a pool without
// warm starts. A refused change leaves the pool as it was.

#include "core/vm/vmmanager.h"
#include "core/vm/vmpool.h"
#include "core/vmm/vmmdriver.h"

#include <QTemporaryDir>
#include <QTest>

class TestVmPoolTargets : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void parses()
    {
        auto t = Vm::VmPool::parseTargets(QStringLiteral(" minimal=2, desktop = 1 ,computer-use=0"));
        QVERIFY(t.hasValue());
        QCOMPARE(t->size(), 3);
        QCOMPARE(t->at(0), (Vm::VmPool::Target{QStringLiteral("minimal"), 2}));
        QCOMPARE(t->at(1), (Vm::VmPool::Target{QStringLiteral("desktop"), 1}));
        QCOMPARE(t->at(2), (Vm::VmPool::Target{QStringLiteral("computer-use"), 0}));
        QCOMPARE(Vm::VmPool::formatTargets(*t), QStringLiteral("minimal=2, desktop=1, computer-use=0"));
        auto none = Vm::VmPool::parseTargets(QString());
        QVERIFY(none.hasValue());
        QVERIFY(none->isEmpty());
    }

    void refusesBadText_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("says");
        QTest::newRow("no count") << QStringLiteral("minimal") << QStringLiteral("is not <template>=<count>");
        QTest::newRow("negative") << QStringLiteral("minimal=-1") << QStringLiteral("is not <template>=<count>");
        QTest::newRow("word") << QStringLiteral("minimal=two") << QStringLiteral("is not <template>=<count>");
        QTest::newRow("path") << QStringLiteral("../x=1") << QStringLiteral("is not <template>=<count>");
        QTest::newRow("too many") << QStringLiteral("minimal=9") << QStringLiteral("more than 8");
        QTest::newRow("twice") << QStringLiteral("minimal=1,minimal=2") << QStringLiteral("named twice");
    }
    void refusesBadText()
    {
        QFETCH(QString, text);
        QFETCH(QString, says);
        auto t = Vm::VmPool::parseTargets(text);
        QVERIFY(!t.hasValue());
        QCOMPARE(t.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(t.error().message.contains(says), qPrintable(t.error().message));
    }

    void managerRefusesWhatCannotBePooled()
    {
        Vmm::DriverOptions opts;
        opts.kind = Vmm::DriverKind::Qemu;
        auto driver = Vmm::createDriver(opts);
        QVERIFY2(driver.hasValue(), driver.hasValue() ? "" : qPrintable(driver.error().message));
        QTemporaryDir state;
        Vm::VmManager manager(**driver, state.path());
        // No warm starts, no pool.
        auto cold = manager.setPoolTargets({{QStringLiteral("minimal"), 1}});
        QVERIFY(!cold);
        QCOMPARE(cold.error().code, Core::ErrorCode::InvalidState);
        QVERIFY2(cold.error().message.contains(QLatin1String("warm_start")), qPrintable(cold.error().message));
        QVERIFY(manager.setPoolTargets({}).hasValue()); // nothing asked: fine
        QVERIFY(!manager.pool());

        manager.setWarmStart(true);
        // The agent template gives its VMs a NIC.
        auto nic = manager.setPoolTargets({{QStringLiteral("agent"), 1}});
        QVERIFY(!nic);
        QCOMPARE(nic.error().code, Core::ErrorCode::Unsupported);
        QVERIFY2(nic.error().message.contains(QLatin1String("NIC")), qPrintable(nic.error().message));
        auto unknown = manager.setPoolTargets({{QStringLiteral("no-such-template"), 1}});
        QVERIFY(!unknown);
        QCOMPARE(unknown.error().code, Core::ErrorCode::NotFound);
        // A refused change leaves the targets as they were; a count of 0 is
        // fine for any template.
        QVERIFY(manager.setPoolTargets({{QStringLiteral("agent"), 0}}).hasValue());
        QCOMPARE(manager.pool()->targets(), (QList<Vm::VmPool::Target>{{QStringLiteral("agent"), 0}}));
        QVERIFY(!manager.setPoolTargets({{QStringLiteral("agent"), 2}}));
        QCOMPARE(manager.pool()->targets(), (QList<Vm::VmPool::Target>{{QStringLiteral("agent"), 0}}));
        QCOMPARE(manager.pool()->readyCount(), 0);
        QCOMPARE(manager.pool()->memoryMiB(), 0);
    }
};

QTEST_GUILESS_MAIN(TestVmPoolTargets)
#include "tst_vmpooltargets.moc"
