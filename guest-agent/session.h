#pragma once
// One protocol session over one byte channel (a socket, a virtio-serial port
// or an inherited fd): frame parsing, dispatch, the stream table and the
// outgoing queue with its backpressure.

#include "eventloop.h"
#include "uniquefd.h"

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace GuestAgent {

class PipeDrain;
class ProcessTable;
class Stream;

struct AgentConfig {
    bool allowShutdown = true;
    // Agent-wide, outliving every session (main owns them).
    PipeDrain *drain = nullptr;
    ProcessTable *processes = nullptr;
};

class Session {
public:
    enum class Mode {
        Socket, // end of file closes the session
        Serial, // end of file / POLLHUP means "host not connected": wait, keep the channel
    };

    // onClosed is called (from a posted task) once the channel is dead; the
    // owner then destroys the session.
    Session(EventLoop &loop, UniqueFd fd, Mode mode, std::string name, const AgentConfig &config, std::function<void()> onClosed);
    ~Session();
    Session(const Session &) = delete;
    Session &operator=(const Session &) = delete;

    // Sends Announce and starts reading.
    void start();
    const std::string &name() const { return m_name; }

    // --- for streams ---
    EventLoop &loop() { return m_loop; }
    void send(Protocol::MsgType type, std::uint32_t stream, std::string_view payload);
    void sendError(std::uint32_t stream, Protocol::ErrorCode code, std::string_view message);
    // Largest data chunk to put in one frame (kDataChunk capped by the peer).
    std::size_t chunkSize() const;
    // True while the output queue is above the high-water mark: streams stop
    // reading their sources until outputResumed().
    bool congested() const { return m_congested; }
    // Ends a stream: it is released now and destroyed after the current callback.
    void finishStream(std::uint32_t id);
    // A stream's inbound buffer shrank.
    void inboundChanged();
    std::uint32_t activeStreams() const { return static_cast<std::uint32_t>(m_streams.size()); }
    // Where an exec's pipes go once its answer is sent (background children
    // may still write to them).
    PipeDrain &drain() { return *m_config.drain; }

    static constexpr std::size_t kHighWater = 4u << 20;
    static constexpr std::size_t kLowWater = 2u << 20;
    static constexpr std::size_t kInboundLimit = 16u << 20;

private:
    void onIo(short revents);
    void readInput(short revents);
    void processFrames();
    void handleFrame(const Protocol::Frame &frame);
    void handleHello(std::string_view payload);
    void grantCredit(Stream &stream, std::string_view payload);
    void handleRequest(Protocol::MsgType type, std::uint32_t stream, std::string_view payload);
    bool acceptsStreamId(Protocol::MsgType type, std::uint32_t stream);
    template<typename StreamType, typename Argument>
    void startStream(std::uint32_t stream, const Argument &argument);
    // A PathRequest's path, or nothing (and the host told) if malformed or invalid.
    std::optional<std::string> requestedPath(std::uint32_t stream, std::string_view payload, const char *what);
    void handleStat(std::uint32_t stream, std::string_view payload);
    void handleList(std::uint32_t stream, std::string_view payload);
    void handleShutdown(std::uint32_t stream, std::string_view payload);
    void addStream(const std::shared_ptr<Stream> &stream);

    void flush();
    void updateEvents();
    void updateCongestion();
    void resetStreams();
    void dropQueuedOutput(bool all);
    void endOfInput();
    void fatal(const char *what, int err);
    void closeAfterFlush();
    void scheduleClose();

    void hostDisconnected();
    void checkHostConnected();
    void sendAnnounce();

    EventLoop &m_loop;
    UniqueFd m_fd;
    const Mode m_mode;
    const std::string m_name;
    const AgentConfig m_config;
    std::function<void()> m_onClosed;
    WatchHandle m_watch;
    TimerHandle m_hupTimer;
    TimerHandle m_closeTimer;

    Protocol::FrameReader m_reader;
    bool m_helloDone = false;
    std::uint32_t m_peerMax = Protocol::kDefaultMaxPayload;

    std::deque<std::string> m_out;
    std::size_t m_outOffset = 0; // bytes of m_out.front() already written
    std::size_t m_outBytes = 0; // unwritten bytes in m_out
    bool m_congested = false;
    bool m_resumePosted = false;

    bool m_hostConnected = true; // serial only
    bool m_closing = false; // no more input; close when the queue drains
    bool m_closed = false;

    std::map<std::uint32_t, std::shared_ptr<Stream>> m_streams;
    std::vector<std::shared_ptr<Stream>> m_graveyard;
    // Posted tasks hold a weak reference to know whether the session still exists.
    std::shared_ptr<int> m_alive = std::make_shared<int>(0);
};

} // namespace GuestAgent
