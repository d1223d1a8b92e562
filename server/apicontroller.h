#pragma once
// The service's operations, free of HTTP: a Request in, a Response or an
// ApiError out, always through a future (operations that finish at once
// return a finished one). HttpAdapter is the only code that knows HTTP.

#include "core/async.h"
#include "server/metrics.h"

#include <QByteArray>
#include <QFuture>
#include <QHash>
#include <QJsonValue>
#include <QObject>
#include <QUrlQuery>

#include <memory>
#include <optional>
#include <variant>

class QIODevice;

namespace Agent {
class ExecHandle;
struct ExecRequest;
} // namespace Agent
namespace Desktop {
class DisplayHub;
}
namespace Snapshot {
struct SnapshotInfo;
}
namespace Vm {
class VmManager;
struct VmInfo;
} // namespace Vm

namespace Server {

class DisplayController;

struct Request {
    QHash<QString, QString> params; // path parameters, e.g. "name"
    QUrlQuery query;
    QHash<QByteArray, QByteArray> headers; // names in lower case
    QByteArray body;
    // Uploads the adapter streams (PUT .../files): the body as a sequential
    // device of bodyStreamSize bytes, `body` then stays empty.
    std::shared_ptr<QIODevice> bodyStream;
    qint64 bodyStreamSize = 0;

    QString param(const QString &key) const { return params.value(key); }
};

struct Response {
    enum class Kind { Json, Bytes, Empty };
    Kind kind = Kind::Json;
    QJsonValue json;        // Kind::Json: an object or an array
    QByteArray bytes;       // Kind::Bytes
    QByteArray contentType; // Kind::Bytes
    bool created = false;   // the request made a new resource
    QList<std::pair<QByteArray, QByteArray>> headers; // extra response headers

    static Response ofJson(QJsonValue json, bool created = false);
    static Response ofBytes(QByteArray bytes, QByteArray contentType);
    // Done, nothing to say (HTTP 204).
    static Response empty();
};

struct ApiError {
    enum class Code {
        InvalidJson,      // the body is not the JSON the route takes
        InvalidArgument,  // a field, parameter or name is wrong
        Unauthorized,     // no or wrong token
        PermissionDenied, // refused in the guest
        NotFound,         // no such route, VM, template, guest path
        MethodNotAllowed,
        AlreadyExists,
        InvalidState,     // the VM's state does not allow the operation
        PayloadTooLarge,
        Timeout,
        AgentUnavailable, // the guest agent cannot be reached
        GuestError,       // the guest agent failed the operation
        VmFailed,         // the VM could not be started or its VMM failed
        NoSpace,
        Unsupported,
        ControlHeld,      // a human holds the display: agent input refused
        Corrupted,        // stored data (a snapshot) failed its integrity check
        Internal,
    };
    Code code = Code::Internal;
    QString message;

    ApiError() = default;
    ApiError(Code c, QString m) : code(c), message(std::move(m)) {}
    static ApiError fromCore(const Core::Error &error);
};

// "invalid_json", "not_found", ...: the error body's "code".
QString apiErrorCodeName(ApiError::Code code);

class ApiResult {
public:
    ApiResult(Response response) : m_v(std::move(response)) {}
    ApiResult(ApiError error) : m_v(std::move(error)) {}

    bool ok() const { return m_v.index() == 0; }
    const Response &response() const { return std::get<0>(m_v); }
    const ApiError &error() const { return std::get<1>(m_v); }

private:
    std::variant<Response, ApiError> m_v;
};

using ApiFuture = QFuture<ApiResult>;

class ApiController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ApiController)
public:
    static constexpr qint64 kDefaultConsoleBytes = 256 * 1024;
    static constexpr qint64 kMaxConsoleBytes = 16 * 1024 * 1024;
    // Per stream; the rest of a command's output is dropped and the result
    // says so ("stdout_truncated").
    static constexpr qint64 kMaxExecOutputBytes = 16 * 1024 * 1024;
    static constexpr double kMaxExecTimeoutS = 7 * 24 * 3600;

    // The manager must outlive the controller.
    // displays may be null (no computer-use routes: they answer Unsupported).
    explicit ApiController(Vm::VmManager &manager, Desktop::DisplayHub *displays = nullptr, QObject *parent = nullptr);
    ~ApiController() override;

    using Handler = ApiFuture (ApiController::*)(const Request &);

    ApiFuture health(const Request &request);
    ApiFuture listTemplates(const Request &request);
    ApiFuture listVms(const Request &request);
    ApiFuture createVm(const Request &request);
    ApiFuture getVm(const Request &request);
    ApiFuture deleteVm(const Request &request);
    ApiFuture startVm(const Request &request);
    ApiFuture stopVm(const Request &request);
    ApiFuture pauseVm(const Request &request);
    ApiFuture resumeVm(const Request &request);
    ApiFuture restartVm(const Request &request);
    ApiFuture exec(const Request &request);
    ApiFuture putFile(const Request &request);
    ApiFuture getFile(const Request &request);
    ApiFuture listFiles(const Request &request);
    ApiFuture console(const Request &request);
    // Snapshots of a VM ({name}) and, where named, one of them ({snap}).
    ApiFuture createSnapshot(const Request &request);
    ApiFuture listSnapshots(const Request &request);
    ApiFuture getSnapshot(const Request &request);
    ApiFuture restoreSnapshot(const Request &request);
    ApiFuture forkSnapshot(const Request &request);
    ApiFuture deleteSnapshot(const Request &request);
    ApiFuture screenshot(const Request &request);
    ApiFuture input(const Request &request);
    ApiFuture display(const Request &request);
    ApiFuture displayControl(const Request &request);
    ApiFuture viewerPage(const Request &request);
    ApiFuture novncAsset(const Request &request);
    ApiFuture openApi(const Request &request);
    ApiFuture metrics(const Request &request);

    // Fed by the HTTP adapter, rendered by metrics().
    Metrics &metrics() { return m_metrics; }
    // Every VM state's name with the number of VMs in it.
    QMap<QString, int> vmCountsByState() const;

    Desktop::DisplayHub *displays() const { return m_displays; }
    static QJsonObject vmToJson(const Vm::VmInfo &info);
    static QJsonObject snapshotToJson(const Snapshot::SnapshotInfo &info);
    // The body of POST .../exec (and the first WebSocket message) into *out.
    static std::optional<ApiError> parseExecRequest(const QByteArray &body, Agent::ExecRequest *out);
    // A command started with stdin left open, for streamed exec: the handle
    // (a child of the VM's agent client; output comes as its signals), or
    // why it could not start.
    std::variant<Agent::ExecHandle *, ApiError> execStream(const QString &name, const QByteArray &requestJson);

private:
    // Run one VmManager lifecycle call for the {name} parameter; answer with the VM.
    ApiFuture vmAction(const Request &request, Core::Future<void> (Vm::VmManager::*operation)(const QString &));
    // Once `pending` resolves, answer with the VM `name` as it is then.
    ApiFuture answerWithVm(Core::Future<void> pending, const QString &name);

    Vm::VmManager &m_manager;
    Desktop::DisplayHub *m_displays;
    std::unique_ptr<DisplayController> m_display;
    Metrics m_metrics;
};

} // namespace Server
