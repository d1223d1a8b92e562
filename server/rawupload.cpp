#include "server/rawupload.h"

#include "core/logcontext.h"
#include "server/httpmapping.h"
#include "server/uploadbody.h"

#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

namespace Server::RawUpload {
namespace {

// Read and drop what is left of the body, then close (or give up after a while).
void drainThenClose(QTcpSocket *client, const std::shared_ptr<UploadBody> &body)
{
    auto closeWhenDone = [client, body]() {
        body->skip(body->bytesAvailable());
        if (body->atEnd() && client->bytesToWrite() == 0)
            client->disconnectFromHost();
    };
    QObject::connect(client, &QIODevice::readyRead, client, closeWhenDone);
    QObject::connect(client, &QIODevice::bytesWritten, client, closeWhenDone);
    closeWhenDone();
    QTimer::singleShot(kDrainTimeoutMs, client, [client]() { client->abort(); });
}

} // namespace

void start(QTcpSocket *socket, Request request, qint64 contentLength, bool expectContinue, const Handler &handler, QObject *context,
           std::function<void(int status)> answered)
{
    auto body = std::make_shared<UploadBody>(socket, contentLength);
    request.bodyStream = body;
    request.bodyStreamSize = contentLength;
    const QPointer<QTcpSocket> guard(socket);
    const QByteArray requestId = request.requestId;
    const Core::Log::Scope scope({QString::fromLatin1(requestId), request.param(QStringLiteral("name"))});
    ApiFuture future = handler(request);
    // Answered at once (unknown VM, bad path): the client that asked
    // first is told before it sends the body.
    if (expectContinue && contentLength > 0 && !future.isFinished())
        socket->write("HTTP/1.1 100 Continue\r\n\r\n");
    Core::whenDone(future, context, [guard, body, answered, requestId](const ApiResult &result) {
        HttpAnswer answer = httpAnswer(result);
        answer.requestId = requestId;
        answered(answer.status);
        if (!guard || guard->state() != QAbstractSocket::ConnectedState)
            return;
        guard->write(rawResponse(answer));
        drainThenClose(guard.data(), body);
    });
}

} // namespace Server::RawUpload
