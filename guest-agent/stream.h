#pragma once
// One operation of a session (an exec, a transfer, a TCP forward), keyed by
// the host-chosen stream id.

#include "protocol/messages.h"

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
    // The session's output queue drained below its low-water mark.
    virtual void outputResumed() { }
    // Host bytes accepted but not yet delivered (stdin, TCP).
    virtual std::size_t inboundBuffered() const { return 0; }

protected:
    Session &m_session;
    const std::uint32_t m_id;
};

} // namespace GuestAgent
