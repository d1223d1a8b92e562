#pragma once
// The service's scoped tokens: each with a role, an optional glob on the VM
// names it may touch, an optional expiry and optional limits on what the VMs
// it makes may hold (VmRecord::owner, VmManager::setOwnerQuota). The secret ("mvs_<id>_<hex>")
// is shown once, when made; the file keeps its SHA-256 only, next to the id,
// name, role, glob and times (JSON, written atomically, mode 0600). The token
// file's token (TokenStore) stays the admin token, id "token-file".
// Revoking a token emits revoked(id): the adapter closes that token's
// WebSockets, RequestAuth its viewer sessions.

#include "core/expected.h"
#include "core/vm/hostquota.h"
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
        // What the VMs it made may hold: maxVms, maxVcpus, maxMemoryMiB
        // (0: no limit of its own; the host's apply anyway).
        Vm::QuotaLimits quota = Vm::QuotaLimits();

        // For the API and the CLI: everything but the hash.
        QJsonObject toJson() const;
        Principal principal() const { return {id, role, vmGlob}; }
    };
    struct Spec {
        Role role = Role::Viewer;
        QString vmGlob;
        qint64 ttlSeconds = 0; // 0: no expiry
        QString name;
        Vm::QuotaLimits quota = Vm::QuotaLimits(); // as Token::quota
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

    // A token's own limits (none for an unknown id, the admin token's, or
    // a revoked one's: its VMs count only against the host's).
    Vm::QuotaLimits quotaOf(const QString &id) const;
    // {"vms", "vcpus", "memory_mb"}, each a positive integer or absent;
    // null when it sets none. fromJson: InvalidArgument naming the key.
    static QJsonValue quotaToJson(const Vm::QuotaLimits &quota);
    static Core::Expected<Vm::QuotaLimits> quotaFromJson(const QJsonValue &value);
    static constexpr qint64 kMaxQuotaCount = 100000;
    static constexpr qint64 kMaxQuotaMemoryMiB = qint64(1) << 30;

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
