#include "core/agent/agentclient.h"

#include "core/log.h"

#include <QBuffer>
#include <QDateTime>
#include <QRandomGenerator>

#include <deque>

namespace Agent {

using Protocol::MsgType;

QString fileTypeName(FileInfo::Type type)
{
    switch (type) {
    case FileInfo::Type::Regular: return QStringLiteral("file");
    case FileInfo::Type::Directory: return QStringLiteral("directory");
    case FileInfo::Type::Symlink: return QStringLiteral("symlink");
    case FileInfo::Type::CharDevice: return QStringLiteral("char-device");
    case FileInfo::Type::BlockDevice: return QStringLiteral("block-device");
    case FileInfo::Type::Fifo: return QStringLiteral("fifo");
    case FileInfo::Type::Socket: return QStringLiteral("socket");
    case FileInfo::Type::Other: break;
    }
    return QStringLiteral("other");
}

namespace {

QString qs(const std::string &s)
{
    return QString::fromStdString(s);
}

std::string ss(const QString &s)
{
    return s.toStdString();
}

FileInfo toFileInfo(const Protocol::FileInfo &p)
{
    FileInfo f;
    f.name = qs(p.name);
    f.type = static_cast<FileInfo::Type>(static_cast<int>(p.type) <= 7 ? static_cast<int>(p.type) : 0);
    f.mode = p.mode;
    f.size = p.size;
    f.mtimeSec = p.mtimeSec;
    f.uid = p.uid;
    f.gid = p.gid;
    f.linkTarget = qs(p.linkTarget);
    return f;
}

Core::Error agentError(const Protocol::ErrorMsg &e)
{
    // Map the guest's code onto core codes where one fits, keep the detail.
    Core::ErrorCode code = Core::ErrorCode::Agent;
    switch (e.code) {
    case Protocol::ErrorCode::NotFound: code = Core::ErrorCode::NotFound; break;
    case Protocol::ErrorCode::PermissionDenied: code = Core::ErrorCode::PermissionDenied; break;
    case Protocol::ErrorCode::InvalidArgument:
    case Protocol::ErrorCode::IsDirectory:
    case Protocol::ErrorCode::NotDirectory: code = Core::ErrorCode::InvalidArgument; break;
    case Protocol::ErrorCode::NoSpace: code = Core::ErrorCode::NoSpace; break;
    case Protocol::ErrorCode::Exists: code = Core::ErrorCode::AlreadyExists; break;
    case Protocol::ErrorCode::Cancelled: code = Core::ErrorCode::Cancelled; break;
    case Protocol::ErrorCode::Protocol: code = Core::ErrorCode::Protocol; break;
    case Protocol::ErrorCode::Unsupported: code = Core::ErrorCode::Unsupported; break;
    case Protocol::ErrorCode::ConnectionRefused: code = Core::ErrorCode::NotFound; break; // nothing listens there
    default: break;
    }
    return Core::Error(code, QStringLiteral("guest: %1").arg(qs(e.message)), static_cast<int>(e.code));
}

} // namespace

struct AgentClient::Stream {
    enum class Kind { Exec, Put, Get, Stat, List, Health, Forward };
    Kind kind;
    QPointer<ExecHandle> exec;
    // put
    std::shared_ptr<QIODevice> source;
    quint64 remaining = 0;
    bool endSent = false;
    Core::Promise<quint64> bytesPromise; // put and get
    // get
    std::shared_ptr<QIODevice> sink;
    quint64 expected = 0;
    quint64 received = 0;
    bool gotInfo = false;
    Core::Promise<FileInfo> statPromise;
    Core::Promise<QList<FileInfo>> listPromise;
    Core::Promise<Health> healthPromise;
    // forward
    QPointer<ForwardedStream> forward;
    Core::Promise<ForwardedStream *> openPromise;
    bool opened = false;
    std::deque<QByteArray> outChunks; // host -> guest, not yet handed to the socket
    qsizetype outOffset = 0;          // sent bytes of outChunks.front()
    qint64 outBytes = 0;
    bool closeAfterFlush = false; // StreamClose once outChunks is empty
    bool blocking = false;        // counted in m_inputBlocked

    explicit Stream(Kind k) : kind(k) {}

    // Up to max queued bytes for one StreamData frame.
    QByteArray takeOut(qint64 max)
    {
        const qint64 n = qMin(max, outBytes);
        QByteArray out;
        if (outOffset == 0 && outChunks.front().size() == n) {
            out = std::move(outChunks.front());
            outChunks.pop_front();
        } else {
            out.reserve(n);
            while (out.size() < n) {
                QByteArray &front = outChunks.front();
                const qsizetype take = qMin<qsizetype>(front.size() - outOffset, n - out.size());
                out.append(front.constData() + outOffset, take);
                outOffset += take;
                if (outOffset == front.size()) {
                    outChunks.pop_front();
                    outOffset = 0;
                }
            }
        }
        outBytes -= n;
        return out;
    }

    void fail(const Core::Error &e)
    {
        switch (kind) {
        case Kind::Exec:
            if (exec)
                exec->onError(e);
            break;
        case Kind::Put:
        case Kind::Get: bytesPromise.resolve(e); break;
        case Kind::Stat: statPromise.resolve(e); break;
        case Kind::List: listPromise.resolve(e); break;
        case Kind::Health: healthPromise.resolve(e); break;
        case Kind::Forward:
            if (!opened) {
                openPromise.resolve(e);
                if (forward)
                    forward->deleteLater();
            } else if (forward) {
                forward->onError(e);
            }
            break;
        }
    }
};

AgentClient::AgentClient(Vmm::AgentEndpoint endpoint, QObject *parent)
    : QObject(parent)
    , m_endpoint(std::move(endpoint))
{
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &AgentClient::tryConnect);
    m_helloTimer.setInterval(kHelloRetryMs);
    connect(&m_helloTimer, &QTimer::timeout, this, &AgentClient::sendHello);
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
    m_socket->setReadBufferSize(kSocketReadBuffer);
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
}

void AgentClient::onReadyRead()
{
    if (!m_socket || m_inputBlocked > 0)
        return; // a forwarded stream's reader is behind: leave it in the socket
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
    while (m_inputBlocked == 0) {
        const auto st = m_reader.next(&frame);
        if (st == Protocol::FrameReader::Status::NeedMore)
            break;
        if (st == Protocol::FrameReader::Status::Oversize) {
            const Core::Error e(Core::ErrorCode::Protocol,
                                QStringLiteral("the guest agent sent a %1-byte frame, above the %2-byte limit")
                                    .arg(m_reader.lastHeader().length)
                                    .arg(m_reader.maxPayload()));
            Core::Log::agent()->error("{}", e.message.toStdString());
            const bool wasReady = m_ready;
            m_ready = false;
            m_helloTimer.stop();
            if (QLocalSocket *socket = std::exchange(m_socket, nullptr)) {
                socket->disconnect(this);
                socket->abort();
                socket->deleteLater();
            }
            failAll(e);
            m_connectPromise.resolve(e);
            if (wasReady)
                Q_EMIT connectionLost(e);
            return;
        }
        handleFrame(frame);
        if (!m_socket)
            return; // closed by a handler
    }
}

void AgentClient::releaseInputBlock()
{
    m_inputBlocked = qMax(0, m_inputBlocked - 1);
    if (m_inputBlocked > 0 || m_resumePosted)
        return;
    m_resumePosted = true;
    QMetaObject::invokeMethod(this, &AgentClient::resumeInput, Qt::QueuedConnection);
}

// Every reader caught up: the frames already parsed, then the socket.
void AgentClient::resumeInput()
{
    m_resumePosted = false;
    if (!m_socket || m_inputBlocked > 0)
        return;
    processFrames();
    if (m_socket && m_inputBlocked == 0 && m_socket->bytesAvailable() > 0)
        onReadyRead();
}

void AgentClient::onDisconnected()
{
    if (!m_ready && !m_connectPromise.isResolved()) {
        // QEMU's chardev drops a client it cannot serve yet; CH resets when
        // the guest is not listening yet. Both mean: try again shortly.
        m_helloTimer.stop();
        m_retryTimer.start(kReconnectIntervalMs);
        return;
    }
    if (!m_socket)
        return;
    const Core::Error e(Core::ErrorCode::AgentUnavailable, QStringLiteral("the connection to the guest agent was lost"));
    const bool wasReady = m_ready;
    m_ready = false;
    m_helloTimer.stop();
    // Detached before the calls fail: their callbacks may close() us.
    QLocalSocket *socket = std::exchange(m_socket, nullptr);
    socket->disconnect(this);
    socket->deleteLater();
    failAll(e);
    if (wasReady)
        Q_EMIT connectionLost(e);
}

void AgentClient::close()
{
    m_retryTimer.stop();
    m_deadlineTimer.stop();
    m_helloTimer.stop();
    m_ready = false;
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

quint32 AgentClient::dataChunk() const
{
    const quint32 peer = m_info.maxPayload ? m_info.maxPayload : Protocol::kDefaultMaxPayload;
    return qMin(Protocol::kDataChunk, peer);
}

void AgentClient::handleFrame(const Protocol::Frame &frame)
{
    const auto type = static_cast<MsgType>(frame.header.type);
    const quint32 id = frame.header.stream;
    if (id == 0) {
        switch (type) {
        case MsgType::Announce:
            if (!m_ready)
                sendHello(); // the agent (re)opened its port: our earlier Hello may be lost
            return;
        case MsgType::HelloAck: {
            Protocol::HelloAck ack;
            if (!Protocol::HelloAck::decode(frame.payload, &ack) || ack.nonce != m_nonce || m_ready)
                return; // answer to an older Hello
            if (ack.version != Protocol::kVersion) {
                const Core::Error e(Core::ErrorCode::Protocol,
                                    QStringLiteral("the guest agent speaks protocol version %1, this build speaks %2: rebuild the image")
                                        .arg(ack.version)
                                        .arg(Protocol::kVersion));
                m_connectPromise.resolve(e);
                close();
                return;
            }
            m_helloTimer.stop();
            m_deadlineTimer.stop();
            m_info = AgentInfo{qs(ack.agentVersion), qs(ack.bootId), ack.maxPayload};
            m_ready = true;
            m_connectPromise.resolve(m_info);
            Q_EMIT ready(m_info);
            return;
        }
        case MsgType::Error: {
            Protocol::ErrorMsg e;
            if (Protocol::ErrorMsg::decode(frame.payload, &e))
                Core::Log::agent()->warn("agent: {}", e.message);
            return;
        }
        default:
            return;
        }
    }
    if (!m_ready)
        return;
    const auto it = m_streams.constFind(id);
    if (it == m_streams.constEnd())
        return; // a stream we already ended (e.g. output after cancel)
    const std::shared_ptr<Stream> s = *it;

    if (type == MsgType::Error) {
        Protocol::ErrorMsg e;
        if (!Protocol::ErrorMsg::decode(frame.payload, &e))
            e = Protocol::ErrorMsg{Protocol::ErrorCode::Protocol, "malformed error"};
        endStream(id);
        s->fail(agentError(e));
        return;
    }
    auto malformed = [this, id, s]() {
        endStream(id);
        s->fail(Core::Error(Core::ErrorCode::Protocol, QStringLiteral("malformed reply from the guest agent")));
    };

    switch (s->kind) {
    case Stream::Kind::Exec:
        if (type == MsgType::ExecStarted) {
            Protocol::ExecStarted m;
            if (!Protocol::ExecStarted::decode(frame.payload, &m))
                return malformed();
            if (s->exec)
                s->exec->onStarted(m.pid);
        } else if (type == MsgType::ExecStdout || type == MsgType::ExecStderr) {
            if (s->exec)
                s->exec->onOutput(type == MsgType::ExecStderr, QByteArray(frame.payload.data(), static_cast<qsizetype>(frame.payload.size())));
        } else if (type == MsgType::ExecExit) {
            Protocol::ExecExit m;
            if (!Protocol::ExecExit::decode(frame.payload, &m))
                return malformed();
            endStream(id);
            ExecResult r;
            r.exitCode = m.exitCode;
            r.signal = m.signal;
            r.timedOut = m.timedOut;
            r.durationUs = static_cast<qint64>(m.durationUs);
            if (s->exec)
                s->exec->onExit(r);
        }
        return;
    case Stream::Kind::Put:
        if (type == MsgType::FilePutDone) {
            Protocol::FilePutDone m;
            if (!Protocol::FilePutDone::decode(frame.payload, &m))
                return malformed();
            endStream(id);
            s->bytesPromise.resolve(m.bytesWritten);
        }
        return;
    case Stream::Kind::Get:
        if (type == MsgType::FileGetInfo) {
            Protocol::FileGetInfo m;
            if (!Protocol::FileGetInfo::decode(frame.payload, &m))
                return malformed();
            s->expected = m.size;
            s->gotInfo = true;
        } else if (type == MsgType::FileData) {
            const qint64 n = static_cast<qint64>(frame.payload.size());
            if (s->sink->write(frame.payload.data(), n) != n) {
                endStream(id);
                send(MsgType::Cancel, id, {});
                s->fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write the download: %1").arg(s->sink->errorString())));
                return;
            }
            s->received += static_cast<quint64>(n);
        } else if (type == MsgType::FileEnd) {
            endStream(id);
            if (s->gotInfo && s->received != s->expected)
                s->fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("download ended after %1 of %2 bytes (the file changed while being read?)")
                                                             .arg(s->received)
                                                             .arg(s->expected)));
            else
                s->bytesPromise.resolve(s->received);
        }
        return;
    case Stream::Kind::Stat: {
        Protocol::StatResult m;
        if (type != MsgType::StatResult || !Protocol::StatResult::decode(frame.payload, &m))
            return malformed();
        endStream(id);
        s->statPromise.resolve(toFileInfo(m.info));
        return;
    }
    case Stream::Kind::List: {
        Protocol::ListResult m;
        if (type != MsgType::ListResult || !Protocol::ListResult::decode(frame.payload, &m))
            return malformed();
        endStream(id);
        QList<FileInfo> out;
        out.reserve(static_cast<qsizetype>(m.entries.size()));
        for (const auto &e : m.entries)
            out << toFileInfo(e);
        s->listPromise.resolve(out);
        return;
    }
    case Stream::Kind::Health: {
        Protocol::HealthResult m;
        if (type != MsgType::HealthResult || !Protocol::HealthResult::decode(frame.payload, &m))
            return malformed();
        endStream(id);
        Health h;
        h.agentVersion = qs(m.agentVersion);
        h.agentUptimeMs = m.agentUptimeMs;
        h.systemUptimeMs = m.systemUptimeMs;
        h.memTotalKiB = m.memTotalKiB;
        h.memAvailableKiB = m.memAvailableKiB;
        h.load1 = m.load1Milli / 1000.0;
        h.cpus = m.cpus;
        h.activeStreams = m.activeStreams;
        h.hostname = qs(m.hostname);
        h.kernel = qs(m.kernel);
        s->healthPromise.resolve(h);
        return;
    }
    case Stream::Kind::Forward:
        if (type == MsgType::StreamOpened && !s->opened) {
            s->opened = true;
            if (!s->forward) { // the client is going away
                send(MsgType::Cancel, id, {});
                endStream(id);
                return;
            }
            Core::Log::agent()->debug("stream {}: connected to {} in the guest", id, s->forward->peerName().toStdString());
            s->openPromise.resolve(s->forward.data());
        } else if (type == MsgType::StreamData && s->opened) {
            if (s->closeAfterFlush || !s->forward)
                return; // closed for reading on this side
            s->forward->onData(QByteArray(frame.payload.data(), static_cast<qsizetype>(frame.payload.size())));
            if (!s->blocking && s->forward->bytesAvailable() > ForwardedStream::kReadHighWater) {
                s->blocking = true;
                ++m_inputBlocked;
            }
        } else if (type == MsgType::StreamClose) {
            endStream(id);
            if (!s->opened)
                s->fail(Core::Error(Core::ErrorCode::Protocol, QStringLiteral("the guest agent closed stream %1 before opening it").arg(id)));
            else if (s->forward)
                s->forward->onPeerClosed();
        } else {
            return malformed();
        }
        return;
    }
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

Core::Error AgentClient::notReady() const
{
    return Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("the guest agent is not connected"));
}

void AgentClient::endStream(quint32 id)
{
    const std::shared_ptr<Stream> s = m_streams.take(id);
    if (s && s->blocking) {
        s->blocking = false;
        releaseInputBlock();
    }
}

void AgentClient::failAll(const Core::Error &error)
{
    const auto streams = m_streams;
    m_streams.clear();
    m_inputBlocked = 0;
    for (const auto &s : streams)
        s->fail(error);
}

ExecHandle *AgentClient::exec(const ExecRequest &request)
{
    const quint32 id = m_ready ? allocateStream() : 0;
    auto *handle = new ExecHandle(this, id, request.collectOutput);
    if (!m_ready) {
        QMetaObject::invokeMethod(handle, [handle, e = notReady()]() { handle->onError(e); }, Qt::QueuedConnection);
        return handle;
    }
    if (request.argv.isEmpty() && request.shell.isEmpty()) {
        const Core::Error e(Core::ErrorCode::InvalidArgument, QStringLiteral("no command given"));
        QMetaObject::invokeMethod(handle, [handle, e]() { handle->onError(e); }, Qt::QueuedConnection);
        return handle;
    }
    auto s = std::make_shared<Stream>(Stream::Kind::Exec);
    s->exec = handle;
    m_streams.insert(id, s);

    Protocol::ExecStart m;
    for (const QString &a : request.argv)
        m.argv.push_back(ss(a));
    m.shell = ss(request.shell);
    for (const QString &e : request.env)
        m.env.push_back(ss(e));
    m.cwd = ss(request.cwd);
    m.timeoutMs = static_cast<std::uint32_t>(qMax(0, request.timeoutMs));
    const bool hasStdin = request.streamStdin || !request.stdinData.isEmpty();
    m.flags = (hasStdin ? Protocol::ExecStart::StdinPipe : 0u) | (request.clearEnv ? Protocol::ExecStart::ClearEnv : 0u);
    send(MsgType::ExecStart, id, m.encode());
    if (!request.stdinData.isEmpty())
        handle->writeStdin(request.stdinData);
    if (hasStdin && !request.streamStdin)
        handle->closeStdin();
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

Core::Future<quint64> AgentClient::putFile(const QString &guestPath, std::shared_ptr<QIODevice> source, quint64 size, quint32 mode,
                                           bool makeParents)
{
    if (!m_ready)
        return Core::readyFuture<quint64>(notReady());
    if (!source || !source->isReadable())
        return Core::readyFuture<quint64>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the upload source is not readable")));
    const quint32 id = allocateStream();
    auto s = std::make_shared<Stream>(Stream::Kind::Put);
    s->source = std::move(source);
    s->remaining = size;
    m_streams.insert(id, s);
    // A sequential source (a socket, a pipe) may have nothing yet: feed
    // again when it has.
    if (s->source->isSequential())
        connect(s->source.get(), &QIODevice::readyRead, this, &AgentClient::pumpUploads);
    Protocol::FilePut m;
    m.path = ss(guestPath);
    m.mode = mode & 07777;
    m.size = size;
    m.flags = makeParents ? Protocol::FilePut::MakeParents : 0u;
    send(MsgType::FilePut, id, m.encode());
    pumpUploads();
    return s->bytesPromise.future();
}

Core::Future<quint64> AgentClient::putData(const QString &guestPath, const QByteArray &data, quint32 mode, bool makeParents)
{
    auto buffer = std::make_shared<QBuffer>();
    buffer->setData(data);
    buffer->open(QIODevice::ReadOnly);
    return putFile(guestPath, buffer, static_cast<quint64>(data.size()), mode, makeParents);
}

// Feed uploads while the socket's queue is short, so a huge file never sits
// in memory and several uploads share the channel.
void AgentClient::pumpUploads()
{
    if (!m_socket || !m_ready)
        return;
    bool progress = true;
    while (progress && m_socket->bytesToWrite() < kWriteHighWater) {
        progress = false;
        const auto streams = m_streams; // handlers may end streams
        for (auto it = streams.constBegin(); it != streams.constEnd(); ++it) {
            const std::shared_ptr<Stream> &s = it.value();
            if (s->kind == Stream::Kind::Forward) {
                if (!s->opened || !m_streams.contains(it.key()))
                    continue;
                if (s->outBytes > 0) {
                    const QByteArray payload = s->takeOut(dataChunk());
                    send(MsgType::StreamData, it.key(), std::string_view(payload.constData(), static_cast<size_t>(payload.size())));
                    if (s->forward)
                        s->forward->onHandedOver(payload.size());
                    progress = true;
                    if (m_socket->bytesToWrite() >= kWriteHighWater)
                        break;
                } else if (s->closeAfterFlush) {
                    send(MsgType::StreamClose, it.key(), {});
                    endStream(it.key());
                    if (s->forward)
                        s->forward->onFlushedAndClosed();
                }
                continue;
            }
            if (s->kind != Stream::Kind::Put || s->endSent)
                continue;
            if (s->remaining == 0) {
                send(MsgType::FileEnd, it.key(), {});
                s->endSent = true;
                continue;
            }
            const qint64 want = static_cast<qint64>(qMin<quint64>(dataChunk(), s->remaining));
            QByteArray chunk = s->source->read(want);
            if (chunk.isEmpty() && s->source->isSequential() && !s->source->atEnd())
                continue; // more comes with the source's readyRead
            if (chunk.isEmpty()) {
                // The source ended early: tell the guest, which drops the file.
                send(MsgType::Cancel, it.key(), {});
                endStream(it.key());
                s->fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("the upload source ended %1 bytes early").arg(s->remaining)));
                continue;
            }
            send(MsgType::FileData, it.key(), std::string_view(chunk.constData(), static_cast<size_t>(chunk.size())));
            s->remaining -= static_cast<quint64>(chunk.size());
            progress = true;
            if (m_socket->bytesToWrite() >= kWriteHighWater)
                break;
        }
    }
}

Core::Future<quint64> AgentClient::getFile(const QString &guestPath, std::shared_ptr<QIODevice> sink)
{
    if (!m_ready)
        return Core::readyFuture<quint64>(notReady());
    if (!sink || !sink->isWritable())
        return Core::readyFuture<quint64>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the download target is not writable")));
    const quint32 id = allocateStream();
    auto s = std::make_shared<Stream>(Stream::Kind::Get);
    s->sink = std::move(sink);
    m_streams.insert(id, s);
    send(MsgType::FileGet, id, Protocol::PathRequest{ss(guestPath)}.encode());
    return s->bytesPromise.future();
}

Core::Future<QByteArray> AgentClient::getData(const QString &guestPath)
{
    auto buffer = std::make_shared<QBuffer>();
    buffer->open(QIODevice::WriteOnly);
    Core::Promise<QByteArray> promise;
    getFile(guestPath, buffer).then(this, [promise, buffer](const Core::Expected<quint64> &r) {
        if (!r)
            promise.resolve(r.error());
        else
            promise.resolve(buffer->data());
    });
    return promise.future();
}

Core::Future<FileInfo> AgentClient::stat(const QString &guestPath)
{
    if (!m_ready)
        return Core::readyFuture<FileInfo>(notReady());
    const quint32 id = allocateStream();
    auto s = std::make_shared<Stream>(Stream::Kind::Stat);
    m_streams.insert(id, s);
    send(MsgType::Stat, id, Protocol::PathRequest{ss(guestPath)}.encode());
    return s->statPromise.future();
}

Core::Future<QList<FileInfo>> AgentClient::list(const QString &guestPath)
{
    if (!m_ready)
        return Core::readyFuture<QList<FileInfo>>(notReady());
    const quint32 id = allocateStream();
    auto s = std::make_shared<Stream>(Stream::Kind::List);
    m_streams.insert(id, s);
    send(MsgType::List, id, Protocol::PathRequest{ss(guestPath)}.encode());
    return s->listPromise.future();
}

Core::Future<Health> AgentClient::health()
{
    if (!m_ready)
        return Core::readyFuture<Health>(notReady());
    const quint32 id = allocateStream();
    auto s = std::make_shared<Stream>(Stream::Kind::Health);
    m_streams.insert(id, s);
    send(MsgType::Health, id, {});
    return s->healthPromise.future();
}

Core::Future<ForwardedStream *> AgentClient::openStream(const QString &host, quint16 port)
{
    if (!m_ready)
        return Core::readyFuture<ForwardedStream *>(notReady());
    if (port == 0 || host.isEmpty())
        return Core::readyFuture<ForwardedStream *>(
            Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("cannot forward to \"%1\" port %2").arg(host).arg(port)));
    const quint32 id = allocateStream();
    const QString peer = (host.contains(QLatin1Char(':')) && !host.startsWith(QLatin1Char('[')) ? QLatin1Char('[') + host + QLatin1Char(']') : host)
        + QLatin1Char(':') + QString::number(port);
    auto s = std::make_shared<Stream>(Stream::Kind::Forward);
    s->forward = new ForwardedStream(this, id, peer);
    m_streams.insert(id, s);
    send(MsgType::StreamOpen, id, Protocol::StreamOpen{ss(host), port}.encode());
    return s->openPromise.future();
}

void AgentClient::queueStreamData(quint32 id, const char *data, qint64 size)
{
    const std::shared_ptr<Stream> s = m_streams.value(id);
    if (!s || s->kind != Stream::Kind::Forward || s->closeAfterFlush || size <= 0)
        return;
    s->outChunks.emplace_back(data, static_cast<qsizetype>(size));
    s->outBytes += size;
    pumpUploads();
}

qint64 AgentClient::streamBytesToWrite(quint32 id) const
{
    const std::shared_ptr<Stream> s = m_streams.value(id);
    return s ? s->outBytes : 0;
}

void AgentClient::closeStream(quint32 id)
{
    const std::shared_ptr<Stream> s = m_streams.value(id);
    if (!s || s->closeAfterFlush)
        return;
    s->closeAfterFlush = true;
    pumpUploads();
}

void AgentClient::abortStream(quint32 id)
{
    if (!m_streams.contains(id))
        return;
    send(MsgType::Cancel, id, {}); // the guest resets its connection
    endStream(id);
}

void AgentClient::streamDrained(quint32 id)
{
    const std::shared_ptr<Stream> s = m_streams.value(id);
    if (!s || !s->blocking || (s->forward && s->forward->bytesAvailable() > ForwardedStream::kReadLowWater))
        return;
    s->blocking = false;
    releaseInputBlock();
}

Core::Future<void> AgentClient::shutdownGuest(bool reboot)
{
    if (!m_ready)
        return Core::readyFuture<void>(notReady());
    send(MsgType::Shutdown, allocateStream(), Protocol::Shutdown{reboot}.encode());
    return Core::readyFuture();
}

} // namespace Agent
