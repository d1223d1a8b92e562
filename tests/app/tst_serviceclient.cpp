// ServiceClient::getBytes against a stand-in HTTP server on loopback: a body
// above the caller's cap is refused from its Content-Length, or from what
// arrived when no length is declared, without reading the rest.

#include "app/serviceclient.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

namespace {

// Answers every request with `head` and then `bodyBytes` of body, in 64 KiB
// writes as the socket drains; counts what it wrote.
class FakeService : public QObject {
public:
    FakeService(QByteArray head, qint64 bodyBytes)
        : m_head(std::move(head))
        , m_body(bodyBytes)
    {
        m_server.listen(QHostAddress::LocalHost);
        connect(&m_server, &QTcpServer::newConnection, this, [this]() {
            QTcpSocket *s = m_server.nextPendingConnection();
            connect(s, &QTcpSocket::readyRead, s, [this, s]() {
                if (!s->readAll().contains("\r\n\r\n") || m_started)
                    return;
                m_started = true;
                s->write(m_head);
                feed(s);
            });
            connect(s, &QTcpSocket::bytesWritten, s, [this, s]() { feed(s); });
        });
    }
    quint16 port() const { return m_server.serverPort(); }
    qint64 written = 0;

private:
    void feed(QTcpSocket *s)
    {
        while (m_started && written < m_body && s->bytesToWrite() < (256 << 10)) {
            const qint64 n = qMin<qint64>(64 << 10, m_body - written);
            s->write(QByteArray(n, 'f'));
            written += n;
        }
    }
    QTcpServer m_server;
    QByteArray m_head;
    qint64 m_body;
    bool m_started = false;
};

App::ServiceClient::Endpoint endpoint(quint16 port)
{
    return {QUrl(QStringLiteral("http://127.0.0.1:%1").arg(port)), QByteArrayLiteral("t"), QStringLiteral("test")};
}

// GET /x through a ServiceClient with a cap on the body.
Core::Expected<QByteArray> getCapped(quint16 port, qint64 cap)
{
    App::ServiceClient client(endpoint(port));
    auto f = client.getBytes(QStringLiteral("/x"), 30000, cap);
    if (!QTest::qWaitFor([&f]() { return f.isFinished(); }, 30000))
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("test wait expired"));
    return f.result();
}

} // namespace

class TestServiceClient : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void declaredLengthAboveTheCapIsRefused()
    {
        const qint64 length = qint64(1) << 30;
        FakeService fake("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + QByteArray::number(length) + "\r\n\r\n", length);
        const auto r = getCapped(fake.port(), 1 << 20);
        QVERIFY(!r);
        QCOMPARE(r.error().detail, App::ServiceClient::kTooLargeDetail);
        QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(fake.written < (64 << 20), qPrintable(QString::number(fake.written)));
    }

    void undeclaredBodyIsCutAtTheCap()
    {
        FakeService fake("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n", qint64(1) << 30);
        const auto r = getCapped(fake.port(), 1 << 20);
        QVERIFY(!r);
        QCOMPARE(r.error().detail, App::ServiceClient::kTooLargeDetail);
        QVERIFY2(fake.written < (64 << 20), qPrintable(QString::number(fake.written)));
    }

    void bodyWithinTheCapArrives()
    {
        FakeService fake("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n", 1000);
        const auto r = getCapped(fake.port(), 1000);
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(r->size(), qsizetype(1000));
    }
};

QTEST_GUILESS_MAIN(TestServiceClient)
#include "tst_serviceclient.moc"
