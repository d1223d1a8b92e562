#pragma once

#include "core/expected.h"

#include <QJsonObject>

#include <utility>

namespace Net {

// One end of a SOCK_SEQPACKET unix socket pair between the service and its
// network helper (RootlessNetwork, NetHelper): each message is one JSON
// object in one datagram (at most kMaxMessageBytes), optionally with one
// descriptor (SCM_RIGHTS, received close-on-exec). Blocking; owns its socket.
class HelperChannel {
public:
    static constexpr int kMaxMessageBytes = 256 * 1024;

    // A connected pair, both close-on-exec.
    static Core::Expected<std::pair<HelperChannel, HelperChannel>> pair();

    HelperChannel() = default;
    explicit HelperChannel(int fd);
    HelperChannel(HelperChannel &&other) noexcept;
    HelperChannel &operator=(HelperChannel &&other) noexcept;
    HelperChannel(const HelperChannel &) = delete;
    HelperChannel &operator=(const HelperChannel &) = delete;
    ~HelperChannel();

    bool isValid() const { return m_fd >= 0; }
    int fd() const { return m_fd; }
    void close();

    // fd >= 0: sent along (the caller keeps its own).
    Core::Result send(const QJsonObject &message, int fd = -1) const;

    struct Message {
        QJsonObject json;
        int fd = -1; // the caller's to close
    };
    // timeoutMs < 0: wait for ever. Timeout; Io "closed" when the peer is gone;
    // Protocol for a message that is not one JSON object.
    Core::Expected<Message> receive(int timeoutMs) const;

private:
    int m_fd = -1;
};

} // namespace Net
