#include "server/activitycontroller.h"

#include "core/vm/vmmanager.h"
#include "server/activitylog.h"
#include "server/router.h"

#include <QJsonArray>
#include <QJsonObject>

namespace Server {

ActivityController::ActivityController(Vm::VmManager &manager, const ActivityLog &log, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_log(log)
{
}

void ActivityController::addRoutes(Router &router)
{
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/events"), this, &ActivityController::events, {.role = Role::Viewer, .cookieOk = true});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/events/ws"), {}, {.role = Role::Viewer, .webSocket = RouteFlags::WebSocket::Events, .cookieOk = true});
}

ApiFuture ActivityController::events(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    if (auto info = m_manager.info(name); !info)
        return finished(ApiError::fromCore(info.error()));
    quint64 since = 0;
    if (request.query.hasQueryItem(QStringLiteral("since"))) {
        bool ok = false;
        since = request.query.queryItemValue(QStringLiteral("since")).toULongLong(&ok);
        if (!ok)
            return finished(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("'since' is an event's seq, a whole number")));
    }
    QJsonArray list;
    for (const ActivityEvent &e : m_log.history(name, since))
        list.append(e.toJson());
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("vm"), name},
                                                 {QStringLiteral("keep"), ActivityLog::kHistoryPerVm},
                                                 {QStringLiteral("last_seq"), qint64(m_log.lastSeq())},
                                                 {QStringLiteral("events"), list}}));
}

} // namespace Server
