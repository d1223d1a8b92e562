#include "server/eventsocket.h"

#include "server/activitylog.h"

#include <QJsonDocument>
#include <QUrlQuery>
#include <QWebSocket>

namespace Server {

namespace {

QString compact(const QJsonObject &o)
{
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

} // namespace

EventSocket::EventSocket(std::unique_ptr<QWebSocket> socket, ActivityLog &log, QString vmName, QObject *parent)
    : QObject(parent)
    , m_socket(std::move(socket))
    , m_vm(std::move(vmName))
{
    m_socket->setMaxAllowedIncomingMessageSize(kMaxIncomingBytes);
    m_socket->setMaxAllowedIncomingFrameSize(kMaxIncomingBytes);
    connect(m_socket.get(), &QWebSocket::bytesWritten, this, &EventSocket::onBytesWritten);
    connect(m_socket.get(), &QWebSocket::disconnected, this, &QObject::deleteLater);
    connect(&log, &ActivityLog::published, this, &EventSocket::onPublished);
    bool given = false;
    const quint64 since = QUrlQuery(m_socket->requestUrl()).queryItemValue(QStringLiteral("since")).toULongLong(&given);
    if (given) {
        for (const ActivityEvent &e : log.history(m_vm, since))
            onPublished(e);
    }
}

EventSocket::~EventSocket()
{
    m_socket->disconnect(this);
}

qint64 EventSocket::pendingBytes() const
{
    return m_socket->bytesToWrite();
}

void EventSocket::onPublished(const ActivityEvent &event)
{
    if (event.vm != m_vm)
        return;
    if (m_dropped > 0 && m_socket->bytesToWrite() < kLowWater)
        sendGap();
    if (m_dropped > 0 || m_socket->bytesToWrite() > kHighWater) {
        ++m_dropped; // sent as a gap once the client caught up
        ++m_droppedTotal;
        return;
    }
    m_socket->sendTextMessage(compact(event.toJson()));
}

void EventSocket::onBytesWritten()
{
    if (m_dropped > 0 && m_socket->bytesToWrite() < kLowWater)
        sendGap();
}

void EventSocket::sendGap()
{
    m_socket->sendTextMessage(compact(QJsonObject{{QStringLiteral("type"), QStringLiteral("gap")}, {QStringLiteral("dropped"), qint64(m_dropped)}}));
    m_dropped = 0;
}

} // namespace Server
