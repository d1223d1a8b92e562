#pragma once
// One operation of a session (an exec, a transfer, a TCP forward), keyed by
// the host-chosen stream id.

#include "protocol/messages.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string_view>

namespace GuestAgent {

class Session;

class Stream : public std::enable_shared_from_this<Stream> {
public:
    Stream(Session &session, std::uint32_t id)
        : m_session(session)
        , m_id(id)
    {
    }
    virtual ~Stream() = default;
    Stream(const Stream &) = delete;
    Stream &operator=(const Stream &) = delete;

    std::uint32_t id() const { return m_id; }

    // A host frame for this stream other than Cancel.
    virtual void handleFrame(Protocol::MsgType type, std::string_view payload) = 0;
    // Host Cancel: end early, answering with the stream's normal end.
    virtual void cancel() = 0;
    // Drop every resource silently (kill processes, unlink temp files, close
    // fds). Called once when the stream leaves the session's table.
    virtual void release() = 0;
    // The session's output queue drained below its low-water mark, or the
    // host granted credit: read the source again if it was stopped.
    virtual void outputResumed() { }
    // Host bytes accepted but not yet delivered (stdin, TCP).
    virtual std::size_t inboundBuffered() const { return 0; }

    // Flow control (protocol/messages.h): the host's StreamCredit.
    void grantCredit(std::uint32_t bytes)
    {
        // A host granting beyond any sense cannot wrap the count.
        m_credit = std::min<std::uint64_t>(m_credit + bytes, kMaxCredit);
        outputResumed();
    }

protected:
    static constexpr std::uint64_t kMaxCredit = std::uint64_t(1) << 40;
    // What may go into the next data frame: the chunk size, capped by the
    // credit left. 0: stop reading the source until credit arrives.
    std::size_t sendable(std::size_t chunk) const { return static_cast<std::size_t>(std::min<std::uint64_t>(chunk, m_credit)); }
    void spendCredit(std::size_t bytes) { m_credit -= std::min<std::uint64_t>(bytes, m_credit); }
    bool hasCredit() const { return m_credit > 0; }

    Session &m_session;
    const std::uint32_t m_id;

private:
    std::uint64_t m_credit = Protocol::kStreamWindow; // data bytes the host still takes
};

} // namespace GuestAgent
