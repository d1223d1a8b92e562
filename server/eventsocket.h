#pragma once
// One listener of a VM's activity (ActivityLog) over a WebSocket
// (GET /api/v1/vms/{name}/events/ws), after HttpAdapter has checked the
// path and the token and handed the upgraded socket over.
//   server -> client, JSON text frames: first the VM's kept events after
//     ?since=<seq> (none without it), then each event as it happens
//     ({"type":"event","seq",...}, ActivityEvent::toJson), in order.
//   A client that reads slower than events come cannot make the service
//   hold them: once more than kHighWater bytes wait to be written to it,
//   events are dropped and counted, and when it has caught up (below
//   kLowWater) it gets {"type":"gap","dropped":n} before the next ones.
//   The client sends nothing; what it sends is ignored (messages over
//   kMaxIncomingBytes end the connection).

#include <QObject>

#include <memory>

class QWebSocket;

namespace Server {

class ActivityLog;
struct ActivityEvent;

class EventSocket final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(EventSocket)
public:
    static constexpr qint64 kHighWater = 256 << 10;
    static constexpr qint64 kLowWater = 64 << 10;
    static constexpr qint64 kMaxIncomingBytes = 4 << 10;

    // Deletes itself once the socket is closed. The log must outlive it.
    EventSocket(std::unique_ptr<QWebSocket> socket, ActivityLog &log, QString vmName, QObject *parent = nullptr);
    ~EventSocket() override;

    // Events not sent because the client was behind, all told; those
    // since the last gap message are reported by the next one.
    quint64 dropped() const { return m_droppedTotal; }
    quint64 unreported() const { return m_dropped; }
    // What waits to be written to the client: kHighWater and a message, at most.
    qint64 pendingBytes() const;

private:
    void onPublished(const ActivityEvent &event);
    void onBytesWritten();
    void sendGap();

    std::unique_ptr<QWebSocket> m_socket;
    QString m_vm;
    quint64 m_dropped = 0; // since the last gap message
    quint64 m_droppedTotal = 0;
};

} // namespace Server
