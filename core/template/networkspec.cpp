#include "core/template/networkspec.h"

#include <QRegularExpression>
#include <QStringList>

namespace Templates {
namespace {

// A private network's group: the same alphabet as template names.
const QRegularExpression &namePattern()
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9._-]{0,62}")));
    return re;
}

} // namespace

Core::Expected<NetworkSpec> NetworkSpec::fromJson(const QJsonObject &json, const QString &where)
{
    auto fail = [](const QString &why) { return Core::Error(Core::ErrorCode::InvalidArgument, why); };
    for (auto it = json.begin(); it != json.end(); ++it)
        if (!QStringList{QStringLiteral("mode"), QStringLiteral("private_network"), QStringLiteral("policy")}.contains(it.key()))
            return fail(QStringLiteral("unknown key '%1.%2'").arg(where, it.key().left(64)));
    NetworkSpec net;
    const QJsonValue mode = json.value(QStringLiteral("mode"));
    if (!mode.isUndefined())
        net.mode = mode.toString();
    if (!QStringList{QStringLiteral("none"), QStringLiteral("egress"), QStringLiteral("private")}.contains(net.mode))
        return fail(QStringLiteral("%1.mode must be none, egress or private, not '%2'").arg(where, net.mode.left(64)));
    const QJsonValue group = json.value(QStringLiteral("private_network"));
    if (!group.isUndefined() && !group.isString())
        return fail(QStringLiteral("%1.private_network must be a string").arg(where));
    net.privateNetwork = group.toString();
    if ((net.mode == QLatin1String("private")) != !net.privateNetwork.isEmpty())
        return fail(QStringLiteral("%1.private_network names the group of mode private (and only of it)").arg(where));
    if (!net.privateNetwork.isEmpty() && !namePattern().match(net.privateNetwork).hasMatch())
        return fail(QStringLiteral("%1.private_network '%2' must be lowercase letters, digits, '.', '_' or '-'").arg(where, net.privateNetwork.left(64)));
    const QJsonValue policy = json.value(QStringLiteral("policy"));
    if (policy.isUndefined())
        return net;
    if (!net.hasNic())
        return fail(QStringLiteral("%1.policy needs %1.mode egress or private").arg(where));
    if (!policy.isObject())
        return fail(QStringLiteral("'%1.policy' must be a mapping").arg(where));
    auto parsed = Net::NetworkPolicy::fromJson(policy.toObject(), where + QStringLiteral(".policy"));
    if (!parsed)
        return parsed.error();
    net.policy = *parsed;
    return net;
}

QJsonObject NetworkSpec::toJson() const
{
    QJsonObject o{{QStringLiteral("mode"), mode}};
    if (!privateNetwork.isEmpty())
        o.insert(QStringLiteral("private_network"), privateNetwork);
    if (hasNic())
        o.insert(QStringLiteral("policy"), policy.toJson());
    return o;
}

} // namespace Templates
