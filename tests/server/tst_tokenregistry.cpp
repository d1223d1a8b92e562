// The scoped tokens' store (TokenRegistry, a test clock): the secret shown
// once and kept as its SHA-256 only, a 0600 file written whole, reloading,
// expiry, revocation (and its signal), the admin token beside them, and
// what a create refuses. Also the VM glob (globMatches).

#include "server/principal.h"
#include "server/tokenregistry.h"

#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTimeZone>
#include <QTemporaryDir>
#include <QTest>

using Server::Principal;
using Server::Role;
using Server::TokenRegistry;

class TestTokenRegistry : public QObject {
    Q_OBJECT

    QDateTime m_now = QDateTime(QDate(2026, 1, 2), QTime(3, 4, 5), QTimeZone::utc());
    TokenRegistry::Clock clock()
    {
        return [this] { return m_now; };
    }

private Q_SLOTS:
    void hashOnlyStore()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("cfg/tokens.json"));
        TokenRegistry tokens(path, QByteArrayLiteral("admin-secret"), clock());
        auto made = tokens.create({Role::Operator, QStringLiteral("ci-*"), 3600, QStringLiteral("ci bot")});
        QVERIFY2(made, made ? "" : qPrintable(made.error().message));
        QVERIFY(made->secret.startsWith(QByteArray("mvs_" + made->token.id.toLatin1() + '_')));
        QCOMPARE(made->secret.size(), 4 + made->token.id.size() + 1 + 2 * TokenRegistry::kSecretBytes);

        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray stored = f.readAll();
        QVERIFY(!stored.contains(made->secret));
        QVERIFY(!stored.contains(made->secret.mid(made->secret.lastIndexOf('_') + 1)));
        QVERIFY(stored.contains(TokenRegistry::hash(made->secret)));
        QCOMPARE(f.permissions() & (QFileDevice::ReadGroup | QFileDevice::ReadOther | QFileDevice::WriteGroup | QFileDevice::WriteOther),
                 QFileDevice::Permissions());
        // The answer's JSON never holds the hash.
        QVERIFY(!QJsonDocument(made->token.toJson()).toJson().contains(made->token.secretHash));

        // A new registry over the file knows the token by its secret.
        TokenRegistry again(path, QByteArray(), clock());
        QVERIFY(again.load());
        const std::optional<Principal> p = again.authenticate(made->secret);
        QVERIFY(p);
        QCOMPARE(p->tokenId, made->token.id);
        QVERIFY(p->role == Role::Operator);
        QCOMPARE(p->vmGlob, QStringLiteral("ci-*"));
        QCOMPARE(again.list().size(), 1);
        QCOMPARE(again.list().first().name, QStringLiteral("ci bot"));
    }

    void wrongSecretsAndAdmin()
    {
        TokenRegistry tokens(QString(), QByteArrayLiteral("admin-secret"), clock());
        auto made = tokens.create({Role::Viewer, {}, 0, {}});
        QVERIFY(made);
        QByteArray wrong = made->secret;
        wrong[wrong.size() - 1] = wrong.back() == 'a' ? 'b' : 'a';
        QVERIFY(!tokens.authenticate(wrong));
        QVERIFY(!tokens.authenticate(made->secret.left(made->secret.size() - 1)));
        QVERIFY(!tokens.authenticate(QByteArrayLiteral("mvs_")));
        QVERIFY(!tokens.authenticate(QByteArray()));
        const auto admin = tokens.authenticate(QByteArrayLiteral("admin-secret"));
        QVERIFY(admin);
        QVERIFY(admin->role == Role::Admin);
        QCOMPARE(admin->tokenId, Principal::kAdminTokenId);
        QVERIFY(!TokenRegistry(QString(), QByteArray()).authenticate(QByteArray()));
    }

    void expiry()
    {
        TokenRegistry tokens(QString(), QByteArray(), clock());
        auto made = tokens.create({Role::Operator, {}, 60, {}});
        QVERIFY(made);
        QVERIFY(tokens.authenticate(made->secret));
        m_now = m_now.addSecs(59);
        QVERIFY(tokens.authenticate(made->secret));
        QVERIFY(tokens.principal(made->token.id));
        m_now = m_now.addSecs(1);
        TokenRegistry::Check why = TokenRegistry::Check::Valid;
        QVERIFY(!tokens.authenticate(made->secret, &why));
        QVERIFY(why == TokenRegistry::Check::Expired);
        QVERIFY(!tokens.principal(made->token.id));
    }

    void revocation()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("tokens.json"));
        TokenRegistry tokens(path, QByteArray(), clock());
        auto a = tokens.create({Role::Operator, {}, 0, QStringLiteral("a")});
        auto b = tokens.create({Role::Viewer, {}, 0, QStringLiteral("b")});
        QVERIFY(a && b);
        QSignalSpy revoked(&tokens, &TokenRegistry::revoked);
        QVERIFY(tokens.revoke(a->token.id));
        QCOMPARE(revoked.size(), 1);
        QCOMPARE(revoked.first().first().toString(), a->token.id);
        QVERIFY(!tokens.authenticate(a->secret));
        QVERIFY(tokens.authenticate(b->secret));
        QCOMPARE(tokens.revoke(a->token.id).error().code, Core::ErrorCode::NotFound);
        TokenRegistry again(path, QByteArray(), clock());
        QVERIFY(again.load());
        QCOMPARE(again.list().size(), 1);
        QVERIFY(!again.authenticate(a->secret));
    }

    void refusedSpecs()
    {
        TokenRegistry tokens(QString(), QByteArray(), clock());
        QVERIFY(!tokens.create({Role::Undecided, {}, 0, {}}));
        QVERIFY(!tokens.create({Role::Viewer, QStringLiteral("ci/*"), 0, {}}));
        QVERIFY(!tokens.create({Role::Viewer, QString(200, QLatin1Char('a')), 0, {}}));
        QVERIFY(!tokens.create({Role::Viewer, {}, -1, {}}));
        QVERIFY(!tokens.create({Role::Viewer, {}, 0, QStringLiteral("a\nb")}));
        QVERIFY(tokens.list().isEmpty());
    }

    void malformedFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(QStringLiteral("tokens.json"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"tokens":[{"id":"x","role":"root","sha256":"00"}]})");
        f.close();
        TokenRegistry tokens(path, QByteArray(), clock());
        QVERIFY(!tokens.load());
    }

    void globs()
    {
        using Server::globMatches;
        QVERIFY(globMatches(QStringLiteral("ci-*"), QStringLiteral("ci-1")));
        QVERIFY(globMatches(QStringLiteral("ci-*"), QStringLiteral("ci-")));
        QVERIFY(!globMatches(QStringLiteral("ci-*"), QStringLiteral("prod-ci-1")));
        QVERIFY(globMatches(QStringLiteral("*-ci"), QStringLiteral("x-ci")));
        QVERIFY(globMatches(QStringLiteral("a?c"), QStringLiteral("abc")));
        QVERIFY(!globMatches(QStringLiteral("a?c"), QStringLiteral("ac")));
        QVERIFY(globMatches(QStringLiteral("a*b*c"), QStringLiteral("axxbyyc")));
        QVERIFY(!globMatches(QStringLiteral("a*b*c"), QStringLiteral("axxbyy")));
        QVERIFY(globMatches(QStringLiteral("box"), QStringLiteral("box")));
        QVERIFY(!globMatches(QStringLiteral("box"), QStringLiteral("box2")));
        QVERIFY((Principal{QStringLiteral("t"), Role::Viewer, {}}.mayUseVm(QStringLiteral("anything"))));
    }
};

QTEST_GUILESS_MAIN(TestTokenRegistry)
#include "tst_tokenregistry.moc"
