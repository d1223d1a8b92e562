#pragma once
// Channels the agent serves: an inherited fd, listening Unix and vsock
// sockets (one session per connection) and virtio-serial ports. Anything
// that cannot be opened yet is retried every 500 ms; nothing here exits.

#include "eventloop.h"
#include "session.h"
#include "uniquefd.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace GuestAgent {

class Transport {
public:
    Transport(EventLoop &loop, const AgentConfig &config)
        : m_loop(loop)
        , m_config(config)
    {
    }
    virtual ~Transport() = default;
    Transport(const Transport &) = delete;
    Transport &operator=(const Transport &) = delete;

    virtual void start() = 0;
    virtual std::string describe() const = 0;

    static constexpr std::uint64_t kRetryMs = 500;

protected:
    // Logs a failed open once per distinct error, and again every 30 s.
    void logRetry(const std::string &error);
    void logOpened(const std::string &what);

    EventLoop &m_loop;
    const AgentConfig m_config;

private:
    std::string m_lastError;
    std::uint64_t m_lastLogMs = 0;
};

// --fd N: one session on an inherited, connected stream fd; the agent exits
// when it closes (used by host-side tests).
class FdTransport final : public Transport {
public:
    FdTransport(EventLoop &loop, const AgentConfig &config, int fd)
        : Transport(loop, config)
        , m_fd(fd)
    {
    }
    void start() override;
    std::string describe() const override { return "fd " + std::to_string(m_fd); }

private:
    int m_fd;
    std::unique_ptr<Session> m_session;
};

// A listening socket; every accepted connection is an independent session.
class ListenTransport : public Transport {
public:
    using Transport::Transport;
    void start() override;

protected:
    // A bound, listening, non-blocking socket, or an invalid fd with *error set.
    virtual UniqueFd openListener(std::string *error) = 0;

private:
    void tryOpen();
    void onAcceptable();

    UniqueFd m_listener;
    WatchHandle m_watch;
    TimerHandle m_timer;
    std::uint64_t m_nextSession = 1;
    std::map<std::uint64_t, std::unique_ptr<Session>> m_sessions;
};

class UnixTransport final : public ListenTransport {
public:
    UnixTransport(EventLoop &loop, const AgentConfig &config, std::string path)
        : ListenTransport(loop, config)
        , m_path(std::move(path))
    {
    }
    ~UnixTransport() override;
    std::string describe() const override { return "unix:" + m_path; }

protected:
    UniqueFd openListener(std::string *error) override;

private:
    std::string m_path;
    bool m_bound = false;
};

class VsockTransport final : public ListenTransport {
public:
    VsockTransport(EventLoop &loop, const AgentConfig &config, std::uint32_t port)
        : ListenTransport(loop, config)
        , m_port(port)
    {
    }
    std::string describe() const override { return "vsock:" + std::to_string(m_port); }

protected:
    UniqueFd openListener(std::string *error) override;

private:
    std::uint32_t m_port;
};

// --serial auto|PATH: a virtio-serial port (or any tty/char device). The
// session survives the host disconnecting and reconnecting.
class SerialTransport final : public Transport {
public:
    SerialTransport(EventLoop &loop, const AgentConfig &config, std::string path, std::string portName)
        : Transport(loop, config)
        , m_path(std::move(path))
        , m_portName(std::move(portName))
    {
    }
    void start() override;
    std::string describe() const override;

private:
    void tryOpen();
    // Device path of the port named m_portName, creating its node if needed.
    std::string findPort(std::string *error) const;

    std::string m_path;
    std::string m_portName;
    TimerHandle m_timer;
    std::unique_ptr<Session> m_session;
};

} // namespace GuestAgent
