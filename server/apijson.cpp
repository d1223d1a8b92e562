#include "server/apijson.h"

#include "core/agent/agentclient.h"
#include "core/snapshot/snapshotstore.h"
#include "core/vm/vmmanager.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>

namespace Server::ApiJson {

ApiExpected<QJsonObject> parseObject(const QByteArray &body, const QStringList &fields)
{
    if (body.trimmed().isEmpty())
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("the request body must be a JSON object"));
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &pe);
    if (pe.error != QJsonParseError::NoError)
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("malformed JSON at offset %1: %2").arg(pe.offset).arg(pe.errorString()));
    if (!doc.isObject())
        return ApiError(ApiError::Code::InvalidJson, QStringLiteral("the request body must be a JSON object"));
    const QJsonObject o = doc.object();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!fields.contains(it.key()))
            return ApiError(ApiError::Code::InvalidArgument,
                            QStringLiteral("unknown field '%1' (this route takes: %2)").arg(it.key().left(64), fields.join(QStringLiteral(", "))));
    }
    return o;
}

ApiExpected<QJsonObject> parseOptionalObject(const QByteArray &body, const QStringList &fields)
{
    if (body.trimmed().isEmpty())
        return QJsonObject();
    return parseObject(body, fields);
}

ApiError wrongType(const QString &field, const QString &expected)
{
    return ApiError(ApiError::Code::InvalidArgument, QStringLiteral("field '%1' must be %2").arg(field, expected));
}

bool isInteger(const QJsonValue &v)
{
    if (!v.isDouble())
        return false;
    const double d = v.toDouble();
    return std::isfinite(d) && std::floor(d) == d && std::fabs(d) <= 2147483647.0;
}

namespace {

QString iso(const QDateTime &t)
{
    return t.toUTC().toString(Qt::ISODateWithMs);
}

} // namespace

QJsonValue timeOrNull(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(iso(t)) : QJsonValue(QJsonValue::Null);
}

QJsonValue stringOrNull(const QString &s)
{
    return s.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(s);
}

// A VM's network without its policy (GET .../network/policy has that).
QJsonObject networkToJson(const Vm::VmNetwork &network)
{
    QJsonObject o{{QStringLiteral("mode"), network.spec.mode}};
    if (!network.spec.privateNetwork.isEmpty())
        o[QStringLiteral("private_network")] = network.spec.privateNetwork;
    if (network.hasNic())
        o[QStringLiteral("mac")] = network.mac;
    return o;
}

QJsonObject vmToJson(const Vm::VmInfo &info)
{
    const Vm::VmRecord &r = info.record;
    QJsonObject o{{QStringLiteral("name"), r.name},
                  {QStringLiteral("template"), r.templateName},
                  {QStringLiteral("state"), Vm::stateName(info.state)},
                  {QStringLiteral("desired_state"), Vm::desiredName(r.desired)},
                  {QStringLiteral("vcpus"), r.vcpus},
                  {QStringLiteral("max_vcpus"), std::max(r.vcpus, r.maxVcpus)},
                  {QStringLiteral("memory_mb"), r.memoryMiB},
                  {QStringLiteral("created_at"), timeOrNull(r.createdAt)},
                  {QStringLiteral("last_started_at"), timeOrNull(r.lastStartedAt)},
                  {QStringLiteral("current_snapshot"), stringOrNull(r.currentSnapshot)},
                  {QStringLiteral("forked_from"), stringOrNull(r.forkedFrom)},
                  {QStringLiteral("owner"), stringOrNull(r.owner)}};
    if (r.lastError) {
        const ApiError e = ApiError::fromCore(*r.lastError);
        o[QStringLiteral("last_error")] = QJsonObject{{QStringLiteral("code"), apiErrorCodeName(e.code)}, {QStringLiteral("message"), e.message}};
    } else {
        o[QStringLiteral("last_error")] = QJsonValue(QJsonValue::Null);
    }
    o[QStringLiteral("network")] = networkToJson(r.network);
    if (info.state == Vm::VirtualMachine::State::Ready || info.state == Vm::VirtualMachine::State::Paused) {
        o[QStringLiteral("boot_ms")] = info.bootMs;
        o[QStringLiteral("boot")] = stringOrNull(info.boot);
        o[QStringLiteral("accelerated")] = info.accelerated;
        o[QStringLiteral("memory_current_mb")] = info.memoryNowMiB;
    }
    return o;
}

QJsonObject snapshotToJson(const Snapshot::SnapshotInfo &info)
{
    QJsonArray files;
    for (const Snapshot::SnapshotFile &f : info.files)
        files.append(QJsonObject{{QStringLiteral("name"), f.name}, {QStringLiteral("size"), f.size}, {QStringLiteral("sha256"), f.sha256}});
    return QJsonObject{{QStringLiteral("name"), info.name},
                       {QStringLiteral("vm"), info.vm},
                       {QStringLiteral("created_at"), timeOrNull(info.createdAt)},
                       {QStringLiteral("parent"), stringOrNull(info.parent)},
                       {QStringLiteral("size_bytes"), info.sizeBytes()},
                       {QStringLiteral("paused_ms"), info.pausedMs},
                       {QStringLiteral("template"), info.templateName},
                       {QStringLiteral("vcpus"), info.vcpus},
                       {QStringLiteral("memory_mb"), info.memoryMiB},
                       {QStringLiteral("driver"), info.driver},
                       {QStringLiteral("vmm_version"), stringOrNull(info.vmmVersion)},
                       {QStringLiteral("has_disk"), !info.diskFile.isEmpty()},
                       {QStringLiteral("files"), files}};
}

QJsonObject fileToJson(const Agent::FileInfo &f)
{
    QJsonObject o{{QStringLiteral("name"), f.name},
                  {QStringLiteral("type"), Agent::fileTypeName(f.type)},
                  {QStringLiteral("mode"), static_cast<qint64>(f.mode)},
                  {QStringLiteral("size"), static_cast<qint64>(f.size)},
                  {QStringLiteral("mtime"), f.mtimeSec},
                  {QStringLiteral("uid"), static_cast<qint64>(f.uid)},
                  {QStringLiteral("gid"), static_cast<qint64>(f.gid)}};
    if (f.type == Agent::FileInfo::Type::Symlink)
        o[QStringLiteral("link_target")] = f.linkTarget;
    return o;
}

QJsonObject portToJson(const Vm::VmPorts::Status &port)
{
    const Vm::PortExposure &e = port.exposure;
    const bool listening = port.boundPort != 0;
    const QString host =
        e.hostAddress.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(e.hostAddress.toString()) : e.hostAddress.toString();
    QJsonObject o{
        {QStringLiteral("guest_port"), e.guestPort},
        {QStringLiteral("host_address"), e.hostAddress.toString()},
        {QStringLiteral("host_port"), listening ? QJsonValue(port.boundPort) : (e.fixedHostPort() ? QJsonValue(e.hostPort) : QJsonValue(QJsonValue::Null))},
        {QStringLiteral("host_port_fixed"), e.fixedHostPort()},
        {QStringLiteral("endpoint"), listening ? QJsonValue(QStringLiteral("%1:%2").arg(host).arg(port.boundPort)) : QJsonValue(QJsonValue::Null)},
        {QStringLiteral("state"), Vm::portStateName(port.state)},
        {QStringLiteral("connections"), port.connections}};
    if (port.error) {
        const ApiError err = ApiError::fromCore(*port.error);
        o[QStringLiteral("error")] = QJsonObject{{QStringLiteral("code"), apiErrorCodeName(err.code)}, {QStringLiteral("message"), err.message}};
    } else {
        o[QStringLiteral("error")] = QJsonValue(QJsonValue::Null);
    }
    return o;
}

ApiResult vmAnswer(const Vm::VmManager &manager, const QString &name, bool created)
{
    auto info = manager.info(name);
    if (!info)
        return ApiError::fromCore(info.error());
    return Response::ofJson(vmToJson(*info), created);
}

} // namespace Server::ApiJson
