// Boot reliability: 20 consecutive boots of the minimal template, each to a
// working guest agent, with no retry. A boot that misses its deadline fails
// the test and prints the guest's serial log.

#include "e2efixture.h"

#include "core/agent/agentclient.h"

#include <QElapsedTimer>

#include <algorithm>

using namespace E2e;

class TestBootReliability : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }

    void twentyConsecutiveBoots_data() { addDriverRows(); }
    void twentyConsecutiveBoots()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const int boots = qEnvironmentVariableIntValue("MVS_BOOT_COUNT") > 0 ? qEnvironmentVariableIntValue("MVS_BOOT_COUNT") : 20;

        QList<qint64> times;
        for (int i = 0; i < boots; ++i) {
            Vm::VirtualMachine vm(QStringLiteral("boot-%1").arg(i), minimalTemplate(), driver);
            vm.setReadyTimeoutMs(kBootTimeoutMs);
            const auto started = await(vm.start(), kBootTimeoutMs + 300000);
            if (!started) {
                // The error of a boot timeout carries the serial log tail;
                // print the whole log we have as well.
                qWarning("boot %d failed: %s\n--- serial log ---\n%s", i + 1, qPrintable(started.error().toString()), qPrintable(vm.consoleLog()));
                QFAIL(qPrintable(QStringLiteral("boot %1 of %2 did not reach the agent").arg(i + 1).arg(boots)));
            }
            // Ready means usable: a command runs.
            Agent::ExecRequest req;
            req.shell = QStringLiteral("cat /proc/sys/kernel/random/boot_id");
            const auto r = await(vm.agent()->run(req), 30000);
            E2E_VERIFY_OK(r);
            QCOMPARE(r->exitCode, 0);
            QCOMPARE(QString::fromLatin1(r->stdoutData.trimmed()), vm.agent()->info().bootId);
            times << vm.bootMs();
            E2E_VERIFY_OK(await(vm.stop(), 15000));
            QCOMPARE(vm.state(), Vm::VirtualMachine::State::Stopped);
        }
        std::sort(times.begin(), times.end());
        qInfo("%d/%d boots reached the agent; spawn->agent ms: min %lld, median %lld, max %lld", boots, boots, times.first(), times.at(times.size() / 2),
              times.last());
    }
};

QTEST_GUILESS_MAIN(TestBootReliability)
#include "tst_bootreliability.moc"
