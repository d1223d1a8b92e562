#pragma once

#include "core/expected.h"

#include <QHostAddress>
#include <QObject>
#include <QPointer>
#include <QSet>

class QLocalServer;
class QTcpServer;

namespace Agent {
class AgentClient;
}

namespace Vm {

class ForwardConnection;

// Where a PortForward listens on this host.
struct ForwardListen {
    bool unixSocket = true; // a socket in the VM's runtime directory, mode 0600
    bool tcp = false; // 127.0.0.1 (see tcpAddress)
    quint16 tcpPort = 0; // 0: an ephemeral port
    QHostAddress tcpAddress = QHostAddress(QHostAddress::LocalHost);
};

// A guest TCP port as a local endpoint: every connection accepted on the
// Unix socket and/or the TCP port gets its own forwarded stream to
// guestHost:guestPort inside the guest, and bytes are relayed both ways.
// Each direction stops reading its source while the other side holds more
// than kHighWater bytes not yet sent. The agent protocol has no half-close:
// when either side closes, what was read from it is delivered and the other
// side is closed too. A connection the guest refuses (nothing listening) is
// closed at once and the reason logged and signalled.
class PortForward final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PortForward)
public:
    static constexpr qint64 kHighWater = 1 << 20;
    static constexpr qint64 kRelayChunk = 256 * 1024; // bytes moved per read
    static constexpr qint64 kLocalReadBuffer = 256 * 1024; // Qt's read buffer per local socket

    PortForward(Agent::AgentClient *agent, QString guestHost, quint16 guestPort, QObject *parent = nullptr);
    ~PortForward() override; // stops listening, drops every connection, removes the socket file

    // Listen on a Unix socket at path (mode 0600). An existing file is an
    // error, unless it is a socket nobody listens on (then it is replaced).
    Core::Result listenUnix(const QString &path);
    // Listen on address:port (port 0: ephemeral; see tcpPort()). A port in
    // use is AlreadyExists, one this process may not bind PermissionDenied,
    // an address not of this host InvalidArgument.
    Core::Result listenTcp(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    // Stop listening and drop every connection.
    void close();
    // The guest agent new connections go through (connections already
    // relayed keep theirs). Null: every new connection is closed at once,
    // as when the agent is gone (the VM does not run).
    void setAgent(Agent::AgentClient *agent);
    Agent::AgentClient *agent() const;

    QString guestHost() const { return m_guestHost; }
    quint16 guestPort() const { return m_guestPort; }
    QString unixSocketPath() const; // empty when not listening there
    quint16 tcpPort() const; // 0 when not listening on TCP
    QHostAddress tcpAddress() const;
    int connectionCount() const { return static_cast<int>(m_connections.size()); }

Q_SIGNALS:
    // A local client is connected to the guest port.
    void connectionOpened();
    // A connection ended cleanly (either side closed).
    void connectionClosed();
    // A connection could not be made or broke (refused in the guest, agent
    // lost, guest error); it was closed on this side.
    void connectionFailed(const Core::Error &error);

private:
    friend class ForwardConnection;
    void accept(class QIODevice *local);
    void connectionEnded(ForwardConnection *connection);

    QPointer<Agent::AgentClient> m_agent;
    QString m_guestHost;
    quint16 m_guestPort;
    QLocalServer *m_unixServer = nullptr;
    QString m_unixPath;
    QTcpServer *m_tcpServer = nullptr;
    QSet<ForwardConnection *> m_connections;
};

} // namespace Vm
