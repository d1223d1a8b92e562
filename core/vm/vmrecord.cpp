#include "core/vm/vmrecord.h"

#include <QJsonArray>
#include <QJsonValue>
#include <QSet>
#include <QRegularExpression>

namespace Vm {
namespace {

constexpr int kRecordVersion = 1;
constexpr qsizetype kMaxOwnerChars = 64; // a token id is 16

const QRegularExpression &namePattern()
{
    // Anchored for real: "$" alone would also accept a trailing newline.
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9-]{0,62}")));
    return re;
}

std::optional<Core::ErrorCode> parseErrorCode(const QString &name)
{
    for (int i = 0; i <= static_cast<int>(Core::ErrorCode::Corrupted); ++i) {
        const auto code = static_cast<Core::ErrorCode>(i);
        if (Core::errorCodeName(code) == name)
            return code;
    }
    return std::nullopt;
}

std::optional<VmRecord::Desired> parseDesired(const QString &name)
{
    for (auto d : {VmRecord::Desired::Stopped, VmRecord::Desired::Running, VmRecord::Desired::Paused})
        if (desiredName(d) == name)
            return d;
    return std::nullopt;
}

QJsonValue timeToJson(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue(QJsonValue::Null);
}

Core::Error recordError(const QString &why)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, why);
}

} // namespace

Core::Result validateVmName(const QString &name)
{
    if (!namePattern().match(name).hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("bad VM name '%1': 1 to 63 lowercase letters, digits or '-', starting with a letter or digit").arg(name.left(80)));
    return {};
}

QString desiredName(VmRecord::Desired desired)
{
    switch (desired) {
    case VmRecord::Desired::Stopped: return QStringLiteral("stopped");
    case VmRecord::Desired::Running: return QStringLiteral("running");
    case VmRecord::Desired::Paused: return QStringLiteral("paused");
    }
    return QStringLiteral("stopped");
}

QJsonObject VmRecord::toJson() const
{
    QJsonObject o;
    o[QStringLiteral("version")] = kRecordVersion;
    o[QStringLiteral("name")] = name;
    o[QStringLiteral("template")] = templateName;
    o[QStringLiteral("vcpus")] = vcpus;
    if (maxVcpus > 0)
        o[QStringLiteral("max_vcpus")] = maxVcpus;
    o[QStringLiteral("memory_mb")] = memoryMiB;
    o[QStringLiteral("desired_state")] = desiredName(desired);
    o[QStringLiteral("created_at")] = timeToJson(createdAt);
    o[QStringLiteral("last_started_at")] = timeToJson(lastStartedAt);
    if (lastError) {
        o[QStringLiteral("last_error")] =
            QJsonObject{{QStringLiteral("code"), Core::errorCodeName(lastError->code)}, {QStringLiteral("message"), lastError->message}};
    } else {
        o[QStringLiteral("last_error")] = QJsonValue(QJsonValue::Null);
    }
    if (!currentSnapshot.isEmpty())
        o[QStringLiteral("current_snapshot")] = currentSnapshot;
    if (!forkedFrom.isEmpty())
        o[QStringLiteral("forked_from")] = forkedFrom;
    if (!owner.isEmpty())
        o[QStringLiteral("owner")] = owner;
    if (runningVmm)
        o[QStringLiteral("running_vmm")] = runningVmm->toJson();
    if (network.hasNic())
        o[QStringLiteral("network")] = network.toJson();
    if (!ports.isEmpty()) {
        QJsonArray list;
        for (const PortExposure &p : ports)
            list.append(p.toJson());
        o[QStringLiteral("ports")] = list;
    }
    return o;
}

Core::Expected<VmRecord> VmRecord::fromJson(const QJsonObject &o)
{
    VmRecord r;
    if (o.value(QStringLiteral("version")).toInt() != kRecordVersion)
        return recordError(QStringLiteral("unsupported record version"));
    const QJsonValue name = o.value(QStringLiteral("name"));
    const QJsonValue tmpl = o.value(QStringLiteral("template"));
    const QJsonValue vcpus = o.value(QStringLiteral("vcpus"));
    const QJsonValue memory = o.value(QStringLiteral("memory_mb"));
    if (!name.isString() || !tmpl.isString() || !vcpus.isDouble() || !memory.isDouble())
        return recordError(QStringLiteral("name, template, vcpus and memory_mb are required"));
    r.name = name.toString();
    r.templateName = tmpl.toString();
    r.vcpus = vcpus.toInt();
    r.maxVcpus = o.value(QStringLiteral("max_vcpus")).toInt(0);
    r.memoryMiB = memory.toInt();
    const auto desired = parseDesired(o.value(QStringLiteral("desired_state")).toString());
    if (!desired)
        return recordError(QStringLiteral("bad desired_state"));
    r.desired = *desired;
    r.createdAt = QDateTime::fromString(o.value(QStringLiteral("created_at")).toString(), Qt::ISODateWithMs);
    r.lastStartedAt = QDateTime::fromString(o.value(QStringLiteral("last_started_at")).toString(), Qt::ISODateWithMs);
    const QJsonValue err = o.value(QStringLiteral("last_error"));
    if (err.isObject()) {
        const auto code = parseErrorCode(err[QStringLiteral("code")].toString());
        r.lastError = Core::Error(code.value_or(Core::ErrorCode::Internal), err[QStringLiteral("message")].toString());
    }
    r.currentSnapshot = o.value(QStringLiteral("current_snapshot")).toString();
    r.forkedFrom = o.value(QStringLiteral("forked_from")).toString();
    r.owner = o.value(QStringLiteral("owner")).toString().left(kMaxOwnerChars);
    // Optional (records written before it, or of VMs not left running). A
    // malformed one is dropped: it can only name a VMM that is not adoptable.
    if (const QJsonValue vmm = o.value(QStringLiteral("running_vmm")); vmm.isObject()) {
        if (auto d = Vmm::DetachedVmm::fromJson(vmm.toObject()))
            r.runningVmm = *d;
    }
    if (const QJsonValue net = o.value(QStringLiteral("network")); !net.isUndefined()) {
        if (!net.isObject())
            return recordError(QStringLiteral("network must be an object"));
        auto parsed = VmNetwork::fromJson(net.toObject());
        if (!parsed)
            return parsed.error();
        r.network = *parsed;
    }
    QSet<quint16> guestPorts;
    for (const QJsonValue &v : o.value(QStringLiteral("ports")).toArray()) {
        const auto p = PortExposure::fromJson(v.toObject());
        if (p && !guestPorts.contains(p->guestPort)) {
            guestPorts.insert(p->guestPort);
            r.ports.append(*p);
        }
    }
    return r;
}

QJsonObject VmNetwork::toJson() const
{
    QJsonObject o = spec.toJson();
    if (slot >= 0)
        o[QStringLiteral("slot")] = slot;
    if (!mac.isEmpty())
        o[QStringLiteral("mac")] = mac;
    return o;
}

Core::Expected<VmNetwork> VmNetwork::fromJson(const QJsonObject &json)
{
    static const QRegularExpression macPattern(QRegularExpression::anchoredPattern(QStringLiteral("[0-9a-f]{2}(:[0-9a-f]{2}){5}")));
    QJsonObject specJson = json;
    specJson.remove(QStringLiteral("slot"));
    specJson.remove(QStringLiteral("mac"));
    auto spec = Templates::NetworkSpec::fromJson(specJson, QStringLiteral("network"));
    if (!spec)
        return recordError(spec.error().message);
    VmNetwork n;
    n.spec = *spec;
    const QJsonValue slot = json.value(QStringLiteral("slot"));
    const QJsonValue mac = json.value(QStringLiteral("mac"));
    if (!n.hasNic())
        return n;
    if (!slot.isDouble() || slot.toDouble() != double(slot.toInt()) || slot.toInt() < 0)
        return recordError(QStringLiteral("network.slot must be a whole number of at least 0"));
    if (!mac.isString() || !macPattern.match(mac.toString()).hasMatch())
        return recordError(QStringLiteral("network.mac must be a MAC address (lowercase hex, colons)"));
    n.slot = slot.toInt();
    n.mac = mac.toString();
    return n;
}

} // namespace Vm
