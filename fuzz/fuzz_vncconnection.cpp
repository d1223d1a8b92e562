// Vnc::VncConnection (libvncclient on its own thread) against a hostile VNC
// server, what a guest could run. A listening socket on 127.0.0.1 answers
// the client with a script built from the input: the version string, the
// security types (None, VNC authentication, a refusal, or raw), the
// security result, ServerInit (width, height, pixel format, name), then
// server messages: framebuffer updates whose rectangles use every encoding
// libvncclient decodes (raw, copyrect, RRE, hextile, zlib, tight, ZRLE,
// TRLE, the desktop-size and ExtendedDesktopSize resizes, the cursor
// shapes, pointer position, last-rect, or any number), colour map entries,
// bell, cut text and raw bytes, in pieces with pauses between; then it hangs
// up.
// Properties: no screen larger than the connection's cap is ever announced
// to the owner (connected(), resized()) or held (frameSize()): a larger one
// ends the connection as an error; once the server hung up the connection
// has ended within kEndMs; no crash, leak or undefined behaviour (a single
// allocation over -malloc_limit_mb, libFuzzer's, is a failure too: the cap
// bounds the framebuffer at kCap.width() x kCap.height() x 4 bytes).
// libvncclient is Debian's, not instrumented: coverage guides only through
// vncconnection.cpp and this script's structure, and ASan checks its memory
// accesses only where they pass through intercepted functions (memcpy,
// memset, read...).
//
// Input, read from the front (zeros once it runs out):
//   u8 version (0: 3.8, 1: 3.3, 2: 3.7, 3: twelve raw bytes follow)
//   u8 security (bits 0-1: 0 None, 1 VNC auth + 16-byte challenge, 2 refused
//      + u8 reason length + reason, 3 u8 count + types; bit 2: no
//      SecurityResult; bit 3: the result is a failure + reason)
//   ServerInit: u16 width, u16 height (big-endian), 16 bytes pixel format,
//      u32 name length, then min(length, kMaxName) bytes of name
//   then messages until the input ends, each a u8 kind (see message()).

#include "fuzz/fuzzcheck.h"

#include "vncview/vnclog.h"
#include "vncview/vncconnection.h"

#include <QCoreApplication>
#include <QDeadlineTimer>

#include <rfb/rfbclient.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using Vnc::VncConnection;

const QSize kCap(320, 240); // the connection's screen cap
constexpr int kEndMs = 5000; // the server gone, until the connection ended
constexpr int kAcceptMs = 3000;
constexpr int kWriteMs = 2000; // a client that takes nothing for this long is given up on
constexpr int kMaxName = 256;
constexpr int kMaxBlob = 4096; // a length-prefixed payload
constexpr qint64 kMaxExact = 1 << 20; // a payload of exact size (raw pixels, cursor) is padded up to this
constexpr int kMaxRects = 8;

// Reads the input from the front; zeros once it ran out.
class Input {
public:
    Input(const std::uint8_t *data, std::size_t size)
        : m_data(data)
        , m_size(size)
    {
    }
    bool atEnd() const { return m_pos >= m_size; }
    std::uint8_t u8() { return atEnd() ? 0 : m_data[m_pos++]; }
    quint16 u16() { return quint16(u8() << 8 | u8()); }
    quint32 u32() { return quint32(u16()) << 16 | u16(); }
    QByteArray bytes(qint64 n)
    {
        const qint64 take = qMin<qint64>(n, qint64(m_size - std::min(m_pos, m_size)));
        QByteArray out(reinterpret_cast<const char *>(m_data + m_pos), qsizetype(take));
        m_pos += std::size_t(take);
        return out;
    }
    // n bytes: from the input as far as it goes, zeros after.
    QByteArray padded(qint64 n) { return bytes(n).leftJustified(qsizetype(n), '\0'); }

private:
    const std::uint8_t *m_data;
    std::size_t m_size;
    std::size_t m_pos = 0;
};

QByteArray be16(quint16 v)
{
    const char b[2] = {char(v >> 8), char(v)};
    return QByteArray(b, 2);
}
QByteArray be32(quint32 v)
{
    return be16(quint16(v >> 16)) + be16(quint16(v));
}

// The pieces the server writes, with a pause after each.
using Script = std::vector<QByteArray>;

void handshake(Input &in, Script &out)
{
    static const char *const versions[] = {"RFB 003.008\n", "RFB 003.003\n", "RFB 003.007\n"};
    const int version = in.u8() % 4;
    out.push_back(version < 3 ? QByteArray(versions[version]) : in.padded(12));
    const std::uint8_t security = in.u8();
    QByteArray s;
    switch (security & 3) {
    case 0: s = version == 1 ? be32(1) : QByteArray("\x01\x01", 2); break;
    case 1: s = (version == 1 ? be32(2) : QByteArray("\x01\x02", 2)) + in.padded(16); break;
    case 2: {
        const QByteArray reason = in.bytes(in.u8());
        s = (version == 1 ? be32(0) : QByteArray(1, '\0')) + be32(quint32(reason.size())) + reason;
        break;
    }
    default: s = in.bytes(in.u8() + 1); break;
    }
    if (!(security & 4)) {
        if (security & 8) {
            const QByteArray reason = in.bytes(in.u8());
            s += be32(1) + be32(quint32(reason.size())) + reason;
        } else {
            s += be32(0);
        }
    }
    out.push_back(s);
    QByteArray init = in.padded(2 + 2 + 16);
    const quint32 nameLength = in.u32();
    init += be32(nameLength) + in.padded(qMin<quint32>(nameLength, kMaxName));
    out.push_back(init);
}

// A rectangle's payload: of the size its encoding implies when it has one,
// else a length-prefixed blob.
QByteArray payload(Input &in, qint32 encoding, quint16 w, quint16 h)
{
    const qint64 area = qint64(w) * h;
    qint64 exact = -1;
    switch (encoding) {
    case rfbEncodingRaw: exact = area * 4; break;
    case rfbEncodingCopyRect: exact = 4; break;
    case qint32(rfbEncodingRichCursor): exact = area * 4 + (w + 7) / 8 * h; break;
    case qint32(rfbEncodingXCursor): exact = area ? 6 + 2 * ((w + 7) / 8 * h) : 0; break;
    case qint32(rfbEncodingNewFBSize):
    case qint32(rfbEncodingPointerPos):
    case qint32(rfbEncodingLastRect): exact = 0; break;
    case qint32(rfbEncodingExtDesktopSize): {
        const std::uint8_t screens = in.u8() % 4;
        return QByteArray(1, char(screens)) + in.padded(3 + 16 * screens);
    }
    default: break;
    }
    if (exact >= 0)
        return exact <= kMaxExact ? in.padded(exact) : in.bytes(exact);
    return in.bytes(in.u16() % kMaxBlob);
}

QByteArray framebufferUpdate(Input &in)
{
    static const qint32 encodings[] = {
        rfbEncodingRaw,
        rfbEncodingCopyRect,
        rfbEncodingRRE,
        rfbEncodingCoRRE,
        rfbEncodingHextile,
        rfbEncodingZlib,
        rfbEncodingTight,
        rfbEncodingZRLE,
        rfbEncodingTRLE,
        rfbEncodingUltra,
        qint32(rfbEncodingNewFBSize),
        qint32(rfbEncodingExtDesktopSize),
        qint32(rfbEncodingRichCursor),
        qint32(rfbEncodingXCursor),
        qint32(rfbEncodingPointerPos),
        qint32(rfbEncodingLastRect),
    };
    constexpr int kKnown = int(sizeof encodings / sizeof encodings[0]);
    const std::uint8_t count = in.u8();
    const int rects = count % (kMaxRects + 1);
    // A count that is not the number sent: 0xffff waits for a LastRect.
    QByteArray m = QByteArray(2, '\0') + be16(count & 0x80 ? 0xffff : quint16(rects));
    for (int i = 0; i < rects && !in.atEnd(); ++i) {
        const quint16 x = in.u16(), y = in.u16(), w = in.u16(), h = in.u16();
        const std::uint8_t e = in.u8();
        const qint32 encoding = e < kKnown ? encodings[e] : qint32(in.u32());
        m += be16(x) + be16(y) + be16(w) + be16(h) + be32(quint32(encoding)) + payload(in, encoding, w, h);
    }
    return m;
}

// One server message; false for a hang-up.
bool message(Input &in, Script &out)
{
    switch (in.u8() % 8) {
    case 0: out.back() += framebufferUpdate(in); break;
    case 1: {
        const quint16 first = in.u16();
        const quint16 count = in.u8();
        out.back() += QByteArray("\x01\x00", 2) + be16(first) + be16(count) + in.padded(6 * count);
        break;
    }
    case 2: out.back() += QByteArray(1, '\x02'); break;
    case 3: {
        const quint32 length = in.u32();
        out.back() += QByteArray("\x03\0\0\0", 4) + be32(length) + in.bytes(qMin<quint32>(length, kMaxBlob));
        break;
    }
    case 4: out.back() += in.bytes(in.u8()); break; // raw bytes
    case 5: out.emplace_back(); break; // a pause
    case 6: return false;
    default: out.back() += QByteArray(1, char(in.u8())); break; // any message type
    }
    return true;
}

Script script(Input &in)
{
    Script out;
    handshake(in, out);
    out.emplace_back();
    while (!in.atEnd() && message(in, out)) {
    }
    return out;
}

// poll() on one descriptor, again after a signal (libFuzzer's timeout check
// raises SIGALRM every second) until the time is up.
int pollOne(pollfd &p, int ms)
{
    QDeadlineTimer deadline(ms);
    for (;;) {
        const int n = ::poll(&p, 1, int(deadline.remainingTime()));
        if (n >= 0 || errno != EINTR)
            return n;
    }
}

// The hostile server's listening socket, for the whole run.
struct Listener {
    int fd = -1;
    quint16 port = 0;

    Listener()
    {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        MVS_FUZZ_CHECK(fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr *>(&a), len) == 0 && ::listen(fd, 4) == 0);
        MVS_FUZZ_CHECK(::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) == 0);
        port = ntohs(a.sin_port);
    }

    int accept() const
    {
        pollfd p{fd, POLLIN, 0};
        if (pollOne(p, kAcceptMs) != 1)
            return -1;
        return ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    }
};

// Writes all of bytes unless the client stops taking them or went away;
// what it sends is dropped.
void writeAll(int fd, const QByteArray &bytes)
{
    qsizetype pos = 0;
    char sink[4096];
    while (pos < bytes.size()) {
        pollfd p{fd, POLLIN | POLLOUT, 0};
        if (pollOne(p, kWriteMs) != 1 || (p.revents & (POLLERR | POLLHUP)))
            return;
        if (p.revents & POLLIN && ::recv(fd, sink, sizeof sink, 0) == 0)
            return;
        if (!(p.revents & POLLOUT))
            continue;
        const ssize_t n = ::send(fd, bytes.constData() + pos, size_t(bytes.size() - pos), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return;
        pos += n > 0 ? n : 0;
    }
}

// What the client sent, dropped.
void drain(int fd)
{
    char sink[4096];
    while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
}

bool withinCap(QSize size)
{
    return size.width() <= kCap.width() && size.height() <= kCap.height();
}

void init()
{
    static int argc = 1;
    static char arg0[] = "fuzz";
    static char *argv[] = {arg0, nullptr};
    static QCoreApplication app(argc, argv);
    rfbEnableClientLogging = FALSE;
    Vnc::Log::vnc()->set_level(spdlog::level::off);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    static const bool ready = (init(), true);
    static const Listener listener;
    Q_UNUSED(ready);
    Input in(data, size);
    const Script pieces = script(in);

    auto *conn = new VncConnection;
    conn->setMaxScreenSize(kCap);
    conn->setPassword(QStringLiteral("fuzz"));
    bool ended = false;
    QObject::connect(conn, &VncConnection::connected, conn, [](QSize s) { MVS_FUZZ_CHECK(withinCap(s)); });
    QObject::connect(conn, &VncConnection::resized, conn, [](QSize s) { MVS_FUZZ_CHECK(withinCap(s)); });
    QObject::connect(conn, &VncConnection::disconnected, conn, [&ended]() { ended = true; });
    conn->connectToHost(QStringLiteral("127.0.0.1"), listener.port);
    const int peer = listener.accept();
    if (peer < 0)
        std::fprintf(stderr, "no connection (%s); the client: %s\n", std::strerror(errno), qPrintable(conn->errorString()));
    MVS_FUZZ_CHECK(peer >= 0);
    for (const QByteArray &piece : pieces) {
        writeAll(peer, piece);
        QCoreApplication::processEvents();
        MVS_FUZZ_CHECK(withinCap(conn->frameSize()));
    }
    // The server hangs up: its end first, so that the client reads all that
    // was sent before it finds the end (closing with the client's messages
    // unread would reset the connection, and lose what it had not read).
    ::shutdown(peer, SHUT_WR);
    QDeadlineTimer deadline(kEndMs);
    while (!ended && !deadline.hasExpired()) {
        drain(peer);
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 5);
    }
    ::close(peer);
    MVS_FUZZ_CHECK(ended);
    MVS_FUZZ_CHECK(conn->state() == VncConnection::State::Disconnected);
    MVS_FUZZ_CHECK(withinCap(conn->frameSize()));
    // MVS_FUZZ_TRACE=1 says how each input ended (reproducing one).
    static const bool trace = qEnvironmentVariableIsSet("MVS_FUZZ_TRACE");
    if (trace)
        std::fprintf(stderr, "%zu pieces; frames %llu, %dx%d; ended: %s\n", pieces.size(), conn->frameCount(), conn->frameSize().width(),
                     conn->frameSize().height(), qPrintable(conn->errorString()));
    delete conn;
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    return 0;
}
