#pragma once
// The raw upload path: a file upload with a declared length, taken from the
// HTTP server (which would buffer it whole) and streamed to its route's
// handler through an UploadBody. The answer is written by hand and closes
// the connection; an answer that comes before the body was read (an unknown
// VM, a bad path) is followed by reading and dropping the rest of the
// declared body, so that closing does not reset the connection and lose it.

#include "server/router.h"

#include <functional>

class QTcpSocket;

namespace Server {

namespace RawUpload {

constexpr int kDrainTimeoutMs = 30000; // the rest of an upload answered early

// socket: the client's, positioned at the body, no longer read by the HTTP
// server. request: everything but the body. answered(status) runs once the
// handler answered, even when the client is gone. Nothing runs once context
// is gone.
void start(QTcpSocket *socket, Request request, qint64 contentLength, bool expectContinue, const Handler &handler, QObject *context,
           std::function<void(int status)> answered);

} // namespace RawUpload

} // namespace Server
