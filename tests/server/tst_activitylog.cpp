// ActivityLog and EventSocket (issue 19): events numbered in order, kept per
// VM up to kHistoryPerVm, their text clipped, forgotten with their VM;
// track() gives each the answer's result and time. An EventSocket (a real
// QWebSocketServer on loopback) sends a VM's events in order, the kept ones
// after ?since= first, only its own VM's; a client that never reads cannot
// make it hold more than its high water mark: the rest is dropped and
// counted, and the client, once it reads, gets a gap message whose count
// is exactly what it missed, then the events that came after.

#include "server/activitylog.h"
#include "server/eventsocket.h"

#include <QCryptographicHash>
#include <QJsonDocument>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpSocket>
#include <QFutureWatcher>
#include <QTest>
#include <QWebSocket>
#include <QWebSocketServer>

using namespace Server;

namespace {

ActivityEvent made(const QString &vm, const QString &action, QJsonObject detail = {})
{
    ActivityEvent e;
    e.vm = vm;
    e.action = action;
    e.detail = std::move(detail);
    return e;
}

// A WebSocket client by hand over TCP, so that the test decides when it
// reads (a QWebSocket reads whatever arrives). Server frames are unmasked.
class RawClient {
public:
    bool connectTo(quint16 port, const QByteArray &query)
    {
        // The server runs on this thread: wait with the event loop running.
        m_socket.connectToHost(QHostAddress::LocalHost, port);
        QDeadlineTimer connecting(5000);
        while (m_socket.state() != QAbstractSocket::ConnectedState && !connecting.hasExpired())
            QTest::qWait(10);
        m_socket.write("GET /events" + query
                       + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        QDeadlineTimer deadline(5000);
        while (!m_buffer.contains("\r\n\r\n") && !deadline.hasExpired()) {
            QTest::qWait(10);
            m_buffer += m_socket.readAll();
        }
        const qsizetype end = m_buffer.indexOf("\r\n\r\n");
        if (end < 0 || !m_buffer.startsWith("HTTP/1.1 101"))
            return false;
        m_buffer.remove(0, end + 4);
        return true;
    }
    // Stop taking bytes from the kernel (Qt stops reading at a full buffer).
    void stopReading() { m_socket.setReadBufferSize(1); }
    void resumeReading() { m_socket.setReadBufferSize(0); }
    // The text messages that arrived whole.
    QList<QJsonObject> messages(int atLeast, int timeoutMs)
    {
        QList<QJsonObject> out;
        QDeadlineTimer deadline(timeoutMs);
        while (!deadline.hasExpired()) {
            m_buffer += m_socket.readAll();
            while (auto m = takeFrame())
                out.append(QJsonDocument::fromJson(*m).object());
            if (out.size() >= atLeast)
                break;
            QTest::qWait(20);
        }
        return out;
    }

private:
    std::optional<QByteArray> takeFrame()
    {
        if (m_buffer.size() < 2)
            return std::nullopt;
        qint64 len = quint8(m_buffer[1]) & 0x7f;
        int at = 2;
        if (len == 126) {
            if (m_buffer.size() < 4)
                return std::nullopt;
            len = (quint8(m_buffer[2]) << 8) | quint8(m_buffer[3]);
            at = 4;
        } else if (len == 127) {
            if (m_buffer.size() < 10)
                return std::nullopt;
            len = 0;
            for (int i = 2; i < 10; ++i)
                len = (len << 8) | quint8(m_buffer[i]);
            at = 10;
        }
        if (m_buffer.size() < at + len)
            return std::nullopt;
        QByteArray payload = m_buffer.mid(at, len);
        m_buffer.remove(0, at + len);
        return payload;
    }

    QTcpSocket m_socket;
    QByteArray m_buffer;
};

} // namespace

class TestActivityLog : public QObject {
    Q_OBJECT

    ActivityLog m_log;
    QWebSocketServer m_server{QStringLiteral("events"), QWebSocketServer::NonSecureMode};
    QPointer<EventSocket> m_socket;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_server.listen(QHostAddress::LocalHost, 0));
        connect(&m_server, &QWebSocketServer::newConnection, this,
                [this]() { m_socket = new EventSocket(std::unique_ptr<QWebSocket>(m_server.nextPendingConnection()), m_log, QStringLiteral("desk"), this); });
    }

    void eventsAreNumberedAndKeptPerVm()
    {
        ActivityLog log;
        QSignalSpy spy(&log, &ActivityLog::published);
        log.publish(made(QStringLiteral("a"), QStringLiteral("click"), {{QStringLiteral("x"), 10}, {QStringLiteral("y"), 20}}));
        log.publish(made(QStringLiteral("b"), QStringLiteral("exec")));
        log.publish(made(QStringLiteral("a"), QStringLiteral("type")));
        QCOMPARE(spy.count(), 3);
        const auto a = log.history(QStringLiteral("a"));
        QCOMPARE(a.size(), 2);
        QCOMPARE(a[0].seq, 1u);
        QCOMPARE(a[1].seq, 3u);
        QVERIFY(a[0].time.isValid());
        QCOMPARE(a[0].toJson().value(QStringLiteral("detail")).toObject().value(QStringLiteral("x")).toInt(), 10);
        QCOMPARE(log.history(QStringLiteral("a"), 1).size(), 1);
        QCOMPARE(log.lastSeq(), 3u);
        for (int i = 0; i < ActivityLog::kHistoryPerVm + 50; ++i)
            log.publish(made(QStringLiteral("b"), QStringLiteral("key")));
        const auto b = log.history(QStringLiteral("b"));
        QCOMPARE(b.size(), ActivityLog::kHistoryPerVm);
        QCOMPARE(b.last().seq, log.lastSeq());
        log.forget(QStringLiteral("b"));
        QVERIFY(log.history(QStringLiteral("b")).isEmpty());
        QCOMPARE(log.history(QStringLiteral("a")).size(), 2);
    }

    void textIsClipped()
    {
        QCOMPARE(ActivityLog::clip(QStringLiteral("abc")), QStringLiteral("abc"));
        const QString clipped = ActivityLog::clip(QString(1000, QLatin1Char('x')));
        QCOMPARE(clipped.size(), ActivityLog::kMaxTextChars);
        QVERIFY(clipped.endsWith(QChar(0x2026)));
    }

    void trackGivesTheAnswersResult()
    {
        ActivityLog log;
        ApiPromise ok;
        ApiPromise failed;
        auto tracked = log.track({made(QStringLiteral("a"), QStringLiteral("exec"))}, ok.future(), [](ActivityEvent &e, const Response &r) {
            e.detail.insert(QStringLiteral("exit_code"), r.json.toObject().value(QStringLiteral("exit_code")));
        });
        auto refused = log.track({made(QStringLiteral("a"), QStringLiteral("click")), made(QStringLiteral("a"), QStringLiteral("type"))}, failed.future());
        QVERIFY(log.history(QStringLiteral("a")).isEmpty()); // told once they ended
        QTest::qWait(30);
        ok.resolve(Response::ofJson(QJsonObject{{QStringLiteral("exit_code"), 3}}));
        failed.resolve(ApiError(ApiError::Code::ControlHeld, QStringLiteral("a person drives")));
        QTRY_COMPARE(log.history(QStringLiteral("a")).size(), 3);
        const auto a = log.history(QStringLiteral("a"));
        QCOMPARE(a[0].result, QStringLiteral("ok"));
        QCOMPARE(a[0].detail.value(QStringLiteral("exit_code")).toInt(), 3);
        QVERIFY(a[0].durationMs >= 25);
        QCOMPARE(a[1].result, QStringLiteral("control_held"));
        QCOMPARE(a[2].action, QStringLiteral("type"));
        QVERIFY(tracked.isFinished() && refused.isFinished());
    }

    // The adapter cancels an answer whose client went away: the work behind
    // it is cancelled too (an exec is killed in the guest), and the event
    // says so.
    void cancellingTheTrackedAnswerCancelsTheWork()
    {
        ActivityLog log;
        ApiPromise work;
        auto tracked = log.track({made(QStringLiteral("c"), QStringLiteral("exec"))}, work.future());
        QFutureWatcher<ApiResult> workCancelled;
        QSignalSpy cancelled(&workCancelled, &QFutureWatcherBase::canceled);
        workCancelled.setFuture(work.future());
        tracked.cancel();
        QTRY_COMPARE(cancelled.count(), 1);
        QVERIFY(work.future().isCanceled());
        work.resolve(ApiError(ApiError::Code::Internal, QStringLiteral("killed"))); // as the ended work does
        QTRY_COMPARE(log.history(QStringLiteral("c")).size(), 1);
        QVERIFY(log.history(QStringLiteral("c")).first().result != QLatin1String("ok"));
    }

    // In order, the kept ones after ?since= first, only its VM's.
    void theSocketSendsItsVmsEventsInOrder()
    {
        m_log.publish(made(QStringLiteral("desk"), QStringLiteral("screenshot")));
        const quint64 before = m_log.lastSeq();
        m_log.publish(made(QStringLiteral("desk"), QStringLiteral("click"), {{QStringLiteral("x"), 5}, {QStringLiteral("y"), 6}}));
        RawClient client;
        QVERIFY(client.connectTo(m_server.serverPort(), "?since=" + QByteArray::number(before)));
        QTRY_VERIFY(m_socket);
        m_log.publish(made(QStringLiteral("other"), QStringLiteral("exec")));
        m_log.publish(made(QStringLiteral("desk"), QStringLiteral("type"), {{QStringLiteral("text"), QStringLiteral("abc")}}));
        m_log.publish(made(QStringLiteral("desk"), QStringLiteral("key"), {{QStringLiteral("keys"), QStringLiteral("ctrl+c")}}));
        const auto got = client.messages(3, 5000);
        QCOMPARE(got.size(), 3);
        QCOMPARE(got[0].value(QStringLiteral("action")).toString(), QStringLiteral("click"));
        QCOMPARE(got[0].value(QStringLiteral("detail")).toObject().value(QStringLiteral("x")).toInt(), 5);
        QCOMPARE(got[1].value(QStringLiteral("action")).toString(), QStringLiteral("type"));
        QCOMPARE(got[2].value(QStringLiteral("detail")).toObject().value(QStringLiteral("keys")).toString(), QStringLiteral("ctrl+c"));
        QVERIFY(got[0].value(QStringLiteral("seq")).toInteger() < got[2].value(QStringLiteral("seq")).toInteger());
    }

    // A listener that never reads: bounded, what it missed counted exactly.
    void aClientThatNeverReadsGetsAGap()
    {
        RawClient client;
        QVERIFY(client.connectTo(m_server.serverPort(), QByteArray()));
        QTRY_VERIFY(m_socket);
        const QPointer<EventSocket> socket = m_socket;
        client.stopReading();
        const QString text = QString(ActivityLog::kMaxTextChars, QLatin1Char('t'));
        constexpr int kEvents = 60000; // about 20 MB of JSON: more than loopback's buffers hold
        const quint64 first = m_log.lastSeq() + 1;
        for (int i = 0; i < kEvents; ++i) {
            m_log.publish(made(QStringLiteral("desk"), QStringLiteral("type"), {{QStringLiteral("text"), text}}));
            if (i % 1000 == 0)
                QCoreApplication::processEvents(); // let the socket write what the kernel takes
        }
        QVERIFY(socket);
        const quint64 dropped = socket->dropped();
        qInfo("%d events published to a client that does not read: %llu dropped", kEvents, dropped);
        QVERIFY2(dropped > 0, "the client's kernel buffers took all of it: publish more");
        QVERIFY2(socket->pendingBytes() <= EventSocket::kHighWater + 4096, qPrintable(QString::number(socket->pendingBytes())));
        // One more after it reads again: the gap comes first, then events.
        client.resumeReading();
        QList<QJsonObject> got = client.messages(kEvents, 1000);
        QTRY_COMPARE_WITH_TIMEOUT(socket->unreported(), 0u, 10000);
        m_log.publish(made(QStringLiteral("desk"), QStringLiteral("key"), {{QStringLiteral("keys"), QStringLiteral("enter")}}));
        got += client.messages(1, 5000);
        quint64 received = 0;
        quint64 gap = 0;
        quint64 lastSeq = 0;
        for (const QJsonObject &m : got) {
            if (m.value(QStringLiteral("type")).toString() == QLatin1String("gap")) {
                gap += quint64(m.value(QStringLiteral("dropped")).toInteger());
                continue;
            }
            const quint64 seq = quint64(m.value(QStringLiteral("seq")).toInteger());
            QVERIFY(seq > lastSeq);
            lastSeq = seq;
            ++received;
        }
        QCOMPARE(gap, socket->dropped());
        QVERIFY(gap >= dropped);
        QCOMPARE(received + gap, quint64(kEvents) + 1);
        QCOMPARE(lastSeq, m_log.lastSeq());
        QVERIFY(first > 0);
    }
};

QTEST_GUILESS_MAIN(TestActivityLog)
#include "tst_activitylog.moc"
