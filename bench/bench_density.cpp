// bench_density: how many idle VMs of a template this host holds while
// every one still answers an exec (issue 18).
//
// VMs are created and started one after another in the service (VmManager
// + Api + HttpAdapter on the main thread, as under --serve; warm starts on,
// as a user gets them) until a stop: --max VMs, the host's available
// memory under --reserve-mib, an exec round trip over --exec-limit-ms, or
// a create that fails. After each VM: an exec (`true`) on every VM (p50 and
// max), the host memory used since the start (MemAvailable), and the VMMs'
// proportional and resident sizes. At the end, after --idle-s of rest: the
// same memory numbers again (free page reporting has had its time), the
// VMMs' CPU over that rest, GET /api/v1/vms p50/p99 under 4 clients, and
// the same VM in bare QEMU alone, left idle as long, as the floor of
// memory per VM. Kernel same-page merging is reported as found, or turned
// on for the run with --ksm (and set back after).
//
// Usage: bench_density [--max 50] [--template minimal] [--reserve-mib 2048]
//                      [--exec-limit-ms 1000] [--idle-s 30] [--csv FILE] [--ksm]

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmmdriver.h"
#include "server/api.h"
#include "server/hoststats.h"

#include "bench/benchhttp.h"
#include "bench/benchservice.h"
#include "bench/benchutil.h"
#include "bench/floorboot.h"

#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>

#include <cstdio>
#include <unistd.h>

namespace {

constexpr int kStartTimeoutMs = 300000;
constexpr int kExecTimeoutMs = 30000;
constexpr int kListClients = 4;
constexpr int kListRequests = 50;

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_density: %s\n", qPrintable(m));
    std::exit(1);
}

struct Options {
    int max = 50;
    QString templateName = QStringLiteral("minimal");
    int reserveMiB = 2048;
    int execLimitMs = 1000;
    int idleS = 30;
    QString csv;
    bool ksm = false;
};

Options parse(const QStringList &args)
{
    Options o;
    o.max = Bench::intArg(args, QStringLiteral("--max"), o.max);
    o.reserveMiB = Bench::intArg(args, QStringLiteral("--reserve-mib"), o.reserveMiB);
    o.execLimitMs = Bench::intArg(args, QStringLiteral("--exec-limit-ms"), o.execLimitMs);
    o.idleS = Bench::intArg(args, QStringLiteral("--idle-s"), o.idleS);
    if (const qsizetype t = args.indexOf(QStringLiteral("--template")); t >= 0 && t + 1 < args.size())
        o.templateName = args.at(t + 1);
    if (const qsizetype c = args.indexOf(QStringLiteral("--csv")); c >= 0 && c + 1 < args.size())
        o.csv = args.at(c + 1);
    o.ksm = args.contains(QStringLiteral("--ksm"));
    if (o.max < 1 || o.idleS < 0 || o.execLimitMs < 1)
        die(QStringLiteral("--max and --exec-limit-ms must be at least 1, --idle-s at least 0"));
    return o;
}

qint64 memAvailableMiB()
{
    const auto memory = Server::HostStats::readMemory();
    return memory ? qint64(memory->availableBytes / (1024 * 1024)) : -1;
}

// user + system CPU seconds of a process (0 when it is gone).
double cpuSeconds(qint64 pid)
{
    return Server::HostStats::readProcess(pid).cpuSeconds.value_or(0);
}

qint64 ksmdPid()
{
    for (const QFileInfo &p : QDir(QStringLiteral("/proc")).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(p.filePath() + QStringLiteral("/comm"));
        if (p.fileName().toLongLong() > 0 && comm.open(QIODevice::ReadOnly) && comm.readAll().trimmed() == "ksmd")
            return p.fileName().toLongLong();
    }
    return 0;
}

QString ksmLine()
{
    const auto ksm = Server::HostStats::readKsm();
    if (!ksm)
        return QStringLiteral("not in this kernel");
    return QStringLiteral("run=%1, pages_sharing=%2 (%3 MiB saved)").arg(ksm->running ? 1 : 0).arg(ksm->pagesSharing).arg(ksm->pagesSharing * 4 / 1024);
}

// A /sys/kernel/mm/ksm/ setting: its old value, or empty when it cannot be set.
QByteArray setKsm(const char *name, const QByteArray &value)
{
    QFile f(QStringLiteral("/sys/kernel/mm/ksm/%1").arg(QLatin1String(name)));
    if (!f.open(QIODevice::ReadWrite))
        return {};
    const QByteArray old = f.readAll().trimmed();
    f.seek(0);
    return f.write(value) == value.size() ? old : QByteArray();
}

// --ksm: merging on, scanning fast enough to cover a few GiB within the
// rest (the kernel's default, 100 pages per 20 ms, takes minutes).
constexpr char kKsmPagesToScan[] = "4000";

// What the VMs cost at one moment.
struct Memory {
    qint64 hostUsedMiB = 0; // MemAvailable's drop since the start
    double pssMiB = 0; // mean per VMM
    double rssMiB = 0; // mean per VMM
};

struct Step {
    int vms = 0;
    double createMs = 0;
    double execP50Ms = 0;
    double execMaxMs = 0;
    Memory memory;
};

class Density {
public:
    Density(Vm::VmManager &manager, const Options &options)
        : m_manager(manager)
        , m_options(options)
        , m_baseAvailableMiB(memAvailableMiB())
    {
    }

    // Adds VMs until a stop; returns why it stopped.
    QString fill()
    {
        for (int i = 1; i <= m_options.max; ++i) {
            Step step;
            step.vms = i;
            const QString name = QStringLiteral("dense-%1").arg(i, 2, 10, QLatin1Char('0'));
            if (const QString error = createVm(name, &step.createMs); !error.isEmpty())
                return QStringLiteral("VM %1 did not start: %2").arg(i).arg(error);
            m_names << name;
            QList<double> execs;
            if (const QString error = execEverywhere(&execs); !error.isEmpty())
                return QStringLiteral("at %1 VMs an exec failed: %2").arg(i).arg(error);
            step.execP50Ms = Bench::percentile(execs, 0.5);
            step.execMaxMs = Bench::percentile(execs, 1.0);
            step.memory = memory();
            m_steps << step;
            printStep(step);
            if (step.execMaxMs > m_options.execLimitMs)
                return QStringLiteral("an exec took %1 ms at %2 VMs (limit %3 ms)").arg(step.execMaxMs, 0, 'f', 0).arg(i).arg(m_options.execLimitMs);
            if (memAvailableMiB() < m_options.reserveMiB)
                return QStringLiteral("host memory available under %1 MiB at %2 VMs").arg(m_options.reserveMiB).arg(i);
        }
        return QStringLiteral("reached --max %1").arg(m_options.max);
    }

    const QList<Step> &steps() const { return m_steps; }
    const QStringList &names() const { return m_names; }

    Memory memory() const
    {
        Memory m;
        m.hostUsedMiB = m_baseAvailableMiB - memAvailableMiB();
        for (qint64 pid : pids()) {
            m.pssMiB += double(Bench::procKiB(pid, "smaps_rollup", "Pss:")) / 1024;
            m.rssMiB += double(Server::HostStats::readProcess(pid).residentBytes.value_or(0)) / (1024 * 1024);
        }
        if (!m_names.isEmpty()) {
            m.pssMiB /= double(m_names.size());
            m.rssMiB /= double(m_names.size());
        }
        return m;
    }

    // CPU over `seconds` of rest, in percent of one core: the VMMs summed,
    // and ksmd (the kernel's merging thread; 0 when it is not there).
    struct IdleCpu {
        double vmms = 0;
        double ksmd = 0;
    };
    IdleCpu idleCpu(int seconds) const
    {
        const QList<qint64> vmms = pids();
        const qint64 ksmd = ksmdPid();
        auto sum = [&vmms]() {
            double total = 0;
            for (qint64 pid : vmms)
                total += cpuSeconds(pid);
            return total;
        };
        const double vmmsBefore = sum();
        const double ksmdBefore = ksmd > 0 ? cpuSeconds(ksmd) : 0;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < seconds * 1000)
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 100);
        const double perCent = 100 / (double(t.elapsed()) / 1000);
        return {(sum() - vmmsBefore) * perCent, ksmd > 0 ? (cpuSeconds(ksmd) - ksmdBefore) * perCent : 0};
    }

    QList<qint64> pids() const
    {
        QList<qint64> out;
        for (const QString &name : m_names)
            if (const Vm::VirtualMachine *vm = m_manager.vm(name); vm && vm->instance())
                out << vm->instance()->pid();
        return out;
    }

private:
    QString createVm(const QString &name, double *ms)
    {
        QElapsedTimer t;
        t.start();
        auto created = m_manager.create({name, m_options.templateName, std::nullopt, std::nullopt});
        if (!created)
            return created.error().message;
        auto started = Bench::await(m_manager.start(name), kStartTimeoutMs);
        if (!started)
            return started.error().message;
        *ms = Bench::msSince(t);
        return {};
    }

    QString execEverywhere(QList<double> *times)
    {
        Agent::ExecRequest request;
        request.argv = {QStringLiteral("true")};
        for (const QString &name : std::as_const(m_names)) {
            auto agent = m_manager.agent(name);
            if (!agent)
                return QStringLiteral("%1: %2").arg(name, agent.error().message);
            QElapsedTimer t;
            t.start();
            auto r = Bench::await((*agent)->run(request), kExecTimeoutMs);
            if (!r || r->exitCode != 0)
                return QStringLiteral("%1: %2").arg(name, r ? QStringLiteral("exit %1").arg(r->exitCode) : r.error().message);
            *times << Bench::msSince(t);
        }
        return {};
    }

    static void printStep(const Step &s)
    {
        std::printf("%4d %9.0f %9.1f %9.1f %10lld %9.1f %9.1f %9.1f\n", s.vms, s.createMs, s.execP50Ms, s.execMaxMs,
                    static_cast<long long>(s.memory.hostUsedMiB), double(s.memory.hostUsedMiB) / s.vms, s.memory.pssMiB, s.memory.rssMiB);
        std::fflush(stdout);
    }

    Vm::VmManager &m_manager;
    const Options &m_options;
    const qint64 m_baseAvailableMiB;
    QStringList m_names;
    QList<Step> m_steps;
};

void writeCsv(const QString &path, const QList<Step> &steps)
{
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate))
        die(QStringLiteral("cannot write %1").arg(path));
    f.write("vms,create_ms,exec_p50_ms,exec_max_ms,host_used_mib,host_mib_per_vm,vmm_pss_mib,vmm_rss_mib\n");
    for (const Step &s : steps)
        f.write(QStringLiteral("%1,%2,%3,%4,%5,%6,%7,%8\n")
                    .arg(s.vms)
                    .arg(s.createMs, 0, 'f', 0)
                    .arg(s.execP50Ms, 0, 'f', 1)
                    .arg(s.execMaxMs, 0, 'f', 1)
                    .arg(s.memory.hostUsedMiB)
                    .arg(double(s.memory.hostUsedMiB) / s.vms, 0, 'f', 1)
                    .arg(s.memory.pssMiB, 0, 'f', 1)
                    .arg(s.memory.rssMiB, 0, 'f', 1)
                    .toUtf8());
}

void report(Density &density, const Options &options, const QString &stop, quint16 port, const Vmm::VmmDriver &driver, const Vm::VmManager &manager)
{
    const int n = int(density.names().size());
    std::printf("\nstopped: %s\n", qPrintable(stop));
    std::printf("resting %d s...\n", options.idleS);
    std::fflush(stdout);
    const Density::IdleCpu cpu = density.idleCpu(options.idleS);
    const Memory rested = density.memory();
    const Bench::LoadResult list = Bench::load(port, Bench::kServiceToken, "/api/v1/vms", kListClients, kListRequests);
    if (!list.error.isEmpty())
        die(QStringLiteral("GET /api/v1/vms failed: %1").arg(list.error));

    qint64 bareKiB = -1;
    if (driver.kind() == Vmm::DriverKind::Qemu && n > 0) {
        const Vm::VirtualMachine *vm = manager.vm(density.names().first());
        const auto accel = vm->instance()->accelerated() ? Vmm::QemuCommandLine::Accel::Kvm : Vmm::QemuCommandLine::Accel::Tcg;
        bareKiB = Bench::bareQemuResidentKiB(vm->instance()->spec(), accel, static_cast<const Vmm::QemuDriver &>(driver).binary(), options.idleS * 1000);
    }
    const double perVm = n > 0 ? double(rested.hostUsedMiB) / n : 0;
    std::printf("\n%d idle %s VMs, every one answering an exec (the last round: p50 %.1f ms, max %.1f ms)\n", n, qPrintable(options.templateName),
                density.steps().isEmpty() ? 0.0 : density.steps().last().execP50Ms, density.steps().isEmpty() ? 0.0 : density.steps().last().execMaxMs);
    std::printf("host memory per VM after %d s of rest: %.1f MiB (MemAvailable's drop / VMs); VMM PSS %.1f MiB, RSS %.1f MiB\n", options.idleS, perVm,
                rested.pssMiB, rested.rssMiB);
    if (bareKiB > 0)
        std::printf("bare QEMU, the same VM alone, after %d s: RSS %.1f MiB -> host memory per VM / bare QEMU RSS = %.2fx\n", options.idleS,
                    double(bareKiB) / 1024, perVm / (double(bareKiB) / 1024));
    std::printf("idle CPU of all VMMs: %.1f %% of one core (%.2f %% per VM; host has %ld cores); ksmd: %.1f %%\n", cpu.vmms, n > 0 ? cpu.vmms / n : 0.0,
                sysconf(_SC_NPROCESSORS_ONLN), cpu.ksmd);
    std::printf("GET /api/v1/vms with %d VMs, %d clients x %d: p50 %.1f ms, p99 %.1f ms\n", n, kListClients, kListRequests,
                Bench::percentile(list.latenciesMs, 0.5), Bench::percentile(list.latenciesMs, 0.99));
    std::printf("KSM: %s%s\n", qPrintable(ksmLine()), options.ksm ? " (turned on for this run, scanning 4000 pages per 20 ms)" : "");
    std::printf("service RSS: %.1f MiB\n", double(Server::HostStats::readProcess(getpid()).residentBytes.value_or(0)) / (1024 * 1024));
}

// The template's warm snapshot, so that every measured VM starts warm.
void warmUp(Vm::VmManager &manager, const QString &templateName)
{
    QSignalSpy built(manager.warmStarts(), &Vm::WarmStarts::buildEnded);
    auto created = manager.create({QStringLiteral("warm-maker"), templateName, std::nullopt, std::nullopt});
    if (!created)
        die(created.error().message);
    if (auto r = Bench::await(manager.start(QStringLiteral("warm-maker")), kStartTimeoutMs); !r)
        die(r.error().message);
    if (manager.info(QStringLiteral("warm-maker"))->boot == QLatin1String("cold") && !built.wait(kStartTimeoutMs))
        die(QStringLiteral("no warm snapshot was made"));
    if (auto r = Bench::await(manager.remove(QStringLiteral("warm-maker")), kStartTimeoutMs); !r)
        die(r.error().message);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Bench::useBuiltAgent(MVS_AGENT_BINARY);
    const Options options = parse(app.arguments());
    QByteArray ksmRun, ksmPages;
    if (options.ksm) {
        ksmRun = setKsm("run", "1");
        ksmPages = setKsm("pages_to_scan", kKsmPagesToScan);
        if (ksmRun.isEmpty() || ksmPages.isEmpty())
            die(QStringLiteral("--ksm: cannot turn KSM on (/sys/kernel/mm/ksm/run, pages_to_scan; root?)"));
    }

    Vmm::DriverOptions opts;
    opts.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    auto driver = Vmm::createDriver(opts);
    if (!driver)
        die(driver.error().message);
    QTemporaryDir state;
    Vm::VmManager manager(**driver, state.path());
    manager.setWarmStart(true);
    Server::Api api(manager);
    auto service = Bench::listenLocally(api);
    if (!service)
        die(service.error().message);
    warmUp(manager, options.templateName);

    std::printf("bench_density: %s VMs (%s driver) until --max %d, under %d MiB available, or an exec over %d ms\n", qPrintable(options.templateName),
                qPrintable((*driver)->name()), options.max, options.reserveMiB, options.execLimitMs);
    std::printf("%4s %9s %9s %9s %10s %9s %9s %9s\n", "VMs", "create", "exec p50", "exec max", "host MiB", "MiB/VM", "VMM PSS", "VMM RSS");
    Density density(manager, options);
    const QString stop = density.fill();
    if (!options.csv.isEmpty())
        writeCsv(options.csv, density.steps());
    report(density, options, stop, service->port, **driver, manager);
    if (options.ksm) {
        setKsm("pages_to_scan", ksmPages);
        setKsm("run", ksmRun);
    }
    return 0;
}
