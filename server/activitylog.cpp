#include "server/activitylog.h"

#include <QElapsedTimer>
#include <QFutureWatcher>

namespace Server {

QJsonObject ActivityEvent::toJson() const
{
    return QJsonObject{{QStringLiteral("type"), QStringLiteral("event")},
                       {QStringLiteral("seq"), qint64(seq)},
                       {QStringLiteral("time"), time.toString(Qt::ISODateWithMs)},
                       {QStringLiteral("vm"), vm},
                       {QStringLiteral("action"), action},
                       {QStringLiteral("detail"), detail},
                       {QStringLiteral("result"), result},
                       {QStringLiteral("duration_ms"), durationMs}};
}

ActivityLog::ActivityLog(QObject *parent)
    : QObject(parent)
{
}

void ActivityLog::publish(ActivityEvent event)
{
    event.seq = ++m_seq;
    if (!event.time.isValid())
        event.time = QDateTime::currentDateTimeUtc();
    std::deque<ActivityEvent> &kept = m_history[event.vm];
    kept.push_back(event);
    while (kept.size() > size_t(kHistoryPerVm))
        kept.pop_front();
    Q_EMIT published(event);
}

ApiFuture ActivityLog::track(QList<ActivityEvent> events, ApiFuture answer, Fill fill)
{
    QElapsedTimer took;
    took.start();
    ApiPromise reply;
    Core::whenDone(answer, this, [this, reply, events, took, fill](const ApiResult &r) {
        for (ActivityEvent e : events) {
            e.result = r ? QStringLiteral("ok") : apiErrorCodeName(r.error().code);
            e.durationMs = took.elapsed();
            if (r && fill)
                fill(e, *r);
            publish(e);
        }
        reply.resolve(r);
    });
    // The client gone (the adapter cancels the answer): so is the work behind
    // it (an exec is killed in the guest, as without the log).
    auto *clientGone = new QFutureWatcher<ApiResult>(this);
    connect(clientGone, &QFutureWatcherBase::canceled, this, [answer]() mutable { answer.cancel(); });
    connect(clientGone, &QFutureWatcherBase::finished, clientGone, &QObject::deleteLater);
    clientGone->setFuture(reply.future());
    return reply.future();
}

QList<ActivityEvent> ActivityLog::history(const QString &vm, quint64 afterSeq) const
{
    QList<ActivityEvent> out;
    const auto it = m_history.constFind(vm);
    if (it == m_history.constEnd())
        return out;
    for (const ActivityEvent &e : *it)
        if (e.seq > afterSeq)
            out.append(e);
    return out;
}

void ActivityLog::forget(const QString &vm)
{
    m_history.remove(vm);
}

QString ActivityLog::clip(const QString &text)
{
    if (text.size() <= kMaxTextChars)
        return text;
    return text.left(kMaxTextChars - 1) + QChar(0x2026);
}

} // namespace Server
