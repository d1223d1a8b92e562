#pragma once
// The computer-use part of the API, free of HTTP like ApiController (which
// owns one and forwards to it): screenshots, input and control of a VM's
// live desktop, through the shared Desktop::DisplayHub.

#include "server/apicontroller.h"

namespace Desktop {
class DisplayHub;
struct InputAction;
} // namespace Desktop

namespace Server {

class DisplayController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DisplayController)
public:
    static constexpr int kMaxActions = 200;
    static constexpr int kMinScaledSide = 16;

    // hub may be null: every route then answers Unsupported.
    explicit DisplayController(Desktop::DisplayHub *hub, QObject *parent = nullptr);

    ApiFuture screenshot(const Request &request);
    ApiFuture input(const Request &request);
    ApiFuture display(const Request &request);
    ApiFuture control(const Request &request);
    // GET /vnc/{name}: the noVNC viewer page; GET /novnc/{*path}: noVNC's
    // own files, from MVS_NOVNC_DIR or Debian's novnc package.
    ApiFuture viewerPage(const Request &request);
    ApiFuture novncAsset(const Request &request);
    static QString novncDir();

    // One action object of POST .../input into *out (coordinates divided by
    // scale when the client gives screenshot coordinates).
    static std::optional<ApiError> parseAction(const QJsonObject &o, double scale, Desktop::InputAction *out);

private:
    Desktop::DisplayHub *m_hub;
};

} // namespace Server
