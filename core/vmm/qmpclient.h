#pragma once

#include "core/async.h"

#include <QHash>
#include <QJsonObject>
#include <QLocalSocket>
#include <QObject>
#include <QTimer>

namespace Vmm {

// QEMU Machine Protocol over a Unix socket: line-delimited JSON, a greeting,
// qmp_capabilities, then commands answered in order (matched by id) and
// asynchronous events. Fully asynchronous; per-command deadline.
class QmpClient final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(QmpClient)
public:
    static constexpr int kCommandTimeoutMs = 10000;
    // One QMP message (a line) at most; QEMU's longest answer, the QMP
    // schema, is well under 1 MiB. A longer one ends the connection, so a
    // QEMU that never ends its line cannot make the client buffer forever.
    static constexpr qsizetype kMaxMessageBytes = 16 << 20;

    explicit QmpClient(QObject *parent = nullptr);
    ~QmpClient() override;

    // Connect and negotiate capabilities. Resolves when commands can be sent.
    Core::Future<void> connectTo(const QString &socketPath);
    bool isReady() const { return m_ready; }
    // From the greeting: "major.minor.micro" (empty before it).
    QString qemuVersion() const { return m_qemuVersion; }

    // Resolves with the command's "return" value (an object, or {"return": v}
    // wrapped when QEMU returns a non-object), or VmmApi with QEMU's error.
    Core::Future<QJsonObject> execute(const QString &command, const QJsonObject &arguments = {}, int timeoutMs = kCommandTimeoutMs);
    // Like execute(), with a file descriptor attached to the command's bytes
    // (SCM_RIGHTS), as QMP's getfd and add-fd expect. The descriptor is
    // duplicated into QEMU; the caller keeps (and closes) its own.
    Core::Future<QJsonObject> executeWithFd(const QString &command, const QJsonObject &arguments, int fd, int timeoutMs = kCommandTimeoutMs);
    // Pending and later commands fail with Cancelled, or with why.
    void close();
    void close(const Core::Error &why);

Q_SIGNALS:
    void qmpEvent(const QString &name, const QJsonObject &data); // "event" would hide QObject::event
    void disconnected();

private:
    struct Pending {
        Core::Promise<QJsonObject> promise;
        QTimer *timer = nullptr;
    };
    Core::Future<QJsonObject> send(const QString &command, const QJsonObject &arguments, int fd, int timeoutMs);
    Core::Result writeWithFd(const QByteArray &bytes, int fd);
    void onReadyRead();
    void handleMessage(const QJsonObject &msg);
    void failAll(const Core::Error &error);

    QLocalSocket *m_socket = nullptr;
    QByteArray m_buffer;
    bool m_greeted = false;
    QString m_qemuVersion;
    bool m_ready = false;
    quint64 m_nextId = 1;
    QHash<QString, Pending> m_pending;
    Core::Promise<void> m_connectPromise;
};

} // namespace Vmm
