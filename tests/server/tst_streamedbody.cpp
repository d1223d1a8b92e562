// StreamedBody over a loopback connection: the body is read only as the
// client takes it, a body ending short closes the connection, and a client
// going away closes the body.

#include "server/streamedbody.h"

#include <QTcpServer>
#include <QTcpSocket>
#include <QTest>

#include <cstring>
#include <memory>

namespace {

// A sequential body that makes its bytes as they are read: `produced` says
// how far the reader went; it ends (read -1) after `length` bytes.
class GeneratedBody final : public QIODevice {
public:
    explicit GeneratedBody(qint64 length)
        : m_length(length)
    {
        open(QIODevice::ReadOnly | QIODevice::Unbuffered);
    }
    qint64 produced = 0;
    bool isSequential() const override { return true; }
    qint64 bytesAvailable() const override { return m_length - produced; }

protected:
    qint64 readData(char *data, qint64 max) override
    {
        const qint64 n = qMin(max, m_length - produced);
        if (n <= 0)
            return -1;
        std::memset(data, 'b', static_cast<size_t>(n));
        produced += n;
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    qint64 m_length;
};

struct Pair {
    QTcpServer server;
    std::unique_ptr<QTcpSocket> client = std::make_unique<QTcpSocket>();
    QTcpSocket *served = nullptr;

    bool open()
    {
        if (!server.listen(QHostAddress::LocalHost))
            return false;
        client->connectToHost(QHostAddress::LocalHost, server.serverPort());
        if (!server.waitForNewConnection(5000))
            return false;
        served = server.nextPendingConnection();
        return client->waitForConnected(5000);
    }
};

} // namespace

class TestStreamedBody : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void readsOnlyAsTheClientTakes()
    {
        Pair p;
        QVERIFY(p.open());
        p.client->setReadBufferSize(64 << 10); // the client's side pushes back too
        const qint64 size = qint64(256) << 20;
        auto body = std::make_shared<GeneratedBody>(size);
        int result = -1;
        Server::StreamedBody::start(p.served, body, size, [&result](bool complete) { result = complete; });
        QTest::qWait(1000);
        // The kernel's buffers on both sides and our high-water mark, no more.
        QVERIFY2(body->produced < (64 << 20), qPrintable(QString::number(body->produced)));
        QCOMPARE(result, -1);
        qint64 received = 0;
        QDeadlineTimer d(120000);
        while (received < size && !d.hasExpired()) {
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
            received += p.client->skip(p.client->bytesAvailable());
        }
        QCOMPARE(received, size);
        QTRY_COMPARE(result, 1);
        QCOMPARE(p.served->state(), QAbstractSocket::ConnectedState); // the connection goes on
    }

    void aBodyEndingShortClosesTheConnection()
    {
        Pair p;
        QVERIFY(p.open());
        auto body = std::make_shared<GeneratedBody>(1000);
        int result = -1;
        Server::StreamedBody::start(p.served, body, 5000, [&result](bool complete) { result = complete; });
        QTRY_COMPARE(result, 0);
        QTRY_COMPARE(p.client->state(), QAbstractSocket::UnconnectedState);
        QCOMPARE(p.client->readAll().size(), qsizetype(1000));
        QVERIFY(!body->isOpen());
    }

    void theClientGoingAwayClosesTheBody()
    {
        Pair p;
        QVERIFY(p.open());
        const qint64 size = qint64(1) << 30;
        auto body = std::make_shared<GeneratedBody>(size);
        int result = -1;
        Server::StreamedBody::start(p.served, body, size, [&result](bool complete) { result = complete; });
        QTest::qWait(200);
        p.client->abort();
        QTRY_COMPARE(result, 0);
        QVERIFY(!body->isOpen());
        QVERIFY(body->produced < size);
    }
};

QTEST_GUILESS_MAIN(TestStreamedBody)
#include "tst_streamedbody.moc"
