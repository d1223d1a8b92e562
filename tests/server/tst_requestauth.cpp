// Who may make a request (RequestAuth, a test clock): the bearer header, a
// viewer session's cookie (one VM's display, only from this origin, short
// lived, never the token), the docs page's session cookie (the docs only,
// not a viewer's and no viewer's works for it), the ?token= query, and an
// empty token that opens nothing.

#include "server/requestauth.h"
#include "server/tokenregistry.h"

#include <QTest>

using Server::RequestAuth;
using Server::RouteFlags;

class TestRequestAuth : public QObject {
    Q_OBJECT

    qint64 m_now = 1'800'000'000'000;
    RequestAuth m_auth{QByteArrayLiteral("s3cret"), [this] { return m_now; }};

    // The cookie pair ("name=value") a viewer session's Set-Cookie carries.
    static QByteArray pairOf(const QByteArray &setCookie) { return setCookie.left(setCookie.indexOf(';')); }

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
        const QByteArray box = pairOf(m_auth.openViewerSession(QStringLiteral("box")));
        QVERIFY(m_auth.cookie(sameOrigin(box), QStringLiteral("box")));
        QVERIFY(m_auth.cookie(sameOrigin("theme=dark; " + box), QStringLiteral("box")));
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_view_box=wrong"), QStringLiteral("box")));
        QVERIFY(!m_auth.cookie(sameOrigin("other=" + box.mid(box.indexOf('=') + 1)), QStringLiteral("box")));
        QVERIFY(!m_auth.cookie(sameOrigin(""), QStringLiteral("box")));
        // Another port on this host is another origin.
        RequestAuth::Headers h = sameOrigin(box);
        h.origin = "http://127.0.0.1:9999";
        QVERIFY(!m_auth.cookie(h, QStringLiteral("box")));
        // A cross-site fetch, even without Origin.
        h = sameOrigin(box);
        h.origin.clear();
        h.secFetchSite = "same-site";
        QVERIFY(!m_auth.cookie(h, QStringLiteral("box")));
        h.secFetchSite = "none"; // typed into the address bar
        QVERIFY(m_auth.cookie(h, QStringLiteral("box")));
        h.secFetchSite.clear(); // an older client that sends neither
        QVERIFY(m_auth.cookie(h, QStringLiteral("box")));
    }

    // The token itself is no cookie; a session opens its VM's display and the
    // shared viewer assets, not another VM's.
    void aSessionIsOneVmsAndNotTheToken()
    {
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_view_box=s3cret"), QStringLiteral("box")));
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_token=s3cret"), QStringLiteral("box")));
        const QByteArray box = pairOf(m_auth.openViewerSession(QStringLiteral("box")));
        QVERIFY(!box.contains("s3cret"));
        QVERIFY(m_auth.cookie(sameOrigin(box), QString())); // /novnc/ assets
        QVERIFY(!m_auth.cookie(sameOrigin(box), QStringLiteral("other")));
        // The same id under the other VM's cookie name is still box's session.
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_view_other=" + box.mid(box.indexOf('=') + 1)), QStringLiteral("other")));
        const QByteArray other = pairOf(m_auth.openViewerSession(QStringLiteral("other")));
        QVERIFY(m_auth.cookie(sameOrigin(box + "; " + other), QStringLiteral("other")));
        QVERIFY(m_auth.cookie(sameOrigin(box + "; " + other), QStringLiteral("box")));
        QVERIFY(box != other);
    }

    // A session made from a scoped token carries its role and glob, and ends
    // with the token (revoked, or expired).
    void aSessionEndsWithItsToken()
    {
        QDateTime now = QDateTime::currentDateTimeUtc();
        Server::TokenRegistry tokens(QString(), QByteArray(), [&now] { return now; });
        RequestAuth auth(&tokens, QByteArrayLiteral("s3cret"), [this] { return m_now; });
        auto viewer = tokens.create({Server::Role::Viewer, QStringLiteral("ci-*"), 3600, {}});
        QVERIFY(viewer);
        const std::optional<Server::Principal> caller = auth.queryToken(QString::fromLatin1(viewer->secret));
        QVERIFY(caller);
        const QByteArray session = pairOf(auth.openViewerSession(QStringLiteral("ci-1"), *caller));
        const std::optional<Server::Principal> viaCookie = auth.cookie(sameOrigin(session), QStringLiteral("ci-1"));
        QVERIFY(viaCookie);
        QVERIFY(viaCookie->role == Server::Role::Viewer);
        QCOMPARE(viaCookie->vmGlob, QStringLiteral("ci-*"));
        now = now.addSecs(3600);
        QVERIFY(!auth.cookie(sameOrigin(session), QStringLiteral("ci-1")));
        now = now.addSecs(-3600);
        QVERIFY(auth.cookie(sameOrigin(session), QStringLiteral("ci-1")));
        QVERIFY(tokens.revoke(viewer->token.id));
        auth.tokenRevoked(viewer->token.id);
        QVERIFY(!auth.cookie(sameOrigin(session), QStringLiteral("ci-1")));
        // The admin token's sessions are the admin's.
        const QByteArray admin = pairOf(auth.openViewerSession(QStringLiteral("box")));
        QCOMPARE(auth.cookie(sameOrigin(admin), QStringLiteral("box"))->tokenId, Server::Principal::kAdminTokenId);
    }

    // Idle for an hour, or twelve hours old whatever the use: gone.
    void sessionsAreShortLived()
    {
        const QByteArray idle = pairOf(m_auth.openViewerSession(QStringLiteral("box")));
        m_now += Server::ViewerSessions::kIdleLifetimeMs - 1000;
        QVERIFY(m_auth.cookie(sameOrigin(idle), QStringLiteral("box"))); // a use keeps it alive
        m_now += Server::ViewerSessions::kIdleLifetimeMs + 1;
        QVERIFY(!m_auth.cookie(sameOrigin(idle), QStringLiteral("box")));

        const QByteArray busy = pairOf(m_auth.openViewerSession(QStringLiteral("box")));
        const qint64 opened = m_now;
        while (m_now - opened < Server::ViewerSessions::kMaxLifetimeMs - Server::ViewerSessions::kIdleLifetimeMs) {
            m_now += Server::ViewerSessions::kIdleLifetimeMs / 2;
            QVERIFY(m_auth.cookie(sameOrigin(busy), QStringLiteral("box")));
        }
        m_now = opened + Server::ViewerSessions::kMaxLifetimeMs + 1;
        QVERIFY(!m_auth.cookie(sameOrigin(busy), QStringLiteral("box")));
    }

    // The table is bounded: the oldest session makes room.
    void sessionsAreBounded()
    {
        Server::ViewerSessions sessions;
        const QByteArray first = sessions.open(QStringLiteral("box"), 1);
        for (int i = 1; i < Server::ViewerSessions::kMaxSessions + 10; ++i)
            sessions.open(QStringLiteral("box"), 1 + i);
        QCOMPARE(sessions.size(), Server::ViewerSessions::kMaxSessions);
        QVERIFY(!sessions.use(first, QStringLiteral("box"), 1000));
    }

    // The docs page's sessions are their own: a docs cookie opens the docs
    // routes only, a viewer's cookie never opens them, and neither is the token.
    void docsSessionsAreScopedToTheDocs()
    {
        const QByteArray setCookie = m_auth.openDocsSession();
        QVERIFY(setCookie.startsWith("mvs_docs="));
        QVERIFY(setCookie.contains("; HttpOnly; SameSite=Strict"));
        QVERIFY(setCookie.contains("Max-Age=43200"));
        const QByteArray docs = pairOf(setCookie);
        QVERIFY(!docs.contains("s3cret"));
        QVERIFY(m_auth.docsCookie(sameOrigin(docs)));
        QVERIFY(m_auth.docsCookie(sameOrigin("theme=dark; " + docs)));
        QVERIFY(!m_auth.docsCookie(sameOrigin("mvs_docs=s3cret")));
        QVERIFY(!m_auth.docsCookie(sameOrigin("mvs_docs=wrong")));
        // From another origin of this host: refused, as a viewer's.
        RequestAuth::Headers h = sameOrigin(docs);
        h.origin = "http://127.0.0.1:9999";
        QVERIFY(!m_auth.docsCookie(h));
        // A docs session is no viewer session, by either name.
        const QByteArray id = docs.mid(docs.indexOf('=') + 1);
        QVERIFY(!m_auth.cookie(sameOrigin(docs), QString()));
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_view_box=" + id), QStringLiteral("box")));
        QVERIFY(!m_auth.cookie(sameOrigin("mvs_view_=" + id), QString()));
        // A viewer session is no docs session, by either name.
        const QByteArray box = pairOf(m_auth.openViewerSession(QStringLiteral("box")));
        QVERIFY(!m_auth.docsCookie(sameOrigin(box)));
        QVERIFY(!m_auth.docsCookie(sameOrigin("mvs_docs=" + box.mid(box.indexOf('=') + 1))));
    }

    // What a route declares decides which session its cookie must be.
    void routeCookieFollowsTheRoutesSession()
    {
        const QByteArray docs = pairOf(m_auth.openDocsSession());
        const QByteArray box = pairOf(m_auth.openViewerSession(QStringLiteral("box")));
        const RouteFlags docsRoute{.cookieOk = true, .session = RouteFlags::Session::Docs};
        const RouteFlags viewerRoute{.cookieOk = true};
        const RouteFlags apiRoute{};
        QVERIFY(m_auth.routeCookie(docsRoute, sameOrigin(docs), QString()));
        QVERIFY(!m_auth.routeCookie(docsRoute, sameOrigin(box), QString()));
        QVERIFY(m_auth.routeCookie(viewerRoute, sameOrigin(box), QStringLiteral("box")));
        QVERIFY(!m_auth.routeCookie(viewerRoute, sameOrigin(docs), QStringLiteral("box")));
        QVERIFY(!m_auth.routeCookie(viewerRoute, sameOrigin(docs), QString()));
        QVERIFY(!m_auth.routeCookie(apiRoute, sameOrigin(docs + "; " + box), QStringLiteral("box")));
        QVERIFY(m_auth.openSession(docsRoute, QString()).startsWith("mvs_docs="));
        QVERIFY(m_auth.openSession(viewerRoute, QStringLiteral("box")).startsWith("mvs_view_box="));
    }

    void queryToken()
    {
        QVERIFY(m_auth.queryToken(QStringLiteral("s3cret")));
        QVERIFY(!m_auth.queryToken(QStringLiteral("s3cre")));
        QVERIFY(!m_auth.queryToken(QString()));
    }

    void theViewerCookieIsHttpOnlyStrictAndExpires()
    {
        const QByteArray c = m_auth.openViewerSession(QStringLiteral("box"));
        QVERIFY(c.startsWith("mvs_view_box="));
        QCOMPARE(c.left(c.indexOf(';')).size(), qsizetype(13 + 2 * Server::ViewerSessions::kIdBytes));
        QVERIFY(c.contains("HttpOnly"));
        QVERIFY(c.contains("SameSite=Strict"));
        QVERIFY(c.contains("Path=/"));
        QVERIFY(c.contains("Max-Age=43200"));
    }

    void anEmptyTokenOpensNothing()
    {
        const RequestAuth open{QByteArray()};
        QVERIFY(!open.bearer("Bearer "));
        QVERIFY(!open.bearer("Bearer x"));
        QVERIFY(!open.cookie(sameOrigin("mvs_view_box="), QStringLiteral("box")));
        QVERIFY(!open.docsCookie(sameOrigin("mvs_docs=")));
        QVERIFY(!open.queryToken(QString()));
        QVERIFY(!open.queryToken(QStringLiteral("x")));
    }
};

QTEST_GUILESS_MAIN(TestRequestAuth)
#include "tst_requestauth.moc"
