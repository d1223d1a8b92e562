#pragma once
// The guest's network settings as the host hands them over: on the kernel
// command line (mvs.net=<spec>) and to `microvm-agent --configure-net
// <spec>`, where <spec> is
//
//   <address>/<prefix>,<gateway>,<mac>     e.g. 10.213.0.2/30,10.213.0.1,0a:1b:2c:3d:4e:5f
//
// IPv4 dotted quads, a prefix of 1 to 32, the gateway inside the address's
// network and not the address itself, a unicast MAC (lower or upper case
// hex). The characters are [0-9a-fA-F.:/,] only, so the spec needs no
// quoting in a shell or on the kernel command line. Plain C++20, no Qt: the
// static guest agent parses with the very code the host's tests check.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace Protocol {

struct NetSpec {
    std::uint32_t address = 0; // host byte order
    int prefix = 0;
    std::uint32_t gateway = 0;
    std::array<std::uint8_t, 6> mac{};

    std::uint32_t netmask() const { return prefix == 0 ? 0 : ~std::uint32_t(0) << (32 - prefix); }
    bool operator==(const NetSpec &) const = default;

    static std::string formatIpv4(std::uint32_t a)
    {
        return std::to_string(a >> 24) + '.' + std::to_string((a >> 16) & 0xff) + '.' + std::to_string((a >> 8) & 0xff) + '.' + std::to_string(a & 0xff);
    }
    static std::string formatMac(const std::array<std::uint8_t, 6> &mac)
    {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string s;
        for (std::size_t i = 0; i < mac.size(); ++i) {
            if (i)
                s += ':';
            s += kHex[mac[i] >> 4];
            s += kHex[mac[i] & 0xf];
        }
        return s;
    }
    std::string format() const { return formatIpv4(address) + '/' + std::to_string(prefix) + ',' + formatIpv4(gateway) + ',' + formatMac(mac); }

    static std::optional<std::uint32_t> parseIpv4(std::string_view s)
    {
        std::uint32_t out = 0;
        for (int part = 0; part < 4; ++part) {
            if (part > 0) {
                if (s.empty() || s.front() != '.')
                    return std::nullopt;
                s.remove_prefix(1);
            }
            const auto n = parseDecimal(s, 3, 255);
            if (!n)
                return std::nullopt;
            out = out << 8 | *n;
        }
        return s.empty() ? std::optional<std::uint32_t>(out) : std::nullopt;
    }
    static std::optional<std::array<std::uint8_t, 6>> parseMac(std::string_view s)
    {
        std::array<std::uint8_t, 6> mac{};
        if (s.size() != 17)
            return std::nullopt;
        for (std::size_t i = 0; i < 6; ++i) {
            const auto hi = hexDigit(s[i * 3]), lo = hexDigit(s[i * 3 + 1]);
            if (!hi || !lo || (i < 5 && s[i * 3 + 2] != ':'))
                return std::nullopt;
            mac[i] = std::uint8_t(*hi << 4 | *lo);
        }
        if (mac[0] & 1) // multicast
            return std::nullopt;
        return mac;
    }
    static std::optional<NetSpec> parse(std::string_view s)
    {
        const auto comma1 = s.find(',');
        const auto comma2 = comma1 == std::string_view::npos ? comma1 : s.find(',', comma1 + 1);
        if (comma2 == std::string_view::npos)
            return std::nullopt;
        const std::string_view cidr = s.substr(0, comma1), gateway = s.substr(comma1 + 1, comma2 - comma1 - 1), mac = s.substr(comma2 + 1);
        const auto slash = cidr.find('/');
        if (slash == std::string_view::npos)
            return std::nullopt;
        std::string_view prefixText = cidr.substr(slash + 1);
        const auto address = parseIpv4(cidr.substr(0, slash));
        const auto prefix = parseDecimal(prefixText, 2, 32);
        const auto gw = parseIpv4(gateway);
        const auto m = parseMac(mac);
        if (!address || !prefix || !prefixText.empty() || *prefix == 0 || !gw || !m)
            return std::nullopt;
        NetSpec spec{*address, int(*prefix), *gw, *m};
        if (*gw == *address || (*gw & spec.netmask()) != (*address & spec.netmask()))
            return std::nullopt;
        return spec;
    }

private:
    // Up to maxDigits decimal digits from the front of s, at most max.
    static std::optional<std::uint32_t> parseDecimal(std::string_view &s, std::size_t maxDigits, std::uint32_t max)
    {
        std::size_t n = 0;
        std::uint32_t v = 0;
        while (n < s.size() && n < maxDigits && s[n] >= '0' && s[n] <= '9')
            v = v * 10 + std::uint32_t(s[n++] - '0');
        if (n == 0 || v > max || (n > 1 && s[0] == '0'))
            return std::nullopt;
        s.remove_prefix(n);
        return v;
    }
    static std::optional<std::uint8_t> hexDigit(char c)
    {
        if (c >= '0' && c <= '9')
            return std::uint8_t(c - '0');
        if (c >= 'a' && c <= 'f')
            return std::uint8_t(c - 'a' + 10);
        if (c >= 'A' && c <= 'F')
            return std::uint8_t(c - 'A' + 10);
        return std::nullopt;
    }
};

// The kernel command-line key the guest's --init-setup reads.
inline constexpr std::string_view kNetSpecKernelArg = "mvs.net";
// The agent option that applies a spec to the running guest.
inline constexpr std::string_view kConfigureNetOption = "--configure-net";

} // namespace Protocol
