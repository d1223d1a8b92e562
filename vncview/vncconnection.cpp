#include "vncview/vncconnection.h"

#include "vncview/keysyms.h"
#include "vncview/vnclog.h"

#include <QDeadlineTimer>
#include <QList>
#include <QMutex>
#include <QMutexLocker>
#include <QRegion>
#include <QThread>

#include <rfb/rfbclient.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

// MVS_LIBVNC_UTF8_CLIPBOARD is set by CMake for libvncclient >= 0.9.15
// (GotXCutTextUTF8, SendClientCutTextUTF8); bookworm's 0.9.14 only has the
// Latin-1 RFB cut text.
#ifndef MVS_LIBVNC_UTF8_CLIPBOARD
#define MVS_LIBVNC_UTF8_CLIPBOARD 0
#endif

namespace Vnc {
namespace {

// The tag under which each rfbClient carries its Private (rfbClientSetClientData).
int kClientTag = 0;

constexpr int kIdleWakeMs = 500; // the stop flag is also checked this often
constexpr size_t kMaxQueuedInput = 4096;

// rfbClientLog/rfbClientErr are process-global function pointers: install
// ours once. Messages are attributed to the connection whose VNC thread
// logs them (libvncclient only calls them from there).
thread_local VncConnection *t_logOwner = nullptr;
thread_local QString *t_lastMessage = nullptr;

void logMessage(bool isError, const char *format, va_list args)
{
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, format, args);
    QString line = QString::fromLocal8Bit(buf).trimmed();
    if (line.isEmpty())
        return;
    if (t_lastMessage && (isError || !line.startsWith(QLatin1String("VNC server supports"))))
        *t_lastMessage = line;
    if (!rfbEnableClientLogging) // libvncclient's own switch, honoured as its default logger does
        return;
    auto *log = Log::vnc();
    const std::string text = line.toStdString();
    if (isError)
        log->info("[{}] {}", static_cast<const void *>(t_logOwner), text);
    else
        log->debug("[{}] {}", static_cast<const void *>(t_logOwner), text);
}

void clientLog(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    logMessage(false, format, args);
    va_end(args);
}

void clientErr(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    logMessage(true, format, args);
    va_end(args);
}

void installLogHandlers()
{
    static std::once_flag once;
    std::call_once(once, [] {
        rfbClientLog = clientLog;
        rfbClientErr = clientErr;
    });
}

struct InputEvent {
    enum class Kind { Pointer, Key, ClientCut, FullUpdate };
    Kind kind;
    int a = 0; // x, keysym
    int b = 0; // y, down
    int c = 0; // button mask
    QString text;
};

} // namespace

class VncConnection::Thread final : public QThread {
public:
    explicit Thread(VncConnection::Private *p)
        : m_p(p)
    {
    }
    void run() override;

private:
    VncConnection::Private *m_p;
};

struct VncConnection::Private {
    explicit Private(VncConnection *qq)
        : q(qq)
    {
    }

    VncConnection *q;

    // Settings, written before start() only.
    QByteArray host;
    int port = 5900;
    QByteArray password;
    QByteArray encodings = "tight zrle copyrect hextile zlib raw";
    int quality = -1;
    int compress = 1;
    int connectTimeout = 10;

    std::unique_ptr<Thread> thread;
    int wakeFd = -1;
    std::atomic<bool> stop{false};
    std::atomic<State> state{State::Idle};

    // Written by the VNC thread, read under resultMutex.
    mutable QMutex resultMutex;
    Error error = Error::None;
    QString errorString;
    QString desktopName;

    // The socket, published for shutdown() from stop().
    QMutex sockMutex;
    int sock = -1;

    QMutex inputMutex;
    QList<InputEvent> input;

    // The shared frame and the pending frameUpdated() notification.
    mutable QMutex frameMutex;
    QImage image;
    QRect notifyRect;
    bool notifyPending = false;
    std::atomic<quint64> frames{0};

    // VNC thread only.
    std::vector<uint32_t> fb;
    QRegion dirty;
    bool passwordRequested = false;
    bool fullUpdateWanted = false;
    QString lastMessage;
    QString refusal; // why the client ended the connection itself (it outranks libvncclient's last word)
    Error refusalError = Error::None; // and as an error, when it did
    QSize maxScreen{kDefaultMaxScreenWidth, kDefaultMaxScreenHeight};

    // What waiting for the server found.
    enum class Wait { Readable, Nothing, Failed };

    void run();
    void prepareThread();
    void configureClient(rfbClient *cl);
    // Connects; on failure (or a stop first) finishes and returns false.
    bool establishConnection(rfbClient *cl);
    // The message loop, until a stop or an error.
    Error handleConnection(rfbClient *cl);
    Wait waitForServer(rfbClient *cl);
    void closeConnection(rfbClient *cl, Error err);
    static void freeCursorShape(rfbClient *cl);
    void wake() const;
    void requestStop();
    void enqueue(InputEvent ev);
    bool sendQueuedInput(rfbClient *cl);
    void finish(Error err, const QString &message);
    void setState(State s);
    template<typename F>
    void post(F &&fn)
    {
        QMetaObject::invokeMethod(q, std::forward<F>(fn), Qt::QueuedConnection);
    }

    static Private *self(rfbClient *cl) { return static_cast<Private *>(rfbClientGetClientData(cl, &kClientTag)); }
    static rfbBool hookMallocFrameBuffer(rfbClient *cl);
    static void hookGotUpdate(rfbClient *cl, int x, int y, int w, int h);
    static void hookFinishedUpdate(rfbClient *cl);
    static void hookCutText(rfbClient *cl, const char *text, int len);
#if MVS_LIBVNC_UTF8_CLIPBOARD
    static void hookCutTextUtf8(rfbClient *cl, const char *text, int len);
#endif
    static void hookCursorShape(rfbClient *cl, int xhot, int yhot, int width, int height, int bytesPerPixel);
    static char *hookPassword(rfbClient *cl);
};

void VncConnection::Thread::run()
{
    m_p->run();
}

VncConnection::VncConnection(QObject *parent)
    : QObject(parent)
    , d(std::make_unique<Private>(this))
{
    d->wakeFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

VncConnection::~VncConnection()
{
    if (d->thread) {
        d->requestStop();
        d->thread->wait();
    }
    if (d->wakeFd >= 0)
        ::close(d->wakeFd);
}

// Settings are read by the VNC thread once started: later changes are ignored.
#define MVS_VNC_SETTING(stmt) \
    do { \
        if (d->thread) \
            Log::vnc()->warn("VncConnection: settings change after connectTo*() ignored"); \
        else \
            stmt; \
    } while (false)

void VncConnection::setPassword(const QString &password)
{
    MVS_VNC_SETTING(d->password = password.toLatin1());
}
void VncConnection::setEncodings(const QString &encodings)
{
    MVS_VNC_SETTING(d->encodings = encodings.toLatin1());
}
void VncConnection::setQualityLevel(int level)
{
    MVS_VNC_SETTING(d->quality = qBound(-1, level, 9));
}
void VncConnection::setCompressLevel(int level)
{
    MVS_VNC_SETTING(d->compress = qBound(0, level, 9));
}
void VncConnection::setConnectTimeout(int seconds)
{
    MVS_VNC_SETTING(d->connectTimeout = qMax(1, seconds));
}

void VncConnection::setMaxScreenSize(const QSize &size)
{
    MVS_VNC_SETTING(d->maxScreen = size.expandedTo(QSize(1, 1)));
}

#undef MVS_VNC_SETTING

void VncConnection::connectToHost(const QString &host, quint16 port)
{
    start(host, port);
}

void VncConnection::connectToUnixSocket(const QString &path)
{
    // libvncclient connects to a Unix socket when serverHost names one
    // (rfbproto.c: ConnectToRFBServer -> IsUnixSocket, 0.9.14).
    start(path, 0);
}

void VncConnection::start(const QString &host, int port)
{
    if (d->thread) {
        Log::vnc()->warn("VncConnection: connectTo* called twice; ignored");
        return;
    }
    d->host = host.toLocal8Bit();
    d->port = port;
    d->setState(State::Connecting);
    d->thread = std::make_unique<Thread>(d.get());
    d->thread->setObjectName(QStringLiteral("vnc"));
    d->thread->start();
}

void VncConnection::disconnectFromServer()
{
    d->requestStop();
}

void VncConnection::stopAndDeleteLater()
{
    d->requestStop();
    if (!d->thread || d->thread->isFinished()) {
        deleteLater();
        return;
    }
    connect(d->thread.get(), &QThread::finished, this, &QObject::deleteLater);
    // finished() may have fired between the check and the connect.
    if (d->thread->isFinished())
        deleteLater();
}

bool VncConnection::waitForFinished(int msecs)
{
    return !d->thread || d->thread->wait(QDeadlineTimer(msecs));
}

VncConnection::State VncConnection::state() const
{
    return d->state.load();
}

VncConnection::Error VncConnection::error() const
{
    QMutexLocker lock(&d->resultMutex);
    return d->error;
}

QString VncConnection::errorString() const
{
    QMutexLocker lock(&d->resultMutex);
    return d->errorString;
}

QString VncConnection::desktopName() const
{
    QMutexLocker lock(&d->resultMutex);
    return d->desktopName;
}

QImage VncConnection::snapshot() const
{
    QMutexLocker lock(&d->frameMutex);
    return d->image;
}

QSize VncConnection::frameSize() const
{
    QMutexLocker lock(&d->frameMutex);
    return d->image.size();
}

quint64 VncConnection::frameCount() const
{
    return d->frames.load(std::memory_order_relaxed);
}

void VncConnection::sendPointer(int x, int y, int buttonMask)
{
    d->enqueue({InputEvent::Kind::Pointer, x, y, buttonMask, {}});
}

void VncConnection::sendKey(quint32 keysym, bool down)
{
    d->enqueue({InputEvent::Kind::Key, int(keysym), down ? 1 : 0, 0, {}});
}

void VncConnection::sendText(const QString &text)
{
    for (const uint cp : text.toUcs4()) {
        const quint32 k = Keysyms::fromCodepoint(char32_t(cp));
        if (!k)
            continue;
        sendKey(k, true);
        sendKey(k, false);
    }
}

bool VncConnection::sendKeyCombo(const QString &combo)
{
    const auto keys = Keysyms::parseCombo(combo);
    if (!keys)
        return false;
    for (const quint32 k : *keys)
        sendKey(k, true);
    for (auto it = keys->crbegin(); it != keys->crend(); ++it)
        sendKey(*it, false);
    return true;
}

void VncConnection::sendClipboard(const QString &text)
{
    d->enqueue({InputEvent::Kind::ClientCut, 0, 0, 0, text});
}

void VncConnection::requestFullUpdate()
{
    d->enqueue({InputEvent::Kind::FullUpdate, 0, 0, 0, {}});
}

// ---- Private: any thread ----

void VncConnection::Private::wake() const
{
    if (wakeFd >= 0) {
        const uint64_t one = 1;
        [[maybe_unused]] const ssize_t n = ::write(wakeFd, &one, sizeof one);
    }
}

void VncConnection::Private::requestStop()
{
    stop.store(true);
    wake();
    // A read blocked inside libvncclient returns once the socket is shut down.
    QMutexLocker lock(&sockMutex);
    if (sock >= 0)
        ::shutdown(sock, SHUT_RDWR);
}

void VncConnection::Private::enqueue(InputEvent ev)
{
    const State s = state.load();
    if (s != State::Connecting && s != State::Connected)
        return;
    {
        QMutexLocker lock(&inputMutex);
        if (size_t(input.size()) >= kMaxQueuedInput)
            return;
        input.append(std::move(ev));
    }
    wake();
}

void VncConnection::Private::setState(State s)
{
    state.store(s);
    post([qq = q, s] { Q_EMIT qq->stateChanged(s); });
}

// ---- Private: the VNC thread ----

void VncConnection::Private::run()
{
    prepareThread();
    rfbClient *cl = rfbGetClient(8, 3, 4);
    if (!cl) {
        finish(Error::ConnectFailed, QStringLiteral("cannot allocate the VNC client"));
        return;
    }
    configureClient(cl);
    if (!establishConnection(cl))
        return;
    const Error err = handleConnection(cl);
    closeConnection(cl, err);
}

void VncConnection::Private::prepareThread()
{
    // libvncclient writes with write(): a peer that went away raises SIGPIPE,
    // whose default action kills the process. Blocked on this thread only,
    // the write fails with EPIPE instead; the process disposition is untouched.
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

    installLogHandlers();
    t_logOwner = q;
    t_lastMessage = &lastMessage;
}

void VncConnection::Private::configureClient(rfbClient *cl)
{
    // 32 bits per pixel laid out as 0x00RRGGBB in host order: QImage::Format_RGB32.
    cl->format.redShift = 16;
    cl->format.greenShift = 8;
    cl->format.blueShift = 0;
    cl->format.redMax = cl->format.greenMax = cl->format.blueMax = 255;
    cl->canHandleNewFBSize = TRUE;
    cl->MallocFrameBuffer = hookMallocFrameBuffer;
    cl->GotFrameBufferUpdate = hookGotUpdate;
    cl->FinishedFrameBufferUpdate = hookFinishedUpdate;
    cl->GotXCutText = hookCutText;
#if MVS_LIBVNC_UTF8_CLIPBOARD
    cl->GotXCutTextUTF8 = hookCutTextUtf8;
#endif
    cl->GetPassword = hookPassword;
    cl->GotCursorShape = hookCursorShape;
    cl->appData.encodingsString = encodings.constData();
    cl->appData.compressLevel = compress;
    cl->appData.enableJPEG = quality >= 0 ? TRUE : FALSE;
    cl->appData.qualityLevel = qMax(0, quality);
    cl->appData.useRemoteCursor = FALSE;
    cl->connectTimeout = unsigned(connectTimeout);
    std::free(cl->serverHost);
    cl->serverHost = strdup(host.constData());
    cl->serverPort = port;
    rfbClientSetClientData(cl, &kClientTag, this);
}

bool VncConnection::Private::establishConnection(rfbClient *cl)
{
    if (stop.load()) {
        rfbClientCleanup(cl);
        finish(Error::None, QStringLiteral("stopped"));
        return false;
    }
    // On failure rfbInitClient frees cl (rfbClientCleanup); our framebuffer is ours.
    if (!rfbInitClient(cl, nullptr, nullptr)) {
        const QString where = port > 0 ? QStringLiteral("%1:%2").arg(QString::fromLocal8Bit(host)).arg(port) : QString::fromLocal8Bit(host);
        Error err = passwordRequested ? Error::AuthenticationFailed : Error::ConnectFailed;
        if (stop.load())
            err = Error::None;
        else if (refusalError != Error::None)
            err = refusalError;
        const QString why = !refusal.isEmpty() ? refusal : lastMessage.isEmpty() ? QStringLiteral("connection failed") : lastMessage;
        finish(err, QStringLiteral("%1: %2").arg(where, why));
        return false;
    }
    {
        QMutexLocker lock(&sockMutex);
        sock = cl->sock;
        if (stop.load())
            ::shutdown(sock, SHUT_RDWR);
    }
    {
        QMutexLocker lock(&resultMutex);
        desktopName = QString::fromUtf8(cl->desktopName ? cl->desktopName : "");
    }
    const QSize size(cl->width, cl->height);
    setState(State::Connected);
    post([qq = q, size] { Q_EMIT qq->connected(size); });
    return true;
}

VncConnection::Error VncConnection::Private::handleConnection(rfbClient *cl)
{
    lastMessage.clear();
    while (!stop.load()) {
        if (!sendQueuedInput(cl))
            return Error::ConnectionLost;
        // Data already buffered by libvncclient is not seen by poll().
        if (cl->buffered == 0) {
            const Wait wait = waitForServer(cl);
            if (wait == Wait::Failed)
                return Error::ConnectionLost;
            if (wait == Wait::Nothing)
                continue;
        }
        if (!HandleRFBServerMessage(cl)) {
            if (stop.load())
                return Error::None;
            return refusalError != Error::None ? refusalError : Error::ConnectionLost;
        }
        if (fullUpdateWanted) {
            fullUpdateWanted = false;
            SendFramebufferUpdateRequest(cl, 0, 0, cl->width, cl->height, FALSE);
        }
    }
    return Error::None;
}

VncConnection::Private::Wait VncConnection::Private::waitForServer(rfbClient *cl)
{
    pollfd fds[2] = {{cl->sock, POLLIN, 0}, {wakeFd, POLLIN, 0}};
    const int n = ::poll(fds, 2, kIdleWakeMs);
    if (n < 0 && errno != EINTR) {
        lastMessage = QString::fromLocal8Bit(std::strerror(errno));
        return Wait::Failed;
    }
    if (fds[1].revents & POLLIN) {
        uint64_t v;
        [[maybe_unused]] const ssize_t r = ::read(wakeFd, &v, sizeof v);
    }
    if (n <= 0 || !(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
        return Wait::Nothing;
    return Wait::Readable;
}

void VncConnection::Private::closeConnection(rfbClient *cl, Error err)
{
    {
        QMutexLocker lock(&sockMutex);
        sock = -1;
        freeCursorShape(cl);
        rfbClientCleanup(cl); // closes the socket
    }
    fb = {};
    QString message;
    if (err == Error::None)
        message = QStringLiteral("disconnected");
    else
        message = !refusal.isEmpty() ? refusal : lastMessage.isEmpty() ? QStringLiteral("connection lost") : lastMessage;
    finish(err, message);
}

void VncConnection::Private::freeCursorShape(rfbClient *cl)
{
    // A server may send cursor shapes (XCursor, RichCursor) though none was
    // asked for. libvncclient 0.9.14 keeps the last in rcSource and rcMask,
    // allocates a new rcMask for each without freeing the old one, and its
    // rfbClientCleanup frees neither: a hostile server could grow the
    // client's memory without bound. Freed after each shape (nothing here
    // draws a remote cursor) and at the end; a libvncclient that frees them
    // itself finds null pointers.
    std::free(cl->rcSource);
    cl->rcSource = nullptr;
    std::free(cl->rcMask);
    cl->rcMask = nullptr;
}

bool VncConnection::Private::sendQueuedInput(rfbClient *cl)
{
    QList<InputEvent> events;
    {
        QMutexLocker lock(&inputMutex);
        events.swap(input);
    }
    for (InputEvent &ev : events) {
        rfbBool ok = TRUE;
        switch (ev.kind) {
        case InputEvent::Kind::Pointer:
            ok = SendPointerEvent(cl, qBound(0, ev.a, qMax(0, cl->width - 1)), qBound(0, ev.b, qMax(0, cl->height - 1)), ev.c);
            break;
        case InputEvent::Kind::Key: ok = SendKeyEvent(cl, uint32_t(ev.a), ev.b ? TRUE : FALSE); break;
        case InputEvent::Kind::ClientCut: {
#if MVS_LIBVNC_UTF8_CLIPBOARD
            // FALSE when the server lacks the extended clipboard: Latin-1 then,
            // as libvncclient's SDLvncviewer does.
            QByteArray utf8 = ev.text.toUtf8();
            if (SendClientCutTextUTF8(cl, utf8.data(), int(utf8.size())))
                break;
#endif
            QByteArray latin1 = ev.text.toLatin1();
            ok = SendClientCutText(cl, latin1.data(), int(latin1.size()));
            break;
        }
        case InputEvent::Kind::FullUpdate: ok = SendFramebufferUpdateRequest(cl, 0, 0, cl->width, cl->height, FALSE); break;
        }
        if (!ok)
            return false;
    }
    return true;
}

void VncConnection::Private::finish(Error err, const QString &message)
{
    {
        QMutexLocker lock(&resultMutex);
        error = err;
        errorString = message;
    }
    if (err != Error::None)
        Log::vnc()->info("[{}] connection ended: {}", static_cast<const void *>(q), message.toStdString());
    t_logOwner = nullptr;
    t_lastMessage = nullptr;
    setState(State::Disconnected);
    post([qq = q, err, message] { Q_EMIT qq->disconnected(err, message); });
}

rfbBool VncConnection::Private::hookMallocFrameBuffer(rfbClient *cl)
{
    Private *p = self(cl);
    const int w = qMax(0, cl->width);
    const int h = qMax(0, cl->height);
    if (w > p->maxScreen.width() || h > p->maxScreen.height()) {
        p->refusal = QStringLiteral("the VNC server announced a %1x%2 screen, larger than the %3x%4 this connection allows")
                         .arg(w)
                         .arg(h)
                         .arg(p->maxScreen.width())
                         .arg(p->maxScreen.height());
        p->refusalError = Error::ScreenTooLarge;
        return FALSE;
    }
    p->fb.assign(size_t(w) * size_t(h), 0u);
    cl->frameBuffer = reinterpret_cast<uint8_t *>(p->fb.data());
    p->dirty = QRegion();
    const bool resize = p->state.load() == State::Connected;
    {
        QMutexLocker lock(&p->frameMutex);
        p->image = QImage(w, h, QImage::Format_RGB32);
        p->image.fill(Qt::black);
        p->notifyRect = QRect();
    }
    if (resize) {
        p->fullUpdateWanted = true;
        const QSize size(w, h);
        p->post([qq = p->q, size] { Q_EMIT qq->resized(size); });
    }
    return TRUE;
}

void VncConnection::Private::hookGotUpdate(rfbClient *cl, int x, int y, int w, int h)
{
    self(cl)->dirty += QRect(x, y, w, h);
}

void VncConnection::Private::hookFinishedUpdate(rfbClient *cl)
{
    Private *p = self(cl);
    p->frames.fetch_add(1, std::memory_order_relaxed);
    if (p->dirty.isEmpty())
        return;
    const int fbWidth = cl->width;
    bool postNotify = false;
    {
        QMutexLocker lock(&p->frameMutex);
        const QRect bounds = p->image.rect();
        uchar *bits = p->image.bits(); // detaches if a snapshot is still held
        const qsizetype bpl = p->image.bytesPerLine();
        for (const QRect &r0 : p->dirty) {
            const QRect r = r0 & bounds;
            for (int y = r.top(); y <= r.bottom(); ++y) {
                const uint32_t *src = p->fb.data() + size_t(y) * size_t(fbWidth) + size_t(r.left());
                auto *dst = reinterpret_cast<uint32_t *>(bits + y * bpl) + r.left();
                for (int x = 0; x < r.width(); ++x)
                    dst[x] = src[x] | 0xff000000u;
            }
        }
        p->notifyRect |= p->dirty.boundingRect() & bounds;
        postNotify = !p->notifyPending;
        p->notifyPending = true;
    }
    p->dirty = QRegion();
    if (postNotify) {
        p->post([p] {
            QRect r;
            {
                QMutexLocker lock(&p->frameMutex);
                r = p->notifyRect;
                p->notifyRect = QRect();
                p->notifyPending = false;
            }
            if (!r.isEmpty())
                Q_EMIT p->q->frameUpdated(r);
        });
    }
}

void VncConnection::Private::hookCutText(rfbClient *cl, const char *text, int len)
{
    // RFB ServerCutText is Latin-1 (UTF-8 needs libvncclient >= 0.9.15).
    const QString s = QString::fromLatin1(text, len);
    Private *p = self(cl);
    p->post([qq = p->q, s] { Q_EMIT qq->clipboardReceived(s); });
}

#if MVS_LIBVNC_UTF8_CLIPBOARD
void VncConnection::Private::hookCutTextUtf8(rfbClient *cl, const char *text, int len)
{
    const QString s = QString::fromUtf8(text, len);
    Private *p = self(cl);
    p->post([qq = p->q, s] { Q_EMIT qq->clipboardReceived(s); });
}
#endif

void VncConnection::Private::hookCursorShape(rfbClient *cl, int, int, int, int, int)
{
    freeCursorShape(cl);
}

char *VncConnection::Private::hookPassword(rfbClient *cl)
{
    Private *p = self(cl);
    p->passwordRequested = true;
    if (p->password.isEmpty()) {
        p->lastMessage = QStringLiteral("the server asks for a password and none was given");
        return nullptr;
    }
    return strdup(p->password.constData()); // libvncclient frees it
}

} // namespace Vnc
