#pragma once
// forward: a TCP connection opened from inside the guest and relayed as
// StreamData frames in both directions.

#include "eventloop.h"
#include "stream.h"
#include "uniquefd.h"

#include <cstdint>
#include <string>

namespace GuestAgent {

class ForwardStream final : public Stream {
public:
    ForwardStream(Session &session, std::uint32_t id);
    ~ForwardStream() override;

    void start(const Protocol::StreamOpen &request);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    void cancel() override;
    void release() override;
    void outputResumed() override;
    std::size_t inboundBuffered() const override { return m_outBuffer.size() - m_outOffset; }

private:
    void fail(Protocol::ErrorCode code, const std::string &message);
    void onIo(short revents);
    void connected();
    void readSocket();
    void writeSocket();
    void closeFromGuest();
    void updateInterest();

    std::string m_target; // "host:port" for messages
    UniqueFd m_socket;
    WatchHandle m_watch;
    TimerHandle m_connectTimer;
    bool m_connecting = false;
    bool m_connected = false;
    bool m_closeRequested = false; // the host sent StreamClose: flush, then close
    std::string m_outBuffer; // host -> socket
    std::size_t m_outOffset = 0;
    bool m_released = false;
};

} // namespace GuestAgent
