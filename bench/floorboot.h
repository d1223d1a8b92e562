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

} // namespace Bench
