#include "core/net/nethelperprotocol.h"

#include <QJsonArray>

namespace Net {
namespace {

Core::Error bad(const QString &what)
{
    return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("network helper: %1").arg(what));
}

} // namespace

QJsonObject NetHelperProtocol::ok(QJsonObject fields)
{
    fields.insert(QStringLiteral("ok"), true);
    return fields;
}

QJsonObject NetHelperProtocol::error(const Core::Error &e)
{
    return QJsonObject{{QStringLiteral("ok"), false}, {QStringLiteral("code"), Core::errorCodeName(e.code)}, {QStringLiteral("message"), e.message}};
}

Core::ErrorCode NetHelperProtocol::codeFromName(const QString &name)
{
    for (int i = 0; i <= int(Core::ErrorCode::TooLarge); ++i)
        if (Core::errorCodeName(Core::ErrorCode(i)) == name)
            return Core::ErrorCode(i);
    return Core::ErrorCode::Internal;
}

Core::Result NetHelperProtocol::result(const QJsonObject &answer)
{
    const QJsonValue ok = answer.value(QStringLiteral("ok"));
    if (!ok.isBool())
        return bad(QStringLiteral("an answer without \"ok\""));
    if (ok.toBool())
        return {};
    return Core::Error(codeFromName(answer.value(QStringLiteral("code")).toString()), answer.value(QStringLiteral("message")).toString());
}

QJsonObject NetHelperProtocol::addressToJson(const VmAddress &a)
{
    return QJsonObject{{QStringLiteral("slot"), a.slot},
                       {QStringLiteral("address"), a.address.toString()},
                       {QStringLiteral("gateway"), a.gateway.toString()},
                       {QStringLiteral("prefix"), a.prefix},
                       {QStringLiteral("block"), a.block.toString()}};
}

Core::Expected<VmAddress> NetHelperProtocol::addressFromJson(const QJsonObject &json)
{
    VmAddress a;
    a.slot = json.value(QStringLiteral("slot")).toInt(-1);
    a.address = QHostAddress(json.value(QStringLiteral("address")).toString());
    a.gateway = QHostAddress(json.value(QStringLiteral("gateway")).toString());
    a.prefix = json.value(QStringLiteral("prefix")).toInt(-1);
    auto block = Cidr::parse(json.value(QStringLiteral("block")).toString());
    if (a.slot < 0 || a.address.protocol() != QAbstractSocket::IPv4Protocol || a.gateway.protocol() != QAbstractSocket::IPv4Protocol || a.prefix < 8
        || a.prefix > 30 || !block || !block->contains(a.address) || !block->contains(a.gateway))
        return bad(QStringLiteral("a VM address that is not one"));
    a.block = *block;
    return a;
}

QJsonObject NetHelperProtocol::countersToJson(const VmCounters &c)
{
    return ok(QJsonObject{{QStringLiteral("allowed"), QString::number(c.allowed)}, {QStringLiteral("denied"), QString::number(c.denied)}});
}

Core::Expected<VmCounters> NetHelperProtocol::countersFromJson(const QJsonObject &json)
{
    bool allowedOk = false;
    bool deniedOk = false;
    VmCounters c;
    c.allowed = json.value(QStringLiteral("allowed")).toString().toULongLong(&allowedOk);
    c.denied = json.value(QStringLiteral("denied")).toString().toULongLong(&deniedOk);
    if (!allowedOk || !deniedOk)
        return bad(QStringLiteral("counters that are not numbers"));
    return c;
}

QJsonObject NetHelperProtocol::denialsToJson(const QList<Denial> &denials)
{
    QJsonArray list;
    for (const Denial &d : denials)
        list.append(QJsonObject{{QStringLiteral("address"), d.address.toString()},
                                {QStringLiteral("protocol"), d.protocol},
                                {QStringLiteral("port"), int(d.port)},
                                {QStringLiteral("expires_s"), d.expiresS}});
    return ok(QJsonObject{{QStringLiteral("denials"), list}});
}

Core::Expected<QList<Denial>> NetHelperProtocol::denialsFromJson(const QJsonObject &json)
{
    QList<Denial> out;
    for (const QJsonValue &v : json.value(QStringLiteral("denials")).toArray()) {
        const QJsonObject o = v.toObject();
        Denial d;
        d.address = QHostAddress(o.value(QStringLiteral("address")).toString());
        d.protocol = o.value(QStringLiteral("protocol")).toString();
        const int port = o.value(QStringLiteral("port")).toInt(-1);
        d.expiresS = o.value(QStringLiteral("expires_s")).toInt(-1);
        if (d.address.isNull() || (d.protocol != QLatin1String("tcp") && d.protocol != QLatin1String("udp")) || port < 0 || port > 65535 || d.expiresS < 0)
            return bad(QStringLiteral("a denial that is not one"));
        d.port = quint16(port);
        out << d;
    }
    return out;
}

} // namespace Net
