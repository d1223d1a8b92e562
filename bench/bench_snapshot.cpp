// bench_snapshot: snapshot and restore of the minimal template through
// VmManager, each beside its floor measured in the same run on the same VM
// configuration: bare QEMU driven directly over QMP, no product code in the
// timed path (QmpClient and AgentClient are used as plain protocol clients).
//
//  ours:  VmManager::snapshot (wall time of the call; the manifest's
//         paused_ms beside it) and VmManager::restore (call -> resolved,
//         which is agent-ready).
//  floor: a second QEMU with the identical command line (the core VM's
//         spec, its own runtime directory). save = stop +
//         migrate-set-parameters (same max-bandwidth) + getfd (the opened
//         file) + migrate to "fd:" + query-migrate polling until completed +
//         cont. load = kill the running floor QEMU, spawn the same command
//         line with -incoming defer, getfd + migrate-incoming "fd:", query-status
//         polling until paused, cont, then an agent Hello (so both sides
//         measure "to agent-ready").
//  cold:  VmManager::start -> agent ready for the same size (the aim: restore
//         at least 3x faster than this).
//
// Two guest sizes, two workloads: idle, and dirty (random data written into
// the guest's RAM-backed rootfs before the snapshots, outside the timed
// path). While one side is measured the other VM is paused, so the two do
// not compete for the CPU. Ours and the floor are interleaved, the order
// alternating per run; medians are printed. Timings are reported, never
// asserted.
//
// Usage: bench_snapshot [--runs N] [--sizes 256,1024] [--workloads idle,dirty]
//                       [--fill-mib 64,256] (per size, default: size/4)

#include "core/agent/agentclient.h"
#include "core/paths.h"
#include "core/snapshot/snapshotstore.h"
#include "core/vm/virtualmachine.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/qemucommandline.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/qemuinstance.h"
#include "core/vmm/qmpclient.h"
#include "core/vmm/vmmdriver.h"

#include "bench/benchutil.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <cstdio>
#include <fcntl.h>
#include <memory>
#include <unistd.h>

namespace {

// QemuInstance::saveState's cap: none to speak of (the VM is paused, one pass).
constexpr qint64 kMaxBandwidth = static_cast<qint64>(1) << 40;
constexpr int kOpTimeoutMs = 300000;
constexpr int kAgentTimeoutMs = 120000;

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_snapshot: %s\n", qPrintable(m));
    std::exit(1);
}

// Run the event loop for ms milliseconds.
void sleepMs(int ms)
{
    QDeadlineTimer d(ms);
    while (!d.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, int(qMax<qint64>(1, d.remainingTime())));
}

QList<int> intList(const QStringList &args, const QString &name, const QList<int> &fallback)
{
    const qsizetype i = args.indexOf(name);
    if (i < 0 || i + 1 >= args.size())
        return fallback;
    QList<int> out;
    for (const QString &s : args.at(i + 1).split(QLatin1Char(','), Qt::SkipEmptyParts))
        out << s.toInt();
    return out;
}

// Run a shell command in the guest; it must succeed.
void guestSh(Agent::AgentClient *agent, const QString &command)
{
    Agent::ExecRequest req;
    req.shell = command;
    req.timeoutMs = kOpTimeoutMs;
    auto r = Bench::await(agent->run(req), kOpTimeoutMs + 10000);
    if (!r)
        die(QStringLiteral("guest command '%1': %2").arg(command, r.error().toString()));
    if (r->exitCode != 0)
        die(QStringLiteral("guest command '%1' exited %2: %3").arg(command).arg(r->exitCode).arg(QString::fromUtf8(r->stderrData)));
}

// The floor: one bare QEMU, the core VM's command line with its own runtime
// directory, driven over QMP.
class FloorVm {
public:
    FloorVm(QString binary, const Vmm::VmSpec &coreSpec, Vmm::QemuCommandLine::Accel accel)
        : m_binary(std::move(binary))
        , m_accel(accel)
        , m_dir(Core::Paths::runtimeDir() + QStringLiteral("/floor-XXXXXX"))
        , m_spec(coreSpec)
    {
        if (!m_dir.isValid())
            die(QStringLiteral("cannot create the floor's runtime directory"));
        m_spec.runtimeDir = m_dir.path();
        m_spec.consoleLogPath = m_dir.filePath(QStringLiteral("console.log"));
    }
    ~FloorVm() { kill(); }

    QStringList commandLine(Vmm::QemuCommandLine::Boot boot) const { return Vmm::QemuCommandLine::build(m_spec, m_accel, boot); }
    Agent::AgentClient *agent() const { return m_agent.get(); }
    QString stateFile() const { return m_dir.filePath(QStringLiteral("floor.state")); }

    // Cold boot (outside any timed path).
    void boot()
    {
        spawn(Vmm::QemuCommandLine::Boot::Fresh);
        connectAgent();
    }

    // stop + migrate-set-parameters + migrate + poll + cont.
    void save()
    {
        QFile::remove(stateFile());
        qmp(QStringLiteral("stop"));
        qmp(QStringLiteral("migrate-set-parameters"), {{QStringLiteral("max-bandwidth"), kMaxBandwidth}});
        passStateFd(O_WRONLY | O_CREAT | O_TRUNC);
        qmp(QStringLiteral("migrate"), {{QStringLiteral("uri"), QStringLiteral("fd:floor-state")}});
        for (;;) {
            const QString status = qmp(QStringLiteral("query-migrate")).value(QStringLiteral("status")).toString();
            if (status == QLatin1String("completed"))
                break;
            if (status == QLatin1String("failed") || status == QLatin1String("cancelled"))
                die(QStringLiteral("floor: migrate %1").arg(status));
            sleepMs(Vmm::QemuInstance::kMigratePollIntervalMs);
        }
        qmp(QStringLiteral("cont"));
    }

    // Kill the running QEMU, spawn the same command line with -incoming
    // defer, load the file, cont, agent Hello.
    void load()
    {
        kill();
        spawn(Vmm::QemuCommandLine::Boot::Incoming);
        passStateFd(O_RDONLY);
        qmp(QStringLiteral("migrate-incoming"), {{QStringLiteral("uri"), QStringLiteral("fd:floor-state")}});
        for (;;) {
            const QString status = qmp(QStringLiteral("query-status")).value(QStringLiteral("status")).toString();
            if (status == QLatin1String("paused") || status == QLatin1String("running"))
                break;
            if (status != QLatin1String("inmigrate"))
                die(QStringLiteral("floor: status '%1' while loading").arg(status));
            sleepMs(Vmm::QemuInstance::kMigratePollIntervalMs);
        }
        qmp(QStringLiteral("cont"));
        connectAgent();
    }

    void pause() { qmp(QStringLiteral("stop")); }
    void resume() { qmp(QStringLiteral("cont")); }

    void kill()
    {
        m_agent.reset();
        m_qmp.reset();
        if (m_process) {
            m_process->kill();
            m_process->waitForFinished(10000);
            m_process.reset();
        }
        QFile::remove(Vmm::QemuCommandLine::qmpSocketPath(m_spec));
        QFile::remove(Vmm::QemuCommandLine::agentSocketPath(m_spec));
    }

private:
    QJsonObject qmp(const QString &command, const QJsonObject &args = {})
    {
        auto r = Bench::await(m_qmp->execute(command, args), 60000);
        if (!r)
            die(QStringLiteral("floor: QMP %1: %2").arg(command, r.error().toString()));
        return *r;
    }

    // The state file, opened here and passed over QMP (QEMU may not spawn
    // a writer), as QemuInstance does.
    void passStateFd(int flags)
    {
        const int fd = ::open(QFile::encodeName(stateFile()).constData(), flags | O_CLOEXEC, 0600);
        if (fd < 0)
            die(QStringLiteral("floor: cannot open %1").arg(stateFile()));
        auto r = Bench::await(m_qmp->executeWithFd(QStringLiteral("getfd"), {{QStringLiteral("fdname"), QStringLiteral("floor-state")}}, fd), 60000);
        ::close(fd);
        if (!r)
            die(QStringLiteral("floor: QMP getfd: %1").arg(r.error().toString()));
    }

    void spawn(Vmm::QemuCommandLine::Boot boot)
    {
        m_process = std::make_unique<QProcess>();
        m_process->setProgram(m_binary);
        m_process->setArguments(commandLine(boot));
        m_process->setProcessChannelMode(QProcess::ForwardedErrorChannel);
        m_process->setStandardOutputFile(QProcess::nullDevice());
        m_process->start();
        if (!m_process->waitForStarted(10000))
            die(QStringLiteral("floor: cannot start %1").arg(m_binary));
        // Same cadence as QemuInstance: poll for the QMP socket.
        const QString sock = Vmm::QemuCommandLine::qmpSocketPath(m_spec);
        QDeadlineTimer d(Vmm::QemuInstance::kQmpSocketTimeoutMs);
        for (;;) {
            if (m_process->state() == QProcess::NotRunning)
                die(QStringLiteral("floor: QEMU exited during start"));
            if (d.hasExpired())
                die(QStringLiteral("floor: no QMP socket"));
            if (QFile::exists(sock)) {
                m_qmp = std::make_unique<Vmm::QmpClient>();
                if (Bench::await(m_qmp->connectTo(sock), 5000))
                    break;
                m_qmp.reset();
            }
            sleepMs(Vmm::QemuInstance::kQmpPollIntervalMs);
        }
    }

    void connectAgent()
    {
        m_agent = std::make_unique<Agent::AgentClient>(Vmm::AgentEndpoint{Vmm::QemuCommandLine::agentSocketPath(m_spec), 0});
        auto hello = Bench::await(m_agent->connectToAgent(kAgentTimeoutMs), kAgentTimeoutMs + 5000);
        if (!hello)
            die(QStringLiteral("floor: agent: %1").arg(hello.error().toString()));
    }

    QString m_binary;
    Vmm::QemuCommandLine::Accel m_accel;
    QTemporaryDir m_dir;
    Vmm::VmSpec m_spec;
    std::unique_ptr<QProcess> m_process;
    std::unique_ptr<Vmm::QmpClient> m_qmp;
    std::unique_ptr<Agent::AgentClient> m_agent;
};

struct Samples {
    QString workload;
    QList<double> oursSnap, pausedMs, commitMs, verifyMs, oursRestore, restoreBootMs, floorSave, floorLoad;
    double stateMiB = 0, floorStateMiB = 0;
};

struct SizeResult {
    int mib = 0;
    QList<double> coldMs;
    QList<Samples> byWorkload; // in the order measured
};

double med(const QList<double> &v)
{
    return Bench::percentile(v, 0.5);
}

QString list(const QList<double> &v)
{
    QStringList s;
    for (double x : v)
        s << QString::number(x, 'f', 0);
    return s.join(QLatin1Char(' '));
}

const char *verdict(bool met)
{
    return met ? "met" : "NOT met";
}

struct Options {
    int runs = 3;
    QList<int> sizes;
    QList<int> fills;
    QStringList workloads;
};

Options parseOptions(const QStringList &args)
{
    Options o;
    o.runs = qMax(1, Bench::intArg(args, QStringLiteral("--runs"), 3));
    o.sizes = intList(args, QStringLiteral("--sizes"), {256, 1024});
    o.fills = intList(args, QStringLiteral("--fill-mib"), {});
    o.workloads = QStringList{QStringLiteral("idle"), QStringLiteral("dirty")};
    if (const qsizetype i = args.indexOf(QStringLiteral("--workloads")); i >= 0 && i + 1 < args.size())
        o.workloads = args.at(i + 1).split(QLatin1Char(','), Qt::SkipEmptyParts);
    return o;
}

// The whole measurement: per size, cold boots, then per workload ours and
// the floor interleaved; the tables at the end.
class SnapshotBench {
public:
    SnapshotBench(const Options &options, Vm::VmManager &manager, QString qemuBinary)
        : m_options(options)
        , m_manager(manager)
        , m_qemuBinary(std::move(qemuBinary))
    {
        m_total.start();
    }

    void measureSize(qsizetype index);
    void printSummary() const;
    void printRuns() const;

private:
    void coldBoots(const QString &name, SizeResult &res);
    void checkCommandLine(Vm::VirtualMachine *vm, const FloorVm &floor);
    void fillGuests(const QString &name, FloorVm &floor, int mib, int fillMiB);
    void measureWorkload(const QString &name, FloorVm &floor, int mib, Samples &s);
    void measureOurs(const QString &name, Samples &s, int run);
    void measureFloor(const QString &name, FloorVm &floor, Samples &s);
    void printSizeRows(const SizeResult &r) const;

    const Options &m_options;
    Vm::VmManager &m_manager;
    const QString m_qemuBinary;
    bool m_kvm = false;
    bool m_cmdlineChecked = false;
    QList<SizeResult> m_results;
    QElapsedTimer m_total;
};

void SnapshotBench::measureSize(qsizetype index)
{
    SizeResult res;
    res.mib = m_options.sizes.at(index);
    const int fillMiB = index < m_options.fills.size() ? m_options.fills.at(index) : res.mib / 4;
    const QString name = QStringLiteral("snap-%1").arg(res.mib);
    if (auto c = m_manager.create({name, QStringLiteral("minimal"), std::nullopt, res.mib}); !c)
        die(c.error().toString());
    coldBoots(name, res);
    Vm::VirtualMachine *vm = m_manager.vm(name);
    m_kvm = vm->instance()->accelerated();
    FloorVm floor(m_qemuBinary, vm->instance()->spec(), m_kvm ? Vmm::QemuCommandLine::Accel::Kvm : Vmm::QemuCommandLine::Accel::Tcg);
    checkCommandLine(vm, floor);
    floor.boot();
    floor.pause();
    std::printf("%d MiB: cold boots %s ms; floor VM up\n", res.mib, qPrintable(list(res.coldMs)));
    std::fflush(stdout);

    for (const QString &workload : std::as_const(m_options.workloads)) {
        if (workload == QLatin1String("dirty"))
            fillGuests(name, floor, res.mib, fillMiB);
        else if (workload != QLatin1String("idle"))
            die(QStringLiteral("unknown workload '%1' (idle, dirty)").arg(workload));
        res.byWorkload.append(Samples());
        Samples &s = res.byWorkload.last();
        s.workload = workload;
        measureWorkload(name, floor, res.mib, s);
    }
    floor.kill();
    if (auto r = Bench::await(m_manager.remove(name), kOpTimeoutMs); !r)
        std::fprintf(stderr, "bench_snapshot: cleanup: %s\n", qPrintable(r.error().toString()));
    m_results << res;
}

// Cold boots: VmManager::start -> agent ready; the last one stays up.
void SnapshotBench::coldBoots(const QString &name, SizeResult &res)
{
    for (int i = 0; i < m_options.runs; ++i) {
        if (i > 0)
            if (auto s = Bench::await(m_manager.stop(name), kOpTimeoutMs); !s)
                die(s.error().toString());
        QElapsedTimer t;
        t.start();
        if (auto s = Bench::await(m_manager.start(name), kOpTimeoutMs); !s)
            die(QStringLiteral("cold boot: %1").arg(s.error().toString()));
        res.coldMs << Bench::msSince(t);
    }
}

// The floor's command line is the core's, but for its own paths (checked once).
void SnapshotBench::checkCommandLine(Vm::VirtualMachine *vm, const FloorVm &floor)
{
    if (m_cmdlineChecked)
        return;
    const Vmm::VmSpec coreSpec = vm->instance()->spec();
    const auto *qi = dynamic_cast<const Vmm::QemuInstance *>(vm->instance());
    QString ours = qi ? qi->commandLine().mid(1).join(QLatin1Char(' ')) : QString();
    QString theirs = floor.commandLine(Vmm::QemuCommandLine::Boot::Fresh).join(QLatin1Char(' '));
    ours.replace(coreSpec.runtimeDir, QStringLiteral("<rundir>")).replace(coreSpec.consoleLogPath, QStringLiteral("<console>"));
    theirs.replace(QFileInfo(floor.stateFile()).path(), QStringLiteral("<rundir>"))
        .replace(QStringLiteral("<rundir>/console.log"), QStringLiteral("<console>"));
    if (ours != theirs)
        die(QStringLiteral("the floor's command line differs from the core's:\n  core:  %1\n  floor: %2").arg(ours, theirs));
    std::printf("command line (core and floor): %s %s\n", qPrintable(m_qemuBinary), qPrintable(ours));
    m_cmdlineChecked = true;
}

// Outside the timed path: random data into both guests' rootfs.
void SnapshotBench::fillGuests(const QString &name, FloorVm &floor, int mib, int fillMiB)
{
    const QString fill = QStringLiteral("head -c %1 /dev/urandom > /root/fill && sync").arg(qint64(fillMiB) * 1024 * 1024);
    QElapsedTimer t;
    t.start();
    auto agent = m_manager.agent(name);
    if (!agent)
        die(agent.error().toString());
    guestSh(*agent, fill);
    floor.resume();
    guestSh(floor.agent(), fill);
    floor.pause();
    std::printf("%d MiB: wrote %d MiB of random data into each guest in %.0f ms\n", mib, fillMiB, Bench::msSince(t));
    std::fflush(stdout);
}

// Ours and the floor interleaved, the order alternating per run.
void SnapshotBench::measureWorkload(const QString &name, FloorVm &floor, int mib, Samples &s)
{
    for (int run = 0; run < m_options.runs; ++run) {
        if (run % 2 == 0) {
            measureOurs(name, s, run);
            measureFloor(name, floor, s);
        } else {
            measureFloor(name, floor, s);
            measureOurs(name, s, run);
        }
        std::printf("%d MiB %s run %d: snapshot %.0f ms (paused %.0f) vs floor save %.0f; restore %.0f ms vs floor load %.0f\n", mib, qPrintable(s.workload),
                    run + 1, s.oursSnap.last(), s.pausedMs.last(), s.floorSave.last(), s.oursRestore.last(), s.floorLoad.last());
        std::fflush(stdout);
    }
}

void SnapshotBench::measureOurs(const QString &name, Samples &s, int run)
{
    const QString snapName = QStringLiteral("%1-%2").arg(s.workload).arg(run);
    QElapsedTimer t;
    t.start();
    auto taken = Bench::await(m_manager.snapshot(name, {snapName, false}), kOpTimeoutMs);
    const double snapMs = Bench::msSince(t);
    if (!taken)
        die(QStringLiteral("snapshot: %1").arg(taken.error().toString()));
    s.oursSnap << snapMs;
    s.pausedMs << double(taken->pausedMs);
    s.commitMs << snapMs - double(taken->pausedMs); // the hash tail, manifest, rename, and bookkeeping
    s.stateMiB = double(taken->sizeBytes()) / (1024.0 * 1024.0);
    // Where restore's extra time goes: the checksum pass, timed on its own.
    t.restart();
    if (auto v = Snapshot::SnapshotStore::verify(*taken); !v)
        die(v.error().toString());
    s.verifyMs << Bench::msSince(t);

    t.restart();
    auto restored = Bench::await(m_manager.restore(name, snapName), kOpTimeoutMs);
    const double restoreMs = Bench::msSince(t);
    if (!restored)
        die(QStringLiteral("restore: %1").arg(restored.error().toString()));
    s.oursRestore << restoreMs;
    // Its spawn -> agent part (the rest: verify, replacing the old VMM, records).
    s.restoreBootMs << double(m_manager.vm(name)->bootMs());
    if (auto d = m_manager.deleteSnapshot(name, snapName); !d)
        die(d.error().toString());
}

void SnapshotBench::measureFloor(const QString &name, FloorVm &floor, Samples &s)
{
    if (auto p = Bench::await(m_manager.pause(name), 60000); !p)
        die(p.error().toString());
    floor.resume();
    QElapsedTimer t;
    t.start();
    floor.save();
    s.floorSave << Bench::msSince(t);
    s.floorStateMiB = double(QFileInfo(floor.stateFile()).size()) / (1024.0 * 1024.0);
    t.restart();
    floor.load();
    s.floorLoad << Bench::msSince(t);
    QFile::remove(floor.stateFile());
    floor.pause();
    if (auto r = Bench::await(m_manager.resume(name), 60000); !r)
        die(r.error().toString());
}

void SnapshotBench::printSummary() const
{
    std::printf("\nbench_snapshot: QEMU %s, 1 vCPU, minimal template (Debian cloud kernel + busybox initramfs); %d runs each, medians; "
                "total %.0f s\n\n",
                m_kvm ? "KVM" : "TCG", m_options.runs, double(m_total.elapsed()) / 1000.0);
    std::printf("| size | workload | measure | ours | floor (bare QEMU, same run) | ratio | aim |\n|---|---|---|---|---|---|---|\n");
    for (const SizeResult &r : std::as_const(m_results))
        printSizeRows(r);
}

void SnapshotBench::printSizeRows(const SizeResult &r) const
{
    const double cold = med(r.coldMs);
    for (const Samples &s : r.byWorkload) {
        const QString &workload = s.workload;
        const double snap = med(s.oursSnap), save = med(s.floorSave), rest = med(s.oursRestore), load = med(s.floorLoad);
        std::printf("| %d MiB | %s | snapshot (call) | %.0f ms | save %.0f ms | %.2f | <=1.2x: %s |\n", r.mib, qPrintable(workload), snap, save, snap / save,
                    verdict(snap / save <= 1.2));
        std::printf("| %d MiB | %s | of which paused (manifest paused_ms) | %.0f ms | stop->cont %.0f ms | %.2f | |\n", r.mib, qPrintable(workload),
                    med(s.pausedMs), save, med(s.pausedMs) / save);
        // The state is hashed while QEMU writes it (GrowingFileHasher), so
        // after the resume only the hash's tail, the manifest and the
        // rename remain; a separate hashing pass is printed for scale.
        std::printf("| %d MiB | %s | of which after resume (hash tail, manifest, rename) | %.0f ms | - | | |\n", r.mib, qPrintable(workload), med(s.commitMs));
        std::printf("| %d MiB | %s | (a separate sha256 pass would add) | %.0f ms | - | | |\n", r.mib, qPrintable(workload), med(s.verifyMs));
        std::printf("| %d MiB | %s | restore -> agent ready | %.0f ms | load -> agent ready %.0f ms | %.2f | <=1.2x: %s |\n", r.mib, qPrintable(workload), rest,
                    load, rest / load, verdict(rest / load <= 1.2));
        std::printf("| %d MiB | %s | of which verify (sha256, timed alone) | %.0f ms | - | | |\n", r.mib, qPrintable(workload), med(s.verifyMs));
        std::printf("| %d MiB | %s | of which spawn -> agent ready (VirtualMachine::bootMs) | %.0f ms | load -> agent ready %.0f ms | %.2f | |\n", r.mib,
                    qPrintable(workload), med(s.restoreBootMs), load, med(s.restoreBootMs) / load);
        std::printf("| %d MiB | %s | of which the rest (old VMM killed, records) | %.0f ms | - | | |\n", r.mib, qPrintable(workload),
                    rest - med(s.verifyMs) - med(s.restoreBootMs));
        std::printf("| %d MiB | %s | restore vs cold boot (VmManager::start) | %.0f ms | cold %.0f ms | %.2fx faster | >=3x: %s |\n", r.mib,
                    qPrintable(workload), rest, cold, cold / rest, verdict(cold / rest >= 3.0));
        std::printf("| %d MiB | %s | state size | %.1f MiB | %.1f MiB | | |\n", r.mib, qPrintable(workload), s.stateMiB, s.floorStateMiB);
    }
}

void SnapshotBench::printRuns() const
{
    std::printf("\nper run (ms):\n");
    for (const SizeResult &r : std::as_const(m_results)) {
        std::printf("  %d MiB cold boot: %s\n", r.mib, qPrintable(list(r.coldMs)));
        for (const Samples &s : r.byWorkload) {
            const QString &workload = s.workload;
            std::printf("  %d MiB %s: snapshot %s | paused %s | commit %s | floor save %s\n", r.mib, qPrintable(workload), qPrintable(list(s.oursSnap)),
                        qPrintable(list(s.pausedMs)), qPrintable(list(s.commitMs)), qPrintable(list(s.floorSave)));
            std::printf("  %d MiB %s: restore %s | verify %s | spawn->agent %s | floor load %s\n", r.mib, qPrintable(workload), qPrintable(list(s.oursRestore)),
                        qPrintable(list(s.verifyMs)), qPrintable(list(s.restoreBootMs)), qPrintable(list(s.floorLoad)));
        }
    }
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Bench::useBuiltAgent(MVS_AGENT_BINARY);
    const Options options = parseOptions(app.arguments());

    Vmm::DriverOptions opts;
    opts.kind = Vmm::DriverKind::Qemu;
    opts.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    auto driver = Vmm::createDriver(opts);
    if (!driver)
        die(driver.error().message);
    const QString qemuBinary = static_cast<const Vmm::QemuDriver &>(**driver).binary();

    QTemporaryDir state;
    if (!state.isValid())
        die(QStringLiteral("cannot create a state directory"));
    Vm::VmManager manager(**driver, state.path());
    SnapshotBench bench(options, manager, qemuBinary);
    for (qsizetype si = 0; si < options.sizes.size(); ++si)
        bench.measureSize(si);
    bench.printSummary();
    bench.printRuns();
    return 0;
}
