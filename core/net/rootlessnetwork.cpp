#include "core/net/rootlessnetwork.h"

#include "core/log.h"
#include "core/net/dnsmasqconfig.h"
#include "core/net/nethelper.h"
#include "core/net/nethelperprotocol.h"
#include "core/paths.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QNetworkInterface>
#include <QProcess>
#include <QStandardPaths>
#include <QTimer>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace Net {
namespace {

constexpr char kResolvConf[] = "/etc/resolv.conf";
constexpr qint64 kMaxResolvConfBytes = 64 * 1024;
constexpr char kHelperLog[] = "net-helper.log";
constexpr char kPastaLog[] = "pasta.log";
constexpr char kId[] = "id";

Core::Error ended(const QString &what)
{
    return Core::Error(Core::ErrorCode::Unsupported,
                       QStringLiteral("the user-mode VM network failed: %1; VMs with a NIC have no network until the service restarts").arg(what));
}

QJsonArray toArray(const QList<Cidr> &networks)
{
    QJsonArray a;
    for (const Cidr &c : networks)
        a.append(c.toString());
    return a;
}

bool running(const QProcess *p)
{
    if (!p || p->state() != QProcess::Running)
        return false;
    // A child that died while no event loop ran is a zombie QProcess has not reaped yet.
    QFile stat(QStringLiteral("/proc/%1/stat").arg(p->processId()));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray s = stat.read(512);
    const int close = s.lastIndexOf(')');
    return close > 0 && s.size() > close + 2 && s.at(close + 2) != 'Z' && s.at(close + 2) != 'X';
}

} // namespace

RootlessNetwork::RootlessNetwork(RootlessOptions options)
    : m_options(std::move(options))
{
}

RootlessNetwork::~RootlessNetwork()
{
    [[maybe_unused]] const Core::Result stopped = stop();
}

Core::Result RootlessNetwork::checkTun(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        return {};
    }
    const QString why = QString::fromLocal8Bit(std::strerror(errno));
    return Core::Error(Core::ErrorCode::Unsupported,
                       QStringLiteral("this service is not root and cannot open %1 (%2): its VMs' taps are made in a user namespace of its own, which needs "
                                      "%1 open to everyone (mode 0666, Debian's default where udev runs; as root: chmod 0666 %1, as scripts/setup.sh does)")
                           .arg(path, why));
}

QList<Cidr> RootlessNetwork::hostAddresses()
{
    QList<Cidr> out;
    for (const QHostAddress &a : QNetworkInterface::allAddresses()) {
        // Loopback never leaves a guest; a scoped (link-local) IPv6 one is
        // no destination without its interface, which the namespace lacks.
        if (a.isNull() || a.isLoopback() || (a.protocol() == QAbstractSocket::IPv6Protocol && a.isLinkLocal()))
            continue;
        const Cidr c(a, a.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32);
        if (c.isValid() && !out.contains(c))
            out << c;
    }
    return out;
}

QList<Cidr> RootlessNetwork::reservedAddresses()
{
    QList<Cidr> out = hostAddresses();
    for (const char *pasta : {kUplinkGateway, kDnsForward})
        out << Cidr(QHostAddress(QLatin1String(pasta)), 32);
    return out;
}

Core::Expected<QStringList> RootlessNetwork::namespaceUpstreams(const QStringList &upstreams, bool &needsDnsForward)
{
    needsDnsForward = false;
    QStringList out;
    for (const QString &u : upstreams) {
        const QHostAddress address(u.section(QLatin1Char('#'), 0, 0));
        QString mapped = u;
        if (address.isLoopback()) {
            if (u.contains(QLatin1Char('#')))
                return Core::Error(Core::ErrorCode::Unsupported,
                                   QStringLiteral("upstream resolver %1 is on the host's loopback with a port of its own, which the user-mode VM network "
                                                  "cannot reach (only the first nameserver of %2, through pasta): configure another one")
                                       .arg(u, QLatin1String(kResolvConf)));
            mapped = QLatin1String(kDnsForward);
            needsDnsForward = true;
        }
        if (!out.contains(mapped))
            out << mapped;
    }
    return out;
}

Core::Expected<std::unique_ptr<RootlessNetwork>> RootlessNetwork::start(RootlessOptions options)
{
    if (auto ok = checkTun(options.tunDevice); !ok)
        return ok.error();
    for (const char *tool : {"unshare", "pasta"})
        if (QStandardPaths::findExecutable(QLatin1String(tool)).isEmpty())
            return Core::Error(Core::ErrorCode::BinaryMissing,
                               QStringLiteral("the user-mode VM network needs `%1` (Debian's %2)")
                                   .arg(QLatin1String(tool), QLatin1String(tool[0] == 'p' ? "passt" : "util-linux")));
    if (options.helperCommand.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("no network helper command"));
    QStringList upstreams = options.network.upstreams;
    if (upstreams.isEmpty()) {
        QFile f(QString::fromLatin1(kResolvConf));
        if (f.open(QIODevice::ReadOnly))
            upstreams = DnsmasqConfig::nameservers(f.read(kMaxResolvConfBytes)).mid(0, DnsmasqConfig::kMaxUpstreams);
    }
    bool dnsForward = false;
    auto mapped = namespaceUpstreams(upstreams, dnsForward);
    if (!mapped)
        return mapped.error();
    if (auto made = Core::Paths::ensurePrivateDir(options.network.runtimeDir); !made)
        return made.error();
    auto channels = HelperChannel::pair();
    if (!channels)
        return channels.error();
    std::unique_ptr<RootlessNetwork> n(new RootlessNetwork(std::move(options)));
    n->m_channel = std::move(channels->first);
    Core::Result ok = n->spawnHelper(channels->second.fd());
    channels->second.close(); // the helper's end is the helper's
    if (ok)
        ok = n->awaitReady();
    if (ok)
        ok = n->spawnPasta(dnsForward);
    if (ok)
        ok = n->startNetwork(*mapped);
    if (!ok) {
        n->endProcesses();
        return ok.error();
    }
    n->watchProcesses();
    return n;
}

QString RootlessNetwork::logTail(const QString &file) const
{
    QFile f(QDir(m_options.network.runtimeDir).filePath(file));
    if (!f.open(QIODevice::ReadOnly))
        return {};
    if (f.size() > kMaxLogTailBytes)
        f.seek(f.size() - kMaxLogTailBytes);
    return QString::fromUtf8(f.readAll()).trimmed();
}

// Step: `unshare ... microvm-sandbox net-helper`, its channel as descriptor
// NetHelper::kChannelFd; killed (SIGKILL) when this thread's process ends.
Core::Result RootlessNetwork::spawnHelper(int channelFd)
{
    m_helper = std::make_unique<QProcess>();
    m_helper->setProgram(QStringLiteral("unshare"));
    m_helper->setArguments(QStringList{QStringLiteral("--user"), QStringLiteral("--map-root-user"), QStringLiteral("--net"), QStringLiteral("--pid"),
                                       QStringLiteral("--fork"), QStringLiteral("--kill-child"), QStringLiteral("--mount"), QStringLiteral("--mount-proc"),
                                       QStringLiteral("--")}
                           + m_options.helperCommand);
    m_helper->setStandardInputFile(QProcess::nullDevice());
    // One log for both (appending: neither overwrites the other), new per start.
    const QString log = QDir(m_options.network.runtimeDir).filePath(QLatin1String(kHelperLog));
    QFile::remove(log);
    m_helper->setStandardOutputFile(log, QIODevice::Append);
    m_helper->setStandardErrorFile(log, QIODevice::Append);
    m_helper->setChildProcessModifier([channelFd]() {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (channelFd == NetHelper::kChannelFd)
            ::fcntl(channelFd, F_SETFD, 0);
        else
            ::dup2(channelFd, NetHelper::kChannelFd);
    });
    m_helper->start();
    if (!m_helper->waitForStarted(kStartTimeoutMs))
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot start the network helper (unshare): %1").arg(m_helper->errorString()));
    return {};
}

// Step: the helper runs in its namespaces and says so.
Core::Result RootlessNetwork::awaitReady()
{
    auto ready = m_channel.receive(kStartTimeoutMs);
    if (!ready || !ready->json.value(QStringLiteral("ready")).toBool()) {
        if (ready && ready->fd >= 0)
            ::close(ready->fd);
        m_helper->waitForFinished(kStopTimeoutMs / 10);
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("the network helper did not start in a user namespace of its own (unprivileged user namespaces may be off): %1")
                               .arg(logTail(QLatin1String(kHelperLog))));
    }
    return {};
}

// Step: pasta joins the helper's namespaces (through unshare's process,
// which made them) and gives them their uplink.
Core::Result RootlessNetwork::spawnPasta(bool dnsForward)
{
    m_pasta = std::make_unique<QProcess>();
    m_pasta->setProgram(QStringLiteral("pasta"));
    // As ourselves: pasta started as root would drop to "nobody" first and
    // could not join the namespace (a root service in a test, say).
    QStringList args{QStringLiteral("--runas"),      QStringLiteral("%1:%2").arg(::geteuid()).arg(::getegid()),
                     QStringLiteral("--foreground"), QStringLiteral("--quiet"),
                     QStringLiteral("--ipv4-only"),  QStringLiteral("--config-net"),
                     QStringLiteral("--ns-ifname"),  QLatin1String(NetHelper::kUplink),
                     QStringLiteral("--address"),    QLatin1String(kUplinkAddress),
                     QStringLiteral("--netmask"),    QString::number(kUplinkPrefix),
                     QStringLiteral("--gateway"),    QLatin1String(kUplinkGateway),
                     QStringLiteral("--no-map-gw"),  QStringLiteral("--tcp-ports"),
                     QStringLiteral("none"),         QStringLiteral("--udp-ports"),
                     QStringLiteral("none"),         QStringLiteral("--tcp-ns"),
                     QStringLiteral("none"),         QStringLiteral("--udp-ns"),
                     QStringLiteral("none"),         QStringLiteral("--no-dhcp"),
                     QStringLiteral("--log-file"),   QDir(m_options.network.runtimeDir).filePath(QLatin1String(kPastaLog))};
    if (dnsForward)
        args << QStringLiteral("--dns-forward") << QLatin1String(kDnsForward);
    args << QString::number(m_helper->processId());
    m_pasta->setArguments(args);
    m_pasta->setStandardInputFile(QProcess::nullDevice());
    m_pasta->setStandardOutputFile(QProcess::nullDevice());
    m_pasta->setStandardErrorFile(QDir(m_options.network.runtimeDir).filePath(QLatin1String(kPastaLog)), QIODevice::Append);
    m_pasta->setChildProcessModifier([]() { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
    QFile::remove(QDir(m_options.network.runtimeDir).filePath(QLatin1String(kPastaLog)));
    m_pasta->start();
    if (!m_pasta->waitForStarted(kStartTimeoutMs))
        return Core::Error(Core::ErrorCode::BinaryMissing, QStringLiteral("cannot start pasta: %1").arg(m_pasta->errorString()));
    return {};
}

// Step: the helper's HostNetwork, once pasta configured the uplink.
Core::Result RootlessNetwork::startNetwork(const QStringList &upstreams)
{
    m_reserved = reservedAddresses();
    const HostNetworkOptions &o = m_options.network;
    auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("start")},
                                      {QStringLiteral("instance"), o.instanceId},
                                      {QStringLiteral("runtime_dir"), o.runtimeDir},
                                      {QStringLiteral("subnets"), QJsonArray::fromStringList(o.subnetCandidates)},
                                      {QStringLiteral("upstreams"), QJsonArray::fromStringList(upstreams)},
                                      {QStringLiteral("reserved"), toArray(m_reserved)}},
                          Descriptor::Close, kStartTimeoutMs);
    if (!answer) {
        const QString pastaLog = logTail(QLatin1String(kPastaLog));
        return Core::Error(answer.error().code,
                           pastaLog.isEmpty() ? answer.error().message : answer.error().message + QStringLiteral(" (pasta: %1)").arg(pastaLog));
    }
    auto subnet = Cidr::parse(answer->json.value(QStringLiteral("subnet")).toString());
    if (!subnet)
        return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("network helper: a start answer without a subnet"));
    m_subnet = *subnet;
    m_table = answer->json.value(QStringLiteral("table")).toString();
    return {};
}

// Step, once started: a death of the helper or pasta ends the other at once
// (the VMs' traffic stops), and the host's addresses are refreshed.
void RootlessNetwork::watchProcesses()
{
    m_watch = std::make_unique<QObject>();
    // Queued: the network ends its processes, never inside their own signal.
    for (QProcess *p : {m_helper.get(), m_pasta.get()})
        QObject::connect(
            p, &QProcess::finished, m_watch.get(), [this] { [[maybe_unused]] const Core::Result h = health(); }, Qt::QueuedConnection);
    auto *refresh = new QTimer(m_watch.get());
    QObject::connect(refresh, &QTimer::timeout, m_watch.get(), [this] {
        if (auto ok = refreshHostAddresses(); !ok)
            Core::Log::core()->warn("VM networking: {}", ok.error().message.toStdString());
    });
    refresh->start(kHostAddressRefreshMs);
}

// The helper or pasta ended (the error names which), or nothing.
Core::Result RootlessNetwork::deathOf() const
{
    if (!running(m_helper.get()))
        return ended(QStringLiteral("its helper (in the VMs' namespace) exited: %1").arg(logTail(QLatin1String(kHelperLog))));
    if (!running(m_pasta.get()))
        return ended(QStringLiteral("pasta (its link to the host's network) exited: %1").arg(logTail(QLatin1String(kPastaLog))));
    return {};
}

// Fail closed: both processes end now (the VMs' traffic stops); every later
// call fails with why.
Core::Error RootlessNetwork::failClosed(const Core::Error &why) const
{
    if (!m_failure) {
        m_failure = why;
        Core::Log::core()->warn("VM networking: {}", why.message.toStdString());
    }
    endProcesses(Ending::Now);
    return *m_failure;
}

Core::Result RootlessNetwork::health() const
{
    if (m_failure)
        return *m_failure;
    if (!m_channel.isValid())
        return ended(QStringLiteral("it is stopped"));
    if (auto alive = deathOf(); !alive)
        return failClosed(alive.error());
    return {};
}

Core::Expected<HelperChannel::Message> RootlessNetwork::request(const QJsonObject &r, Descriptor descriptor, int timeoutMs) const
{
    if (auto ok = health(); !ok)
        return ok.error();
    const qint64 id = m_nextId++;
    QJsonObject numbered = r;
    numbered.insert(QLatin1String(kId), id);
    if (auto sent = m_channel.send(numbered); !sent)
        return sent.error().code == Core::ErrorCode::TooLarge ? sent.error() : failClosed(ended(sent.error().message));
    const int timeout = timeoutMs > 0 ? timeoutMs : m_options.requestTimeoutMs > 0 ? m_options.requestTimeoutMs : kRequestTimeoutMs;
    auto answer = awaitAnswer(id, timeout);
    if (!answer)
        return answer.error();
    auto ok = NetHelperProtocol::result(answer->json);
    if ((!ok || descriptor == Descriptor::Close) && answer->fd >= 0) {
        ::close(answer->fd);
        answer->fd = -1;
    }
    if (!ok)
        return ok.error();
    return answer;
}

// The answer to request id; one to another (late, stray) is dropped with
// its descriptor. No answer in time, or a channel that fails: fail closed.
Core::Expected<HelperChannel::Message> RootlessNetwork::awaitAnswer(qint64 id, int timeoutMs) const
{
    // In slices: a helper or pasta that dies meanwhile is an answer too.
    QElapsedTimer waited;
    waited.start();
    for (;;) {
        const qint64 left = timeoutMs - waited.elapsed();
        if (left <= 0)
            return failClosed(ended(QStringLiteral("its helper did not answer within %1 ms").arg(timeoutMs)));
        auto answer = m_channel.receive(int(qMin<qint64>(kHealthPollMs, left)));
        if (answer && answer->json.value(QLatin1String(kId)).toInteger(-1) == id)
            return answer;
        if (answer) {
            if (answer->fd >= 0)
                ::close(answer->fd);
            Core::Log::core()->warn("VM networking: dropped a network helper answer to another request than {}", id);
            continue;
        }
        if (answer.error().code != Core::ErrorCode::Timeout)
            return failClosed(ended(answer.error().message));
        if (auto ok = health(); !ok)
            return ok.error();
    }
}

// The host's addresses it gained since (a new interface, a new lease).
Core::Result RootlessNetwork::refreshHostAddresses()
{
    QList<Cidr> added;
    for (const Cidr &c : reservedAddresses())
        if (!m_reserved.contains(c))
            added << c;
    if (added.isEmpty())
        return {};
    auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("reserve")}, {QStringLiteral("reserved"), toArray(added)}});
    if (!answer)
        return answer.error();
    m_reserved += added;
    return {};
}

Core::Expected<VmAttachment> RootlessNetwork::attach(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac,
                                                     const QString &privateNetwork)
{
    if (auto ok = refreshHostAddresses(); !ok)
        return ok.error();
    auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("attach")},
                                      {QStringLiteral("vm"), vmId},
                                      {QStringLiteral("slot"), slot},
                                      {QStringLiteral("policy"), policy.toJson()},
                                      {QStringLiteral("mac"), mac},
                                      {QStringLiteral("private_network"), privateNetwork}},
                          Descriptor::Keep);
    if (!answer)
        return answer.error();
    auto tap = TapDevice::fromDescriptor(answer->fd, tapName(slot));
    auto address = NetHelperProtocol::addressFromJson(answer->json.value(QStringLiteral("address")).toObject());
    const QString answeredMac = answer->json.value(QStringLiteral("mac")).toString();
    if (!tap || !address || address->slot != slot || !m_subnet.contains(address->address)) {
        [[maybe_unused]] const Core::Result undone = detach(slot);
        return !tap ? tap.error()
                    : Core::Error(Core::ErrorCode::Protocol, QStringLiteral("network helper: an attach answer that is not VM slot %1's").arg(slot));
    }
    m_slots.insert(slot);
    return VmAttachment{std::move(*tap), *address, answeredMac};
}

Core::Expected<VmAttachment> RootlessNetwork::adopt(const QString &vmId, int, const NetworkPolicy &, const QString &, const QString &)
{
    return Core::Error(Core::ErrorCode::Unsupported,
                       QStringLiteral("VM %1's network ended with the service that started it (a user-mode network does not outlive its service): stop the VM "
                                      "and start it again")
                           .arg(vmId));
}

Core::Result RootlessNetwork::setPolicy(int slot, const NetworkPolicy &policy)
{
    if (auto ok = refreshHostAddresses(); !ok)
        return ok.error();
    auto answer =
        request(QJsonObject{{QStringLiteral("op"), QStringLiteral("set_policy")}, {QStringLiteral("slot"), slot}, {QStringLiteral("policy"), policy.toJson()}});
    return answer ? Core::Result() : Core::Result(answer.error());
}

Core::Result RootlessNetwork::detach(int slot)
{
    m_slots.erase(slot);
    auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("detach")}, {QStringLiteral("slot"), slot}});
    return answer ? Core::Result() : Core::Result(answer.error());
}

Core::Expected<VmCounters> RootlessNetwork::counters(int slot) const
{
    auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("counters")}, {QStringLiteral("slot"), slot}});
    if (!answer)
        return answer.error();
    return NetHelperProtocol::countersFromJson(answer->json);
}

Core::Expected<QList<Denial>> RootlessNetwork::denials(int slot) const
{
    auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("denials")}, {QStringLiteral("slot"), slot}});
    if (!answer)
        return answer.error();
    return NetHelperProtocol::denialsFromJson(answer->json);
}

QString RootlessNetwork::tapName(int slot) const
{
    return QStringLiteral("%1v%2").arg(HostNetwork::tapPrefix(m_options.network.instanceId)).arg(slot);
}

qint64 RootlessNetwork::helperPid() const
{
    return m_helper ? m_helper->processId() : 0;
}

qint64 RootlessNetwork::pastaPid() const
{
    return m_pasta ? m_pasta->processId() : 0;
}

// The helper (and with it its PID namespace: the resolvers) and pasta end:
// the helper when its channel closes (Graceful) or killed (Now: it failed).
void RootlessNetwork::endProcesses(Ending how) const
{
    if (m_watch) { // no more watching: these deaths are ours (kept: this may run in its slot)
        for (QProcess *p : {m_helper.get(), m_pasta.get()})
            if (p)
                QObject::disconnect(p, nullptr, m_watch.get(), nullptr);
        for (QTimer *t : m_watch->findChildren<QTimer *>()) {
            t->stop();
            QObject::disconnect(t, nullptr, m_watch.get(), nullptr);
        }
    }
    m_channel.close(); // the helper's loop ends
    if (m_helper && m_helper->state() != QProcess::NotRunning && (how == Ending::Now || !m_helper->waitForFinished(kStopTimeoutMs))) {
        m_helper->kill();
        m_helper->waitForFinished(kStopTimeoutMs);
    }
    if (m_pasta && m_pasta->state() != QProcess::NotRunning) {
        m_pasta->terminate();
        if (!m_pasta->waitForFinished(how == Ending::Now ? 0 : kStopTimeoutMs)) {
            m_pasta->kill();
            m_pasta->waitForFinished(kStopTimeoutMs);
        }
    }
    m_helper.reset();
    m_pasta.reset();
}

Core::Result RootlessNetwork::stop()
{
    if (!m_helper && !m_pasta)
        return {};
    Core::Result result;
    if (health()) {
        auto answer = request(QJsonObject{{QStringLiteral("op"), QStringLiteral("stop")}}, Descriptor::Close, kStopTimeoutMs);
        if (!answer)
            result = answer.error();
    }
    m_slots.clear();
    endProcesses();
    return result;
}

void RootlessNetwork::release()
{
    if (!m_slots.empty())
        Core::Log::core()->warn("VM networking: the user-mode network ends with this service; the {} VM(s) left running with a NIC lose their network "
                                "until they are started again",
                                m_slots.size());
    [[maybe_unused]] const Core::Result stopped = stop();
}

} // namespace Net
