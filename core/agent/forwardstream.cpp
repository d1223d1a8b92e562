#include "core/agent/forwardstream.h"

#include "core/agent/forwardedstream.h"
#include "core/agent/streamlimits.h"
#include "core/log.h"

namespace Agent {

using Protocol::MsgType;

ForwardStream::ForwardStream(AgentClient *client, quint32 id)
    : AgentStream(client, id, QStringLiteral("opening the connection"))
{
}

Core::Future<ForwardedStream *> ForwardStream::start(const QString &host, quint16 port)
{
    const bool bareIpv6 = host.contains(QLatin1Char(':')) && !host.startsWith(QLatin1Char('['));
    const QString peer = (bareIpv6 ? QLatin1Char('[') + host + QLatin1Char(']') : host) + QLatin1Char(':') + QString::number(port);
    m_device = new ForwardedStream(client(), std::static_pointer_cast<ForwardStream>(shared_from_this()), peer);
    send(MsgType::StreamOpen, Protocol::StreamOpen{host.toStdString(), port}.encode());
    startDeadline(StreamLimits::kRequestDeadlineMs);
    return m_openPromise.future();
}

void ForwardStream::handleFrame(MsgType type, std::string_view payload)
{
    if (type == MsgType::StreamOpened && !m_opened)
        onOpened();
    else if (type == MsgType::StreamData && m_opened)
        onData(payload);
    else if (type == MsgType::StreamClose)
        onClosed();
    else
        malformed();
}

void ForwardStream::onOpened()
{
    m_opened = true;
    stopDeadline(); // a connection lasts as long as its users want
    if (!m_device) { // the client is going away
        send(MsgType::Cancel);
        end();
        return;
    }
    Core::Log::agent()->debug("stream {}: connected to {} in the guest", id(), m_device->peerName().toStdString());
    m_openPromise.resolve(m_device.data());
}

void ForwardStream::onData(std::string_view payload)
{
    if (m_closeAfterFlush || !m_device)
        return; // closed for reading on this side
    m_device->onData(QByteArray(payload.data(), static_cast<qsizetype>(payload.size())));
    if (m_device->isReaderBehind())
        holdCredit(true);
}

void ForwardStream::onClosed()
{
    if (!m_opened) {
        abort(Core::Error(Core::ErrorCode::Protocol, QStringLiteral("the guest agent closed stream %1 before opening it").arg(id())), false);
        return;
    }
    end();
    if (m_device)
        m_device->onPeerClosed();
}

bool ForwardStream::pump()
{
    if (!m_opened || !isActive())
        return false;
    if (!m_out.isEmpty()) {
        const QByteArray payload = m_out.take(dataChunk());
        send(MsgType::StreamData, std::string_view(payload.constData(), static_cast<size_t>(payload.size())));
        if (m_device)
            m_device->onHandedOver(payload.size());
        return true;
    }
    if (m_closeAfterFlush) {
        send(MsgType::StreamClose);
        end();
        if (m_device)
            m_device->onFlushedAndClosed();
    }
    return false;
}

void ForwardStream::queue(const char *data, qint64 size)
{
    if (!isActive() || m_closeAfterFlush || size <= 0)
        return;
    m_out.append(QByteArray(data, static_cast<qsizetype>(size)));
    pumpAll();
}

void ForwardStream::closeAfterFlush()
{
    if (!isActive() || m_closeAfterFlush)
        return;
    m_closeAfterFlush = true;
    pumpAll();
}

void ForwardStream::abortInGuest()
{
    if (!isActive())
        return;
    send(MsgType::Cancel); // the guest resets its connection
    end();
}

void ForwardStream::drained()
{
    if (isActive() && (!m_device || m_device->hasReaderCaughtUp()))
        holdCredit(false);
}

void ForwardStream::failed(const Core::Error &error)
{
    if (!m_opened) {
        m_openPromise.resolve(error);
        if (m_device)
            m_device->deleteLater();
    } else if (m_device) {
        m_device->onError(error);
    }
}

} // namespace Agent
