#include "app/activityfeed.h"

#include "app/gui/mainwindow.h"
#include "server/activitylog.h"

namespace App {
namespace {

Gui::ActivityItem itemOf(const Server::ActivityEvent &e)
{
    return Gui::ActivityItem{e.seq, e.time, e.vm, e.action, e.detail, e.result, e.durationMs};
}

} // namespace

void ActivityFeed::connect(Gui::MainWindow &window, Server::ActivityLog &log)
{
    window.setActivitySource([&log](const QString &vm) {
        QList<Gui::ActivityItem> out;
        for (const Server::ActivityEvent &e : log.history(vm))
            out << itemOf(e);
        return out;
    });
    QObject::connect(&log, &Server::ActivityLog::published, &window, [&window](const Server::ActivityEvent &e) { window.addActivity(itemOf(e)); });
}

} // namespace App
