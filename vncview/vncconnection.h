#pragma once
// Vnc::VncConnection: a widget-free RFB client over libvncclient.
//
// libvncclient runs on a thread owned by the connection and never waits on
// the owner's thread. Everything it reports reaches the owner as signals
// emitted in the owner's thread (coalesced for frames: at most one
// frameUpdated() is pending, carrying the union of the changed areas).
// Input may be sent from any thread: it is queued, the VNC thread is woken
// and sends it. The framebuffer is a 32-bit QImage copied out under a mutex
// after each complete update, so snapshot() never shows half an update and
// is cheap (implicitly shared; the VNC thread detaches only if a snapshot is
// still held when the next update lands).
//
// One connection object connects once: configure, connectTo*(), and when
// done, disconnectFromServer() or stopAndDeleteLater(). The destructor stops
// and joins the thread (the socket is shut down so a blocked read returns).

#include <QImage>
#include <QObject>
#include <QRect>
#include <QSize>
#include <QString>

#include <memory>

namespace Vnc {

class VncConnection final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VncConnection)

public:
    enum class State { Idle, Connecting, Connected, Disconnected };
    Q_ENUM(State)

    // Why the connection ended. None: disconnectFromServer() or destruction.
    // ScreenTooLarge: the server announced a screen above setMaxScreenSize(),
    // at connection or by a resize (the message names both sizes).
    enum class Error { None, ConnectFailed, AuthenticationFailed, ConnectionLost, ScreenTooLarge };
    Q_ENUM(Error)

    // RFB PointerEvent button mask bits.
    enum Button : int {
        LeftButton = 1,
        MiddleButton = 2,
        RightButton = 4,
        WheelUp = 8,
        WheelDown = 16,
        WheelLeft = 32,
        WheelRight = 64,
    };

    explicit VncConnection(QObject *parent = nullptr);
    ~VncConnection() override;

    // Settings: before connectTo*(), ignored afterwards.
    void setPassword(const QString &password);
    // libvncclient's encoding list, most preferred first.
    // Default: "tight zrle copyrect hextile zlib raw".
    void setEncodings(const QString &encodings);
    // JPEG quality 0..9 for tight, or -1 (default) for lossless only.
    void setQualityLevel(int level);
    void setCompressLevel(int level); // 0..9, default 1
    void setConnectTimeout(int seconds); // default 10
    // The largest screen the server may announce, at connection or by a
    // resize; a larger one ends the connection (a hostile server would have
    // the client allocate width x height x 4 bytes twice). Default: 8K UHD.
    static constexpr int kDefaultMaxScreenWidth = 7680;
    static constexpr int kDefaultMaxScreenHeight = 4320;
    void setMaxScreenSize(const QSize &size);

    // Starts the VNC thread. A path to a Unix socket connects there.
    void connectToHost(const QString &host, quint16 port);
    void connectToUnixSocket(const QString &path);
    // Asynchronous: disconnected(Error::None, ...) follows unless the
    // connection had already ended.
    void disconnectFromServer();
    // Stops and deletes this object once the thread is done; never blocks.
    void stopAndDeleteLater();
    // Waits for the VNC thread to end (after a stop or a failure).
    bool waitForFinished(int msecs);

    State state() const;
    Error error() const;
    QString errorString() const;
    QString desktopName() const;

    // Thread-safe.
    QImage snapshot() const; // Format_RGB32; null before the first frame
    QSize frameSize() const;
    quint64 frameCount() const; // complete framebuffer updates received

    // Input, thread-safe; dropped unless connecting or connected.
    void sendPointer(int x, int y, int buttonMask);
    void sendKey(quint32 keysym, bool down);
    // Presses and releases each character's keysym (see Keysyms::fromCodepoint).
    void sendText(const QString &text);
    // "ctrl+alt+t", "Return", "shift+Tab": false if it does not parse.
    bool sendKeyCombo(const QString &combo);
    // Latin-1 on libvncclient 0.9.14 (RFB ClientCutText; characters outside
    // it become '?'); UTF-8 on >= 0.9.15 when the server supports it.
    void sendClipboard(const QString &text);
    void requestFullUpdate();

Q_SIGNALS:
    void stateChanged(Vnc::VncConnection::State state);
    void connected(QSize size);
    void frameUpdated(QRect rect);
    void resized(QSize size);
    void clipboardReceived(QString text);
    void disconnected(Vnc::VncConnection::Error error, QString message);

private:
    struct Private;
    class Thread;
    friend struct Private;

    void start(const QString &host, int port);

    std::unique_ptr<Private> d;
};

} // namespace Vnc
