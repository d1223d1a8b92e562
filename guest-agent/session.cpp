#include "session.h"

#include "execstream.h"
#include "filestreams.h"
#include "forwardstream.h"
#include "processtable.h"
#include "stream.h"
#include "sysinfo.h"
#include "util.h"

#include <algorithm>
#include <cerrno>
#include <poll.h>
#include <sys/reboot.h>
#include <sys/uio.h>
#include <unistd.h>

namespace GuestAgent {

using Protocol::ErrorCode;
using Protocol::MsgType;

namespace {

// Smallest maximum payload a host may announce: every reply except data
// chunks and listings must fit.
constexpr std::uint32_t kMinPeerPayload = 4096;
constexpr std::uint64_t kHostPollMs = 50;
constexpr std::uint64_t kCloseFlushMs = 2000;
constexpr std::size_t kReadSize = 256u * 1024u;
constexpr std::size_t kMaxErrorMessage = 2048;

// Printable, bounded copy of a host-provided string for the log.
std::string printable(std::string_view s)
{
    std::string out;
    for (char c : s.substr(0, 120))
        out += (c >= 0x20 && c < 0x7f) ? c : '?';
    return out;
}

// The request's payload decoded, or nothing (and the host told) if malformed.
template<typename Request>
std::optional<Request> decodeRequest(Session &session, std::uint32_t id, std::string_view payload, const char *what)
{
    Request req;
    if (Request::decode(payload, &req))
        return req;
    session.sendError(id, ErrorCode::Protocol, std::string("malformed ") + what + " payload");
    return std::nullopt;
}

} // namespace

Session::Session(EventLoop &loop, UniqueFd fd, Mode mode, std::string name, const AgentConfig &config, std::function<void()> onClosed)
    : m_loop(loop)
    , m_fd(std::move(fd))
    , m_mode(mode)
    , m_name(std::move(name))
    , m_config(config)
    , m_onClosed(std::move(onClosed))
{
    m_watch = WatchHandle(&m_loop, m_loop.addWatch(m_fd.get(), 0, [this](short revents) { onIo(revents); }));
}

Session::~Session()
{
    m_closed = true;
    for (auto &[id, stream] : m_streams)
        stream->release();
    m_streams.clear();
    m_graveyard.clear();
}

void Session::start()
{
    sendAnnounce();
    updateEvents();
}

void Session::sendAnnounce()
{
    Protocol::Announce announce;
    announce.agentVersion = MVS_AGENT_VERSION;
    send(MsgType::Announce, 0, announce.encode());
}

std::size_t Session::chunkSize() const
{
    return std::min<std::size_t>(Protocol::kDataChunk, m_peerMax);
}

// ---------------------------------------------------------------- output

void Session::send(MsgType type, std::uint32_t stream, std::string_view payload)
{
    if (m_closed || !m_hostConnected)
        return;
    if (payload.size() > m_peerMax) {
        logMessage("%s: reply type %u on stream %u is %zu bytes, above the host's maximum %u", m_name.c_str(), static_cast<unsigned>(type), stream,
                   payload.size(), m_peerMax);
        if (type != MsgType::Error)
            sendError(stream, ErrorCode::TooLarge, "reply larger than the host's maximum payload");
        return;
    }
    std::string frame = Protocol::encodeFrame(static_cast<std::uint8_t>(type), stream, payload);
    m_outBytes += frame.size();
    m_out.push_back(std::move(frame));
    flush();
}

void Session::sendError(std::uint32_t stream, ErrorCode code, std::string_view message)
{
    Protocol::ErrorMsg err;
    err.code = code;
    err.message = std::string(message.substr(0, kMaxErrorMessage));
    send(MsgType::Error, stream, err.encode());
}

void Session::flush()
{
    while (!m_out.empty() && !m_closed) {
        iovec iov[64];
        int count = 0;
        std::size_t offset = m_outOffset;
        for (auto it = m_out.begin(); it != m_out.end() && count < 64; ++it, ++count) {
            iov[count].iov_base = it->data() + offset;
            iov[count].iov_len = it->size() - offset;
            offset = 0;
        }
        const ssize_t n = ::writev(m_fd.get(), iov, count);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            fatal("write", errno);
            return;
        }
        auto left = static_cast<std::size_t>(n);
        m_outBytes -= left;
        while (left > 0) {
            const std::size_t inFront = m_out.front().size() - m_outOffset;
            if (left >= inFront) {
                left -= inFront;
                m_out.pop_front();
                m_outOffset = 0;
            } else {
                m_outOffset += left;
                left = 0;
            }
        }
    }
    updateCongestion();
    updateEvents();
    if (m_closing && m_out.empty())
        scheduleClose();
}

void Session::dropQueuedOutput(bool all)
{
    if (!all && m_outOffset > 0 && !m_out.empty()) {
        // Keep the partly written frame so the byte stream stays framed.
        std::string front = std::move(m_out.front());
        m_out.clear();
        m_outBytes = front.size() - m_outOffset;
        m_out.push_back(std::move(front));
    } else {
        m_out.clear();
        m_outOffset = 0;
        m_outBytes = 0;
    }
    updateCongestion();
    updateEvents();
}

void Session::updateCongestion()
{
    if (!m_congested && m_outBytes > kHighWater) {
        m_congested = true;
    } else if (m_congested && m_outBytes < kLowWater) {
        m_congested = false;
        if (m_resumePosted)
            return;
        m_resumePosted = true;
        m_loop.post([weak = std::weak_ptr<int>(m_alive), this] {
            if (!weak.lock())
                return;
            m_resumePosted = false;
            const auto streams = m_streams;
            for (const auto &[id, stream] : streams) {
                if (m_congested)
                    break;
                const auto it = m_streams.find(id);
                if (it != m_streams.end() && it->second == stream)
                    stream->outputResumed();
            }
        });
    }
}

void Session::updateEvents()
{
    if (m_closed || !m_hostConnected) {
        m_watch.setEvents(0);
        return;
    }
    short events = 0;
    if (!m_closing) {
        std::size_t inbound = 0;
        for (const auto &[id, stream] : m_streams)
            inbound += stream->inboundBuffered();
        if (inbound < kInboundLimit)
            events |= POLLIN;
    }
    if (!m_out.empty())
        events |= POLLOUT;
    m_watch.setEvents(events);
}

void Session::inboundChanged()
{
    updateEvents();
}

// ---------------------------------------------------------------- input

void Session::onIo(short revents)
{
    if (revents & POLLNVAL) {
        fatal("poll", EBADF);
        return;
    }
    if (revents & POLLOUT)
        flush();
    if (m_closed || m_closing || !m_hostConnected)
        return;
    if (revents & (POLLIN | POLLHUP | POLLERR))
        readInput(revents);
}

void Session::readInput(short revents)
{
    static char buf[kReadSize];
    const ssize_t n = ::read(m_fd.get(), buf, sizeof buf);
    if (n > 0) {
        m_reader.feed(buf, static_cast<std::size_t>(n));
        processFrames();
        return;
    }
    if (n == 0) {
        endOfInput();
        return;
    }
    if (errno == EINTR)
        return;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (revents & (POLLHUP | POLLERR))
            endOfInput();
        return;
    }
    fatal("read", errno);
}

void Session::endOfInput()
{
    if (m_mode == Mode::Serial) {
        hostDisconnected();
        return;
    }
    scheduleClose();
}

void Session::processFrames()
{
    Protocol::Frame frame;
    while (!m_closed && !m_closing && m_hostConnected) {
        const auto status = m_reader.next(&frame);
        if (status == Protocol::FrameReader::Status::NeedMore)
            break;
        if (status == Protocol::FrameReader::Status::Oversize) {
            const auto &header = m_reader.lastHeader();
            logMessage("%s: frame type %u on stream %u announces %u payload bytes, maximum is %u", m_name.c_str(), header.type, header.stream, header.length,
                       m_reader.maxPayload());
            sendError(0, ErrorCode::Protocol, "frame too large");
            m_reader.reset();
            if (m_mode == Mode::Socket) {
                closeAfterFlush();
            } else {
                resetStreams();
                m_helloDone = false;
            }
            break;
        }
        handleFrame(frame);
    }
    updateEvents();
}

void Session::handleFrame(const Protocol::Frame &frame)
{
    const auto type = static_cast<MsgType>(frame.header.type);
    const std::uint32_t id = frame.header.stream;
    const std::string_view payload = frame.payload;

    switch (type) {
    case MsgType::Hello:
        if (id != 0) {
            sendError(id, ErrorCode::Protocol, "Hello must be sent on stream 0");
            return;
        }
        handleHello(payload);
        return;
    case MsgType::Error: return; // never answer an error with an error
    case MsgType::ExecStart:
    case MsgType::FilePut:
    case MsgType::FileGet:
    case MsgType::Stat:
    case MsgType::List:
    case MsgType::Health:
    case MsgType::StreamOpen:
    case MsgType::Shutdown:
    case MsgType::ProcessStart:
    case MsgType::ProcessList:
    case MsgType::ProcessStatus:
    case MsgType::ProcessRead:
    case MsgType::ProcessWrite:
    case MsgType::ProcessSignal:
    case MsgType::ProcessRemove:
        if (!m_helloDone) {
            sendError(id, ErrorCode::Protocol, "no session: send Hello first");
            return;
        }
        handleRequest(type, id, payload);
        return;
    case MsgType::ExecStdin:
    case MsgType::ExecStdinEof:
    case MsgType::FileData:
    case MsgType::FileEnd:
    case MsgType::StreamData:
    case MsgType::StreamClose:
    case MsgType::StreamCredit:
    case MsgType::Cancel: {
        if (!m_helloDone || id == 0)
            return;
        const auto it = m_streams.find(id);
        if (it == m_streams.end())
            return; // unknown or ended stream: data is dropped silently
        const std::shared_ptr<Stream> stream = it->second;
        if (type == MsgType::Cancel)
            stream->cancel();
        else if (type == MsgType::StreamCredit)
            grantCredit(*stream, payload);
        else
            stream->handleFrame(type, payload);
        return;
    }
    default: break;
    }
    sendError(id, ErrorCode::Unsupported, "unsupported message type " + std::to_string(frame.header.type));
}

void Session::grantCredit(Stream &stream, std::string_view payload)
{
    Protocol::StreamCredit credit;
    if (!Protocol::StreamCredit::decode(payload, &credit)) {
        const std::uint32_t id = stream.id();
        finishStream(id); // released first: its process or file is gone when the host hears
        sendError(id, ErrorCode::Protocol, "malformed StreamCredit payload");
        return;
    }
    stream.grantCredit(credit.bytes);
}

void Session::handleHello(std::string_view payload)
{
    Protocol::Hello hello;
    if (!Protocol::Hello::decode(payload, &hello)) {
        sendError(0, ErrorCode::Protocol, "malformed Hello");
        return;
    }
    // A Hello always starts over: whatever the previous host left running goes.
    resetStreams();
    dropQueuedOutput(false);
    m_helloDone = false;
    m_peerMax = Protocol::kDefaultMaxPayload;
    if (hello.version != Protocol::kVersion) {
        sendError(0, ErrorCode::Protocol,
                  std::string(Protocol::kVersionRefusal) + " " + std::to_string(hello.version) + " (agent speaks " + std::to_string(Protocol::kVersion) + ")");
        return;
    }
    if (hello.maxPayload < kMinPeerPayload) {
        sendError(0, ErrorCode::InvalidArgument, "maxPayload " + std::to_string(hello.maxPayload) + " is below the minimum " + std::to_string(kMinPeerPayload));
        return;
    }
    m_peerMax = std::min(hello.maxPayload, Protocol::kMaxPayloadCeiling);
    m_helloDone = true;

    Protocol::HelloAck ack;
    ack.maxPayload = m_reader.maxPayload();
    ack.nonce = hello.nonce;
    ack.agentVersion = MVS_AGENT_VERSION;
    ack.bootId = bootId();
    send(MsgType::HelloAck, 0, ack.encode());
    logMessage("%s: session started by \"%s\"", m_name.c_str(), printable(hello.client).c_str());
}

void Session::addStream(const std::shared_ptr<Stream> &stream)
{
    m_streams.emplace(stream->id(), stream);
}

template<typename StreamType, typename Argument>
void Session::startStream(std::uint32_t id, const Argument &argument)
{
    auto stream = std::make_shared<StreamType>(*this, id);
    addStream(stream);
    stream->start(argument);
}

bool Session::acceptsStreamId(MsgType type, std::uint32_t id)
{
    if (id == 0 && type != MsgType::Health && type != MsgType::Shutdown) {
        sendError(0, ErrorCode::Protocol, "operations need a non-zero stream id");
        return false;
    }
    if (id != 0 && m_streams.count(id) != 0) {
        sendError(id, ErrorCode::Busy, "stream " + std::to_string(id) + " is in use");
        return false;
    }
    return true;
}

void Session::handleRequest(MsgType type, std::uint32_t id, std::string_view payload)
{
    if (!acceptsStreamId(type, id))
        return;
    switch (type) {
    case MsgType::ExecStart:
        if (const auto req = decodeRequest<Protocol::ExecStart>(*this, id, payload, "ExecStart"))
            startStream<ExecStream>(id, *req);
        return;
    case MsgType::FilePut:
        if (const auto req = decodeRequest<Protocol::FilePut>(*this, id, payload, "FilePut"))
            startStream<FilePutStream>(id, *req);
        return;
    case MsgType::FileGet:
        if (const auto req = decodeRequest<Protocol::PathRequest>(*this, id, payload, "FileGet"))
            startStream<FileGetStream>(id, req->path);
        return;
    case MsgType::StreamOpen:
        if (const auto req = decodeRequest<Protocol::StreamOpen>(*this, id, payload, "StreamOpen"))
            startStream<ForwardStream>(id, *req);
        return;
    case MsgType::Stat: handleStat(id, payload); return;
    case MsgType::List: handleList(id, payload); return;
    case MsgType::Health: send(MsgType::HealthResult, id, collectHealth(activeStreams()).encode()); return;
    case MsgType::Shutdown: handleShutdown(id, payload); return;
    case MsgType::ProcessStart:
    case MsgType::ProcessList:
    case MsgType::ProcessStatus:
    case MsgType::ProcessRead:
    case MsgType::ProcessWrite:
    case MsgType::ProcessSignal:
    case MsgType::ProcessRemove: m_config.processes->handle(*this, type, id, payload); return;
    default: sendError(id, ErrorCode::Unsupported, "unsupported request"); return;
    }
}

std::optional<std::string> Session::requestedPath(std::uint32_t id, std::string_view payload, const char *what)
{
    const auto req = decodeRequest<Protocol::PathRequest>(*this, id, payload, what);
    if (!req)
        return std::nullopt;
    if (req->path.empty() || hasNul(req->path)) {
        sendError(id, ErrorCode::InvalidArgument, "invalid path");
        return std::nullopt;
    }
    return req->path;
}

void Session::handleStat(std::uint32_t id, std::string_view payload)
{
    const auto path = requestedPath(id, payload, "Stat");
    if (!path)
        return;
    Protocol::StatResult result;
    if (const int err = statPath(*path, &result.info); err != 0)
        return sendError(id, errorCodeFromErrno(err), errnoMessage("stat", *path, err));
    send(MsgType::StatResult, id, result.encode());
}

void Session::handleList(std::uint32_t id, std::string_view payload)
{
    const auto path = requestedPath(id, payload, "List");
    if (!path)
        return;
    Protocol::ListResult result;
    if (const int err = listDirectory(*path, &result.entries); err != 0)
        return sendError(id, errorCodeFromErrno(err), errnoMessage("list", *path, err));
    send(MsgType::ListResult, id, result.encode());
}

void Session::handleShutdown(std::uint32_t id, std::string_view payload)
{
    Protocol::Shutdown req;
    if (!payload.empty() && !Protocol::Shutdown::decode(payload, &req)) {
        sendError(id, ErrorCode::Protocol, "malformed Shutdown payload");
        return;
    }
    if (!m_config.allowShutdown) {
        sendError(id, ErrorCode::PermissionDenied, "shutdown is disabled (--no-shutdown)");
        return;
    }
    logMessage("%s: %s requested by the host", m_name.c_str(), req.reboot ? "reboot" : "power off");
    ::sync();
    if (::reboot(req.reboot ? RB_AUTOBOOT : RB_POWER_OFF) != 0) {
        const int err = errno;
        logMessage("reboot: %s", errnoText(err).c_str());
        sendError(id, ErrorCode::PermissionDenied, errnoMessage("reboot", {}, err));
    }
}

// ---------------------------------------------------------------- streams

void Session::finishStream(std::uint32_t id)
{
    const auto it = m_streams.find(id);
    if (it == m_streams.end())
        return;
    std::shared_ptr<Stream> stream = std::move(it->second);
    m_streams.erase(it);
    stream->release();
    // Destroyed later: the stream may be the caller.
    const bool postClear = m_graveyard.empty();
    m_graveyard.push_back(std::move(stream));
    if (postClear) {
        m_loop.post([weak = std::weak_ptr<int>(m_alive), this] {
            if (weak.lock())
                m_graveyard.clear();
        });
    }
    updateEvents();
}

void Session::resetStreams()
{
    std::vector<std::uint32_t> ids;
    ids.reserve(m_streams.size());
    for (const auto &[id, stream] : m_streams)
        ids.push_back(id);
    for (const std::uint32_t id : ids)
        finishStream(id);
}

// ---------------------------------------------------------------- channel state

void Session::fatal(const char *what, int err)
{
    if (m_closed)
        return;
    if (m_mode == Mode::Serial && err == EIO) {
        hostDisconnected(); // a tty whose other side went away
        return;
    }
    logMessage("%s: %s: %s", m_name.c_str(), what, errnoText(err).c_str());
    scheduleClose();
}

void Session::closeAfterFlush()
{
    m_closing = true;
    resetStreams();
    updateEvents();
    if (m_out.empty()) {
        scheduleClose();
        return;
    }
    m_closeTimer.start(m_loop, kCloseFlushMs, [this] { scheduleClose(); });
}

void Session::scheduleClose()
{
    if (m_closed)
        return;
    m_closed = true;
    m_closeTimer.stop();
    m_out.clear();
    m_outBytes = 0;
    m_outOffset = 0;
    m_watch.setEvents(0);
    // Streams are released from the loop, never from inside their own callbacks.
    m_loop.post([weak = std::weak_ptr<int>(m_alive), this] {
        if (!weak.lock())
            return;
        resetStreams();
        const auto onClosed = m_onClosed;
        if (onClosed)
            onClosed(); // may destroy this session
    });
}

void Session::hostDisconnected()
{
    if (!m_hostConnected || m_closed)
        return;
    logMessage("%s: host not connected, waiting", m_name.c_str());
    m_hostConnected = false;
    m_helloDone = false;
    m_reader.reset();
    dropQueuedOutput(true);
    m_watch.setEvents(0);
    m_loop.post([weak = std::weak_ptr<int>(m_alive), this] {
        if (weak.lock())
            resetStreams();
    });
    m_hupTimer.start(m_loop, kHostPollMs, [this] { checkHostConnected(); });
}

void Session::checkHostConnected()
{
    pollfd p{m_fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 0) < 0)
        p.revents = POLLHUP; // EINTR: look again later
    if (p.revents & POLLNVAL) {
        fatal("poll", EBADF);
        return;
    }
    if (p.revents & (POLLHUP | POLLERR)) {
        // Bytes still buffered while nobody is connected belong to a dead
        // connection: discard them so they cannot start anything.
        if (p.revents & POLLIN) {
            static char scratch[4096];
            for (int i = 0; i < 256 && ::read(m_fd.get(), scratch, sizeof scratch) > 0; ++i) {
            }
        }
        m_hupTimer.start(m_loop, kHostPollMs, [this] { checkHostConnected(); });
        return;
    }
    logMessage("%s: host connected", m_name.c_str());
    m_hostConnected = true;
    m_reader.reset();
    sendAnnounce();
    updateEvents();
}

} // namespace GuestAgent
