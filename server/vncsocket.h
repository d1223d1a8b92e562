#pragma once
// One noVNC (or any RFB-over-WebSocket) viewer: /api/v1/vms/{name}/vnc, after
// HttpAdapter checked the path and the token (header, ?token= or the
// viewer page's cookie) and handed the upgraded socket over.
//
// Binary frames carry raw RFB both ways. The guest's VNC server is reached
// through the VM's display (Desktop::VmDisplay's forward through the guest
// agent); every viewer gets its own RFB session on the shared desktop.
// The viewer's input (keys, pointer, clipboard) reaches the guest only while
// a human holds control of the display (POST .../display/control): a viewer
// watches without disturbing the agent by default. The client-to-server
// stream is parsed (RfbFilter) and anything that is not RFB closes the
// connection (1008).

#include "server/rfbfilter.h"

#include <QObject>
#include <QPointer>
#include <QWebSocketProtocol>

#include <memory>

class QLocalSocket;
class QWebSocket;

namespace Desktop {
class VmDisplay;
}

namespace Server {

class DisplayController;

class VncSocket final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VncSocket)
public:
    static constexpr qint64 kHighWater = 4 << 20; // bytes queued to the browser before we stop reading the guest
    static constexpr qint64 kReadChunk = 256 * 1024;
    // A viewer's messages are key, pointer and clipboard events: small.
    static constexpr quint64 kMaxIncomingMessage = 1 << 20;
    // Viewer bytes held until the guest side connects.
    static constexpr qsizetype kMaxPendingToGuest = 1 << 20;

    // Deletes itself once either side is closed.
    VncSocket(std::unique_ptr<QWebSocket> socket, DisplayController &display, QString vmName, QObject *parent = nullptr);
    ~VncSocket() override;

private:
    void connectGuest();
    void pumpFromGuest();
    void onBinary(const QByteArray &data);
    void close(QWebSocketProtocol::CloseCode code, const QString &reason);

    std::unique_ptr<QWebSocket> m_socket;
    DisplayController &m_displayController;
    QString m_vm;
    QPointer<Desktop::VmDisplay> m_display;
    QLocalSocket *m_guest = nullptr;
    RfbFilter m_filter;
    QByteArray m_pendingToGuest; // browser bytes that arrived before the guest side connected
    qint64 m_queuedToBrowser = 0;
    bool m_closing = false;
};

} // namespace Server
