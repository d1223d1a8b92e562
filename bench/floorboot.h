#pragma once
// The floor of a boot: bare QEMU with a VM's own command line (the product's
// builder), the kernel told to stop at init, timed from spawn to init's line
// on the serial console. -1 when it never got there.

#include "core/paths.h"
#include "core/vmm/consolelog.h"
#include "core/vmm/qemucommandline.h"
#include "core/vmm/vmspec.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>

namespace Bench {

inline constexpr int kFloorTimeoutMs = 120000;

inline double floorBootMs(const Vmm::VmSpec &base, Vmm::QemuCommandLine::Accel accel, const QString &qemu)
{
    QTemporaryDir dir(Core::Paths::runtimeDir() + QStringLiteral("/floor-XXXXXX"));
    Vmm::VmSpec spec = base;
    spec.runtimeDir = dir.path();
    spec.consoleLogPath = dir.filePath(QStringLiteral("console.log"));
    spec.kernelCmdline += QStringLiteral(" mvs.floor=1");
    QProcess p;
    p.setProgram(qemu);
    p.setArguments(Vmm::QemuCommandLine::build(spec, accel));
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    // The serial console is served on a socket; read it as the product does.
    Vmm::ConsoleLog console(spec.consoleLogPath);
    const QString consoleSocket = Vmm::QemuCommandLine::consoleSocketPath(spec);
    QElapsedTimer t;
    t.start();
    p.start();
    double reached = -1;
    while (t.elapsed() < kFloorTimeoutMs) {
        if (!console.isAttached() && QFile::exists(consoleSocket))
            console.attach(consoleSocket);
        QCoreApplication::processEvents(QEventLoop::AllEvents);
        if (Vmm::ConsoleLog::tail(spec.consoleLogPath, -1).contains("mvs-init: reached")) {
            reached = double(t.nsecsElapsed()) / 1e6;
            break;
        }
        if (p.state() == QProcess::NotRunning)
            break;
        QThread::usleep(500);
    }
    p.kill();
    p.waitForFinished();
    return reached;
}

// A /proc/<pid>/<file> field's value in KiB ("VmRSS:" of status, "Pss:"
// of smaps_rollup); -1 when unreadable.
inline qint64 procKiB(qint64 pid, const char *file, const QByteArray &field)
{
    QFile f(QStringLiteral("/proc/%1/%2").arg(pid).arg(QLatin1String(file)));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n'))
        if (line.startsWith(field))
            return line.mid(field.size()).trimmed().split(' ').value(0).toLongLong();
    return -1;
}

// The same VM in bare QEMU, alone: its command line as the product builds
// it (the guest boots whole, agent and all), left idle for settleMs, then
// QEMU's resident size in KiB. -1 when QEMU did not stay up.
inline qint64 bareQemuResidentKiB(const Vmm::VmSpec &base, Vmm::QemuCommandLine::Accel accel, const QString &qemu, int settleMs)
{
    QTemporaryDir dir(Core::Paths::runtimeDir() + QStringLiteral("/bare-XXXXXX"));
    Vmm::VmSpec spec = base;
    spec.runtimeDir = dir.path();
    spec.consoleLogPath.clear();
    QProcess p;
    p.setProgram(qemu);
    p.setArguments(Vmm::QemuCommandLine::build(spec, accel));
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    p.start();
    if (!p.waitForStarted())
        return -1;
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < settleMs && p.state() == QProcess::Running)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 100);
    const qint64 rss = p.state() == QProcess::Running ? procKiB(p.processId(), "status", "VmRSS:") : -1;
    p.kill();
    p.waitForFinished();
    return rss;
}

} // namespace Bench
