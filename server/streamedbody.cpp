#include "server/streamedbody.h"

#include <QIODevice>
#include <QTcpSocket>

namespace Server {

void StreamedBody::start(QTcpSocket *socket, std::shared_ptr<QIODevice> body, qint64 size, std::function<void(bool complete)> done)
{
    auto *s = new StreamedBody(socket, std::move(body), size, std::move(done));
    s->pump();
}

StreamedBody::StreamedBody(QTcpSocket *socket, std::shared_ptr<QIODevice> body, qint64 size, std::function<void(bool)> done)
    : QObject(socket)
    , m_socket(socket)
    , m_body(std::move(body))
    , m_remaining(size)
    , m_done(std::move(done))
{
    connect(socket, &QTcpSocket::bytesWritten, this, &StreamedBody::pump);
    connect(socket, &QTcpSocket::disconnected, this, [this]() { finish(false); });
    connect(m_body.get(), &QIODevice::readyRead, this, &StreamedBody::pump);
    connect(m_body.get(), &QIODevice::readChannelFinished, this, [this]() {
        m_bodyEnded = true;
        pump();
    });
}

void StreamedBody::pump()
{
    if (!m_done)
        return;
    if (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState)
        return finish(false);
    while (m_remaining > 0 && m_socket->bytesToWrite() < kHighWater) {
        const QByteArray chunk = m_body->read(qMin(kChunk, m_remaining));
        if (chunk.isEmpty()) {
            // Nothing now: more comes with readyRead, unless this is the end.
            if (m_bodyEnded || m_body->atEnd() || !m_body->isOpen())
                return finish(false);
            return;
        }
        m_socket->write(chunk);
        m_remaining -= chunk.size();
    }
    if (m_remaining == 0)
        finish(true);
}

void StreamedBody::finish(bool complete)
{
    const std::function<void(bool)> done = std::exchange(m_done, nullptr);
    if (!done)
        return;
    m_body->disconnect(this);
    m_body->close(); // unfinished: cancelled at its source
    if (m_socket) {
        m_socket->disconnect(this);
        if (!complete)
            m_socket->disconnectFromHost(); // what went out goes, then the end
    }
    deleteLater();
    done(complete);
}

} // namespace Server
