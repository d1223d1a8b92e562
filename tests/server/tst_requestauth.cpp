// Who may make a request (RequestAuth, pure): the bearer header, the viewer's
// session cookie only from this origin, the ?token= query, and an empty
// token that opens nothing.

#include "server/requestauth.h"

#include <QTest>

using Server::RequestAuth;

class TestRequestAuth : public QObject {
    Q_OBJECT

    const RequestAuth m_auth{QByteArrayLiteral("s3cret")};

    static RequestAuth::Headers sameOrigin(const QByteArray &cookie)
    {
        return {QByteArrayLiteral("http://127.0.0.1:8000"), QByteArrayLiteral("127.0.0.1:8000"), QByteArrayLiteral("same-origin"), cookie};
    }

private Q_SLOTS:
    void bearerHeader()
    {
        QVERIFY(m_auth.bearer("Bearer s3cret"));
        QVERIFY(m_auth.bearer("bearer s3cret"));
        QVERIFY(m_auth.bearer("  BEARER   s3cret  "));
        QVERIFY(!m_auth.bearer("Bearer s3cre"));
        QVERIFY(!m_auth.bearer("Bearer s3cretX"));
        QVERIFY(!m_auth.bearer("Basic s3cret"));
        QVERIFY(!m_auth.bearer("s3cret"));
        QVERIFY(!m_auth.bearer("Bearer "));
        QVERIFY(!m_auth.bearer(""));
    }

    void cookieFromThisOriginOnly()
    {
        QVERIFY(m_auth.cookie(sameOrigin("mvs_token=s3cret")));
        QVERIFY(m_auth.cookie(sameOrigin("theme=dark; mvs_token=s3cret")));
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_token=wrong")));
        QVERIFY(!m_auth.cookie(sameOrigin("other=s3cret")));
        QVERIFY(!m_auth.cookie(sameOrigin("")));
        // Another port on this host is another origin.
        RequestAuth::Headers h = sameOrigin("mvs_token=s3cret");
        h.origin = "http://127.0.0.1:9999";
        QVERIFY(!m_auth.cookie(h));
        // A cross-site fetch, even without Origin.
        h = sameOrigin("mvs_token=s3cret");
        h.origin.clear();
        h.secFetchSite = "same-site";
        QVERIFY(!m_auth.cookie(h));
        h.secFetchSite = "none"; // typed into the address bar
        QVERIFY(m_auth.cookie(h));
        h.secFetchSite.clear(); // an older client that sends neither
        QVERIFY(m_auth.cookie(h));
    }

    void queryToken()
    {
        QVERIFY(m_auth.queryToken(QStringLiteral("s3cret")));
        QVERIFY(!m_auth.queryToken(QStringLiteral("s3cre")));
        QVERIFY(!m_auth.queryToken(QString()));
    }

    void theSessionCookieIsHttpOnlyAndStrict()
    {
        const QByteArray c = m_auth.sessionCookie();
        QVERIFY(c.startsWith("mvs_token=s3cret;"));
        QVERIFY(c.contains("HttpOnly"));
        QVERIFY(c.contains("SameSite=Strict"));
        QVERIFY(c.contains("Path=/"));
    }

    void anEmptyTokenOpensNothing()
    {
        const RequestAuth open{QByteArray()};
        QVERIFY(!open.bearer("Bearer "));
        QVERIFY(!open.bearer("Bearer x"));
        QVERIFY(!open.cookie(sameOrigin("mvs_token=")));
        QVERIFY(!open.queryToken(QString()));
        QVERIFY(!open.queryToken(QStringLiteral("x")));
    }
};

QTEST_GUILESS_MAIN(TestRequestAuth)
#include "tst_requestauth.moc"
