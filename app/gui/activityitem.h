#pragma once
// Gui::ActivityItem: one event of a VM's activity (Server::ActivityEvent,
// as the GUI sees it; mvs_gui does not link the server), and where the
// kept ones come from. Shown by the Activity tab (the log) and by the
// Display tab's ActionOverlay (marks over the live view).

#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QString>

#include <functional>

namespace Gui {

struct ActivityItem {
    quint64 seq = 0;
    QDateTime time;
    QString vm;
    QString action; // click, double_click, triple_click, drag, scroll, move, type, key, screenshot, exec, file_put, file_get, code
    QJsonObject detail;
    QString result; // "ok" or an error code
    qint64 durationMs = 0;
};
// A VM's kept events, oldest first.
using ActivitySource = std::function<QList<ActivityItem>(const QString &vm)>;

} // namespace Gui
