#pragma once
// The service's API, free of HTTP: one controller per scope (VMs, guest
// operations, snapshots, exposed ports, display, code, meta, tokens), each adding its routes to one
// Router, and the metrics every request and exec is counted in.
// HttpAdapter serves it (httpEndpoints()).

#include "server/httpendpoints.h"
#include "server/metrics.h"
#include "server/router.h"

#include <memory>

namespace Desktop {
class DisplayHub;
}
namespace Vm {
class VmManager;
}

namespace Server {

class ActivityController;
class ActivityLog;
class CodeController;
class DisplayController;
class DocsController;
class GuestController;
class MetaController;
class NetworkController;
class PortController;
class ProcessController;
class SnapshotController;
class TokenController;
class IdlePause;
class UsageController;
class PoolController;
class UsageHistory;
class TokenRegistry;
class AuditLog;
class VmController;

class Api final {
    Q_DISABLE_COPY_MOVE(Api)
public:
    // The manager (and the hub, tokens and audit log) must outlive the API.
    // displays may be null (no computer use: its routes answer Unsupported).
    // tokens null: the API keeps its own, in memory (the adapter's admin
    // token still works); audit null: no audit log.
    explicit Api(Vm::VmManager &manager, Desktop::DisplayHub *displays = nullptr, TokenRegistry *tokens = nullptr, AuditLog *audit = nullptr);
    ~Api();

    const Router &router() const { return m_router; }
    // Fed by the HTTP adapter (requests) and the guest operations (exec),
    // rendered by GET /metrics.
    Metrics &metrics() { return m_metrics; }
    GuestController &guest() { return *m_guest; }
    DisplayController &display() { return *m_display; }
    TokenRegistry &tokens() { return *m_tokens; }
    // Every running VM's usage, sampled from construction on.
    UsageHistory &usage() { return *m_usage; }
    // Pauses VMs nobody uses (off until given a time) and resumes them on use.
    IdlePause &idlePause() { return *m_idle; }
    // What was done to each VM through the API (computer use, exec, files, code).
    ActivityLog &activity() { return *m_activity; }
    // The routes, the metrics, and the WebSocket endpoints: VNC to the
    // display, exec to the guest operations. The API must outlive its users.
    HttpEndpoints httpEndpoints();

private:
    Vm::VmManager &m_manager;
    std::unique_ptr<TokenRegistry> m_ownTokens; // when none was given
    TokenRegistry *m_tokens;
    AuditLog *m_audit;
    Metrics m_metrics;
    Router m_router;
    std::unique_ptr<ActivityLog> m_activity; // before the controllers that tell it
    std::unique_ptr<MetaController> m_meta;
    std::unique_ptr<VmController> m_vms;
    std::unique_ptr<ProcessController> m_processes; // before m_guest, which uses it
    std::unique_ptr<GuestController> m_guest;
    std::unique_ptr<SnapshotController> m_snapshots;
    std::unique_ptr<NetworkController> m_network;
    std::unique_ptr<PortController> m_ports;
    std::unique_ptr<DisplayController> m_display;
    std::unique_ptr<CodeController> m_code;
    std::unique_ptr<TokenController> m_tokenRoutes;
    std::unique_ptr<DocsController> m_docs;
    std::unique_ptr<UsageHistory> m_usage;
    std::unique_ptr<UsageController> m_usageRoutes;
    std::unique_ptr<PoolController> m_pool;
    std::unique_ptr<IdlePause> m_idle;
    std::unique_ptr<ActivityController> m_activityRoutes;
};

} // namespace Server
