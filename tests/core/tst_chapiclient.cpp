// ChApiClient against a fake micro_http server (QLocalServer) that behaves
// like cloud-hypervisor's: keep-alive, "HTTP/1.1 204 \r\n" without
// Content-Length, JSON bodies framed by Content-Length, error bodies as a
// JSON array of strings, connections closed between requests, answers split
// across writes, and a server that never answers. Plus ChInstance and
// ChDriver failing cleanly where no cloud-hypervisor can run (the real
// driver runs in the e2e suite on KVM hosts).

#include "core/vmm/chapiclient.h"
#include "core/vmm/chdriver.h"
#include "core/vmm/chinstance.h"
#include "core/vmm/chvmconfig.h"
#include "core/vmm/kvmprobe.h"
#include "core/vmm/qemudriver.h" // kvmStatusFor
#include "core/vmm/vmmcredentials.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocalServer>
#include <QLocalSocket>
#include <QPointer>
#include <QSignalSpy>
#include <QSocketNotifier>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace Vmm;

namespace {

template<typename T>
Core::Expected<T> await(Core::Future<T> future, int timeoutMs = 5000)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!future.isFinished() && !deadline.hasExpired())
        QTest::qWait(2);
    if (!future.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("test: the future did not finish in time"));
    return future.result();
}

// For QVERIFY2 messages, which are evaluated whether or not the check fails.
template<typename T>
QString why(const Core::Expected<T> &r)
{
    return r.hasValue() ? QString() : r.error().toString();
}

// micro_http's response shapes (src/response.rs): no reason phrase, Server and
// Connection: keep-alive always, Content-Type/Content-Length only with a body.
QByteArray noContent()
{
    return QByteArrayLiteral("HTTP/1.1 204 \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\n\r\n");
}

QByteArray withBody(int status, const QByteArray &body)
{
    return QByteArrayLiteral("HTTP/1.1 ") + QByteArray::number(status)
        + QByteArrayLiteral(" \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\n"
                            "Content-Type: application/json\r\nContent-Length: ")
        + QByteArray::number(body.size()) + QByteArrayLiteral("\r\n\r\n") + body;
}

class FakeMicroHttp : public QObject {
    Q_OBJECT
public:
    struct Request {
        int connection = 0;
        QByteArray method;
        QByteArray target;
        QByteArray version;
        QList<std::pair<QByteArray, QByteArray>> headers;
        QByteArray body;
        int answeredBefore = 0; // replies fully written when this request arrived

        QByteArray header(const QByteArray &name) const
        {
            for (const auto &[n, v] : headers) {
                if (n.compare(name, Qt::CaseInsensitive) == 0)
                    return v;
            }
            return {};
        }
        bool hasHeader(const QByteArray &name) const { return !header(name).isNull(); }
    };
    struct Reply {
        QByteArray bytes = noContent();
        QList<int> chunks; // write in pieces of these sizes (the rest last)
        int chunkDelayMs = 5;
        int delayMs = 0; // before the first byte
        bool closeAfter = false;
        bool closeInsteadOfAnswer = false;
        bool never = false;
    };

    static Reply answer(QByteArray bytes)
    {
        Reply r;
        r.bytes = std::move(bytes);
        return r;
    }

    explicit FakeMicroHttp(const QString &path)
    {
        QLocalServer::removeServer(path);
        m_listening = m_server.listen(path);
        connect(&m_server, &QLocalServer::newConnection, this, &FakeMicroHttp::onNewConnection);
    }

    bool isListening() const { return m_listening; }
    void queue(Reply reply) { m_replies.append(std::move(reply)); }

    QList<Request> requests;
    int connections = 0;
    int answered = 0;

private:
    void onNewConnection()
    {
        while (QLocalSocket *socket = m_server.nextPendingConnection()) {
            const int id = ++connections;
            connect(socket, &QLocalSocket::readyRead, this, [this, socket, id]() { onData(socket, id); });
            connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
        }
    }

    void onData(QLocalSocket *socket, int connection)
    {
        QByteArray &buffer = m_buffers[socket];
        buffer += socket->readAll();
        for (;;) {
            const qsizetype headerEnd = buffer.indexOf("\r\n\r\n");
            if (headerEnd < 0)
                return;
            Request r;
            r.connection = connection;
            const QList<QByteArray> lines = buffer.left(headerEnd).split('\n');
            const QList<QByteArray> requestLine = lines.first().trimmed().split(' ');
            r.method = requestLine.value(0);
            r.target = requestLine.value(1);
            r.version = requestLine.value(2);
            qsizetype contentLength = 0;
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const qsizetype colon = lines[i].indexOf(':');
                const QByteArray name = lines[i].left(colon).trimmed();
                const QByteArray value = lines[i].mid(colon + 1).trimmed();
                r.headers.append({name, value});
                if (name.compare("Content-Length", Qt::CaseInsensitive) == 0)
                    contentLength = value.toLongLong();
            }
            if (buffer.size() < headerEnd + 4 + contentLength)
                return;
            r.body = buffer.mid(headerEnd + 4, contentLength);
            buffer.remove(0, headerEnd + 4 + contentLength);
            r.answeredBefore = answered;
            requests.append(r);
            respond(socket, m_replies.isEmpty() ? Reply() : m_replies.takeFirst());
        }
    }

    void respond(QPointer<QLocalSocket> socket, const Reply &reply)
    {
        if (reply.never)
            return;
        if (reply.closeInsteadOfAnswer) {
            socket->disconnectFromServer();
            return;
        }
        auto send = [this, socket, reply]() { writeChunk(socket, reply, 0, 0); };
        if (reply.delayMs > 0)
            QTimer::singleShot(reply.delayMs, this, send);
        else
            send();
    }

    void writeChunk(QPointer<QLocalSocket> socket, const Reply &reply, int index, qsizetype offset)
    {
        if (!socket)
            return;
        const qsizetype size = index < reply.chunks.size() ? qsizetype(reply.chunks.at(index)) : reply.bytes.size() - offset;
        socket->write(reply.bytes.mid(offset, size));
        socket->flush();
        offset += size;
        if (offset < reply.bytes.size()) {
            QTimer::singleShot(reply.chunkDelayMs, this, [=, this]() { writeChunk(socket, reply, index + 1, offset); });
            return;
        }
        ++answered;
        if (reply.closeAfter)
            socket->disconnectFromServer();
    }

    QLocalServer m_server;
    bool m_listening = false;
    QList<Reply> m_replies;
    QHash<QLocalSocket *, QByteArray> m_buffers;
};

// A test double of micro_http's descriptor receiving (connection.rs reads
// with recvmsg and attaches SCM_RIGHTS descriptors to the request they come
// with): a raw Unix socket server, since QLocalSocket's reads drop them.
// One connection, requests answered with 204.
class ScmRightsServer : public QObject {
public:
    struct Request {
        QByteArray bytes; // head and body
        QList<int> fds; // received, owned by this server
    };

    explicit ScmRightsServer(const QString &path)
    {
        m_listen = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const QByteArray native = QFile::encodeName(path);
        std::memcpy(addr.sun_path, native.constData(), size_t(native.size()));
        m_ok = ::bind(m_listen, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0 && ::listen(m_listen, 4) == 0;
        m_listenNotifier = new QSocketNotifier(m_listen, QSocketNotifier::Read, this);
        connect(m_listenNotifier, &QSocketNotifier::activated, this, &ScmRightsServer::onAccept);
    }
    ~ScmRightsServer() override
    {
        for (const Request &r : std::as_const(requests))
            for (int fd : r.fds)
                ::close(fd);
        if (m_conn >= 0)
            ::close(m_conn);
        ::close(m_listen);
    }
    bool isListening() const { return m_ok; }
    QList<Request> requests;

private:
    void onAccept()
    {
        m_conn = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (m_conn < 0)
            return;
        m_listenNotifier->setEnabled(false);
        auto *n = new QSocketNotifier(m_conn, QSocketNotifier::Read, this);
        connect(n, &QSocketNotifier::activated, this, &ScmRightsServer::onData);
    }
    void onData()
    {
        char data[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
        iovec iov{data, sizeof data};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t n = ::recvmsg(m_conn, &msg, MSG_CMSG_CLOEXEC);
        if (n <= 0)
            return;
        m_pending.bytes += QByteArray(data, n);
        for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); ++i)
                    m_pending.fds << reinterpret_cast<const int *>(CMSG_DATA(c))[i];
        const qsizetype headerEnd = m_pending.bytes.indexOf("\r\n\r\n");
        const qsizetype lengthAt = m_pending.bytes.indexOf("Content-Length: ");
        if (headerEnd < 0 || lengthAt < 0)
            return;
        const qsizetype length = m_pending.bytes.mid(lengthAt + 16, m_pending.bytes.indexOf('\r', lengthAt) - lengthAt - 16).toLongLong();
        if (m_pending.bytes.size() < headerEnd + 4 + length)
            return;
        requests << m_pending;
        m_pending = {};
        const QByteArray reply = noContent();
        [[maybe_unused]] const ssize_t w = ::write(m_conn, reply.constData(), size_t(reply.size()));
    }

    int m_listen = -1;
    int m_conn = -1;
    bool m_ok = false;
    QSocketNotifier *m_listenNotifier = nullptr;
    Request m_pending;
};

// Whether two descriptors are the same open file (a pipe here).
bool sameFile(int a, int b)
{
    struct stat sa {
    }, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// How many of this process's descriptors are `fd`'s open file.
int copiesOf(int fd)
{
    int n = 0;
    for (const QString &name : QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::AllEntries | QDir::NoDotAndDotDot | QDir::System))
        n += sameFile(name.toInt(), fd) ? 1 : 0;
    return n;
}

VmSpec specIn(const QString &runtimeDir)
{
    VmSpec s;
    s.name = QStringLiteral("t");
    s.kernelPath = QStringLiteral("/nonexistent/vmlinuz");
    s.runtimeDir = runtimeDir;
    s.consoleLogPath = runtimeDir + QStringLiteral("/console.log");
    return s;
}

// A kernel file the VMM user may read (0644) in `dir`, named by `spec`:
// as root, the files are opened before the VMM user execs.
bool withReadableKernel(VmSpec &spec, const QString &dir)
{
    spec.kernelPath = QDir(dir).filePath(QStringLiteral("vmlinuz"));
    QFile kernel(spec.kernelPath);
    return kernel.open(QIODevice::WriteOnly) && kernel.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ReadGroup | QFile::ReadOther);
}

// The runtime directory's sockets, and those cloud-hypervisor binds in its
// own directory there (ChVmConfig::vmmDir).
QStringList socketsIn(const QString &dir)
{
    const QStringList patterns{QStringLiteral("*.sock"), QStringLiteral("*.sock_*")};
    const QDir::Filters filters = QDir::AllEntries | QDir::System | QDir::Hidden;
    QStringList found = QDir(dir).entryList(patterns, filters);
    for (const QString &name : QDir(QDir(dir).filePath(QStringLiteral("vmm"))).entryList(patterns, filters))
        found << QStringLiteral("vmm/") + name;
    return found;
}

} // namespace

class TestChApiClient : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_socketPath;
    std::unique_ptr<FakeMicroHttp> m_server;
    std::unique_ptr<ChApiClient> m_client;

private Q_SLOTS:
    void init()
    {
        QVERIFY(m_dir.isValid());
        m_socketPath = m_dir.filePath(QStringLiteral("api.sock"));
        m_server = std::make_unique<FakeMicroHttp>(m_socketPath);
        QVERIFY(m_server->isListening());
        m_client = std::make_unique<ChApiClient>(m_socketPath);
    }

    void cleanup()
    {
        m_client.reset();
        m_server.reset();
    }

    void getJsonWithContentLength()
    {
        m_server->queue(FakeMicroHttp::answer(withBody(200, R"({"build_version":"v53.0","version":"53.0.0","pid":4242,"features":["kvm"]})")));
        const auto pong = await(m_client->ping());
        QVERIFY2(pong.hasValue(), qPrintable(why(pong)));
        QCOMPARE(pong->value(QStringLiteral("version")).toString(), QStringLiteral("53.0.0"));
        QCOMPARE(pong->value(QStringLiteral("pid")).toInt(), 4242);

        QCOMPARE(m_server->requests.size(), 1);
        const auto &r = m_server->requests.first();
        QCOMPARE(r.method, QByteArray("GET"));
        QCOMPARE(r.target, QByteArray("/api/v1/vmm.ping"));
        QCOMPARE(r.version, QByteArray("HTTP/1.1"));
        QCOMPARE(r.header("Host"), QByteArray("localhost"));
        QVERIFY(!r.hasHeader("Content-Length"));
        QVERIFY(!r.hasHeader("Content-Type"));
        QVERIFY(r.body.isEmpty());
    }

    void putWithJsonBody()
    {
        const QJsonObject config{{QStringLiteral("payload"), QJsonObject{{QStringLiteral("kernel"), QStringLiteral("/k")}}}};
        const auto created = await(m_client->createVm(config));
        QVERIFY2(created.hasValue(), qPrintable(why(created)));
        QCOMPARE(m_server->requests.size(), 1);
        const auto &r = m_server->requests.first();
        QCOMPARE(r.method, QByteArray("PUT"));
        QCOMPARE(r.target, QByteArray("/api/v1/vm.create"));
        QCOMPARE(r.header("Host"), QByteArray("localhost"));
        QCOMPARE(r.header("Content-Type"), QByteArray("application/json"));
        QCOMPARE(r.header("Content-Length"), QByteArray::number(r.body.size()));
        QCOMPARE(QJsonDocument::fromJson(r.body).object(), config);
    }

    void putWithoutBody()
    {
        const auto booted = await(m_client->bootVm());
        QVERIFY2(booted.hasValue(), qPrintable(why(booted)));
        const auto &r = m_server->requests.first();
        QCOMPARE(r.method, QByteArray("PUT"));
        QCOMPARE(r.target, QByteArray("/api/v1/vm.boot"));
        QCOMPARE(r.header("Content-Length"), QByteArray("0"));
        QVERIFY(!r.hasHeader("Content-Type"));
    }

    void endpointsAndMethods_data()
    {
        QTest::addColumn<QByteArray>("method");
        QTest::addColumn<QByteArray>("target");
        QTest::addColumn<int>("call");
        const QList<std::tuple<const char *, const char *>> rows{
            {"PUT", "vmm.shutdown"}, {"PUT", "vm.shutdown"}, {"PUT", "vm.pause"},  {"PUT", "vm.resume"}, {"PUT", "vm.delete"},
            {"PUT", "vm.snapshot"},  {"PUT", "vm.restore"},  {"PUT", "vm.resize"}, {"GET", "vm.info"},   {"GET", "vm.counters"},
        };
        int i = 0;
        for (const auto &[method, endpoint] : rows)
            QTest::newRow(endpoint) << QByteArray(method) << QByteArray("/api/v1/") + endpoint << i++;
    }

    void endpointsAndMethods()
    {
        QFETCH(QByteArray, method);
        QFETCH(QByteArray, target);
        QFETCH(int, call);
        if (method == "GET")
            m_server->queue(FakeMicroHttp::answer(withBody(200, R"({"state":"Running"})")));
        const QJsonObject body{{QStringLiteral("destination_url"), QStringLiteral("file:///s")}};
        Core::Result r;
        switch (call) {
        case 0: r = await(m_client->shutdownVmm()); break;
        case 1: r = await(m_client->shutdownVm()); break;
        case 2: r = await(m_client->pauseVm()); break;
        case 3: r = await(m_client->resumeVm()); break;
        case 4: r = await(m_client->deleteVm()); break;
        case 5: r = await(m_client->snapshotVm(body)); break;
        case 6: r = await(m_client->restoreVm(body)); break;
        case 7: r = await(m_client->resizeVm(body)); break;
        case 8: {
            const auto info = await(m_client->vmInfo());
            r = info ? Core::Result() : Core::Result(info.error());
            break;
        }
        case 9: {
            const auto counters = await(m_client->vmCounters());
            r = counters ? Core::Result() : Core::Result(counters.error());
            break;
        }
        }
        QVERIFY2(r.hasValue(), qPrintable(why(r)));
        QCOMPARE(m_server->requests.size(), 1);
        QCOMPARE(m_server->requests.first().method, method);
        QCOMPARE(m_server->requests.first().target, target);
    }

    void vmState()
    {
        m_server->queue(FakeMicroHttp::answer(withBody(200, R"({"config":{"payload":{}},"state":"Paused","memory_actual_size":1})")));
        const auto state = await(m_client->vmState());
        QVERIFY2(state.hasValue(), qPrintable(why(state)));
        QCOMPARE(*state, QStringLiteral("Paused"));
    }

    void keepAliveReusesOneConnection()
    {
        m_server->queue(FakeMicroHttp::answer(withBody(200, R"({"version":"1"})")));
        QVERIFY(await(m_client->ping()).hasValue());
        QVERIFY(await(m_client->pauseVm()).hasValue());
        QVERIFY(await(m_client->resumeVm()).hasValue());
        QCOMPARE(m_server->requests.size(), 3);
        QCOMPARE(m_server->connections, 1);
    }

    // The second call is only written once the first one is answered.
    void callsAreSerialized()
    {
        FakeMicroHttp::Reply slow;
        slow.delayMs = 150;
        m_server->queue(slow);
        m_server->queue(FakeMicroHttp::answer(withBody(200, R"({"state":"Running"})")));
        auto first = m_client->pauseVm();
        auto second = m_client->vmState();
        QCOMPARE(m_client->pendingCount(), 2);
        QTest::qWait(60);
        if (m_server->answered == 0)
            QCOMPARE(m_server->requests.size(), 1); // the second waits
        QVERIFY(await(first).hasValue());
        const auto state = await(second);
        QVERIFY2(state.hasValue(), qPrintable(why(state)));
        QCOMPARE(*state, QStringLiteral("Running"));
        QCOMPARE(m_server->requests.size(), 2);
        QCOMPARE(m_server->requests.at(1).answeredBefore, 1);
        QCOMPARE(m_client->pendingCount(), 0);
    }

    void errorResponses_data()
    {
        QTest::addColumn<QByteArray>("response");
        QTest::addColumn<QString>("message");
        QTest::newRow("500 error chain (v47+)") << withBody(500, R"(["Error from API","The VM could not boot","Error loading kernel"])")
                                                << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 500 Internal Server Error): "
                                                                  "Error from API: The VM could not boot: Error loading kernel");
        QTest::newRow("400 config validation (v53)") << withBody(400, R"(["Error from API","The VM could not be created","Invalid vCPU count"])")
                                                     << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 400 Bad Request): "
                                                                       "Error from API: The VM could not be created: Invalid vCPU count");
        QTest::newRow("404 unknown endpoint") << withBody(404, R"(["Not Found"])")
                                              << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 404 Not Found): Not Found");
        QTest::newRow("404 empty body") << withBody(404, QByteArray())
                                        << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 404 Not Found): unknown endpoint, or no VM created yet");
        QTest::newRow("400 wrong method, no body") << withBody(400, QByteArray()) << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 400 Bad Request)");
        QTest::newRow("500 plain text (v46 and older)")
            << withBody(500, "VmBoot(KernelLoad(...))\n")
            << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 500 Internal Server Error): VmBoot(KernelLoad(...))");
        QTest::newRow("429 resize pending") << withBody(429, R"(["Too Many Requests"])")
                                            << QStringLiteral("cloud-hypervisor rejected vm.boot (HTTP 429 Too Many Requests): Too Many Requests");
    }

    void errorResponses()
    {
        QFETCH(QByteArray, response);
        QFETCH(QString, message);
        m_server->queue(FakeMicroHttp::answer(response));
        const auto r = await(m_client->bootVm());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmApi);
        QCOMPARE(r.error().message, message);
        // An error answer leaves the connection usable.
        QVERIFY(await(m_client->bootVm()).hasValue());
        QCOMPARE(m_server->connections, 1);
    }

    void serverClosedBetweenRequests()
    {
        FakeMicroHttp::Reply closing;
        closing.closeAfter = true;
        m_server->queue(closing);
        QVERIFY(await(m_client->pauseVm()).hasValue());
        QTest::qWait(20);
        const auto second = await(m_client->resumeVm());
        QVERIFY2(second.hasValue(), qPrintable(why(second)));
        QCOMPARE(m_server->connections, 2);
        QCOMPARE(m_server->requests.size(), 2);
    }

    // The server drops a reused connection as the request arrives: the call
    // goes again, once, on a new connection.
    void reusedConnectionClosedBeforeAnswerIsRetried()
    {
        m_server->queue(FakeMicroHttp::Reply());
        FakeMicroHttp::Reply drop;
        drop.closeInsteadOfAnswer = true;
        m_server->queue(drop);
        QVERIFY(await(m_client->pauseVm()).hasValue());
        const auto r = await(m_client->resumeVm());
        QVERIFY2(r.hasValue(), qPrintable(why(r)));
        QCOMPARE(m_server->connections, 2);
        QCOMPARE(m_server->requests.size(), 3);
        QCOMPARE(m_server->requests.at(2).target, QByteArray("/api/v1/vm.resume"));
    }

    void freshConnectionClosedBeforeAnswerFails()
    {
        FakeMicroHttp::Reply drop;
        drop.closeInsteadOfAnswer = true;
        m_server->queue(drop);
        const auto r = await(m_client->bootVm());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(r.error().message.contains(QLatin1String("closed the API connection before answering vm.boot")), qPrintable(r.error().message));
        QCOMPARE(m_server->requests.size(), 1);
    }

    void closedInTheMiddleOfAnAnswer()
    {
        FakeMicroHttp::Reply partial;
        partial.bytes = withBody(200, R"({"state":"Running"})");
        partial.bytes.chop(5);
        partial.closeAfter = true;
        m_server->queue(partial);
        const auto r = await(m_client->vmInfo());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Protocol);
    }

    void responseSplitAcrossWrites_data()
    {
        QTest::addColumn<QByteArray>("response");
        QTest::addColumn<QList<int>>("chunks");
        const QByteArray json = withBody(200, R"({"config":{"cpus":{"boot_vcpus":2}},"state":"Running","memory_actual_size":268435456})");
        QTest::newRow("byte by byte") << json << QList<int>(json.size(), 1);
        QTest::newRow("inside status line") << json << QList<int>{6, 3};
        const int headerEnd = int(json.indexOf("\r\n\r\n"));
        QTest::newRow("header / CRLF / body") << json << QList<int>{headerEnd + 2, 2, 10};
        QTest::newRow("204 in pieces") << noContent() << QList<int>{10, 30, 5};
    }

    void responseSplitAcrossWrites()
    {
        QFETCH(QByteArray, response);
        QFETCH(QList<int>, chunks);
        FakeMicroHttp::Reply split;
        split.bytes = response;
        split.chunks = chunks;
        split.chunkDelayMs = 1;
        m_server->queue(split);
        const auto body = await(m_client->request(ChApiClient::Method::Get, ChEndpoint::VmInfo), 20000);
        QVERIFY2(body.hasValue(), qPrintable(why(body)));
        const qsizetype headerEnd = response.indexOf("\r\n\r\n");
        QCOMPARE(*body, response.mid(headerEnd + 4));
        // Framing stays in step: the next call on the same connection works.
        QVERIFY(await(m_client->pauseVm()).hasValue());
        QCOMPARE(m_server->connections, 1);
    }

    void serverNeverAnswers()
    {
        FakeMicroHttp::Reply never;
        never.never = true;
        m_server->queue(never);
        m_client->setDefaultTimeoutMs(200);
        QElapsedTimer t;
        t.start();
        const auto r = await(m_client->pauseVm());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Timeout);
        QVERIFY2(r.error().message.contains(QLatin1String("did not answer vm.pause within 200 ms")), qPrintable(r.error().message));
        QVERIFY(t.elapsed() >= 190);
        QVERIFY(t.elapsed() < 3000);
        // The stalled connection is dropped; the next call gets a new one.
        QVERIFY(await(m_client->resumeVm()).hasValue());
        QCOMPARE(m_server->connections, 2);
    }

    void timeoutDoesNotBlockQueuedCalls()
    {
        FakeMicroHttp::Reply never;
        never.never = true;
        m_server->queue(never);
        auto stalled = m_client->request(ChApiClient::Method::Put, ChEndpoint::VmSnapshot, "{}", 150);
        auto next = m_client->resumeVm();
        QCOMPARE(await(stalled).error().code, Core::ErrorCode::Timeout);
        QVERIFY(await(next).hasValue());
    }

    // A NIC's tap goes with vm.add-net and vm.restore as SCM_RIGHTS; the
    // caller keeps its descriptor, the client closes its own copies.
    void descriptorsGoWithTheirRequest()
    {
        const QString path = m_dir.filePath(QStringLiteral("scm.sock"));
        ScmRightsServer server(path);
        QVERIFY(server.isListening());
        ChApiClient client(path);
        // A file stands for the tap: what matters is that the same open file arrives.
        const int tap = ::open(QFile::encodeName(m_dir.filePath(QStringLiteral("tap"))).constData(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        QVERIFY(tap >= 0);
        VmSpec spec = specIn(m_dir.path());
        spec.nic = NicSpec{tap, QStringLiteral("0a:1b:2c:3d:4e:5f")};
        const QJsonObject net = ChVmConfig::vmAddNet(spec).valueOr({});
        const auto added = await(client.addNet(net, tap));
        QVERIFY2(added.hasValue(), qPrintable(why(added)));
        const auto restored = await(client.restoreVm(ChVmConfig::vmRestore(QStringLiteral("/s"), false, true).valueOr({}), 5000, {tap}));
        QVERIFY2(restored.hasValue(), qPrintable(why(restored)));
        const auto plain = await(client.resumeVm()); // and none with a call that has none
        QVERIFY2(plain.hasValue(), qPrintable(why(plain)));

        QCOMPARE(server.requests.size(), 3);
        const auto &add = server.requests.at(0);
        QVERIFY(add.bytes.startsWith("PUT /api/v1/vm.add-net HTTP/1.1\r\n"));
        QCOMPARE(QJsonDocument::fromJson(add.bytes.mid(add.bytes.indexOf("\r\n\r\n") + 4)).object(), net);
        QCOMPARE(add.fds.size(), 1);
        QVERIFY(sameFile(add.fds.first(), tap));
        const auto &restore = server.requests.at(1);
        QVERIFY(restore.bytes.startsWith("PUT /api/v1/vm.restore HTTP/1.1\r\n"));
        QVERIFY(restore.bytes.contains(R"("net_fds":[{"id":"net0","num_fds":1}])"));
        QCOMPARE(restore.fds.size(), 1);
        QVERIFY(sameFile(restore.fds.first(), tap));
        QVERIFY(server.requests.at(2).fds.isEmpty());
        // The caller's, and the two the server received: the client keeps
        // none of its copies.
        QCOMPARE(copiesOf(tap), 3);
        ::close(tap);
    }

    // A descriptor that is not open fails the call before anything is sent.
    void aClosedDescriptorFailsTheCall()
    {
        const auto r = await(m_client->addNet(QJsonObject{{QStringLiteral("id"), QStringLiteral("net0")}}, 100000));
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        QTest::qWait(20);
        QCOMPARE(m_server->requests.size(), 0);
    }

    void requestBodyLimit()
    {
        const QByteArray atLimit(ChApiClient::kMaxRequestBodyBytes, ' ');
        QVERIFY(await(m_client->request(ChApiClient::Method::Put, ChEndpoint::VmCreate, atLimit)).hasValue());
        QCOMPARE(m_server->requests.size(), 1);
        QCOMPARE(m_server->requests.first().body.size(), ChApiClient::kMaxRequestBodyBytes);

        const QByteArray tooBig(ChApiClient::kMaxRequestBodyBytes + 1, ' ');
        const auto r = await(m_client->request(ChApiClient::Method::Put, ChEndpoint::VmCreate, tooBig));
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(r.error().message.contains(QLatin1String("at most 51200")), qPrintable(r.error().message));
        QTest::qWait(20);
        QCOMPARE(m_server->requests.size(), 1); // never sent
    }

    void malformedAnswers_data()
    {
        QTest::addColumn<QByteArray>("response");
        QTest::newRow("not HTTP") << QByteArray("SSH-2.0-OpenSSH\r\n\r\n");
        QTest::newRow("chunked") << QByteArray("HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
        QTest::newRow("bad length") << QByteArray("HTTP/1.1 200 \r\nContent-Length: x\r\n\r\n");
    }

    void malformedAnswers()
    {
        QFETCH(QByteArray, response);
        m_server->queue(FakeMicroHttp::answer(response));
        const auto r = await(m_client->vmInfo());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Protocol);
        QVERIFY(await(m_client->pauseVm()).hasValue()); // a new connection works
    }

    void notJsonWhereJsonIsExpected()
    {
        m_server->queue(FakeMicroHttp::answer(withBody(200, "not json")));
        const auto r = await(m_client->vmInfo());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Protocol);
    }

    void noServer()
    {
        ChApiClient client(m_dir.filePath(QStringLiteral("nothing-here.sock")));
        const auto r = await(client.ping());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::VmmFailed);
        QVERIFY2(r.error().message.contains(QLatin1String("cannot connect")), qPrintable(r.error().message));
    }

    void abortFailsPendingCalls()
    {
        FakeMicroHttp::Reply never;
        never.never = true;
        m_server->queue(never);
        auto a = m_client->pauseVm();
        auto b = m_client->resumeVm();
        QTest::qWait(20);
        m_client->abort(Core::ErrorCode::Cancelled, QStringLiteral("test"));
        QCOMPARE(await(a).error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(await(b).error().code, Core::ErrorCode::Cancelled);
        QCOMPARE(m_client->pendingCount(), 0);
        QVERIFY(await(m_client->bootVm()).hasValue());
    }

    void destroyingTheClientCancelsCalls()
    {
        FakeMicroHttp::Reply never;
        never.never = true;
        m_server->queue(never);
        auto a = m_client->pauseVm();
        m_client.reset();
        QVERIFY(a.isFinished());
        QCOMPARE(a.result().error().code, Core::ErrorCode::Cancelled);
    }

    void errorMessageHelper()
    {
        QCOMPARE(chApiErrorMessage("vm.info", 418, "[]"), QStringLiteral("cloud-hypervisor rejected vm.info (HTTP 418)"));
        QCOMPARE(chApiErrorMessage("vm.info", 500, R"(["a", "", "b"])"),
                 QStringLiteral("cloud-hypervisor rejected vm.info (HTTP 500 Internal Server Error): a: b"));
    }

    // ChInstance without a runnable cloud-hypervisor: fails cleanly, leaves
    // no socket behind (not even stale ones from an earlier crash).
    void instanceStartWithoutBinary()
    {
        QTemporaryDir runtime;
        QVERIFY(runtime.isValid());
        const VmSpec spec = specIn(runtime.path());
        QVERIFY(QDir().mkpath(ChVmConfig::vmmDir(spec)));
        for (const QString &stale : {ChVmConfig::apiSocketPath(spec), ChVmConfig::vsockSocketPath(spec)}) {
            QFile f(stale);
            QVERIFY(f.open(QIODevice::WriteOnly));
        }
        ChInstance instance(spec, m_dir.filePath(QStringLiteral("no-such-dir/cloud-hypervisor")));
        const auto r = await(instance.start());
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::BinaryMissing);
        QVERIFY2(r.error().message.contains(QLatin1String("--driver qemu")), qPrintable(r.error().message));
        QCOMPARE(socketsIn(runtime.path()), QStringList());
        QCOMPARE(instance.pid(), 0);
        instance.kill();
        QVERIFY(await(instance.shutdown()).hasValue());
        QCOMPARE(instance.state(), VmmInstance::State::Stopped);
    }

    // The binary exists but cannot be executed: the API socket bound for it
    // is removed again.
    void instanceStartWithUnrunnableBinary()
    {
        QTemporaryDir runtime;
        QVERIFY(runtime.isValid());
        const QString junk = m_dir.filePath(QStringLiteral("junk-binary"));
        {
            QFile f(junk);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(QByteArray("\x7f"
                               "ELF not really",
                               15));
            f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        }
        VmSpec spec = specIn(runtime.path());
        QVERIFY(withReadableKernel(spec, runtime.path()));
        ChInstance instance(spec, junk);
        QSignalSpy unexpected(&instance, &VmmInstance::exitedUnexpectedly);
        const auto r = await(instance.start());
        QVERIFY(!r);
        QVERIFY2(r.error().code == Core::ErrorCode::BinaryMissing || r.error().code == Core::ErrorCode::VmmFailed, qPrintable(why(r)));
        QCOMPARE(instance.state(), VmmInstance::State::Failed);
        QCOMPARE(socketsIn(runtime.path()), QStringList());
        QCOMPARE(unexpected.count(), 0);
        QVERIFY(await(instance.shutdown()).hasValue());
        QCOMPARE(instance.state(), VmmInstance::State::Stopped);
    }

    // As root: cloud-hypervisor runs as the VM's own uid (out of the VMM
    // user's subordinate ids) with a clean environment and its API socket,
    // seccomp stated; its directory is that user's. A stand-in binary
    // reports this and exits.
    void instanceRunsAsTheVmmUser()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to run the VMM as its user");
        const auto base = vmmCredentials();
        QVERIFY(base && *base);
        QTemporaryDir bin; // the VMM user must reach the binary
        QVERIFY(QFile::setPermissions(bin.path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadOther | QFile::ExeOther));
        const QString binary = bin.filePath(QStringLiteral("cloud-hypervisor"));
        {
            QFile f(binary);
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write("#!/bin/sh\necho \"uid=$(id -u) args=$*\"\nenv | grep -c -e HOME= -e MVS_ -e XDG_ | sed 's/^/leaked=/'\nexit 3\n");
            f.setPermissions(QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadOther | QFile::ExeOther);
        }
        qputenv("MVS_TOKEN", "secret");
        QTemporaryDir runtime;
        VmSpec spec = specIn(runtime.path());
        QVERIFY(withReadableKernel(spec, runtime.path()));
        ChInstance instance(spec, binary);
        const auto r = await(instance.start());
        qunsetenv("MVS_TOKEN");
        QVERIFY(!r);
        QVERIFY2(r.error().code == Core::ErrorCode::VmmFailed, qPrintable(r.error().message));
        const auto creds = vmmCredentialsFor(spec.name);
        QVERIFY(creds && *creds);
        const QString expected = QStringLiteral("uid=%1 args=--api-socket fd=").arg((*creds)->uid);
        QVERIFY2(r.error().message.contains(expected), qPrintable(r.error().message));
        QVERIFY2(r.error().message.contains(QLatin1String(" --seccomp true | leaked=0")), qPrintable(r.error().message));
        QFileInfo vmmDir(ChVmConfig::vmmDir(spec));
        QCOMPARE(vmmDir.ownerId(), (*creds)->uid);
        QCOMPARE(socketsIn(runtime.path()), QStringList());
        // The VM's own uid out of the VMM user's range (the same again for its name), not the VMM user's.
        const auto own = vmmCredentialsFor(spec.name);
        QVERIFY2(own && *own, own ? "no credentials" : qPrintable(own.error().message));
        QCOMPARE((*own)->uid, (*creds)->uid);
        QVERIFY((*own)->uid != (*base)->uid);
    }

    void instanceBasics()
    {
        QTemporaryDir runtime;
        VmSpec spec = specIn(runtime.path());
        spec.agentVsockPort = 7000;
        ChInstance instance(spec, QString());
        QCOMPARE(instance.driverName(), QStringLiteral("cloud-hypervisor"));
        QCOMPARE(instance.binary(), QStringLiteral("cloud-hypervisor"));
        QVERIFY(instance.accelerated());
        QCOMPARE(instance.state(), VmmInstance::State::NotStarted);
        QCOMPARE(instance.agentEndpoint().socketPath, runtime.filePath(QStringLiteral("vmm/vsock.sock")));
        QCOMPARE(instance.agentEndpoint().vsockPort, 7000u);
        QCOMPARE(await(instance.pause()).error().code, Core::ErrorCode::InvalidState);
        QCOMPARE(await(instance.resume()).error().code, Core::ErrorCode::InvalidState);
        QCOMPARE(await(instance.snapshot(runtime.path())).error().code, Core::ErrorCode::InvalidState);

        spec.vcpus = 0;
        ChInstance invalid(spec, QString());
        QCOMPARE(await(invalid.start()).error().code, Core::ErrorCode::InvalidArgument);
        spec.vcpus = 1;
        spec.runtimeDir = runtime.filePath(QStringLiteral("missing"));
        ChInstance noDir(spec, QString());
        QCOMPARE(await(noDir.start()).error().code, Core::ErrorCode::InvalidArgument);
        ChInstance noSnapshot(specIn(runtime.path()), QString());
        QCOMPARE(await(noSnapshot.startFromSnapshot(runtime.filePath(QStringLiteral("nosnap")))).error().code, Core::ErrorCode::NotFound);
    }

    void driver()
    {
        const QByteArray savedPath = qgetenv("PATH");
        qputenv("PATH", QFile::encodeName(m_dir.path()));
        const Core::Result onPath = ChDriver().checkAvailable();
        qputenv("PATH", savedPath);
        QVERIFY(!onPath);
        QCOMPARE(onPath.error().code, Core::ErrorCode::BinaryMissing);
        QCOMPARE(onPath.error().message,
                 QStringLiteral("cloud-hypervisor binary not found on PATH; install it or set the binary in the config, or use --driver qemu"));

        const Core::Result configured = ChDriver(m_dir.filePath(QStringLiteral("ch"))).checkAvailable();
        QCOMPARE(configured.error().code, Core::ErrorCode::BinaryMissing);
        QVERIFY(configured.error().message.contains(m_dir.filePath(QStringLiteral("ch"))));

        ChDriver driver(QStringLiteral("/bin/sh")); // present: the outcome is KVM's
        QCOMPARE(driver.kind(), DriverKind::CloudHypervisor);
        QCOMPARE(driver.name(), QStringLiteral("cloud-hypervisor"));
        const Core::Result available = driver.checkAvailable();
        // As root, KVM counts when the VMM user may open /dev/kvm.
        const KvmStatus kvm = kvmStatusFor(kvmStatus(), vmmCredentials().valueOr(std::nullopt));
        if (kvm.usable) {
            QVERIFY(available.hasValue());
        } else {
            QCOMPARE(available.error().code, Core::ErrorCode::KvmUnavailable);
            QVERIFY2(available.error().message.startsWith(QLatin1String("cloud-hypervisor needs a usable /dev/kvm (")), qPrintable(available.error().message));
            QVERIFY(available.error().message.endsWith(QLatin1String("; use --driver qemu for software emulation")));
        }
        QTemporaryDir runtime;
        const std::unique_ptr<VmmInstance> instance = driver.createInstance(specIn(runtime.path()));
        QVERIFY(qobject_cast<ChInstance *>(instance.get()));
        QCOMPARE(instance->driverName(), QStringLiteral("cloud-hypervisor"));
    }
};

QTEST_GUILESS_MAIN(TestChApiClient)
#include "tst_chapiclient.moc"
