// Forwarded TCP streams without a VM: AgentClient::openStream and
// Vm::PortForward against the real microvm-agent listening on a Unix socket
// on this host, which connects to TCP servers run by this test (echo,
// scripted, refused ports) on 127.0.0.1.

#include "tests/hostagent.h"
#include "tests/streamdata.h"
#include "core/agent/agentclient.h"
#include "core/vm/portforward.h"

#include "protocol/messages.h"

#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QLocalSocket>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <memory>

namespace {

using StreamData::pattern;
using StreamData::pumpThrough;
using StreamData::sha;

constexpr int kWaitMs = 30000;

template<typename T>
Core::Expected<T> await(Core::Future<T> f, int timeoutMs = kWaitMs)
{
    QDeadlineTimer d(timeoutMs);
    while (!f.isFinished() && !d.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
    if (!f.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("test wait expired"));
    return f.result();
}

// A TCP server on 127.0.0.1 whose connections are handled by `onConnection`
// (default: echo everything back).
class TestServer : public QObject {
public:
    explicit TestServer(std::function<void(QTcpSocket *)> onConnection = {})
        : m_onConnection(std::move(onConnection))
    {
        m_server.listen(QHostAddress::LocalHost, 0);
        connect(&m_server, &QTcpServer::newConnection, this, [this]() {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                ++accepted;
                sockets << s;
                connect(s, &QTcpSocket::disconnected, this, [this]() { ++closed; });
                if (m_onConnection)
                    m_onConnection(s);
                else
                    connect(s, &QTcpSocket::readyRead, s, [s]() { s->write(s->readAll()); });
            }
        });
    }
    quint16 port() const { return m_server.serverPort(); }
    int accepted = 0;
    int closed = 0;
    QList<QPointer<QTcpSocket>> sockets;

private:
    QTcpServer m_server;
    std::function<void(QTcpSocket *)> m_onConnection;
};

// A port on 127.0.0.1 nothing listens on.
quint16 closedPort()
{
    QTcpServer s;
    s.listen(QHostAddress::LocalHost, 0);
    const quint16 port = s.serverPort();
    s.close();
    return port;
}

} // namespace

class TestForwardedStream : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QProcess m_agent;
    QString m_agentSocket;
    std::unique_ptr<Agent::AgentClient> m_client;

    Agent::ForwardedStream *open(quint16 port, Agent::AgentClient *client = nullptr)
    {
        auto r = await((client ? client : m_client.get())->openStream(QStringLiteral("127.0.0.1"), port));
        if (!r) {
            qWarning("openStream: %s", qPrintable(r.error().toString()));
            return nullptr;
        }
        return *r;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_agentSocket = m_dir.filePath(QStringLiteral("agent.sock"));
        QVERIFY(HostAgent::start(m_agent, m_agentSocket));
        m_client = std::make_unique<Agent::AgentClient>(Vmm::AgentEndpoint{m_agentSocket, 0});
        auto info = await(m_client->connectToAgent(10000));
        QVERIFY2(info, qPrintable(info ? QString() : info.error().toString()));
    }
    void cleanupTestCase()
    {
        m_client.reset();
        m_agent.terminate();
        m_agent.waitForFinished(5000);
    }

    void echoRoundTrip()
    {
        TestServer echo;
        std::unique_ptr<Agent::ForwardedStream> s(open(echo.port()));
        QVERIFY(s);
        QCOMPARE(s->state(), Agent::ForwardedStream::State::Open);
        QCOMPARE(s->peerName(), QStringLiteral("127.0.0.1:%1").arg(echo.port()));
        QVERIFY(s->isSequential());
        QVERIFY(s->isReadable() && s->isWritable());
        QSignalSpy written(s.get(), &QIODevice::bytesWritten);
        QCOMPARE(s->write("hello\nworld"), qint64(11));
        QTRY_VERIFY_WITH_TIMEOUT(s->canReadLine(), kWaitMs);
        QCOMPARE(s->readLine(), QByteArray("hello\n"));
        QTRY_COMPARE_WITH_TIMEOUT(s->bytesAvailable(), qint64(5), kWaitMs);
        QCOMPARE(s->readAll(), QByteArray("world"));
        QVERIFY(!written.isEmpty());
        QCOMPARE(s->bytesToWrite(), qint64(0));
        QCOMPARE(echo.accepted, 1);
    }

    void thirtyTwoMiBBothWays()
    {
        TestServer echo;
        std::unique_ptr<Agent::ForwardedStream> s(open(echo.port()));
        QVERIFY(s);
        const QByteArray data = pattern(32 << 20, 1);
        QElapsedTimer t;
        t.start();
        const QByteArray got = pumpThrough(s.get(), data, data.size());
        const double secs = t.elapsed() / 1000.0;
        QCOMPARE(got.size(), data.size());
        QCOMPARE(sha(got), sha(data));
        qInfo("32 MiB echoed through the agent in %.2f s: %.1f MiB/s each way", secs, 32 / secs);
    }

    void sixteenConcurrentStreams()
    {
        TestServer echo;
        constexpr int kStreams = 16;
        constexpr qsizetype kSize = 2 << 20;
        std::vector<std::unique_ptr<Agent::ForwardedStream>> streams;
        QList<Core::Future<Agent::ForwardedStream *>> opening;
        for (int i = 0; i < kStreams; ++i)
            opening << m_client->openStream(QStringLiteral("localhost"), echo.port());
        for (auto &f : opening) {
            auto r = await(f);
            QVERIFY2(r, qPrintable(r ? QString() : r.error().toString()));
            streams.emplace_back(*r);
        }
        QList<QByteArray> sent, got;
        QList<qint64> offset;
        for (int i = 0; i < kStreams; ++i) {
            sent << pattern(kSize, 100 + i);
            got << QByteArray();
            offset << 0;
        }
        // Interleave all of them on the one event loop.
        QDeadlineTimer d(120000);
        auto done = [&]() {
            for (const auto &g : got)
                if (g.size() < kSize)
                    return false;
            return true;
        };
        while (!done() && !d.hasExpired()) {
            bool idle = true;
            for (int i = 0; i < kStreams; ++i) {
                auto *s = streams[size_t(i)].get();
                if (offset[i] < kSize && s->bytesToWrite() < (256 << 10)) {
                    const qint64 n = qMin<qint64>(64 << 10, kSize - offset[i]);
                    s->write(sent[i].constData() + offset[i], n);
                    offset[i] += n;
                    idle = false;
                }
                if (s->bytesAvailable() > 0) {
                    got[i] += s->readAll();
                    idle = false;
                }
            }
            if (idle)
                QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
            else
                QCoreApplication::processEvents();
        }
        for (int i = 0; i < kStreams; ++i)
            QCOMPARE(sha(got[i]), sha(sent[i]));
        QCOMPARE(echo.accepted, kStreams);
        // Stream ids are distinct.
        QSet<quint32> ids;
        for (const auto &s : streams)
            ids.insert(s->streamId());
        QCOMPARE(ids.size(), kStreams);
    }

    void refusedPortIsNotFound()
    {
        const quint16 port = closedPort();
        auto r = await(m_client->openStream(QStringLiteral("127.0.0.1"), port));
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::NotFound);
        QCOMPARE(r.error().detail, int(Protocol::ErrorCode::ConnectionRefused));
        QVERIFY2(r.error().message.contains(QString::number(port)), qPrintable(r.error().message));
        // The client is fine afterwards.
        QVERIFY(await(m_client->health()));
    }

    void badArguments()
    {
        auto r = await(m_client->openStream(QStringLiteral("127.0.0.1"), 0));
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        auto n = await(m_client->openStream(QStringLiteral("example.invalid"), 80));
        QVERIFY(!n);
        QCOMPARE(n.error().code, Core::ErrorCode::InvalidArgument);
        Agent::AgentClient unconnected(Vmm::AgentEndpoint{m_agentSocket, 0});
        auto u = await(unconnected.openStream(QStringLiteral("127.0.0.1"), 1));
        QVERIFY(!u);
        QCOMPARE(u.error().code, Core::ErrorCode::AgentUnavailable);
    }

    void guestSideCloseReachesTheHost()
    {
        // The server says goodbye and closes: the bytes, then the end.
        TestServer server([](QTcpSocket *s) {
            s->write("bye");
            s->disconnectFromHost();
        });
        // Subscribe in the continuation, as real callers do: polling the
        // future (await) can miss signals emitted before it returns.
        std::shared_ptr<QSignalSpy> finished, disconnected, errors;
        auto opened = m_client->openStream(QStringLiteral("127.0.0.1"), server.port()).then([&](const Core::Expected<Agent::ForwardedStream *> &r) {
            if (!r)
                return r;
            finished = std::make_shared<QSignalSpy>(*r, &QIODevice::readChannelFinished);
            disconnected = std::make_shared<QSignalSpy>(*r, &Agent::ForwardedStream::disconnected);
            errors = std::make_shared<QSignalSpy>(*r, &Agent::ForwardedStream::errorOccurred);
            return r;
        });
        auto r = await(opened);
        QVERIFY(r);
        std::unique_ptr<Agent::ForwardedStream> s(*r);
        QTRY_COMPARE_WITH_TIMEOUT(disconnected->size(), 1, kWaitMs);
        QCOMPARE(finished->size(), 1);
        QCOMPARE(errors->size(), 0);
        QCOMPARE(s->state(), Agent::ForwardedStream::State::Closed);
        QVERIFY(!s->hasError());
        QCOMPARE(s->readAll(), QByteArray("bye"));
        QCOMPARE(s->write("late"), qint64(-1));
    }

    void hostSideCloseReachesTheGuest()
    {
        QByteArray received;
        TestServer server([&received](QTcpSocket *s) { connect(s, &QTcpSocket::readyRead, s, [s, &received]() { received += s->readAll(); }); });
        // Queued bytes still go out after close().
        std::unique_ptr<Agent::ForwardedStream> s(open(server.port()));
        QVERIFY(s);
        QSignalSpy disconnected(s.get(), &Agent::ForwardedStream::disconnected);
        const QByteArray data = pattern(6 << 20, 7);
        QCOMPARE(s->write(data), qint64(data.size()));
        s->close();
        QVERIFY(!s->isOpen());
        QTRY_COMPARE_WITH_TIMEOUT(server.closed, 1, kWaitMs);
        QCOMPARE(sha(received), sha(data));
        QTRY_COMPARE_WITH_TIMEOUT(disconnected.size(), 1, kWaitMs);
        QCOMPARE(s->state(), Agent::ForwardedStream::State::Closed);
        QVERIFY(!s->hasError());

        // abort() and deleting an open stream reset the guest's connection.
        std::unique_ptr<Agent::ForwardedStream> a(open(server.port()));
        QVERIFY(a);
        a->abort();
        QTRY_COMPARE_WITH_TIMEOUT(server.closed, 2, kWaitMs);
        QPointer<Agent::ForwardedStream> d = open(server.port());
        QVERIFY(d);
        delete d.data();
        QTRY_COMPARE_WITH_TIMEOUT(server.closed, 3, kWaitMs);
    }

    void slowReaderHoldsTheGuestBack()
    {
        // The server pushes 48 MiB as fast as it can, then closes.
        constexpr qsizetype kTotal = 48 << 20;
        const QByteArray data = pattern(kTotal, 9);
        qint64 serverSent = 0;
        TestServer server([&](QTcpSocket *s) {
            auto feed = [s, &data, &serverSent]() {
                while (serverSent < data.size() && s->bytesToWrite() < (1 << 20)) {
                    const qint64 n = qMin<qint64>(256 << 10, data.size() - serverSent);
                    s->write(data.constData() + serverSent, n);
                    serverSent += n;
                }
                if (serverSent == data.size() && s->bytesToWrite() == 0)
                    s->disconnectFromHost();
            };
            connect(s, &QTcpSocket::bytesWritten, s, feed);
            feed();
        });
        std::unique_ptr<Agent::ForwardedStream> s(open(server.port()));
        QVERIFY(s);
        // Nobody reads for a while: the stream stops growing near its
        // high-water mark and the server is held back.
        QTest::qWait(1500);
        const qint64 held = s->bytesAvailable();
        QVERIFY2(held <= Agent::ForwardedStream::kReadHighWater + Protocol::kStreamWindow, qPrintable(QString::number(held)));
        QVERIFY2(serverSent < kTotal, "the server was not held back");
        // Only this stream is held (its credit): the client's other
        // operations go on meanwhile, and the held stream grows no further.
        QElapsedTimer other;
        other.start();
        auto health = await(m_client->health(), 10000);
        QVERIFY2(health, health ? "" : qPrintable(health.error().message));
        Agent::ExecRequest req;
        req.shell = QStringLiteral("printf ok");
        auto ran = await(m_client->run(req), 10000);
        QVERIFY2(ran, ran ? "" : qPrintable(ran.error().message));
        QCOMPARE(ran->stdoutData, QByteArray("ok"));
        qInfo("a health check and an exec while the stream was held: %lld ms", other.elapsed());
        QVERIFY2(s->bytesAvailable() <= Agent::ForwardedStream::kReadHighWater + Protocol::kStreamWindow, qPrintable(QString::number(s->bytesAvailable())));
        QByteArray got;
        QDeadlineTimer d(120000);
        while (s->state() != Agent::ForwardedStream::State::Closed || s->bytesAvailable() > 0) {
            if (d.hasExpired())
                break;
            if (s->bytesAvailable() > 0)
                got += s->readAll();
            else
                QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
        }
        QCOMPARE(got.size(), kTotal);
        QCOMPARE(sha(got), sha(data));
    }

    void agentKilledFailsEveryStream()
    {
        QProcess agent;
        const QString socket = m_dir.filePath(QStringLiteral("doomed.sock"));
        QVERIFY(HostAgent::start(agent, socket));
        Agent::AgentClient client(Vmm::AgentEndpoint{socket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        TestServer echo;
        QList<QPointer<Agent::ForwardedStream>> streams;
        QList<std::shared_ptr<QSignalSpy>> errors, ends;
        for (int i = 0; i < 4; ++i) {
            streams << open(echo.port(), &client);
            QVERIFY(streams.last());
            errors << std::make_shared<QSignalSpy>(streams.last().data(), &Agent::ForwardedStream::errorOccurred);
            ends << std::make_shared<QSignalSpy>(streams.last().data(), &Agent::ForwardedStream::disconnected);
        }
        streams[0]->write("pending");
        // The stream whose open is in flight fails too.
        auto pending = client.openStream(QStringLiteral("127.0.0.1"), echo.port());
        agent.kill();
        agent.waitForFinished(5000);
        for (int i = 0; i < 4; ++i) {
            QTRY_COMPARE_WITH_TIMEOUT(ends[i]->size(), 1, kWaitMs);
            QCOMPARE(errors[i]->size(), 1);
            const auto e = errors[i]->at(0).at(0).value<Core::Error>();
            QCOMPARE(e.code, Core::ErrorCode::AgentUnavailable);
            QVERIFY(streams[i]->hasError());
            QCOMPARE(streams[i]->state(), Agent::ForwardedStream::State::Closed);
            QCOMPARE(streams[i]->write("x"), qint64(-1));
        }
        auto p = await(pending);
        if (!p) // it may have opened just before the kill
            QCOMPARE(p.error().code, Core::ErrorCode::AgentUnavailable);
        qDeleteAll(streams);
    }

    // ---- PortForward, relaying local sockets through the same agent

    void portForwardUnixAndTcp()
    {
        TestServer echo;
        Vm::PortForward fwd(m_client.get(), QStringLiteral("127.0.0.1"), echo.port());
        const QString path = m_dir.filePath(QStringLiteral("fwd.sock"));
        auto ok = fwd.listenUnix(path);
        QVERIFY2(ok, qPrintable(ok ? QString() : ok.error().toString()));
        QCOMPARE(QFile::permissions(path) & 0x7777, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadUser | QFile::WriteUser);
        QVERIFY(fwd.listenTcp());
        QVERIFY(fwd.tcpPort() != 0);
        QCOMPARE(fwd.tcpAddress(), QHostAddress(QHostAddress::LocalHost));
        QSignalSpy opened(&fwd, &Vm::PortForward::connectionOpened);
        QSignalSpy closed(&fwd, &Vm::PortForward::connectionClosed);

        QLocalSocket local;
        local.connectToServer(path);
        QVERIFY(local.waitForConnected(5000));
        const QByteArray data = pattern(16 << 20, 3);
        QElapsedTimer t;
        t.start();
        QByteArray got = pumpThrough(&local, data, data.size());
        QCOMPARE(sha(got), sha(data));
        qInfo("PortForward (Unix socket) echoed 16 MiB in %.2f s", t.elapsed() / 1000.0);

        QTcpSocket tcp;
        tcp.connectToHost(QHostAddress::LocalHost, fwd.tcpPort());
        QVERIFY(tcp.waitForConnected(5000));
        got = pumpThrough(&tcp, "over tcp", 8);
        QCOMPARE(got, QByteArray("over tcp"));
        QCOMPARE(opened.size(), 2);
        QCOMPARE(fwd.connectionCount(), 2);

        // A local close ends the guest's connection.
        local.disconnectFromServer();
        QTRY_COMPARE_WITH_TIMEOUT(echo.closed, 1, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(closed.size(), 1, kWaitMs);
        QCOMPARE(fwd.connectionCount(), 1);

        // The guest's peer closing ends the local connection.
        QTRY_VERIFY_WITH_TIMEOUT(!echo.sockets.isEmpty() && echo.sockets.last(), kWaitMs);
        echo.sockets.last()->write("goodbye");
        echo.sockets.last()->disconnectFromHost();
        QTRY_COMPARE_WITH_TIMEOUT(tcp.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        QCOMPARE(tcp.readAll(), QByteArray("goodbye"));
        QTRY_COMPARE_WITH_TIMEOUT(closed.size(), 2, kWaitMs);
        QCOMPARE(fwd.connectionCount(), 0);

        fwd.close();
        QVERIFY(!QFile::exists(path));
    }

    void portForwardRefusedClosesTheLocalConnection()
    {
        Vm::PortForward fwd(m_client.get(), QStringLiteral("127.0.0.1"), closedPort());
        QVERIFY(fwd.listenTcp());
        QSignalSpy failed(&fwd, &Vm::PortForward::connectionFailed);
        QTcpSocket tcp;
        tcp.connectToHost(QHostAddress::LocalHost, fwd.tcpPort());
        QVERIFY(tcp.waitForConnected(5000));
        QTRY_COMPARE_WITH_TIMEOUT(tcp.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kWaitMs);
        QCOMPARE(failed.at(0).at(0).value<Core::Error>().code, Core::ErrorCode::NotFound);
        QCOMPARE(fwd.connectionCount(), 0);
    }

    void portForwardAgentLostClosesLocalConnections()
    {
        QProcess agent;
        const QString socket = m_dir.filePath(QStringLiteral("doomed2.sock"));
        QVERIFY(HostAgent::start(agent, socket));
        Agent::AgentClient client(Vmm::AgentEndpoint{socket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        TestServer echo;
        Vm::PortForward fwd(&client, QStringLiteral("127.0.0.1"), echo.port());
        QVERIFY(fwd.listenTcp());
        QSignalSpy failed(&fwd, &Vm::PortForward::connectionFailed);
        QTcpSocket tcp;
        tcp.connectToHost(QHostAddress::LocalHost, fwd.tcpPort());
        QVERIFY(tcp.waitForConnected(5000));
        QCOMPARE(pumpThrough(&tcp, "ping", 4, kWaitMs), QByteArray("ping"));
        agent.kill();
        agent.waitForFinished(5000);
        QTRY_COMPARE_WITH_TIMEOUT(tcp.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kWaitMs);
        QCOMPARE(failed.at(0).at(0).value<Core::Error>().code, Core::ErrorCode::AgentUnavailable);
        // New connections are closed at once while the agent is away.
        QTcpSocket late;
        late.connectToHost(QHostAddress::LocalHost, fwd.tcpPort());
        QVERIFY(late.waitForConnected(5000));
        QTRY_COMPARE_WITH_TIMEOUT(late.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 2, kWaitMs);
        QCOMPARE(fwd.connectionCount(), 0);
    }

    void portForwardRefusesAnExistingPath()
    {
        const QString path = m_dir.filePath(QStringLiteral("taken"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        Vm::PortForward fwd(m_client.get(), QStringLiteral("127.0.0.1"), 1);
        auto r = fwd.listenUnix(path);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::AlreadyExists);
        QVERIFY(QFile::exists(path));
    }
};

QTEST_GUILESS_MAIN(TestForwardedStream)
#include "tst_forwardedstream.moc"
