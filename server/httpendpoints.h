#pragma once
// What HttpAdapter serves: the route table, the metrics each request is
// counted in, where an upgraded WebSocket goes, the scoped tokens besides
// the adapter's admin token, and the audit log. Api::httpEndpoints()
// gives the service's; a test double gives its own (fuzz/fuzz_httpadapter),
// so that the adapter is driven without the controllers behind it.

#include "server/metrics.h"
#include "server/router.h"

#include <QHash>
#include <QObject>
#include <QString>

#include <functional>
#include <memory>

class QWebSocket;

namespace Server {

class AuditLog;
class TokenRegistry;

struct HttpEndpoints {
    // Path and credential checked: the socket of a route whose webSocket is
    // not None, the route's parameters, the parent for what serves it.
    using WebSocketHandler = std::function<void(std::unique_ptr<QWebSocket>, const Route &, const QHash<QString, QString> &, QObject *parent)>;

    // Runs a handler of one VM's routes (`run`) for the VM {name}: at once,
    // or once the VM is ready for it (IdlePause resumes a VM it paused).
    using VmGate = std::function<ApiFuture(const QString &vm, const std::function<ApiFuture()> &run)>;

    const Router &router;
    Metrics &metrics;
    WebSocketHandler webSocket;
    VmGate vmGate = VmGate(); // empty: handlers run at once
    TokenRegistry *tokens = nullptr; // nullptr: the adapter's admin token only
    AuditLog *audit = nullptr; // nullptr: no audit log
};

} // namespace Server
