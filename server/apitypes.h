#pragma once
// The vocabulary of the API, free of HTTP: a Request in, a Response or an
// ApiError out, always through an ApiFuture (core's Future with ApiError as
// its error type; operations that finish at once return a finished one).
// Every controller speaks it; HttpAdapter maps it to HTTP.

#include "core/async.h"
#include "server/principal.h"

#include <QByteArray>
#include <QHash>
#include <QJsonValue>
#include <QList>
#include <QObject>
#include <QUrlQuery>

#include <memory>
#include <type_traits>
#include <utility>

class QIODevice;

namespace Server {

struct Request {
    QHash<QString, QString> params; // path parameters, e.g. "name"
    QUrlQuery query;
    QHash<QByteArray, QByteArray> headers; // names in lower case
    QByteArray body;
    QByteArray requestId; // X-Request-Id (server/requestid.h), also in the log context of the handler
    // Uploads the adapter streams (PUT .../files): the body as a sequential
    // device of bodyStreamSize bytes, `body` then stays empty.
    std::shared_ptr<QIODevice> bodyStream;
    qint64 bodyStreamSize = 0;
    // Who asks (the adapter sets it from the request's credential): routes
    // that make or list VMs keep to its VM glob.
    Principal caller = Principal::admin();

    QString param(const QString &key) const { return params.value(key); }
};

struct Response {
    enum class Kind { Json, Bytes, Empty, Stream };
    Kind kind = Kind::Json;
    QJsonValue json; // Kind::Json: an object or an array
    QByteArray bytes; // Kind::Bytes
    QByteArray contentType; // Kind::Bytes, Kind::Stream
    // Kind::Stream: the body, read as the client takes it, and its length.
    // The device must read -1 (or atEnd()) at its end; ending short of
    // streamSize bytes aborts the connection, and the client going away
    // closes the device.
    std::shared_ptr<QIODevice> stream;
    qint64 streamSize = 0;
    bool created = false; // the request made a new resource
    QList<std::pair<QByteArray, QByteArray>> headers; // extra response headers

    static Response ofJson(QJsonValue json, bool created = false);
    static Response ofBytes(QByteArray bytes, QByteArray contentType);
    static Response ofStream(std::shared_ptr<QIODevice> body, qint64 size, QByteArray contentType);
    // Done, nothing to say (HTTP 204).
    static Response empty();
};

struct ApiError {
    enum class Code {
        InvalidJson, // the body is not the JSON the route takes
        InvalidArgument, // a field, parameter or name is wrong
        Unauthorized, // no or wrong token
        Forbidden, // the token's role or VM scope does not cover the request
        TooManyRequests, // too many failed authentications from this peer (Retry-After)
        QuotaExceeded, // the host's quota (VMs, vCPUs, memory, disk) does not allow it (429)
        PermissionDenied, // refused in the guest
        NotFound, // no such route, VM, template, guest path
        MethodNotAllowed,
        AlreadyExists,
        InvalidState, // the VM's state does not allow the operation
        PayloadTooLarge,
        Timeout,
        AgentUnavailable, // the guest agent cannot be reached
        GuestError, // the guest agent failed the operation
        VmFailed, // the VM could not be started or its VMM failed
        NoSpace,
        Unsupported,
        ControlHeld, // a human holds the display: agent input refused
        DisplayNotReady, // the desktop's readiness check has not passed yet (503, Retry-After)
        Corrupted, // stored data (a snapshot) failed its integrity check
        Internal,
    };
    Code code = Code::Internal;
    QString message;
    int retryAfterS = 0; // TooManyRequests: when to ask again

    ApiError() = default;
    ApiError(Code c, QString m)
        : code(c)
        , message(std::move(m))
    {
    }
    static ApiError fromCore(const Core::Error &error);
};

// "invalid_json", "not_found", ...: the error body's "code".
QString apiErrorCodeName(ApiError::Code code);

} // namespace Server

// An answer given up on (its promise dropped, its context gone) is the
// service's fault: 500.
template<>
struct Core::Abandoned<Server::ApiError> {
    static Server::ApiError error(const QString &message) { return Server::ApiError(Server::ApiError::Code::Internal, message); }
};

namespace Server {

template<typename T>
using ApiExpected = Core::Expected<T, ApiError>;
using ApiResult = ApiExpected<Response>;
using ApiFuture = Core::Future<Response, ApiError>;
using ApiPromise = Core::Promise<Response, ApiError>;

// An answer that is ready now.
inline ApiFuture finished(ApiResult result)
{
    return Core::readyFuture<Response, ApiError>(std::move(result));
}

// The answer to a core operation: once `future` is done, what fn makes of
// its value (no argument for Future<void>), or its error as an ApiError.
// Nothing runs once context is gone (the answer is then abandoned).
template<typename T, typename F>
ApiFuture answerWhen(Core::Future<T> future, QObject *context, F fn)
{
    ApiPromise reply;
    Core::whenDone(future, context, [reply, fn](const Core::Expected<T> &r) {
        if (!r)
            reply.resolve(ApiError::fromCore(r.error()));
        else if constexpr (std::is_void_v<T>)
            reply.resolve(fn());
        else
            reply.resolve(fn(*r));
    });
    return reply.future();
}

} // namespace Server
