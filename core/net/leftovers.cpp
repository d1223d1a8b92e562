#include "core/net/leftovers.h"

#include "core/net/filelock.h"
#include "core/net/nftables.h"
#include "core/net/resolver.h"
#include "core/net/taplink.h"

#include <QDir>
#include <QRegularExpression>
#include <QSet>

namespace Net {

namespace {

const QRegularExpression &tableName()
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("mvs_([a-z0-9]{1,16})")));
    return re;
}

const QRegularExpression &tapName()
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("(mvs[0-9a-f]{4})v[0-9]{1,7}")));
    return re;
}

// The instance ids that have a table or a resolver running.
Core::Expected<QSet<QString>> instancesWithObjects()
{
    auto tables = Nftables::inetTables();
    if (!tables)
        return tables.error();
    QSet<QString> ids;
    for (const QString &t : *tables)
        if (auto m = tableName().match(t); m.hasMatch())
            ids << m.captured(1);
    static const QRegularExpression conf(QRegularExpression::anchoredPattern(QStringLiteral("mvs_([a-z0-9]{1,16})_v[0-9]+\\.conf")));
    for (const Resolver::Running &r : Resolver::running(QStringLiteral("mvs_")))
        if (auto m = conf.match(r.configName); m.hasMatch())
            ids << m.captured(1);
    return ids;
}

Core::Result removeInstance(const QString &id, LeftoverReport &report)
{
    const QString table = QStringLiteral("mvs_") + id;
    for (const Resolver::Running &r : Resolver::running(table + QLatin1Char('_'))) {
        if (auto ok = Resolver::terminate(r.pid); !ok)
            return ok;
        report.resolvers << r.pid;
    }
    auto has = Nftables::hasTable(table);
    if (!has)
        return has.error();
    if (!*has)
        return {};
    if (auto ok = Nftables::apply(QStringLiteral("delete table inet %1\n").arg(table), QStringLiteral("delete the stale table %1").arg(table)); !ok)
        return ok;
    report.tables << table;
    return {};
}

Core::Result removeTaps(const QString &lockDir, const QString &ownTapPrefix, LeftoverReport &report)
{
    for (const QString &tap : TapLink::interfaces(QStringLiteral("mvs"))) {
        const auto m = tapName().match(tap);
        if (!m.hasMatch())
            continue;
        const QString prefix = m.captured(1);
        if (prefix != ownTapPrefix && FileLock::isHeld(Leftovers::tapLockPath(lockDir, prefix)))
            continue;
        if (auto ok = TapLink::remove(tap); !ok)
            return ok;
        report.taps << tap;
    }
    return {};
}

} // namespace

QString Leftovers::instanceLockPath(const QString &lockDir, const QString &instanceId)
{
    return QDir(lockDir).filePath(QStringLiteral("instance-%1.lock").arg(instanceId));
}

QString Leftovers::tapLockPath(const QString &lockDir, const QString &tapPrefix)
{
    return QDir(lockDir).filePath(QStringLiteral("taps-%1.lock").arg(tapPrefix));
}

Core::Expected<LeftoverReport> Leftovers::removeDead(const QString &lockDir, const QString &own, const QString &ownTapPrefix)
{
    LeftoverReport report;
    auto ids = instancesWithObjects();
    if (!ids)
        return ids.error();
    for (const QString &id : *ids) {
        FileLock held; // the dead owner's lock, held while its objects go
        if (id != own) {
            auto lock = FileLock::tryAcquire(instanceLockPath(lockDir, id));
            if (!lock && lock.error().code == Core::ErrorCode::AlreadyExists)
                continue; // alive
            if (!lock)
                return lock.error();
            held = std::move(*lock);
        }
        if (auto ok = removeInstance(id, report); !ok)
            return ok.error();
    }
    if (auto ok = removeTaps(lockDir, ownTapPrefix, report); !ok)
        return ok.error();
    return report;
}

} // namespace Net
