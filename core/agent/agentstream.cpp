#include "core/agent/agentstream.h"

#include "core/agent/agentclient.h"

namespace Agent {

AgentStream::AgentStream(AgentClient *client, quint32 id, QString what)
    : m_client(client)
    , m_id(id)
    , m_what(std::move(what))
{
    m_deadline.setSingleShot(true);
    QObject::connect(&m_deadline, &QTimer::timeout, [this]() { expire(); });
}

AgentStream::~AgentStream() = default;

bool AgentStream::isActive() const
{
    return m_id != 0 && !m_ended && m_client;
}

AgentClient *AgentStream::client() const
{
    return m_client;
}

void AgentStream::fail(const Core::Error &error)
{
    m_ended = true;
    m_deadline.stop();
    failed(error);
}

void AgentStream::send(Protocol::MsgType type, std::string_view payload)
{
    if (!m_client)
        return;
    // The agent would drop every stream on a frame above its limit.
    if (payload.size() > m_client->maxPayload())
        return abort(m_client->tooLarge(m_what, payload.size()), false);
    m_client->send(type, m_id, payload);
}

quint32 AgentStream::dataChunk() const
{
    return m_client ? m_client->dataChunk() : Protocol::kDataChunk;
}

void AgentStream::end()
{
    if (m_ended)
        return;
    m_ended = true;
    m_deadline.stop();
    if (!m_client)
        return;
    ended();
    m_client->endStream(m_id);
}

void AgentStream::abort(const Core::Error &error, bool cancelInGuest)
{
    const std::shared_ptr<AgentStream> self = shared_from_this(); // end() drops the table's reference
    if (cancelInGuest && isActive())
        send(Protocol::MsgType::Cancel);
    end();
    fail(error);
}

void AgentStream::malformed()
{
    abort(Core::Error(Core::ErrorCode::Protocol, QStringLiteral("malformed reply from the guest agent")), false);
}

void AgentStream::startDeadline(int ms)
{
    if (ms > 0)
        m_deadline.start(ms);
}

void AgentStream::expire()
{
    abort(Core::Error(Core::ErrorCode::Timeout, QStringLiteral("the guest agent did not finish %1 within %2 ms").arg(m_what).arg(m_deadline.interval())), true);
}

void AgentStream::holdCredit(bool hold)
{
    if (hold == m_holdingCredit)
        return;
    m_holdingCredit = hold;
    grantCredit();
}

bool AgentStream::spendCredit(std::size_t bytes)
{
    if (bytes <= m_credit) {
        m_credit -= bytes;
        return true;
    }
    abort(Core::Error(Core::ErrorCode::Protocol,
                      QStringLiteral("the guest agent sent %1 bytes on stream %2 of %3, above the %4 bytes of credit it had")
                          .arg(bytes)
                          .arg(m_id)
                          .arg(m_what)
                          .arg(m_credit)),
          true);
    return false;
}

void AgentStream::handedOver(std::size_t bytes)
{
    m_unacked += bytes;
    grantCredit();
}

// What the consumer took goes back to the guest as credit, a batch at a
// time, unless the consumer is held.
void AgentStream::grantCredit()
{
    if (m_holdingCredit || m_unacked < Protocol::kCreditBatch || !isActive())
        return;
    const auto bytes = static_cast<std::uint32_t>(std::exchange(m_unacked, 0));
    m_credit += bytes;
    send(Protocol::MsgType::StreamCredit, Protocol::StreamCredit{bytes}.encode());
}

void AgentStream::pumpAll()
{
    if (m_client)
        m_client->pumpUploads();
}

void AgentStream::pumpOnReadyRead(QIODevice *source)
{
    if (m_client)
        QObject::connect(source, &QIODevice::readyRead, m_client, &AgentClient::pumpUploads);
}

Core::Error agentError(const Protocol::ErrorMsg &e)
{
    // Map the guest's code onto core codes where one fits, keep the detail.
    Core::ErrorCode code = Core::ErrorCode::Agent;
    switch (e.code) {
    case Protocol::ErrorCode::NotFound: code = Core::ErrorCode::NotFound; break;
    case Protocol::ErrorCode::PermissionDenied: code = Core::ErrorCode::PermissionDenied; break;
    case Protocol::ErrorCode::InvalidArgument:
    case Protocol::ErrorCode::IsDirectory:
    case Protocol::ErrorCode::NotDirectory: code = Core::ErrorCode::InvalidArgument; break;
    case Protocol::ErrorCode::NoSpace: code = Core::ErrorCode::NoSpace; break;
    case Protocol::ErrorCode::Exists: code = Core::ErrorCode::AlreadyExists; break;
    case Protocol::ErrorCode::Cancelled: code = Core::ErrorCode::Cancelled; break;
    case Protocol::ErrorCode::Protocol: code = Core::ErrorCode::Protocol; break;
    case Protocol::ErrorCode::Unsupported: code = Core::ErrorCode::Unsupported; break;
    case Protocol::ErrorCode::Busy: code = Core::ErrorCode::InvalidState; break; // a guest limit reached (background processes)
    case Protocol::ErrorCode::ConnectionRefused: code = Core::ErrorCode::NotFound; break; // nothing listens there
    default: break;
    }
    return Core::Error(code, QStringLiteral("guest: %1").arg(guestText(e.message)), static_cast<int>(e.code));
}

QString guestText(std::string_view raw)
{
    const std::string_view head = raw.substr(0, std::size_t(kMaxGuestTextChars) * 4); // at most 4 UTF-8 bytes a character
    QString text = QString::fromUtf8(head.data(), qsizetype(head.size()));
    const bool cut = text.size() > kMaxGuestTextChars || head.size() < raw.size();
    text.truncate(kMaxGuestTextChars);
    for (QChar &c : text) {
        if (c.category() == QChar::Other_Control || c == QChar::LineSeparator || c == QChar::ParagraphSeparator)
            c = QLatin1Char('?');
    }
    return cut ? text + QStringLiteral("...") : text;
}

} // namespace Agent
