#pragma once
// A blocking call to the API service, for the suites that drive it over
// HTTP: the event loop runs while it waits, so the service may live in the
// same process. JSON bodies; the answer's JSON is parsed when there is some.

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>

namespace TestApi {

struct Reply {
    int status = 0; // 0: no answer in time
    QByteArray body;
    QJsonObject json;
    QHash<QByteArray, QByteArray> headers; // names in lower case

    QString errorCode() const { return json[QStringLiteral("error")][QStringLiteral("code")].toString(); }
    QString describe() const { return QStringLiteral("HTTP %1 %2").arg(status).arg(QString::fromUtf8(body.left(800))); }
};

// token empty: no Authorization header.
inline Reply call(QNetworkAccessManager &nam, quint16 port, const QByteArray &token, const QByteArray &method, const QString &path, const QByteArray &body = {},
                  int timeoutMs = 60000)
{
    QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)));
    if (!token.isEmpty())
        req.setRawHeader("Authorization", QByteArrayLiteral("Bearer ") + token);
    if (!body.isEmpty())
        req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QNetworkReply *reply = nam.sendCustomRequest(req, method, body);
    QDeadlineTimer deadline(timeoutMs);
    while (!reply->isFinished() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    if (!reply->isFinished())
        reply->abort();
    Reply r;
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.body = reply->readAll();
    r.json = QJsonDocument::fromJson(r.body).object();
    for (const auto &[name, value] : reply->rawHeaderPairs())
        r.headers.insert(name.toLower(), value);
    reply->deleteLater();
    return r;
}

} // namespace TestApi
