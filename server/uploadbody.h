#pragma once
// A request body read straight off the client's socket, as a sequential
// QIODevice of exactly the declared Content-Length. HttpAdapter hands one to
// the controller for uploads, so a file of any size streams to the guest
// instead of being buffered whole (Qt 6.4's server buffers every body).
//
// Backpressure: the socket's read buffer is capped, so a client that sends
// faster than the guest takes the data is held back by TCP.
// End: atEnd() is true once every declared byte was read, or when the client
// disconnected and nothing is left (the reader then sees the body end early).

#include <QIODevice>
#include <QPointer>
#include <QTcpSocket>

namespace Server {

class UploadBody final : public QIODevice {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UploadBody)
public:
    static constexpr qint64 kSocketReadBuffer = 4 << 20;

    UploadBody(QTcpSocket *socket, qint64 size, QObject *parent = nullptr);

    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override;
    bool atEnd() const override;

    qint64 size() const override { return m_size; }
    qint64 received() const { return m_read; }
    bool complete() const { return m_read == m_size; }

protected:
    qint64 readData(char *data, qint64 maxSize) override;
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QPointer<QTcpSocket> m_socket;
    qint64 m_size = 0;
    qint64 m_read = 0;
};

} // namespace Server
