#include "core/net/cidr.h"

#include <QRegularExpression>

namespace Net {
namespace {

constexpr int kIpv4Bits = 32;
constexpr int kIpv6Bits = 128;

QHostAddress masked(const QHostAddress &a, int prefix)
{
    if (a.protocol() == QAbstractSocket::IPv4Protocol) {
        const quint32 mask = prefix == 0 ? 0 : ~quint32(0) << (kIpv4Bits - prefix);
        return QHostAddress(a.toIPv4Address() & mask);
    }
    Q_IPV6ADDR bytes = a.toIPv6Address();
    for (int i = 0; i < 16; ++i) {
        const int keep = qBound(0, prefix - i * 8, 8);
        bytes[i] &= keep == 0 ? 0 : quint8(0xff << (8 - keep));
    }
    return QHostAddress(bytes);
}

Core::Error cidrError(const QString &text, const QString &why)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("'%1' is not a network: %2").arg(text, why));
}

} // namespace

Cidr::Cidr(const QHostAddress &address, int prefix)
    : m_address(masked(address, prefix))
    , m_prefix(prefix)
{
}

Core::Expected<Cidr> Cidr::parse(const QString &text)
{
    static const QRegularExpression v4(QRegularExpression::anchoredPattern(QStringLiteral("[0-9]{1,3}(\\.[0-9]{1,3}){3}")));
    static const QRegularExpression v6(QRegularExpression::anchoredPattern(QStringLiteral("[0-9a-fA-F:.]*:[0-9a-fA-F:.]*")));
    const qsizetype slash = text.indexOf(QLatin1Char('/'));
    const QString addr = slash < 0 ? text : text.left(slash);
    const bool isV4 = v4.match(addr).hasMatch();
    if (!isV4 && !v6.match(addr).hasMatch())
        return cidrError(text, QStringLiteral("write an IPv4 (a.b.c.d) or IPv6 address, optionally with /prefix"));
    QHostAddress a;
    if (!a.setAddress(addr))
        return cidrError(text, QStringLiteral("bad address '%1'").arg(addr));
    const int maxBits = isV4 ? kIpv4Bits : kIpv6Bits;
    int prefix = maxBits;
    if (slash >= 0) {
        bool ok = false;
        static const QRegularExpression digits(QRegularExpression::anchoredPattern(QStringLiteral("[0-9]{1,3}")));
        const QString p = text.mid(slash + 1);
        prefix = digits.match(p).hasMatch() ? p.toInt(&ok) : -1;
        if (!ok || prefix < 0 || prefix > maxBits)
            return cidrError(text, QStringLiteral("the prefix must be 0-%1").arg(maxBits));
    }
    const Cidr c(a, prefix);
    if (!(c.address() == a))
        return cidrError(text, QStringLiteral("host bits are set (the network is %1)").arg(c.toString()));
    return c;
}

bool Cidr::contains(const QHostAddress &a) const
{
    return isValid() && a.protocol() == m_address.protocol() && masked(a, m_prefix) == m_address;
}

bool Cidr::contains(const Cidr &other) const
{
    return isValid() && other.isValid() && other.m_prefix >= m_prefix && contains(other.m_address);
}

bool Cidr::overlaps(const Cidr &other) const
{
    return contains(other) || other.contains(*this);
}

QHostAddress Cidr::ipv4At(quint32 offset) const
{
    if (!isValid() || isV6() || offset >= ipv4Size())
        return {};
    return QHostAddress(m_address.toIPv4Address() + offset);
}

quint64 Cidr::ipv4Size() const
{
    return isValid() && !isV6() ? quint64(1) << (kIpv4Bits - m_prefix) : 0;
}

QString Cidr::toString(bool bare) const
{
    if (!isValid())
        return {};
    if (bare && isSingleAddress())
        return m_address.toString();
    return QStringLiteral("%1/%2").arg(m_address.toString()).arg(m_prefix);
}

} // namespace Net
