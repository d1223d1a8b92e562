#include "core/agent/agentclient.h"

#include "core/agent/agentstream.h"
#include "core/agent/downloadstream.h"
#include "core/agent/execstream.h"
#include "core/agent/filestreams.h"
#include "core/agent/forwardstream.h"
#include "core/agent/requeststream.h"
#include "core/log.h"

#include <QBuffer>
#include <QDateTime>
#include <QRandomGenerator>

namespace Agent {

using Protocol::MsgType;

AgentClient::AgentClient(Vmm::AgentEndpoint endpoint, QObject *parent)
    : QObject(parent)
    , m_endpoint(std::move(endpoint))
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &AgentClient::tryConnect);
    m_helloTimer.setInterval(kHelloRetryMs);
    connect(&m_helloTimer, &QTimer::timeout, this, &AgentClient::sendHello);
    m_announcedHello.setSingleShot(true);
    connect(&m_announcedHello, &QTimer::timeout, this, &AgentClient::sendHello);
    m_deadlineTimer.setSingleShot(true);
    connect(&m_deadlineTimer, &QTimer::timeout, this, [this]() {
        if (m_ready || m_connectPromise.isResolved())
            return;
        m_connectPromise.fail(Core::ErrorCode::Timeout, QStringLiteral("the guest agent did not answer in time"));
        close();
    });
}

AgentClient::~AgentClient()
{
    close();
}

Core::Future<AgentInfo> AgentClient::connectToAgent(int timeoutMs)
{
    close();
    m_connectPromise = Core::Promise<AgentInfo>();
    m_deadline = QDateTime::currentMSecsSinceEpoch() + timeoutMs;
    m_deadlineTimer.start(timeoutMs);
    tryConnect();
    return m_connectPromise.future();
}

void AgentClient::tryConnect()
{
    if (m_connectPromise.isResolved())
        return;
    if (QDateTime::currentMSecsSinceEpoch() > m_deadline) {
        m_connectPromise.fail(Core::ErrorCode::Timeout, QStringLiteral("the guest agent did not answer in time"));
        close();
        return;
    }
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
    }
    m_socket = new QLocalSocket(this);
    m_reader.reset();
    m_reader.setMaxPayload(Protocol::kDefaultMaxPayload);
    m_vsockHandshake = m_endpoint.vsockPort != 0;
    m_vsockLine.clear();
    connect(m_socket, &QLocalSocket::connected, this, &AgentClient::onConnected);
    connect(m_socket, &QLocalSocket::readyRead, this, &AgentClient::onReadyRead);
    connect(m_socket, &QLocalSocket::bytesWritten, this, &AgentClient::pumpUploads);
    connect(m_socket, &QLocalSocket::disconnected, this, &AgentClient::onDisconnected);
    connect(m_socket, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError err) {
        if (err == QLocalSocket::PeerClosedError)
            return; // handled by disconnected
        if (!m_ready && !m_connectPromise.isResolved()) {
            m_retryTimer.start(kReconnectIntervalMs); // not listening yet: retry
            return;
        }
        onDisconnected();
    });
    m_socket->connectToServer(m_endpoint.socketPath);
}

void AgentClient::onConnected()
{
    if (m_vsockHandshake) {
        // cloud-hypervisor hybrid vsock: ask for the agent's port first.
        m_socket->write(QStringLiteral("CONNECT %1\n").arg(m_endpoint.vsockPort).toLatin1());
        return;
    }
    sendHello();
    m_helloTimer.start();
}

void AgentClient::sendHello()
{
    if (!m_socket || m_socket->state() != QLocalSocket::ConnectedState)
        return;
    Protocol::Hello hello;
    hello.nonce = QRandomGenerator::global()->generate64();
    hello.client = "microvm-sandbox " MVS_VERSION;
    m_nonce = hello.nonce;
    send(MsgType::Hello, 0, hello.encode());
    m_sinceHello.start();
}

// The agent (re)opened its port: an earlier Hello may be lost. Send one now,
// or once kMinHelloIntervalMs after the last; many Announces, one Hello.
void AgentClient::helloAnnounced()
{
    if (m_announcedHello.isActive())
        return;
    const qint64 since = m_sinceHello.isValid() ? m_sinceHello.elapsed() : kMinHelloIntervalMs;
    if (since >= kMinHelloIntervalMs) {
        sendHello();
        return;
    }
    m_announcedHello.start(int(kMinHelloIntervalMs - since));
}

void AgentClient::onReadyRead()
{
    if (!m_socket)
        return;
    QByteArray data = m_socket->readAll();
    if (m_vsockHandshake) {
        m_vsockLine += data;
        const qsizetype nl = m_vsockLine.indexOf('\n');
        if (nl < 0) {
            if (m_vsockLine.size() > 64)
                onDisconnected();
            return;
        }
        if (!m_vsockLine.startsWith("OK ")) {
            Core::Log::agent()->debug("vsock CONNECT refused: {}", m_vsockLine.left(nl).toStdString());
            m_retryTimer.start(kReconnectIntervalMs);
            return;
        }
        data = m_vsockLine.mid(nl + 1);
        m_vsockHandshake = false;
        sendHello();
        m_helloTimer.start();
    }
    m_reader.feed(data.constData(), static_cast<size_t>(data.size()));
    processFrames();
}

void AgentClient::processFrames()
{
    Protocol::Frame frame;
    for (;;) {
        const auto st = m_reader.next(&frame);
        if (st == Protocol::FrameReader::Status::NeedMore)
            break;
        if (st == Protocol::FrameReader::Status::Oversize) {
            const Core::Error e(
                Core::ErrorCode::Protocol,
                QStringLiteral("the guest agent sent a %1-byte frame, above the %2-byte limit").arg(m_reader.lastHeader().length).arg(m_reader.maxPayload()));
            Core::Log::agent()->error("{}", e.message.toStdString());
            dropConnection(e);
            return;
        }
        handleFrame(frame);
        if (!m_socket)
            return; // closed by a handler
    }
}

void AgentClient::onDisconnected()
{
    if (!m_ready && !m_connectPromise.isResolved()) {
        // QEMU's chardev drops a client it cannot serve yet; CH resets when
        // the guest is not listening yet. Both mean: try again shortly.
        m_helloTimer.stop();
        m_announcedHello.stop();
        m_retryTimer.start(kReconnectIntervalMs);
        return;
    }
    if (m_socket)
        dropConnection(Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("the connection to the guest agent was lost")));
}

// The connection is gone or broken: every open stream fails once with error.
void AgentClient::dropConnection(const Core::Error &error)
{
    const bool wasReady = m_ready || std::exchange(m_resyncing, false);
    m_ready = false;
    m_helloTimer.stop();
    m_announcedHello.stop();
    // Detached before the calls fail: their callbacks may close() us.
    if (QLocalSocket *socket = std::exchange(m_socket, nullptr)) {
        socket->disconnect(this);
        socket->abort();
        socket->deleteLater();
    }
    failAll(error);
    m_connectPromise.resolve(error);
    if (wasReady)
        Q_EMIT connectionLost(error);
}

void AgentClient::close()
{
    m_retryTimer.stop();
    m_deadlineTimer.stop();
    m_helloTimer.stop();
    m_announcedHello.stop();
    m_ready = false;
    m_resyncing = false;
    failAll(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("the agent connection was closed")));
    m_connectPromise.fail(Core::ErrorCode::Cancelled, QStringLiteral("the agent connection was closed"));
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
        m_socket->deleteLater();
        m_socket = nullptr;
    }
}

void AgentClient::send(MsgType type, quint32 stream, std::string_view payload)
{
    if (!m_socket)
        return;
    const std::string frame = Protocol::encodeFrame(static_cast<std::uint8_t>(type), stream, payload);
    m_socket->write(frame.data(), static_cast<qint64>(frame.size()));
}

quint32 AgentClient::maxPayload() const
{
    return m_info.maxPayload ? m_info.maxPayload : Protocol::kDefaultMaxPayload;
}

quint32 AgentClient::dataChunk() const
{
    return qMin(Protocol::kDataChunk, maxPayload());
}

// Frames of stream 0 belong to the connection; every other frame to the
// stream of its id, if that is still open.
void AgentClient::handleFrame(const Protocol::Frame &frame)
{
    const auto type = static_cast<MsgType>(frame.header.type);
    if (frame.header.stream == 0)
        return handleConnectionFrame(type, frame.payload);
    if (!m_ready)
        return;
    const std::shared_ptr<AgentStream> stream = m_streams.value(frame.header.stream);
    if (!stream)
        return; // a stream we already ended (e.g. output after cancel)
    if (type != MsgType::Error)
        return handleStreamFrame(stream, type, frame.payload);
    Protocol::ErrorMsg e;
    if (!Protocol::ErrorMsg::decode(frame.payload, &e))
        e = Protocol::ErrorMsg{Protocol::ErrorCode::Protocol, "malformed error"};
    stream->abort(agentError(e), false);
}

namespace {

// The guest's data, limited by each stream's credit.
bool isCreditedData(MsgType type)
{
    return type == MsgType::ExecStdout || type == MsgType::ExecStderr || type == MsgType::FileData || type == MsgType::StreamData;
}

} // namespace

void AgentClient::handleStreamFrame(const std::shared_ptr<AgentStream> &stream, MsgType type, std::string_view payload)
{
    const bool data = isCreditedData(type);
    if (data && !stream->spendCredit(payload.size()))
        return; // overrun: that stream failed, the others go on
    stream->handleFrame(type, payload);
    if (data)
        stream->handedOver(payload.size());
}

void AgentClient::handleConnectionFrame(MsgType type, std::string_view payload)
{
    switch (type) {
    case MsgType::Announce:
        if (!m_ready)
            helloAnnounced();
        return;
    case MsgType::HelloAck: return onHelloAck(payload);
    case MsgType::Error: return onConnectionError(payload);
    default: return;
    }
}

// A Protocol error on stream 0 means the agent dropped every stream and
// forgot the handshake (guest-agent/session.cpp): so do we, and greet it
// again; operations fail with AgentUnavailable until it answers.
void AgentClient::onConnectionError(std::string_view payload)
{
    Protocol::ErrorMsg e;
    if (!Protocol::ErrorMsg::decode(payload, &e))
        return;
    Core::Log::agent()->warn("agent: {}", guestText(e.message).toStdString());
    if (e.code == Protocol::ErrorCode::Protocol && !m_ready && !m_connectPromise.isResolved()
        && std::string_view(e.message).find(Protocol::kVersionRefusal) != std::string_view::npos)
        return refuseVersion(guestText(e.message));
    if (e.code != Protocol::ErrorCode::Protocol || !m_ready)
        return;
    m_ready = false;
    m_resyncing = true;
    failAll(
        Core::Error(Core::ErrorCode::Protocol, QStringLiteral("the guest agent reset its session (%1): the operation was dropped").arg(guestText(e.message))));
    if (!m_socket)
        return; // closed by a caller
    sendHello();
    m_helloTimer.start();
}

void AgentClient::onHelloAck(std::string_view payload)
{
    Protocol::HelloAck ack;
    if (!Protocol::HelloAck::decode(payload, &ack) || ack.nonce != m_nonce || m_ready)
        return; // answer to an older Hello
    if (ack.version != Protocol::kVersion)
        return refuseVersion(QStringLiteral("it speaks protocol version %1").arg(ack.version));
    m_helloTimer.stop();
    m_announcedHello.stop();
    m_deadlineTimer.stop();
    m_info = AgentInfo{QString::fromStdString(ack.agentVersion), QString::fromStdString(ack.bootId), ack.maxPayload};
    m_ready = true;
    m_resyncing = false;
    m_connectPromise.resolve(m_info);
    Q_EMIT ready(m_info);
}

// A peer of another protocol version (an image built with an older or
// newer agent) is refused for good: retrying cannot help.
void AgentClient::refuseVersion(const QString &why)
{
    m_connectPromise.resolve(
        Core::Error(Core::ErrorCode::Protocol,
                    QStringLiteral("the guest agent refused the handshake or speaks another protocol (%1); this build speaks version %2: rebuild the image")
                        .arg(why)
                        .arg(Protocol::kVersion)));
    close();
}

quint32 AgentClient::allocateStream()
{
    quint32 id;
    do {
        id = m_nextStream++;
        if (m_nextStream == 0)
            m_nextStream = 1;
    } while (id == 0 || m_streams.contains(id));
    return id;
}

template<typename S, typename... Args>
std::shared_ptr<S> AgentClient::addStream(Args &&...args)
{
    auto stream = std::make_shared<S>(this, allocateStream(), std::forward<Args>(args)...);
    m_streams.insert(stream->id(), stream);
    return stream;
}

Core::Error AgentClient::tooLarge(const QString &what, size_t size) const
{
    return Core::Error(Core::ErrorCode::TooLarge,
                       QStringLiteral("%1 takes %2 bytes, above the guest agent's %3-byte message limit (send large input as a file "
                                      "or through stdin)")
                           .arg(what)
                           .arg(size)
                           .arg(maxPayload()));
}

Core::Error AgentClient::notReady() const
{
    return Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("the guest agent is not connected"));
}

void AgentClient::endStream(quint32 id)
{
    m_streams.remove(id);
}

void AgentClient::failAll(const Core::Error &error)
{
    const auto streams = std::exchange(m_streams, {});
    for (const auto &s : streams)
        s->fail(error);
}

ExecHandle *AgentClient::exec(const ExecRequest &request)
{
    std::optional<Core::Error> refused;
    if (!m_ready)
        refused = notReady();
    else if (request.argv.isEmpty() && request.shell.isEmpty())
        refused = Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("no command given"));
    else if (const size_t size = ExecStream::startMessage(request).encode().size(); size > maxPayload())
        refused = tooLarge(QStringLiteral("the command"), size);
    if (refused) {
        auto stream = std::make_shared<ExecStream>(this, 0, request); // never started
        auto *handle = new ExecHandle(this, stream);
        QMetaObject::invokeMethod(
            handle, [stream, e = *refused]() { stream->fail(e); }, Qt::QueuedConnection);
        return handle;
    }
    const auto stream = addStream<ExecStream>(request);
    auto *handle = new ExecHandle(this, stream);
    stream->start(request);
    return handle;
}

Core::Future<ExecResult> AgentClient::run(const ExecRequest &request)
{
    ExecHandle *h = exec(request);
    Core::Future<ExecResult> f = h->result();
    connect(h, &ExecHandle::finished, h, &QObject::deleteLater);
    connect(h, &ExecHandle::failed, h, &QObject::deleteLater);
    return f;
}

Core::Future<quint64> AgentClient::putFile(const QString &guestPath, std::shared_ptr<QIODevice> source, quint64 size, quint32 mode, bool makeParents,
                                           StreamLimits limits)
{
    if (!m_ready)
        return Core::readyFuture<quint64>(notReady());
    if (!source || !source->isReadable())
        return Core::readyFuture<quint64>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the upload source is not readable")));
    Protocol::FilePut m;
    m.path = guestPath.toStdString();
    m.mode = mode & 07777;
    m.size = size;
    m.flags = makeParents ? Protocol::FilePut::MakeParents : 0u;
    const Core::Future<quint64> done = addStream<FilePutStream>(std::move(source), size)->start(m, limits);
    pumpUploads();
    return done;
}

Core::Future<quint64> AgentClient::putData(const QString &guestPath, const QByteArray &data, quint32 mode, bool makeParents, StreamLimits limits)
{
    auto buffer = std::make_shared<QBuffer>();
    buffer->setData(data);
    buffer->open(QIODevice::ReadOnly);
    return putFile(guestPath, buffer, static_cast<quint64>(data.size()), mode, makeParents, limits);
}

// Feed uploads and forwarded bytes while the socket's queue is short, one
// chunk per stream and pass, so a huge file never sits in memory and the
// streams share the channel.
void AgentClient::pumpUploads()
{
    if (!m_socket || !m_ready)
        return;
    bool progress = true;
    while (progress && m_socket && m_socket->bytesToWrite() < kWriteHighWater) {
        progress = false;
        const auto streams = m_streams; // pumping may end streams
        for (const std::shared_ptr<AgentStream> &s : streams) {
            if (!s->isActive() || !s->pump())
                continue;
            progress = true;
            if (!m_socket || m_socket->bytesToWrite() >= kWriteHighWater)
                break;
        }
    }
}

Core::Future<quint64> AgentClient::getFile(const QString &guestPath, std::shared_ptr<QIODevice> sink, StreamLimits limits)
{
    if (!m_ready)
        return Core::readyFuture<quint64>(notReady());
    if (!sink || !sink->isWritable())
        return Core::readyFuture<quint64>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the download target is not writable")));
    return addStream<FileSaveStream>(std::move(sink), limits)->start(guestPath, limits.deadlineMs);
}

Core::Future<FileDownload *> AgentClient::download(const QString &guestPath, StreamLimits limits)
{
    if (!m_ready)
        return Core::readyFuture<FileDownload *>(notReady());
    return addStream<DownloadStream>(limits)->start(guestPath);
}

Core::Future<QByteArray> AgentClient::getData(const QString &guestPath, StreamLimits limits)
{
    auto buffer = std::make_shared<QBuffer>();
    buffer->open(QIODevice::WriteOnly);
    Core::Promise<QByteArray> promise;
    getFile(guestPath, buffer, limits).then(this, [promise, buffer](const Core::Expected<quint64> &r) {
        if (!r)
            promise.resolve(r.error());
        else
            promise.resolve(buffer->data());
    });
    return promise.future();
}

template<typename T>
Core::Future<T> AgentClient::request(MsgType type, const std::string &payload, QString what, MsgType reply, bool (*decode)(std::string_view, T *),
                                     int deadlineMs)
{
    if (!m_ready)
        return Core::readyFuture<T>(notReady());
    return addStream<RequestStream<T>>(std::move(what), reply, decode)->start(type, payload, deadlineMs);
}

Core::Future<FileInfo> AgentClient::stat(const QString &guestPath, int deadlineMs)
{
    return request<FileInfo>(MsgType::Stat, Protocol::PathRequest{guestPath.toStdString()}.encode(), QStringLiteral("the stat of %1").arg(guestPath),
                             MsgType::StatResult, decodeStat, deadlineMs);
}

Core::Future<QList<FileInfo>> AgentClient::list(const QString &guestPath)
{
    return request<QList<FileInfo>>(MsgType::List, Protocol::PathRequest{guestPath.toStdString()}.encode(), QStringLiteral("the listing of %1").arg(guestPath),
                                    MsgType::ListResult, decodeList);
}

Core::Future<Health> AgentClient::health()
{
    return request<Health>(MsgType::Health, {}, QStringLiteral("the health check"), MsgType::HealthResult, decodeHealth);
}

Core::Future<ProcessInfo> AgentClient::startProcess(const ExecRequest &command)
{
    if (command.argv.isEmpty() && command.shell.isEmpty())
        return Core::readyFuture<ProcessInfo>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("no command given")));
    Protocol::ExecStart start = ExecStream::startMessage(command);
    start.flags |= Protocol::ExecStart::StdinPipe;
    const std::string payload = start.encode();
    if (payload.size() > maxPayload())
        return Core::readyFuture<ProcessInfo>(tooLarge(QStringLiteral("the command"), payload.size()));
    return request<ProcessInfo>(MsgType::ProcessStart, payload, QStringLiteral("starting a background process"), MsgType::ProcessInfo, decodeProcess);
}

Core::Future<QList<ProcessInfo>> AgentClient::processes()
{
    return request<QList<ProcessInfo>>(MsgType::ProcessList, {}, QStringLiteral("the list of background processes"), MsgType::ProcessListResult,
                                       decodeProcesses);
}

Core::Future<ProcessInfo> AgentClient::process(qint32 pid)
{
    return request<ProcessInfo>(MsgType::ProcessStatus, Protocol::ProcessRef{pid}.encode(), QStringLiteral("the status of process %1").arg(pid),
                                MsgType::ProcessInfo, decodeProcess);
}

Core::Future<ProcessOutput> AgentClient::processOutput(qint32 pid, quint64 stdoutOffset, quint64 stderrOffset, quint32 maxBytes)
{
    return request<ProcessOutput>(MsgType::ProcessRead, Protocol::ProcessRead{pid, stdoutOffset, stderrOffset, maxBytes}.encode(),
                                  QStringLiteral("the output of process %1").arg(pid), MsgType::ProcessOutput, decodeProcessOutput);
}

Core::Future<ProcessInfo> AgentClient::writeProcessStdin(qint32 pid, const QByteArray &data, bool eof)
{
    const std::string payload = Protocol::ProcessWrite{pid, eof, data.toStdString()}.encode();
    if (payload.size() > maxPayload())
        return Core::readyFuture<ProcessInfo>(tooLarge(QStringLiteral("the stdin data"), payload.size()));
    return request<ProcessInfo>(MsgType::ProcessWrite, payload, QStringLiteral("the stdin of process %1").arg(pid), MsgType::ProcessInfo, decodeProcess);
}

Core::Future<ProcessInfo> AgentClient::signalProcess(qint32 pid, int signal)
{
    return request<ProcessInfo>(MsgType::ProcessSignal, Protocol::ProcessSignal{pid, signal}.encode(), QStringLiteral("signalling process %1").arg(pid),
                                MsgType::ProcessInfo, decodeProcess);
}

Core::Future<ProcessInfo> AgentClient::removeProcess(qint32 pid)
{
    return request<ProcessInfo>(MsgType::ProcessRemove, Protocol::ProcessRef{pid}.encode(), QStringLiteral("removing process %1").arg(pid),
                                MsgType::ProcessInfo, decodeProcess);
}

Core::Future<ForwardedStream *> AgentClient::openStream(const QString &host, quint16 port)
{
    if (!m_ready)
        return Core::readyFuture<ForwardedStream *>(notReady());
    if (port == 0 || host.isEmpty())
        return Core::readyFuture<ForwardedStream *>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("cannot forward to \"%1\" port %2").arg(host).arg(port)));
    return addStream<ForwardStream>()->start(host, port);
}

Core::Future<void> AgentClient::shutdownGuest(bool reboot)
{
    if (!m_ready)
        return Core::readyFuture<void>(notReady());
    send(MsgType::Shutdown, allocateStream(), Protocol::Shutdown{reboot}.encode());
    return Core::readyFuture();
}

} // namespace Agent
