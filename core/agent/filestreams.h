#pragma once
// File transfer streams: FilePutStream (host -> guest, fed from a device
// while the socket's queue is short) and FileGetStream (guest -> host, never
// more than the guest declared nor than the limits allow), whose
// FileSaveStream writes into a device (DownloadStream hands out a reader).

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

// Guest -> host: sends FileGet, then checks what the guest sends against the
// size it declared (FileGetInfo) and the limits, and hands each chunk to the
// subclass. The guest declaring more than limits.maxBytes is refused before
// a byte is read; sending more than it declared, or ending short, fails.
class FileGetStream : public AgentStream {
public:
    FileGetStream(AgentClient *client, quint32 id, const StreamLimits &limits, QString what);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;

protected:
    // Sends FileGet; past deadlineMs (0: never) the stream times out.
    void sendGet(const QString &guestPath, int deadlineMs);
    // The guest declared the size.
    virtual void opened(quint64 size) { Q_UNUSED(size); }
    // A chunk within the declared size. False: the stream was aborted.
    virtual bool deliver(std::string_view data) = 0;
    // Every declared byte arrived and the stream ended.
    virtual void completed(quint64 size) = 0;

    quint64 expected() const { return m_expected; }

private:
    void onInfo(std::string_view payload);
    void onData(std::string_view payload);
    void onEnd();

    const StreamLimits m_limits;
    bool m_gotInfo = false;
    quint64 m_expected = 0; // the size the guest declared
    quint64 m_received = 0;
};

// A download into a device (AgentClient::getFile).
class FileSaveStream final : public FileGetStream {
public:
    FileSaveStream(AgentClient *client, quint32 id, std::shared_ptr<QIODevice> sink, const StreamLimits &limits);

    // Resolves with the bytes written to the sink.
    Core::Future<quint64> start(const QString &guestPath, int deadlineMs);

private:
    bool deliver(std::string_view data) override;
    void completed(quint64 size) override;
    void failed(const Core::Error &error) override;

    std::shared_ptr<QIODevice> m_sink;
    Core::Promise<quint64> m_promise;
};

} // namespace Agent
