#include "server/httpmapping.h"

#include "server/requestid.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

namespace Server {

int httpStatus(ApiError::Code code)
{
    switch (code) {
    case ApiError::Code::InvalidJson:
    case ApiError::Code::InvalidArgument: return 400;
    case ApiError::Code::Unauthorized: return 401;
    case ApiError::Code::PermissionDenied:
    case ApiError::Code::Forbidden: return 403;
    case ApiError::Code::TooManyRequests:
    case ApiError::Code::QuotaExceeded: return 429;
    case ApiError::Code::NotFound: return 404;
    case ApiError::Code::MethodNotAllowed: return 405;
    case ApiError::Code::AlreadyExists:
    case ApiError::Code::InvalidState:
    case ApiError::Code::ControlHeld: return 409;
    case ApiError::Code::PayloadTooLarge: return 413;
    case ApiError::Code::Timeout: return 504;
    case ApiError::Code::AgentUnavailable:
    case ApiError::Code::DisplayNotReady: return 503;
    case ApiError::Code::GuestError: return 502;
    case ApiError::Code::NoSpace: return 507;
    case ApiError::Code::Corrupted: return 422;
    case ApiError::Code::Unsupported: return 501;
    case ApiError::Code::VmFailed:
    case ApiError::Code::Internal: return 500;
    }
    return 500;
}

QByteArray errorBody(const ApiError &error)
{
    const QJsonObject body{
        {QStringLiteral("error"), QJsonObject{{QStringLiteral("code"), apiErrorCodeName(error.code)}, {QStringLiteral("message"), error.message}}}};
    return QJsonDocument(body).toJson(QJsonDocument::Compact);
}

HttpAnswer errorAnswer(const ApiError &error)
{
    HttpAnswer a{httpStatus(error.code), QByteArrayLiteral("application/json"), errorBody(error), {}, {}, 0};
    if (error.code == ApiError::Code::Unauthorized)
        a.headers.append({QByteArrayLiteral("WWW-Authenticate"), QByteArrayLiteral("Bearer realm=\"microvm-sandbox\"")});
    if (error.code == ApiError::Code::DisplayNotReady)
        a.headers.append({QByteArrayLiteral("Retry-After"), QByteArray::number(kDisplayNotReadyRetryAfterS)});
    if (error.code == ApiError::Code::TooManyRequests)
        a.headers.append({QByteArrayLiteral("Retry-After"), QByteArray::number(qMax(1, error.retryAfterS))});
    return a;
}

HttpAnswer httpAnswer(const ApiResult &result)
{
    if (!result)
        return errorAnswer(result.error());
    const Response &response = *result;
    if (response.kind == Response::Kind::Empty)
        return HttpAnswer{204, {}, {}, {}, {}, 0};
    HttpAnswer a;
    a.status = response.created ? 201 : 200;
    a.headers = response.headers;
    if (response.kind == Response::Kind::Bytes || response.kind == Response::Kind::Stream) {
        a.contentType = response.contentType;
        a.body = response.bytes;
        a.stream = response.stream;
        a.streamSize = response.streamSize;
        return a;
    }
    const QJsonDocument doc = response.json.isArray() ? QJsonDocument(response.json.toArray()) : QJsonDocument(response.json.toObject());
    a.contentType = QByteArrayLiteral("application/json");
    a.body = doc.toJson(QJsonDocument::Compact);
    return a;
}

QByteArray reasonPhrase(int status)
{
    switch (status) {
    case 200: return QByteArrayLiteral("OK");
    case 201: return QByteArrayLiteral("Created");
    case 204: return QByteArrayLiteral("No Content");
    case 400: return QByteArrayLiteral("Bad Request");
    case 401: return QByteArrayLiteral("Unauthorized");
    case 403: return QByteArrayLiteral("Forbidden");
    case 429: return QByteArrayLiteral("Too Many Requests");
    case 404: return QByteArrayLiteral("Not Found");
    case 405: return QByteArrayLiteral("Method Not Allowed");
    case 409: return QByteArrayLiteral("Conflict");
    case 413: return QByteArrayLiteral("Payload Too Large");
    case 422: return QByteArrayLiteral("Unprocessable Entity");
    case 500: return QByteArrayLiteral("Internal Server Error");
    case 501: return QByteArrayLiteral("Not Implemented");
    case 502: return QByteArrayLiteral("Bad Gateway");
    case 503: return QByteArrayLiteral("Service Unavailable");
    case 504: return QByteArrayLiteral("Gateway Timeout");
    case 507: return QByteArrayLiteral("Insufficient Storage");
    default: return QByteArrayLiteral("Status");
    }
}

QList<std::pair<QByteArray, QByteArray>> answerHeaders(const HttpAnswer &answer)
{
    QList<std::pair<QByteArray, QByteArray>> out = answer.headers;
    if (!answer.requestId.isEmpty())
        out.append({QByteArray(RequestId::kHeader), answer.requestId});
    return out;
}

QByteArray rawResponse(const HttpAnswer &answer)
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(answer.status) + ' ' + reasonPhrase(answer.status) + "\r\n";
    for (const auto &[name, value] : answerHeaders(answer)) {
        if (name == "WWW-Authenticate" || name == RequestId::kHeader)
            out += name + ": " + value + "\r\n";
    }
    out += "Content-Type: " + answer.contentType + "\r\n";
    out += "Content-Length: " + QByteArray::number(answer.body.size()) + "\r\nConnection: close\r\n\r\n";
    out += answer.body;
    return out;
}

namespace {

// The status line and every header, up to the blank line; a body of
// `length` bytes follows (none after a 204).
QByteArray head(const HttpAnswer &answer, qint64 length)
{
    QByteArray out = "HTTP/1.1 " + QByteArray::number(answer.status) + ' ' + reasonPhrase(answer.status) + "\r\n";
    for (const auto &[name, value] : answerHeaders(answer))
        out += name + ": " + value + "\r\n";
    if (answer.status == 204)
        return out + "\r\n";
    out += "Content-Type: " + answer.contentType + "\r\n";
    out += "Content-Length: " + QByteArray::number(length) + "\r\n\r\n";
    return out;
}

} // namespace

QByteArray httpResponse(const HttpAnswer &answer)
{
    return head(answer, answer.body.size()) + (answer.status == 204 ? QByteArray() : answer.body);
}

QByteArray streamedHead(const HttpAnswer &answer)
{
    return head(answer, answer.streamSize);
}

} // namespace Server
