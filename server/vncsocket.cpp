#include "server/vncsocket.h"

#include "core/async.h"
#include "desktop/displayhub.h"
#include "desktop/vmdisplay.h"
#include "server/displaycontroller.h"

#include <QLocalSocket>
#include <QWebSocket>

namespace Server {
VncSocket::VncSocket(std::unique_ptr<QWebSocket> socket, DisplayController &display, QString vmName, QObject *parent)
    : QObject(parent)
    , m_socket(std::move(socket))
    , m_displayController(display)
    , m_vm(std::move(vmName))
{
    m_socket->setParent(nullptr);
    m_socket->setMaxAllowedIncomingMessageSize(kMaxIncomingMessage);
    m_socket->setMaxAllowedIncomingFrameSize(kMaxIncomingMessage);
    connect(m_socket.get(), &QWebSocket::binaryMessageReceived, this, &VncSocket::onBinary);
    connect(m_socket.get(), &QWebSocket::textMessageReceived, this,
            [this]() { close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("RFB goes in binary frames")); });
    connect(m_socket.get(), &QWebSocket::disconnected, this, [this]() {
        m_closing = true;
        deleteLater();
    });
    connect(m_socket.get(), &QWebSocket::bytesWritten, this, [this](qint64 n) {
        m_queuedToBrowser = qMax<qint64>(0, m_queuedToBrowser - n);
        pumpFromGuest();
    });
    connectGuest();
}

VncSocket::~VncSocket()
{
    if (m_guest) {
        m_guest->disconnect(this);
        m_guest->abort();
    }
    if (m_socket) {
        m_socket->disconnect(this);
        if (m_socket->state() == QAbstractSocket::ConnectedState)
            m_socket->close(QWebSocketProtocol::CloseCodeGoingAway, QStringLiteral("the service is closing"));
    }
}

void VncSocket::close(QWebSocketProtocol::CloseCode code, const QString &reason)
{
    if (m_closing)
        return;
    m_closing = true;
    if (m_guest)
        m_guest->abort();
    m_socket->close(code, reason.left(120));
    // disconnected() deletes us; make sure it happens even if the peer is gone.
    deleteLater();
}

void VncSocket::connectGuest()
{
    Desktop::DisplayHub *hub = m_displayController.hub();
    if (!hub) {
        close(QWebSocketProtocol::CloseCodeBadOperation, QStringLiteral("this service has no display support"));
        return;
    }
    auto display = hub->display(m_vm);
    if (!display) {
        close(display.error().code == Core::ErrorCode::Unsupported || display.error().code == Core::ErrorCode::NotFound
                      || display.error().code == Core::ErrorCode::InvalidState
                  ? QWebSocketProtocol::CloseCodeNormal
                  : QWebSocketProtocol::CloseCodeBadOperation,
              display.error().message);
        return;
    }
    m_display = *display;
    Core::whenDone(m_display->ensureConnected(), this, [this](const Core::Expected<void> &r) {
        if (!r) {
            close(QWebSocketProtocol::CloseCodeBadOperation, r.error().message);
            return;
        }
        if (!m_display) {
            close(QWebSocketProtocol::CloseCodeNormal, QStringLiteral("the VM stopped"));
            return;
        }
        m_guest = new QLocalSocket(this);
        m_guest->setReadBufferSize(kHighWater);
        connect(m_guest, &QLocalSocket::connected, this, [this]() {
            if (!m_pendingToGuest.isEmpty())
                m_guest->write(std::exchange(m_pendingToGuest, {}));
        });
        connect(m_guest, &QLocalSocket::readyRead, this, &VncSocket::pumpFromGuest);
        connect(m_guest, &QLocalSocket::disconnected, this, [this]() {
            pumpFromGuest();
            close(QWebSocketProtocol::CloseCodeNormal, QStringLiteral("the guest's VNC server closed the connection"));
        });
        connect(m_guest, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError e) {
            if (e != QLocalSocket::PeerClosedError)
                close(QWebSocketProtocol::CloseCodeBadOperation, QStringLiteral("cannot reach the guest's VNC server: %1").arg(m_guest->errorString()));
        });
        m_guest->connectToServer(m_display->socketPath());
    });
}

void VncSocket::pumpFromGuest()
{
    if (!m_guest || m_closing)
        return;
    while (m_queuedToBrowser < kHighWater && m_guest->bytesAvailable() > 0) {
        const QByteArray chunk = m_guest->read(kReadChunk);
        if (chunk.isEmpty())
            break;
        m_queuedToBrowser += chunk.size();
        m_socket->sendBinaryMessage(chunk);
    }
}

void VncSocket::onBinary(const QByteArray &data)
{
    if (m_closing)
        return;
    // Input passes only while a human holds control of this display.
    const bool allowInput = m_display && m_display->humanHasControl();
    if (m_filter.feed(data, allowInput) == RfbFilter::Result::Error) {
        close(QWebSocketProtocol::CloseCodePolicyViolated, QStringLiteral("not RFB: %1").arg(m_filter.errorString()));
        return;
    }
    const QByteArray out = m_filter.takeOutput();
    if (out.isEmpty())
        return;
    if (m_guest && m_guest->state() == QLocalSocket::ConnectedState)
        m_guest->write(out);
    else if (m_pendingToGuest.size() + out.size() > kMaxPendingToGuest)
        close(QWebSocketProtocol::CloseCodeTooMuchData, QStringLiteral("more than %1 bytes before the guest's VNC server answered").arg(kMaxPendingToGuest));
    else
        m_pendingToGuest += out;
}

} // namespace Server
