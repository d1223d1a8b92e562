#pragma once
// forward: a TCP connection made from inside the guest. This stream keeps
// the protocol state (opening, bytes queued for the guest, the read block);
// the ForwardedStream it creates is the caller's QIODevice on it.

#include "core/agent/agentstream.h"
#include "core/agent/chunkqueue.h"
#include "core/async.h"

namespace Agent {

class ForwardedStream;

class ForwardStream final : public AgentStream {
public:
    ForwardStream(AgentClient *client, quint32 id);

    // Sends StreamOpen; resolves with the device once the guest connected,
    // within the request deadline.
    Core::Future<ForwardedStream *> start(const QString &host, quint16 port);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    bool pump() override;

    // For ForwardedStream.
    void queue(const char *data, qint64 size);
    qint64 bytesToWrite() const { return m_out.size(); }
    void closeAfterFlush();
    void abortInGuest();
    void drained();

private:
    void failed(const Core::Error &error) override;
    void onOpened();
    void onData(std::string_view payload);
    void onClosed();

    QPointer<ForwardedStream> m_device;
    Core::Promise<ForwardedStream *> m_openPromise;
    bool m_opened = false;
    ChunkQueue m_out; // host -> guest, not yet handed to the socket
    bool m_closeAfterFlush = false; // StreamClose once m_out is empty
};

} // namespace Agent
