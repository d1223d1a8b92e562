// Exposed ports end to end: the REST service in the test process, a real
// minimal guest (QEMU), an HTTP server in it (busybox httpd on the guest's
// port 8000). Exposed through POST .../ports, the page answers on the host
// port; after a restart of the VM the same host port answers again (the
// exposure stays with the VM); after DELETE the host port refuses
// connections. A VM that does not exist (404) and a host port that is taken
// (409 naming it) are refused with their errors.

#include "e2efixture.h"

#include "e2eservice.h"
#include "tests/apicall.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>

using namespace E2e;

namespace {

constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image
constexpr quint16 kGuestPort = 8000;
const QByteArray kPage = QByteArrayLiteral("hello from the guest\n");

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

class TestExposedPorts : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    QNetworkAccessManager m_nam;
    const QString m_vm = QStringLiteral("web");

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = QByteArray(), int timeoutMs = 30000)
    {
        return TestApi::call(m_nam, m_service.port(), m_service.token(), method, path, body, timeoutMs);
    }

    // Starts busybox httpd in the guest, serving kPage; empty when it runs.
    QString startGuestServer()
    {
        const QString sh = QStringLiteral("mkdir -p /tmp/www && printf '%1' > /tmp/www/index.html && httpd -p %2 -h /tmp/www")
                               .arg(QString::fromUtf8(kPage).replace(QLatin1Char('\n'), QStringLiteral("\\n")))
                               .arg(kGuestPort);
        const auto r = call("POST", QStringLiteral("/api/v1/vms/%1/exec").arg(m_vm), json({{QStringLiteral("cmd"), sh}}), 90000);
        if (r.status != 200 || r.json[QStringLiteral("exit_code")].toInt(-1) != 0)
            return r.describe();
        return {};
    }

    // GET http://127.0.0.1:port/ until it answers 200 (the server may still be starting).
    QByteArray fetch(quint16 port)
    {
        QByteArray body;
        QDeadlineTimer deadline(60000);
        while (!deadline.hasExpired()) {
            QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1/").arg(port)));
            QNetworkReply *reply = m_nam.get(req);
            QDeadlineTimer one(20000);
            while (!reply->isFinished() && !one.hasExpired())
                QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
            const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
            body = reply->readAll();
            if (status != 200)
                body = QByteArray("<HTTP ") + QByteArray::number(status) + "> " + reply->errorString().toUtf8();
            reply->deleteLater();
            if (status == 200)
                return body;
            QTest::qWait(200);
        }
        return body;
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        if (!d.driver)
            QFAIL(qPrintable(d.skipReason));
        m_driver = d.driver;
        const QString problem = m_service.start(*m_driver);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
        const auto created = call("POST", QStringLiteral("/api/v1/vms"),
                                  json({{QStringLiteral("name"), m_vm}, {QStringLiteral("template"), QStringLiteral("minimal")}}), kCreateTimeoutMs);
        QVERIFY2(created.status == 201, qPrintable(created.describe()));
    }
    void cleanupTestCase() { m_service.stop(); }

    void aGuestServerAnswersOnTheHost()
    {
        const QString started = startGuestServer();
        QVERIFY2(started.isEmpty(), qPrintable(started));
        const auto r = call("POST", QStringLiteral("/api/v1/vms/%1/ports").arg(m_vm), json({{QStringLiteral("guest_port"), kGuestPort}}));
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("state")].toString(), QStringLiteral("active"));
        const quint16 hostPort = r.json[QStringLiteral("host_port")].toInt();
        QVERIFY(hostPort != 0);
        QCOMPARE(fetch(hostPort), kPage);

        // The VM restarts (its httpd with it): the exposure stays, on the same host port.
        const auto restarted = call("POST", QStringLiteral("/api/v1/vms/%1/restart").arg(m_vm), {}, kCreateTimeoutMs);
        QVERIFY2(restarted.status == 200, qPrintable(restarted.describe()));
        const QJsonArray list = call("GET", QStringLiteral("/api/v1/vms/%1/ports").arg(m_vm)).json[QStringLiteral("ports")].toArray();
        QCOMPARE(list.size(), 1);
        QCOMPARE(list.at(0)[QStringLiteral("host_port")].toInt(), hostPort);
        QCOMPARE(list.at(0)[QStringLiteral("state")].toString(), QStringLiteral("active"));
        const QString again = startGuestServer();
        QVERIFY2(again.isEmpty(), qPrintable(again));
        QCOMPARE(fetch(hostPort), kPage);

        QCOMPARE(call("DELETE", QStringLiteral("/api/v1/vms/%1/ports/%2").arg(m_vm).arg(kGuestPort)).status, 204);
        QTcpSocket s;
        s.connectToHost(QHostAddress::LocalHost, hostPort);
        QVERIFY(!s.waitForConnected(5000));
        QCOMPARE(s.error(), QAbstractSocket::ConnectionRefusedError);
    }

    void refusalsAreClear()
    {
        const auto nobody = call("POST", QStringLiteral("/api/v1/vms/no-such-vm/ports"), json({{QStringLiteral("guest_port"), kGuestPort}}));
        QCOMPARE(nobody.status, 404);
        QCOMPARE(nobody.errorCode(), QStringLiteral("not_found"));

        QTcpServer squatter;
        QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
        const auto taken = call("POST", QStringLiteral("/api/v1/vms/%1/ports").arg(m_vm),
                                json({{QStringLiteral("guest_port"), kGuestPort}, {QStringLiteral("host_port"), squatter.serverPort()}}));
        QCOMPARE(taken.status, 409);
        QCOMPARE(taken.errorCode(), QStringLiteral("already_exists"));
        QVERIFY2(taken.body.contains(QStringLiteral("127.0.0.1:%1 is already in use").arg(squatter.serverPort()).toUtf8()), qPrintable(taken.describe()));
        QVERIFY(call("GET", QStringLiteral("/api/v1/vms/%1/ports").arg(m_vm)).json[QStringLiteral("ports")].toArray().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestExposedPorts)
#include "tst_exposedports.moc"
