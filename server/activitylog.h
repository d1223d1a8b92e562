#pragma once
// What was done to each VM through the API, as it happens: every
// computer-use action that reached its desktop (click, double and triple
// click, drag, scroll, move, type, key), every screenshot taken, and its
// exec, file and code calls, each as an event with a sequence number, the
// time, what it was (coordinates, the text typed, the keys, the command),
// how it ended and how long it took. Kept per VM, the last kHistoryPerVm
// (GET .../events), and published as they happen (published(): the events
// WebSocket, EventSocket; the app's activity log and overlay).
//
// Costs nothing to speak of when nobody listens: an event is a few short
// strings appended to a bounded ring. What a guest or agent sends is clipped
// (kMaxTextChars) before it is kept.

#include "server/apitypes.h"

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>

#include <deque>
#include <functional>

namespace Server {

struct ActivityEvent {
    quint64 seq = 0; // from 1, increasing across the service's VMs
    QDateTime time; // when it ended (UTC)
    QString vm;
    // click, double_click, triple_click, drag, scroll, move, type, key,
    // screenshot, exec, file_put, file_get, code
    QString action;
    // x, y (click, scroll, move; drag: from), to_x, to_y (drag), button,
    // dx, dy (scroll notches), text (type), keys (key), cmd (exec), path
    // (files), bytes, exit_code, language (code), width, height (screenshot)
    QJsonObject detail;
    QString result = QStringLiteral("ok"); // or the error's code
    qint64 durationMs = 0;

    QJsonObject toJson() const;
};

class ActivityLog final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActivityLog)
public:
    static constexpr int kHistoryPerVm = 200;
    static constexpr int kMaxTextChars = 200; // of typed text, commands, paths

    explicit ActivityLog(QObject *parent = nullptr);

    // Numbers and stamps it (time now unless set), keeps it, publishes it.
    void publish(ActivityEvent event);
    // The events, once `answer` has ended: each with its result (ok, or
    // the error's code) and how long it took, completed by `fill` from the
    // answer when it succeeded; then published. Resolves as `answer` did.
    using Fill = std::function<void(ActivityEvent &, const Response &)>;
    ApiFuture track(QList<ActivityEvent> events, ApiFuture answer, Fill fill = Fill());
    // The VM's kept events after `afterSeq`, oldest first.
    QList<ActivityEvent> history(const QString &vm, quint64 afterSeq = 0) const;
    quint64 lastSeq() const { return m_seq; }
    // A deleted VM's events go with it.
    void forget(const QString &vm);

    // Text for an event: at most kMaxTextChars, with "…" when cut.
    static QString clip(const QString &text);

Q_SIGNALS:
    void published(const Server::ActivityEvent &event);

private:
    quint64 m_seq = 0;
    QHash<QString, std::deque<ActivityEvent>> m_history;
};

} // namespace Server
