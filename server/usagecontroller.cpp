#include "server/usagecontroller.h"

#include "core/vm/vmmanager.h"
#include "server/router.h"
#include "server/usagehistory.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QTimeZone>

namespace Server {

namespace {

template<typename T>
QJsonValue valueOrNull(const std::optional<T> &v)
{
    return v ? QJsonValue(static_cast<double>(*v)) : QJsonValue(QJsonValue::Null);
}

QJsonObject sampleToJson(const UsageHistory::Sample &s, const UsageHistory::Sample *before)
{
    const std::optional<double> cpu = before ? UsageHistory::cpuPercent(*before, s) : std::nullopt;
    return QJsonObject{{QStringLiteral("time"), QDateTime::fromMSecsSinceEpoch(s.atMs, QTimeZone::utc()).toString(Qt::ISODateWithMs)},
                       {QStringLiteral("time_ms"), static_cast<double>(s.atMs)},
                       {QStringLiteral("cpu_percent"), cpu ? QJsonValue(qRound(*cpu * 10) / 10.0) : QJsonValue(QJsonValue::Null)},
                       {QStringLiteral("vmm_cpu_seconds"), valueOrNull(s.vmmCpuSeconds)},
                       {QStringLiteral("vmm_resident_bytes"), valueOrNull(s.vmmResidentBytes)},
                       {QStringLiteral("guest_memory_total_bytes"), valueOrNull(s.guestMemTotalBytes)},
                       {QStringLiteral("guest_memory_available_bytes"), valueOrNull(s.guestMemAvailableBytes)},
                       {QStringLiteral("disk_bytes"), valueOrNull(s.diskBytes)},
                       {QStringLiteral("network_received_bytes"), valueOrNull(s.networkReceivedBytes)},
                       {QStringLiteral("network_sent_bytes"), valueOrNull(s.networkSentBytes)}};
}

} // namespace

UsageController::UsageController(Vm::VmManager &manager, const UsageHistory &history, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
    , m_history(history)
{
}

void UsageController::addRoutes(Router &router)
{
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/stats"), this, &UsageController::stats, {.role = Role::Viewer});
}

ApiExpected<qint64> UsageController::parseSince(const Request &request)
{
    if (!request.query.hasQueryItem(QStringLiteral("since")))
        return qint64(0);
    const QString text = request.query.queryItemValue(QStringLiteral("since"), QUrl::FullyDecoded).trimmed();
    bool ok = false;
    const qint64 ms = text.toLongLong(&ok);
    if (ok && ms >= 0)
        return ms;
    const QDateTime t = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (t.isValid() && t.timeSpec() != Qt::LocalTime)
        return t.toMSecsSinceEpoch();
    return ApiError(ApiError::Code::InvalidArgument,
                    QStringLiteral("'since' must be milliseconds since the epoch or an ISO 8601 time with its zone, e.g. 2026-12-04T20:00:00Z, not '%1'")
                        .arg(text.left(40)));
}

// The samples after `since`, oldest first; each with the CPU use since the
// one before it (the first returned uses the one before it, if kept).
ApiFuture UsageController::stats(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    if (auto info = m_manager.info(name); !info)
        return finished(ApiError::fromCore(info.error()));
    auto since = parseSince(request);
    if (!since)
        return finished(since.error());
    const QList<UsageHistory::Sample> all = m_history.since(name, 0);
    QJsonArray samples;
    for (qsizetype i = 0; i < all.size(); ++i) {
        if (all[i].atMs > *since)
            samples.append(sampleToJson(all[i], i > 0 ? &all[i - 1] : nullptr));
    }
    return finished(Response::ofJson(QJsonObject{{QStringLiteral("vm"), name},
                                                 {QStringLiteral("interval_ms"), UsageHistory::kIntervalMs},
                                                 {QStringLiteral("keep_ms"), static_cast<double>(UsageHistory::kKeepMs)},
                                                 {QStringLiteral("samples"), samples}}));
}

} // namespace Server
