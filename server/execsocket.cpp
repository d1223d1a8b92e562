#include "server/execsocket.h"

#include "core/agent/exechandle.h"
#include "server/guestcontroller.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QWebSocket>

namespace Server {
namespace {

constexpr quint16 kCloseNormal = 1000;
constexpr quint16 kClosePolicy = 1008; // QWebSocketProtocol::CloseCodePolicyViolated
constexpr quint16 kCloseTooBig = 1009; // QWebSocketProtocol::CloseCodeTooMuchData
constexpr quint16 kCloseInternal = 1011; // the server or guest failed it

} // namespace

ExecSocket::ExecSocket(std::unique_ptr<QWebSocket> socket, GuestController &guest, QString vmName, QObject *parent)
    : QObject(parent)
    , m_socket(std::move(socket))
    , m_guest(guest)
    , m_vm(std::move(vmName))
{
    // Messages as big as the HTTP JSON cap at most, in frames no larger.
    m_socket->setMaxAllowedIncomingMessageSize(4 << 20);
    m_socket->setMaxAllowedIncomingFrameSize(4 << 20);
    connect(m_socket.get(), &QWebSocket::textMessageReceived, this, &ExecSocket::onText);
    connect(m_socket.get(), &QWebSocket::binaryMessageReceived, this, [this](const QByteArray &) {
        fail(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("binary messages are not part of the protocol; send JSON text")), kClosePolicy);
    });
    connect(m_socket.get(), &QWebSocket::bytesWritten, this, &ExecSocket::onBytesWritten);
    connect(m_socket.get(), &QWebSocket::disconnected, this, [this]() {
        // The client went away: the command dies with it.
        if (m_handle && !m_done)
            m_handle->cancel();
        deleteLater();
    });
}

ExecSocket::~ExecSocket()
{
    // The socket goes after this body: nothing of it may call back in here.
    m_socket->disconnect(this);
    if (m_handle && !m_done)
        m_handle->cancel();
    if (m_handle)
        m_handle->deleteLater();
}

void ExecSocket::send(const QJsonObject &message)
{
    if (m_socket->state() == QAbstractSocket::ConnectedState)
        m_socket->sendTextMessage(QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)));
}

void ExecSocket::fail(const ApiError &error, quint16 closeCode)
{
    if (m_done)
        return;
    m_done = true;
    send(QJsonObject{
        {QStringLiteral("type"), QStringLiteral("error")},
        {QStringLiteral("error"), QJsonObject{{QStringLiteral("code"), apiErrorCodeName(error.code)}, {QStringLiteral("message"), error.message}}}});
    if (m_handle) {
        m_handle->setOutputPaused(false); // nobody reads it any more
        m_handle->cancel();
    }
    m_socket->close(static_cast<QWebSocketProtocol::CloseCode>(closeCode), error.message.left(120));
}

void ExecSocket::onText(const QString &message)
{
    if (m_done)
        return;
    if (!m_started) {
        start(message.toUtf8());
        return;
    }
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(message.toUtf8(), &pe);
    const QJsonObject o = doc.object();
    const QString type = o.value(QStringLiteral("type")).toString();
    if (!doc.isObject()) {
        fail(ApiError(ApiError::Code::InvalidJson, QStringLiteral("a message is not a JSON object")), kClosePolicy);
    } else if (type == QLatin1String("stdin")) {
        const QJsonValue data = o.value(QStringLiteral("data"));
        const auto decoded = QByteArray::fromBase64Encoding(data.toString().toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
        if (!data.isString() || !decoded)
            fail(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("'data' must be a base64 string")), kClosePolicy);
        else
            writeStdin(*decoded);
    } else if (type == QLatin1String("stdin_eof")) {
        if (m_handle)
            m_handle->closeStdin();
    } else {
        fail(ApiError(ApiError::Code::InvalidArgument, QStringLiteral("unknown message type '%1' (stdin, stdin_eof)").arg(type.left(32))), kClosePolicy);
    }
}

void ExecSocket::start(const QByteArray &request)
{
    m_started = true;
    auto started = m_guest.execStream(m_vm, request); // counted there when it cannot start
    if (!started) {
        const ApiError::Code code = started.error().code;
        const bool badRequest = code == ApiError::Code::InvalidJson || code == ApiError::Code::InvalidArgument;
        fail(started.error(), badRequest ? kClosePolicy : kCloseNormal);
        return;
    }
    m_handle = *started;
    m_request = request;
    m_running.start();
    connect(m_handle, &Agent::ExecHandle::stdoutReceived, this, [this](const QByteArray &data) { sendOutput("stdout", data); });
    connect(m_handle, &Agent::ExecHandle::stderrReceived, this, [this](const QByteArray &data) { sendOutput("stderr", data); });
    connect(m_handle, &Agent::ExecHandle::finished, this, &ExecSocket::finish);
    connect(m_handle, &Agent::ExecHandle::failed, this, [this](const Core::Error &error) {
        m_guest.countExec(false);
        m_guest.tellStreamedExec(m_vm, m_request, error, m_running.elapsed());
        fail(ApiError::fromCore(error), error.code == Core::ErrorCode::TooLarge ? kCloseTooBig : kCloseInternal);
    });
}

void ExecSocket::sendOutput(const char *channel, const QByteArray &data)
{
    m_outputBytes += static_cast<quint64>(data.size());
    send(QJsonObject{{QStringLiteral("type"), QLatin1String(channel)}, {QStringLiteral("data"), QString::fromLatin1(data.toBase64())}});
    if (!m_outputPaused && m_handle && m_socket->bytesToWrite() > kOutputHighWater) {
        m_outputPaused = true;
        m_handle->setOutputPaused(true);
    }
}

void ExecSocket::onBytesWritten()
{
    if (m_outputPaused && m_handle && m_socket->bytesToWrite() <= kOutputLowWater) {
        m_outputPaused = false;
        m_handle->setOutputPaused(false);
    }
}

void ExecSocket::writeStdin(const QByteArray &data)
{
    if (!m_handle)
        return;
    m_handle->writeStdin(data);
    if (m_handle->stdinBytesToWrite() > kMaxQueuedStdin)
        fail(ApiError(ApiError::Code::PayloadTooLarge,
                      QStringLiteral("stdin arrives faster than the guest takes it: more than %1 bytes wait; send it more slowly").arg(kMaxQueuedStdin)),
             kCloseTooBig);
}

void ExecSocket::finish(const Agent::ExecResult &result)
{
    if (m_done)
        return;
    m_done = true;
    m_guest.countExec(true, result.timedOut);
    m_guest.countVmExec(m_vm, result, m_outputBytes);
    m_guest.tellStreamedExec(m_vm, m_request, result, m_running.elapsed());
    send(QJsonObject{{QStringLiteral("type"), QStringLiteral("exit")},
                     {QStringLiteral("exit_code"), result.signal ? QJsonValue(QJsonValue::Null) : QJsonValue(result.exitCode)},
                     {QStringLiteral("signal"), result.signal ? QJsonValue(result.signal) : QJsonValue(QJsonValue::Null)},
                     {QStringLiteral("timed_out"), result.timedOut},
                     {QStringLiteral("duration_ms"), static_cast<double>(result.durationUs) / 1000.0}});
    m_socket->close(QWebSocketProtocol::CloseCodeNormal);
}

} // namespace Server
