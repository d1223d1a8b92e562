#pragma once

#include "core/agent/agenttypes.h"
#include "core/agent/exechandle.h"
#include "core/agent/forwardedstream.h"
#include "core/agent/streamlimits.h"
#include "core/async.h"
#include "core/vmm/vmspec.h"

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <QHash>
#include <QLocalSocket>
#include <QObject>
#include <QPointer>
#include <QElapsedTimer>
#include <QTimer>

#include <memory>

class QIODevice;

namespace Agent {

class AgentStream;
class FileDownload;

// Host side of the guest-agent protocol over one byte stream: a QLocalSocket
// to QEMU's virtio-serial chardev, or to cloud-hypervisor's hybrid vsock
// socket (after "CONNECT <port>"). Many operations run at once, each on its
// own stream, an object of its kind (exec, file put and get, request,
// forward) that owns its state and its promise; the client keeps the
// connection, the table of streams and hands each its frames. Everything is
// asynchronous; when the connection drops, every pending operation fails
// with AgentUnavailable at once. What a request keeps of the guest's answer
// and how long it waits are its StreamLimits. The socket is always read:
// a consumer that falls behind withholds its own stream's credit
// (AgentStream::holdCredit), never the channel.
class AgentClient final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(AgentClient)
public:
    static constexpr int kHelloRetryMs = 1000; // resend Hello until answered
    // An Announce from the agent asks for a Hello at once, but at most one
    // per this interval: a guest spamming Announce gets no flood of Hellos.
    static constexpr int kMinHelloIntervalMs = 100;
    static constexpr int kReconnectIntervalMs = 20; // socket not there / refused yet
    static constexpr int kVsockConnectTimeoutMs = 3000; // CONNECT -> OK
    static constexpr qint64 kWriteHighWater = 4 << 20; // stop feeding uploads above this

    explicit AgentClient(Vmm::AgentEndpoint endpoint, QObject *parent = nullptr);
    ~AgentClient() override;

    // Connect and handshake; keeps retrying the socket until the deadline.
    Core::Future<AgentInfo> connectToAgent(int timeoutMs);
    bool isReady() const { return m_ready; }
    // The largest frame payload the agent takes; larger requests are refused
    // (TooLarge) before anything is sent.
    quint32 maxPayload() const;
    AgentInfo info() const { return m_info; }
    void close();

    // Start a command. The handle is a child of this client.
    ExecHandle *exec(const ExecRequest &request);
    // Run a command to completion.
    Core::Future<ExecResult> run(const ExecRequest &request);

    // Upload `size` bytes from `source` to `guestPath` (atomically replaced).
    Core::Future<quint64> putFile(const QString &guestPath, std::shared_ptr<QIODevice> source, quint64 size, quint32 mode = 0644, bool makeParents = true,
                                  StreamLimits limits = StreamLimits::transfer());
    Core::Future<quint64> putData(const QString &guestPath, const QByteArray &data, quint32 mode = 0644, bool makeParents = true,
                                  StreamLimits limits = StreamLimits::transfer());
    // Download into `sink`; resolves with the byte count. Never more than
    // the size the guest declared, nor than limits.maxBytes when set.
    Core::Future<quint64> getFile(const QString &guestPath, std::shared_ptr<QIODevice> sink, StreamLimits limits = StreamLimits::transfer());
    Core::Future<QByteArray> getData(const QString &guestPath, StreamLimits limits = StreamLimits::inMemoryDownload());
    // Download as a reader, with memory flat for any size: resolves once the
    // guest declared the file's size (refused above limits.maxBytes when
    // set), with a device the caller owns (deleteLater() it; deleting it
    // early cancels the transfer). limits.deadlineMs is the most time
    // without progress. See FileDownload.
    Core::Future<FileDownload *> download(const QString &guestPath, StreamLimits limits = StreamLimits::streamedDownload());

    // Requests with one reply, within StreamLimits::kRequestDeadlineMs (a
    // stat: deadlineMs, for a caller that polls and would rather fail fast).
    Core::Future<FileInfo> stat(const QString &guestPath, int deadlineMs = StreamLimits::kRequestDeadlineMs);
    Core::Future<QList<FileInfo>> list(const QString &guestPath);
    Core::Future<Health> health();
    // Background processes: commands the guest agent keeps running after
    // the request (also across a reconnect), at most a guest's limit (past
    // it: InvalidState), each with its last output kept in the guest. An
    // unknown pid is NotFound. Requests with one reply each, like stat.
    Core::Future<ProcessInfo> startProcess(const ExecRequest &command);
    Core::Future<QList<ProcessInfo>> processes();
    Core::Future<ProcessInfo> process(qint32 pid);
    // At most maxBytes of each stream from the offsets (0: as much as one
    // reply holds).
    Core::Future<ProcessOutput> processOutput(qint32 pid, quint64 stdoutOffset, quint64 stderrOffset, quint32 maxBytes = 0);
    Core::Future<ProcessInfo> writeProcessStdin(qint32 pid, const QByteArray &data, bool eof);
    // To the process's group; an ended process is answered as it is.
    Core::Future<ProcessInfo> signalProcess(qint32 pid, int signal);
    // Kills it if running and forgets it; resolves with what it was.
    Core::Future<ProcessInfo> removeProcess(qint32 pid);

    // Ask the guest to power off (or reboot). Resolves when the request is sent.
    Core::Future<void> shutdownGuest(bool reboot = false);

    // Connect to host:port from inside the guest (numeric addresses or
    // "localhost"). Resolves once the guest's connection is up, with a stream
    // that is a child of this client (reparent it, or hold it in a QPointer:
    // it is deleted with the client). Nothing listening is NotFound (detail
    // Protocol::ErrorCode::ConnectionRefused).
    Core::Future<ForwardedStream *> openStream(const QString &host, quint16 port);

Q_SIGNALS:
    void ready(const Agent::AgentInfo &info);
    void connectionLost(const Core::Error &error);

private:
    friend class AgentStream;

    void tryConnect();
    void onConnected();
    void onReadyRead();
    void processFrames();
    void onDisconnected();
    void dropConnection(const Core::Error &error);
    void sendHello();
    void helloAnnounced();
    void handleFrame(const Protocol::Frame &frame);
    void handleStreamFrame(const std::shared_ptr<AgentStream> &stream, Protocol::MsgType type, std::string_view payload);
    void handleConnectionFrame(Protocol::MsgType type, std::string_view payload);
    void onHelloAck(std::string_view payload);
    void onConnectionError(std::string_view payload);
    void refuseVersion(const QString &why);
    void send(Protocol::MsgType type, quint32 stream, std::string_view payload);
    void pumpUploads();
    quint32 allocateStream();
    template<typename S, typename... Args>
    std::shared_ptr<S> addStream(Args &&...args);
    template<typename T>
    Core::Future<T> request(Protocol::MsgType type, const std::string &payload, QString what, Protocol::MsgType reply, bool (*decode)(std::string_view, T *),
                            int deadlineMs = StreamLimits::kRequestDeadlineMs);
    Core::Error notReady() const;
    Core::Error tooLarge(const QString &what, size_t size) const;
    void failAll(const Core::Error &error);
    void endStream(quint32 id);
    quint32 dataChunk() const;

    Vmm::AgentEndpoint m_endpoint;
    QLocalSocket *m_socket = nullptr;
    QTimer m_retryTimer;
    QTimer m_helloTimer;
    QTimer m_announcedHello; // the one Hello an Announce asked for, paced
    QElapsedTimer m_sinceHello;
    QTimer m_deadlineTimer;
    qint64 m_deadline = 0;
    bool m_vsockHandshake = false;
    QByteArray m_vsockLine;
    Protocol::FrameReader m_reader;
    bool m_ready = false;
    bool m_resyncing = false; // the agent reset the session: greeting it again
    quint64 m_nonce = 0;
    AgentInfo m_info;
    Core::Promise<AgentInfo> m_connectPromise;
    quint32 m_nextStream = 1;
    QHash<quint32, std::shared_ptr<AgentStream>> m_streams;
};

} // namespace Agent
