#pragma once
// The computer-use part of the API, free of HTTP: screenshots, input and
// control of a VM's live desktop, through the shared Desktop::DisplayHub;
// the viewer page, noVNC's files and the RFB WebSocket's route.

#include "server/apitypes.h"

#include <QJsonObject>
#include <QList>

namespace Desktop {
class DisplayHub;
class VmDisplay;
struct InputAction;
} // namespace Desktop

namespace Server {

class ActivityLog;
class Router;

class DisplayController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DisplayController)
public:
    // hub may be null: every route then answers Unsupported. Input and
    // screenshots are told to `activity` (may be null) as they end.
    explicit DisplayController(Desktop::DisplayHub *hub, ActivityLog *activity = nullptr, QObject *parent = nullptr);

    void addRoutes(Router &router);
    Desktop::DisplayHub *hub() const { return m_hub; }

    ApiFuture screenshot(const Request &request);
    ApiFuture input(const Request &request);
    ApiFuture display(const Request &request);
    ApiFuture control(const Request &request);
    // GET /vnc/{name}: the noVNC viewer page; GET /novnc/{*path}: noVNC's
    // own files, from Core::Paths::novncDir (MVS_NOVNC_DIR, a copy installed
    // with the app, or Debian's novnc package).
    ApiFuture viewerPage(const Request &request);
    ApiFuture novncAsset(const Request &request);
    static QString novncDir();

private:
    ApiFuture screenshotOf(Desktop::VmDisplay *display, const Request &request);
    ApiFuture inputTo(Desktop::VmDisplay *display, const Request &request, const QList<Desktop::InputAction> &actions);
    // The frame as a PNG (scaled by ?scale), once the display is ready.
    ApiFuture takeScreenshot(Desktop::VmDisplay *display, const QString &scaleText);
    // Connect if need be, then perform the actions as the agent.
    ApiFuture perform(Desktop::VmDisplay *display, const QList<Desktop::InputAction> &actions, const QString &name);

    Desktop::DisplayHub *m_hub;
    ActivityLog *m_activity;
};

} // namespace Server
