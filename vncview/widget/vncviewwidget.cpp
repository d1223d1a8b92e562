#include "vncview/widget/vncviewwidget.h"

#include "vncview/keysyms.h"
#include "vncview/vncconnection.h"

#include <QKeyEvent>
#include <QMouseEvent>
#include <QPaintEvent>
#include <QPainter>
#include <QWheelEvent>

#include <cmath>

namespace Vnc {

VncViewWidget::VncViewWidget(QWidget *parent)
    : QWidget(parent)
{
    setAttribute(Qt::WA_OpaquePaintEvent);
    setFocusPolicy(Qt::StrongFocus);
    setMouseTracking(true);
}

VncViewWidget::~VncViewWidget() = default;

void VncViewWidget::setConnection(VncConnection *connection)
{
    if (m_connection == connection)
        return;
    releaseKeys();
    if (m_connection)
        disconnect(m_connection, nullptr, this, nullptr);
    m_connection = connection;
    m_frameSize = connection ? connection->frameSize() : QSize();
    if (connection) {
        connect(connection, &VncConnection::frameUpdated, this, &VncViewWidget::onFrameUpdated);
        connect(connection, &VncConnection::resized, this, &VncViewWidget::onResized);
        connect(connection, &VncConnection::connected, this, &VncViewWidget::onResized);
        connect(connection, &VncConnection::disconnected, this, [this] {
            m_pressedKeys.clear();
            update();
        });
    }
    updateGeometry();
    update();
}

VncConnection *VncViewWidget::connection() const
{
    return m_connection;
}

bool VncViewWidget::isViewOnly() const
{
    return m_viewOnly;
}

void VncViewWidget::setViewOnly(bool viewOnly)
{
    if (m_viewOnly == viewOnly)
        return;
    if (viewOnly)
        releaseKeys();
    m_viewOnly = viewOnly;
    Q_EMIT viewOnlyChanged(viewOnly);
}

bool VncViewWidget::smoothScaling() const
{
    return m_smooth;
}

void VncViewWidget::setSmoothScaling(bool smooth)
{
    m_smooth = smooth;
    update();
}

QSize VncViewWidget::sizeHint() const
{
    return m_frameSize.isValid() && !m_frameSize.isEmpty() ? m_frameSize : QSize(640, 480);
}

QRectF VncViewWidget::frameRect() const
{
    if (m_frameSize.isEmpty())
        return {};
    const QSizeF scaled = QSizeF(m_frameSize).scaled(QSizeF(size()), Qt::KeepAspectRatio);
    return QRectF(QPointF((width() - scaled.width()) / 2, (height() - scaled.height()) / 2), scaled);
}

QPoint VncViewWidget::mapToFrame(const QPointF &pos) const
{
    const QRectF r = frameRect();
    if (r.isEmpty())
        return {};
    const double sx = m_frameSize.width() / r.width();
    const double sy = m_frameSize.height() / r.height();
    const int x = int(std::floor((pos.x() - r.left()) * sx));
    const int y = int(std::floor((pos.y() - r.top()) * sy));
    return {qBound(0, x, m_frameSize.width() - 1), qBound(0, y, m_frameSize.height() - 1)};
}

QPointF VncViewWidget::mapFromFrame(const QPointF &framePos) const
{
    const QRectF r = frameRect();
    if (r.isEmpty())
        return {};
    return {r.left() + framePos.x() * r.width() / m_frameSize.width(), r.top() + framePos.y() * r.height() / m_frameSize.height()};
}

void VncViewWidget::onFrameUpdated(const QRect &rect)
{
    const QRectF r = frameRect();
    if (r.isEmpty()) {
        update();
        return;
    }
    const double sx = r.width() / m_frameSize.width();
    const double sy = r.height() / m_frameSize.height();
    const QRectF mapped(r.left() + rect.x() * sx, r.top() + rect.y() * sy, rect.width() * sx, rect.height() * sy);
    update(mapped.toAlignedRect().adjusted(-1, -1, 1, 1));
}

void VncViewWidget::onResized(const QSize &size)
{
    m_frameSize = size;
    updateGeometry();
    update();
}

void VncViewWidget::paintEvent(QPaintEvent *event)
{
    QPainter painter(this);
    const QImage image = m_connection ? m_connection->snapshot() : QImage();
    if (image.size() != m_frameSize)
        m_frameSize = image.size();
    const QRectF target = frameRect();
    if (image.isNull() || target.isEmpty()) {
        painter.fillRect(event->rect(), Qt::black);
        return;
    }
    painter.setRenderHint(QPainter::SmoothPixmapTransform, m_smooth);
    const double sx = image.width() / target.width();
    const double sy = image.height() / target.height();
    for (const QRect &dirty : event->region()) {
        // Only the part of the frame under this dirty area is scaled.
        const QRectF area = QRectF(dirty) & target;
        if (!area.isEmpty()) {
            const QRectF src((area.left() - target.left()) * sx, (area.top() - target.top()) * sy, area.width() * sx, area.height() * sy);
            painter.drawImage(area, image, src);
        }
        // The letterbox bands.
        for (const QRect &band : QRegion(dirty).subtracted(QRegion(target.toAlignedRect())))
            painter.fillRect(band, Qt::black);
    }
}

int VncViewWidget::buttonMask(Qt::MouseButtons buttons)
{
    int mask = 0;
    if (buttons & Qt::LeftButton)
        mask |= VncConnection::LeftButton;
    if (buttons & Qt::MiddleButton)
        mask |= VncConnection::MiddleButton;
    if (buttons & Qt::RightButton)
        mask |= VncConnection::RightButton;
    return mask;
}

void VncViewWidget::sendPointer(const QPointF &pos, Qt::MouseButtons buttons)
{
    if (m_viewOnly || !m_connection || m_frameSize.isEmpty())
        return;
    const QPoint p = mapToFrame(pos);
    m_connection->sendPointer(p.x(), p.y(), buttonMask(buttons));
}

void VncViewWidget::mousePressEvent(QMouseEvent *event)
{
    sendPointer(event->position(), event->buttons());
    event->accept();
}

void VncViewWidget::mouseReleaseEvent(QMouseEvent *event)
{
    sendPointer(event->position(), event->buttons());
    event->accept();
}

void VncViewWidget::mouseMoveEvent(QMouseEvent *event)
{
    sendPointer(event->position(), event->buttons());
    event->accept();
}

void VncViewWidget::wheelEvent(QWheelEvent *event)
{
    event->accept();
    if (m_viewOnly || !m_connection || m_frameSize.isEmpty())
        return;
    const QPoint p = mapToFrame(event->position());
    const int held = buttonMask(event->buttons());
    const QPoint delta = event->angleDelta();
    auto click = [&](int bit, int steps) {
        for (int i = 0; i < steps; ++i) {
            m_connection->sendPointer(p.x(), p.y(), held | bit);
            m_connection->sendPointer(p.x(), p.y(), held);
        }
    };
    // One RFB wheel click per 120 units (at least one per event).
    const auto steps = [](int v) { return qMax(1, std::abs(v) / 120); };
    if (delta.y() != 0)
        click(delta.y() > 0 ? VncConnection::WheelUp : VncConnection::WheelDown, steps(delta.y()));
    if (delta.x() != 0)
        click(delta.x() > 0 ? VncConnection::WheelLeft : VncConnection::WheelRight, steps(delta.x()));
}

void VncViewWidget::keyPressEvent(QKeyEvent *event)
{
    if (m_viewOnly || !m_connection) {
        QWidget::keyPressEvent(event);
        return;
    }
    event->accept();
    quint32 keysym = m_pressedKeys.value(event->key());
    if (!keysym) {
        keysym = Keysyms::fromQtKey(event->key(), event->text(), event->modifiers() & Qt::ShiftModifier);
        if (!keysym)
            return;
        m_pressedKeys.insert(event->key(), keysym);
    }
    m_connection->sendKey(keysym, true); // auto-repeat: repeated presses
}

void VncViewWidget::keyReleaseEvent(QKeyEvent *event)
{
    if (m_viewOnly || !m_connection) {
        QWidget::keyReleaseEvent(event);
        return;
    }
    event->accept();
    if (event->isAutoRepeat())
        return;
    const quint32 keysym = m_pressedKeys.take(event->key());
    if (keysym)
        m_connection->sendKey(keysym, false);
}

void VncViewWidget::focusOutEvent(QFocusEvent *event)
{
    releaseKeys();
    QWidget::focusOutEvent(event);
}

bool VncViewWidget::focusNextPrevChild(bool next)
{
    // Tab belongs to the remote desktop while input is forwarded.
    return m_viewOnly ? QWidget::focusNextPrevChild(next) : false;
}

void VncViewWidget::releaseKeys()
{
    if (m_connection && !m_viewOnly)
        for (const quint32 keysym : std::as_const(m_pressedKeys))
            m_connection->sendKey(keysym, false);
    m_pressedKeys.clear();
}

} // namespace Vnc
