// The desktop template on real guests: the Debian root disk boots through the
// initramfs into busybox init, the agent answers, Xvnc listens on
// 127.0.0.1:5900 only, the window manager gives the xterm the focus, and
// each VM writes to its own disk: writes survive a restart and are not seen
// by another VM over the same base. Boot times are printed.
//
// MVS_DESKTOP_BOOTS sets the number of consecutive boots (default 3).

#include "e2efixture.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>

using namespace E2e;

namespace {

// The first image build runs debootstrap: minutes, once per machine.
constexpr int kImageBuildMs = 40 * 60 * 1000;
constexpr int kDesktopBootMs = 180000; // spawn -> agent under TCG
constexpr int kDesktopReadyMs = 180000; // agent -> xterm focused

Templates::VmTemplate desktopTemplate()
{
    auto t = Templates::VmTemplate::load(QStringLiteral("desktop"));
    if (!t)
        qFatal("cannot load the desktop template: %s", qPrintable(t.error().message));
    return *t;
}

Core::Expected<Agent::ExecResult> sh(Vm::VirtualMachine &vm, const QString &script, int timeoutMs = 30000)
{
    Agent::ExecRequest req;
    req.shell = script;
    req.timeoutMs = timeoutMs;
    return await(vm.agent()->run(req), timeoutMs + 10000);
}

QString out(const Core::Expected<Agent::ExecResult> &r)
{
    return r ? QString::fromUtf8(r->stdoutData).trimmed() : QString();
}

// Polls in the guest (one exec, cheap checks first: under TCG every X client
// costs the boot CPU time; the session logs when it starts the terminal) until Xvnc listens on 127.0.0.1:5900 (0x170C) and
// the window manager made the xterm the active window. Prints the guest
// uptime at both moments and the focused window's name.
const QString kDesktopProbe =
    QStringLiteral("n=0\n"
                   "until grep -qE '^ *[0-9]+: 0100007F:170C 00000000:0000 0A' /proc/net/tcp; do\n"
                   "    n=$((n + 1)); [ $n -gt 900 ] && { echo 'Xvnc does not listen on 127.0.0.1:5900'; exit 3; }; sleep 0.2\n"
                   "done\n"
                   "listen=$(cut -d' ' -f1 /proc/uptime)\n"
                   "if grep -qE '^ *[0-9]+: 00000000:170C ' /proc/net/tcp || grep -qiE '^ *[0-9]+: [0-9A-F]{32}:170C ' /proc/net/tcp6 2>/dev/null; then\n"
                   "    echo 'Xvnc listens beyond the loopback interface'; exit 4\n"
                   "fi\n"
                   "export DISPLAY=:0\n"
                   "n=0\n"
                   "until grep -q 'starting' /var/log/mvs-desktop-terminal.log 2>/dev/null; do\n"
                   "    n=$((n + 1)); [ $n -gt 900 ] && { echo 'the terminal was not started'; exit 5; }; sleep 0.2\n"
                   "done\n"
                   "n=0\n"
                   "until [ \"$(xdotool getactivewindow getwindowname 2>/dev/null)\" = xterm ]; do\n"
                   "    n=$((n + 1)); [ $n -gt 300 ] && { echo \"active window: $(xdotool getactivewindow getwindowname 2>&1)\"; exit 5; }; sleep 0.5\n"
                   "done\n"
                   "desktop=$(cut -d' ' -f1 /proc/uptime)\n"
                   "echo \"$listen $desktop $(xdotool getwindowfocus getwindowname)\"\n");

struct DesktopTimes {
    qint64 agentMs = 0; // start() -> agent ready (includes making the disk layer)
    qint64 desktopMs = 0; // start() -> xterm active
    double listenUptimeS = 0; // guest uptime when Xvnc listened
    double desktopUptimeS = 0; // guest uptime when the xterm was active
};

// Start the VM and wait for its desktop; false with the logs otherwise.
bool bootToDesktop(Vm::VirtualMachine &vm, DesktopTimes &times, QString &why)
{
    vm.setReadyTimeoutMs(kDesktopBootMs);
    QElapsedTimer t;
    t.start();
    const auto started = await(vm.start(), kDesktopBootMs + kImageBuildMs);
    if (!started) {
        why = QStringLiteral("start failed: %1\n--- serial log ---\n%2").arg(started.error().toString(), vm.consoleLog());
        return false;
    }
    times.agentMs = t.elapsed();
    const auto r = sh(vm, kDesktopProbe, kDesktopReadyMs);
    if (!r) {
        why = QStringLiteral("exec failed: %1").arg(r.error().toString());
        return false;
    }
    times.desktopMs = t.elapsed();
    const QStringList f = out(r).split(QLatin1Char(' '));
    if (r->exitCode != 0 || f.size() != 3) {
        const auto logs = sh(vm, QStringLiteral("tail -n 20 /var/log/mvs-desktop-*.log; ps -eo pid,etimes,args"));
        why = QStringLiteral("no desktop (exit %1): %2 %3\n--- desktop logs ---\n%4").arg(r->exitCode).arg(out(r), QString::fromUtf8(r->stderrData), out(logs));
        return false;
    }
    if (f.at(2) != QLatin1String("xterm")) {
        why = QStringLiteral("the xterm is active but '%1' has the keyboard focus").arg(f.at(2));
        return false;
    }
    times.listenUptimeS = f.at(0).toDouble();
    times.desktopUptimeS = f.at(1).toDouble();
    return true;
}

QString summary(QList<qint64> v)
{
    std::sort(v.begin(), v.end());
    return QStringLiteral("min %1, median %2, max %3").arg(v.first()).arg(v.at(v.size() / 2)).arg(v.last());
}

} // namespace

class TestDesktopBoot : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { initEnvironment(); }

    void consecutiveBootsToDesktop_data() { addDriverRows(); }
    void consecutiveBootsToDesktop()
    {
        E2E_DRIVER_OR_SKIP(driver);
        const int boots = qEnvironmentVariableIntValue("MVS_DESKTOP_BOOTS") > 0 ? qEnvironmentVariableIntValue("MVS_DESKTOP_BOOTS") : 3;
        QList<qint64> agentMs, desktopMs, spawnMs;
        for (int i = 0; i < boots; ++i) {
            Vm::VirtualMachine vm(QStringLiteral("desk-%1").arg(i), desktopTemplate(), driver);
            DesktopTimes times;
            QString why;
            if (!bootToDesktop(vm, times, why))
                QFAIL(qPrintable(QStringLiteral("boot %1 of %2: %3").arg(i + 1).arg(boots).arg(why)));
            // The root disk is writable.
            const auto w = sh(vm, QStringLiteral("echo boot-%1 > /root/written && sync && cat /root/written && touch /usr/local/probe").arg(i));
            E2E_VERIFY_OK(w);
            QCOMPARE(w->exitCode, 0);
            QCOMPARE(out(w), QStringLiteral("boot-%1").arg(i));
            qInfo("boot %d: start->agent %lld ms (spawn->agent %lld ms), start->desktop %lld ms; guest uptime: Xvnc listening %.2f s, "
                  "xterm active %.2f s",
                  i + 1, times.agentMs, vm.bootMs(), times.desktopMs, times.listenUptimeS, times.desktopUptimeS);
            agentMs << times.agentMs;
            spawnMs << vm.bootMs();
            desktopMs << times.desktopMs;
            E2E_VERIFY_OK(await(vm.stop(), 30000));
        }
        qInfo("%d/%d desktop boots; start->agent ms: %s; spawn->agent ms: %s; start->desktop ms: %s", boots, boots, qPrintable(summary(agentMs)),
              qPrintable(summary(spawnMs)), qPrintable(summary(desktopMs)));
    }

    void ownDisksOverOneBase_data() { addDriverRows(); }
    void ownDisksOverOneBase()
    {
        E2E_DRIVER_OR_SKIP(driver);
        QTemporaryDir disks;
        QVERIFY(disks.isValid());
        Vm::VirtualMachine a(QStringLiteral("desk-a"), desktopTemplate(), driver);
        Vm::VirtualMachine b(QStringLiteral("desk-b"), desktopTemplate(), driver);
        a.setDiskDir(disks.filePath(QStringLiteral("a")));
        b.setDiskDir(disks.filePath(QStringLiteral("b")));
        a.setReadyTimeoutMs(kDesktopBootMs * 2); // two guests share the host's cores
        b.setReadyTimeoutMs(kDesktopBootMs * 2);
        // Both at once: two VMMs on the same read-only base.
        auto fa = a.start();
        auto fb = b.start();
        E2E_VERIFY_OK(await(fa, kDesktopBootMs * 2 + kImageBuildMs));
        E2E_VERIFY_OK(await(fb, kDesktopBootMs * 2));

        E2E_VERIFY_OK(sh(a, QStringLiteral("echo from-a > /root/mine && sync")));
        E2E_VERIFY_OK(sh(b, QStringLiteral("echo from-b > /root/mine && sync")));
        const auto ra = sh(a, QStringLiteral("cat /root/mine"));
        const auto rb = sh(b, QStringLiteral("cat /root/mine"));
        QCOMPARE(out(ra), QStringLiteral("from-a"));
        QCOMPARE(out(rb), QStringLiteral("from-b"));
        const auto fresh = sh(b, QStringLiteral("test -e /root/written && echo leaked || echo clean"));
        QCOMPARE(out(fresh), QStringLiteral("clean")); // nothing from the boots above either
        E2E_VERIFY_OK(await(b.stop(), 30000));

        // A restart of the same VM keeps its disk, and so its writes.
        E2E_VERIFY_OK(await(a.stop(), 30000));
        E2E_VERIFY_OK(await(a.start(), kDesktopBootMs));
        const auto again = sh(a, QStringLiteral("cat /root/mine"));
        QCOMPARE(out(again), QStringLiteral("from-a"));
        E2E_VERIFY_OK(await(a.stop(), 30000));
    }
};

QTEST_GUILESS_MAIN(TestDesktopBoot)
#include "tst_desktopboot.moc"
