#pragma once
// A small client of the service's REST API (v1): one request, one future.
// The CLI (`vm`, `template`) and the MCP server use it; nothing here blocks.

#include "core/async.h"

#include <QByteArray>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QObject>
#include <QUrl>

namespace App {

class ServiceClient final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ServiceClient)
public:
    static constexpr int kDefaultTimeoutMs = 600000;

    // Where the service is and how to talk to it.
    struct Endpoint {
        QUrl url;
        QByteArray token;
        QString tokenSource; // "--token", "MVS_TOKEN" or the token file's path
    };
    // url/token: the flags (empty: not given); then MVS_URL/MVS_TOKEN; then
    // http://127.0.0.1:8000 and the token file in the config directory.
    static Endpoint resolve(const QString &url, const QString &token);

    explicit ServiceClient(Endpoint endpoint, QObject *parent = nullptr);
    ~ServiceClient() override;

    const Endpoint &endpoint() const { return m_endpoint; }

    // JSON routes: the reply's object ({} for a 204). Errors carry the service's message;
    // an unreachable service and a refused token get their own one-liners.
    Core::Future<QJsonObject> getJson(const QString &path, int timeoutMs = kDefaultTimeoutMs);
    Core::Future<QJsonObject> postJson(const QString &path, const QJsonObject &body, int timeoutMs = kDefaultTimeoutMs);
    Core::Future<QJsonObject> patchJson(const QString &path, const QJsonObject &body, int timeoutMs = kDefaultTimeoutMs);
    Core::Future<QJsonObject> putJson(const QString &path, const QJsonObject &body, int timeoutMs = kDefaultTimeoutMs);
    Core::Future<QJsonObject> deleteJson(const QString &path, int timeoutMs = kDefaultTimeoutMs);
    // Raw bodies (files, console). A body above maxBytes (0: no cap) is
    // refused (InvalidArgument, detail kTooLargeDetail) as soon as its
    // Content-Length, or what arrived, says so: the rest is never read.
    static constexpr int kTooLargeDetail = -2;
    Core::Future<QByteArray> getBytes(const QString &path, int timeoutMs = kDefaultTimeoutMs, qint64 maxBytes = 0);
    Core::Future<QJsonObject> putBytes(const QString &path, const QByteArray &body, int timeoutMs = kDefaultTimeoutMs);

    // "/api/v1/vms/NAME/files?path=..." with the parts encoded.
    static QString vmPath(const QString &name, const QString &rest = QString());
    static QString filesPath(const QString &name, const QString &guestPath);
    // "/api/v1/vms/NAME/snapshots[/SNAP[/REST]]"
    static QString snapshotPath(const QString &name, const QString &snapshot = QString(), const QString &rest = QString());

    // True when the error says nothing answered at the URL.
    static bool isUnreachable(const Core::Error &error);

private:
    Core::Future<QByteArray> send(const QByteArray &method, const QString &path, const QByteArray &body, const QByteArray &contentType, int timeoutMs,
                                  qint64 maxBytes = 0);
    Core::Future<QJsonObject> sendJson(const QByteArray &method, const QString &path, const QByteArray &body, const QByteArray &contentType, int timeoutMs);

    // Fails promise and aborts reply once its body passes maxBytes.
    static void refuseAbove(QNetworkReply *reply, qint64 maxBytes, Core::Promise<QByteArray> promise);

    Endpoint m_endpoint;
    QNetworkAccessManager m_nam;
};

} // namespace App
