#include "server/api.h"

#include "core/vm/vmmanager.h"
#include "server/activitycontroller.h"
#include "server/activitylog.h"
#include "server/codecontroller.h"
#include "server/eventsocket.h"
#include "server/displaycontroller.h"
#include "server/docscontroller.h"
#include "server/execsocket.h"
#include "server/guestcontroller.h"
#include "server/idlepause.h"
#include "server/metacontroller.h"
#include "server/networkcontroller.h"
#include "server/portcontroller.h"
#include "server/processcontroller.h"
#include "server/snapshotcontroller.h"
#include "server/tokencontroller.h"
#include "server/tokenregistry.h"
#include "server/poolcontroller.h"
#include "server/usagecontroller.h"
#include "server/usagehistory.h"
#include "server/vmcontroller.h"
#include "server/vncsocket.h"

#include <QWebSocket>

namespace Server {

Api::Api(Vm::VmManager &manager, Desktop::DisplayHub *displays, TokenRegistry *tokens, AuditLog *audit)
    : m_manager(manager)
    , m_ownTokens(tokens ? nullptr : std::make_unique<TokenRegistry>(QString(), QByteArray()))
    , m_tokens(tokens ? tokens : m_ownTokens.get())
    , m_audit(audit)
    , m_activity(std::make_unique<ActivityLog>())
    , m_meta(std::make_unique<MetaController>(manager, m_metrics))
    , m_vms(std::make_unique<VmController>(manager, m_metrics))
    , m_processes(std::make_unique<ProcessController>(manager))
    , m_guest(std::make_unique<GuestController>(manager, m_metrics, *m_processes, m_activity.get()))
    , m_snapshots(std::make_unique<SnapshotController>(manager, m_metrics))
    , m_network(std::make_unique<NetworkController>(manager))
    , m_ports(std::make_unique<PortController>(manager))
    , m_display(std::make_unique<DisplayController>(displays, m_activity.get()))
    , m_code(std::make_unique<CodeController>(manager, m_activity.get()))
    , m_tokenRoutes(std::make_unique<TokenController>(*m_tokens, m_audit))
    , m_docs(std::make_unique<DocsController>())
    , m_usage(std::make_unique<UsageHistory>(manager))
    , m_usageRoutes(std::make_unique<UsageController>(manager, *m_usage))
    , m_pool(std::make_unique<PoolController>(manager))
    , m_idle(std::make_unique<IdlePause>(manager))
    , m_activityRoutes(std::make_unique<ActivityController>(manager, *m_activity))
{
    m_meta->addRoutes(m_router);
    m_vms->addRoutes(m_router);
    m_guest->addRoutes(m_router);
    m_processes->addRoutes(m_router);
    m_snapshots->addRoutes(m_router);
    m_network->addRoutes(m_router);
    m_ports->addRoutes(m_router);
    m_display->addRoutes(m_router);
    m_code->addRoutes(m_router);
    m_tokenRoutes->addRoutes(m_router);
    m_usageRoutes->addRoutes(m_router);
    m_pool->addRoutes(m_router);
    m_activityRoutes->addRoutes(m_router);
    m_usage->start();
    // A deleted VM's series go with it.
    QObject::connect(&manager, &Vm::VmManager::vmRemoved, m_meta.get(), [this](const QString &name) {
        m_metrics.forgetVm(name);
        m_activity->forget(name);
    });
    m_docs->addRoutes(m_router);
}

Api::~Api() = default;

HttpEndpoints Api::httpEndpoints()
{
    // An open exec or viewer socket uses its VM until it closes.
    auto webSocket = [this](std::unique_ptr<QWebSocket> ws, const Route &route, const QHash<QString, QString> &params, QObject *parent) {
        const QString vm = params.value(QStringLiteral("name"));
        QObject *socket = nullptr;
        if (route.webSocket == Route::WebSocket::Events) {
            if (!m_manager.contains(vm)) {
                ws->close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("no VM named %1").arg(vm));
                ws.release()->deleteLater();
                return;
            }
            new EventSocket(std::move(ws), *m_activity, vm, parent); // watching is not use: idle pause goes on
            return;
        }
        if (route.webSocket == Route::WebSocket::Vnc)
            socket = new VncSocket(std::move(ws), *m_display, vm, parent);
        else
            socket = new ExecSocket(std::move(ws), *m_guest, vm, parent);
        m_idle->hold(vm);
        (void)m_idle->wake(vm);
        QObject::connect(socket, &QObject::destroyed, m_idle.get(), [idle = m_idle.get(), vm]() { idle->release(vm); });
    };
    // A request that uses a VM wakes it first and holds it until answered
    // (a long exec is use all along).
    auto vmGate = [this](const QString &vm, const std::function<ApiFuture()> &run) -> ApiFuture {
        IdlePause *idle = m_idle.get();
        if (idle->idleAfterMs() <= 0)
            return run(); // off (and what it paused is resumed)
        idle->hold(vm);
        ApiPromise reply;
        auto runHeld = [idle, vm, run, reply]() {
            Core::whenDone(run(), idle, [idle, vm, reply](const ApiResult &answer) {
                idle->release(vm);
                reply.resolve(answer);
            });
        };
        const Core::Future<void> woke = idle->wake(vm);
        if (woke.isFinished())
            runHeld();
        else
            Core::whenDone(woke, idle, [runHeld](const Core::Result &) { runHeld(); });
        return reply.future();
    };
    return HttpEndpoints{m_router, m_metrics, webSocket, vmGate, m_tokens, m_audit};
}

} // namespace Server
