// bench_foundation: the foundation's numbers, each beside its floor or peer
// measured in the same run on the same VM configuration.
//
//  1. create -> agent ready (VirtualMachine::start) beside the floor: the same
//     kernel and initramfs booted by bare QEMU (same command line) to init.
//  2. exec round trip of `true` (p50, p90): our agent beside qemu-guest-agent
//     (guest-exec + guest-exec-status polling) in the same guest.
//  3. file put/get throughput: our agent beside qemu-ga's
//     guest-file-write/guest-file-read (1 MiB base64 chunks).
//
// Usage: bench_foundation [--boots N] [--execs N] [--mib N]

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vm/virtualmachine.h"
#include "core/vmm/consolelog.h"
#include "core/vmm/qemucommandline.h"
#include "core/vmm/qemudriver.h"
#include "core/vmm/vmmdriver.h"

#include "bench/benchutil.h"
#include "bench/floorboot.h"

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocalSocket>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QThread>

#include <algorithm>
#include <cstdio>

namespace {

constexpr const char *kPeerPort = "org.qemu.guest_agent.0";

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_foundation: %s\n", qPrintable(m));
    std::exit(1);
}

// The floor (bench/floorboot.h); a floor that never reached init ends the run.
double floorBootMs(const Vmm::VmSpec &base, Vmm::QemuCommandLine::Accel accel, const QString &qemu)
{
    const double ms = Bench::floorBootMs(base, accel, qemu);
    if (ms < 0)
        die(QStringLiteral("the floor VM never reached init"));
    return ms;
}

// A blocking qemu-ga client on its virtio-serial port.
class QgaClient {
public:
    bool connectTo(const QString &path)
    {
        m_sock.connectToServer(path);
        if (!m_sock.waitForConnected(5000)) {
            std::fprintf(stderr, "qga: cannot connect to %s: %s\n", qPrintable(path), qPrintable(m_sock.errorString()));
            return false;
        }
        // 0xFF resets qemu-ga's parser (it answers with a parse error);
        // then guest-sync-delimited with a fresh id: replies up to the one
        // that echoes it are stale and skipped.
        m_sock.write(QByteArray("\xff", 1));
        for (int attempt = 0; attempt < 20; ++attempt) {
            const qint64 id = QRandomGenerator::global()->bounded(1, 1 << 30);
            send(QStringLiteral("guest-sync-delimited"), QJsonObject{{QStringLiteral("id"), id}});
            for (QJsonObject r = readReply(2000); !r.isEmpty(); r = readReply(2000))
                if (r.value(QStringLiteral("return")).toInteger() == id)
                    return true;
        }
        return false;
    }
    QJsonObject call(const QString &cmd, const QJsonObject &args = {})
    {
        send(cmd, args);
        const QJsonObject r = readReply(60000);
        if (r.contains(QStringLiteral("error")))
            die(QStringLiteral("qemu-ga %1: %2").arg(cmd, QString::fromUtf8(QJsonDocument(r).toJson(QJsonDocument::Compact))));
        return r;
    }

private:
    void send(const QString &cmd, const QJsonObject &args)
    {
        QJsonObject o{{QStringLiteral("execute"), cmd}};
        if (!args.isEmpty())
            o.insert(QStringLiteral("arguments"), args);
        m_sock.write(QJsonDocument(o).toJson(QJsonDocument::Compact) + '\n');
        m_sock.flush();
    }
    QJsonObject readReply(int timeoutMs)
    {
        QDeadlineTimer d(timeoutMs);
        for (;;) {
            qsizetype nl;
            while ((nl = m_buf.indexOf('\n')) >= 0) {
                QByteArray line = m_buf.left(nl);
                m_buf.remove(0, nl + 1);
                const qsizetype brace = line.indexOf('{'); // skip the 0xff sync byte
                if (brace < 0)
                    continue;
                const QJsonDocument doc = QJsonDocument::fromJson(line.mid(brace));
                if (doc.isObject())
                    return doc.object();
            }
            if (d.hasExpired() || !m_sock.waitForReadyRead(int(qMax<qint64>(1, d.remainingTime())))) {
                if (qEnvironmentVariableIsSet("MVS_BENCH_DEBUG"))
                    std::fprintf(stderr, "qga: no reply, state %d, buffered %s\n", int(m_sock.state()), m_buf.toHex().constData());
                return {};
            }
            m_buf += m_sock.readAll();
        }
    }
    QLocalSocket m_sock;
    QByteArray m_buf;
};

void row(const char *what, double ours, double peer, const char *unit, const char *peerName, const QString &verdict)
{
    std::printf("%-34s %10.2f %-6s %-26s %10.2f %-6s ratio %6.2f  %s\n", what, ours, unit, peerName, peer, unit, ours / peer, qPrintable(verdict));
}

double mibPerSecond(int mib, const QElapsedTimer &t)
{
    return mib / (double(t.nsecsElapsed()) / 1e9);
}

struct Options {
    int boots = 5;
    int execs = 100;
    int mib = 16;
};

Options parseOptions(const QStringList &args)
{
    Options o;
    for (int i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == QLatin1String("--boots"))
            o.boots = args[i + 1].toInt();
        else if (args[i] == QLatin1String("--execs"))
            o.execs = args[i + 1].toInt();
        else if (args[i] == QLatin1String("--mib"))
            o.mib = args[i + 1].toInt();
    }
    return o;
}

struct Results {
    bool kvm = false;
    QList<double> floorMs, readyMs;
    QList<double> oursExec, peerExec;
    QList<double> oursPing, peerPing;
    double oursPut = 0, oursGet = 0, peerPut = 0, peerGet = 0;
};

// --- 1. boot: floor vs create -> agent ready, alternating runs. The last VM stays up.
std::unique_ptr<Vm::VirtualMachine> measureBoots(int boots, const Templates::VmTemplate &tmpl, Vmm::VmmDriver &driver, Results &res)
{
    std::unique_ptr<Vm::VirtualMachine> vm;
    for (int i = 0; i < boots; ++i) {
        auto v = std::make_unique<Vm::VirtualMachine>(QStringLiteral("bench"), tmpl, driver);
        v->setExtraSerialPorts({QString::fromLatin1(kPeerPort)});
        QElapsedTimer t;
        t.start();
        auto started = Bench::await(v->start());
        const double ms = Bench::msSince(t);
        if (!started)
            die(started.error().message);
        res.readyMs << ms;
        res.kvm = v->instance()->accelerated();
        // The floor: same spec and accelerator, command line from the same builder.
        res.floorMs << floorBootMs(v->instance()->spec(), res.kvm ? Vmm::QemuCommandLine::Accel::Kvm : Vmm::QemuCommandLine::Accel::Tcg,
                                   static_cast<const Vmm::QemuDriver &>(driver).binary());
        if (i + 1 < boots)
            (void)Bench::await(v->stop());
        else
            vm = std::move(v);
    }
    return vm;
}

// Starts the peer in the same guest on its own port and connects to it.
void startPeer(Agent::AgentClient *agent, const Vmm::VmSpec &spec, QgaClient &qga)
{
    Agent::ExecRequest startQga;
    startQga.shell = QStringLiteral("for n in /sys/class/virtio-ports/*/name; do [ \"$(cat $n)\" = %1 ] && d=$(basename $(dirname $n)); done; "
                                    "exec qemu-ga -m virtio-serial -p /dev/$d -f /run/qemu-ga.pid -t /run -d")
                         .arg(QString::fromLatin1(kPeerPort));
    auto qgaStarted = Bench::await(agent->run(startQga));
    if (!qgaStarted || qgaStarted->exitCode != 0)
        die(QStringLiteral("cannot start qemu-ga in the guest: %1").arg(qgaStarted ? QString::fromUtf8(qgaStarted->stderrData) : qgaStarted.error().message));
    if (!qga.connectTo(Vmm::QemuCommandLine::extraPortSocketPath(spec, QString::fromLatin1(kPeerPort)))) {
        Agent::ExecRequest ps;
        ps.shell = QStringLiteral("ps; ls -l /sys/class/virtio-ports/; cat /sys/class/virtio-ports/*/name");
        auto r = Bench::await(agent->run(ps));
        die(QStringLiteral("qemu-ga does not answer: %1").arg(r ? QString::fromUtf8(r->stdoutData + r->stderrData) : r.error().message));
    }
}

Agent::ExecRequest trueRequest()
{
    Agent::ExecRequest t;
    t.argv = QStringList{QStringLiteral("/bin/true")};
    return t;
}

// --- 2. exec round trips of `true`.
void measureExecs(Agent::AgentClient *agent, QgaClient &qga, int execs, Results &res)
{
    const Agent::ExecRequest t = trueRequest();
    for (int i = 0; i < execs; ++i) {
        QElapsedTimer e;
        e.start();
        auto r = Bench::await(agent->run(t));
        if (!r || r->exitCode != 0)
            die(QStringLiteral("exec failed"));
        res.oursExec << Bench::msSince(e);

        e.restart();
        const qint64 pid = qga.call(QStringLiteral("guest-exec"), {{QStringLiteral("path"), QStringLiteral("/bin/true")}})
                               .value(QStringLiteral("return"))
                               .toObject()
                               .value(QStringLiteral("pid"))
                               .toInteger();
        for (;;) {
            const QJsonObject st = qga.call(QStringLiteral("guest-exec-status"), {{QStringLiteral("pid"), pid}}).value(QStringLiteral("return")).toObject();
            if (st.value(QStringLiteral("exited")).toBool())
                break;
        }
        res.peerExec << Bench::msSince(e);
    }
}

// Where an exec's time goes: request -> started (vfork+execve done) -> exit.
void printExecBreakdown(Agent::AgentClient *agent)
{
    const Agent::ExecRequest t = trueRequest();
    QList<double> toStart, toExit;
    for (int i = 0; i < 30; ++i) {
        QElapsedTimer e;
        e.start();
        double started = 0;
        Agent::ExecHandle *h = agent->exec(t);
        QObject::connect(h, &Agent::ExecHandle::started, h, [&](int) { started = Bench::msSince(e); });
        (void)Bench::await(h->result());
        toStart << started;
        toExit << Bench::msSince(e);
        delete h;
    }
    std::printf("debug: exec -> started p50 %.2f ms, -> exit p50 %.2f ms\n", Bench::percentile(toStart, 0.5), Bench::percentile(toExit, 0.5));
}

// Channel round trip with no process: health vs guest-ping.
void measurePings(Agent::AgentClient *agent, QgaClient &qga, int count, Results &res)
{
    for (int i = 0; i < count; ++i) {
        QElapsedTimer e;
        e.start();
        if (!Bench::await(agent->health()))
            die(QStringLiteral("health failed"));
        res.oursPing << Bench::msSince(e);
        e.restart();
        qga.call(QStringLiteral("guest-ping"));
        res.peerPing << Bench::msSince(e);
    }
}

// --- 3. throughput, ours.
void measureOurTransfer(Agent::AgentClient *agent, const QByteArray &data, int mib, Results &res)
{
    QElapsedTimer e;
    e.start();
    if (!Bench::await(agent->putData(QStringLiteral("/tmp/ours.bin"), data)))
        die(QStringLiteral("put failed"));
    res.oursPut = mibPerSecond(mib, e);
    e.restart();
    auto back = Bench::await(agent->getData(QStringLiteral("/tmp/ours.bin")));
    if (!back || *back != data)
        die(QStringLiteral("get failed or differs"));
    res.oursGet = mibPerSecond(mib, e);
}

qint64 openPeerFile(QgaClient &qga, const char *mode)
{
    return qga
        .call(QStringLiteral("guest-file-open"), {{QStringLiteral("path"), QStringLiteral("/tmp/peer.bin")}, {QStringLiteral("mode"), QLatin1String(mode)}})
        .value(QStringLiteral("return"))
        .toInteger();
}

// --- 3. throughput, the peer's (1 MiB base64 chunks).
void measurePeerTransfer(QgaClient &qga, const QByteArray &data, int mib, Results &res)
{
    constexpr int kQgaChunk = 1 << 20;
    QElapsedTimer e;
    e.start();
    qint64 h = openPeerFile(qga, "w");
    for (qsizetype off = 0; off < data.size(); off += kQgaChunk)
        qga.call(QStringLiteral("guest-file-write"),
                 {{QStringLiteral("handle"), h}, {QStringLiteral("buf-b64"), QString::fromLatin1(data.mid(off, kQgaChunk).toBase64())}});
    qga.call(QStringLiteral("guest-file-close"), {{QStringLiteral("handle"), h}});
    res.peerPut = mibPerSecond(mib, e);
    e.restart();
    h = openPeerFile(qga, "r");
    QByteArray peerData;
    for (;;) {
        const QJsonObject r = qga.call(QStringLiteral("guest-file-read"), {{QStringLiteral("handle"), h}, {QStringLiteral("count"), kQgaChunk}})
                                  .value(QStringLiteral("return"))
                                  .toObject();
        peerData += QByteArray::fromBase64(r.value(QStringLiteral("buf-b64")).toString().toLatin1());
        if (r.value(QStringLiteral("eof")).toBool())
            break;
    }
    qga.call(QStringLiteral("guest-file-close"), {{QStringLiteral("handle"), h}});
    res.peerGet = mibPerSecond(mib, e);
    if (peerData != data)
        die(QStringLiteral("qemu-ga's round trip differs"));
}

void printReport(const Options &o, const Results &res)
{
    const double fMed = Bench::percentile(res.floorMs, 0.5), rMed = Bench::percentile(res.readyMs, 0.5);
    std::printf("\nbench_foundation: QEMU %s, 1 vCPU, 256 MiB, Debian cloud kernel + busybox initramfs; %d boots, %d execs, %d MiB\n\n",
                res.kvm ? "KVM" : "TCG", o.boots, o.execs, o.mib);
    std::printf("%-34s %17s %-26s %17s\n", "measure", "ours", "floor / peer", "");
    row("create->agent ready, median", rMed, fMed, "ms", "bare QEMU to init",
        fMed > 0 && rMed / fMed <= 1.2 ? QStringLiteral("aim <=1.2x: met") : QStringLiteral("aim <=1.2x: NOT met"));
    const double o50 = Bench::percentile(res.oursExec, 0.5), p50 = Bench::percentile(res.peerExec, 0.5);
    row("exec `true` p50", o50, p50, "ms", "qemu-ga exec+status", o50 <= p50 / 2 ? QStringLiteral("aim <=0.5x: met") : QStringLiteral("aim <=0.5x: NOT met"));
    row("exec `true` p90", Bench::percentile(res.oursExec, 0.9), Bench::percentile(res.peerExec, 0.9), "ms", "qemu-ga exec+status", QString());
    row("round trip (health / guest-ping) p50", Bench::percentile(res.oursPing, 0.5), Bench::percentile(res.peerPing, 0.5), "ms", "qemu-ga guest-ping",
        QString());
    row("file put", res.oursPut, res.peerPut, "MiB/s", "qemu-ga file-write",
        res.oursPut >= 5 * res.peerPut ? QStringLiteral("aim >=5x: met") : QStringLiteral("aim >=5x: NOT met"));
    row("file get", res.oursGet, res.peerGet, "MiB/s", "qemu-ga file-read",
        res.oursGet >= 5 * res.peerGet ? QStringLiteral("aim >=5x: met") : QStringLiteral("aim >=5x: NOT met"));
    std::printf("\nboot ms, ours: ");
    for (double v : res.readyMs)
        std::printf("%.0f ", v);
    std::printf("\nboot ms, floor: ");
    for (double v : res.floorMs)
        std::printf("%.0f ", v);
    std::printf("\n");
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    Bench::useBuiltAgent(MVS_AGENT_BINARY);
    const Options o = parseOptions(app.arguments());

    auto tmpl = Templates::VmTemplate::fromFile(QStringLiteral(MVS_BENCH_TEMPLATE));
    if (!tmpl)
        die(tmpl.error().message);
    Vmm::DriverOptions opts;
    opts.kind = Vmm::DriverKind::Qemu;
    opts.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    auto driver = Vmm::createDriver(opts);
    if (!driver)
        die(driver.error().message);
    Image::ImageBuilder builder;
    auto image = Bench::await(builder.ensure(tmpl->image, Core::Paths::agentBinary()));
    if (!image)
        die(image.error().message);

    Results res;
    std::unique_ptr<Vm::VirtualMachine> vm = measureBoots(o.boots, *tmpl, **driver, res);
    Agent::AgentClient *agent = vm->agent();
    QgaClient qga;
    startPeer(agent, vm->instance()->spec(), qga);
    measureExecs(agent, qga, o.execs, res);
    if (qEnvironmentVariableIsSet("MVS_BENCH_DEBUG"))
        printExecBreakdown(agent);
    measurePings(agent, qga, o.execs, res);
    QByteArray data(o.mib * 1024 * 1024, Qt::Uninitialized);
    QRandomGenerator(42).fillRange(reinterpret_cast<quint32 *>(data.data()), data.size() / 4);
    measureOurTransfer(agent, data, o.mib, res);
    measurePeerTransfer(qga, data, o.mib, res);
    (void)Bench::await(vm->stop());
    printReport(o, res);
    return 0;
}
