#pragma once
// Vnc::VncViewWidget: paints a VncConnection's framebuffer scaled to fit
// (aspect ratio kept, centred) and, unless view-only, forwards mouse, wheel
// and keyboard input to it. Repaints only the areas the server changed; the
// image is shared with the connection (no copy per frame) and each dirty
// area is scaled as it is painted.

#include <QHash>
#include <QPointer>
#include <QWidget>

namespace Vnc {

class VncConnection;

class VncViewWidget final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VncViewWidget)
    Q_PROPERTY(bool viewOnly READ isViewOnly WRITE setViewOnly NOTIFY viewOnlyChanged)
    Q_PROPERTY(bool smoothScaling READ smoothScaling WRITE setSmoothScaling)

public:
    explicit VncViewWidget(QWidget *parent = nullptr);
    ~VncViewWidget() override;

    // Not owned; may be null. The widget follows it until it is destroyed.
    void setConnection(VncConnection *connection);
    VncConnection *connection() const;

    // Default true: no input reaches the connection.
    bool isViewOnly() const;
    void setViewOnly(bool viewOnly);

    bool smoothScaling() const; // default false (cheaper)
    void setSmoothScaling(bool smooth);

    // Where the framebuffer is drawn, in widget coordinates.
    QRectF frameRect() const;
    // Widget position -> framebuffer pixel (clamped).
    QPoint mapToFrame(const QPointF &widgetPos) const;
    // Framebuffer position -> widget position (the inverse; not clamped).
    QPointF mapFromFrame(const QPointF &framePos) const;
    // The framebuffer's size (empty until the connection has one).
    QSize frameSize() const { return m_frameSize; }

    QSize sizeHint() const override;

Q_SIGNALS:
    void viewOnlyChanged(bool viewOnly);

protected:
    void paintEvent(QPaintEvent *event) override;
    void mousePressEvent(QMouseEvent *event) override;
    void mouseReleaseEvent(QMouseEvent *event) override;
    void mouseMoveEvent(QMouseEvent *event) override;
    void wheelEvent(QWheelEvent *event) override;
    void keyPressEvent(QKeyEvent *event) override;
    void keyReleaseEvent(QKeyEvent *event) override;
    void focusOutEvent(QFocusEvent *event) override;
    bool focusNextPrevChild(bool next) override;

private:
    void onFrameUpdated(const QRect &rect);
    void onResized(const QSize &size);
    void sendPointer(const QPointF &pos, Qt::MouseButtons buttons);
    void releaseKeys();
    static int buttonMask(Qt::MouseButtons buttons);

    QPointer<VncConnection> m_connection;
    QSize m_frameSize;
    bool m_viewOnly = true;
    bool m_smooth = false;
    QHash<int, quint32> m_pressedKeys; // Qt key -> keysym sent on press
};

} // namespace Vnc
