#pragma once

#include "core/error.h"
#include "core/expected.h"
#include "core/net/nftables.h"
#include "core/net/subnetplan.h"

#include <QJsonObject>
#include <QList>
#include <QString>

namespace Net {

// The messages between RootlessNetwork (the service) and NetHelper (in its
// namespace), one JSON object each over a HelperChannel. The helper speaks
// first ({"ready": true}); then each request {"op": ..., "id": n, ...} gets
// one answer with the same "id": {"ok": true, ...} or {"ok": false, "code":
// "<ErrorCode name>", "message": ...} (TooLarge for an answer over the
// channel's limit). The service drops an answer whose id is not its
// request's, with its descriptor.
//
//   start      instance, runtime_dir, subnets[], upstreams[], reserved[]
//              -> subnet, table
//   attach     vm, slot, policy{}, mac, private_network
//              -> address{slot, address, gateway, prefix}, mac; the tap's
//              descriptor rides along (SCM_RIGHTS)
//   detach     slot
//   set_policy slot, policy{}
//   counters   slot -> allowed, denied
//   denials    slot -> denials[{address, protocol, port, expires_s}]
//   reserve    reserved[] (added to the always-denied ranges)
//   stop       everything goes; the helper exits after answering
// Everything read from the peer is checked; a bad message is a Protocol error.
struct NetHelperProtocol {
    static QJsonObject ok(QJsonObject fields = {});
    static QJsonObject error(const Core::Error &e);
    // The answer's error, or nothing when it says ok.
    static Core::Result result(const QJsonObject &answer);
    static Core::ErrorCode codeFromName(const QString &name);

    static QJsonObject addressToJson(const VmAddress &a);
    static Core::Expected<VmAddress> addressFromJson(const QJsonObject &json);
    static QJsonObject countersToJson(const VmCounters &c);
    static Core::Expected<VmCounters> countersFromJson(const QJsonObject &json);
    static QJsonObject denialsToJson(const QList<Denial> &denials);
    static Core::Expected<QList<Denial>> denialsFromJson(const QJsonObject &json);
};

} // namespace Net
