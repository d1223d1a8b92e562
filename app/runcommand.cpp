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
constexpr qint64 kStdinChunkBytes = 65536;

void err(const QString &s)
{
    std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(s));
}

// Prints the error and returns the exit code.
int failWith(int exitCode, const QString &message)
{
    err(message);
    return exitCode;
}

// What `run` was asked for, besides the driver flags.
struct RunRequest {
    QString templateName = QStringLiteral("minimal");
    QString vcpus;
    QString memory;
    QString timeout;
    QString keepConsole;
    bool quiet = false;
    QStringList command;
};

// An error here is a usage error.
Core::Expected<RunRequest> parseRunRequest(QStringList args)
{
    RunRequest request;
    for (auto [flag, target] : {std::pair{QStringLiteral("--template"), &request.templateName}, std::pair{QStringLiteral("--vcpus"), &request.vcpus},
                                std::pair{QStringLiteral("--memory"), &request.memory}, std::pair{QStringLiteral("--timeout"), &request.timeout},
                                std::pair{QStringLiteral("--keep-console"), &request.keepConsole}}) {
        if (auto r = takeOption(args, flag, target); !r)
            return r.error();
    }
    request.quiet = args.removeAll(QStringLiteral("--quiet")) > 0;
    const qsizetype dashdash = args.indexOf(QStringLiteral("--"));
    request.command = dashdash >= 0 ? args.mid(dashdash + 1) : args;
    const QStringList leftover = dashdash >= 0 ? args.mid(0, dashdash) : QStringList();
    if (!leftover.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("unknown option %1").arg(leftover.first()));
    if (request.command.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("usage: microvm-sandbox run [--template NAME] [--vcpus N] [--memory MiB] [--timeout S] -- COMMAND [ARGS...]"));
    return request;
}

// One command in one VM, inside the event loop: boot, exec with the
// terminal's streams forwarded, stop; a signal destroys the VM.
class RunSession {
public:
    RunSession(Vm::VirtualMachine &vm, QStringList command, int timeoutS, bool quiet)
        : m_vm(vm)
        , m_command(std::move(command))
        , m_timeoutS(timeoutS)
        , m_quiet(quiet)
    {
    }

    // Runs the event loop until the command is done; its exit code.
    int exec();

private:
    void watchVm();
    void onStarted(const Core::Result &started);
    static void forwardOutput(Agent::ExecHandle *h);
    static void forwardStdin(Agent::ExecHandle *h);
    void onFinished(const Core::Expected<Agent::ExecResult> &r);

    Vm::VirtualMachine &m_vm;
    const QStringList m_command;
    const int m_timeoutS;
    const bool m_quiet;
    int m_exitCode = kExitFailure;
    bool m_interrupted = false;
    SignalWatcher m_signals;
};

int RunSession::exec()
{
    watchVm();
    // Start inside the event loop, so that a failure reported at once still
    // reaches a running loop (an exit() before exec() would be lost).
    QTimer::singleShot(0, &m_vm, [this]() { m_vm.start().then(&m_vm, [this](const Core::Result &started) { onStarted(started); }); });
    const int rc = QCoreApplication::exec();
    m_vm.kill();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    return rc;
}

void RunSession::watchVm()
{
    QObject::connect(&m_signals, &SignalWatcher::terminationRequested, &m_vm, [this](int sig) {
        err(QStringLiteral("interrupted, destroying the VM"));
        m_interrupted = true;
        m_vm.kill();
        m_exitCode = 128 + sig;
        QCoreApplication::exit(m_exitCode);
    });
    QObject::connect(&m_vm, &Vm::VirtualMachine::imageProgress, &m_vm, [quiet = m_quiet](const QString &step, int pct) {
        if (!quiet)
            std::fprintf(stderr, "[image %3d%%] %s\n", pct, qPrintable(step));
    });
    QObject::connect(&m_vm, &Vm::VirtualMachine::failed, &m_vm, [this](const Core::Error &e) {
        err(QStringLiteral("the VM failed: %1").arg(e.message));
        m_exitCode = kExitFailure;
        QCoreApplication::exit(m_exitCode);
    });
}

void RunSession::onStarted(const Core::Result &started)
{
    if (!started) {
        err(started.error().message);
        QCoreApplication::exit(kExitFailure);
        return;
    }
    Agent::ExecRequest req;
    req.argv = m_command;
    req.timeoutMs = m_timeoutS * 1000;
    req.collectOutput = false;
    req.streamStdin = !::isatty(STDIN_FILENO);
    Agent::ExecHandle *h = m_vm.agent()->exec(req);
    forwardOutput(h);
    if (req.streamStdin)
        forwardStdin(h);
    h->result().then(&m_vm, [this](const Core::Expected<Agent::ExecResult> &r) { onFinished(r); });
}

void RunSession::forwardOutput(Agent::ExecHandle *h)
{
    QObject::connect(h, &Agent::ExecHandle::stdoutReceived, h, [](const QByteArray &d) {
        std::fwrite(d.constData(), 1, static_cast<size_t>(d.size()), stdout);
        std::fflush(stdout);
    });
    QObject::connect(h, &Agent::ExecHandle::stderrReceived, h, [](const QByteArray &d) {
        std::fwrite(d.constData(), 1, static_cast<size_t>(d.size()), stderr);
        std::fflush(stderr);
    });
}

// Piped stdin is forwarded as it comes, then closed at EOF.
void RunSession::forwardStdin(Agent::ExecHandle *h)
{
    auto *notifier = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, h);
    QObject::connect(notifier, &QSocketNotifier::activated, h, [h, notifier]() {
        char buf[kStdinChunkBytes];
        const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) {
            h->writeStdin(QByteArray(buf, n));
        } else {
            notifier->setEnabled(false);
            h->closeStdin();
        }
    });
}

void RunSession::onFinished(const Core::Expected<Agent::ExecResult> &r)
{
    if (m_interrupted)
        return; // the VM is already gone; exit() was called
    if (!r) {
        err(r.error().message);
        m_exitCode = kExitFailure;
    } else if (r->timedOut) {
        err(QStringLiteral("the command timed out after %1 s and was killed").arg(m_timeoutS));
        m_exitCode = kExitTimeout;
    } else if (r->signal) {
        m_exitCode = 128 + r->signal;
    } else {
        m_exitCode = r->exitCode;
    }
    m_vm.stop().then(&m_vm, [this](const Core::Result &) { QCoreApplication::exit(m_exitCode); });
}

} // namespace

int runCommand(QStringList args)
{
    DriverFlags flags;
    if (auto r = flags.take(args); !r)
        return failWith(kExitUsage, r.error().message);
    auto request = parseRunRequest(args);
    if (!request)
        return failWith(kExitUsage, request.error().message);
    auto tmpl = Templates::VmTemplate::load(request->templateName);
    if (!tmpl)
        return failWith(kExitUsage, tmpl.error().message);
    auto options = flags.options();
    if (!options)
        return failWith(kExitUsage, options.error().message);
    auto driver = Vmm::createDriver(*options);
    if (!driver)
        return failWith(kExitFailure, driver.error().message);

    bool ok = false;
    const int timeoutS = request->timeout.isEmpty() ? 0 : request->timeout.toInt(&ok);
    if (!request->timeout.isEmpty() && (!ok || timeoutS < 0))
        return failWith(kExitUsage, QStringLiteral("--timeout takes seconds"));

    Vm::VirtualMachine vm(QStringLiteral("run-%1").arg(::getpid()), *tmpl, **driver);
    if (!request->vcpus.isEmpty())
        vm.setVcpus(request->vcpus.toInt());
    if (!request->memory.isEmpty())
        vm.setMemoryMiB(request->memory.toInt());
    if (!request->keepConsole.isEmpty())
        vm.setConsoleLogPath(request->keepConsole);
    RunSession session(vm, request->command, timeoutS, request->quiet);
    return session.exec();
}

} // namespace App
