// bench_start: create -> agent-ready through VmManager (what `vm create`
// and POST /api/v1/vms run), in one run, each way N times (p50, p90):
//   cold   a manager with warm starts off: image found, VMM spawned, kernel
//          and init booted, agent handshake;
//   warm   a manager with warm starts on: the template's warm snapshot
//          restored (made first when missing), clock, RNG and host name
//          set by the agent;
//   pool   a manager with a pool of 2 VMs of the template (VmPool): a VM
//          restored ahead and paused is claimed (resumed; clock, RNG and
//          host name set by the agent); each create waits until the pool
//          refilled, as it does between creates that are not back to back;
//   floor  bare QEMU booting the same kernel and initramfs with the same
//          command line to init (bench/floorboot.h), measured beside each
//          cold create.
// Aims (issue 18, TCG): warm <= 400 ms p50, pool <= 100 ms p50, both >= 6x
// faster than cold. The same binary runs on KVM (the driver picks the
// accelerator).
//
// Usage: bench_start [--runs N] [--template NAME]

#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vm/vmmanager.h"
#include "core/vm/warmstarts.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmmdriver.h"

#include "bench/benchutil.h"
#include "bench/floorboot.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <cstdio>

namespace {

constexpr int kStartTimeoutMs = 300000;
constexpr int kBuildTimeoutMs = 600000;
constexpr double kWarmAimMs = 400;
constexpr double kWarmAimSpeedup = 6;
constexpr double kPoolAimMs = 100;
constexpr int kPoolSize = 2;

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_start: %s\n", qPrintable(m));
    std::exit(1);
}

struct Samples {
    QList<double> cold, warm, pool, floor;
    int warmMisses = 0; // creates that were meant warm and booted cold
    int poolMisses = 0; // creates that were meant pooled and were not
    bool kvm = false;
};

// One create -> ready; the VM stays for the caller.
double createAndStart(Vm::VmManager &manager, const QString &name, const QString &templateName)
{
    QElapsedTimer t;
    t.start();
    auto created = manager.create({name, templateName, std::nullopt, std::nullopt});
    if (!created)
        die(created.error().message);
    auto started = Bench::await(manager.start(name), kStartTimeoutMs);
    if (!started)
        die(QStringLiteral("%1: %2").arg(name, started.error().message));
    return Bench::msSince(t);
}

void remove(Vm::VmManager &manager, const QString &name)
{
    if (auto gone = Bench::await(manager.remove(name), kStartTimeoutMs); !gone)
        die(gone.error().message);
}

void measureCold(Vmm::VmmDriver &driver, const QString &templateName, int runs, Samples &s)
{
    QTemporaryDir state;
    Vm::VmManager manager(driver, state.path());
    for (int i = 0; i < runs; ++i) {
        const QString name = QStringLiteral("cold-%1").arg(i);
        s.cold << createAndStart(manager, name, templateName);
        const Vm::VirtualMachine *vm = manager.vm(name);
        s.kvm = vm->instance()->accelerated();
        if (driver.kind() == Vmm::DriverKind::Qemu) {
            const double floor = Bench::floorBootMs(vm->instance()->spec(), s.kvm ? Vmm::QemuCommandLine::Accel::Kvm : Vmm::QemuCommandLine::Accel::Tcg,
                                                    static_cast<const Vmm::QemuDriver &>(driver).binary());
            if (floor < 0)
                die(QStringLiteral("the floor VM never reached init"));
            s.floor << floor;
        }
        remove(manager, name);
    }
}

// The template's warm snapshot of the default shape: made by a first cold
// create when there is none.
void ensureWarmSnapshot(Vm::VmManager &manager, const QString &templateName)
{
    QSignalSpy built(manager.warmStarts(), &Vm::WarmStarts::buildEnded);
    createAndStart(manager, QStringLiteral("warm-maker"), templateName);
    if (manager.info(QStringLiteral("warm-maker"))->boot == QLatin1String("cold")) {
        std::printf("(making the warm snapshot of %s first)\n", qPrintable(templateName));
        std::fflush(stdout);
        if (!built.wait(kBuildTimeoutMs))
            die(QStringLiteral("no warm snapshot was made"));
        if (const QString error = built.takeFirst().at(1).toString(); !error.isEmpty())
            die(error);
    }
    remove(manager, QStringLiteral("warm-maker"));
}

void measureWarm(Vmm::VmmDriver &driver, const QString &templateName, int runs, Samples &s)
{
    QTemporaryDir state;
    Vm::VmManager manager(driver, state.path());
    manager.setWarmStart(true);
    ensureWarmSnapshot(manager, templateName);
    for (int i = 0; i < runs; ++i) {
        const QString name = QStringLiteral("warm-%1").arg(i);
        s.warm << createAndStart(manager, name, templateName);
        if (manager.info(name)->boot != QLatin1String("warm"))
            ++s.warmMisses;
        remove(manager, name);
    }
}

// Until the pool holds its target, paused, none filling.
void waitForPool(const Vm::VmManager &manager)
{
    QDeadlineTimer deadline(kBuildTimeoutMs);
    while (!deadline.hasExpired()) {
        const auto status = manager.pool()->status();
        if (status.first().ready == kPoolSize && status.first().filling == 0)
            return;
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    }
    die(QStringLiteral("the pool did not fill: %1").arg(manager.pool()->status().first().lastError));
}

void measurePool(Vmm::VmmDriver &driver, const QString &templateName, int runs, Samples &s)
{
    QTemporaryDir state;
    Vm::VmManager manager(driver, state.path());
    manager.setWarmStart(true);
    if (auto ok = manager.setPoolTargets({{templateName, kPoolSize}}); !ok)
        die(ok.error().message);
    for (int i = 0; i < runs; ++i) {
        waitForPool(manager);
        const QString name = QStringLiteral("pool-%1").arg(i);
        s.pool << createAndStart(manager, name, templateName);
        if (manager.info(name)->boot != QLatin1String("pool"))
            ++s.poolMisses;
        remove(manager, name);
    }
}

void aim(const char *what, double p50, double aimMs, double cold50)
{
    std::printf("aim %s p50 <= %.0f ms: %s (%.1f ms)\n", what, aimMs, p50 <= aimMs ? "met" : "NOT met", p50);
    std::printf("aim %s >= %.0fx faster than cold: %s (%.2fx)\n", what, kWarmAimSpeedup, cold50 >= kWarmAimSpeedup * p50 ? "met" : "NOT met", cold50 / p50);
}

void row(const char *what, const QList<double> &v, double cold)
{
    const double p50 = Bench::percentile(v, 0.5);
    std::printf("%-28s p50 %8.1f ms  p90 %8.1f ms  cold/this %6.2fx\n", what, p50, Bench::percentile(v, 0.9), cold / p50);
}

void report(const Samples &s, int runs, const QString &templateName)
{
    const double cold50 = Bench::percentile(s.cold, 0.5);
    const double warm50 = Bench::percentile(s.warm, 0.5);
    const double pool50 = Bench::percentile(s.pool, 0.5);
    std::printf("\nbench_start: template %s, %d creates each, %s\n", qPrintable(templateName), runs, s.kvm ? "KVM" : "TCG");
    row("create -> ready, cold", s.cold, cold50);
    row("create -> ready, warm", s.warm, cold50);
    row("create -> ready, pool", s.pool, cold50);
    if (!s.floor.isEmpty())
        row("bare QEMU to init (floor)", s.floor, cold50);
    std::printf("warm creates that booted cold: %d\n", s.warmMisses);
    std::printf("pool creates that were not pooled: %d\n", s.poolMisses);
    aim("warm", warm50, kWarmAimMs, cold50);
    aim("pool", pool50, kPoolAimMs, cold50);
    Bench::printSamples("samples cold", s.cold);
    Bench::printSamples("samples warm", s.warm);
    Bench::printSamples("samples pool", s.pool);
    Bench::printSamples("samples floor", s.floor);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Bench::useBuiltAgent(MVS_AGENT_BINARY);
    const QStringList args = app.arguments();
    const int runs = Bench::intArg(args, QStringLiteral("--runs"), 10);
    const qsizetype t = args.indexOf(QStringLiteral("--template"));
    const QString templateName = t >= 0 && t + 1 < args.size() ? args.at(t + 1) : QStringLiteral("minimal");
    if (runs < 1)
        die(QStringLiteral("--runs must be at least 1"));

    Vmm::DriverOptions opts;
    opts.kind = Vmm::DriverKind::Qemu;
    opts.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    auto driver = Vmm::createDriver(opts);
    if (!driver)
        die(driver.error().message);
    Samples s;
    measureCold(**driver, templateName, runs, s);
    measureWarm(**driver, templateName, runs, s);
    measurePool(**driver, templateName, runs, s);
    report(s, runs, templateName);
    return 0;
}
