// The HTTP walls of the real `microvm-sandbox --serve` (no guest): a 600 MiB
// chunked body without a token answered 401 at its head with the service's
// memory flat, a chunked body with one cut at its route's cap (413), 2,000
// idle connections (health answers while they are open and after), a
// slowloris head dropped at the head timeout, and 100,000 pipelined GETs
// whose answers are never read (memory bounded, the service alive). The
// service gets short timeouts (MVS_HTTP_*_TIMEOUT_MS), 1024 file
// descriptors, and dies with this test (PR_SET_PDEATHSIG).

#include "server/connectionguard.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <memory>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr int kStartTimeoutMs = 30000;
constexpr int kHeadTimeoutMs = 1500;
constexpr int kIdleTimeoutMs = 4000;
constexpr rlim_t kServiceFds = 1024; // so its connection cap is 512
constexpr qint64 kMiB = 1 << 20;
constexpr qint64 kRssBoundKiB = 64 * 1024; // growth allowed for any one abuse
constexpr int kIdleConnections = 2000;
constexpr int kPipelined = 100000;
// Body a client gets to send after its refusal: 16 MiB read and dropped,
// and what the kernel's socket buffers take.
constexpr qint64 kMaxSentAfterRefusal = 64 * kMiB;
const QByteArray kToken = QByteArrayLiteral("abuse-test-token-0123456789abcdef");

quint16 freePort()
{
    QTcpServer s;
    return s.listen(QHostAddress::LocalHost, 0) ? s.serverPort() : 0;
}

QByteArray chunk(qint64 size)
{
    return QByteArray::number(size, 16) + "\r\n" + QByteArray(size, 'a') + "\r\n";
}

} // namespace

class TestHttpAbuse : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir{QStringLiteral("/tmp/mvs-abuse-XXXXXX")};
    QProcess m_service;
    quint16 m_port = 0;

    qint64 rssKiB() const
    {
        QFile f(QStringLiteral("/proc/%1/status").arg(m_service.processId()));
        if (!f.open(QIODevice::ReadOnly))
            return -1;
        for (const QByteArray &line : f.readAll().split('\n')) {
            if (line.startsWith("VmRSS:"))
                return line.mid(6).trimmed().split(' ').value(0).toLongLong();
        }
        return -1;
    }

    // The service's open sockets (its listener and a few others included).
    int serviceSockets() const
    {
        int n = 0;
        const QDir fds(QStringLiteral("/proc/%1/fd").arg(m_service.processId()));
        for (const QString &fd : fds.entryList(QDir::System | QDir::NoDotAndDotDot)) {
            char target[64] = {};
            const ssize_t len = ::readlink(QFile::encodeName(fds.filePath(fd)).constData(), target, sizeof target - 1);
            n += len > 0 && QByteArray(target, len).startsWith("socket:") ? 1 : 0;
        }
        return n;
    }

    bool connectTo(QTcpSocket &s) const
    {
        s.connectToHost(QHostAddress::LocalHost, m_port);
        return s.waitForConnected(5000);
    }

    // Whether an answer's head and its Content-Length of body are all there.
    static bool complete(const QByteArray &answer)
    {
        const qsizetype end = answer.indexOf("\r\n\r\n");
        if (end < 0)
            return false;
        qint64 length = 0;
        for (const QByteArray &line : answer.left(end).split('\n')) {
            if (line.toLower().startsWith("content-length:"))
                length = line.mid(15).trimmed().toLongLong();
        }
        return answer.size() >= end + 4 + length;
    }

    // One request on a new connection; its answer, or what came of it
    // before the service closed the connection or timeoutMs passed.
    QByteArray exchange(const QByteArray &request, int timeoutMs = 5000) const
    {
        QTcpSocket s;
        if (!connectTo(s))
            return {};
        s.write(request);
        QByteArray got;
        QElapsedTimer t;
        t.start();
        while (!complete(got) && s.state() == QAbstractSocket::ConnectedState && t.elapsed() < timeoutMs) {
            s.waitForReadyRead(50);
            got += s.readAll();
        }
        return got + s.readAll();
    }

    bool healthy(int timeoutMs = 5000) const
    {
        return exchange("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", timeoutMs).startsWith("HTTP/1.1 200");
    }

    // Read on s until its text starts with a status line, or the time is up.
    static QByteArray awaitAnswer(QTcpSocket &s, int timeoutMs)
    {
        QByteArray got;
        QElapsedTimer t;
        t.start();
        while (!got.contains("\r\n") && t.elapsed() < timeoutMs) {
            s.waitForReadyRead(50);
            got += s.readAll();
        }
        return got;
    }

    // Write a chunked body of up to `total` bytes in 1 MiB chunks until the
    // service closes the connection or timeoutMs passes (or an answer comes,
    // if stopAtAnswer, as curl does); how much was sent.
    static qint64 pushChunks(QTcpSocket &s, qint64 total, int timeoutMs, QByteArray *answer, bool stopAtAnswer = false)
    {
        const QByteArray piece = chunk(kMiB);
        qint64 sent = 0;
        QElapsedTimer t;
        t.start();
        while (sent < total && s.state() == QAbstractSocket::ConnectedState && t.elapsed() < timeoutMs && !(stopAtAnswer && !answer->isEmpty())) {
            if (s.bytesToWrite() < 4 * kMiB) {
                s.write(piece);
                sent += kMiB;
            }
            s.waitForBytesWritten(20);
            *answer += s.readAll();
        }
        return sent;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        rlimit rl{};
        QCOMPARE(::getrlimit(RLIMIT_NOFILE, &rl), 0);
        rl.rlim_cur = qMin<rlim_t>(rl.rlim_max, 3 * kIdleConnections);
        QCOMPARE(::setrlimit(RLIMIT_NOFILE, &rl), 0);
        QVERIFY2(rl.rlim_cur > kIdleConnections + 64, "RLIMIT_NOFILE's hard limit is too low for this test");

        m_port = freePort();
        QVERIFY(m_port);
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        env.insert(QStringLiteral("MVS_TOKEN"), QString::fromLatin1(kToken));
        env.insert(QStringLiteral("MVS_CONFIG_DIR"), m_dir.filePath(QStringLiteral("config")));
        env.insert(QStringLiteral("MVS_DATA_DIR"), m_dir.filePath(QStringLiteral("data")));
        env.insert(QStringLiteral("MVS_RUNTIME_DIR"), m_dir.filePath(QStringLiteral("run")));
        env.insert(QStringLiteral("MVS_HTTP_HEAD_TIMEOUT_MS"), QString::number(kHeadTimeoutMs));
        env.insert(QStringLiteral("MVS_HTTP_IDLE_TIMEOUT_MS"), QString::number(kIdleTimeoutMs));
        m_service.setProcessEnvironment(env);
        m_service.setChildProcessModifier([] {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            rlimit fds{kServiceFds, kServiceFds};
            ::setrlimit(RLIMIT_NOFILE, &fds);
        });
        m_service.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(m_port)});
        QVERIFY(m_service.waitForStarted());
        QByteArray err;
        QElapsedTimer t;
        t.start();
        while (!err.contains("serving the API") && t.elapsed() < kStartTimeoutMs && m_service.state() == QProcess::Running) {
            m_service.waitForReadyRead(200);
            err += m_service.readAllStandardError();
        }
        QVERIFY2(err.contains("serving the API"), err.constData());
        QVERIFY(healthy());
    }

    void cleanupTestCase()
    {
        if (m_service.state() == QProcess::NotRunning)
            return;
        ::kill(static_cast<pid_t>(m_service.processId()), SIGTERM);
        if (!m_service.waitForFinished(10000))
            m_service.kill();
        m_service.waitForFinished();
    }

    // Checked after every case: the service is still there and answers.
    void cleanup() { QVERIFY2(m_service.state() == QProcess::Running && healthy(), "the service stopped answering"); }

    void chunkedWithoutTokenRefusedAtItsHead_data()
    {
        QTest::addColumn<bool>("headInPieces");
        QTest::newRow("head at once") << false;
        QTest::newRow("head in pieces") << true;
    }

    void chunkedWithoutTokenRefusedAtItsHead()
    {
        QFETCH(bool, headInPieces);
        const qint64 rss0 = rssKiB();
        QTcpSocket s;
        QVERIFY(connectTo(s));
        const QByteArray head = "POST /api/v1/vms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if (headInPieces) {
            s.write(head.left(30));
            s.waitForBytesWritten(1000);
            QTest::qWait(300);
            s.write(head.mid(30));
        } else {
            s.write(head);
        }
        // Not one byte of body sent yet.
        QByteArray answer = awaitAnswer(s, 3000);
        QVERIFY2(answer.startsWith("HTTP/1.1 401"), answer.constData());
        // The body comes anyway: 600 MiB, dropped unread until the service closes.
        const qint64 sent = pushChunks(s, 600 * kMiB, 20000, &answer);
        qInfo("sent %lld MiB of body before the service closed the connection", sent / kMiB);
        QVERIFY2(s.state() != QAbstractSocket::ConnectedState, "the service kept reading a refused body");
        QVERIFY2(sent < kMaxSentAfterRefusal, qPrintable(QString::number(sent)));
        const qint64 grown = rssKiB() - rss0;
        QVERIFY2(grown < kRssBoundKiB, qPrintable(QStringLiteral("RSS grew by %1 KiB").arg(grown)));
    }

    void chunkedWithTokenCutAtItsRouteCap()
    {
        const qint64 rss0 = rssKiB();
        QTcpSocket s;
        QVERIFY(connectTo(s));
        s.write("POST /api/v1/vms HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken
                + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
        QByteArray answer;
        const qint64 sent = pushChunks(s, 600 * kMiB, 20000, &answer, true);
        answer += awaitAnswer(s, 1000);
        QVERIFY2(answer.startsWith("HTTP/1.1 413"), answer.left(200).constData());
        // Cut near the JSON cap (1 MiB), far from the file cap (512 MiB); what
        // the kernel buffered meanwhile was dropped.
        QVERIFY2(sent < kMaxSentAfterRefusal, qPrintable(QString::number(sent)));
        const qint64 grown = rssKiB() - rss0;
        QVERIFY2(grown < kRssBoundKiB, qPrintable(QStringLiteral("RSS grew by %1 KiB").arg(grown)));
    }

    // A WebSocket handshake the server's WebSocket side would refuse is
    // answered by the adapter in full (Qt's own 400 has no Content-Length, so
    // a client could not tell where it ends); a good one still upgrades.
    void badWebSocketHandshakesAnsweredWhole_data()
    {
        QTest::addColumn<QByteArray>("headers");
        QTest::addColumn<QByteArray>("status");
        const QByteArray key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
        const QByteArray upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
        QTest::newRow("version 12") << QByteArray(upgrade + key + "Sec-WebSocket-Version: 12\r\n") << QByteArray("400");
        QTest::newRow("no version") << QByteArray(upgrade + key) << QByteArray("400");
        QTest::newRow("no key") << QByteArray(upgrade + "Sec-WebSocket-Version: 13\r\n") << QByteArray("400");
        QTest::newRow("short key") << QByteArray(upgrade + "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n") << QByteArray("400");
        QTest::newRow("no Connection: Upgrade") << QByteArray("Upgrade: websocket\r\n" + key + "Sec-WebSocket-Version: 13\r\n") << QByteArray("400");
        QTest::newRow("good") << QByteArray(upgrade + key + "Sec-WebSocket-Version: 13\r\n") << QByteArray("101");
    }

    void badWebSocketHandshakesAnsweredWhole()
    {
        QFETCH(QByteArray, headers);
        QFETCH(QByteArray, status);
        const QByteArray answer =
            exchange(QByteArray("GET /api/v1/vms/a/vnc HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + kToken + "\r\n" + headers + "\r\n"));
        QVERIFY2(answer.startsWith(QByteArray(QByteArray("HTTP/1.1 ") + status)), answer.left(300).constData());
        if (status == "400") {
            const QByteArray head = answer.left(answer.indexOf("\r\n\r\n") + 2).toLower();
            QVERIFY2(head.contains("\r\ncontent-length: "), answer.constData());
            QVERIFY2(head.contains("\r\nsec-websocket-version: 13\r\n"), answer.constData());
            QVERIFY2(complete(answer), answer.constData());
        }
    }

    void idleConnections()
    {
        const qint64 rss0 = rssKiB();
        std::vector<std::unique_ptr<QTcpSocket>> idle;
        for (int i = 0; i < kIdleConnections; ++i) {
            idle.push_back(std::make_unique<QTcpSocket>());
            idle.back()->connectToHost(QHostAddress::LocalHost, m_port);
        }
        // The service holds at most its cap (half its descriptors).
        int most = 0;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < 3000) {
            QTest::qWait(100);
            most = qMax(most, serviceSockets());
        }
        qInfo("the service held %d connections at most", most);
        QVERIFY2(most <= int(kServiceFds / Server::ConnectionGuard::kFdShareDivisor) + 8, qPrintable(QString::number(most)));
        // The oldest idle ones make room: health answers while they are open.
        QVERIFY(healthy());
        const qint64 grown = rssKiB() - rss0;
        QVERIFY2(grown < kRssBoundKiB, qPrintable(QStringLiteral("RSS grew by %1 KiB").arg(grown)));
        idle.clear();
        QVERIFY(healthy());
    }

    void slowlorisDroppedAtTheHeadTimeout()
    {
        QTcpSocket s;
        QVERIFY(connectTo(s));
        QElapsedTimer t;
        t.start();
        const QByteArray head = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + QByteArray(100, 'z');
        for (int i = 0; i < head.size() && s.state() == QAbstractSocket::ConnectedState && t.elapsed() < 15000; ++i) {
            s.write(head.mid(i, 1));
            s.waitForBytesWritten(100);
            s.waitForDisconnected(kHeadTimeoutMs / 3);
        }
        QVERIFY2(s.state() != QAbstractSocket::ConnectedState, "a head one byte at a time was never cut off");
        qInfo("dropped after %lld ms", t.elapsed());
        QVERIFY(t.elapsed() >= kHeadTimeoutMs - 100);
        QVERIFY(t.elapsed() < 3 * kHeadTimeoutMs);
    }

    void pipelinedAnswersNeverRead()
    {
        const qint64 rss0 = rssKiB();
        QTcpSocket s;
        s.setReadBufferSize(4096); // never read: the answers pile up in the service
        QVERIFY(connectTo(s));
        // Without a token: each 401 answer is several times the request.
        const QByteArray one = "GET /api/v1/vms HTTP/1.1\r\n\r\n";
        s.write(one.repeated(kPipelined));
        qint64 peak = 0;
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < kIdleTimeoutMs / 2) {
            s.waitForBytesWritten(100);
            peak = qMax(peak, rssKiB() - rss0);
        }
        qInfo("RSS grew by %lld KiB at most", peak);
        // Unheld, the answers (~30 MB) would be in the service's memory.
        QVERIFY2(peak < kRssBoundKiB / 4, qPrintable(QStringLiteral("RSS grew by %1 KiB").arg(peak)));
        QVERIFY(healthy());
        // Read at last: reading resumes and every request is answered, in order.
        s.setReadBufferSize(0);
        qint64 answered = 0;
        QByteArray tail;
        t.restart();
        // 401s, then 429s once the peer's failed authentications pass the limit.
        while (answered < kPipelined && s.state() == QAbstractSocket::ConnectedState && t.elapsed() < 60000) {
            s.waitForReadyRead(100);
            const QByteArray got = tail + s.readAll();
            answered += got.count("HTTP/1.1 4");
            tail = got.right(9);
            answered -= tail.count("HTTP/1.1 4");
        }
        answered += tail.count("HTTP/1.1 4");
        qInfo("%lld answers read in %lld ms (%s)", answered, t.elapsed(), qPrintable(s.errorString()));
        QCOMPARE(answered, qint64(kPipelined));
    }
};

QTEST_GUILESS_MAIN(TestHttpAbuse)
#include "tst_httpabuse.moc"
