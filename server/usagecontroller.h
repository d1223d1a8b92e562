#pragma once
// A VM's usage history: GET /api/v1/vms/{name}/stats?since=, from
// UsageHistory.

#include "server/apitypes.h"

namespace Vm {
class VmManager;
}

namespace Server {

class Router;
class UsageHistory;

class UsageController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UsageController)
public:
    // The manager and the history must outlive the controller.
    UsageController(Vm::VmManager &manager, const UsageHistory &history, QObject *parent = nullptr);

    void addRoutes(Router &router);

    ApiFuture stats(const Request &request);

    // "since": ms since the epoch, or an ISO 8601 time with its zone; none:
    // every sample kept.
    static ApiExpected<qint64> parseSince(const Request &request);

private:
    Vm::VmManager &m_manager;
    const UsageHistory &m_history;
};

} // namespace Server
