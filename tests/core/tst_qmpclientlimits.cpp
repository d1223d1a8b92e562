// QmpClient's limits against a scripted QEMU on a QLocalServer: the greeting and
// qmp_capabilities, a command answered by id, and a QEMU that never ends
// its line, which must end the connection at QmpClient::kMaxMessageBytes
// instead of growing the client's buffer forever (found while writing the
// fuzz_vmmapi harness, issue 14).

#include "core/vmm/qmpclient.h"

#include <QDeadlineTimer>
#include <QJsonDocument>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTemporaryDir>
#include <QTest>

namespace {

constexpr int kWaitMs = 10000;

// Answers the greeting's handshake: every {"execute": ..., "id": id} with
// {"return": {}, "id": id}.
class FakeQemu : public QObject {
public:
    explicit FakeQemu(const QString &path)
    {
        m_server.listen(path);
        connect(&m_server, &QLocalServer::newConnection, this, [this]() {
            sock = m_server.nextPendingConnection();
            sock->write(R"({"QMP": {"version": {"qemu": {"micro": 2, "minor": 2, "major": 7}}, "capabilities": []}})"
                        "\n");
            connect(sock, &QLocalSocket::readyRead, this, [this]() {
                m_in += sock->readAll();
                qsizetype nl;
                while ((nl = m_in.indexOf('\n')) >= 0) {
                    const QJsonObject cmd = QJsonDocument::fromJson(m_in.left(nl)).object();
                    m_in.remove(0, nl + 1);
                    if (answer)
                        sock->write(
                            QJsonDocument(QJsonObject{{QStringLiteral("return"), QJsonObject{}}, {QStringLiteral("id"), cmd.value(QStringLiteral("id"))}})
                                .toJson(QJsonDocument::Compact)
                            + '\n');
                }
            });
        });
    }
    QLocalSocket *sock = nullptr;
    bool answer = true;

private:
    QLocalServer m_server;
    QByteArray m_in;
};

} // namespace

class TestQmpClient : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void commandAnswered()
    {
        FakeQemu qemu(m_dir.filePath(QStringLiteral("a.sock")));
        Vmm::QmpClient client;
        const auto connecting = client.connectTo(m_dir.filePath(QStringLiteral("a.sock")));
        QTRY_VERIFY_WITH_TIMEOUT(connecting.isFinished(), kWaitMs);
        const auto connected = connecting.result();
        QVERIFY2(connected, connected ? "" : qPrintable(connected.error().message));
        QCOMPARE(client.qemuVersion(), QStringLiteral("7.2.2"));
        const auto executing = client.execute(QStringLiteral("query-status"));
        QTRY_VERIFY_WITH_TIMEOUT(executing.isFinished(), kWaitMs);
        const auto r = executing.result();
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
    }

    void endlessLineEndsTheConnection()
    {
        FakeQemu qemu(m_dir.filePath(QStringLiteral("b.sock")));
        Vmm::QmpClient client;
        const auto connecting = client.connectTo(m_dir.filePath(QStringLiteral("b.sock")));
        QTRY_VERIFY_WITH_TIMEOUT(connecting.isFinished(), kWaitMs);
        QVERIFY(connecting.result().hasValue());
        qemu.answer = false;
        const auto pending = client.execute(QStringLiteral("query-status"));
        // A line that never ends, written in pieces as the client reads.
        const QByteArray piece(1 << 20, 'x');
        QDeadlineTimer deadline(30000);
        while (!pending.isFinished() && !deadline.hasExpired() && qemu.sock->state() == QLocalSocket::ConnectedState) {
            if (qemu.sock->bytesToWrite() < piece.size())
                qemu.sock->write(piece);
            QTest::qWait(1);
        }
        QTRY_VERIFY_WITH_TIMEOUT(pending.isFinished(), kWaitMs);
        const auto r = pending.result();
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(r.error().message.contains(QStringLiteral("QMP message over")), qPrintable(r.error().message));
        QVERIFY(!client.isReady());
    }
};

QTEST_GUILESS_MAIN(TestQmpClient)
#include "tst_qmpclientlimits.moc"
