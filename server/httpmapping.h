#pragma once
// The one mapping of API answers to HTTP: ApiError::Code to a status (one
// switch), the JSON error body, and an answer as status, type, body and
// headers. Pure: the adapter writes an HttpAnswer's bytes to its socket.

#include "server/apitypes.h"

#include <QByteArray>
#include <QList>

#include <memory>

#include <utility>

namespace Server {

struct HttpAnswer {
    int status = 200;
    QByteArray contentType; // empty for 204
    QByteArray body;
    QList<std::pair<QByteArray, QByteArray>> headers; // extra headers (Allow, Set-Cookie, WWW-Authenticate...)
    QByteArray requestId; // sent as X-Request-Id (server/requestid.h) on every answer that has one
    // Instead of body: a body of streamSize bytes read from this device.
    std::shared_ptr<QIODevice> stream;
    qint64 streamSize = 0;
};

// display_not_ready answers say when to ask again.
inline constexpr int kDisplayNotReadyRetryAfterS = 1;

int httpStatus(ApiError::Code code);
// {"error": {"code": "...", "message": "..."}}
QByteArray errorBody(const ApiError &error);
HttpAnswer errorAnswer(const ApiError &error);
HttpAnswer httpAnswer(const ApiResult &result);
QByteArray reasonPhrase(int status);
// The extra headers an answer is sent with: its headers and X-Request-Id.
// Every way of writing an answer (each one below) takes them here.
QList<std::pair<QByteArray, QByteArray>> answerHeaders(const HttpAnswer &answer);
// The whole answer as HTTP/1.1 bytes, closing the connection (for the
// connections the adapter answers by hand).
QByteArray rawResponse(const HttpAnswer &answer);
// The whole answer as HTTP/1.1 bytes, every header with it; the connection
// stays open (a 204 has neither body nor Content-Length).
QByteArray httpResponse(const HttpAnswer &answer);
// The status line and headers of a streamed answer (Content-Length is its
// streamSize), up to the blank line; the connection stays open.
QByteArray streamedHead(const HttpAnswer &answer);

} // namespace Server
