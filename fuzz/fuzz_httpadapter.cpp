// The service's HTTP face (Server::HttpAdapter, with its ConnectionGuard and
// Qt HttpServer's parser) against a hostile client. The adapter serves a
// StubController (a test double: fixed small answers, one route of every
// kind the service has, recording what reached it) on 127.0.0.1:0; each
// input is raw bytes a client QTcpSocket writes in a few pieces, then the
// event loop runs until the adapter stops answering or closes, and the
// client closes.
// Input: byte 0 = the count of split points (mod 4), then that many
// little-endian u16 offsets, then the bytes written.
// Properties: a handler behind a credential never runs for a request without
// a valid one (and never at all when the input does not hold the token); a
// request without a credential never brings a body over
// HttpAdapter::kMaxUnauthenticatedBody to a handler; what the client reads
// is a series of whole HTTP/1.1 answers; once the client is gone the
// adapter's connection count returns to zero within kCloseMs; no crash,
// leak or undefined behaviour.

#include "fuzz/fuzzcheck.h"
#include "fuzz/localpeer.h"

#include "server/httpadapter.h"
#include "server/httpendpoints.h"

#include <QBuffer>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonObject>
#include <QNetworkRequest>
#include <QTcpSocket>
#include <QWebSocket>

#include <algorithm>
#include <memory>
#include <vector>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace {

using namespace Server;
using Fuzz::LocalPeer;

const QByteArray kToken = QByteArrayLiteral("fuzz-token");
constexpr int kHeadTimeoutMs = 200; // the guard's, shortened as tst_connectionguard does
constexpr int kIdleTimeoutMs = 400;
constexpr qint64 kMaxBody = 64 * 1024; // JSON and file bodies with a credential
constexpr int kQuietMs = 15; // no answer byte for this long: the adapter is done
constexpr int kAnswerMs = 1000; // at most, from the last piece written
constexpr int kCloseMs = 2 * kIdleTimeoutMs + 500; // the client gone, until the adapter forgot it
constexpr int kMaxPieces = 3;

// "Authorization: Bearer <token>" as RequestAuth::bearer reads it.
bool bearer(const QByteArray &value)
{
    const QByteArray v = value.trimmed();
    return v.size() > 7 && v.left(7).toLower() == "bearer " && v.mid(7).trimmed() == kToken;
}

// The test double behind the adapter: every route answers a small fixed
// body at once (an upload once its body was read), after checking who got
// through.
class StubController {
public:
    bool inputHoldsToken = false; // of the current input

    explicit StubController(Router &router)
    {
        router.add("GET", QStringLiteral("/api/v1/health"), anyone([](const Request &) { return json(); }), {.needsAuth = false});
        router.add("POST", QStringLiteral("/api/v1/echo"), anyone([](const Request &) { return json(); }), {.needsAuth = false});
        router.add("GET", QStringLiteral("/api/v1/vms/{name}"), guarded([](const Request &) { return json(); }));
        router.add("POST", QStringLiteral("/api/v1/vms"), guarded([](const Request &) { return json(true); }));
        router.add("DELETE", QStringLiteral("/api/v1/vms/{name}"), guarded([](const Request &) { return finished(Response::empty()); }));
        router.add("GET", QStringLiteral("/api/v1/vms/{name}/missing"),
                   guarded([](const Request &) { return finished(ApiError(ApiError::Code::NotFound, QStringLiteral("no such thing"))); }));
        router.add("GET", QStringLiteral("/api/v1/vms/{name}/files/{*path}"), guarded([](const Request &) {
                       auto body = std::make_shared<QBuffer>();
                       body->setData(QByteArray(300, 'f'));
                       body->open(QIODevice::ReadOnly);
                       return finished(Response::ofStream(body, 300, QByteArrayLiteral("application/octet-stream")));
                   }));
        router.add("PUT", QStringLiteral("/api/v1/vms/{name}/files/{*path}"), guarded(&StubController::upload), {.body = RouteFlags::Body::File});
        router.add("GET", QStringLiteral("/vnc/{name}"), guarded([](const Request &) { return finished(Response::ofBytes("<html/>", "text/html")); }),
                   {.pageToken = true, .cookieOk = true});
        router.add("GET", QStringLiteral("/api/v1/vms/{name}/vnc"), {}, {.webSocket = RouteFlags::WebSocket::Vnc, .cookieOk = true});
    }

    // Upgraded WebSockets end here, closed at once.
    void webSocket(std::unique_ptr<QWebSocket> ws)
    {
        if (qEnvironmentVariableIsSet("MVS_FUZZ_TRACE"))
            std::fprintf(stderr, "WebSocket to %s\n", qPrintable(ws->requestUrl().toString()));
        const QString query = ws->requestUrl().query(QUrl::FullyDecoded);
        checkCredential(ws->request().rawHeader("Authorization"), query.contains(QString::fromLatin1(kToken)));
        ws->abort();
    }

private:
    static ApiFuture json(bool created = false) { return finished(Response::ofJson(QJsonObject{{QStringLiteral("ok"), true}}, created)); }

    // A handler anyone may reach: without a credential, a small body only.
    Handler anyone(Handler h)
    {
        return [h](const Request &r) {
            if (!bearer(r.headers.value("authorization")))
                MVS_FUZZ_CHECK(r.body.size() <= HttpAdapter::kMaxUnauthenticatedBody);
            return h(r);
        };
    }

    // A handler behind a credential: the bearer token or the page's ?token=
    // (a viewer session's cookie is random: no input holds a valid one).
    Handler guarded(Handler h)
    {
        return [this, h](const Request &r) {
            checkCredential(r.headers.value("authorization"),
                            r.query.queryItemValue(QStringLiteral("token"), QUrl::FullyDecoded) == QString::fromLatin1(kToken));
            MVS_FUZZ_CHECK(r.body.size() <= kMaxBody);
            return h(r);
        };
    }
    Handler guarded(ApiFuture (StubController::*fn)(const Request &))
    {
        return guarded([this, fn](const Request &r) { return (this->*fn)(r); });
    }

    void checkCredential(const QByteArray &authorization, bool queryToken) const
    {
        MVS_FUZZ_CHECK(inputHoldsToken);
        MVS_FUZZ_CHECK(bearer(authorization) || queryToken);
    }

    // The streamed body (a declared length), read as it comes and answered
    // once whole; a chunked one comes buffered.
    ApiFuture upload(const Request &r)
    {
        if (!r.bodyStream)
            return finished(Response::ofJson(QJsonObject{{QStringLiteral("bytes"), r.body.size()}}));
        MVS_FUZZ_CHECK(r.bodyStreamSize <= kMaxBody);
        ApiPromise answer;
        auto read = std::make_shared<qint64>(0);
        QIODevice *body = r.bodyStream.get();
        const qint64 size = r.bodyStreamSize;
        auto drain = [answer, read, body, size]() mutable {
            *read += body->skip(body->bytesAvailable());
            MVS_FUZZ_CHECK(*read <= size);
            if (*read == size)
                answer.resolve(Response::ofJson(QJsonObject{{QStringLiteral("bytes"), size}}));
            else if (body->atEnd()) // the client left early: fail, as the guest's upload does
                answer.resolve(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("the body ended after %1 of %2 bytes").arg(*read).arg(size)));
        };
        QObject::connect(body, &QIODevice::readyRead, body, drain);
        drain();
        return answer.future();
    }
};

// One adapter, its stub and an application for the whole run.
struct Service {
    QCoreApplication &app = LocalPeer::application();
    Router router;
    Metrics metrics;
    StubController stub{router};
    std::unique_ptr<HttpAdapter> adapter;
    quint16 port = 0;

    Service()
    {
        HttpAdapter::Options o;
        o.token = kToken;
        o.maxJsonBody = kMaxBody;
        o.maxFileBody = kMaxBody;
        o.connections.headTimeoutMs = kHeadTimeoutMs;
        o.connections.idleTimeoutMs = kIdleTimeoutMs;
        auto webSocket = [this](std::unique_ptr<QWebSocket> ws, const Route &, const QHash<QString, QString> &, QObject *) { stub.webSocket(std::move(ws)); };
        adapter = std::make_unique<HttpAdapter>(HttpEndpoints{router, metrics, webSocket}, o);
        const auto listening = adapter->listen(QHostAddress::LocalHost, 0);
        MVS_FUZZ_CHECK(listening.hasValue());
        port = *listening;
    }

    static Service &instance()
    {
        static Service s;
        return s;
    }
};

// Byte 0 and the split points; the rest is what the client writes.
std::vector<QByteArray> pieces(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return {};
    const std::size_t splits = std::min<std::size_t>(data[0] % (kMaxPieces + 1), (size - 1) / 2);
    const std::size_t start = 1 + 2 * splits;
    const QByteArray bytes(reinterpret_cast<const char *>(data + start), qsizetype(size - start));
    std::vector<qsizetype> at;
    for (std::size_t i = 0; i < splits; ++i)
        at.push_back(qsizetype(data[1 + 2 * i] | (data[2 + 2 * i] << 8)) % (bytes.size() + 1));
    std::sort(at.begin(), at.end());
    std::vector<QByteArray> out;
    qsizetype from = 0;
    for (const qsizetype to : at) {
        out.push_back(bytes.mid(from, to - from));
        from = to;
    }
    out.push_back(bytes.mid(from));
    return out;
}

// Whole HTTP/1.1 answers, one after the other: a status line, header lines
// and a body of Content-Length bytes (none for 1xx, 204 and 304).
bool wholeAnswers(const QByteArray &in)
{
    qsizetype pos = 0;
    while (pos < in.size()) {
        const qsizetype end = in.indexOf("\r\n\r\n", pos);
        if (end < 0)
            return false;
        QList<QByteArray> lines = in.mid(pos, end + 2 - pos).split('\n');
        lines.removeLast(); // after the last "\r\n"
        const QByteArray &statusLine = lines.first();
        bool numeric = false;
        const int status = statusLine.mid(9, 3).toInt(&numeric);
        if (!statusLine.startsWith("HTTP/1.1 ") || !numeric || status < 100 || status > 599 || statusLine.size() < 13
            || (statusLine.at(12) != ' ' && statusLine.at(12) != '\r'))
            return false;
        qint64 length = -1;
        for (const QByteArray &line : lines) {
            if (!line.endsWith('\r'))
                return false;
            const qsizetype colon = line.indexOf(':');
            if (&line != &statusLine && colon <= 0)
                return false;
            if (&line != &statusLine && line.left(colon).trimmed().toLower() == "content-length")
                length = line.mid(colon + 1).trimmed().toLongLong();
        }
        const bool bodiless = status < 200 || status == 204 || status == 304;
        if (!bodiless && length < 0)
            return false;
        pos = end + 4 + (bodiless ? 0 : length);
    }
    return pos == in.size();
}

// The adapter's small answers in a row would otherwise wait for this
// client's delayed ACK (Nagle on the server's side: 40 ms and more on
// Linux); quick-ACK mode lapses by itself, so it is set again after reads.
void quickAck(QTcpSocket &client)
{
    const int on = 1;
    ::setsockopt(int(client.socketDescriptor()), IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
}

// Writes the pieces, letting the adapter read each, then waits until it
// stopped answering (or closed). Returns what the client read.
QByteArray converse(QTcpSocket &client, const std::vector<QByteArray> &input)
{
    QByteArray answers;
    auto readSome = [&]() {
        const QByteArray more = client.readAll();
        quickAck(client);
        answers += more;
        return !more.isEmpty();
    };
    for (const QByteArray &piece : input) {
        if (client.state() != QAbstractSocket::ConnectedState)
            break;
        client.write(piece);
        LocalPeer::pumpUntil([&]() { return client.bytesToWrite() == 0 || client.state() != QAbstractSocket::ConnectedState; }, kAnswerMs);
        for (int i = 0; i < 3; ++i)
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 1);
        readSome();
    }
    QElapsedTimer quiet;
    quiet.start();
    LocalPeer::pumpUntil(
        [&]() {
            if (readSome())
                quiet.restart();
            return client.state() != QAbstractSocket::ConnectedState || quiet.hasExpired(kQuietMs);
        },
        kAnswerMs);
    readSome();
    return answers;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    Service &service = Service::instance();
    const std::vector<QByteArray> input = pieces(data, size);
    QByteArray all;
    for (const QByteArray &p : input)
        all += p;
    service.stub.inputHoldsToken = all.contains(kToken);

    QTcpSocket client;
    client.connectToHost(QHostAddress::LocalHost, service.port);
    MVS_FUZZ_CHECK(
        LocalPeer::pumpUntil([&]() { return client.state() == QAbstractSocket::ConnectedState && service.adapter->connectionCount() == 1; }, kAnswerMs));
    const QByteArray answers = converse(client, input);
    // MVS_FUZZ_TRACE=1 shows what the client read (reproducing an input).
    static const bool trace = qEnvironmentVariableIsSet("MVS_FUZZ_TRACE");
    if (trace || !wholeAnswers(answers))
        std::fprintf(stderr, "answers (%lld bytes):\n%s\n", qlonglong(answers.size()), answers.left(4000).constData());
    MVS_FUZZ_CHECK(wholeAnswers(answers));
    client.abort();
    // Outside exec(), deleteLater() needs a push (the HTTP server deletes a
    // socket that way once it is disconnected).
    MVS_FUZZ_CHECK(LocalPeer::pumpUntil(
        [&]() {
            QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
            return service.adapter->connectionCount() == 0;
        },
        kCloseMs));
    return 0;
}
