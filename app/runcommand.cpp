#include "app/runcommand.h"

#include "app/clioptions.h"
#include "app/signalwatcher.h"
#include "core/agent/agentclient.h"
#include "core/vm/virtualmachine.h"
#include "core/vmm/vmmdriver.h"

#include <QCoreApplication>
#include <QFile>
#include <QSocketNotifier>
#include <QTimer>

#include <cstdio>
#include <unistd.h>

namespace App {
namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 125; // the sandbox failed, not the command
constexpr int kExitTimeout = 124;

void err(const QString &s)
{
    std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(s));
}

} // namespace

int runCommand(QStringList args)
{
    DriverFlags flags;
    if (auto r = flags.take(args); !r) {
        err(r.error().message);
        return kExitUsage;
    }
    QString templateName = QStringLiteral("minimal"), vcpus, memory, timeout, keepConsole;
    for (auto [flag, target] : {std::pair{QStringLiteral("--template"), &templateName}, std::pair{QStringLiteral("--vcpus"), &vcpus},
                                std::pair{QStringLiteral("--memory"), &memory}, std::pair{QStringLiteral("--timeout"), &timeout},
                                std::pair{QStringLiteral("--keep-console"), &keepConsole}}) {
        if (auto r = takeOption(args, flag, target); !r) {
            err(r.error().message);
            return kExitUsage;
        }
    }
    const bool quiet = args.removeAll(QStringLiteral("--quiet")) > 0;
    const qsizetype dashdash = args.indexOf(QStringLiteral("--"));
    const QStringList command = dashdash >= 0 ? args.mid(dashdash + 1) : args;
    const QStringList leftover = dashdash >= 0 ? args.mid(0, dashdash) : QStringList();
    if (!leftover.isEmpty()) {
        err(QStringLiteral("unknown option %1").arg(leftover.first()));
        return kExitUsage;
    }
    if (command.isEmpty()) {
        err(QStringLiteral("usage: microvm-sandbox run [--template NAME] [--vcpus N] [--memory MiB] [--timeout S] -- COMMAND [ARGS...]"));
        return kExitUsage;
    }

    auto tmpl = Templates::VmTemplate::load(templateName);
    if (!tmpl) {
        err(tmpl.error().message);
        return kExitUsage;
    }
    auto options = flags.options();
    if (!options) {
        err(options.error().message);
        return kExitUsage;
    }
    auto driver = Vmm::createDriver(*options);
    if (!driver) {
        err(driver.error().message);
        return kExitFailure;
    }

    bool ok = false;
    const int timeoutS = timeout.isEmpty() ? 0 : timeout.toInt(&ok);
    if (!timeout.isEmpty() && (!ok || timeoutS < 0)) {
        err(QStringLiteral("--timeout takes seconds"));
        return kExitUsage;
    }

    Vm::VirtualMachine vm(QStringLiteral("run-%1").arg(::getpid()), *tmpl, **driver);
    if (!vcpus.isEmpty())
        vm.setVcpus(vcpus.toInt());
    if (!memory.isEmpty())
        vm.setMemoryMiB(memory.toInt());
    if (!keepConsole.isEmpty())
        vm.setConsoleLogPath(keepConsole);

    int exitCode = kExitFailure;
    bool interrupted = false;
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &vm, [&](int sig) {
        err(QStringLiteral("interrupted, destroying the VM"));
        interrupted = true;
        vm.kill();
        exitCode = 128 + sig;
        QCoreApplication::exit(exitCode);
    });
    QObject::connect(&vm, &Vm::VirtualMachine::imageProgress, &vm, [quiet](const QString &step, int pct) {
        if (!quiet)
            std::fprintf(stderr, "[image %3d%%] %s\n", pct, qPrintable(step));
    });
    QObject::connect(&vm, &Vm::VirtualMachine::failed, &vm, [&](const Core::Error &e) {
        err(QStringLiteral("the VM failed: %1").arg(e.message));
        exitCode = kExitFailure;
        QCoreApplication::exit(exitCode);
    });

    // Start inside the event loop, so that a failure reported at once still
    // reaches a running loop (an exit() before exec() would be lost).
    QTimer::singleShot(0, &vm, [&]() {
    vm.start().then(&vm, [&](const Core::Result &started) {
        if (!started) {
            err(started.error().message);
            QCoreApplication::exit(kExitFailure);
            return;
        }
        Agent::ExecRequest req;
        req.argv = command;
        req.timeoutMs = timeoutS * 1000;
        req.collectOutput = false;
        req.streamStdin = !::isatty(STDIN_FILENO);
        Agent::ExecHandle *h = vm.agent()->exec(req);
        QObject::connect(h, &Agent::ExecHandle::stdoutReceived, h, [](const QByteArray &d) {
            std::fwrite(d.constData(), 1, static_cast<size_t>(d.size()), stdout);
            std::fflush(stdout);
        });
        QObject::connect(h, &Agent::ExecHandle::stderrReceived, h, [](const QByteArray &d) {
            std::fwrite(d.constData(), 1, static_cast<size_t>(d.size()), stderr);
            std::fflush(stderr);
        });
        if (req.streamStdin) {
            // Piped stdin is forwarded as it comes, then closed at EOF.
            auto *notifier = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, h);
            QObject::connect(notifier, &QSocketNotifier::activated, h, [h, notifier]() {
                char buf[65536];
                const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
                if (n > 0) {
                    h->writeStdin(QByteArray(buf, n));
                } else {
                    notifier->setEnabled(false);
                    h->closeStdin();
                }
            });
        }
        h->result().then(&vm, [&](const Core::Expected<Agent::ExecResult> &r) {
            if (interrupted)
                return; // the VM is already gone; exit() was called
            if (!r) {
                err(r.error().message);
                exitCode = kExitFailure;
            } else if (r->timedOut) {
                err(QStringLiteral("the command timed out after %1 s and was killed").arg(timeoutS));
                exitCode = kExitTimeout;
            } else if (r->signal) {
                exitCode = 128 + r->signal;
            } else {
                exitCode = r->exitCode;
            }
            vm.stop().then(&vm, [&](const Core::Result &) { QCoreApplication::exit(exitCode); });
        });
    });
    });
    const int rc = QCoreApplication::exec();
    vm.kill();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    return rc;
}

} // namespace App
