// The host side of the guest-agent protocol without a VM: AgentClient against
// the real microvm-agent listening on a Unix socket on this host, and against
// scripted peers for what a real agent never does (oversize frames, stale
// handshakes, silence) and for cloud-hypervisor's hybrid vsock preamble.

#include "tests/hostagent.h"
#include "core/agent/agentclient.h"

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QLocalServer>
#include <QLocalSocket>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

namespace {

template<typename T>
Core::Expected<T> await(Core::Future<T> f, int timeoutMs = 30000)
{
    QDeadlineTimer d(timeoutMs);
    while (!f.isFinished() && !d.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
    if (!f.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("test wait expired"));
    return f.result();
}

QByteArray frame(Protocol::MsgType type, quint32 stream, const std::string &payload)
{
    const std::string f = Protocol::encodeFrame(static_cast<std::uint8_t>(type), stream, payload);
    return QByteArray(f.data(), qsizetype(f.size()));
}

// A scripted peer: answers Hello (with the right or a wrong nonce), then
// does what the test asks with the next request.
class FakeAgent : public QObject {
public:
    enum class Mode { Normal, WrongNonce, Silent, OversizeReply, VsockPreamble };
    FakeAgent(const QString &path, Mode mode) : m_mode(mode)
    {
        QLocalServer::removeServer(path);
        m_server.listen(path);
        connect(&m_server, &QLocalServer::newConnection, this, [this]() {
            m_sock = m_server.nextPendingConnection();
            connect(m_sock, &QLocalSocket::readyRead, this, [this]() { onData(); });
        });
    }
    QByteArray preamble;

private:
    void onData()
    {
        QByteArray data = m_sock->readAll();
        if (m_mode == Mode::VsockPreamble && !m_preambleDone) {
            preamble += data;
            const qsizetype nl = preamble.indexOf('\n');
            if (nl < 0)
                return;
            data = preamble.mid(nl + 1);
            preamble = preamble.left(nl + 1);
            m_preambleDone = true;
            m_sock->write("OK 1073741824\n");
        }
        m_reader.feed(data.constData(), size_t(data.size()));
        Protocol::Frame f;
        while (m_reader.next(&f) == Protocol::FrameReader::Status::Frame) {
            if (m_mode == Mode::Silent)
                continue;
            const auto type = static_cast<Protocol::MsgType>(f.header.type);
            if (type == Protocol::MsgType::Hello) {
                Protocol::Hello h;
                Protocol::Hello::decode(f.payload, &h);
                Protocol::HelloAck ack;
                ack.nonce = m_mode == Mode::WrongNonce ? h.nonce + 1 : h.nonce;
                ack.agentVersion = "fake";
                m_sock->write(frame(Protocol::MsgType::HelloAck, 0, ack.encode()));
            } else if (type == Protocol::MsgType::Health && m_mode == Mode::OversizeReply) {
                char header[Protocol::kHeaderSize];
                Protocol::encodeHeader(header, Protocol::FrameHeader{std::uint8_t(Protocol::MsgType::HealthResult), 0, f.header.stream,
                                                                      Protocol::kDefaultMaxPayload + 1});
                m_sock->write(header, Protocol::kHeaderSize);
            } else if (type == Protocol::MsgType::Health) {
                Protocol::HealthResult r;
                r.agentVersion = "fake";
                r.cpus = 3;
                m_sock->write(frame(Protocol::MsgType::HealthResult, f.header.stream, r.encode()));
            }
        }
    }
    Mode m_mode;
    QLocalServer m_server;
    QLocalSocket *m_sock = nullptr;
    Protocol::FrameReader m_reader;
    bool m_preambleDone = false;
};

} // namespace

class TestAgentClient : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_agent;
    QString m_agentSocket;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_agentSocket = m_dir.filePath(QStringLiteral("agent.sock"));
        QVERIFY(HostAgent::start(m_agent, m_agentSocket));
    }
    void cleanupTestCase()
    {
        HostAgent::stop(m_agent);
    }

    void realAgentExecAndFiles()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        auto info = await(client.connectToAgent(10000));
        QVERIFY2(info, qPrintable(info ? QString() : info.error().message));
        QCOMPARE(info->agentVersion, QStringLiteral(MVS_VERSION));
        QVERIFY(client.isReady());

        Agent::ExecRequest req;
        req.shell = QStringLiteral("printf out; printf err >&2; exit 7");
        auto r = await(client.run(req));
        QVERIFY(r);
        QCOMPARE(r->stdoutData, QByteArray("out"));
        QCOMPARE(r->stderrData, QByteArray("err"));
        QCOMPARE(r->exitCode, 7);

        QByteArray data(8 * 1024 * 1024 + 13, Qt::Uninitialized);
        for (qsizetype i = 0; i < data.size(); ++i)
            data[i] = char(i * 7 + i / 4096);
        const QString path = m_dir.filePath(QStringLiteral("put.bin"));
        auto put = await(client.putData(path, data, 0600));
        QVERIFY(put);
        QCOMPARE(*put, quint64(data.size()));
        QCOMPARE(QFile(path).permissions() & 0x7777, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadUser | QFile::WriteUser);
        auto got = await(client.getData(path));
        QVERIFY(got);
        QCOMPARE(QCryptographicHash::hash(*got, QCryptographicHash::Sha256), QCryptographicHash::hash(data, QCryptographicHash::Sha256));

        auto missing = await(client.getData(m_dir.filePath(QStringLiteral("nope"))));
        QVERIFY(!missing);
        QCOMPARE(missing.error().code, Core::ErrorCode::NotFound);
        QCOMPARE(missing.error().detail, int(Protocol::ErrorCode::NotFound));
    }

    void operationsBeforeTheHandshakeFailAtOnce()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        auto h = await(client.health(), 1000);
        QVERIFY(!h);
        QCOMPARE(h.error().code, Core::ErrorCode::AgentUnavailable);
        Agent::ExecRequest req;
        req.argv = QStringList{QStringLiteral("true")};
        auto r = await(client.run(req), 1000);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::AgentUnavailable);
    }

    void hybridVsockPreamble()
    {
        const QString path = m_dir.filePath(QStringLiteral("vsock.sock"));
        FakeAgent fake(path, FakeAgent::Mode::VsockPreamble);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 1024});
        auto info = await(client.connectToAgent(5000));
        QVERIFY2(info, qPrintable(info ? QString() : info.error().message));
        QCOMPARE(fake.preamble, QByteArray("CONNECT 1024\n"));
        auto h = await(client.health());
        QVERIFY(h);
        QCOMPARE(h->cpus, 3u);
    }

    void staleHelloAckIsIgnoredUntilTimeout()
    {
        const QString path = m_dir.filePath(QStringLiteral("stale.sock"));
        FakeAgent fake(path, FakeAgent::Mode::WrongNonce);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        auto info = await(client.connectToAgent(1500), 10000);
        QVERIFY(!info);
        QCOMPARE(info.error().code, Core::ErrorCode::Timeout);
        QVERIFY(!client.isReady());
    }

    void silentAgentTimesOut()
    {
        const QString path = m_dir.filePath(QStringLiteral("silent.sock"));
        FakeAgent fake(path, FakeAgent::Mode::Silent);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        auto info = await(client.connectToAgent(1000), 10000);
        QVERIFY(!info);
        QCOMPARE(info.error().code, Core::ErrorCode::Timeout);
    }

    void noSocketTimesOut()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_dir.filePath(QStringLiteral("absent.sock")), 0});
        auto info = await(client.connectToAgent(500), 10000);
        QVERIFY(!info);
        QCOMPARE(info.error().code, Core::ErrorCode::Timeout);
    }

    void oversizeFrameFromTheAgentIsAProtocolError()
    {
        const QString path = m_dir.filePath(QStringLiteral("big.sock"));
        FakeAgent fake(path, FakeAgent::Mode::OversizeReply);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        auto h = await(client.health(), 5000);
        QVERIFY(!h);
        QCOMPARE(h.error().code, Core::ErrorCode::Protocol);
        QVERIFY2(h.error().message.contains(QLatin1String("limit")), qPrintable(h.error().message));
        QVERIFY(!client.isReady());
    }
};

QTEST_GUILESS_MAIN(TestAgentClient)
#include "tst_agentclient.moc"
