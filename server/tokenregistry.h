#pragma once
// The service's scoped tokens: each with a role, an optional glob on the VM
// names it may touch and an optional expiry. The secret ("mvs_<id>_<hex>")
// is shown once, when made; the file keeps its SHA-256 only, next to the id,
// name, role, glob and times (JSON, written atomically, mode 0600). The token
// file's token (TokenStore) stays the admin token, id "token-file".
// Revoking a token emits revoked(id): the adapter closes that token's
// WebSockets, RequestAuth its viewer sessions.

#include "core/expected.h"
#include "server/principal.h"

#include <QByteArray>
#include <QDateTime>
#include <QJsonObject>
#include <QList>
#include <QObject>
#include <QString>

#include <functional>
#include <optional>

namespace Server {

class TokenRegistry final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TokenRegistry)
public:
    static constexpr int kSecretBytes = 32;
    static constexpr int kIdBytes = 8;
    static constexpr int kMaxTokens = 1024;
    static constexpr int kMaxNameLength = 128;
    static constexpr int kMaxGlobLength = 128;
    static constexpr qint64 kMaxFileBytes = 4 << 20;
    static inline const QByteArray kSecretPrefix = QByteArrayLiteral("mvs_");
    using Clock = std::function<QDateTime()>;

    struct Token {
        QString id; // hex, in the secret too
        QString name;
        Role role = Role::Viewer;
        QString vmGlob; // empty: every VM
        QDateTime created;
        QDateTime expires; // invalid: never
        QByteArray secretHash; // SHA-256 of the whole secret, hex; never in an answer

        // For the API and the CLI: everything but the hash.
        QJsonObject toJson() const;
        Principal principal() const { return {id, role, vmGlob}; }
    };
    struct Spec {
        Role role = Role::Viewer;
        QString vmGlob;
        qint64 ttlSeconds = 0; // 0: no expiry
        QString name;
    };
    struct Created {
        Token token;
        QByteArray secret; // shown once
    };
    enum class Check { Valid, Unknown, Expired };

    // path empty: nothing is stored (a private service, tests). adminToken
    // empty: there is no admin token.
    TokenRegistry(QString path, QByteArray adminToken, Clock clock = {}, QObject *parent = nullptr);
    ~TokenRegistry() override;

    static QString defaultPath(); // Core::Paths::configDir() + "/tokens.json"
    QString path() const { return m_path; }

    // Reads the file when there is one (none: no tokens yet).
    Core::Result load();
    Core::Expected<Created> create(const Spec &spec);
    QList<Token> list() const;
    // NotFound for an unknown id.
    Core::Result revoke(const QString &id);

    // Who holds this secret; nullopt (and *why) when nobody or expired.
    std::optional<Principal> authenticate(QByteArrayView secret, Check *why = nullptr) const;

    // The holder of a token by id while it is valid (the admin token's id
    // too): what a viewer session made from it may still do.
    std::optional<Principal> principal(const QString &id) const;

    static QByteArray hash(QByteArrayView secret);

Q_SIGNALS:
    void revoked(const QString &id);

private:
    Core::Result save() const;
    static Core::Expected<Token> tokenFromJson(const QJsonObject &o);

    QString m_path;
    QByteArray m_adminToken;
    Clock m_clock;
    QList<Token> m_tokens;
};

} // namespace Server
