// bench_net: a guest's TCP through our NIC and egress filter, beside the
// floor of bare QEMU on a plain TAP, in one run on this machine (issue 15).
//
// Two VMs of the minimal template, up together, identical but for the host
// side of their NIC:
//  - floor: a TAP made here (Net::TapDevice, the gateway's address by
//    Net::TapLink, as tests/e2e/tst_guestnic does) in a private /30 that no
//    host route overlaps, and a plain masquerade in an nftables table of its
//    own (kFloorTable). No filter, no resolver.
//  - ours: the product's host side, Net::HostNetwork (start, attach with a
//    default-deny policy allowing allowed.test, or its address with
//    --policy cidr): its tap, address, rules, NAT and resolver.
// Both reach the test internet (tests/net/testinternet.h), whose sink,
// echo and DNS live in a network namespace at 198.51.100.10 / .2. In each
// guest the same static client (bench/netprobe.c, copied in by the agent)
// measures with the guest's clock: throughput to the sink (--mib, bounded
// by --seconds; a round's transfers go floor, ours, ours, floor or the
// reverse), and --connects TCP connects to the echo (each followed by a
// one-byte echo). Rounds alternate which VM goes first, and the VMs are
// booted twice: half the rounds with the floor booted first, half with ours
// first. Printed: the medians, and the ratios ours/floor against the issue's
// aims (throughput >= 0.9x, as the median of the rounds' ratios; connect
// latency p50 <= 1.2x).
//
// While both are up, the floor's packets also pass our table's base chains
// (a few set lookups that miss): that is the price of measuring both in
// alternation on a shared machine.
//
// Cleanup. A reaper forked first waits for this process to end; unless told
// that everything was removed, it runs this binary with --reap, which
// removes the floor's table, HostNetwork instance kInstanceId's leftovers
// (its start() removes a dead instance's tables, resolvers and taps) and the
// test internet (`testinternet.sh cleanup`). The VMMs die with this process
// (PR_SET_PDEATHSIG) and the taps with their last descriptor.
//
// Usage (root): bench_net [--rounds N] [--mib N] [--seconds N] [--connects N] [--policy domain|cidr]

#include "core/agent/agentclient.h"
#include "core/net/guestnet.h"
#include "core/net/hostnetwork.h"
#include "core/net/nftables.h"
#include "core/net/subnetplan.h"
#include "core/net/tapdevice.h"
#include "core/net/taplink.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vm/virtualmachine.h"
#include "core/vmm/vmmdriver.h"

#include "bench/benchutil.h"
#include "net/testinternet.h"

#include <QCoreApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonDocument>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <unistd.h>

namespace {

constexpr char kInstanceId[] = "mvsbench";
constexpr char kFloorTable[] = "mvsbench_floor";
constexpr char kFloorTap[] = "mvsbfloor0";
constexpr char kInternetTag[] = "benchnet";
constexpr char kReapArgument[] = "--reap";
constexpr char kAllClean = 'k';
constexpr char kProbeGuestPath[] = "/tmp/netprobe";
constexpr quint32 kProbeMode = 0755;
constexpr int kBootTimeoutMs = 900000; // the first boot may build the image
constexpr int kExecGraceMs = 30000;
constexpr int kProbeSlackS = 30; // the probe's own I/O timeouts, past --seconds
constexpr int kCheckTimeoutS = 10;
constexpr qint64 kBudgetMs = 8 * 60 * 1000; // no round starts past this
constexpr qint64 kWarmUpBytes = 4 * 1024 * 1024;
constexpr double kThroughputAim = 0.9;
constexpr double kLatencyAim = 1.2;

// Outside HostNetwork's default candidates (10.213-216/16, 172.16.128/19).
const QStringList &floorCandidates()
{
    static const QStringList c = {QStringLiteral("10.219.0.0/24"), QStringLiteral("10.220.0.0/24"), QStringLiteral("172.16.176.0/24")};
    return c;
}

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_net: %s\n", qPrintable(m));
    std::exit(1);
}

template<typename T>
T orDie(Core::Expected<T> e, const QString &what)
{
    if (!e)
        die(QStringLiteral("%1: %2").arg(what, e.error().message));
    return std::move(*e);
}

void orDie(const Core::Result &r, const QString &what)
{
    if (!r)
        die(QStringLiteral("%1: %2").arg(what, r.error().message));
}

struct Options {
    int rounds = 10;
    int mib = 64;
    int seconds = 15;
    int connects = 200;
    bool cidrPolicy = false;
};

Options parseOptions(const QStringList &args)
{
    Options o;
    o.rounds = qMax(1, Bench::intArg(args, QStringLiteral("--rounds"), o.rounds));
    o.mib = qMax(1, Bench::intArg(args, QStringLiteral("--mib"), o.mib));
    o.seconds = qMax(1, Bench::intArg(args, QStringLiteral("--seconds"), o.seconds));
    o.connects = qBound(1, Bench::intArg(args, QStringLiteral("--connects"), o.connects), 10000);
    const qsizetype p = args.indexOf(QStringLiteral("--policy"));
    o.cidrPolicy = p >= 0 && args.value(p + 1) == QLatin1String("cidr");
    return o;
}

// --- cleanup: the reaper and what it runs.

// Forked before anything else (one thread): waits until this process ends.
// Returns the pipe to write kAllClean to, or -1.
int startReaper()
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    const pid_t pid = ::fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        ::close(fds[1]);
        ::setsid(); // a Ctrl-C to the bench's process group leaves it running
        std::signal(SIGINT, SIG_IGN);
        std::signal(SIGHUP, SIG_IGN);
        char c = 0;
        ssize_t r;
        do
            r = ::read(fds[0], &c, 1);
        while (r < 0 && errno == EINTR);
        if (r == 1 && c == kAllClean)
            ::_exit(0);
        ::execl("/proc/self/exe", "bench_net", kReapArgument, static_cast<char *>(nullptr));
        ::_exit(127);
    }
    ::close(fds[0]);
    return fds[1];
}

Net::HostNetworkOptions hostNetworkOptions()
{
    Net::HostNetworkOptions o;
    o.instanceId = QLatin1String(kInstanceId);
    o.runtimeDir = QDir(Core::Paths::runtimeDir()).filePath(QStringLiteral("bench-net"));
    o.upstreams = {QLatin1String(TestInternet::kDnsAddress)};
    return o;
}

Core::Result removeFloorTable()
{
    return Net::Nftables::apply(QStringLiteral("add table inet %1\ndelete table inet %1\n").arg(QLatin1String(kFloorTable)),
                                QStringLiteral("delete the floor's table"));
}

// --reap: what a failed run left.
int reap()
{
    int failures = 0;
    if (auto ok = removeFloorTable(); !ok) {
        std::fprintf(stderr, "bench_net --reap: %s\n", qPrintable(ok.error().message));
        ++failures;
    }
    Net::HostNetwork net(hostNetworkOptions());
    auto started = net.start(); // removes the dead instance's tables, resolvers and taps
    if (!started || !net.stop()) {
        std::fprintf(stderr, "bench_net --reap: host network: %s\n", started ? "stop failed" : qPrintable(started.error().message));
        ++failures;
    }
    // Only when something of ours is left (testinternet.sh's has_anything):
    // `cleanup` waits for the in-use lock, which another run may hold for long.
    const QString name = QStringLiteral("mvsti-") + QLatin1String(kInternetTag);
    const bool internetLeft = QFile::exists(QStringLiteral("/run/netns/") + name) || QFile::exists(QStringLiteral("/sys/class/net/") + name)
        || QFile::exists(QStringLiteral("/run/") + name);
    if (const QString error = internetLeft ? TestInternet::runScript(QStringLiteral("cleanup"), QLatin1String(kInternetTag)) : QString(); !error.isEmpty()) {
        std::fprintf(stderr, "bench_net --reap: %s\n", qPrintable(error));
        ++failures;
    }
    std::fprintf(stderr, "bench_net --reap: removed what the failed run left (%d failures)\n", failures);
    return failures == 0 ? 0 : 1;
}

// --- the two paths.

struct Path {
    explicit Path(QString n)
        : name(std::move(n))
    {
    }
    QString name;
    Net::TapDevice tap;
    Net::VmAddress address;
    QString mac;
    std::unique_ptr<Vm::VirtualMachine> vm;
    QList<double> mbps; // every transfer, two per round
    QList<double> roundMbps; // the mean of each round's two
    QList<double> connectMs;
    QList<double> echoMs;
};

QString floorTableScript(const Net::Cidr &block)
{
    return QStringLiteral("add table inet %1\ndelete table inet %1\n"
                          "table inet %1 {\n    chain postrouting {\n"
                          "        type nat hook postrouting priority srcnat; policy accept;\n"
                          "        ip saddr %2 ip daddr != %2 masquerade\n    }\n}\n")
        .arg(QLatin1String(kFloorTable), block.toString());
}

// The floor's host side: a tap in a /30 no route overlaps, forwarding, a plain masquerade.
void setUpFloor(Path &floor)
{
    const auto plan = orDie(Net::SubnetPlan::choose(floorCandidates(), Net::HostRoutes::read()), QStringLiteral("the floor's subnet"));
    floor.address = orDie(plan.address(0), QStringLiteral("the floor's address"));
    floor.tap = orDie(Net::TapDevice::create(QLatin1String(kFloorTap)), QStringLiteral("the floor's tap"));
    floor.mac = Net::macForVm(QStringLiteral("bench-floor"));
    orDie(Net::TapLink::configure(floor.tap.name(), floor.address), QStringLiteral("the floor's tap address"));
    orDie(Net::TapLink::enableForwarding(), QStringLiteral("IPv4 forwarding"));
    orDie(Net::Nftables::apply(floorTableScript(floor.address.block), QStringLiteral("create the floor's table")), QStringLiteral("the floor's NAT"));
}

Net::NetworkPolicy benchPolicy(const Options &o)
{
    const QByteArray json = o.cidrPolicy ? QByteArray(R"({"default": "deny", "allow": [{"cidr": "198.51.100.10/32"}]})")
                                         : QByteArray(R"({"default": "deny", "allow": ["allowed.test"]})");
    return orDie(Net::NetworkPolicy::fromJson(QJsonDocument::fromJson(json).object()), QStringLiteral("the bench's policy"));
}

// Ours: the product's host side for one VM.
void setUpOurs(Net::HostNetwork &net, Path &ours, const Options &o)
{
    orDie(net.start(), QStringLiteral("start the host network"));
    auto a = orDie(net.attach(QStringLiteral("bench-ours"), 0, benchPolicy(o)), QStringLiteral("attach the VM"));
    ours.tap = std::move(a.tap);
    ours.address = a.address;
    ours.mac = a.mac;
}

void boot(Path &p, const Templates::VmTemplate &tmpl, const Vmm::VmmDriver &driver)
{
    p.vm = std::make_unique<Vm::VirtualMachine>(QStringLiteral("bench-") + p.name, tmpl, driver);
    p.vm->setNic(Vmm::NicSpec{p.tap.fd(), p.mac});
    p.vm->setExtraKernelArgs(orDie(Net::GuestNet::kernelArgument(p.address, p.mac), QStringLiteral("kernel argument")));
    orDie(Bench::await(p.vm->start(), kBootTimeoutMs), QStringLiteral("boot the %1 VM").arg(p.name));
}

// --- in the guest.

Agent::ExecResult exec(Path &p, Agent::ExecRequest req, int timeoutS)
{
    req.timeoutMs = timeoutS * 1000;
    return orDie(Bench::await(p.vm->agent()->run(req), req.timeoutMs + kExecGraceMs), QStringLiteral("exec in the %1 VM").arg(p.name));
}

// The probe's stdout; dies with its stderr when it fails.
QByteArray probe(Path &p, const QStringList &args, int timeoutS)
{
    Agent::ExecRequest req;
    req.argv = QStringList{QLatin1String(kProbeGuestPath)} + args;
    const Agent::ExecResult r = exec(p, req, timeoutS);
    if (r.exitCode != 0 || r.signal != 0)
        die(QStringLiteral("netprobe %1 in the %2 VM: exit %3, %4%5")
                .arg(args.join(QLatin1Char(' ')), p.name)
                .arg(r.exitCode)
                .arg(QString::fromUtf8(r.stderrData), QString::fromUtf8(r.stdoutData)));
    return r.stdoutData;
}

QStringList sendArgs(qint64 bytes, int seconds)
{
    return {QStringLiteral("send"), QLatin1String(TestInternet::kBenchAddress), QString::number(TestInternet::kSinkPort), QString::number(bytes),
            QString::number(seconds)};
}

// MB/s of one transfer to the sink.
double measureThroughput(Path &p, const Options &o)
{
    const QList<QByteArray> f = probe(p, sendArgs(qint64(o.mib) * 1024 * 1024, o.seconds), o.seconds + kProbeSlackS).trimmed().split(' ');
    const double bytes = f.value(0).toDouble(), ns = f.value(1).toDouble();
    if (f.size() != 3 || bytes <= 0 || ns <= 0)
        die(QStringLiteral("netprobe send in the %1 VM printed %2").arg(p.name, QString::fromUtf8(f.join(' '))));
    return bytes / ns * 1e3;
}

void measureConnects(Path &p, const Options &o)
{
    const QStringList args = {QStringLiteral("connect"), QLatin1String(TestInternet::kBenchAddress), QString::number(TestInternet::kEchoPort),
                              QString::number(o.connects)};
    const QList<QByteArray> lines = probe(p, args, o.seconds + kProbeSlackS).trimmed().split('\n');
    if (lines.size() != o.connects)
        die(QStringLiteral("netprobe connect in the %1 VM printed %2 lines, not %3").arg(p.name).arg(lines.size()).arg(o.connects));
    for (const QByteArray &line : lines) {
        const QList<QByteArray> f = line.split(' ');
        p.connectMs << f.value(0).toDouble() / 1e6;
        p.echoMs << f.value(1).toDouble() / 1e6;
    }
}

void copyProbe(Path &p, const QByteArray &probeBinary)
{
    orDie(Bench::await(p.vm->agent()->putData(QLatin1String(kProbeGuestPath), probeBinary, kProbeMode)), QStringLiteral("copy the probe in"));
}

// A first transfer: warms both ends, checks the sink's count.
void warmUp(Path &p)
{
    probe(p, sendArgs(kWarmUpBytes, kCheckTimeoutS), kCheckTimeoutS + kProbeSlackS);
}

// Ours reaches allowed.test (by name under the domain policy: its resolver
// fills the VM's nft set) and is refused denied.test: the filter is in the path.
void checkFilter(Path &ours, const Options &o)
{
    Agent::ExecRequest fetch;
    fetch.shell = TestInternet::fetchCommand(QLatin1String(o.cidrPolicy ? TestInternet::kAllowedAddress : TestInternet::kAllowedName), kCheckTimeoutS);
    const Agent::ExecResult got = exec(ours, fetch, kCheckTimeoutS + 5);
    if (got.exitCode != 0 || got.stdoutData.trimmed() != TestInternet::kAllowedName)
        die(QStringLiteral("the VM cannot fetch allowed.test's page: exit %1, %2").arg(got.exitCode).arg(QString::fromUtf8(got.stdoutData + got.stderrData)));
    Agent::ExecRequest denied;
    denied.shell = QStringLiteral("timeout 3 nc %1 %2 </dev/null").arg(QLatin1String(TestInternet::kDeniedAddress)).arg(TestInternet::kHttpPort);
    if (exec(ours, denied, kCheckTimeoutS).exitCode == 0)
        die(QStringLiteral("the VM reached denied.test: the filter is not in the path"));
}

// Rounds first..last-1, while the time budget lasts; how many ran. A round's
// transfers go A B B A (a drift of the machine's load within the round
// weighs on both alike), its connects A B; A is the floor in even rounds.
int measure(Path &floor, Path &ours, const Options &o, int first, int last, const QElapsedTimer &sinceStart)
{
    int r = first;
    for (; r < last && sinceStart.elapsed() < kBudgetMs; ++r) {
        Path *order[2] = {&floor, &ours};
        if (r % 2)
            std::swap(order[0], order[1]);
        for (Path *p : {order[0], order[1], order[1], order[0]})
            p->mbps << measureThroughput(*p, o);
        for (Path *p : order)
            p->roundMbps << (p->mbps.last() + p->mbps.at(p->mbps.size() - 2)) / 2;
        for (Path *p : order)
            measureConnects(*p, o);
        std::fprintf(stderr, "bench_net: round %d: MB/s ours %.1f, floor %.1f; connect p50 ms ours %.2f, floor %.2f\n", r + 1, ours.roundMbps.last(),
                     floor.roundMbps.last(), Bench::percentile(ours.connectMs.mid(ours.connectMs.size() - o.connects), 0.5),
                     Bench::percentile(floor.connectMs.mid(floor.connectMs.size() - o.connects), 0.5));
    }
    return r - first;
}

// Both VMs booted, `first` first (in case the order matters: each half of
// the rounds has its own), the probe copied in, the filter checked, a
// transfer each to warm up.
void bootBoth(Path &first, Path &second, Path &ours, const Options &o, const Templates::VmTemplate &tmpl, const Vmm::VmmDriver &driver,
              const QByteArray &probeBinary)
{
    for (Path *p : {&first, &second}) {
        boot(*p, tmpl, driver);
        copyProbe(*p, probeBinary);
    }
    checkFilter(ours, o);
    for (Path *p : {&first, &second})
        warmUp(*p);
    std::fprintf(stderr, "bench_net: booted %s, then %s\n", qPrintable(first.name), qPrintable(second.name));
}

void stopBoth(Path &floor, Path &ours)
{
    for (Path *p : {&floor, &ours})
        orDie(Bench::await(p->vm->stop()), QStringLiteral("stop the %1 VM").arg(p->name));
}

// Half the rounds with the floor booted first, half with ours first.
int measureInTwoHalves(Path &floor, Path &ours, const Options &o, const Templates::VmTemplate &tmpl, const Vmm::VmmDriver &driver,
                       const QByteArray &probeBinary, const QElapsedTimer &sinceStart)
{
    const int half = (o.rounds + 1) / 2;
    bootBoth(floor, ours, ours, o, tmpl, driver, probeBinary);
    int rounds = measure(floor, ours, o, 0, half, sinceStart);
    if (rounds == half && half < o.rounds && sinceStart.elapsed() < kBudgetMs) {
        stopBoth(floor, ours);
        bootBoth(ours, floor, ours, o, tmpl, driver, probeBinary);
        rounds += measure(floor, ours, o, half, o.rounds, sinceStart);
    }
    return rounds;
}

// --- the report.

void row(const char *what, double ours, double floor, const char *unit, double ratio, const QString &verdict)
{
    std::printf("%-32s %10.2f %-5s %10.2f %-5s ratio %5.2f  %s\n", what, ours, unit, floor, unit, ratio, qPrintable(verdict));
}

double ratioOf(double ours, double floor)
{
    return floor > 0 ? ours / floor : 0.0;
}

QString verdict(bool met, const char *aim)
{
    return QStringLiteral("aim %1: %2").arg(QLatin1String(aim), met ? QStringLiteral("met") : QStringLiteral("NOT met"));
}

void printSamples(const char *what, const QList<double> &v)
{
    std::printf("%s:", what);
    for (double x : v)
        std::printf(" %.1f", x);
    std::printf("\n");
}

// The median of ours/floor round by round (each pair measured back to back).
double pairedRatio(const QList<double> &ours, const QList<double> &floor)
{
    QList<double> r;
    for (qsizetype i = 0; i < qMin(ours.size(), floor.size()); ++i)
        r << (floor[i] > 0 ? ours[i] / floor[i] : 0);
    return Bench::percentile(r, 0.5);
}

void printReport(const Options &o, int rounds, const Path &floor, const Path &ours, const Net::HostNetwork &net)
{
    const bool kvm = ours.vm->instance() && ours.vm->instance()->accelerated();
    std::printf("\nbench_net: QEMU %s, minimal template (1 vCPU, 256 MiB); guest -> %s (test internet) through a masquerading host;\n"
                "%d rounds of 2 transfers each of %d MiB (or %d s) to the sink and %d connects to the echo; ours: policy default deny, allow %s\n\n",
                kvm ? "KVM" : "TCG", TestInternet::kBenchAddress, rounds, o.mib, o.seconds, o.connects,
                o.cidrPolicy ? "198.51.100.10/32" : "allowed.test (its resolver's nft set)");
    std::printf("%-32s %16s %16s\n", "measure", "ours", "floor (plain TAP)");
    // Throughput: the median of the rounds' ratios (each round A B B A).
    // Single transfers move by 2-3x with the machine's load, so the ratio
    // of the two medians mostly compares different moments.
    const double tRatio = pairedRatio(ours.roundMbps, floor.roundMbps);
    row("TCP throughput, median", Bench::percentile(ours.mbps, 0.5), Bench::percentile(floor.mbps, 0.5), "MB/s", tRatio,
        verdict(tRatio >= kThroughputAim, ">=0.9x"));
    const double oC = Bench::percentile(ours.connectMs, 0.5), fC = Bench::percentile(floor.connectMs, 0.5);
    row("TCP connect p50", oC, fC, "ms", ratioOf(oC, fC), verdict(fC > 0 && oC / fC <= kLatencyAim, "<=1.2x"));
    const double oC90 = Bench::percentile(ours.connectMs, 0.9), fC90 = Bench::percentile(floor.connectMs, 0.9);
    row("TCP connect p90", oC90, fC90, "ms", ratioOf(oC90, fC90), QString());
    const double oE = Bench::percentile(ours.echoMs, 0.5), fE = Bench::percentile(floor.echoMs, 0.5);
    row("1-byte echo round trip p50", oE, fE, "ms", ratioOf(oE, fE), QString());
    std::printf("\nthroughput: ratio above = median of the rounds' ours/floor; ratio of the medians %.2f\n",
                ratioOf(Bench::percentile(ours.mbps, 0.5), Bench::percentile(floor.mbps, 0.5)));
    printSamples("throughput MB/s by round, ours ", ours.roundMbps);
    printSamples("throughput MB/s by round, floor", floor.roundMbps);
    if (auto c = net.counters(0))
        std::printf("our filter's counters: %llu connections allowed, %llu denied\n", static_cast<unsigned long long>(c->allowed),
                    static_cast<unsigned long long>(c->denied));
}

// Everything this run made, in order; whether all of it went.
bool tearDown(Path &floor, Path &ours, Net::HostNetwork &net, TestInternet::Session &internet)
{
    bool clean = true;
    for (Path *p : {&floor, &ours}) {
        if (p->vm && !Bench::await(p->vm->stop()))
            clean = false;
        p->tap.reset();
    }
    for (const Core::Result &r : {net.stop(), removeFloorTable()}) {
        if (!r) {
            std::fprintf(stderr, "bench_net: %s\n", qPrintable(r.error().message));
            clean = false;
        }
    }
    if (const QString error = internet.down(); !error.isEmpty()) {
        std::fprintf(stderr, "bench_net: %s\n", qPrintable(error));
        clean = false;
    }
    return clean;
}

QByteArray readProbe()
{
    QFile f(QStringLiteral(MVS_NETPROBE_BINARY));
    if (!f.open(QIODevice::ReadOnly))
        die(QStringLiteral("cannot read the probe %1").arg(f.fileName()));
    return f.readAll();
}

std::unique_ptr<Vmm::VmmDriver> qemuDriver()
{
    Vmm::DriverOptions opts;
    opts.kind = Vmm::DriverKind::Qemu;
    opts.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    return orDie(Vmm::createDriver(opts), QStringLiteral("the QEMU driver"));
}

} // namespace

int main(int argc, char **argv)
{
    const bool reaping = argc == 2 && std::strcmp(argv[1], kReapArgument) == 0;
    const int reaper = reaping || ::geteuid() != 0 ? -1 : startReaper();
    QCoreApplication app(argc, argv);
    Bench::useBuiltAgent(MVS_AGENT_BINARY);
    if (reaping)
        return reap();
    if (const QString why = TestInternet::skipReason(); !why.isEmpty())
        die(why);
    if (reaper < 0)
        die(QStringLiteral("cannot start the reaper"));
    const Options o = parseOptions(app.arguments());
    QElapsedTimer sinceStart;
    sinceStart.start();

    const auto tmpl = orDie(Templates::VmTemplate::load(QStringLiteral("minimal")), QStringLiteral("the minimal template"));
    const auto driver = qemuDriver();
    const QByteArray probeBinary = readProbe();

    TestInternet::Session internet{QLatin1String(kInternetTag)};
    if (const QString error = internet.up(); !error.isEmpty())
        die(error);
    Net::HostNetwork net(hostNetworkOptions());
    Path floor(QStringLiteral("floor"));
    Path ours(QStringLiteral("ours"));
    setUpOurs(net, ours, o);
    setUpFloor(floor);
    const int rounds = measureInTwoHalves(floor, ours, o, tmpl, *driver, probeBinary, sinceStart);
    printReport(o, rounds, floor, ours, net);
    const bool clean = tearDown(floor, ours, net, internet);
    if (clean)
        (void)!::write(reaper, &kAllClean, 1);
    std::printf("bench_net: %.0f s in all%s\n", sinceStart.elapsed() / 1000.0, clean ? "" : "; cleanup failed, the reaper retries");
    return clean ? 0 : 1;
}
