#pragma once
// A response body copied from a device to the client's socket as the client
// takes it: read only while the socket's write queue is below kHighWater, so
// memory stays flat for any length (a guest file of 50 GiB). Qt 6.4's
// QHttpServerResponder::write(QIODevice *) does not fit: it sends a
// sequential device without Content-Length or chunked framing (the client
// cannot tell the end from a failure), in 512-byte pieces, and has no error
// path (qthttpserver v6.4 qhttpserverresponder.cpp, IOChunkedTransfer).

#include <QObject>
#include <QPointer>

#include <functional>
#include <memory>

class QIODevice;
class QTcpSocket;

namespace Server {

class StreamedBody final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(StreamedBody)
public:
    static constexpr qint64 kHighWater = 1 << 20; // bytes queued on the socket
    static constexpr qint64 kChunk = 256 << 10; // read from the device at a time

    // After the head was written: copies `size` bytes of body to socket.
    // done(true) once all went out; done(false) when the device ended short
    // (the connection is then closed, so the client sees a short body) or the
    // client went away. The body is closed when done. Lives on the socket.
    static void start(QTcpSocket *socket, std::shared_ptr<QIODevice> body, qint64 size, std::function<void(bool complete)> done);

private:
    StreamedBody(QTcpSocket *socket, std::shared_ptr<QIODevice> body, qint64 size, std::function<void(bool)> done);
    void pump();
    void finish(bool complete);

    QPointer<QTcpSocket> m_socket;
    std::shared_ptr<QIODevice> m_body;
    qint64 m_remaining;
    bool m_bodyEnded = false; // readChannelFinished seen
    std::function<void(bool)> m_done;
};

} // namespace Server
