#pragma once

#include "core/agent/streamdevice.h"

#include <QByteArray>

#include <memory>

namespace Agent {

class AgentClient;
class ForwardStream;

// One TCP connection made from inside the guest (AgentClient::openStream),
// as a sequential QIODevice on the host, like a QTcpSocket:
//  - readyRead when guest bytes arrived; they stay in the stream until read.
//    Above kReadHighWater unread bytes the client withholds this stream's
//    credit (so the guest stops reading its socket once the window in
//    flight, Protocol::kStreamWindow, arrived) until the reader drains the
//    stream below kReadLowWater. Other streams of the VM go on.
//  - write() queues bytes; they go out as StreamData frames (at most the
//    agent's maximum payload each) while the agent channel's write queue is
//    short, as uploads do. bytesToWrite() is what is still queued here and
//    bytesWritten() reports what was handed to the channel: stop writing
//    while bytesToWrite() is high.
//  - The guest side closed (its peer closed or reset the connection):
//    readChannelFinished() then disconnected(); unread bytes stay readable.
//  - It failed (guest error, lost agent connection): errorOccurred(), then
//    readChannelFinished() and disconnected(); error() says why.
// Signals are emitted from the event loop, never from inside read()/write();
// the reading, the water marks and the failure are StreamDevice's.
// Bytes and even the end can arrive before the caller subscribes: connect in
// the future's continuation, or check bytesAvailable() and state() after
// connecting.
// The protocol has no half-close: close() sends what is queued, then ends
// the connection in both directions.
class ForwardedStream final : public StreamDevice {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ForwardedStream)
public:
    enum class State {
        Open, // both directions flow
        Closing, // close() was called: queued bytes are still going out
        Closed, // ended by either side or failed
    };
    Q_ENUM(State)

    // An open stream aborts (the guest drops its connection); a closing one
    // still delivers what was queued.
    ~ForwardedStream() override;

    quint32 streamId() const { return m_id; }
    // "host:port" as seen from inside the guest.
    QString peerName() const { return m_peer; }
    State state() const { return m_state; }

    qint64 bytesToWrite() const override;
    bool canReadLine() const override;
    // Queued bytes still go to the guest, then the connection ends. Unread
    // bytes are dropped and nothing more is read.
    void close() override;
    // End now: queued and unread bytes are dropped, the guest resets its side.
    void abort();

Q_SIGNALS:
    void disconnected();

protected:
    qint64 writeData(const char *data, qint64 size) override;

private:
    friend class ForwardStream;
    ForwardedStream(AgentClient *client, std::weak_ptr<ForwardStream> stream, QString peer);

    // Called by ForwardStream.
    void onData(QByteArray data);
    void onPeerClosed();
    void onError(const Core::Error &error);
    void onFlushedAndClosed();
    void onHandedOver(qint64 bytes);

    void drained(); // tell the protocol side the reader caught up
    void finish();
    void taken(qint64 unread) override;
    bool emitProgress() override;
    void emitEnd() override;

    const std::weak_ptr<ForwardStream> m_stream; // the protocol side, while the client has it
    const quint32 m_id;
    const QString m_peer;
    State m_state = State::Open;
    qint64 m_pendingWritten = 0; // bytesWritten() waiting for the event loop
};

} // namespace Agent
