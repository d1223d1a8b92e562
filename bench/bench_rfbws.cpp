// bench_rfbws: RFB over a WebSocket, our relay beside websockify, against the
// same VNC server in the same run.
//
// One desktop VM boots; its Xvnc is reached through the guest agent. Our
// relay is the service's /api/v1/vms/{name}/vnc (VncSocket + RfbFilter over
// the VM's display forward). websockify (Debian's, the one noVNC ships with)
// is put in front of a TCP forward of the same guest port. The same
// WebSocket RFB client then pulls full, raw framebuffer updates through each,
// interleaved in rounds, and reports MiB/s and updates/s.
//
// Usage: bench_rfbws [--seconds 5] [--rounds 3]

#include "core/vm/portforward.h"
#include "core/vm/virtualmachine.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"
#include "desktop/displayhub.h"
#include "desktop/vmdisplay.h"
#include "server/api.h"

#include "bench/benchservice.h"
#include "bench/benchutil.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QNetworkRequest>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QWebSocket>
#include <QtEndian>

#include <cstdio>

namespace {

constexpr int kBootTimeoutMs = 20 * 60 * 1000; // the first run builds the desktop image
constexpr int kStepTimeoutMs = 120000;

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_rfbws: %s\n", qPrintable(m));
    std::exit(1);
}

quint16 freePort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    return s.serverPort();
}

// A minimal RFB 3.8 client over a WebSocket: None security, raw encoding,
// full (non-incremental) update requests back to back.
class RfbClient {
public:
    struct Result {
        double seconds = 0;
        qint64 bytes = 0;
        int updates = 0;
        QString error;
    };

    Result run(const QNetworkRequest &request, int seconds)
    {
        Result r;
        QWebSocket ws;
        m_ws = &ws;
        m_in.clear();
        QObject::connect(&ws, &QWebSocket::binaryMessageReceived, &ws, [&](const QByteArray &b) {
            m_in += b;
            r.bytes += b.size();
        });
        ws.open(request);
        Frame frame;
        QString error = handshake(&frame);
        if (error.isEmpty()) {
            setRawEncoding();
            error = pullUpdates(frame, seconds, r);
        }
        if (!error.isEmpty())
            return fail(r, error);
        ws.close();
        return r;
    }

private:
    struct Frame {
        quint16 width = 0;
        quint16 height = 0;
        int bpp = 0; // bytes per pixel
    };

    static Result fail(Result r, const QString &why)
    {
        r.error = why;
        return r;
    }

    bool need(qsizetype n)
    {
        QDeadlineTimer d(kStepTimeoutMs);
        while (m_in.size() < n && !d.hasExpired() && m_ws->state() != QAbstractSocket::UnconnectedState)
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 5);
        return m_in.size() >= n;
    }

    QByteArray take(qsizetype n)
    {
        const QByteArray out = m_in.left(n);
        m_in.remove(0, n);
        return out;
    }

    // Version, None security, ClientInit, ServerInit: an error, or empty.
    QString handshake(Frame *frame)
    {
        if (!need(12))
            return QStringLiteral("no RFB version (%1)").arg(m_ws->errorString());
        take(12);
        m_ws->sendBinaryMessage("RFB 003.008\n");
        if (!need(1) || !need(1 + static_cast<quint8>(m_in.at(0))))
            return QStringLiteral("no security types");
        const QByteArray types = take(1 + static_cast<quint8>(m_in.at(0))).mid(1);
        if (!types.contains('\x01'))
            return QStringLiteral("the server wants authentication");
        m_ws->sendBinaryMessage(QByteArray(1, '\x01'));
        if (!need(4) || qFromBigEndian<quint32>(take(4).constData()) != 0)
            return QStringLiteral("security failed");
        m_ws->sendBinaryMessage(QByteArray(1, '\x01')); // ClientInit: shared
        if (!need(24))
            return QStringLiteral("no ServerInit");
        frame->width = qFromBigEndian<quint16>(m_in.constData());
        frame->height = qFromBigEndian<quint16>(m_in.constData() + 2);
        frame->bpp = static_cast<quint8>(m_in.at(4)) / 8;
        const quint32 nameLength = qFromBigEndian<quint32>(m_in.constData() + 20);
        if (!need(24 + nameLength))
            return QStringLiteral("no desktop name");
        take(24 + nameLength);
        return {};
    }

    // SetEncodings: raw only, so every update is the whole frame's bytes.
    void setRawEncoding()
    {
        QByteArray enc(8, '\0');
        enc[0] = 2;
        qToBigEndian<quint16>(1, enc.data() + 2);
        qToBigEndian<qint32>(0, enc.data() + 4);
        m_ws->sendBinaryMessage(enc);
    }

    // Full update requests back to back for the given time: an error, or empty.
    QString pullUpdates(const Frame &frame, int seconds, Result &r)
    {
        QByteArray request3(10, '\0');
        request3[0] = 3;
        request3[1] = 0; // not incremental: the whole frame every time
        qToBigEndian<quint16>(frame.width, request3.data() + 6);
        qToBigEndian<quint16>(frame.height, request3.data() + 8);

        r.bytes = 0;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < seconds * 1000) {
            m_ws->sendBinaryMessage(request3);
            if (const QString error = readUpdate(frame.bpp); !error.isEmpty())
                return error;
            ++r.updates;
        }
        r.seconds = double(t.nsecsElapsed()) / 1e9;
        return {};
    }

    // FramebufferUpdate: type 0, pad, count, then rectangles.
    QString readUpdate(int bpp)
    {
        if (!need(4))
            return QStringLiteral("no update");
        if (m_in.at(0) != 0)
            return QStringLiteral("unexpected server message %1").arg(int(m_in.at(0)));
        const quint16 rects = qFromBigEndian<quint16>(m_in.constData() + 2);
        take(4);
        for (int i = 0; i < rects; ++i) {
            if (!need(12))
                return QStringLiteral("short rectangle");
            const quint16 w = qFromBigEndian<quint16>(m_in.constData() + 4);
            const quint16 h = qFromBigEndian<quint16>(m_in.constData() + 6);
            const qint32 encoding = qFromBigEndian<qint32>(m_in.constData() + 8);
            take(12);
            if (encoding != 0)
                continue; // pseudo-encodings carry no pixels here
            const qsizetype pixels = qsizetype(w) * h * bpp;
            if (!need(pixels))
                return QStringLiteral("short pixels");
            take(pixels);
        }
        return {};
    }

    QWebSocket *m_ws = nullptr; // during run()
    QByteArray m_in;
};

// Boots the desktop VM and connects its display.
void bootDesktop(Vm::VmManager &manager, Desktop::DisplayHub &displays, const QString &name, const QString &driverName)
{
    Vm::VmManager::CreateOptions o;
    o.name = name;
    o.templateName = QStringLiteral("desktop");
    if (auto r = manager.create(o); !r)
        die(r.error().message);
    std::printf("booting a desktop VM (%s driver)...\n", qPrintable(driverName));
    std::fflush(stdout);
    if (auto r = Bench::await(manager.start(o.name), kBootTimeoutMs); !r)
        die(QStringLiteral("boot failed: %1").arg(r.error().toString()));
    auto display = displays.display(o.name);
    if (!display)
        die(display.error().message);
    if (auto r = Bench::await((*display)->ensureConnected(), kStepTimeoutMs); !r)
        die(QStringLiteral("no desktop: %1").arg(r.error().toString()));
}

// websockify in front of a TCP forward of the same guest port; its port.
quint16 startWebsockify(Vm::VmManager &manager, const QString &name, QProcess &websockify)
{
    Vm::ForwardListen tcpOnly;
    tcpOnly.unixSocket = false;
    tcpOnly.tcp = true;
    auto forward = manager.vm(name)->forward(manager.vm(name)->vmTemplate().desktop.vncPort, tcpOnly);
    if (!forward)
        die(forward.error().message);
    const quint16 wsPort = freePort();
    websockify.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    websockify.start(QStringLiteral("websockify"), {QStringLiteral("127.0.0.1:%1").arg(wsPort), QStringLiteral("127.0.0.1:%1").arg((*forward)->tcpPort())});
    if (!websockify.waitForStarted(10000))
        die(QStringLiteral("websockify did not start"));
    QTcpSocket probe;
    QDeadlineTimer ready(15000);
    while (!ready.hasExpired()) {
        probe.connectToHost(QHostAddress::LocalHost, wsPort);
        if (probe.waitForConnected(200))
            break;
        QCoreApplication::processEvents(QEventLoop::AllEvents, 100);
    }
    probe.abort();
    return wsPort;
}

struct Totals {
    double oursBytes = 0, oursSeconds = 0, peerBytes = 0, peerSeconds = 0;
    int oursUpdates = 0, peerUpdates = 0;
};

// Ours, then websockify, per round.
Totals measureRounds(const QNetworkRequest &ours, const QNetworkRequest &peer, int rounds, int seconds)
{
    RfbClient client;
    Totals t;
    for (int round = 0; round < rounds; ++round) {
        const RfbClient::Result a = client.run(ours, seconds);
        if (!a.error.isEmpty())
            die(QStringLiteral("our relay: %1").arg(a.error));
        const RfbClient::Result b = client.run(peer, seconds);
        if (!b.error.isEmpty())
            die(QStringLiteral("websockify: %1").arg(b.error));
        t.oursBytes += a.bytes;
        t.oursSeconds += a.seconds;
        t.oursUpdates += a.updates;
        t.peerBytes += b.bytes;
        t.peerSeconds += b.seconds;
        t.peerUpdates += b.updates;
        std::printf("round %d: ours %.1f MiB/s (%d updates), websockify %.1f MiB/s (%d updates)\n", round + 1, a.bytes / a.seconds / 1048576.0, a.updates,
                    b.bytes / b.seconds / 1048576.0, b.updates);
        std::fflush(stdout);
    }
    return t;
}

void printReport(const Totals &t, int rounds, int seconds, const QString &driverName)
{
    const double oursRate = t.oursBytes / t.oursSeconds / 1048576.0;
    const double peerRate = t.peerBytes / t.peerSeconds / 1048576.0;
    std::printf("\nbench_rfbws: full raw framebuffer updates (1280x800x32) over a WebSocket, %d rounds of %d s each way, "
                "same guest Xvnc through the guest agent (%s driver)\n\n",
                rounds, seconds, qPrintable(driverName));
    std::printf("| measure | our relay | websockify 0.10 (same run) | ratio | aim |\n|---|---|---|---|---|\n");
    std::printf("| throughput | %.1f MiB/s | %.1f MiB/s | %.2f | >= 1.0: %s |\n", oursRate, peerRate, oursRate / peerRate,
                oursRate >= peerRate ? "met" : "NOT met");
    std::printf("| updates | %.1f /s | %.1f /s | %.2f | |\n", t.oursUpdates / t.oursSeconds, t.peerUpdates / t.peerSeconds,
                (t.oursUpdates / t.oursSeconds) / (t.peerUpdates / t.peerSeconds));
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const int seconds = Bench::intArg(app.arguments(), QStringLiteral("--seconds"), 5);
    const int rounds = Bench::intArg(app.arguments(), QStringLiteral("--rounds"), 3);

    if (QStandardPaths::findExecutable(QStringLiteral("websockify")).isEmpty())
        die(QStringLiteral("websockify is not installed (apt-get install websockify)"));

    QTemporaryDir state;
    auto driver = Vmm::createDriver(Vmm::DriverOptions());
    if (!driver)
        die(driver.error().message);
    const QString driverName = (*driver)->name();
    Vm::VmManager manager(**driver, state.path());
    Desktop::DisplayHub displays(manager);
    Server::Api controller(manager, &displays);
    auto service = Bench::listenLocally(controller);
    if (!service)
        die(service.error().message);
    const quint16 port = service->port;

    const QString name = QStringLiteral("rfb");
    bootDesktop(manager, displays, name, driverName);
    QProcess websockify;
    const quint16 wsPort = startWebsockify(manager, name, websockify);

    QNetworkRequest ours(QUrl(QStringLiteral("ws://127.0.0.1:%1/api/v1/vms/rfb/vnc").arg(port)));
    ours.setRawHeader("Authorization", "Bearer " + Bench::kServiceToken);
    QNetworkRequest peer(QUrl(QStringLiteral("ws://127.0.0.1:%1/").arg(wsPort)));
    const Totals totals = measureRounds(ours, peer, rounds, seconds);
    websockify.terminate();
    websockify.waitForFinished(5000);
    printReport(totals, rounds, seconds, driverName);
    if (auto r = Bench::await(manager.remove(name), 60000); !r)
        std::fprintf(stderr, "bench_rfbws: cleanup: %s\n", qPrintable(r.error().toString()));
    return 0;
}
