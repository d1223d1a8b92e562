// The host side of the guest-agent protocol without a VM: AgentClient against
// the real microvm-agent listening on a Unix socket on this host, and against
// scripted peers for what a real agent never does (oversize frames, stale
// handshakes, silence) and for cloud-hypervisor's hybrid vsock preamble.

#include "tests/hostagent.h"
#include "core/agent/agentclient.h"
#include "core/agent/agentstream.h"
#include "core/agent/filedownload.h"

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QElapsedTimer>
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
    enum class Mode {
        Normal,
        WrongNonce,
        Silent,
        OversizeReply,
        VsockPreamble,
        OverlongDownload,
        OverfedDownload,
        UnendedDownload,
        AnnounceSpam,
        ResetOnHealth,
        OverrunCredit,
        OldVersion
    };
    FakeAgent(const QString &path, Mode mode)
        : m_mode(mode)
    {
        QLocalServer::removeServer(path);
        m_server.listen(path);
        connect(&m_server, &QLocalServer::newConnection, this, [this]() {
            m_sock = m_server.nextPendingConnection();
            connect(m_sock, &QLocalSocket::readyRead, this, [this]() { onData(); });
            if (m_mode == Mode::AnnounceSpam)
                announce(1000);
        });
    }
    QByteArray preamble;
    QList<QPair<Protocol::MsgType, quint32>> received; // every frame after the handshake
    int hellos = 0;

    // UnendedDownload: the FileEnd the download still waits for.
    void endDownload() { m_sock->write(frame(Protocol::MsgType::FileEnd, m_downloadStream, {})); }

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
            const auto type = static_cast<Protocol::MsgType>(f.header.type);
            if (type == Protocol::MsgType::Hello)
                ++hellos;
            if (m_mode == Mode::AnnounceSpam) {
                announce(50); // never answered: more Announces instead
                continue;
            }
            if (m_mode == Mode::Silent)
                continue;
            if (type != Protocol::MsgType::Hello)
                received.append({type, f.header.stream});
            if (type == Protocol::MsgType::Hello && m_mode == Mode::OldVersion) {
                // As a version 1 agent answers a version 2 Hello.
                m_sock->write(frame(Protocol::MsgType::Error, 0,
                                    Protocol::ErrorMsg{Protocol::ErrorCode::Protocol, "unsupported protocol version 2 (agent speaks 1)"}.encode()));
            } else if (type == Protocol::MsgType::Hello) {
                Protocol::Hello h;
                Protocol::Hello::decode(f.payload, &h);
                Protocol::HelloAck ack;
                ack.nonce = m_mode == Mode::WrongNonce ? h.nonce + 1 : h.nonce;
                ack.agentVersion = "fake";
                m_sock->write(frame(Protocol::MsgType::HelloAck, 0, ack.encode()));
            } else if (type == Protocol::MsgType::Health && m_mode == Mode::OversizeReply) {
                char header[Protocol::kHeaderSize];
                Protocol::encodeHeader(
                    header, Protocol::FrameHeader{std::uint8_t(Protocol::MsgType::HealthResult), 0, f.header.stream, Protocol::kDefaultMaxPayload + 1});
                m_sock->write(header, Protocol::kHeaderSize);
            } else if (type == Protocol::MsgType::FileGet && m_mode == Mode::OverlongDownload) {
                // Declares 4 bytes, sends 8.
                m_sock->write(frame(Protocol::MsgType::FileGetInfo, f.header.stream, Protocol::FileGetInfo{4, 0644}.encode()));
                m_sock->write(frame(Protocol::MsgType::FileData, f.header.stream, "12345678"));
                m_sock->write(frame(Protocol::MsgType::FileEnd, f.header.stream, {}));
            } else if (type == Protocol::MsgType::FileGet && (m_mode == Mode::OverfedDownload || m_mode == Mode::UnendedDownload)) {
                // Declares 8 bytes and sends them in two chunks; overfed, a
                // third chunk past the size and a FileEnd follow; unended,
                // the FileEnd waits for endDownload().
                m_downloadStream = f.header.stream;
                m_sock->write(frame(Protocol::MsgType::FileGetInfo, f.header.stream, Protocol::FileGetInfo{8, 0644}.encode()));
                m_sock->write(frame(Protocol::MsgType::FileData, f.header.stream, "1234"));
                m_sock->write(frame(Protocol::MsgType::FileData, f.header.stream, "5678"));
                if (m_mode == Mode::OverfedDownload) {
                    m_sock->write(frame(Protocol::MsgType::FileData, f.header.stream, "9"));
                    m_sock->write(frame(Protocol::MsgType::FileEnd, f.header.stream, {}));
                }
            } else if (type == Protocol::MsgType::ExecStart && m_mode == Mode::OverrunCredit) {
                // A whole window, then one byte the host never granted.
                m_sock->write(frame(Protocol::MsgType::ExecStarted, f.header.stream, Protocol::ExecStarted{42}.encode()));
                m_sock->write(frame(Protocol::MsgType::ExecStdout, f.header.stream, std::string(Protocol::kStreamWindow, 'o')));
                m_sock->write(frame(Protocol::MsgType::ExecStderr, f.header.stream, "!"));
            } else if (type == Protocol::MsgType::Health && m_mode == Mode::ResetOnHealth && !m_resetDone) {
                // As the agent does on a frame above its limit: drop every
                // stream, forget the handshake, say so on stream 0.
                m_resetDone = true;
                m_sock->write(frame(Protocol::MsgType::Error, 0, Protocol::ErrorMsg{Protocol::ErrorCode::Protocol, "frame too large"}.encode()));
            } else if (type == Protocol::MsgType::Health) {
                Protocol::HealthResult r;
                r.agentVersion = "fake";
                r.cpus = 3;
                m_sock->write(frame(Protocol::MsgType::HealthResult, f.header.stream, r.encode()));
            }
        }
    }
    void announce(int times)
    {
        QByteArray burst;
        for (int i = 0; i < times; ++i)
            burst += frame(Protocol::MsgType::Announce, 0, Protocol::Announce{}.encode());
        m_sock->write(burst);
    }

    Mode m_mode;
    QLocalServer m_server;
    QLocalSocket *m_sock = nullptr;
    Protocol::FrameReader m_reader;
    bool m_preambleDone = false;
    bool m_resetDone = false;
    quint32 m_downloadStream = 0;
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
    void cleanupTestCase() { HostAgent::stop(m_agent); }

    // A guest's error text becomes one bounded line: no forged log lines or
    // terminal escapes, not a megabyte in an API answer (issue 14).
    void guestErrorTextIsOneBoundedLine()
    {
        const Protocol::ErrorMsg hostile{Protocol::ErrorCode::Io, "first\nforged line\r\x1b[31mred\t" + std::string(100000, 'x')};
        const Core::Error e = Agent::agentError(hostile);
        QCOMPARE(e.code, Core::ErrorCode::Agent);
        QVERIFY(e.message.startsWith(QStringLiteral("guest: first?forged line??[31mred?x")));
        QVERIFY(e.message.endsWith(QStringLiteral("...")));
        QVERIFY(e.message.size() <= Agent::kMaxGuestTextChars + 16);
        for (const QChar c : e.message)
            QVERIFY(c.category() != QChar::Other_Control);
        QCOMPARE(Agent::guestText("no such file"), QStringLiteral("no such file"));
        QCOMPARE(Agent::guestText("caf\xc3\xa9"), QStringLiteral("caf\u00e9"));
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

    // The request's limits, not the caller, bound what is kept: the first
    // maxBytes of each output, the rest dropped and flagged, while the
    // signals still carry every byte.
    void execOutputCapKeepsTheFirstBytesAndSaysTruncated()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        Agent::ExecRequest req;
        req.shell = QStringLiteral("head -c 3000000 /dev/zero; printf err >&2");
        req.limits.maxBytes = 1 << 20;
        Agent::ExecHandle *h = client.exec(req);
        qint64 streamed = 0;
        connect(h, &Agent::ExecHandle::stdoutReceived, this, [&streamed](const QByteArray &d) { streamed += d.size(); });
        auto r = await(h->result());
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(r->exitCode, 0);
        QCOMPARE(r->stdoutData.size(), qsizetype(1 << 20));
        QVERIFY(r->stdoutData.capacity() < 2 * (1 << 20));
        QCOMPARE(r->stdoutData, QByteArray(1 << 20, '\0'));
        QVERIFY(r->stdoutTruncated);
        QCOMPARE(r->stderrData, QByteArray("err"));
        QVERIFY(!r->stderrTruncated);
        QCOMPARE(streamed, qint64(3000000));
        delete h;

        Agent::ExecRequest small;
        small.shell = QStringLiteral("printf 12345");
        QCOMPARE(small.limits.maxBytes, Agent::StreamLimits::kDefaultMaxOutputBytes);
        small.limits.maxBytes = 5;
        auto exact = await(client.run(small));
        QVERIFY(exact);
        QCOMPARE(exact->stdoutData, QByteArray("12345"));
        QVERIFY(!exact->stdoutTruncated);

        // stderr with a cap of its own (a caller that reads only its end).
        Agent::ExecRequest split;
        split.shell = QStringLiteral("head -c 100 /dev/zero; head -c 100 /dev/zero >&2");
        split.limits.maxBytes = 1000;
        split.limits.maxStderrBytes = 10;
        auto capped = await(client.run(split));
        QVERIFY2(capped, capped ? "" : qPrintable(capped.error().message));
        QCOMPARE(capped->stdoutData.size(), qsizetype(100));
        QVERIFY(!capped->stdoutTruncated);
        QCOMPARE(capped->stderrData, QByteArray(10, '\0'));
        QVERIFY(capped->stderrTruncated);
    }

    // Past the request's deadline the host gives up with Timeout and the
    // command is killed in the guest (the host agent's processes are ours).
    void execDeadlineFailsWithTimeoutAndKillsTheCommand()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        Agent::ExecRequest req;
        req.argv = QStringList{QStringLiteral("sleep"), QStringLiteral("30")};
        req.limits.deadlineMs = 300;
        Agent::ExecHandle *h = client.exec(req);
        int pid = 0;
        connect(h, &Agent::ExecHandle::started, this, [&pid](int p) { pid = p; });
        QElapsedTimer t;
        t.start();
        auto r = await(h->result());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Timeout);
        QVERIFY2(t.elapsed() < 10000, qPrintable(QString::number(t.elapsed())));
        QVERIFY(pid > 0);
        QTRY_VERIFY_WITH_TIMEOUT(!QFile::exists(QStringLiteral("/proc/%1").arg(pid)), 10000);
        delete h;

        // Without its own deadline an exec waits out the guest's timeout
        // (plus a grace): the guest's verdict arrives first.
        Agent::ExecRequest timed;
        timed.argv = QStringList{QStringLiteral("sleep"), QStringLiteral("30")};
        timed.timeoutMs = 200;
        auto killed = await(client.run(timed));
        QVERIFY2(killed, killed ? "" : qPrintable(killed.error().message));
        QVERIFY(killed->timedOut);
        QVERIFY(client.isReady());
    }

    // An exec's reader behind: paused, the stream's credit is withheld (at
    // most a window more arrives); unpaused, the rest comes. Stdin waits
    // in the client while the channel is full, not in the socket.
    void execBackpressureBothWays()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        Agent::ExecRequest req;
        req.shell = QStringLiteral("head -c 67108864 /dev/zero");
        req.collectOutput = false;
        Agent::ExecHandle *h = client.exec(req);
        qint64 received = 0;
        connect(h, &Agent::ExecHandle::stdoutReceived, this, [&received, h](const QByteArray &d) {
            if (received == 0)
                h->setOutputPaused(true);
            received += d.size();
        });
        QTRY_VERIFY(received > 0);
        QTest::qWait(1000);
        const qint64 whilePaused = received;
        QTest::qWait(500);
        QCOMPARE(received, whilePaused); // nothing more read while paused
        QVERIFY2(received < (8 << 20), qPrintable(QString::number(received)));
        h->setOutputPaused(false);
        auto r = await(h->result(), 60000);
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(received, qint64(64) << 20);
        delete h;

        Agent::ExecRequest sink;
        sink.shell = QStringLiteral("wc -c");
        sink.streamStdin = true;
        Agent::ExecHandle *in = client.exec(sink);
        in->writeStdin(QByteArray(32 << 20, 'i'));
        QVERIFY2(in->stdinBytesToWrite() >= (32 << 20) - Agent::AgentClient::kWriteHighWater - Protocol::kDataChunk,
                 qPrintable(QString::number(in->stdinBytesToWrite())));
        in->closeStdin();
        auto counted = await(in->result(), 60000);
        QVERIFY2(counted, counted ? "" : qPrintable(counted.error().message));
        QCOMPARE(counted->stdoutData.trimmed(), QByteArray::number(32 << 20));
        QCOMPARE(in->stdinBytesToWrite(), qint64(0));
        delete in;
    }

    // Issue 14: an exec whose consumer holds its output and never reads
    // holds only its own stream (the guest gets no more credit for it): on
    // the same VM another exec, a stat, a put and a get complete meanwhile.
    // Released, the held exec's 32 MiB all arrive.
    void heldExecHoldsOnlyItsStream()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        constexpr qint64 kTotal = qint64(32) << 20;
        Agent::ExecRequest req;
        req.shell = QStringLiteral("head -c %1 /dev/zero").arg(kTotal);
        req.collectOutput = false;
        std::unique_ptr<Agent::ExecHandle> held(client.exec(req));
        held->setOutputPaused(true); // the consumer holds from the start
        qint64 received = 0;
        connect(held.get(), &Agent::ExecHandle::stdoutReceived, this, [&received](const QByteArray &d) { received += d.size(); });
        QTRY_COMPARE(received, qint64(Protocol::kStreamWindow)); // the window in flight, then nothing
        QTest::qWait(300);
        QCOMPARE(received, qint64(Protocol::kStreamWindow));

        QElapsedTimer t;
        t.start();
        Agent::ExecRequest echo;
        echo.shell = QStringLiteral("echo second");
        auto second = await(client.run(echo), 10000);
        const qint64 secondMs = t.elapsed();
        QVERIFY2(second, second ? "" : qPrintable(second.error().message));
        QCOMPARE(second->stdoutData, QByteArray("second\n"));
        const QString path = m_dir.filePath(QStringLiteral("beside-held.txt"));
        auto put = await(client.putData(path, "beside"), 10000);
        QVERIFY2(put, put ? "" : qPrintable(put.error().message));
        auto st = await(client.stat(path), 10000);
        QVERIFY2(st, st ? "" : qPrintable(st.error().message));
        QCOMPARE(st->size, quint64(6));
        auto got = await(client.getData(path), 10000);
        QVERIFY2(got, got ? "" : qPrintable(got.error().message));
        QCOMPARE(*got, QByteArray("beside"));
        qInfo("with a 32 MiB exec held: the second exec took %lld ms, exec+put+stat+get %lld ms", secondMs, t.elapsed());
        QCOMPARE(received, qint64(Protocol::kStreamWindow));

        held->setOutputPaused(false);
        auto r = await(held->result(), 60000);
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(received, kTotal);
    }

    // A guest sending more on a stream than its credit (its consumer holds,
    // so none came back): that operation fails with a protocol error and
    // is cancelled in the guest; the connection and the other operations
    // go on.
    void guestOverrunningCreditFailsOnlyThatStream()
    {
        const QString path = m_dir.filePath(QStringLiteral("overrun.sock"));
        FakeAgent fake(path, FakeAgent::Mode::OverrunCredit);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        Agent::ExecRequest req;
        req.shell = QStringLiteral("yes");
        std::unique_ptr<Agent::ExecHandle> exec(client.exec(req));
        exec->setOutputPaused(true);
        auto r = await(exec->result(), 10000);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Protocol);
        QVERIFY2(r.error().message.contains(QLatin1String("credit")), qPrintable(r.error().message));
        QVERIFY(client.isReady());
        auto h = await(client.health(), 5000);
        QVERIFY2(h, h ? "" : qPrintable(h.error().message));
        QCOMPARE(h->cpus, quint32(3));
        QVERIFY(fake.received.contains(qMakePair(Protocol::MsgType::Cancel, fake.received.first().second)));
    }

    // A peer of another protocol version is refused at once, saying so.
    void otherProtocolVersionIsRefused()
    {
        const QString path = m_dir.filePath(QStringLiteral("old.sock"));
        FakeAgent fake(path, FakeAgent::Mode::OldVersion);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QElapsedTimer t;
        t.start();
        auto r = await(client.connectToAgent(20000));
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Protocol);
        QVERIFY2(r.error().message.contains(QLatin1String("rebuild the image")), qPrintable(r.error().message));
        QVERIFY2(t.elapsed() < 5000, qPrintable(QString::number(t.elapsed())));
    }

    void transferDeadlineFailsWithTimeoutAndCancelsInTheGuest()
    {
        const QString path = m_dir.filePath(QStringLiteral("mute.sock"));
        FakeAgent fake(path, FakeAgent::Mode::Normal); // never answers FileGet
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        auto got = await(client.getData(QStringLiteral("/x"), Agent::StreamLimits{0, 300}), 10000);
        QVERIFY(!got);
        QCOMPARE(got.error().code, Core::ErrorCode::Timeout);
        QTRY_COMPARE(fake.received.size(), 2);
        QCOMPARE(fake.received.at(0).first, Protocol::MsgType::FileGet);
        QCOMPARE(fake.received.at(1).first, Protocol::MsgType::Cancel);
        QCOMPARE(fake.received.at(1).second, fake.received.at(0).second);
        auto h = await(client.health()); // the connection is fine
        QVERIFY(h);
    }

    // A stat given a short deadline (a caller that polls, such as the
    // display's readiness check) fails with Timeout by it, cancelled in the guest.
    void statDeadlineFailsFastWithTimeout()
    {
        const QString path = m_dir.filePath(QStringLiteral("mute-stat.sock"));
        FakeAgent fake(path, FakeAgent::Mode::Normal); // never answers Stat
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        QElapsedTimer t;
        t.start();
        auto r = await(client.stat(QStringLiteral("/run/x"), 300), 10000);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Timeout);
        QVERIFY2(t.elapsed() < 3000, qPrintable(QString::number(t.elapsed())));
        QTRY_COMPARE(fake.received.size(), 2);
        QCOMPARE(fake.received.at(0).first, Protocol::MsgType::Stat);
        QCOMPARE(fake.received.at(1).first, Protocol::MsgType::Cancel);
        QVERIFY(await(client.health()));
    }

    // A hostile guest: more bytes than it declared are refused, the stream
    // cancelled, nothing beyond the declared size kept.
    void downloadLongerThanDeclaredIsRefused()
    {
        const QString path = m_dir.filePath(QStringLiteral("overlong.sock"));
        FakeAgent fake(path, FakeAgent::Mode::OverlongDownload);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        auto sink = std::make_shared<QBuffer>();
        sink->open(QIODevice::WriteOnly);
        auto got = await(client.getFile(QStringLiteral("/x"), sink), 10000);
        QVERIFY(!got);
        QCOMPARE(got.error().code, Core::ErrorCode::Io);
        QVERIFY2(got.error().message.contains(QLatin1String("declared")), qPrintable(got.error().message));
        QCOMPARE(sink->data().size(), qsizetype(0));
        QTRY_COMPARE(fake.received.size(), 2);
        QCOMPARE(fake.received.at(1).first, Protocol::MsgType::Cancel);
    }

    // A download handed out as a reader: while nobody reads, the host holds
    // at most the reader's high-water mark (and a frame) of a file of any
    // size; read, every byte arrives and it ends cleanly.
    void streamedDownloadHoldsLittleUntilRead()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        const QString path = m_dir.filePath(QStringLiteral("sparse.bin"));
        const qint64 size = 64 << 20;
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly) && f.resize(size));
        }
        auto got = await(client.download(path));
        QVERIFY2(got, got ? "" : qPrintable(got.error().message));
        std::unique_ptr<Agent::FileDownload> download(*got);
        QCOMPARE(download->fileSize(), quint64(size));
        QTest::qWait(500);
        const qint64 bound = Agent::FileDownload::kReadHighWater + Protocol::kDataChunk;
        QVERIFY2(download->bytesAvailable() <= bound, qPrintable(QString::number(download->bytesAvailable())));
        QVERIFY(download->bytesAvailable() > 0);
        bool finished = false;
        connect(download.get(), &Agent::FileDownload::finished, this, [&finished]() { finished = true; });
        qint64 total = 0;
        QByteArray buf(1 << 20, Qt::Uninitialized);
        QDeadlineTimer d(60000);
        while (!download->atEnd() && !d.hasExpired()) {
            const qint64 n = download->read(buf.data(), buf.size());
            QVERIFY(n >= 0);
            QVERIFY(download->bytesAvailable() <= bound);
            if (n > 0 && std::any_of(buf.cbegin(), buf.cbegin() + n, [](char c) { return c != 0; }))
                QFAIL("non-zero byte in a sparse file");
            total += n;
            if (n == 0)
                QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
        }
        QCOMPARE(total, size);
        QVERIFY(!download->hasError());
        QTRY_VERIFY(finished);
        QVERIFY(client.isReady());
    }

    // The reader going away before the end cancels the transfer in the
    // guest and releases the channel: other operations go on.
    void streamedDownloadDeletedEarlyIsCancelled()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        const QString path = m_dir.filePath(QStringLiteral("sparse2.bin"));
        {
            QFile f(path);
            QVERIFY(f.open(QIODevice::WriteOnly) && f.resize(qint64(256) << 20));
        }
        auto got = await(client.download(path));
        QVERIFY(got);
        Agent::FileDownload *download = *got;
        QTRY_VERIFY(download->bytesAvailable() > Agent::FileDownload::kReadHighWater / 2);
        download->read(1 << 20);
        delete download;
        auto h = await(client.health(), 10000);
        QVERIFY2(h, h ? "" : qPrintable(h.error().message));
        Agent::ExecRequest req;
        req.shell = QStringLiteral("printf ok");
        auto r = await(client.run(req), 10000);
        QVERIFY(r);
        QCOMPARE(r->stdoutData, QByteArray("ok"));
    }

    // A hostile guest sending more than it declared: the reader fails, the
    // extra bytes are never handed out.
    void streamedDownloadLongerThanDeclaredFails()
    {
        const QString path = m_dir.filePath(QStringLiteral("overlong2.sock"));
        FakeAgent fake(path, FakeAgent::Mode::OverlongDownload);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        auto got = await(client.download(QStringLiteral("/x")), 10000);
        QVERIFY(got);
        std::unique_ptr<Agent::FileDownload> download(*got);
        // The failure may be known before anyone could connect to errorOccurred.
        QTRY_VERIFY(download->hasError());
        QCOMPARE(download->error().code, Core::ErrorCode::Io);
        QCOMPARE(download->bytesAvailable(), qint64(0));
        QCOMPARE(download->read(16), QByteArray());
        QTRY_COMPARE(fake.received.size(), 2);
        QCOMPARE(fake.received.at(1).first, Protocol::MsgType::Cancel);
    }

    // A guest that sends every declared byte and then more: the reader is
    // never handed all of the declared size (its last chunk was held back
    // until the next), so whoever passes the bytes on ends short.
    void streamedDownloadOverfedEndsShortOfItsSize()
    {
        const QString path = m_dir.filePath(QStringLiteral("overfed.sock"));
        FakeAgent fake(path, FakeAgent::Mode::OverfedDownload);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        auto got = await(client.download(QStringLiteral("/x")), 10000);
        QVERIFY(got);
        std::unique_ptr<Agent::FileDownload> download(*got);
        QCOMPARE(download->fileSize(), quint64(8));
        bool finished = false;
        connect(download.get(), &Agent::FileDownload::finished, this, [&finished]() { finished = true; });
        QTRY_VERIFY(download->hasError());
        QCOMPARE(download->error().code, Core::ErrorCode::Io);
        QVERIFY2(download->error().message.contains(QLatin1String("declared")), qPrintable(download->error().message));
        QCOMPARE(download->readAll(), QByteArray("1234"));
        QVERIFY(download->atEnd());
        QVERIFY(!finished);
        QTRY_COMPARE(fake.received.size(), 2);
        QCOMPARE(fake.received.at(1).first, Protocol::MsgType::Cancel);
    }

    // Every declared byte arrived but not the guest's FileEnd: the last
    // chunk waits for it; once it comes, every byte is there and it is done.
    void streamedDownloadHoldsItsLastChunkUntilTheEnd()
    {
        const QString path = m_dir.filePath(QStringLiteral("unended.sock"));
        FakeAgent fake(path, FakeAgent::Mode::UnendedDownload);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        auto got = await(client.download(QStringLiteral("/x")), 10000);
        QVERIFY(got);
        std::unique_ptr<Agent::FileDownload> download(*got);
        bool finished = false;
        connect(download.get(), &Agent::FileDownload::finished, this, [&finished]() { finished = true; });
        QTRY_COMPARE(download->bytesAvailable(), qint64(4));
        QTest::qWait(200);
        QCOMPARE(download->bytesAvailable(), qint64(4));
        QVERIFY(!finished && !download->isComplete());
        QCOMPARE(download->read(4), QByteArray("1234"));
        fake.endDownload();
        QTRY_VERIFY(finished);
        QCOMPARE(download->readAll(), QByteArray("5678"));
        QVERIFY(download->atEnd());
        QVERIFY(!download->hasError());
    }

    void downloadAboveTheLimitIsRefusedBeforeReading()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        const QString path = m_dir.filePath(QStringLiteral("thousand.bin"));
        QVERIFY(await(client.putData(path, QByteArray(1000, 'x'))));
        auto refused = await(client.getData(path, Agent::StreamLimits{999, 0}));
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, Core::ErrorCode::InvalidArgument);
        QCOMPARE(refused.error().detail, int(Protocol::ErrorCode::TooLarge));
        auto fits = await(client.getData(path, Agent::StreamLimits{1000, 0}));
        QVERIFY(fits);
        QCOMPARE(fits->size(), qsizetype(1000));
        QVERIFY(client.isReady());
    }

    // A command whose ExecStart would pass the agent's frame limit is
    // refused (TooLarge) before anything is sent: the session goes on.
    void oversizeExecIsRefusedBeforeSending()
    {
        Agent::AgentClient client(Vmm::AgentEndpoint{m_agentSocket, 0});
        QVERIFY(await(client.connectToAgent(10000)));
        Agent::ExecRequest big;
        big.shell = QStringLiteral("true # ") + QString(int(Protocol::kDefaultMaxPayload), QLatin1Char('x'));
        auto refused = await(client.run(big), 10000);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, Core::ErrorCode::TooLarge);
        QVERIFY2(refused.error().message.contains(QLatin1String("limit")), qPrintable(refused.error().message));
        QVERIFY(client.isReady());
        Agent::ExecRequest small;
        small.shell = QStringLiteral("printf fine");
        auto r = await(client.run(small), 10000);
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(r->stdoutData, QByteArray("fine"));
    }

    // The agent's stream-0 Protocol error means it dropped every stream and
    // forgot the handshake: every operation in flight fails, the client
    // greets it again and is ready once it answers.
    void protocolErrorFailsEveryStreamAndRedoesTheHandshake()
    {
        const QString path = m_dir.filePath(QStringLiteral("reset.sock"));
        FakeAgent fake(path, FakeAgent::Mode::ResetOnHealth);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        QVERIFY(await(client.connectToAgent(5000)));
        QCOMPARE(fake.hellos, 1);
        auto pending = client.getData(QStringLiteral("/x")); // never answered
        auto h = await(client.health(), 5000);
        QVERIFY(!h);
        QCOMPARE(h.error().code, Core::ErrorCode::Protocol);
        auto dropped = await(pending, 5000);
        QVERIFY(!dropped);
        QCOMPARE(dropped.error().code, Core::ErrorCode::Protocol);
        QTRY_VERIFY(client.isReady());
        QCOMPARE(fake.hellos, 2);
        auto again = await(client.health(), 5000);
        QVERIFY2(again, again ? "" : qPrintable(again.error().message));
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

    // A guest spamming Announce before the handshake gets at most one Hello
    // per AgentClient::kMinHelloIntervalMs, not one per Announce.
    void announceSpamGetsPacedHellos()
    {
        const QString path = m_dir.filePath(QStringLiteral("spam.sock"));
        FakeAgent fake(path, FakeAgent::Mode::AnnounceSpam);
        Agent::AgentClient client(Vmm::AgentEndpoint{path, 0});
        const int waitMs = 1500;
        auto info = await(client.connectToAgent(waitMs), 10000);
        QVERIFY(!info);
        QCOMPARE(info.error().code, Core::ErrorCode::Timeout);
        QVERIFY(fake.hellos >= 2);
        const int bound = waitMs / Agent::AgentClient::kMinHelloIntervalMs + waitMs / Agent::AgentClient::kHelloRetryMs + 3;
        QVERIFY2(fake.hellos <= bound, qPrintable(QStringLiteral("%1 Hellos for thousands of Announces (bound %2)").arg(fake.hellos).arg(bound)));
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
