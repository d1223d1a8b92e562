#pragma once
// The one mapping of API answers to HTTP: ApiError::Code to a status (one
// switch), the JSON error body, and an answer as status, type, body and
// headers. Pure: the adapter turns an HttpAnswer into Qt's response, the
// raw paths write it by hand.

#include "server/apitypes.h"

#include <QByteArray>
#include <QList>

#include <utility>

namespace Server {

struct HttpAnswer {
    int status = 200;
    QByteArray contentType; // empty for 204
    QByteArray body;
    QList<std::pair<QByteArray, QByteArray>> headers; // extra headers (Allow, Set-Cookie, WWW-Authenticate...)
};

int httpStatus(ApiError::Code code);
// {"error": {"code": "...", "message": "..."}}
QByteArray errorBody(const ApiError &error);
HttpAnswer errorAnswer(const ApiError &error);
HttpAnswer httpAnswer(const ApiResult &result);
QByteArray reasonPhrase(int status);
// The whole answer as HTTP/1.1 bytes, closing the connection (for the
// connections the adapter answers by hand).
QByteArray rawResponse(const HttpAnswer &answer);

} // namespace Server
