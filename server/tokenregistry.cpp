#include "server/tokenregistry.h"

#include "core/paths.h"
#include "server/tokenstore.h"

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QSaveFile>

#include <cmath>

namespace Server {
namespace {

QByteArray randomHex(int bytes)
{
    QByteArray raw(bytes, Qt::Uninitialized);
    QRandomGenerator::system()->fillRange(reinterpret_cast<quint32 *>(raw.data()), bytes / sizeof(quint32));
    return raw.toHex();
}

Core::Error invalid(const QString &message)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, message);
}

// A glob may hold what VM names hold, and '*' and '?'.
bool validGlob(const QString &glob)
{
    if (glob.size() > TokenRegistry::kMaxGlobLength)
        return false;
    for (QChar c : glob) {
        if (!(c.isLetterOrNumber() && c.unicode() < 128) && !QStringLiteral("-_.*?").contains(c))
            return false;
    }
    return true;
}

bool validName(const QString &name)
{
    if (name.size() > TokenRegistry::kMaxNameLength)
        return false;
    for (QChar c : name) {
        if (!c.isPrint())
            return false;
    }
    return true;
}

Core::Result validate(const TokenRegistry::Spec &spec)
{
    if (spec.role == Role::Undecided)
        return invalid(QStringLiteral("a token needs a role: viewer, operator or admin"));
    if (!validGlob(spec.vmGlob))
        return invalid(QStringLiteral("vms must be a glob of letters, digits, '-', '_', '.', '*' and '?' (at most %1)").arg(TokenRegistry::kMaxGlobLength));
    if (!validName(spec.name))
        return invalid(QStringLiteral("name must be printable, at most %1 characters").arg(TokenRegistry::kMaxNameLength));
    if (spec.ttlSeconds < 0)
        return invalid(QStringLiteral("the lifetime must not be negative"));
    return {};
}

} // namespace

QJsonObject TokenRegistry::Token::toJson() const
{
    QJsonObject o{{QStringLiteral("id"), id},
                  {QStringLiteral("name"), name},
                  {QStringLiteral("role"), roleName(role)},
                  {QStringLiteral("vms"), vmGlob.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(vmGlob)},
                  {QStringLiteral("created"), created.toUTC().toString(Qt::ISODate)},
                  {QStringLiteral("expires"), expires.isValid() ? QJsonValue(expires.toUTC().toString(Qt::ISODate)) : QJsonValue(QJsonValue::Null)},
                  {QStringLiteral("quota"), quotaToJson(quota)}};
    return o;
}

QJsonValue TokenRegistry::quotaToJson(const Vm::QuotaLimits &quota)
{
    QJsonObject o;
    if (quota.maxVms > 0)
        o.insert(QStringLiteral("vms"), quota.maxVms);
    if (quota.maxVcpus > 0)
        o.insert(QStringLiteral("vcpus"), quota.maxVcpus);
    if (quota.maxMemoryMiB > 0)
        o.insert(QStringLiteral("memory_mb"), quota.maxMemoryMiB);
    return o.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(o);
}

Core::Expected<Vm::QuotaLimits> TokenRegistry::quotaFromJson(const QJsonValue &value)
{
    Vm::QuotaLimits q;
    if (value.isUndefined() || value.isNull())
        return q;
    if (!value.isObject())
        return invalid(QStringLiteral("quota must be an object: {\"vms\", \"vcpus\", \"memory_mb\"}"));
    const QJsonObject o = value.toObject();
    for (auto it = o.begin(); it != o.end(); ++it) {
        const bool memory = it.key() == QLatin1String("memory_mb");
        if (!memory && it.key() != QLatin1String("vms") && it.key() != QLatin1String("vcpus"))
            return invalid(QStringLiteral("quota: unknown key '%1' (vms, vcpus, memory_mb)").arg(it.key().left(40)));
        const qint64 max = memory ? kMaxQuotaMemoryMiB : kMaxQuotaCount;
        const double d = it.value().toDouble(-1);
        if (!it.value().isDouble() || d != std::floor(d) || d < 1 || d > double(max))
            return invalid(QStringLiteral("quota.%1 must be an integer from 1 to %2").arg(it.key()).arg(max));
        const qint64 n = static_cast<qint64>(d);
        if (memory)
            q.maxMemoryMiB = n;
        else if (it.key() == QLatin1String("vms"))
            q.maxVms = static_cast<int>(n);
        else
            q.maxVcpus = static_cast<int>(n);
    }
    return q;
}

Vm::QuotaLimits TokenRegistry::quotaOf(const QString &id) const
{
    for (const Token &t : m_tokens) {
        if (t.id == id)
            return t.quota;
    }
    return {};
}

TokenRegistry::TokenRegistry(QString path, QByteArray adminToken, Clock clock, QObject *parent)
    : QObject(parent)
    , m_path(std::move(path))
    , m_adminToken(std::move(adminToken))
    , m_clock(clock ? std::move(clock) : Clock([] { return QDateTime::currentDateTimeUtc(); }))
{
}

TokenRegistry::~TokenRegistry() = default;

QString TokenRegistry::defaultPath()
{
    return Core::Paths::configDir() + QStringLiteral("/tokens.json");
}

QByteArray TokenRegistry::hash(QByteArrayView secret)
{
    return QCryptographicHash::hash(secret, QCryptographicHash::Sha256).toHex();
}

Core::Expected<TokenRegistry::Token> TokenRegistry::tokenFromJson(const QJsonObject &o)
{
    Token t;
    t.id = o.value(QStringLiteral("id")).toString();
    t.name = o.value(QStringLiteral("name")).toString();
    const std::optional<Role> role = parseRole(o.value(QStringLiteral("role")).toString());
    t.vmGlob = o.value(QStringLiteral("vms")).toString();
    t.created = QDateTime::fromString(o.value(QStringLiteral("created")).toString(), Qt::ISODate);
    t.expires = QDateTime::fromString(o.value(QStringLiteral("expires")).toString(), Qt::ISODate);
    t.secretHash = o.value(QStringLiteral("sha256")).toString().toLatin1();
    auto quota = quotaFromJson(o.value(QStringLiteral("quota")));
    if (!quota)
        return invalid(QStringLiteral("a token entry's quota is malformed: %1").arg(quota.error().message));
    t.quota = *quota;
    if (!role || t.id.isEmpty() || t.secretHash.size() != 64 || !validGlob(t.vmGlob))
        return invalid(QStringLiteral("a token entry is malformed"));
    t.role = *role;
    return t;
}

Core::Result TokenRegistry::load()
{
    if (m_path.isEmpty() || !QFileInfo::exists(m_path))
        return {};
    QFile f(m_path);
    if (!f.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read %1: %2").arg(m_path, f.errorString()));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.read(kMaxFileBytes), &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return invalid(QStringLiteral("%1 is not a token file: %2").arg(m_path, error.errorString()));
    QList<Token> tokens;
    for (const QJsonValue &v : doc.object().value(QStringLiteral("tokens")).toArray()) {
        auto t = tokenFromJson(v.toObject());
        if (!t)
            return invalid(QStringLiteral("%1: %2").arg(m_path, t.error().message));
        tokens.append(*t);
    }
    m_tokens = tokens;
    return {};
}

Core::Result TokenRegistry::save() const
{
    if (m_path.isEmpty())
        return {};
    const QString dir = QFileInfo(m_path).absolutePath();
    if (!QFileInfo::exists(dir)) {
        if (auto ok = Core::Paths::ensurePrivateDir(dir); !ok)
            return ok.error();
    }
    QJsonArray tokens;
    for (const Token &t : m_tokens) {
        QJsonObject o = t.toJson();
        o.insert(QStringLiteral("sha256"), QString::fromLatin1(t.secretHash));
        tokens.append(o);
    }
    QSaveFile f(m_path);
    if (!f.open(QIODevice::WriteOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(m_path, f.errorString()));
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    f.write(QJsonDocument(QJsonObject{{QStringLiteral("tokens"), tokens}}).toJson());
    if (!f.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(m_path, f.errorString()));
    return {};
}

Core::Expected<TokenRegistry::Created> TokenRegistry::create(const Spec &spec)
{
    if (auto ok = validate(spec); !ok)
        return ok.error();
    if (m_tokens.size() >= kMaxTokens)
        return Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("there are %1 tokens already: revoke some first").arg(kMaxTokens));
    Created c;
    c.token.id = QString::fromLatin1(randomHex(kIdBytes));
    c.token.name = spec.name;
    c.token.role = spec.role;
    c.token.vmGlob = spec.vmGlob;
    c.token.quota = spec.quota;
    c.token.created = m_clock();
    if (spec.ttlSeconds > 0)
        c.token.expires = c.token.created.addSecs(spec.ttlSeconds);
    c.secret = kSecretPrefix + c.token.id.toLatin1() + '_' + randomHex(kSecretBytes);
    c.token.secretHash = hash(c.secret);
    m_tokens.append(c.token);
    if (auto ok = save(); !ok) {
        m_tokens.removeLast();
        return ok.error();
    }
    return c;
}

QList<TokenRegistry::Token> TokenRegistry::list() const
{
    return m_tokens;
}

Core::Result TokenRegistry::revoke(const QString &id)
{
    for (qsizetype i = 0; i < m_tokens.size(); ++i) {
        if (m_tokens.at(i).id != id)
            continue;
        const Token gone = m_tokens.takeAt(i);
        if (auto ok = save(); !ok) {
            m_tokens.insert(i, gone);
            return ok.error();
        }
        Q_EMIT revoked(id);
        return {};
    }
    return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no token %1").arg(id));
}

std::optional<Principal> TokenRegistry::principal(const QString &id) const
{
    if (id == Principal::kAdminTokenId)
        return m_adminToken.isEmpty() ? std::nullopt : std::optional<Principal>(Principal::admin());
    for (const Token &t : m_tokens) {
        if (t.id == id)
            return t.expires.isValid() && m_clock() >= t.expires ? std::nullopt : std::optional<Principal>(t.principal());
    }
    return std::nullopt;
}

std::optional<Principal> TokenRegistry::authenticate(QByteArrayView secret, Check *why) const
{
    if (why)
        *why = Check::Unknown;
    if (secret.isEmpty())
        return std::nullopt;
    if (!m_adminToken.isEmpty() && TokenStore::equals(secret, m_adminToken)) {
        if (why)
            *why = Check::Valid;
        return Principal::admin();
    }
    // mvs_<id>_<hex>: the id finds the entry, the hash decides.
    const QByteArray s = secret.toByteArray();
    if (!s.startsWith(kSecretPrefix))
        return std::nullopt;
    const qsizetype sep = s.indexOf('_', kSecretPrefix.size());
    if (sep < 0)
        return std::nullopt;
    const QString id = QString::fromLatin1(s.mid(kSecretPrefix.size(), sep - kSecretPrefix.size()));
    for (const Token &t : m_tokens) {
        if (t.id != id || !TokenStore::equals(hash(s), t.secretHash))
            continue;
        if (t.expires.isValid() && m_clock() >= t.expires) {
            if (why)
                *why = Check::Expired;
            return std::nullopt;
        }
        if (why)
            *why = Check::Valid;
        return t.principal();
    }
    return std::nullopt;
}

} // namespace Server
