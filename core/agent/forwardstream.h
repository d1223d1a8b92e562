#pragma once
// forward: a TCP connection made from inside the guest. This stream keeps
// the protocol state (opening, bytes queued for the guest, the read block);
// the ForwardedStream it creates is the caller's QIODevice on it.

#include "core/agent/agentstream.h"
#include "core/async.h"

#include <deque>

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
    qint64 bytesToWrite() const { return m_outBytes; }
    void closeAfterFlush();
    void abortInGuest();
    void drained();

private:
    void failed(const Core::Error &error) override;
    void ended() override;
    void onOpened();
    void onData(std::string_view payload);
    void onClosed();
    // Up to max queued bytes for one StreamData frame.
    QByteArray takeOut(qint64 max);

    QPointer<ForwardedStream> m_device;
    Core::Promise<ForwardedStream *> m_openPromise;
    bool m_opened = false;
    std::deque<QByteArray> m_outChunks; // host -> guest, not yet handed to the socket
    qsizetype m_outOffset = 0; // sent bytes of m_outChunks.front()
    qint64 m_outBytes = 0;
    bool m_closeAfterFlush = false; // StreamClose once m_outChunks is empty
    bool m_blocking = false; // holding the client's input block
};

} // namespace Agent
