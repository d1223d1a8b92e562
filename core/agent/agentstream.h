#pragma once
// One operation on the agent connection (an exec, a transfer, a request, a
// forwarded connection), keyed by the stream id the client chose: the host
// side of guest-agent/stream.h. AgentClient keeps the table of streams and
// hands each its frames; the stream owns its state, its promise and its
// deadline.

#include "core/error.h"

#include "protocol/messages.h"

#include <QPointer>
#include <QTimer>

#include <memory>
#include <string_view>

class QIODevice;

namespace Agent {

class AgentClient;

class AgentStream : public std::enable_shared_from_this<AgentStream> {
    Q_DISABLE_COPY_MOVE(AgentStream)
public:
    // `what` names the operation in errors ("the command", "the download").
    AgentStream(AgentClient *client, quint32 id, QString what);
    virtual ~AgentStream();

    quint32 id() const { return m_id; }
    // In the client's table: the guest's frames for it still arrive.
    bool isActive() const;

    // A guest frame for this stream other than Error.
    virtual void handleFrame(Protocol::MsgType type, std::string_view payload) = 0;
    // The socket's write queue has room: send one chunk of what waits to go
    // out, if anything. True when something was sent.
    virtual bool pump() { return false; }
    // End with an error (the guest's, the connection's, the deadline's). The
    // client may be going away: this never calls into it.
    void fail(const Core::Error &error);
    // Leave the client's table, after telling the guest to drop the
    // operation when cancelInGuest, and fail.
    void abort(const Core::Error &error, bool cancelInGuest);

    // Flow control (protocol/messages.h), called by the client around
    // handleFrame() for each of the guest's data frames: spend credit for
    // `bytes` (false: the guest overran it; the stream is then cancelled in
    // the guest and failed with Protocol), then count them as handed to the
    // consumer and grant credit back in batches unless held.
    bool spendCredit(std::size_t bytes);
    void handedOver(std::size_t bytes);

protected:
    // Resolve the operation's promise with the error and tell its owner.
    virtual void failed(const Core::Error &error) = 0;
    // Just left the client's table (the client is still there).
    virtual void ended() { }

    AgentClient *client() const;
    void send(Protocol::MsgType type, std::string_view payload = {});
    quint32 dataChunk() const;
    // Leave the client's table: the guest's later frames for it are dropped.
    void end();
    void malformed();
    // Past ms (0: never) the stream is cancelled in the guest and fails with
    // Timeout.
    void startDeadline(int ms);
    void stopDeadline() { m_deadline.stop(); }
    // The consumer is behind (a forwarded stream's or a download's reader,
    // an exec's output): withhold this stream's credit while held, so the
    // guest stops sending on it once the window in flight is spent (at most
    // Protocol::kStreamWindow more bytes arrive). Every other stream goes on.
    void holdCredit(bool hold);
    // Send what waits to go out, on every stream, while the socket has room.
    void pumpAll();
    // Uploads from a sequential source: feed again when it has more.
    void pumpOnReadyRead(QIODevice *source);

private:
    void expire();

    QPointer<AgentClient> m_client; // null once the client is being destroyed
    const quint32 m_id;
    const QString m_what;
    void grantCredit();

    bool m_ended = false;
    bool m_holdingCredit = false;
    std::uint64_t m_credit = Protocol::kStreamWindow; // the guest may still send this much
    std::uint64_t m_unacked = 0; // handed to the consumer, not yet granted back
    QTimer m_deadline;
};

// The guest's Error frame as a core error: its code mapped where one fits,
// the guest's own code kept as the detail, its text through guestText().
Core::Error agentError(const Protocol::ErrorMsg &error);

// Text from the guest made fit for a one-line message or a log line: UTF-8
// decoded, control characters (newlines, escape sequences) shown as '?',
// cut after kMaxGuestTextChars with "...".
inline constexpr qsizetype kMaxGuestTextChars = 1024;
QString guestText(std::string_view raw);

} // namespace Agent
