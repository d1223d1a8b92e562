#include "core/agent/forwardedstream.h"

#include "core/agent/agentclient.h"
#include "core/agent/forwardstream.h"

#include <QPointer>

#include <utility>

namespace Agent {

ForwardedStream::ForwardedStream(AgentClient *client, std::weak_ptr<ForwardStream> stream, QString peer)
    : StreamDevice(client, QIODevice::ReadWrite)
    , m_stream(stream)
    , m_id(stream.lock()->id())
    , m_peer(std::move(peer))
{
}

ForwardedStream::~ForwardedStream()
{
    // A closing stream stays with the client until its queued bytes are out.
    if (m_state != State::Open)
        return;
    if (const auto stream = m_stream.lock())
        stream->abortInGuest();
}

qint64 ForwardedStream::bytesToWrite() const
{
    const auto stream = m_stream.lock();
    return stream ? stream->bytesToWrite() : 0;
}

bool ForwardedStream::canReadLine() const
{
    return unread().containsNewline() || QIODevice::canReadLine();
}

void ForwardedStream::taken(qint64 unread)
{
    if (unread <= kReadLowWater)
        drained();
}

qint64 ForwardedStream::writeData(const char *data, qint64 size)
{
    const auto stream = m_stream.lock();
    if (m_state != State::Open || !stream) {
        setErrorString(hasError() ? error().message : QStringLiteral("the forwarded connection to %1 is closed").arg(m_peer));
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

void ForwardedStream::drained()
{
    if (const auto stream = m_stream.lock())
        stream->drained();
}

void ForwardedStream::onData(QByteArray data)
{
    received(std::move(data));
}

void ForwardedStream::onPeerClosed()
{
    finish();
}

void ForwardedStream::onError(const Core::Error &error)
{
    if (fail(error))
        m_state = State::Closed;
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
    if (end())
        m_state = State::Closed;
}

bool ForwardedStream::emitProgress()
{
    const qint64 written = std::exchange(m_pendingWritten, 0);
    if (written <= 0)
        return true;
    const QPointer<ForwardedStream> self(this);
    Q_EMIT bytesWritten(written);
    return !self.isNull();
}

// Like a socket: the read channel, then the connection.
void ForwardedStream::emitEnd()
{
    const QPointer<ForwardedStream> self(this);
    Q_EMIT readChannelFinished();
    if (self)
        Q_EMIT disconnected();
}

} // namespace Agent
