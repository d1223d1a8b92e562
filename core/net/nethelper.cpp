#include "core/net/nethelper.h"

#include "core/net/nethelperprotocol.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QNetworkInterface>
#include <QThread>

#include <QFile>

#include <cerrno>
#include <cstring>

#include <sys/mount.h>
#include <unistd.h>

namespace Net {
namespace {

constexpr char kId[] = "id";

Core::Error badRequest(const QString &what)
{
    return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("network helper request: %1").arg(what));
}

QStringList strings(const QJsonValue &v)
{
    QStringList out;
    for (const QJsonValue &item : v.toArray())
        out << item.toString();
    return out;
}

Core::Expected<QList<Cidr>> networks(const QJsonValue &v)
{
    QList<Cidr> out;
    for (const QString &s : strings(v)) {
        auto c = Cidr::parse(s);
        if (!c)
            return c.error();
        out << *c;
    }
    return out;
}

int slotOf(const QJsonObject &request)
{
    return request.value(QStringLiteral("slot")).toInt(-1);
}

} // namespace

Core::Result NetHelper::mountOwnSysfs()
{
    QFile map(QStringLiteral("/proc/self/uid_map"));
    if (!map.open(QIODevice::ReadOnly) || map.readAll().simplified() == QByteArrayLiteral("0 0 4294967295"))
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("not in a user namespace of its own: /sys stays the host's"));
    if (::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot mount the namespace's own /sys: %1").arg(QString::fromLocal8Bit(std::strerror(errno))));
    return {};
}

NetHelper::NetHelper(HelperChannel channel)
    : m_channel(std::move(channel))
{
}

int NetHelper::run()
{
    if (!m_channel.send(QJsonObject{{QStringLiteral("ready"), true}}))
        return 1;
    for (;;) {
        auto request = m_channel.receive(-1);
        if (!request)
            break; // the service is gone
        if (request->fd >= 0)
            ::close(request->fd);
        int fd = -1;
        const QJsonObject answer = handle(request->json, fd);
        const bool sent = bool(answerWith(request->json, answer, fd));
        m_lastTap.reset(); // the service has its copy (or none)
        if (!sent || request->json.value(QStringLiteral("op")).toString() == QLatin1String("stop"))
            break;
    }
    if (m_network) [[maybe_unused]]
        const Core::Result stopped = m_network->stop();
    return 0;
}

// The answer, with the request's "id" (the service matches them); one over
// the channel's limit is answered with that error instead (TooLarge).
Core::Result NetHelper::answerWith(const QJsonObject &request, QJsonObject answer, int fd)
{
    const QJsonValue id = request.value(QLatin1String(kId));
    answer.insert(QLatin1String(kId), id);
    auto sent = m_channel.send(answer, fd);
    if (sent || sent.error().code != Core::ErrorCode::TooLarge)
        return sent;
    QJsonObject tooLarge = NetHelperProtocol::error(sent.error());
    tooLarge.insert(QLatin1String(kId), id);
    return m_channel.send(tooLarge);
}

QJsonObject NetHelper::handle(const QJsonObject &request, int &fdToSend)
{
    const QString op = request.value(QStringLiteral("op")).toString();
    if (op == QLatin1String("start"))
        return start(request);
    if (!m_network)
        return NetHelperProtocol::error(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the helper's network is not started")));
    if (op == QLatin1String("attach"))
        return attach(request, fdToSend);
    if (op == QLatin1String("detach"))
        return detach(request);
    if (op == QLatin1String("set_policy"))
        return setPolicy(request);
    if (op == QLatin1String("counters"))
        return counters(request);
    if (op == QLatin1String("denials"))
        return denials(request);
    if (op == QLatin1String("reserve"))
        return reserve(request);
    if (op == QLatin1String("stop")) {
        auto stopped = m_network->stop();
        m_network.reset();
        return stopped ? NetHelperProtocol::ok() : NetHelperProtocol::error(stopped.error());
    }
    return NetHelperProtocol::error(badRequest(QStringLiteral("unknown op '%1'").arg(op)));
}

// Step: pasta has given the namespace its uplink (an IPv4 address on kUplink).
Core::Result NetHelper::waitForUplink() const
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < kUplinkTimeoutMs) {
        const QNetworkInterface uplink = QNetworkInterface::interfaceFromName(QLatin1String(kUplink));
        for (const QNetworkAddressEntry &e : uplink.addressEntries())
            if (e.ip().protocol() == QAbstractSocket::IPv4Protocol && (uplink.flags() & QNetworkInterface::IsUp))
                return {};
        QThread::msleep(kPollIntervalMs);
    }
    return Core::Error(
        Core::ErrorCode::Timeout,
        QStringLiteral("pasta did not configure the namespace's uplink %1 within kUplinkTimeoutMs (%2 ms)").arg(QLatin1String(kUplink)).arg(kUplinkTimeoutMs));
}

QJsonObject NetHelper::start(const QJsonObject &request)
{
    if (m_network)
        return NetHelperProtocol::error(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the helper's network is started already")));
    auto reserved = networks(request.value(QStringLiteral("reserved")));
    if (!reserved)
        return NetHelperProtocol::error(badRequest(reserved.error().message));
    HostNetworkOptions options;
    options.instanceId = request.value(QStringLiteral("instance")).toString();
    options.runtimeDir = request.value(QStringLiteral("runtime_dir")).toString();
    options.subnetCandidates = strings(request.value(QStringLiteral("subnets")));
    options.upstreams = strings(request.value(QStringLiteral("upstreams")));
    options.lockDir = options.runtimeDir + QStringLiteral("/locks");
    options.outerHostAddresses = *reserved;
    options.inUserNamespace = true;
    if (!options.runtimeDir.startsWith(QLatin1Char('/')))
        return NetHelperProtocol::error(badRequest(QStringLiteral("runtime_dir must be an absolute path")));
    if (auto up = waitForUplink(); !up)
        return NetHelperProtocol::error(up.error());
    auto network = std::make_unique<HostNetwork>(std::move(options));
    if (auto started = network->start(); !started)
        return NetHelperProtocol::error(started.error());
    m_network = std::move(network);
    return NetHelperProtocol::ok(QJsonObject{{QStringLiteral("subnet"), m_network->plan().subnet().toString()}, {QStringLiteral("table"), m_network->table()}});
}

QJsonObject NetHelper::attach(const QJsonObject &request, int &fdToSend)
{
    auto policy = NetworkPolicy::fromJson(request.value(QStringLiteral("policy")).toObject());
    if (!policy)
        return NetHelperProtocol::error(policy.error());
    auto a = m_network->attach(request.value(QStringLiteral("vm")).toString(), slotOf(request), *policy, request.value(QStringLiteral("mac")).toString(),
                               request.value(QStringLiteral("private_network")).toString());
    if (!a)
        return NetHelperProtocol::error(a.error());
    m_lastTap = std::move(a->tap);
    fdToSend = m_lastTap.fd();
    return NetHelperProtocol::ok(QJsonObject{{QStringLiteral("address"), NetHelperProtocol::addressToJson(a->address)}, {QStringLiteral("mac"), a->mac}});
}

QJsonObject NetHelper::detach(const QJsonObject &request)
{
    auto ok = m_network->detach(slotOf(request));
    return ok ? NetHelperProtocol::ok() : NetHelperProtocol::error(ok.error());
}

QJsonObject NetHelper::setPolicy(const QJsonObject &request)
{
    auto policy = NetworkPolicy::fromJson(request.value(QStringLiteral("policy")).toObject());
    if (!policy)
        return NetHelperProtocol::error(policy.error());
    auto ok = m_network->setPolicy(slotOf(request), *policy);
    return ok ? NetHelperProtocol::ok() : NetHelperProtocol::error(ok.error());
}

QJsonObject NetHelper::counters(const QJsonObject &request) const
{
    auto c = m_network->counters(slotOf(request));
    return c ? NetHelperProtocol::countersToJson(*c) : NetHelperProtocol::error(c.error());
}

QJsonObject NetHelper::denials(const QJsonObject &request) const
{
    auto d = m_network->denials(slotOf(request));
    return d ? NetHelperProtocol::denialsToJson(*d) : NetHelperProtocol::error(d.error());
}

QJsonObject NetHelper::reserve(const QJsonObject &request)
{
    auto reserved = networks(request.value(QStringLiteral("reserved")));
    if (!reserved)
        return NetHelperProtocol::error(badRequest(reserved.error().message));
    auto ok = m_network->addOuterHostAddresses(*reserved);
    return ok ? NetHelperProtocol::ok() : NetHelperProtocol::error(ok.error());
}

} // namespace Net
