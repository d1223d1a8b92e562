#include "server/uploadbody.h"

namespace Server {

UploadBody::UploadBody(QTcpSocket *socket, qint64 size, QObject *parent)
    : QIODevice(parent)
    , m_socket(socket)
    , m_size(size)
{
    setOpenMode(QIODevice::ReadOnly | QIODevice::Unbuffered);
    socket->setReadBufferSize(kSocketReadBuffer);
    connect(socket, &QTcpSocket::readyRead, this, [this]() {
        if (bytesAvailable() > 0)
            Q_EMIT readyRead();
    });
    // A client gone before the end: readers see the body end early.
    connect(socket, &QTcpSocket::disconnected, this, [this]() { Q_EMIT readyRead(); });
    connect(socket, &QObject::destroyed, this, [this]() { Q_EMIT readyRead(); });
}

qint64 UploadBody::bytesAvailable() const
{
    if (!m_socket)
        return 0;
    return qMin(m_socket->bytesAvailable(), m_size - m_read);
}

bool UploadBody::atEnd() const
{
    if (m_read >= m_size)
        return true;
    return bytesAvailable() == 0 && (!m_socket || m_socket->state() != QAbstractSocket::ConnectedState);
}

qint64 UploadBody::readData(char *data, qint64 maxSize)
{
    if (!m_socket)
        return m_read >= m_size ? -1 : 0;
    const qint64 n = m_socket->read(data, qMin(maxSize, m_size - m_read));
    if (n > 0)
        m_read += n;
    return n < 0 ? 0 : n;
}

} // namespace Server
