// Vmm::QmpClient against scripted QMP servers. A plain Unix socket this test
// drives: the greeting and capabilities, then a command that carries a file
// descriptor (SCM_RIGHTS, as QEMU's getfd takes it) and arrives whole with
// it, the descriptor usable on the server's side, and commands before and
// after it kept in order. A scripted QEMU on a QLocalServer: a command
// answered by id, and a QEMU that never ends its line, which must end the
// connection at QmpClient::kMaxMessageBytes instead of growing the client's
// buffer forever (found while writing the fuzz_vmmapi harness, issue 14).

#include "core/vmm/qmpclient.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFile>
#include <QJsonDocument>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTemporaryDir>
#include <QTest>

#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using Vmm::QmpClient;

namespace {

constexpr int kTimeoutMs = 10000;

template<typename T>
Core::Expected<T> await(Core::Future<T> f)
{
    QDeadlineTimer deadline(kTimeoutMs);
    while (!f.isFinished() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    if (!f.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("no answer"));
    return f.result();
}

// One line from the client, and the descriptors received so far. The
// kernel may hand over the bytes of several commands in one read, the
// descriptor with them (QEMU, like this server, keeps it for the next getfd).
struct Received {
    QByteArray line;
    QList<int> fds;
};

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
    int m_listen = -1;
    int m_conn = -1;
    QByteArray m_pending;
    QList<int> m_fds;

    // recvmsg with room for one descriptor, spinning the client's loop.
    Received readLine()
    {
        Received r;
        QDeadlineTimer deadline(kTimeoutMs);
        while (!m_pending.contains('\n') && !deadline.hasExpired()) {
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
            pollfd p{m_conn, POLLIN, 0};
            if (::poll(&p, 1, 5) <= 0)
                continue;
            char buf[4096];
            iovec iov{buf, sizeof(buf)};
            union {
                cmsghdr header;
                char bytes[CMSG_SPACE(sizeof(int)) * 4]; // room for more than one, to see them
            } control{};
            msghdr msg{nullptr, 0, &iov, 1, &control, sizeof(control), 0};
            const ssize_t n = ::recvmsg(m_conn, &msg, MSG_CMSG_CLOEXEC);
            if (n <= 0)
                break;
            m_pending.append(buf, n);
            for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                    int fd = -1;
                    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
                    m_fds << fd;
                }
        }
        const qsizetype nl = m_pending.indexOf('\n');
        if (nl >= 0) {
            r.line = m_pending.left(nl);
            m_pending.remove(0, nl + 1);
        }
        r.fds = m_fds;
        return r;
    }

    void send(const QByteArray &line)
    {
        const QByteArray bytes = line + '\n';
        QCOMPARE(::write(m_conn, bytes.constData(), bytes.size()), ssize_t(bytes.size()));
    }

    static QJsonObject parse(const QByteArray &line) { return QJsonDocument::fromJson(line).object(); }

    void answer(const QByteArray &line)
    {
        const QString id = parse(line).value(QStringLiteral("id")).toString();
        send(QByteArray("{\"return\": {}, \"id\": \"") + id.toUtf8() + "\"}");
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void passesADescriptorWithACommand()
    {
        const QByteArray path = QFile::encodeName(m_dir.filePath(QStringLiteral("qmp.sock")));
        m_listen = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path, path.constData(), path.size());
        QCOMPARE(::bind(m_listen, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
        QCOMPARE(::listen(m_listen, 1), 0);

        QmpClient client;
        auto connected = client.connectTo(QString::fromLocal8Bit(path));
        m_conn = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
        QVERIFY(m_conn >= 0);
        send(R"({"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 22}}, "capabilities": []}})");
        const Received caps = readLine();
        QCOMPARE(parse(caps.line).value(QStringLiteral("execute")).toString(), QStringLiteral("qmp_capabilities"));
        QVERIFY(caps.fds.isEmpty());
        answer(caps.line);
        const auto ok = await(connected);
        QVERIFY2(ok.hasValue(), ok ? "" : qPrintable(ok.error().message));
        QCOMPARE(client.qemuVersion(), QStringLiteral("7.2.22"));

        // A command before, the one with the descriptor, one after.
        int pipeFds[2];
        QCOMPARE(::pipe2(pipeFds, O_CLOEXEC), 0);
        auto before = client.execute(QStringLiteral("query-status"));
        auto withFd = client.executeWithFd(QStringLiteral("getfd"), {{QStringLiteral("fdname"), QStringLiteral("mvs-state")}}, pipeFds[1]);
        ::close(pipeFds[1]); // the client's copy went with the command
        auto after = client.execute(QStringLiteral("query-migrate"));

        const Received first = readLine();
        QCOMPARE(parse(first.line).value(QStringLiteral("execute")).toString(), QStringLiteral("query-status"));
        answer(first.line);
        const Received getfd = readLine();
        const QJsonObject cmd = parse(getfd.line);
        QCOMPARE(cmd.value(QStringLiteral("execute")).toString(), QStringLiteral("getfd"));
        QCOMPARE(cmd.value(QStringLiteral("arguments")).toObject().value(QStringLiteral("fdname")).toString(), QStringLiteral("mvs-state"));
        QCOMPARE(getfd.fds.size(), 1); // by the end of getfd's line, and only one
        // It is the pipe's write end: what the "VMM" writes, the caller reads.
        QCOMPARE(::write(getfd.fds.first(), "state", 5), ssize_t(5));
        ::close(getfd.fds.first());
        char buf[8] = {};
        QCOMPARE(::read(pipeFds[0], buf, sizeof(buf)), ssize_t(5));
        QCOMPARE(QByteArray(buf, 5), QByteArray("state"));
        ::close(pipeFds[0]);
        answer(getfd.line);
        const Received last = readLine();
        QCOMPARE(parse(last.line).value(QStringLiteral("execute")).toString(), QStringLiteral("query-migrate"));
        QCOMPARE(last.fds.size(), 1); // no other descriptor
        answer(last.line);

        QVERIFY(await(before).hasValue());
        QVERIFY(await(withFd).hasValue());
        QVERIFY(await(after).hasValue());

        // No descriptor, or no connection: an error, nothing sent.
        QCOMPARE(await(client.executeWithFd(QStringLiteral("getfd"), {}, -1)).error().code, Core::ErrorCode::InvalidArgument);
        client.close();
        QCOMPARE(await(client.executeWithFd(QStringLiteral("getfd"), {}, 0)).error().code, Core::ErrorCode::VmmFailed);
    }

    void commandAnswered()
    {
        FakeQemu qemu(m_dir.filePath(QStringLiteral("a.sock")));
        Vmm::QmpClient client;
        const auto connecting = client.connectTo(m_dir.filePath(QStringLiteral("a.sock")));
        QTRY_VERIFY_WITH_TIMEOUT(connecting.isFinished(), kTimeoutMs);
        const auto connected = connecting.result();
        QVERIFY2(connected, connected ? "" : qPrintable(connected.error().message));
        QCOMPARE(client.qemuVersion(), QStringLiteral("7.2.2"));
        const auto executing = client.execute(QStringLiteral("query-status"));
        QTRY_VERIFY_WITH_TIMEOUT(executing.isFinished(), kTimeoutMs);
        const auto r = executing.result();
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
    }

    void endlessLineEndsTheConnection()
    {
        FakeQemu qemu(m_dir.filePath(QStringLiteral("b.sock")));
        Vmm::QmpClient client;
        const auto connecting = client.connectTo(m_dir.filePath(QStringLiteral("b.sock")));
        QTRY_VERIFY_WITH_TIMEOUT(connecting.isFinished(), kTimeoutMs);
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
        QTRY_VERIFY_WITH_TIMEOUT(pending.isFinished(), kTimeoutMs);
        const auto r = pending.result();
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(r.error().message.contains(QStringLiteral("QMP message over")), qPrintable(r.error().message));
        QVERIFY(!client.isReady());
    }

    void cleanupTestCase()
    {
        if (m_conn >= 0)
            ::close(m_conn);
        if (m_listen >= 0)
            ::close(m_listen);
    }
};

QTEST_GUILESS_MAIN(TestQmpClient)
#include "tst_qmpclient.moc"
