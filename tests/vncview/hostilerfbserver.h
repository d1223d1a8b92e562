#pragma once
// A test double of a hostile VNC server (what a guest could run): it speaks
// just enough RFB 3.8 to bring a client up (no security), then announces the
// screen size the test chose, at connection or later as a DesktopSize
// resize, and sends the cursor shapes the test asked for (RichCursor, which
// the client never asked for). One client at a time, on 127.0.0.1.

#include <QTcpServer>
#include <QTcpSocket>
#include <QtEndian>

#include <memory>

namespace VncTest {

class HostileRfbServer final : public QObject {
public:
    // initial: the screen size in ServerInit; resizeTo: when valid, a
    // DesktopSize update to it once the client asked for its first frame.
    HostileRfbServer(QSize initial, QSize resizeTo = QSize())
        : m_initial(initial)
        , m_resizeTo(resizeTo)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this]() {
            m_client.reset(m_server.nextPendingConnection());
            m_step = Step::Version;
            connect(m_client.get(), &QTcpSocket::readyRead, this, [this]() { advance(); });
            m_client->write("RFB 003.008\n");
        });
    }

    // Once the client runs: `count` framebuffer updates, each one RichCursor
    // rectangle of `size` (pixels 32 bpp, then the 1 bpp mask).
    void sendCursorShapes(int count, QSize size)
    {
        m_cursorShapes = count;
        m_cursorSize = size;
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    bool resized() const { return m_step == Step::Resized; }

private:
    enum class Step { Version, Security, ClientInit, Running, Resized };

    void advance()
    {
        if (m_step == Step::Version && take(12)) {
            m_client->write(QByteArray::fromHex("0101")); // one security type: None
            m_step = Step::Security;
        }
        if (m_step == Step::Security && take(1)) {
            m_client->write(QByteArray(4, '\0')); // SecurityResult OK
            m_step = Step::ClientInit;
        }
        if (m_step == Step::ClientInit && take(1)) {
            m_client->write(serverInit());
            m_step = Step::Running;
        }
        if (m_step == Step::Running) {
            m_client->readAll(); // SetPixelFormat, SetEncodings, update requests
            for (; m_cursorShapes > 0; --m_cursorShapes)
                m_client->write(richCursor(m_cursorSize));
            if (m_resizeTo.isValid()) {
                m_client->write(desktopSize(m_resizeTo));
                m_step = Step::Resized;
            }
        }
    }

    bool take(int n)
    {
        if (m_client->bytesAvailable() < n)
            return false;
        m_client->read(n);
        return true;
    }

    static QByteArray u16(int v)
    {
        QByteArray b(2, '\0');
        qToBigEndian<quint16>(quint16(v), b.data());
        return b;
    }

    QByteArray serverInit() const
    {
        // 32 bpp, depth 24, little-endian true colour, 255 per channel, shifts 16/8/0.
        const QByteArray pixelFormat = QByteArray::fromHex("2018000100ff00ff00ff100800000000");
        return u16(m_initial.width()) + u16(m_initial.height()) + pixelFormat + QByteArray::fromHex("00000004") + QByteArray("evil");
    }

    static QByteArray desktopSize(QSize size)
    {
        // FramebufferUpdate, one rectangle, the DesktopSize pseudo-encoding (-223).
        return QByteArray::fromHex("00000001") + u16(0) + u16(0) + u16(size.width()) + u16(size.height()) + QByteArray::fromHex("ffffff21");
    }

    static QByteArray richCursor(QSize size)
    {
        // FramebufferUpdate, one rectangle (hotspot 0,0), the RichCursor pseudo-encoding (-239).
        const int w = size.width();
        const int h = size.height();
        return QByteArray::fromHex("00000001") + u16(0) + u16(0) + u16(w) + u16(h) + QByteArray::fromHex("ffffff11") + QByteArray(w * h * 4, '\x7f')
            + QByteArray((w + 7) / 8 * h, '\xff');
    }

    QTcpServer m_server;
    std::unique_ptr<QTcpSocket> m_client;
    Step m_step = Step::Version;
    QSize m_initial;
    QSize m_resizeTo;
    int m_cursorShapes = 0;
    QSize m_cursorSize;
};

} // namespace VncTest
