#pragma once

#include "core/expected.h"

#include <QHostAddress>
#include <QString>

namespace Net {

// An IPv4 or IPv6 network: an address with its host bits zero and a prefix
// length. "10.0.0.0/8", "2001:db8::/32"; a bare address is a /32 or /128.
class Cidr {
public:
    Cidr() = default;
    // The network of address/prefix (host bits cleared).
    Cidr(const QHostAddress &address, int prefix);

    // Strict: dotted-quad IPv4 or IPv6 without a scope, host bits zero
    // (the error names the network meant), prefix in range.
    static Core::Expected<Cidr> parse(const QString &text);

    bool isValid() const { return m_prefix >= 0; }
    bool isV6() const { return m_address.protocol() == QAbstractSocket::IPv6Protocol; }
    int bits() const { return isV6() ? 128 : 32; }
    const QHostAddress &address() const { return m_address; }
    int prefix() const { return m_prefix; }
    bool isSingleAddress() const { return m_prefix == bits(); }

    bool contains(const QHostAddress &a) const;
    // other lies wholly inside this network (same family).
    bool contains(const Cidr &other) const;
    bool overlaps(const Cidr &other) const;
    // The IPv4 address at offset from the network address (null past the end or for IPv6).
    QHostAddress ipv4At(quint32 offset) const;
    // Number of IPv4 addresses (2^(32-prefix)); 0 for IPv6.
    quint64 ipv4Size() const;

    // "10.0.0.0/8"; a single address without its prefix when bare is true.
    QString toString(bool bare = false) const;

    bool operator==(const Cidr &o) const { return m_prefix == o.m_prefix && m_address == o.m_address; }

private:
    QHostAddress m_address;
    int m_prefix = -1;
};

} // namespace Net
