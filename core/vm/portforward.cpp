#include "core/vm/portforward.h"

#include "core/agent/agentclient.h"
#include "core/async.h"
#include "core/log.h"

#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTcpServer>
#include <QTcpSocket>

#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace Vm {

namespace {

// True when something accepts connections on the Unix socket at path.
bool unixSocketInUse(const QString &path)
{
    const QByteArray native = QFile::encodeName(path);
    sockaddr_un addr{};
    if (native.size() >= static_cast<qsizetype>(sizeof addr.sun_path))
        return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, native.constData(), static_cast<size_t>(native.size()));
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    const bool inUse = ::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) == 0;
    ::close(fd);
    return inUse;
}

} // namespace

// One accepted local connection and its stream to the guest. The local
// socket is read only while the stream has room, and the stream only while
// the local socket has room; each end closes once the other ended and
// everything read from it was delivered.
class ForwardConnection final : public QObject {
public:
    ForwardConnection(PortForward *owner, QIODevice *local, QString localName)
        : QObject(owner)
        , m_owner(owner)
        , m_local(local)
        , m_localName(std::move(localName))
    {
        local->setParent(this);
        connect(local, &QIODevice::readyRead, this, &ForwardConnection::pumpToGuest);
        connect(local, &QIODevice::bytesWritten, this, &ForwardConnection::pumpToLocal);
        if (auto *s = qobject_cast<QLocalSocket *>(local))
            connect(s, &QLocalSocket::disconnected, this, &ForwardConnection::onLocalGone);
        else if (auto *t = qobject_cast<QAbstractSocket *>(local))
            connect(t, &QAbstractSocket::disconnected, this, &ForwardConnection::onLocalGone);
    }

    void start(Agent::AgentClient *agent)
    {
        const QString target = QStringLiteral("%1:%2").arg(m_owner->guestHost()).arg(m_owner->guestPort());
        if (!agent || !agent->isReady()) {
            fail(Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("cannot reach %1 in the guest: the guest agent is not connected").arg(target)));
            return;
        }
        const QPointer<ForwardConnection> self(this);
        Core::whenDone(agent->openStream(m_owner->guestHost(), m_owner->guestPort()), agent, [self](const Core::Expected<Agent::ForwardedStream *> &r) {
            if (self) {
                self->onOpened(r);
            } else if (r) { // the local side went away meanwhile
                (*r)->abort();
                (*r)->deleteLater();
            }
        });
    }

    // PortForward is closing: end both sides now.
    void abortAll()
    {
        m_finished = true;
        if (m_stream)
            m_stream->abort();
        if (auto *s = qobject_cast<QLocalSocket *>(m_local))
            s->abort();
        else if (auto *t = qobject_cast<QAbstractSocket *>(m_local))
            t->abort();
    }

private:
    void onOpened(const Core::Expected<Agent::ForwardedStream *> &r)
    {
        if (!r) {
            fail(r.error());
            return;
        }
        m_stream = *r;
        m_stream->setParent(this);
        connect(m_stream, &QIODevice::readyRead, this, &ForwardConnection::pumpToLocal);
        connect(m_stream, &QIODevice::bytesWritten, this, &ForwardConnection::pumpToGuest);
        connect(m_stream, &Agent::ForwardedStream::disconnected, this, &ForwardConnection::onStreamEnded);
        Core::Log::core()->debug("port forward {} -> guest {}: connected", m_localName.toStdString(), m_stream->peerName().toStdString());
        Q_EMIT m_owner->connectionOpened();
        pumpToGuest();
        if (m_stream && m_stream->state() == Agent::ForwardedStream::State::Closed)
            onStreamEnded(); // ended before we were told it opened
        else
            pumpToLocal();
    }

    void pumpToGuest()
    {
        if (!m_stream || m_stream->state() != Agent::ForwardedStream::State::Open)
            return;
        while (m_local->bytesAvailable() > 0 && m_stream->bytesToWrite() < PortForward::kHighWater) {
            const QByteArray data = m_local->read(PortForward::kRelayChunk);
            if (data.isEmpty())
                break;
            m_stream->write(data);
        }
        if (m_localGone && m_local->bytesAvailable() == 0)
            m_stream->close(); // what was queued still goes out
    }

    void pumpToLocal()
    {
        if (!m_stream || m_localClosing || m_localGone)
            return;
        while (m_stream->bytesAvailable() > 0 && m_local->bytesToWrite() < PortForward::kHighWater) {
            const QByteArray data = m_stream->read(PortForward::kRelayChunk);
            if (data.isEmpty())
                break;
            m_local->write(data);
        }
        if (m_streamEnded && m_stream->bytesAvailable() == 0)
            closeLocal();
    }

    void onLocalGone()
    {
        if (m_localGone)
            return;
        m_localGone = true;
        pumpToGuest();
        maybeFinish();
    }

    void onStreamEnded()
    {
        m_streamEnded = true;
        if (m_stream->hasError() && !m_failed) {
            m_failed = true;
            m_error = m_stream->error();
            Core::Log::core()->warn("port forward {} -> guest {}: {}", m_localName.toStdString(), m_stream->peerName().toStdString(),
                                    m_error.message.toStdString());
        }
        if (m_localGone)
            maybeFinish();
        else
            pumpToLocal();
    }

    void fail(const Core::Error &error)
    {
        m_failed = true;
        m_error = error;
        m_streamEnded = true;
        Core::Log::core()->warn("port forward {} -> guest {}:{}: {}", m_localName.toStdString(), m_owner->guestHost().toStdString(), m_owner->guestPort(),
                                error.message.toStdString());
        closeLocal();
        maybeFinish();
    }

    void closeLocal()
    {
        if (m_localClosing)
            return;
        m_localClosing = true;
        // Both flush what is queued before closing.
        if (auto *s = qobject_cast<QLocalSocket *>(m_local)) {
            s->disconnectFromServer();
            if (s->state() == QLocalSocket::UnconnectedState)
                m_localGone = true;
        } else if (auto *t = qobject_cast<QAbstractSocket *>(m_local)) {
            t->disconnectFromHost();
            if (t->state() == QAbstractSocket::UnconnectedState)
                m_localGone = true;
        }
        maybeFinish();
    }

    void maybeFinish()
    {
        if (m_finished || !m_localGone || !m_streamEnded)
            return;
        m_finished = true;
        m_owner->connectionEnded(this);
        if (m_failed)
            Q_EMIT m_owner->connectionFailed(m_error);
        else
            Q_EMIT m_owner->connectionClosed();
        deleteLater();
    }

    PortForward *m_owner;
    QIODevice *m_local;
    QString m_localName;
    QPointer<Agent::ForwardedStream> m_stream;
    bool m_localGone = false; // the local peer closed, or we closed it
    bool m_localClosing = false; // we are closing it
    bool m_streamEnded = false; // the stream ended, or never opened
    bool m_finished = false;
    bool m_failed = false;
    Core::Error m_error;
};

PortForward::PortForward(Agent::AgentClient *agent, QString guestHost, quint16 guestPort, QObject *parent)
    : QObject(parent)
    , m_agent(agent)
    , m_guestHost(std::move(guestHost))
    , m_guestPort(guestPort)
{
}

PortForward::~PortForward()
{
    close();
}

Core::Result PortForward::listenUnix(const QString &path)
{
    if (m_unixServer)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("already listening on %1").arg(m_unixPath));
    const QFileInfo info(path);
    if (info.exists() || info.isSymLink()) {
        struct stat st { };
        const bool isSocket = ::lstat(QFile::encodeName(path).constData(), &st) == 0 && S_ISSOCK(st.st_mode);
        if (!isSocket || unixSocketInUse(path))
            return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("cannot listen on %1: it exists").arg(path));
        QFile::remove(path); // a stale socket
    }
    auto *server = new QLocalServer(this);
    server->setSocketOptions(QLocalServer::UserAccessOption);
    if (!server->listen(path)) {
        const Core::Error e(Core::ErrorCode::Io, QStringLiteral("cannot listen on %1: %2").arg(path, server->errorString()));
        delete server;
        return e;
    }
    ::chmod(QFile::encodeName(path).constData(), 0600);
    connect(server, &QLocalServer::newConnection, this, [this, server]() {
        while (QLocalSocket *s = server->nextPendingConnection()) {
            s->setReadBufferSize(kLocalReadBuffer);
            accept(s);
        }
    });
    m_unixServer = server;
    m_unixPath = path;
    return {};
}

Core::Result PortForward::listenTcp(const QHostAddress &address, quint16 port)
{
    if (m_tcpServer)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("already listening on port %1").arg(m_tcpServer->serverPort()));
    auto *server = new QTcpServer(this);
    if (!server->listen(address, port)) {
        Core::ErrorCode code = Core::ErrorCode::Io;
        if (server->serverError() == QAbstractSocket::AddressInUseError)
            code = Core::ErrorCode::AlreadyExists;
        else if (server->serverError() == QAbstractSocket::SocketAccessError)
            code = Core::ErrorCode::PermissionDenied;
        else if (server->serverError() == QAbstractSocket::SocketAddressNotAvailableError)
            code = Core::ErrorCode::InvalidArgument;
        const Core::Error e(code, QStringLiteral("cannot listen on %1 port %2: %3").arg(address.toString()).arg(port).arg(server->errorString()));
        delete server;
        return e;
    }
    connect(server, &QTcpServer::newConnection, this, [this, server]() {
        while (QTcpSocket *s = server->nextPendingConnection()) {
            s->setReadBufferSize(kLocalReadBuffer);
            s->setSocketOption(QAbstractSocket::LowDelayOption, 1);
            accept(s);
        }
    });
    m_tcpServer = server;
    return {};
}

void PortForward::close()
{
    if (m_unixServer) {
        m_unixServer->close(); // removes the socket file
        delete m_unixServer;
        m_unixServer = nullptr;
        m_unixPath.clear();
    }
    if (m_tcpServer) {
        delete m_tcpServer;
        m_tcpServer = nullptr;
    }
    const auto connections = std::exchange(m_connections, {});
    for (ForwardConnection *c : connections) {
        c->abortAll();
        delete c;
    }
}

void PortForward::setAgent(Agent::AgentClient *agent)
{
    m_agent = agent;
}

Agent::AgentClient *PortForward::agent() const
{
    return m_agent;
}

QString PortForward::unixSocketPath() const
{
    return m_unixPath;
}

quint16 PortForward::tcpPort() const
{
    return m_tcpServer ? m_tcpServer->serverPort() : 0;
}

QHostAddress PortForward::tcpAddress() const
{
    return m_tcpServer ? m_tcpServer->serverAddress() : QHostAddress();
}

void PortForward::accept(QIODevice *local)
{
    QString name;
    if (auto *t = qobject_cast<QTcpSocket *>(local))
        name = QStringLiteral("%1:%2").arg(t->peerAddress().toString()).arg(t->peerPort());
    else
        name = m_unixPath;
    auto *c = new ForwardConnection(this, local, name);
    m_connections.insert(c);
    c->start(m_agent);
}

void PortForward::connectionEnded(ForwardConnection *connection)
{
    m_connections.remove(connection);
}

} // namespace Vm
