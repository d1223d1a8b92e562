#pragma once
// The JSON of the API, shared by the controllers: request bodies checked
// field by field, and the objects that describe a VM, a snapshot, a guest
// file.

#include "core/vm/vmports.h"
#include "server/apitypes.h"

#include <QDateTime>
#include <QJsonObject>
#include <QStringList>

namespace Agent {
struct FileInfo;
}
namespace Snapshot {
struct SnapshotInfo;
}
namespace Vm {
class VmManager;
struct VmInfo;
struct VmNetwork;
} // namespace Vm

namespace Server::ApiJson {

// A body that must be a JSON object with no fields but `fields`.
ApiExpected<QJsonObject> parseObject(const QByteArray &body, const QStringList &fields);
// A body that may be left out: nothing (or only white space) is {}.
ApiExpected<QJsonObject> parseOptionalObject(const QByteArray &body, const QStringList &fields);
// "field 'x' must be <expected>".
ApiError wrongType(const QString &field, const QString &expected);
// A JSON number that is a 32-bit integer.
bool isInteger(const QJsonValue &v);

QJsonValue timeOrNull(const QDateTime &t);
QJsonValue stringOrNull(const QString &s);
// A VM's network without its policy: {mode, private_network, mac}.
QJsonObject networkToJson(const Vm::VmNetwork &network);

QJsonObject vmToJson(const Vm::VmInfo &info);
QJsonObject snapshotToJson(const Snapshot::SnapshotInfo &info);
QJsonObject fileToJson(const Agent::FileInfo &f);
// An exposed port: where it listens, its state, its open connections.
QJsonObject portToJson(const Vm::VmPorts::Status &port);
// The VM `name` as it is now (created: a new resource).
ApiResult vmAnswer(const Vm::VmManager &manager, const QString &name, bool created = false);

} // namespace Server::ApiJson
