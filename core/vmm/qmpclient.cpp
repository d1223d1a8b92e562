#include "core/vmm/qmpclient.h"

#include <QJsonDocument>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/uio.h>

namespace Vmm {

QmpClient::QmpClient(QObject *parent)
    : QObject(parent)
{
}

QmpClient::~QmpClient()
{
    close();
}

Core::Future<void> QmpClient::connectTo(const QString &socketPath)
{
    close();
    m_connectPromise = Core::Promise<void>();
    m_socket = new QLocalSocket(this);
    connect(m_socket, &QLocalSocket::readyRead, this, &QmpClient::onReadyRead);
    connect(m_socket, &QLocalSocket::errorOccurred, this, [this](QLocalSocket::LocalSocketError) {
        const Core::Error e(Core::ErrorCode::VmmFailed, QStringLiteral("QMP socket: %1").arg(m_socket->errorString()));
        m_connectPromise.resolve(e);
    });
    connect(m_socket, &QLocalSocket::disconnected, this, [this]() {
        m_ready = false;
        const Core::Error e(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU closed the QMP connection"));
        m_connectPromise.resolve(e);
        failAll(e);
        Q_EMIT disconnected();
    });
    m_socket->connectToServer(socketPath);
    return m_connectPromise.future();
}

void QmpClient::close()
{
    close(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("QMP connection closed")));
}

void QmpClient::close(const Core::Error &why)
{
    if (!m_socket)
        return;
    m_socket->disconnect(this);
    m_socket->abort();
    m_socket->deleteLater();
    m_socket = nullptr;
    m_buffer.clear();
    m_greeted = false;
    m_ready = false;
    m_connectPromise.resolve(why); // a connect still waiting for QEMU's greeting
    failAll(why);
}

Core::Future<QJsonObject> QmpClient::execute(const QString &command, const QJsonObject &arguments, int timeoutMs)
{
    return send(command, arguments, -1, timeoutMs);
}

Core::Future<QJsonObject> QmpClient::executeWithFd(const QString &command, const QJsonObject &arguments, int fd, int timeoutMs)
{
    if (fd < 0)
        return Core::readyFuture<QJsonObject>(Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("no file descriptor to pass to QEMU")));
    return send(command, arguments, fd, timeoutMs);
}

// QLocalSocket cannot send ancillary data: the command goes out with one
// sendmsg() on its descriptor, after anything QLocalSocket still buffers (so
// commands stay in order). A short write leaves the rest to QLocalSocket; the
// descriptor travels with the first byte.
Core::Result QmpClient::writeWithFd(const QByteArray &bytes, int fd)
{
    m_socket->flush();
    if (m_socket->bytesToWrite() > 0 && !m_socket->waitForBytesWritten(kCommandTimeoutMs))
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("QEMU does not read its QMP socket"));
    iovec iov{const_cast<char *>(bytes.constData()), static_cast<size_t>(bytes.size())};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t sent;
    do {
        sent = ::sendmsg(static_cast<int>(m_socket->socketDescriptor()), &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0)
        return Core::Error(Core::ErrorCode::VmmFailed,
                           QStringLiteral("cannot pass a file descriptor to QEMU: %1").arg(QString::fromLocal8Bit(std::strerror(errno))));
    if (sent < bytes.size())
        m_socket->write(bytes.mid(sent));
    return {};
}

Core::Future<QJsonObject> QmpClient::send(const QString &command, const QJsonObject &arguments, int fd, int timeoutMs)
{
    Core::Promise<QJsonObject> promise;
    if (!m_socket || !m_greeted) {
        promise.fail(Core::ErrorCode::VmmFailed, QStringLiteral("QMP is not connected"));
        return promise.future();
    }
    const QString id = QString::number(m_nextId++);
    QJsonObject msg{{QStringLiteral("execute"), command}, {QStringLiteral("id"), id}};
    if (!arguments.isEmpty())
        msg.insert(QStringLiteral("arguments"), arguments);
    Pending p;
    p.promise = promise;
    p.timer = new QTimer(this);
    p.timer->setSingleShot(true);
    connect(p.timer, &QTimer::timeout, this, [this, id, command]() {
        auto it = m_pending.find(id);
        if (it == m_pending.end())
            return;
        it->promise.fail(Core::ErrorCode::Timeout, QStringLiteral("QEMU did not answer '%1' in time").arg(command));
        it->timer->deleteLater();
        m_pending.erase(it);
    });
    const QByteArray bytes = QJsonDocument(msg).toJson(QJsonDocument::Compact) + '\n';
    if (fd >= 0) {
        if (auto ok = writeWithFd(bytes, fd); !ok) {
            p.timer->deleteLater();
            promise.resolve(ok.error());
            return promise.future();
        }
    } else {
        m_socket->write(bytes);
    }
    p.timer->start(timeoutMs);
    m_pending.insert(id, p);
    return promise.future();
}

void QmpClient::onReadyRead()
{
    m_buffer += m_socket->readAll();
    qsizetype nl;
    while ((nl = m_buffer.indexOf('\n')) >= 0) {
        const QByteArray line = m_buffer.left(nl).trimmed();
        m_buffer.remove(0, nl + 1);
        if (line.isEmpty())
            continue;
        QJsonParseError err;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &err);
        if (!doc.isObject())
            continue; // QEMU only sends objects; ignore anything else
        handleMessage(doc.object());
    }
    if (m_buffer.size() > kMaxMessageBytes) {
        const Core::Error e(Core::ErrorCode::VmmFailed, QStringLiteral("QEMU sent a QMP message over %1 bytes").arg(kMaxMessageBytes));
        m_connectPromise.resolve(e);
        failAll(e);
        close();
    }
}

void QmpClient::handleMessage(const QJsonObject &msg)
{
    if (!m_greeted) {
        if (!msg.contains(QStringLiteral("QMP")))
            return;
        m_greeted = true;
        const QJsonObject v = msg.value(QStringLiteral("QMP")).toObject().value(QStringLiteral("version")).toObject().value(QStringLiteral("qemu")).toObject();
        m_qemuVersion = QStringLiteral("%1.%2.%3")
                            .arg(v.value(QStringLiteral("major")).toInt())
                            .arg(v.value(QStringLiteral("minor")).toInt())
                            .arg(v.value(QStringLiteral("micro")).toInt());
        execute(QStringLiteral("qmp_capabilities")).then(this, [this](const Core::Expected<QJsonObject> &r) {
            if (!r) {
                m_connectPromise.resolve(r.error());
                return;
            }
            m_ready = true;
            m_connectPromise.resolve({});
        });
        return;
    }
    if (msg.contains(QStringLiteral("event"))) {
        Q_EMIT qmpEvent(msg.value(QStringLiteral("event")).toString(), msg.value(QStringLiteral("data")).toObject());
        return;
    }
    const QString id = msg.value(QStringLiteral("id")).toString();
    auto it = m_pending.find(id);
    if (it == m_pending.end())
        return;
    Pending p = *it;
    m_pending.erase(it);
    p.timer->stop();
    p.timer->deleteLater();
    if (msg.contains(QStringLiteral("error"))) {
        const QJsonObject e = msg.value(QStringLiteral("error")).toObject();
        p.promise.fail(Core::ErrorCode::VmmApi, QStringLiteral("QEMU: %1").arg(e.value(QStringLiteral("desc")).toString()));
        return;
    }
    const QJsonValue ret = msg.value(QStringLiteral("return"));
    p.promise.resolve(ret.isObject() ? ret.toObject() : QJsonObject{{QStringLiteral("return"), ret}});
}

void QmpClient::failAll(const Core::Error &error)
{
    const auto pending = m_pending;
    m_pending.clear();
    for (const Pending &p : pending) {
        p.timer->stop();
        p.timer->deleteLater();
        p.promise.resolve(error);
    }
}

} // namespace Vmm
