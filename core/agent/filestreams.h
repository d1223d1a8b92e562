#pragma once
// File transfer streams: FilePutStream (host -> guest, fed from a device
// while the socket's queue is short) and FileGetStream (guest -> host, into a
// device, never more than the guest declared nor than the limits allow).

#include "core/agent/agentstream.h"
#include "core/agent/streamlimits.h"
#include "core/async.h"

#include <memory>

class QIODevice;

namespace Agent {

class FilePutStream final : public AgentStream {
public:
    FilePutStream(AgentClient *client, quint32 id, std::shared_ptr<QIODevice> source, quint64 size);

    // Sends FilePut and the first chunks; resolves with the bytes written.
    Core::Future<quint64> start(const Protocol::FilePut &request, const StreamLimits &limits);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    bool pump() override;

private:
    void failed(const Core::Error &error) override;

    std::shared_ptr<QIODevice> m_source;
    quint64 m_remaining;
    bool m_endSent = false;
    Core::Promise<quint64> m_promise;
};

class FileGetStream final : public AgentStream {
public:
    FileGetStream(AgentClient *client, quint32 id, std::shared_ptr<QIODevice> sink, const StreamLimits &limits);

    // Sends FileGet; resolves with the bytes written to the sink.
    Core::Future<quint64> start(const QString &guestPath);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;

private:
    void failed(const Core::Error &error) override;
    void onInfo(std::string_view payload);
    void onData(std::string_view payload);
    void onEnd();

    std::shared_ptr<QIODevice> m_sink;
    const StreamLimits m_limits;
    bool m_gotInfo = false;
    quint64 m_expected = 0; // the size the guest declared
    quint64 m_received = 0;
    Core::Promise<quint64> m_promise;
};

} // namespace Agent
