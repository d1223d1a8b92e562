// The API docs page (/docs) over HTTP: 401 without a credential; with
// ?token= the page, its security headers (a strict Content-Security-Policy)
// and a docs session cookie that is not the token; that cookie opens the
// page's files and the OpenAPI document, never the API, and only from this
// origin; no viewer cookie opens the docs; only the page's own files exist.

#include "servicefixture.h"

#include "server/docscontroller.h"

#include <QTest>

namespace {

struct Answer {
    int status = 0;
    QByteArray body;
    QHash<QByteArray, QByteArray> headers; // names lowercased
};

} // namespace

class TestDocsPage : public QObject {
    Q_OBJECT

    std::unique_ptr<TestService::Service> m_service;
    QNetworkAccessManager m_nam;
    QByteArray m_docsCookie; // "mvs_docs=<id>", from the page's answer

    // A GET with the headers given (no token unless one is among them).
    Answer get(const QString &path, const QList<std::pair<QByteArray, QByteArray>> &headers = {})
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_service->port()).arg(path)));
        req.setAttribute(QNetworkRequest::CookieSaveControlAttribute, QNetworkRequest::Manual);
        for (const auto &[name, value] : headers)
            req.setRawHeader(name, value);
        QNetworkReply *reply = m_nam.get(req);
        QDeadlineTimer deadline(10000);
        while (!reply->isFinished() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        Answer a;
        a.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        a.body = reply->readAll();
        for (const auto &[name, value] : reply->rawHeaderPairs())
            a.headers.insert(name.toLower(), value);
        reply->deleteLater();
        return a;
    }

    // The headers a same-origin fetch of the page sends with the cookie.
    QList<std::pair<QByteArray, QByteArray>> sameOrigin(const QByteArray &cookie) const
    {
        const QByteArray host = "127.0.0.1:" + QByteArray::number(m_service->port());
        return {{"Cookie", cookie}, {"Origin", "http://" + host}, {"Sec-Fetch-Site", "same-origin"}};
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_service = std::make_unique<TestService::Service>();
        QVERIFY(m_service->port());
    }

    void cleanupTestCase() { m_service.reset(); }

    void unauthorizedWithoutACredential()
    {
        QCOMPARE(get(QStringLiteral("/docs")).status, 401);
        QCOMPARE(get(QStringLiteral("/docs?token=wrong")).status, 401);
        QCOMPARE(get(QStringLiteral("/docs/docs.js")).status, 401);
        QCOMPARE(get(QStringLiteral("/docs/swagger-ui/swagger-ui-bundle.js")).status, 401);
        QCOMPARE(get(QStringLiteral("/docs/docs.js?token=") + QLatin1String(TestService::Service::kToken)).status, 401); // files take no ?token=
        QCOMPARE(get(QStringLiteral("/docs"), {{"Cookie", "mvs_docs=" + QByteArray(TestService::Service::kToken)}}).status, 401);
        // These failures count against this peer (AuthRateLimiter allows
        // kMaxFailures a window); the refusals below start on a new service.
        m_service.reset();
        m_service = std::make_unique<TestService::Service>();
        QVERIFY(m_service->port());
    }

    void thePageWithTheTokenSetsADocsSession()
    {
        const Answer a = get(QStringLiteral("/docs?token=") + QLatin1String(TestService::Service::kToken));
        QCOMPARE(a.status, 200);
        QVERIFY(a.headers.value("content-type").startsWith("text/html"));
        QVERIFY(a.body.contains("/docs/swagger-ui/swagger-ui-bundle.js"));
        QVERIFY(!a.body.contains(TestService::Service::kToken));
        QVERIFY(!a.body.contains("<script>")); // no inline script: the policy forbids it
        QCOMPARE(a.headers.value("content-security-policy"), QByteArray(Server::DocsController::kContentSecurityPolicy));
        QVERIFY(a.headers.value("content-security-policy").contains("default-src 'none'"));
        QVERIFY(a.headers.value("content-security-policy").contains("script-src 'self';"));
        QVERIFY(!a.headers.value("content-security-policy").contains("unsafe"));
        QCOMPARE(a.headers.value("x-content-type-options"), QByteArray("nosniff"));
        QCOMPARE(a.headers.value("referrer-policy"), QByteArray("no-referrer"));
        QCOMPARE(a.headers.value("cache-control"), QByteArray("no-store"));
        const QByteArray setCookie = a.headers.value("set-cookie");
        QVERIFY2(setCookie.startsWith("mvs_docs="), setCookie.constData());
        QVERIFY(setCookie.contains("HttpOnly"));
        QVERIFY(setCookie.contains("SameSite=Strict"));
        QVERIFY(!setCookie.contains(TestService::Service::kToken));
        m_docsCookie = setCookie.left(setCookie.indexOf(';'));
        // The bearer header opens the page too (no session then).
        const Answer bearer = get(QStringLiteral("/docs"), {{"Authorization", "Bearer " + QByteArray(TestService::Service::kToken)}});
        QCOMPARE(bearer.status, 200);
        QVERIFY(!bearer.headers.contains("set-cookie"));
    }

    void theSessionOpensTheDocsOnly()
    {
        QVERIFY(!m_docsCookie.isEmpty());
        const Answer page = get(QStringLiteral("/docs"), sameOrigin(m_docsCookie));
        QCOMPARE(page.status, 200);
        QVERIFY(!page.headers.contains("set-cookie")); // no new session without ?token=
        const Answer bundle = get(QStringLiteral("/docs/swagger-ui/swagger-ui-bundle.js"), sameOrigin(m_docsCookie));
        QCOMPARE(bundle.status, 200);
        QVERIFY(bundle.headers.value("content-type").startsWith("text/javascript"));
        QVERIFY(bundle.body.contains("SwaggerUIBundle"));
        const Answer css = get(QStringLiteral("/docs/swagger-ui/swagger-ui.css"), sameOrigin(m_docsCookie));
        QCOMPARE(css.status, 200);
        QVERIFY(css.headers.value("content-type").startsWith("text/css"));
        QCOMPARE(get(QStringLiteral("/docs/docs.js"), sameOrigin(m_docsCookie)).status, 200);
        QVERIFY(get(QStringLiteral("/docs/swagger-ui/VERSION"), sameOrigin(m_docsCookie)).body.startsWith("swagger-ui-dist "));
        QVERIFY(get(QStringLiteral("/docs/swagger-ui/LICENSE"), sameOrigin(m_docsCookie)).body.contains("Apache License"));
        const Answer doc = get(QStringLiteral("/api/v1/openapi.json"), sameOrigin(m_docsCookie));
        QCOMPARE(doc.status, 200);
        QVERIFY(doc.body.contains("\"openapi\""));

        // Never the API.
        QCOMPARE(get(QStringLiteral("/api/v1/vms"), sameOrigin(m_docsCookie)).status, 401);
        QCOMPARE(get(QStringLiteral("/api/v1/templates"), sameOrigin(m_docsCookie)).status, 401);
        QCOMPARE(get(QStringLiteral("/metrics"), sameOrigin(m_docsCookie)).status, 401);
        QCOMPARE(get(QStringLiteral("/novnc/core/rfb.js"), sameOrigin(m_docsCookie)).status, 401);
        // Only from this origin.
        QList<std::pair<QByteArray, QByteArray>> other = sameOrigin(m_docsCookie);
        other[1].second = "http://127.0.0.1:1";
        QCOMPARE(get(QStringLiteral("/api/v1/openapi.json"), other).status, 401);
        other = sameOrigin(m_docsCookie);
        other[2].second = "same-site";
        QCOMPARE(get(QStringLiteral("/docs/docs.js"), other).status, 401);
    }

    void onlyThePagesOwnFiles()
    {
        const auto bearer = QList<std::pair<QByteArray, QByteArray>>{{"Authorization", "Bearer " + QByteArray(TestService::Service::kToken)}};
        QCOMPARE(get(QStringLiteral("/docs/index.html"), bearer).status, 404);
        QCOMPARE(get(QStringLiteral("/docs/swagger-ui/swagger-ui.js"), bearer).status, 404);
        QCOMPARE(get(QStringLiteral("/docs/../viewer.html"), bearer).status, 404);
        QCOMPARE(get(QStringLiteral("/docs/%2E%2E/viewer.html"), bearer).status, 404);
        const Answer asset = get(QStringLiteral("/docs/docs.js"), bearer);
        QCOMPARE(asset.status, 200);
        QCOMPARE(asset.headers.value("content-security-policy"), QByteArray(Server::DocsController::kContentSecurityPolicy));
        QCOMPARE(asset.headers.value("x-content-type-options"), QByteArray("nosniff"));
    }
};

QTEST_GUILESS_MAIN(TestDocsPage)
#include "tst_docspage.moc"
