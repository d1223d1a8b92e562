#pragma once

#include "core/expected.h"

#include <QList>
#include <QString>
#include <QStringList>

namespace Net {

// What a start-up removed.
struct LeftoverReport {
    QStringList tables; // "mvs_ab12"
    QList<qint64> resolvers; // dnsmasq pids
    QStringList taps; // unconfigured (and deleted if persistent)
};

// The kernel objects and processes that service instances which died
// (SIGKILL, a crash, a power cut of a container) left behind. Ownership is
// told by locks in the lock directory, which each live instance holds with
// flock for its whole life (the kernel drops them when it dies):
//   instance-<id>.lock   its table mvs_<id> and its resolvers (dnsmasq
//                        processes whose configuration is mvs_<id>_v<slot>.conf)
//   taps-<hex>.lock      its taps mvs<hex>v<slot>
//   subnet-<net>_<len>.lock  its VM subnet (SubnetClaim)
// A free lock means a dead owner: its objects are removed. While the
// objects of instance id are removed its lock is held, so the instance
// cannot start meanwhile. Blocking: a few nft and ip runs per dead instance.
struct Leftovers {
    static QString instanceLockPath(const QString &lockDir, const QString &instanceId);
    static QString tapLockPath(const QString &lockDir, const QString &tapPrefix);

    // Removes every dead instance's objects. own: this process's instance
    // (its locks held by the caller), whose objects are all leftovers of an
    // earlier life of it; ownTapPrefix likewise ("mvsab12").
    static Core::Expected<LeftoverReport> removeDead(const QString &lockDir, const QString &own = {}, const QString &ownTapPrefix = {});
};

} // namespace Net
