#pragma once
// One streamed exec over a WebSocket (/api/v1/vms/{name}/exec/ws), after
// HttpAdapter has checked the path and the token and handed the upgraded
// socket over. All messages are JSON text frames:
//   client -> server: first the exec request (the fields of POST .../exec:
//     cmd, env, cwd, stdin, timeout_s); then any number of
//     {"type":"stdin","data":<base64>} and one {"type":"stdin_eof"}.
//   server -> client: {"type":"stdout"|"stderr","data":<base64>} as output
//     comes; last {"type":"exit","exit_code":n|null,"signal":n|null,
//     "timed_out":bool,"duration_ms":x}, then a normal close (1000).
//   A request that cannot run gets {"type":"error","error":{"code","message"}}
//   and a close: 1008 (policy) for a malformed message, 1011 when the
//   command failed in the service or guest, 1000 otherwise.
// The client closing before the exit kills the command in the guest.
// Backpressure both ways: above kOutputHighWater bytes queued for the client
// the exec's stream gets no more credit (the guest stops reading the
// command's output once the window in flight arrived, the command's writes
// block; the VM's other operations go on) until they drain below
// kOutputLowWater; stdin waits in the agent client until the agent
// channel has room, and a client that queues more than kMaxQueuedStdin
// there is refused (payload_too_large, close 1009).

#include <QByteArray>
#include <QElapsedTimer>
#include <QObject>
#include <QPointer>

#include <memory>

class QWebSocket;

namespace Agent {
class ExecHandle;
struct ExecResult;
} // namespace Agent

namespace Server {

class GuestController;
struct ApiError;

class ExecSocket final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ExecSocket)
public:
    // Deletes itself once the socket is closed. The controller must outlive
    // it (HttpAdapter parents it, and goes before the API).
    ExecSocket(std::unique_ptr<QWebSocket> socket, GuestController &guest, QString vmName, QObject *parent = nullptr);
    ~ExecSocket() override;

    static constexpr qint64 kOutputHighWater = 4 << 20;
    static constexpr qint64 kOutputLowWater = 1 << 20;
    static constexpr qint64 kMaxQueuedStdin = 16 << 20;

private:
    void onText(const QString &message);
    void start(const QByteArray &request);
    void fail(const ApiError &error, quint16 closeCode);
    void send(const QJsonObject &message);
    void finish(const Agent::ExecResult &result);
    void sendOutput(const char *channel, const QByteArray &data);
    void onBytesWritten();
    void writeStdin(const QByteArray &data);

    std::unique_ptr<QWebSocket> m_socket;
    GuestController &m_guest;
    QString m_vm;
    QPointer<Agent::ExecHandle> m_handle;
    bool m_started = false;
    bool m_done = false;
    bool m_outputPaused = false;
    quint64 m_outputBytes = 0; // stdout and stderr sent, for the VM's series
    QByteArray m_request; // the start message, for the VM's activity
    QElapsedTimer m_running;
};

} // namespace Server
