#include "core/agent/filestreams.h"

#include <QIODevice>

namespace Agent {

using Protocol::MsgType;

FilePutStream::FilePutStream(AgentClient *client, quint32 id, std::shared_ptr<QIODevice> source, quint64 size)
    : AgentStream(client, id, QStringLiteral("the upload"))
    , m_source(std::move(source))
    , m_remaining(size)
{
}

Core::Future<quint64> FilePutStream::start(const Protocol::FilePut &request, const StreamLimits &limits)
{
    // A sequential source (a socket, a pipe) may have nothing yet: feed
    // again when it has.
    if (m_source->isSequential())
        pumpOnReadyRead(m_source.get());
    send(MsgType::FilePut, request.encode());
    startDeadline(limits.deadlineMs);
    return m_promise.future();
}

void FilePutStream::handleFrame(MsgType type, std::string_view payload)
{
    if (type != MsgType::FilePutDone)
        return;
    Protocol::FilePutDone m;
    if (!Protocol::FilePutDone::decode(payload, &m))
        return malformed();
    end();
    m_promise.resolve(m.bytesWritten);
}

bool FilePutStream::pump()
{
    if (m_endSent || !isActive())
        return false;
    if (m_remaining == 0) {
        send(MsgType::FileEnd);
        m_endSent = true;
        return false;
    }
    const qint64 want = static_cast<qint64>(qMin<quint64>(dataChunk(), m_remaining));
    const QByteArray chunk = m_source->read(want);
    if (chunk.isEmpty() && m_source->isSequential() && !m_source->atEnd())
        return false; // more comes with the source's readyRead
    if (chunk.isEmpty()) {
        // The source ended early: tell the guest, which drops the file.
        abort(Core::Error(Core::ErrorCode::Io, QStringLiteral("the upload source ended %1 bytes early").arg(m_remaining)), true);
        return false;
    }
    send(MsgType::FileData, std::string_view(chunk.constData(), static_cast<size_t>(chunk.size())));
    m_remaining -= static_cast<quint64>(chunk.size());
    return true;
}

void FilePutStream::failed(const Core::Error &error)
{
    m_promise.resolve(error);
}

FileGetStream::FileGetStream(AgentClient *client, quint32 id, const StreamLimits &limits, QString what)
    : AgentStream(client, id, std::move(what))
    , m_limits(limits)
{
}

void FileGetStream::sendGet(const QString &guestPath, int deadlineMs)
{
    send(MsgType::FileGet, Protocol::PathRequest{guestPath.toStdString()}.encode());
    startDeadline(deadlineMs);
}

void FileGetStream::handleFrame(MsgType type, std::string_view payload)
{
    switch (type) {
    case MsgType::FileGetInfo: return onInfo(payload);
    case MsgType::FileData: return onData(payload);
    case MsgType::FileEnd: return onEnd();
    default: return;
    }
}

void FileGetStream::onInfo(std::string_view payload)
{
    Protocol::FileGetInfo m;
    if (m_gotInfo || !Protocol::FileGetInfo::decode(payload, &m))
        return malformed();
    if (m_limits.maxBytes > 0 && m.size > quint64(m_limits.maxBytes)) {
        abort(Core::Error(Core::ErrorCode::InvalidArgument,
                          QStringLiteral("the file is %1 bytes, above the %2-byte limit of this download").arg(m.size).arg(m_limits.maxBytes),
                          static_cast<int>(Protocol::ErrorCode::TooLarge)),
              true);
        return;
    }
    m_gotInfo = true;
    m_expected = m.size;
    opened(m_expected);
}

void FileGetStream::onData(std::string_view payload)
{
    if (!m_gotInfo)
        return abort(Core::Error(Core::ErrorCode::Protocol, QStringLiteral("the guest agent sent file data before the file's size")), true);
    const quint64 n = payload.size();
    if (m_received + n > m_expected) {
        abort(Core::Error(Core::ErrorCode::Io,
                          QStringLiteral("the guest sent more than the %1 bytes it declared for the download (the file grew "
                                         "while being read?)")
                              .arg(m_expected)),
              true);
        return;
    }
    if (deliver(payload))
        m_received += n;
}

void FileGetStream::onEnd()
{
    if (!m_gotInfo)
        return malformed();
    if (m_received != m_expected) {
        abort(Core::Error(Core::ErrorCode::Io,
                          QStringLiteral("download ended after %1 of %2 bytes (the file changed while being read?)").arg(m_received).arg(m_expected)),
              false);
        return;
    }
    end();
    completed(m_received);
}

FileSaveStream::FileSaveStream(AgentClient *client, quint32 id, std::shared_ptr<QIODevice> sink, const StreamLimits &limits)
    : FileGetStream(client, id, limits, QStringLiteral("the download"))
    , m_sink(std::move(sink))
{
}

Core::Future<quint64> FileSaveStream::start(const QString &guestPath, int deadlineMs)
{
    sendGet(guestPath, deadlineMs);
    return m_promise.future();
}

bool FileSaveStream::deliver(std::string_view data)
{
    const qint64 n = static_cast<qint64>(data.size());
    if (m_sink->write(data.data(), n) == n)
        return true;
    abort(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the download: %1").arg(m_sink->errorString())), true);
    return false;
}

void FileSaveStream::completed(quint64 size)
{
    m_promise.resolve(size);
}

void FileSaveStream::failed(const Core::Error &error)
{
    m_promise.resolve(error);
}

} // namespace Agent
