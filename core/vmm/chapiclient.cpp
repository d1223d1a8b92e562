#include "core/vmm/chapiclient.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QLocalSocket>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace Vmm {

namespace {

constexpr char kApiRoot[] = "/api/v1/";
// micro_http writes no reason phrase ("HTTP/1.1 500 \r\n"); these are for people.
constexpr int kMaxErrorDetailChars = 2000;

QLatin1String reasonPhrase(int status)
{
    switch (status) {
    case 400: return QLatin1String("Bad Request");
    case 401: return QLatin1String("Unauthorized");
    case 404: return QLatin1String("Not Found");
    case 405: return QLatin1String("Method Not Allowed");
    case 409: return QLatin1String("Conflict");
    case 413: return QLatin1String("Payload Too Large");
    case 429: return QLatin1String("Too Many Requests");
    case 500: return QLatin1String("Internal Server Error");
    case 501: return QLatin1String("Not Implemented");
    case 503: return QLatin1String("Service Unavailable");
    default: return QLatin1String();
    }
}

QString endpointName(const QByteArray &endpoint)
{
    return QString::fromLatin1(endpoint);
}

Core::Error protocolError(const QString &message)
{
    return Core::Error(Core::ErrorCode::Protocol, message);
}

// The status code of "HTTP/1.x NNN [reason]".
Core::Expected<int> parseStatusLine(const QByteArray &line)
{
    const QByteArray statusLine = line.trimmed();
    const QList<QByteArray> statusParts = statusLine.split(' ');
    bool ok = false;
    const int status = statusParts.value(1).toInt(&ok);
    if (!statusLine.startsWith("HTTP/1.") || !ok || status < 100 || status > 599)
        return protocolError(QStringLiteral("cloud-hypervisor sent a malformed HTTP status line: %1").arg(QString::fromLatin1(statusLine.left(80))));
    return status;
}

// What the header lines say about where the answer ends.
struct Framing {
    qint64 contentLength = -1; // -1: none given
    bool close = false; // Connection: close
};

Core::Expected<Framing> parseFraming(const QList<QByteArray> &lines)
{
    Framing framing;
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QByteArray &line = lines.at(i);
        const qsizetype colon = line.indexOf(':');
        if (colon <= 0)
            continue;
        const QByteArray name = line.left(colon).trimmed().toLower();
        const QByteArray value = line.mid(colon + 1).trimmed();
        if (name == "content-length") {
            bool ok = false;
            framing.contentLength = value.toLongLong(&ok);
            if (!ok || framing.contentLength < 0)
                return protocolError(QStringLiteral("cloud-hypervisor sent a bad Content-Length: %1").arg(QString::fromLatin1(value.left(40))));
        } else if (name == "transfer-encoding" && value.toLower() != "identity") {
            return protocolError(QStringLiteral("cloud-hypervisor sent an unsupported Transfer-Encoding: %1").arg(QString::fromLatin1(value.left(40))));
        } else if (name == "connection" && value.toLower() == "close") {
            framing.close = true;
        }
    }
    return framing;
}

} // namespace

QString chApiErrorMessage(const QByteArray &endpoint, int status, const QByteArray &body)
{
    QString detail;
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(body, &parseError);
    if (parseError.error == QJsonParseError::NoError && doc.isArray()) {
        // v47+: the error chain, outermost first.
        QStringList parts;
        const QJsonArray chain = doc.array();
        for (const QJsonValue &v : chain) {
            const QString part = v.isString() ? v.toString().trimmed() : QString::fromUtf8(QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact));
            if (!part.isEmpty())
                parts.append(part);
        }
        detail = parts.join(QStringLiteral(": "));
    } else if (parseError.error == QJsonParseError::NoError && doc.isObject()) {
        detail = QString::fromUtf8(doc.toJson(QJsonDocument::Compact));
    } else {
        detail = QString::fromUtf8(body).simplified(); // v46 and older: plain text
    }
    if (detail.size() > kMaxErrorDetailChars)
        detail = detail.left(kMaxErrorDetailChars) + QStringLiteral("...");
    if (detail.isEmpty() && status == 404)
        detail = QStringLiteral("unknown endpoint, or no VM created yet");

    const QLatin1String reason = reasonPhrase(status);
    QString message = QStringLiteral("cloud-hypervisor rejected %1 (HTTP %2").arg(endpointName(endpoint)).arg(status);
    if (!reason.isEmpty())
        message += QLatin1Char(' ') + reason;
    message += QLatin1Char(')');
    if (!detail.isEmpty())
        message += QStringLiteral(": ") + detail;
    return message;
}

ChApiClient::ChApiClient(QString socketPath, QObject *parent)
    : QObject(parent)
    , m_socketPath(std::move(socketPath))
{
    m_timer.setSingleShot(true);
    connect(&m_timer, &QTimer::timeout, this, &ChApiClient::onTimeout);
}

ChApiClient::~ChApiClient()
{
    abort(Core::ErrorCode::Cancelled, QStringLiteral("the cloud-hypervisor API client was closed"));
}

int ChApiClient::pendingCount() const
{
    return int(m_queue.size()) + (m_current ? 1 : 0);
}

ChApiClient::FdCopies::~FdCopies()
{
    for (int fd : std::as_const(fds))
        ::close(fd);
}

Core::Future<QByteArray> ChApiClient::request(Method method, const char *endpoint, const QByteArray &jsonBody, int timeoutMs, const QList<int> &fds)
{
    Call call;
    call.method = method;
    call.endpoint = QByteArray(endpoint);
    call.body = jsonBody;
    call.timeoutMs = timeoutMs < 0 ? m_defaultTimeoutMs : timeoutMs;
    if (!fds.isEmpty()) {
        call.fds = std::make_shared<FdCopies>();
        for (int fd : fds) {
            const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (copy < 0) {
                call.promise.fail(Core::ErrorCode::InvalidArgument,
                                  QStringLiteral("%1: descriptor %2 to pass: %3").arg(endpointName(call.endpoint)).arg(fd).arg(qt_error_string(errno)));
                return call.promise.future();
            }
            call.fds->fds << copy;
        }
    }
    if (jsonBody.size() > kMaxRequestBodyBytes) {
        call.promise.fail(Core::ErrorCode::InvalidArgument,
                          QStringLiteral("the %1 request body is %2 bytes; cloud-hypervisor's API server accepts at most %3")
                              .arg(endpointName(call.endpoint))
                              .arg(jsonBody.size())
                              .arg(kMaxRequestBodyBytes));
        return call.promise.future();
    }
    Core::Future<QByteArray> future = call.promise.future();
    m_queue.push_back(std::move(call));
    pump();
    return future;
}

Core::Future<void> ChApiClient::voidCall(Method method, const char *endpoint, const QByteArray &body, int timeoutMs, const QList<int> &fds)
{
    return request(method, endpoint, body, timeoutMs, fds).then([](const Core::Expected<QByteArray> &r) -> Core::Result {
        if (!r)
            return r.error();
        return {};
    });
}

Core::Future<QJsonObject> ChApiClient::objectCall(const char *endpoint, int timeoutMs)
{
    const QByteArray name(endpoint);
    return request(Method::Get, endpoint, {}, timeoutMs).then([name](const Core::Expected<QByteArray> &r) -> Core::Expected<QJsonObject> {
        if (!r)
            return r.error();
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(*r, &parseError);
        if (parseError.error != QJsonParseError::NoError || !doc.isObject())
            return Core::Error(Core::ErrorCode::Protocol,
                               QStringLiteral("cloud-hypervisor answered %1 with something other than a JSON object").arg(endpointName(name)));
        return doc.object();
    });
}

Core::Future<QJsonObject> ChApiClient::ping(int timeoutMs)
{
    return objectCall(ChEndpoint::VmmPing, timeoutMs);
}

Core::Future<void> ChApiClient::shutdownVmm(int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmmShutdown, {}, timeoutMs);
}

Core::Future<void> ChApiClient::createVm(const QJsonObject &config, int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmCreate, QJsonDocument(config).toJson(QJsonDocument::Compact), timeoutMs);
}

Core::Future<void> ChApiClient::bootVm(int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmBoot, {}, timeoutMs);
}

Core::Future<void> ChApiClient::shutdownVm(int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmShutdown, {}, timeoutMs);
}

Core::Future<void> ChApiClient::pauseVm(int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmPause, {}, timeoutMs);
}

Core::Future<void> ChApiClient::resumeVm(int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmResume, {}, timeoutMs);
}

Core::Future<void> ChApiClient::deleteVm(int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmDelete, {}, timeoutMs);
}

Core::Future<QJsonObject> ChApiClient::vmInfo(int timeoutMs)
{
    return objectCall(ChEndpoint::VmInfo, timeoutMs);
}

Core::Future<QString> ChApiClient::vmState(int timeoutMs)
{
    return vmInfo(timeoutMs).then([](const Core::Expected<QJsonObject> &info) -> Core::Expected<QString> {
        if (!info)
            return info.error();
        const QString state = info->value(QStringLiteral("state")).toString();
        if (state.isEmpty())
            return Core::Error(Core::ErrorCode::Protocol, QStringLiteral("cloud-hypervisor's vm.info has no \"state\""));
        return state;
    });
}

Core::Future<QJsonObject> ChApiClient::vmCounters(int timeoutMs)
{
    return objectCall(ChEndpoint::VmCounters, timeoutMs);
}

Core::Future<void> ChApiClient::snapshotVm(const QJsonObject &body, int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmSnapshot, QJsonDocument(body).toJson(QJsonDocument::Compact), timeoutMs);
}

Core::Future<void> ChApiClient::restoreVm(const QJsonObject &body, int timeoutMs, const QList<int> &fds)
{
    return voidCall(Method::Put, ChEndpoint::VmRestore, QJsonDocument(body).toJson(QJsonDocument::Compact), timeoutMs, fds);
}

Core::Future<void> ChApiClient::addNet(const QJsonObject &netConfig, int tapFd, int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmAddNet, QJsonDocument(netConfig).toJson(QJsonDocument::Compact), timeoutMs, {tapFd});
}

Core::Future<void> ChApiClient::resizeVm(const QJsonObject &body, int timeoutMs)
{
    return voidCall(Method::Put, ChEndpoint::VmResize, QJsonDocument(body).toJson(QJsonDocument::Compact), timeoutMs);
}

void ChApiClient::abort(Core::ErrorCode code, const QString &reason)
{
    std::deque<Call> calls;
    if (m_current)
        calls.push_back(std::move(*m_current));
    m_current.reset();
    while (!m_queue.empty()) {
        calls.push_back(std::move(m_queue.front()));
        m_queue.pop_front();
    }
    m_timer.stop();
    dropConnection();
    // Continuations run from here; nothing of ours is touched afterwards.
    for (const Call &call : calls)
        call.promise.fail(code, QStringLiteral("%1: %2").arg(endpointName(call.endpoint), reason));
}

// Starts the next queued call when none is in flight.
void ChApiClient::pump()
{
    if (m_current || m_queue.empty())
        return;
    m_current = std::move(m_queue.front());
    m_queue.pop_front();
    m_timer.start(m_current->timeoutMs);
    if (m_link == Link::Up) {
        send();
        return;
    }
    dropConnection();
    m_socket = new QLocalSocket(this);
    connect(m_socket, &QLocalSocket::connected, this, &ChApiClient::onConnected);
    connect(m_socket, &QLocalSocket::errorOccurred, this, &ChApiClient::onSocketError);
    connect(m_socket, &QLocalSocket::disconnected, this, &ChApiClient::onDisconnected);
    connect(m_socket, &QLocalSocket::readyRead, this, &ChApiClient::onReadyRead);
    m_link = Link::Connecting;
    m_linkUsed = false;
    // May report connected() or errorOccurred() before returning.
    m_socket->connectToServer(m_socketPath, QIODevice::ReadWrite);
}

void ChApiClient::send()
{
    const Call &call = *m_current;
    QByteArray head = (call.method == Method::Get ? QByteArrayLiteral("GET ") : QByteArrayLiteral("PUT ")) + kApiRoot + call.endpoint
        + QByteArrayLiteral(" HTTP/1.1\r\n") + QByteArrayLiteral("Host: localhost\r\n") + QByteArrayLiteral("Accept: application/json\r\n");
    if (!call.body.isEmpty())
        head += QByteArrayLiteral("Content-Type: application/json\r\n");
    if (call.method == Method::Put || !call.body.isEmpty())
        head += QByteArrayLiteral("Content-Length: ") + QByteArray::number(call.body.size()) + QByteArrayLiteral("\r\n");
    head += QByteArrayLiteral("\r\n");
    m_currentOnReusedLink = m_linkUsed;
    m_buffer.clear();
    m_protocolError.clear();
    if (call.fds && !call.fds->fds.isEmpty()) {
        if (!sendWithFds(head + call.body, call.fds->fds)) {
            const QString why = qt_error_string(errno);
            dropConnection();
            failCurrent(Core::ErrorCode::VmmFailed,
                        QStringLiteral("%1: cannot pass descriptors to cloud-hypervisor: %2").arg(endpointName(call.endpoint), why));
        }
        return;
    }
    m_socket->write(head + call.body);
}

// The request's first bytes carry the descriptors (SCM_RIGHTS), written
// on the socket itself, past QLocalSocket's buffer, which holds nothing
// then: the previous call was answered, so its bytes were all sent. What
// sendmsg did not take goes through the buffer.
bool ChApiClient::sendWithFds(const QByteArray &bytes, const QList<int> &fds)
{
    m_socket->flush();
    if (m_socket->bytesToWrite() > 0) {
        errno = EAGAIN;
        return false;
    }
    const size_t fdBytes = sizeof(int) * size_t(fds.size());
    QByteArray control(qsizetype(CMSG_SPACE(fdBytes)), '\0');
    iovec iov{const_cast<char *>(bytes.constData()), size_t(bytes.size())};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = size_t(control.size());
    cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(fdBytes);
    std::memcpy(CMSG_DATA(cmsg), fds.constData(), fdBytes);
    ssize_t sent;
    do
        sent = ::sendmsg(int(m_socket->socketDescriptor()), &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return false;
    if (sent < bytes.size())
        m_socket->write(bytes.mid(sent));
    return true;
}

void ChApiClient::onConnected()
{
    m_link = Link::Up;
    if (m_current)
        send();
}

void ChApiClient::onSocketError()
{
    if (m_link == Link::Connecting) {
        const QString why = m_socket ? m_socket->errorString() : QString();
        dropConnection();
        failCurrent(Core::ErrorCode::VmmFailed, QStringLiteral("cannot connect to the cloud-hypervisor API socket %1: %2").arg(m_socketPath, why));
        return;
    }
    onDisconnected(); // an error on an open connection ends it
}

void ChApiClient::onDisconnected()
{
    if (m_link != Link::Up || !m_socket)
        return;
    // The answer may arrive together with the end of the stream.
    m_buffer += m_socket->readAll();
    const bool reused = m_currentOnReusedLink;
    dropConnection();
    if (!m_current) {
        m_buffer.clear();
        return; // the server closed an idle keep-alive connection: reconnect on the next call
    }
    if (auto response = parseResponse(true)) {
        m_buffer.clear();
        complete(*response);
        return;
    }
    if (!m_protocolError.isEmpty()) {
        failCurrent(Core::ErrorCode::Protocol, m_protocolError);
        return;
    }
    if (m_buffer.isEmpty() && reused && !m_current->retried) {
        // The server dropped the idle connection as we reused it: nothing of
        // the request was handled, so it goes again on a fresh connection.
        m_current->retried = true;
        m_queue.push_front(std::move(*m_current));
        m_current.reset();
        m_timer.stop();
        pump();
        return;
    }
    m_buffer.clear();
    failCurrent(Core::ErrorCode::VmmFailed,
                QStringLiteral("cloud-hypervisor closed the API connection before answering %1").arg(endpointName(m_current->endpoint)));
}

void ChApiClient::onReadyRead()
{
    if (!m_socket)
        return;
    m_buffer += m_socket->readAll();
    if (!m_current) {
        m_buffer.clear();
        dropConnection(); // bytes nobody asked for: the stream can't be trusted
        return;
    }
    const std::optional<Response> response = parseResponse(false);
    if (!m_protocolError.isEmpty()) {
        dropConnection();
        failCurrent(Core::ErrorCode::Protocol, m_protocolError);
        return;
    }
    if (response)
        complete(*response);
}

void ChApiClient::onTimeout()
{
    if (!m_current)
        return;
    dropConnection();
    failCurrent(Core::ErrorCode::Timeout,
                QStringLiteral("cloud-hypervisor did not answer %1 within %2 ms").arg(endpointName(m_current->endpoint)).arg(m_current->timeoutMs));
}

std::optional<ChApiClient::Response> ChApiClient::parseResponse(bool atEof)
{
    for (;;) {
        const qsizetype headerEnd = m_buffer.indexOf("\r\n\r\n");
        if (headerEnd < 0) {
            if (m_buffer.size() > kMaxResponseHeaderBytes)
                m_protocolError = QStringLiteral("cloud-hypervisor sent an HTTP header over %1 bytes").arg(kMaxResponseHeaderBytes);
            else if (atEof && !m_buffer.isEmpty())
                m_protocolError = QStringLiteral("cloud-hypervisor closed the API connection in the middle of an answer");
            return std::nullopt;
        }
        const QList<QByteArray> lines = m_buffer.left(headerEnd).split('\n');
        const auto status = parseStatusLine(lines.first());
        if (!status) {
            m_protocolError = status.error().message;
            return std::nullopt;
        }
        const qsizetype bodyStart = headerEnd + 4;
        if (*status >= 100 && *status < 200) { // 100 Continue: the real answer follows
            m_buffer.remove(0, bodyStart);
            continue;
        }
        auto framing = parseFraming(lines);
        if (!framing) {
            m_protocolError = framing.error().message;
            return std::nullopt;
        }
        return takeResponse(*status, bodyStart, framing->contentLength, framing->close, atEof);
    }
}

std::optional<ChApiClient::Response> ChApiClient::takeResponse(int status, qsizetype bodyStart, qint64 contentLength, bool close, bool atEof)
{
    qint64 bodyLength = 0;
    if (status == 204 || status == 304) {
        bodyLength = 0; // never a body, and micro_http sends no Content-Length
    } else if (contentLength >= 0) {
        bodyLength = contentLength;
    } else {
        // No framing at all (micro_http always frames): the body ends with the stream.
        close = true;
        if (!atEof) {
            if (m_buffer.size() - bodyStart > kMaxResponseBodyBytes)
                m_protocolError = QStringLiteral("cloud-hypervisor sent an answer over %1 bytes").arg(kMaxResponseBodyBytes);
            return std::nullopt;
        }
        bodyLength = m_buffer.size() - bodyStart;
    }
    if (bodyLength > kMaxResponseBodyBytes) {
        m_protocolError = QStringLiteral("cloud-hypervisor sent an answer over %1 bytes").arg(kMaxResponseBodyBytes);
        return std::nullopt;
    }
    if (m_buffer.size() - bodyStart < bodyLength) {
        if (atEof)
            m_protocolError = QStringLiteral("cloud-hypervisor closed the API connection in the middle of an answer");
        return std::nullopt;
    }
    Response response;
    response.status = status;
    response.body = m_buffer.mid(bodyStart, bodyLength);
    m_buffer.remove(0, bodyStart + bodyLength);
    response.close = close;
    return response;
}

void ChApiClient::complete(const Response &response)
{
    // Leftover bytes mean the stream is out of step with our calls.
    if (response.close || !m_buffer.isEmpty())
        dropConnection();
    else
        m_linkUsed = true;
    m_buffer.clear();
    Call call = std::move(*m_current);
    m_current.reset();
    m_timer.stop();
    QTimer::singleShot(0, this, &ChApiClient::pump);
    if (response.status >= 200 && response.status < 300)
        call.promise.resolve(response.body);
    else
        call.promise.fail(Core::ErrorCode::VmmApi, chApiErrorMessage(call.endpoint, response.status, response.body));
}

void ChApiClient::failCurrent(Core::ErrorCode code, const QString &message)
{
    if (!m_current)
        return;
    Call call = std::move(*m_current);
    m_current.reset();
    m_timer.stop();
    QTimer::singleShot(0, this, &ChApiClient::pump);
    call.promise.fail(code, message);
}

void ChApiClient::dropConnection()
{
    m_link = Link::Down;
    m_linkUsed = false;
    if (!m_socket)
        return;
    QLocalSocket *socket = m_socket;
    m_socket = nullptr;
    socket->disconnect(this);
    socket->abort();
    socket->deleteLater();
}

} // namespace Vmm
