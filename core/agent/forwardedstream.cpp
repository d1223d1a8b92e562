#include "core/agent/forwardedstream.h"

#include "core/agent/agentclient.h"
#include "core/agent/forwardstream.h"

#include <utility>

namespace Agent {

ForwardedStream::ForwardedStream(AgentClient *client, std::weak_ptr<ForwardStream> stream, QString peer)
    : QIODevice(client)
    , m_stream(stream)
    , m_id(stream.lock()->id())
    , m_peer(std::move(peer))
{
    // Our own read buffer (the chunks) is the only one.
    QIODevice::open(QIODevice::ReadWrite | QIODevice::Unbuffered);
}

ForwardedStream::~ForwardedStream()
{
    // A closing stream stays with the client until its queued bytes are out.
    if (m_state != State::Open)
        return;
    if (const auto stream = m_stream.lock())
        stream->abortInGuest();
}

qint64 ForwardedStream::bytesAvailable() const
{
    return m_unread.size() + QIODevice::bytesAvailable();
}

qint64 ForwardedStream::bytesToWrite() const
{
    const auto stream = m_stream.lock();
    return stream ? stream->bytesToWrite() : 0;
}

bool ForwardedStream::canReadLine() const
{
    return m_unread.containsNewline() || QIODevice::canReadLine();
}

qint64 ForwardedStream::readData(char *data, qint64 maxSize)
{
    const qint64 done = m_unread.read(data, maxSize);
    if (done > 0 && m_unread.size() <= kReadLowWater)
        drained();
    if (done == 0 && m_state == State::Closed)
        return -1; // the end: nothing more will come
    return done;
}

qint64 ForwardedStream::writeData(const char *data, qint64 size)
{
    const auto stream = m_stream.lock();
    if (m_state != State::Open || !stream) {
        setErrorString(m_hasError ? m_error.message : QStringLiteral("the forwarded connection to %1 is closed").arg(m_peer));
        return -1;
    }
    stream->queue(data, size);
    return size;
}

void ForwardedStream::close()
{
    if (!isOpen())
        return;
    if (m_state == State::Open) {
        m_state = State::Closing;
        if (const auto stream = m_stream.lock())
            stream->closeAfterFlush(); // may finish at once when nothing is queued
        else
            finish();
    }
    dropUnread();
    drained();
    QIODevice::close();
}

void ForwardedStream::abort()
{
    if (m_state != State::Closed) {
        if (const auto stream = m_stream.lock())
            stream->abortInGuest();
        finish();
    }
    dropUnread();
    QIODevice::close();
}

void ForwardedStream::dropUnread()
{
    m_unread.clear();
}

void ForwardedStream::drained()
{
    if (const auto stream = m_stream.lock())
        stream->drained();
}

void ForwardedStream::onData(QByteArray data)
{
    m_unread.append(std::move(data));
    m_pendingReadyRead = true;
    scheduleSignals();
}

void ForwardedStream::onPeerClosed()
{
    finish();
}

void ForwardedStream::onError(const Core::Error &error)
{
    if (m_state == State::Closed)
        return;
    m_hasError = true;
    m_error = error;
    setErrorString(error.message);
    m_pendingError = true;
    finish();
}

void ForwardedStream::onFlushedAndClosed()
{
    finish();
}

void ForwardedStream::onHandedOver(qint64 bytes)
{
    m_pendingWritten += bytes;
    scheduleSignals();
}

void ForwardedStream::finish()
{
    if (m_state == State::Closed)
        return;
    m_state = State::Closed;
    m_pendingEnd = true;
    scheduleSignals();
}

void ForwardedStream::scheduleSignals()
{
    if (m_signalsPosted)
        return;
    m_signalsPosted = true;
    QMetaObject::invokeMethod(this, &ForwardedStream::emitSignals, Qt::QueuedConnection);
}

// In the order a socket would: data, progress, the failure, the end. A slot
// may delete the stream (deleteLater is the safe way, but be robust).
void ForwardedStream::emitSignals()
{
    m_signalsPosted = false;
    const QPointer<ForwardedStream> self(this);
    if (std::exchange(m_pendingReadyRead, false) && bytesAvailable() > 0) {
        Q_EMIT readyRead();
        if (!self)
            return;
    }
    if (const qint64 written = std::exchange(m_pendingWritten, 0); written > 0) {
        Q_EMIT bytesWritten(written);
        if (!self)
            return;
    }
    if (std::exchange(m_pendingError, false)) {
        Q_EMIT errorOccurred(m_error);
        if (!self)
            return;
    }
    if (std::exchange(m_pendingEnd, false)) {
        Q_EMIT readChannelFinished();
        if (!self)
            return;
        Q_EMIT disconnected();
    }
}

} // namespace Agent
