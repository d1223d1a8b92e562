#pragma once

#include "core/expected.h"
#include "core/net/networkpolicy.h"

#include <QJsonObject>
#include <QString>

namespace Templates {

// The template's network: section. Modes: "none" (no NIC, the default),
// "egress" (outbound through the host, filtered by the policy), "private"
// (as egress, and reaching and reached by the other VMs of the group
// privateNetwork: Net::NftRuleset).
// The same section in JSON (a template's YAML converted, a create request's
// "network", a VM record): {"mode", "private_network", "policy"}.
struct NetworkSpec {
    QString mode = QStringLiteral("none");
    QString privateNetwork; // mode "private" only
    Net::NetworkPolicy policy; // without one: default deny, no rules
    bool hasNic() const { return mode != QLatin1String("none"); }

    // Errors name the field under where ("network.mode").
    static Core::Expected<NetworkSpec> fromJson(const QJsonObject &json, const QString &where = QStringLiteral("network"));
    QJsonObject toJson() const;
    bool operator==(const NetworkSpec &o) const { return mode == o.mode && privateNetwork == o.privateNetwork && policy == o.policy; }
};

} // namespace Templates
