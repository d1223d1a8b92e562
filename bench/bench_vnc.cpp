// bench_vnc: Vnc::VncConnection beside a bare libvncclient loop written
// here, against the same host Xvnc in the same run, with the same pixel
// format, encodings and compression.
//
//  1. framebuffer updates per second while the screen animates without
//     pause: a full-screen xterm scrolling random hex as fast as it can
//     (falls back to xsetroot alternating root patterns without xterm).
//     The server always has changes ready, so the rate is bound by the
//     client's round trip and decoding. Both clients are connected at once
//     and measured over the same seconds (the server serves each at its
//     own pace), so the machine's load weighs on both alike; medians of
//     the rounds reported.
//  2. input-to-pixel latency: a pointer move (Xvnc draws the cursor into
//     the framebuffer, as neither client asks for cursor encodings) until
//     the frame shows the cursor at the new place. Ours: sendPointer() from
//     the owner thread until frameUpdated() delivers a snapshot showing it.
//     Bare: SendPointerEvent() until its own framebuffer shows it.
//
// Usage: bench_vnc [--rounds N] [--seconds S] [--samples N]

#include "tests/vncview/xvncserver.h"
#include "vncview/vncconnection.h"

#include "bench/benchutil.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QTimer>

#include <rfb/rfbclient.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <thread>
#include <cstdio>

namespace {

constexpr const char *kEncodings = "tight zrle copyrect hextile zlib raw";
constexpr int kCompress = 1;
constexpr QRgb kBackground = 0x808080;

VncTest::XvncServer *g_server = nullptr;

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_vnc: %s\n", qPrintable(m));
    if (g_server)
        g_server->stop();
    std::exit(1);
}

double median(QList<double> v)
{
    std::sort(v.begin(), v.end());
    return v.isEmpty() ? 0 : v.at(v.size() / 2);
}

// Does the 15x15 box around p hold a pixel other than the background?
template<typename PixelAt>
bool cursorAt(QPoint p, int w, int h, PixelAt pixelAt)
{
    for (int y = qMax(0, p.y() - 7); y <= qMin(h - 1, p.y() + 7); ++y)
        for (int x = qMax(0, p.x() - 7); x <= qMin(w - 1, p.x() + 7); ++x)
            if ((pixelAt(x, y) & 0xffffff) != kBackground)
                return true;
    return false;
}

const QPoint kTargets[2] = {{200, 150}, {600, 450}};

// ---- the bare libvncclient peer ----

int kBareTag = 0;

struct Bare {
    rfbClient *cl = nullptr;
    quint64 frames = 0;

    static void finished(rfbClient *c) { static_cast<Bare *>(rfbClientGetClientData(c, &kBareTag))->frames++; }

    bool connect(quint16 port)
    {
        cl = rfbGetClient(8, 3, 4);
        cl->format.redShift = 16;
        cl->format.greenShift = 8;
        cl->format.blueShift = 0;
        cl->canHandleNewFBSize = TRUE;
        cl->FinishedFrameBufferUpdate = finished;
        cl->appData.encodingsString = kEncodings;
        cl->appData.compressLevel = kCompress;
        cl->appData.enableJPEG = FALSE;
        std::free(cl->serverHost);
        cl->serverHost = strdup("127.0.0.1");
        cl->serverPort = port;
        rfbClientSetClientData(cl, &kBareTag, this);
        if (!rfbInitClient(cl, nullptr, nullptr)) {
            cl = nullptr;
            return false;
        }
        return true;
    }
    // The canonical loop, plus the check for data libvncclient already buffered.
    bool pump(int usecs)
    {
        if (cl->buffered == 0) {
            const int n = WaitForMessage(cl, unsigned(usecs));
            if (n < 0)
                return false;
            if (n == 0)
                return true;
        }
        return HandleRFBServerMessage(cl);
    }
    uint32_t pixel(int x, int y) const { return reinterpret_cast<const uint32_t *>(cl->frameBuffer)[y * cl->width + x]; }
    ~Bare()
    {
        if (cl) {
            std::free(cl->frameBuffer);
            rfbClientCleanup(cl);
        }
    }
};

double bareFps(quint16 port, int ms)
{
    Bare b;
    if (!b.connect(port))
        die(QStringLiteral("bare client cannot connect"));
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 300)
        if (!b.pump(100000))
            die(QStringLiteral("bare client lost the connection"));
    const quint64 start = b.frames;
    t.restart();
    while (t.elapsed() < ms)
        if (!b.pump(100000))
            die(QStringLiteral("bare client lost the connection"));
    return double(b.frames - start) * 1000.0 / double(t.elapsed());
}

QList<double> bareLatency(quint16 port, int samples)
{
    Bare b;
    if (!b.connect(port))
        die(QStringLiteral("bare client cannot connect"));
    QElapsedTimer settle;
    settle.start();
    while (settle.elapsed() < 300)
        b.pump(10000);
    QList<double> out;
    for (int i = 0; i < samples; ++i) {
        const QPoint target = kTargets[i % 2];
        const auto px = [&b](int x, int y) { return b.pixel(x, y); };
        QElapsedTimer t;
        t.start();
        SendPointerEvent(b.cl, target.x(), target.y(), 0);
        while (!cursorAt(target, b.cl->width, b.cl->height, px)) {
            if (t.elapsed() > 5000)
                die(QStringLiteral("bare: the cursor never showed"));
            if (!b.pump(100000))
                die(QStringLiteral("bare client lost the connection"));
        }
        out.append(double(t.nsecsElapsed()) / 1e6);
        // Let the old position's repaint arrive before the next sample.
        QElapsedTimer idle;
        idle.start();
        while (idle.elapsed() < 30)
            b.pump(5000);
    }
    return out;
}

// ---- ours ----

std::unique_ptr<Vnc::VncConnection> connectOurs(quint16 port)
{
    auto c = std::make_unique<Vnc::VncConnection>();
    c->setEncodings(QString::fromLatin1(kEncodings));
    c->setCompressLevel(kCompress);
    c->setQualityLevel(-1);
    c->connectToHost(QStringLiteral("127.0.0.1"), port);
    QElapsedTimer t;
    t.start();
    while (c->frameCount() == 0) {
        if (c->state() == Vnc::VncConnection::State::Disconnected || t.elapsed() > 10000)
            die(QStringLiteral("VncConnection cannot connect: ") + c->errorString());
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    }
    return c;
}

double oursFps(quint16 port, int ms)
{
    auto c = connectOurs(port);
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < 300)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
    const quint64 start = c->frameCount();
    t.restart();
    // The owner thread takes every frameUpdated(), as a viewer would.
    while (t.elapsed() < ms)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
    return double(c->frameCount() - start) * 1000.0 / double(t.elapsed());
}

QList<double> oursLatency(quint16 port, int samples)
{
    auto c = connectOurs(port);
    QElapsedTimer settle;
    settle.start();
    while (settle.elapsed() < 300)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 50);
    QList<double> out;
    for (int i = 0; i < samples; ++i) {
        const QPoint target = kTargets[i % 2];
        bool seen = false;
        QElapsedTimer t;
        QEventLoop loop;
        const auto conn = QObject::connect(c.get(), &Vnc::VncConnection::frameUpdated, &loop, [&] {
            const QImage img = c->snapshot();
            if (cursorAt(target, img.width(), img.height(), [&img](int x, int y) { return img.pixel(x, y); })) {
                seen = true;
                loop.quit();
            }
        });
        t.start();
        c->sendPointer(target.x(), target.y(), 0);
        QTimer::singleShot(5000, &loop, &QEventLoop::quit);
        loop.exec();
        const double ms = double(t.nsecsElapsed()) / 1e6;
        QObject::disconnect(conn);
        if (!seen)
            die(QStringLiteral("ours: the cursor never showed"));
        out.append(ms);
        QElapsedTimer idle;
        idle.start();
        while (idle.elapsed() < 30)
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 5);
    }
    return out;
}

void row(const char *what, double ours, double peer, const char *unit, const QString &verdict)
{
    std::printf("%-34s %10.2f %-6s %-22s %10.2f %-6s ratio %6.2f  %s\n", what, ours, unit, "bare libvncclient", peer, unit, ours / peer, qPrintable(verdict));
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    int rounds = 5, seconds = 2, samples = 100;
    const QStringList args = app.arguments();
    for (int i = 1; i + 1 < args.size(); i += 2) {
        if (args[i] == QLatin1String("--rounds"))
            rounds = qMax(1, args[i + 1].toInt());
        else if (args[i] == QLatin1String("--seconds"))
            seconds = qMax(1, args[i + 1].toInt());
        else if (args[i] == QLatin1String("--samples"))
            samples = qMax(2, args[i + 1].toInt());
    }
    if (!VncTest::XvncServer::available() || !VncTest::XvncServer::have(QStringLiteral("xsetroot")))
        die(QStringLiteral("needs Xvnc and xsetroot (tigervnc-standalone-server, x11-xserver-utils)"));
    rfbEnableClientLogging = FALSE; // both clients stay quiet
    std::signal(SIGPIPE, SIG_IGN); // the bare client writes with write() too

    VncTest::XvncServer server;
    g_server = &server;
    if (!server.start({}))
        die(server.error());
    const quint16 port = server.port();
    std::printf("Xvnc %s on 127.0.0.1:%u, 800x600x24, encodings \"%s\", compress %d, no JPEG\n", qPrintable(server.display()), unsigned(port), kEncodings,
                kCompress);

    // 1. Latency first, on a still screen.
    server.run(QStringLiteral("xsetroot"), {QStringLiteral("-solid"), QStringLiteral("#808080"), QStringLiteral("-cursor_name"), QStringLiteral("X_cursor")});
    // Blocks of 10 samples alternate ours / bare, each on a fresh connection,
    // so that load from other processes hits both alike.
    QList<double> latOurs, latBare;
    for (int done = 0; done < samples; done += 10) {
        const int n = qMin(10, samples - done);
        latOurs += oursLatency(port, n);
        latBare += bareLatency(port, n);
    }

    // 2. Updates per second under a full-screen animation.
    const bool xterm = VncTest::XvncServer::have(QStringLiteral("xterm"));
    const QString animate = xterm ? QStringLiteral("while :; do od -An -tx1 -N65536 /dev/urandom; done")
                                  : QStringLiteral("while :; do xsetroot -mod 4 4 -fg '#ff0000' -bg '#0000ff'; "
                                                   "xsetroot -mod 7 7 -fg '#00ff00' -bg '#000000'; done");
    const bool started = xterm
        ? server.spawn(QStringLiteral("xterm"),
                       {QStringLiteral("-geometry"), QStringLiteral("132x46+0+0"), QStringLiteral("-e"), QStringLiteral("sh"), QStringLiteral("-c"), animate})
        : server.spawn(QStringLiteral("sh"), {QStringLiteral("-c"), animate});
    if (!started)
        die(QStringLiteral("cannot start the animation"));
    std::printf("animation: %s\n", xterm ? "xterm scrolling od of /dev/urandom" : "xsetroot pattern loop");
    // Both clients connected at once, measured over the same seconds: the
    // machine's load (this host is shared) then weighs on both alike.
    QList<double> fpsOurs, fpsBare;
    for (int r = 0; r < rounds; ++r) {
        double bare = 0;
        std::thread peer([&bare, port, seconds] { bare = bareFps(port, seconds * 1000); });
        fpsOurs.append(oursFps(port, seconds * 1000));
        peer.join();
        fpsBare.append(bare);
    }

    std::printf("\n%-34s %17s %-22s %17s\n", "", "VncConnection", "", "peer");
    const double fo = median(fpsOurs), fb = median(fpsBare);
    row("updates/s, animated screen (med)", fo, fb, "fps", fo >= 0.9 * fb ? QStringLiteral("ok (>= 0.90)") : QStringLiteral("SLOWER"));
    const double lo50 = Bench::percentile(latOurs, 0.5), lb50 = Bench::percentile(latBare, 0.5);
    const double lo90 = Bench::percentile(latOurs, 0.9), lb90 = Bench::percentile(latBare, 0.9);
    row("pointer->pixel latency p50", lo50, lb50, "ms", lo50 <= 1.1 * lb50 ? QStringLiteral("ok (<= 1.10)") : QStringLiteral("SLOWER"));
    row("pointer->pixel latency p90", lo90, lb90, "ms", lo90 <= 1.1 * lb90 ? QStringLiteral("ok (<= 1.10)") : QStringLiteral("SLOWER"));
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    std::printf("(%d rounds of %d s, both clients at once, for fps; %d latency samples each, alternating in blocks of 10;\n"
                " load average %.2f on %d CPUs: other processes skew both columns)\n",
                rounds, seconds, int(latOurs.size()), load[0], QThread::idealThreadCount());
    server.stop();
    return 0;
}
