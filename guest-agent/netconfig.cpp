#include "netconfig.h"

#include "uniquefd.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <optional>

namespace GuestAgent::NetConfig {

namespace {

constexpr const char *kResolvConf = "/etc/resolv.conf";
constexpr const char *kResolvConfTemp = "/etc/.resolv.conf.mvs";
// More addresses than an interface could sensibly hold: the flush stops there.
constexpr int kMaxAddressesFlushed = 256;
constexpr std::size_t kNetlinkBuffer = 8192;

std::string failure(const std::string &what, int err)
{
    return what + ": " + std::strerror(err);
}

// One rtnetlink request: a header, a fixed body and attributes.
class Request {
public:
    Request(std::uint16_t type, std::uint16_t flags, std::size_t bodySize)
    {
        header()->nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(bodySize));
        header()->nlmsg_type = type;
        header()->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    }
    nlmsghdr *header() { return reinterpret_cast<nlmsghdr *>(m_buf); }
    template<typename T>
    T *body()
    {
        return static_cast<T *>(NLMSG_DATA(header()));
    }
    void attribute(std::uint16_t type, const void *data, std::size_t size)
    {
        auto *rta = reinterpret_cast<rtattr *>(m_buf + NLMSG_ALIGN(header()->nlmsg_len));
        rta->rta_type = type;
        rta->rta_len = static_cast<std::uint16_t>(RTA_LENGTH(size));
        std::memcpy(RTA_DATA(rta), data, size);
        header()->nlmsg_len = NLMSG_ALIGN(header()->nlmsg_len) + RTA_ALIGN(rta->rta_len);
    }
    void ipv4(std::uint16_t type, std::uint32_t hostOrder)
    {
        const std::uint32_t net = htonl(hostOrder);
        attribute(type, &net, sizeof net);
    }

private:
    alignas(nlmsghdr) char m_buf[512]{};
};

// A NETLINK_ROUTE socket that sends one request at a time and waits for
// the kernel's acknowledgement.
class Netlink {
public:
    bool open()
    {
        m_fd.reset(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        return m_fd.get() >= 0 && ::bind(m_fd.get(), reinterpret_cast<sockaddr *>(&local), sizeof local) == 0;
    }
    // 0, or the kernel's (or the socket's) errno.
    int send(Request &request)
    {
        nlmsghdr *h = request.header();
        h->nlmsg_seq = ++m_seq;
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        if (::sendto(m_fd.get(), h, h->nlmsg_len, 0, reinterpret_cast<sockaddr *>(&kernel), sizeof kernel) < 0)
            return errno;
        return awaitAck();
    }

private:
    int awaitAck()
    {
        alignas(nlmsghdr) char buf[kNetlinkBuffer];
        while (true) {
            const ssize_t n = ::recv(m_fd.get(), buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return n < 0 ? errno : EIO;
            int len = static_cast<int>(n);
            for (auto *h = reinterpret_cast<nlmsghdr *>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
                if (h->nlmsg_seq != m_seq || h->nlmsg_type != NLMSG_ERROR)
                    continue;
                const auto *e = static_cast<const nlmsgerr *>(NLMSG_DATA(h));
                return -e->error;
            }
        }
    }

    UniqueFd m_fd;
    std::uint32_t m_seq = 0;
};

struct Interface {
    std::string name;
    int index = 0;
    std::array<std::uint8_t, 6> mac{};
};

std::optional<std::array<std::uint8_t, 6>> ethernetMac(int sock, const char *name)
{
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (::ioctl(sock, SIOCGIFHWADDR, &ifr) != 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER)
        return std::nullopt;
    std::array<std::uint8_t, 6> mac{};
    std::memcpy(mac.data(), ifr.ifr_hwaddr.sa_data, mac.size());
    return mac;
}

// The Ethernet interface with `mac`, else the only Ethernet interface.
std::optional<Interface> findInterface(int sock, const std::array<std::uint8_t, 6> &mac, std::string *error)
{
    struct if_nameindex *all = ::if_nameindex();
    if (!all) {
        *error = failure("listing interfaces", errno);
        return std::nullopt;
    }
    std::vector<Interface> ethernet;
    for (struct if_nameindex *i = all; i->if_index != 0; ++i)
        if (const auto m = ethernetMac(sock, i->if_name))
            ethernet.push_back({i->if_name, static_cast<int>(i->if_index), *m});
    ::if_freenameindex(all);
    for (const Interface &i : ethernet)
        if (i.mac == mac)
            return i;
    if (ethernet.size() == 1)
        return ethernet.front();
    *error = ethernet.empty() ? std::string("no Ethernet interface (is virtio_net loaded?)")
                              : "no interface has MAC " + Protocol::NetSpec::formatMac(mac) + " and there are " + std::to_string(ethernet.size());
    return std::nullopt;
}

int setLinkUp(int sock, const std::string &name, bool up)
{
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    if (::ioctl(sock, SIOCGIFFLAGS, &ifr) != 0)
        return errno;
    ifr.ifr_flags = static_cast<short>(up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP));
    return ::ioctl(sock, SIOCSIFFLAGS, &ifr) == 0 ? 0 : errno;
}

int setMac(int sock, const std::string &name, const std::array<std::uint8_t, 6> &mac)
{
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    std::memcpy(ifr.ifr_hwaddr.sa_data, mac.data(), mac.size());
    return ::ioctl(sock, SIOCSIFHWADDR, &ifr) == 0 ? 0 : errno;
}

// Deletes the interface's IPv4 addresses one by one: a RTM_DELADDR naming
// only the interface removes its first address, until there is none.
int flushAddresses(Netlink &nl, int index)
{
    for (int n = 0; n < kMaxAddressesFlushed; ++n) {
        Request r(RTM_DELADDR, 0, sizeof(ifaddrmsg));
        r.body<ifaddrmsg>()->ifa_family = AF_INET;
        r.body<ifaddrmsg>()->ifa_index = static_cast<std::uint32_t>(index);
        const int err = nl.send(r);
        if (err == EADDRNOTAVAIL || err == ENODEV)
            return 0;
        if (err != 0)
            return err;
    }
    return 0;
}

int addAddress(Netlink &nl, int index, const Protocol::NetSpec &spec)
{
    Request r(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, sizeof(ifaddrmsg));
    auto *ifa = r.body<ifaddrmsg>();
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = static_cast<std::uint8_t>(spec.prefix);
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = static_cast<std::uint32_t>(index);
    r.ipv4(IFA_LOCAL, spec.address);
    r.ipv4(IFA_ADDRESS, spec.address);
    if (spec.prefix < 31)
        r.ipv4(IFA_BROADCAST, spec.address | ~spec.netmask());
    return nl.send(r);
}

int addDefaultRoute(Netlink &nl, int index, std::uint32_t gateway)
{
    Request r(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, sizeof(rtmsg));
    auto *rt = r.body<rtmsg>();
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_BOOT;
    rt->rtm_scope = RT_SCOPE_UNIVERSE;
    rt->rtm_type = RTN_UNICAST;
    r.ipv4(RTA_GATEWAY, gateway);
    const std::uint32_t oif = static_cast<std::uint32_t>(index);
    r.attribute(RTA_OIF, &oif, sizeof oif);
    return nl.send(r);
}

int writeResolvConf(std::uint32_t nameserver)
{
    const std::string text = "nameserver " + Protocol::NetSpec::formatIpv4(nameserver) + "\n";
    UniqueFd fd(::open(kResolvConfTemp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (fd.get() < 0)
        return errno;
    if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) || ::fsync(fd.get()) != 0) {
        const int err = errno ? errno : EIO;
        ::unlink(kResolvConfTemp);
        return err;
    }
    return ::rename(kResolvConfTemp, kResolvConf) == 0 ? 0 : errno;
}

// The link is down while its address and MAC change: taking it down drops
// its neighbours and its routes (fib_disable_ip, arp_ifdown).
std::string reconfigure(Netlink &nl, int sock, const Interface &itf, const Protocol::NetSpec &spec)
{
    const std::string &name = itf.name;
    if (const int err = setLinkUp(sock, name, false))
        return failure("taking " + name + " down", err);
    if (const int err = flushAddresses(nl, itf.index))
        return failure("deleting the addresses of " + name, err);
    if (itf.mac != spec.mac)
        if (const int err = setMac(sock, name, spec.mac))
            return failure("setting the MAC of " + name, err);
    if (const int err = addAddress(nl, itf.index, spec))
        return failure("adding " + Protocol::NetSpec::formatIpv4(spec.address) + " to " + name, err);
    if (const int err = setLinkUp(sock, name, true))
        return failure("bringing " + name + " up", err);
    if (const int err = addDefaultRoute(nl, itf.index, spec.gateway))
        return failure("the default route via " + Protocol::NetSpec::formatIpv4(spec.gateway), err);
    if (const int err = writeResolvConf(spec.gateway))
        return failure(std::string("writing ") + kResolvConf, err);
    return {};
}

int prefixLength(const sockaddr *mask)
{
    if (!mask)
        return 0;
    int bits = 0;
    const auto *bytes = mask->sa_family == AF_INET ? reinterpret_cast<const std::uint8_t *>(&reinterpret_cast<const sockaddr_in *>(mask)->sin_addr)
                                                   : reinterpret_cast<const std::uint8_t *>(&reinterpret_cast<const sockaddr_in6 *>(mask)->sin6_addr);
    const int size = mask->sa_family == AF_INET ? 4 : 16;
    for (int i = 0; i < size; ++i)
        bits += std::popcount(bytes[i]);
    return bits;
}

std::string addressText(const ifaddrs *a)
{
    char text[INET6_ADDRSTRLEN] = {};
    const void *raw = a->ifa_addr->sa_family == AF_INET ? static_cast<const void *>(&reinterpret_cast<const sockaddr_in *>(a->ifa_addr)->sin_addr)
                                                        : static_cast<const void *>(&reinterpret_cast<const sockaddr_in6 *>(a->ifa_addr)->sin6_addr);
    if (!::inet_ntop(a->ifa_addr->sa_family, raw, text, sizeof text))
        return {};
    return std::string(text) + "/" + std::to_string(prefixLength(a->ifa_netmask));
}

Protocol::InterfaceInfo *entryFor(std::vector<Protocol::InterfaceInfo> &out, const char *name)
{
    for (auto &i : out)
        if (i.name == name)
            return &i;
    if (out.size() >= Protocol::HealthResult::kMaxInterfaces)
        return nullptr;
    out.push_back({name, {}, false, {}});
    return &out.back();
}

} // namespace

std::string apply(const Protocol::NetSpec &spec)
{
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (sock.get() < 0)
        return failure("socket", errno);
    std::string error;
    const auto itf = findInterface(sock.get(), spec.mac, &error);
    if (!itf)
        return error;
    Netlink nl;
    if (!nl.open())
        return failure("opening rtnetlink", errno);
    return reconfigure(nl, sock.get(), *itf, spec);
}

int configureFromArgument(const std::string &text)
{
    const auto spec = Protocol::NetSpec::parse(text);
    if (!spec) {
        std::fprintf(stderr, "microvm-agent: bad network spec \"%s\" (want ADDRESS/PREFIX,GATEWAY,MAC)\n", text.c_str());
        return 2;
    }
    const std::string error = apply(*spec);
    if (!error.empty()) {
        std::fprintf(stderr, "microvm-agent: configuring the network: %s\n", error.c_str());
        return 1;
    }
    return 0;
}

std::vector<Protocol::InterfaceInfo> interfaces()
{
    std::vector<Protocol::InterfaceInfo> out;
    ifaddrs *all = nullptr;
    if (::getifaddrs(&all) != 0)
        return out;
    for (const ifaddrs *a = all; a; a = a->ifa_next) {
        if (!a->ifa_addr || !a->ifa_name || (a->ifa_flags & IFF_LOOPBACK))
            continue;
        Protocol::InterfaceInfo *entry = entryFor(out, a->ifa_name);
        if (!entry)
            continue;
        entry->up = (a->ifa_flags & IFF_UP) != 0;
        const int family = a->ifa_addr->sa_family;
        if (family == AF_PACKET) {
            const auto *ll = reinterpret_cast<const sockaddr_ll *>(a->ifa_addr);
            if (ll->sll_halen == 6) {
                std::array<std::uint8_t, 6> mac{};
                std::memcpy(mac.data(), ll->sll_addr, mac.size());
                entry->mac = Protocol::NetSpec::formatMac(mac);
            }
        } else if ((family == AF_INET || family == AF_INET6) && entry->addresses.size() < Protocol::HealthResult::kMaxAddressesPerInterface) {
            if (std::string text = addressText(a); !text.empty())
                entry->addresses.push_back(std::move(text));
        }
    }
    ::freeifaddrs(all);
    return out;
}

} // namespace GuestAgent::NetConfig
