#include "core/net/nftables.h"

#include "core/net/hosttool.h"
#include "core/net/nftruleset.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <optional>

namespace Net {

namespace {

QString nft()
{
    return QStringLiteral("nft");
}

// The objects of `nft -j` output: {"nftables": [{"metainfo": ..}, {"<kind>": {...}}, ...]}.
Core::Expected<QList<QJsonObject>> objects(const QByteArray &json, const QString &kind)
{
    QJsonParseError e;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &e);
    if (!doc.isObject() || !doc.object().value(QLatin1String("nftables")).isArray())
        return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("nft -j printed no nftables array: %1").arg(e.errorString()));
    QList<QJsonObject> out;
    for (const QJsonValue &v : doc.object().value(QLatin1String("nftables")).toArray())
        if (v.toObject().value(kind).isObject())
            out << v.toObject().value(kind).toObject();
    return out;
}

Core::Expected<QByteArray> list(const QStringList &what, const QString &why)
{
    return HostTool::run(nft(), QStringList{QStringLiteral("-j"), QStringLiteral("list")} + what, why);
}

// A set element: a bare value, or {"elem": {"val": ..., "expires": ..}}.
QJsonObject elementOf(const QJsonValue &v)
{
    if (v.isObject() && v.toObject().value(QLatin1String("elem")).isObject())
        return v.toObject().value(QLatin1String("elem")).toObject();
    return QJsonObject{{QStringLiteral("val"), v}};
}

std::optional<Denial> denialOf(const QJsonValue &value)
{
    const QJsonObject e = elementOf(value);
    const QJsonArray c = e.value(QLatin1String("val")).toObject().value(QLatin1String("concat")).toArray();
    if (c.size() != 3)
        return std::nullopt;
    Denial d;
    d.address = QHostAddress(c.at(0).toString());
    d.protocol = c.at(1).isDouble() ? QString::number(c.at(1).toInt()) : c.at(1).toString();
    const int port = c.at(2).toInt(-1);
    if (d.address.isNull() || port < 0 || port > 65535)
        return std::nullopt;
    d.port = quint16(port);
    d.expiresS = e.value(QLatin1String("expires")).toInt();
    return d;
}

} // namespace

Core::Result Nftables::apply(const QString &script, const QString &what)
{
    auto out = HostTool::run(nft(), {QStringLiteral("-f"), QStringLiteral("-")}, what, script.toUtf8());
    if (!out)
        return out.error();
    return {};
}

Core::Expected<QStringList> Nftables::inetTables()
{
    auto out = list({QStringLiteral("tables"), QStringLiteral("inet")}, QStringLiteral("list the nftables tables"));
    if (!out)
        return out.error();
    auto tables = objects(*out, QStringLiteral("table"));
    if (!tables)
        return tables.error();
    QStringList names;
    for (const QJsonObject &t : *tables)
        if (t.value(QLatin1String("family")).toString() == QLatin1String("inet"))
            names << t.value(QLatin1String("name")).toString();
    return names;
}

Core::Expected<QStringList> Nftables::parseForwardDrops(const QByteArray &json, const QString &ownTable)
{
    auto chains = objects(json, QStringLiteral("chain"));
    if (!chains)
        return chains.error();
    QStringList out;
    for (const QJsonObject &c : *chains) {
        const QString table = c.value(QLatin1String("table")).toString();
        if (c.value(QLatin1String("hook")).toString() != QLatin1String("forward") || c.value(QLatin1String("policy")).toString() != QLatin1String("drop"))
            continue;
        if (table == ownTable && c.value(QLatin1String("family")).toString() == QLatin1String("inet"))
            continue;
        out << QStringLiteral("%1 %2 %3").arg(c.value(QLatin1String("family")).toString(), table, c.value(QLatin1String("name")).toString());
    }
    return out;
}

Core::Expected<QStringList> Nftables::foreignForwardDrops(const QString &ownTable)
{
    auto out = list({QStringLiteral("chains")}, QStringLiteral("list the nftables chains"));
    if (!out)
        return out.error();
    return parseForwardDrops(*out, ownTable);
}

Core::Expected<bool> Nftables::hasTable(const QString &table)
{
    auto tables = inetTables();
    if (!tables)
        return tables.error();
    return tables->contains(table);
}

Core::Expected<QMap<QString, quint64>> Nftables::parseCounters(const QByteArray &json)
{
    auto counters = objects(json, QStringLiteral("counter"));
    if (!counters)
        return counters.error();
    QMap<QString, quint64> out;
    for (const QJsonObject &c : *counters)
        out.insert(c.value(QLatin1String("name")).toString(), quint64(c.value(QLatin1String("packets")).toDouble()));
    return out;
}

Core::Expected<QMap<QString, quint64>> Nftables::counters(const QString &table)
{
    auto out =
        list({QStringLiteral("counters"), QStringLiteral("table"), QStringLiteral("inet"), table}, QStringLiteral("read the counters of table %1").arg(table));
    if (!out)
        return out.error();
    return parseCounters(*out);
}

Core::Expected<VmCounters> Nftables::vmCounters(const QString &table, int slot)
{
    auto all = counters(table);
    if (!all)
        return all.error();
    const QString allowed = NftRuleset::counterName(slot, true);
    const QString denied = NftRuleset::counterName(slot, false);
    if (!all->contains(allowed) || !all->contains(denied))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("table %1 has no counters of VM slot %2").arg(table).arg(slot));
    return VmCounters{all->value(allowed), all->value(denied)};
}

Core::Expected<QList<Denial>> Nftables::parseDenials(const QByteArray &json)
{
    auto sets = objects(json, QStringLiteral("set"));
    if (!sets)
        return sets.error();
    QList<Denial> out;
    for (const QJsonObject &s : *sets)
        for (const QJsonValue &v : s.value(QLatin1String("elem")).toArray())
            if (auto d = denialOf(v))
                out << *d;
    return out;
}

Core::Expected<QList<Denial>> Nftables::denials(const QString &table, int slot)
{
    QList<Denial> out;
    for (const bool v6 : {false, true}) {
        const QString set = NftRuleset::deniedSetName(slot, v6);
        auto json = list({QStringLiteral("set"), QStringLiteral("inet"), table, set}, QStringLiteral("read the denials of VM slot %1").arg(slot));
        if (!json)
            return json.error();
        auto parsed = parseDenials(*json);
        if (!parsed)
            return parsed.error();
        out += *parsed;
    }
    std::stable_sort(out.begin(), out.end(), [](const Denial &a, const Denial &b) { return a.expiresS > b.expiresS; });
    return out;
}

Core::Expected<QStringList> Nftables::setAddresses(const QString &table, const QString &set)
{
    auto json = list({QStringLiteral("set"), QStringLiteral("inet"), table, set}, QStringLiteral("read set %1 of table %2").arg(set, table));
    if (!json)
        return json.error();
    auto sets = objects(*json, QStringLiteral("set"));
    if (!sets)
        return sets.error();
    QStringList out;
    for (const QJsonObject &s : *sets)
        for (const QJsonValue &v : s.value(QLatin1String("elem")).toArray())
            out << elementOf(v).value(QLatin1String("val")).toString();
    return out;
}

Core::Expected<QStringList> Nftables::mapKeys(const QString &table, const QString &map)
{
    auto json = list({QStringLiteral("map"), QStringLiteral("inet"), table, map}, QStringLiteral("read map %1 of table %2").arg(map, table));
    if (!json)
        return json.error();
    auto maps = objects(*json, QStringLiteral("map"));
    if (!maps)
        return maps.error();
    QStringList out;
    for (const QJsonObject &m : *maps)
        for (const QJsonValue &v : m.value(QLatin1String("elem")).toArray())
            out << v.toArray().at(0).toString();
    return out;
}

} // namespace Net
