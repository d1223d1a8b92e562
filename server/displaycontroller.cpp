#include "server/displaycontroller.h"

#include "desktop/displayhub.h"
#include "desktop/inputaction.h"
#include "desktop/vmdisplay.h"

#include "core/paths.h"
#include "core/vm/vmmanager.h"
#include "core/workerpool.h"
#include "server/activitylog.h"
#include "server/inputrequest.h"
#include "server/router.h"

#include <QBuffer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>

#include <cmath>

namespace Server {
namespace {

// One input action as the activity log tells it (ActivityEvent::detail).
ActivityEvent inputEvent(const QString &vm, const Desktop::InputAction &a)
{
    using Kind = Desktop::InputAction::Kind;
    static const char *const buttons[] = {"left", "middle", "right"};
    ActivityEvent e;
    e.vm = vm;
    QJsonObject &d = e.detail;
    const bool pointed = a.kind == Kind::Move || a.kind == Kind::Drag || a.hasPoint;
    if (pointed && a.kind != Kind::Type && a.kind != Kind::Key) {
        d.insert(QStringLiteral("x"), a.point.x());
        d.insert(QStringLiteral("y"), a.point.y());
    }
    switch (a.kind) {
    case Kind::Move: e.action = QStringLiteral("move"); break;
    case Kind::Click:
        e.action = a.count == 2 ? QStringLiteral("double_click") : a.count == 3 ? QStringLiteral("triple_click") : QStringLiteral("click");
        d.insert(QStringLiteral("button"), QLatin1String(buttons[int(a.button)]));
        break;
    case Kind::Drag:
        e.action = QStringLiteral("drag");
        d.insert(QStringLiteral("to_x"), a.to.x());
        d.insert(QStringLiteral("to_y"), a.to.y());
        d.insert(QStringLiteral("button"), QLatin1String(buttons[int(a.button)]));
        break;
    case Kind::Scroll:
        e.action = QStringLiteral("scroll");
        d.insert(QStringLiteral("dx"), a.scrollX);
        d.insert(QStringLiteral("dy"), a.scrollY);
        break;
    case Kind::Type:
        e.action = QStringLiteral("type");
        d.insert(QStringLiteral("text"), ActivityLog::clip(a.text));
        break;
    case Kind::Key:
        e.action = QStringLiteral("key");
        d.insert(QStringLiteral("keys"), ActivityLog::clip(a.text));
        break;
    }
    return e;
}

// A screenshot's size, from its answer's PNG header (width, height at 16).
QJsonObject screenshotDetail(const Response &r)
{
    const QByteArray &png = r.bytes;
    if (png.size() < 24)
        return {};
    auto be32 = [&png](int at) {
        return (quint32(quint8(png[at])) << 24) | (quint32(quint8(png[at + 1])) << 16) | (quint32(quint8(png[at + 2])) << 8) | quint8(png[at + 3]);
    };
    return QJsonObject{{QStringLiteral("width"), qint64(be32(16))}, {QStringLiteral("height"), qint64(be32(20))}};
}

using Desktop::InputAction;

ApiError invalid(const QString &message)
{
    return ApiError(ApiError::Code::InvalidArgument, message);
}

QString controllerName(Desktop::VmDisplay::Controller c)
{
    return c == Desktop::VmDisplay::Controller::Human ? QStringLiteral("human") : QStringLiteral("agent");
}

// ?wait_s=N on screenshot and input: how long to wait for the display's readiness.
constexpr int kMaxReadyWaitS = 60;

QJsonObject displayJson(const QString &name, Desktop::VmDisplay *d)
{
    const QSize size = d->size();
    return {{QStringLiteral("name"), name},
            {QStringLiteral("connected"), d->isConnected()},
            {QStringLiteral("ready"), d->isReady()},
            {QStringLiteral("width"), size.width()},
            {QStringLiteral("height"), size.height()},
            {QStringLiteral("controller"), controllerName(d->controller())},
            {QStringLiteral("human_in_control"), d->humanHasControl()},
            {QStringLiteral("viewer"), QStringLiteral("/vnc/%1").arg(name)},
            {QStringLiteral("websocket"), QStringLiteral("/api/v1/vms/%1/vnc").arg(name)}};
}

} // namespace

DisplayController::DisplayController(Desktop::DisplayHub *hub, ActivityLog *activity, QObject *parent)
    : QObject(parent)
    , m_hub(hub)
    , m_activity(activity)
{
}

void DisplayController::addRoutes(Router &router)
{
    using C = DisplayController;
    using WebSocket = RouteFlags::WebSocket;
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/screenshot"), this, &C::screenshot, {.role = Role::Viewer});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/input"), this, &C::input, {.role = Role::Operator});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/display"), this, &C::display, {.role = Role::Viewer, .cookieOk = true});
    router.add("POST", QStringLiteral("/api/v1/vms/{name}/display/control"), this, &C::control, {.role = Role::Operator, .cookieOk = true});
    router.add("GET", QStringLiteral("/api/v1/vms/{name}/vnc"), {}, {.role = Role::Viewer, .webSocket = WebSocket::Vnc, .cookieOk = true});
    router.add("GET", QStringLiteral("/vnc/{name}"), this, &C::viewerPage, {.role = Role::Viewer, .pageToken = true, .cookieOk = true});
    router.add("GET", QStringLiteral("/novnc/{*path}"), this, &C::novncAsset, {.role = Role::Viewer, .cookieOk = true});
}

namespace {

ApiExpected<Desktop::VmDisplay *> displayOf(Desktop::DisplayHub *hub, const Request &request)
{
    if (!hub)
        return ApiError(ApiError::Code::Unsupported, QStringLiteral("this service was started without display support"));
    auto d = hub->display(request.param(QStringLiteral("name")));
    if (!d)
        return ApiError::fromCore(d.error());
    return *d;
}

ApiError displayGone(const QString &name)
{
    return ApiError(ApiError::Code::InvalidState, QStringLiteral("the display of %1 went away").arg(name));
}

ApiError controlHeld(const QString &name, const QString &more = {})
{
    return ApiError(ApiError::Code::ControlHeld,
                    QStringLiteral("a human has taken control of the display of %1: agent input is refused until they release it").arg(name) + more);
}

ApiError notReady(const QString &name, int waitedS)
{
    return ApiError(ApiError::Code::DisplayNotReady,
                    QStringLiteral("the desktop of %1 is not ready yet%2: ask again, or pass ?wait_s=N (at most %3) to wait")
                        .arg(name, waitedS > 0 ? QStringLiteral(" after %1 s").arg(waitedS) : QString())
                        .arg(kMaxReadyWaitS));
}

// The query parameters a route takes (the others are refused), and wait_s.
ApiExpected<int> readyWaitS(const Request &request, const QStringList &known)
{
    for (const auto &item : request.query.queryItems()) {
        if (!known.contains(item.first))
            return invalid(QStringLiteral("unknown query parameter '%1' (this route takes: %2)").arg(item.first.left(64), known.join(QStringLiteral(", "))));
    }
    if (!request.query.hasQueryItem(QStringLiteral("wait_s")))
        return 0;
    bool ok = false;
    const int waitS = request.query.queryItemValue(QStringLiteral("wait_s")).toInt(&ok);
    if (!ok || waitS < 0 || waitS > kMaxReadyWaitS)
        return invalid(QStringLiteral("wait_s must be a whole number of seconds, 0-%1").arg(kMaxReadyWaitS));
    return waitS;
}

// The PNG answer for a frame scaled by `scale` (slow: run off the event loop).
Response screenshotPng(const QImage &frame, double scale)
{
    QImage out = frame;
    if (scale < 1.0)
        out = frame.scaled(qMax(1, int(std::lround(frame.width() * scale))), qMax(1, int(std::lround(frame.height() * scale))), Qt::IgnoreAspectRatio,
                           Qt::SmoothTransformation);
    QByteArray png;
    QBuffer buffer(&png);
    buffer.open(QIODevice::WriteOnly);
    out.convertToFormat(QImage::Format_RGB888).save(&buffer, "PNG", 1);
    Response r = Response::ofBytes(png, QByteArrayLiteral("image/png"));
    r.headers.append({QByteArrayLiteral("X-Screen-Width"), QByteArray::number(frame.width())});
    r.headers.append({QByteArrayLiteral("X-Screen-Height"), QByteArray::number(frame.height())});
    r.headers.append({QByteArrayLiteral("X-Scale"), QByteArray::number(double(out.width()) / frame.width(), 'g', 6)});
    return r;
}

} // namespace

ApiFuture DisplayController::screenshot(const Request &request)
{
    auto display = displayOf(m_hub, request);
    if (!display)
        return finished(display.error());
    ActivityEvent shot;
    shot.vm = request.param(QStringLiteral("name"));
    shot.action = QStringLiteral("screenshot");
    const ApiFuture answer = screenshotOf(*display, request);
    return m_activity ? m_activity->track({shot}, answer, [](ActivityEvent &e, const Response &r) { e.detail = screenshotDetail(r); }) : answer;
}

ApiFuture DisplayController::screenshotOf(Desktop::VmDisplay *display, const Request &request)
{
    const QString scaleText = request.query.queryItemValue(QStringLiteral("scale"));
    const auto waitS = readyWaitS(request, {QStringLiteral("scale"), QStringLiteral("wait_s")});
    if (!waitS)
        return finished(waitS.error());
    const QString name = request.param(QStringLiteral("name"));
    const QPointer<Desktop::VmDisplay> guard(display);
    ApiPromise reply;
    Core::whenDone(display->waitReady(*waitS * 1000), this, [this, reply, guard, name, waitS = *waitS, scaleText](const Core::Expected<bool> &ready) {
        if (!ready)
            return reply.resolve(ApiError::fromCore(ready.error()));
        if (!*ready)
            return reply.resolve(notReady(name, waitS));
        if (!guard)
            return reply.resolve(displayGone(name));
        Core::whenDone(takeScreenshot(guard, scaleText), this, [reply](const ApiResult &r) { reply.resolve(r); });
    });
    return reply.future();
}

ApiFuture DisplayController::takeScreenshot(Desktop::VmDisplay *display, const QString &scaleText)
{
    ApiPromise reply;
    Core::whenDone(display->screenshot(), this, [this, reply, scaleText](const Core::Expected<QImage> &shot) {
        if (!shot)
            return reply.resolve(ApiError::fromCore(shot.error()));
        const QImage frame = *shot;
        double scale = 1.0;
        if (!scaleText.isEmpty()) {
            auto s = InputRequest::parseScale(scaleText, frame.size());
            if (!s)
                return reply.resolve(s.error());
            scale = *s;
        }
        // Scaling and PNG encoding take tens of ms: off the event loop.
        const auto encoded = Core::runInThread<Response>([frame, scale]() -> Core::Expected<Response> { return screenshotPng(frame, scale); });
        Core::whenDone(encoded, this, [reply](const Core::Expected<Response> &r) { // back on this thread: the adapter continues from here
            reply.resolve(r ? ApiResult(*r) : ApiResult(ApiError(ApiError::Code::Internal, r.error().message)));
        });
    });
    return reply.future();
}

ApiFuture DisplayController::input(const Request &request)
{
    const auto actions = InputRequest::parse(request.body);
    if (!actions)
        return finished(actions.error());
    auto d = displayOf(m_hub, request);
    if (!d)
        return finished(d.error());
    const QString name = request.param(QStringLiteral("name"));
    QList<ActivityEvent> events;
    for (const Desktop::InputAction &a : *actions)
        events.append(inputEvent(name, a));
    const ApiFuture answer = inputTo(*d, request, *actions);
    return m_activity ? m_activity->track(events, answer) : answer;
}

ApiFuture DisplayController::inputTo(Desktop::VmDisplay *display, const Request &request, const QList<Desktop::InputAction> &actions)
{
    const auto waitS = readyWaitS(request, {QStringLiteral("wait_s")});
    if (!waitS)
        return finished(waitS.error());
    const QString name = request.param(QStringLiteral("name"));
    // Refused at once while a human drives, even before connecting.
    if (display->humanHasControl())
        return finished(controlHeld(name, QStringLiteral(" (screenshots still work)")));
    const QPointer<Desktop::VmDisplay> guard(display);
    ApiPromise reply;
    Core::whenDone(display->waitReady(*waitS * 1000), this, [this, reply, guard, name, waitS = *waitS, actions](const Core::Expected<bool> &ready) {
        if (!ready)
            return reply.resolve(ApiError::fromCore(ready.error()));
        if (!*ready)
            return reply.resolve(notReady(name, waitS)); // keys typed now would be lost
        if (!guard)
            return reply.resolve(displayGone(name));
        Core::whenDone(perform(guard, actions, name), this, [reply](const ApiResult &r) { reply.resolve(r); });
    });
    return reply.future();
}

ApiFuture DisplayController::perform(Desktop::VmDisplay *display, const QList<Desktop::InputAction> &actions, const QString &name)
{
    ApiPromise reply;
    const QPointer<Desktop::VmDisplay> guard(display);
    Core::whenDone(display->ensureConnected(), this, [this, reply, guard, actions, name](const Core::Expected<void> &r) {
        if (!r)
            return reply.resolve(ApiError::fromCore(r.error()));
        if (!guard)
            return reply.resolve(displayGone(name));
        if (guard->humanHasControl())
            return reply.resolve(controlHeld(name));
        Core::whenDone(guard->perform(actions, Desktop::VmDisplay::Controller::Agent), this,
                       [reply, guard, name, count = actions.size()](const Core::Expected<void> &done) {
                           if (!done)
                               return reply.resolve(ApiError::fromCore(done.error()));
                           if (!guard)
                               return reply.resolve(displayGone(name));
                           QJsonObject o = displayJson(name, guard);
                           o.insert(QStringLiteral("performed"), static_cast<int>(count));
                           reply.resolve(Response::ofJson(o));
                       });
    });
    return reply.future();
}

ApiFuture DisplayController::display(const Request &request)
{
    auto display = displayOf(m_hub, request);
    if (!display)
        return finished(display.error());
    const QString name = request.param(QStringLiteral("name"));
    const QPointer<Desktop::VmDisplay> guard(*display);
    ApiPromise reply;
    Core::whenDone((*display)->ensureConnected(), this, [this, reply, guard, name](const Core::Expected<void> &connected) {
        if (!connected)
            return reply.resolve(ApiError::fromCore(connected.error()));
        if (!guard)
            return reply.resolve(displayGone(name));
        // The readiness as of now (displayJson's "ready"), never waited for.
        Core::whenDone(guard->checkReady(), this, [reply, guard, name](const Core::Expected<bool> &) {
            reply.resolve(guard ? ApiResult(Response::ofJson(displayJson(name, guard))) : ApiResult(displayGone(name)));
        });
    });
    return reply.future();
}

ApiFuture DisplayController::control(const Request &request)
{
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(request.body, &pe);
    if (pe.error != QJsonParseError::NoError || !doc.isObject())
        return finished(ApiError(ApiError::Code::InvalidJson, QStringLiteral("the request body must be {\"controller\": \"human\" | \"agent\"}")));
    const QJsonObject o = doc.object();
    const QString who = o.value(QStringLiteral("controller")).toString();
    if (o.size() != 1 || (who != QLatin1String("human") && who != QLatin1String("agent")))
        return finished(invalid(QStringLiteral("the body must be {\"controller\": \"human\"} to take control or {\"controller\": \"agent\"} to release it")));
    auto display = displayOf(m_hub, request);
    if (!display)
        return finished(display.error());
    (*display)->setController(who == QLatin1String("human") ? Desktop::VmDisplay::Controller::Human : Desktop::VmDisplay::Controller::Agent);
    return finished(Response::ofJson(displayJson(request.param(QStringLiteral("name")), *display)));
}

ApiFuture DisplayController::viewerPage(const Request &request)
{
    const QString name = request.param(QStringLiteral("name"));
    if (auto valid = Vm::VmManager::validateName(name); !valid)
        return finished(ApiError::fromCore(valid.error()));
    if (auto display = displayOf(m_hub, request); !display)
        return finished(display.error());
    if (!QFileInfo::exists(novncDir() + QStringLiteral("/core/rfb.js")))
        return finished(ApiError(ApiError::Code::Unsupported,
                                 QStringLiteral("noVNC is not installed: install Debian's 'novnc' package or set MVS_NOVNC_DIR to a noVNC "
                                                "checkout (it has core/rfb.js)")));
    QFile page(QStringLiteral(":/server/viewer.html"));
    if (!page.open(QIODevice::ReadOnly))
        return finished(ApiError(ApiError::Code::Internal, QStringLiteral("the viewer page is missing from the build")));
    QByteArray html = page.readAll();
    html.replace("@VM@", name.toUtf8()); // validated: [a-z0-9-]
    Response r = Response::ofBytes(html, QByteArrayLiteral("text/html; charset=utf-8"));
    r.headers.append({QByteArrayLiteral("Cache-Control"), QByteArrayLiteral("no-store")});
    r.headers.append({QByteArrayLiteral("Referrer-Policy"), QByteArrayLiteral("no-referrer")});
    return finished(r);
}

QString DisplayController::novncDir()
{
    return Core::Paths::novncDir();
}

ApiFuture DisplayController::novncAsset(const Request &request)
{
    // The route only matches clean relative paths (no "." or ".." parts);
    // the canonical path must still be inside the directory (symlinks).
    const QString root = QFileInfo(novncDir()).canonicalFilePath();
    const QString path = QFileInfo(novncDir() + QLatin1Char('/') + request.param(QStringLiteral("path"))).canonicalFilePath();
    if (root.isEmpty() || path.isEmpty() || !path.startsWith(root + QLatin1Char('/')) || !QFileInfo(path).isFile())
        return finished(ApiError(ApiError::Code::NotFound, QStringLiteral("no such noVNC file")));
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return finished(ApiError(ApiError::Code::NotFound, QStringLiteral("cannot read %1").arg(request.param(QStringLiteral("path")))));
    static const QHash<QString, QByteArray> types{{QStringLiteral("js"), QByteArrayLiteral("text/javascript; charset=utf-8")},
                                                  {QStringLiteral("html"), QByteArrayLiteral("text/html; charset=utf-8")},
                                                  {QStringLiteral("css"), QByteArrayLiteral("text/css")},
                                                  {QStringLiteral("svg"), QByteArrayLiteral("image/svg+xml")},
                                                  {QStringLiteral("png"), QByteArrayLiteral("image/png")},
                                                  {QStringLiteral("ico"), QByteArrayLiteral("image/x-icon")},
                                                  {QStringLiteral("json"), QByteArrayLiteral("application/json")},
                                                  {QStringLiteral("woff"), QByteArrayLiteral("font/woff")},
                                                  {QStringLiteral("woff2"), QByteArrayLiteral("font/woff2")}};
    Response r = Response::ofBytes(file.readAll(), types.value(QFileInfo(path).suffix().toLower(), QByteArrayLiteral("application/octet-stream")));
    r.headers.append({QByteArrayLiteral("Cache-Control"), QByteArrayLiteral("private, max-age=3600")});
    return finished(r);
}

} // namespace Server
