#pragma once

#include "core/expected.h"

#include <QHostAddress>
#include <QList>
#include <QMap>
#include <QString>
#include <QStringList>

namespace Net {

// One VM's connection counts (NftRuleset's named counters v<slot>_allowed
// and v<slot>_denied): new connections, and each retried packet of a denied one.
struct VmCounters {
    quint64 allowed = 0;
    quint64 denied = 0;
};

// One element of a VM's denial set (v<slot>_denied_4 / _6): a destination it
// tried and was refused, for the last NftRuleset::kDeniedTimeoutS. The
// latest attempt has the largest expiresS.
struct Denial {
    QHostAddress address;
    QString protocol; // "tcp", "udp"
    quint16 port = 0;
    int expiresS = 0;
};

// The kernel's nftables through Debian's `nft`. Blocking: each call runs nft
// once (a few ms; a large script more). Needs CAP_NET_ADMIN.
struct Nftables {
    // `nft -f -` with script on stdin; all or nothing (nft applies a file in
    // one transaction). The error has nft's stderr. what: for the error.
    static Core::Result apply(const QString &script, const QString &what);
    // The names of the inet tables (`nft -j list tables`).
    static Core::Expected<QStringList> inetTables();
    static Core::Expected<bool> hasTable(const QString &table);
    // Every named counter of the table: name -> packets.
    static Core::Expected<QMap<QString, quint64>> counters(const QString &table);
    static Core::Expected<VmCounters> vmCounters(const QString &table, int slot);
    // The VM's denial sets (IPv4, then IPv6 if it has one), latest first.
    static Core::Expected<QList<Denial>> denials(const QString &table, int slot);
    // The addresses in a plain address set (a VM's DNS set v<slot>_d<g>_4).
    static Core::Expected<QStringList> setAddresses(const QString &table, const QString &set);
    // The keys of a map (fwd_vmap: the taps that have a VM's chains).
    static Core::Expected<QStringList> mapKeys(const QString &table, const QString &map);
    // Base chains of other tables on the forward hook whose policy is drop
    // ("ip filter FORWARD": Docker's, a firewall's): a packet must pass
    // every base chain of its hook, so those drop what our table accepts
    // unless they accept it themselves. "<family> <table> <chain>" each.
    static Core::Expected<QStringList> foreignForwardDrops(const QString &ownTable);
    // Parsers of `nft -j` output (exposed for tests).
    static Core::Expected<QStringList> parseForwardDrops(const QByteArray &json, const QString &ownTable);
    static Core::Expected<QList<Denial>> parseDenials(const QByteArray &json);
    static Core::Expected<QMap<QString, quint64>> parseCounters(const QByteArray &json);
};

} // namespace Net
