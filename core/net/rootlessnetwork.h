#pragma once

#include "core/expected.h"
#include "core/net/helperchannel.h"
#include "core/net/hostnetwork.h"
#include "core/net/networkbackend.h"

#include <QJsonObject>
#include <QList>
#include <QStringList>

#include <memory>
#include <optional>
#include <set>

class QObject;
class QProcess;

namespace Net {

struct RootlessOptions {
    // instanceId, runtimeDir, subnetCandidates and upstreams as for a
    // HostNetwork (upstreams empty: the nameservers of /etc/resolv.conf);
    // lockDir is the helper's own (in runtimeDir: its namespace is its own).
    HostNetworkOptions network;
    // The helper: `microvm-sandbox net-helper` (NetHelper).
    QStringList helperCommand;
    QString tunDevice = QStringLiteral("/dev/net/tun");
    // 0: RootlessNetwork::kRequestTimeoutMs (a test's helper double: less).
    int requestTimeoutMs = 0;
};

// VM networking for a service that is not root (issue 15): the same
// HostNetwork as a root service's, run by NetHelper in a user, network, mount
// and PID namespace of the service's own (`unshare --user --map-root-user
// --net --pid --fork --kill-child --mount-proc`), where it is root; pasta
// (Debian's passt) connects that namespace to the host's network in user
// mode: what the namespace routes out of its uplink (NetHelper::kUplink,
// kUplinkAddress/kUplinkPrefix) pasta sends from the host as the service's
// own sockets. The VMs' taps, filters (nftables) and resolvers (dnsmasq)
// live in the namespace and enforce the policy exactly as on a root host;
// each tap's descriptor comes over a HelperChannel (SCM_RIGHTS) for the
// VMM. The VM subnet exists only in the namespace, so it never collides
// with the host's routes.
//
// The host itself: from the namespace the host's addresses are remote ones
// that pasta would connect to, so the namespace's filter treats them as the
// host itself (NftRuleset's outer host addresses: reachable only at an
// address an allow rule names as a single address; reservedAddresses():
// hostAddresses() and pasta's own kUplinkGateway and kDnsForward, at start,
// again before every attach and policy change and every
// kHostAddressRefreshMs), and pasta maps nothing to the host (--no-map-gw,
// no port forwarding either way). An
// upstream resolver on the host's loopback (127.0.0.53) is reached through
// pasta's DNS forwarder (kDnsForward: it forwards to the first nameserver
// of the host's /etc/resolv.conf); one with a port of its own cannot be.
//
// Lifetime: the helper and pasta die with the service (parent-death signal,
// and the helper with its channel), the resolvers with the helper (process
// 1 of their PID namespace), the namespace with its last process or tap:
// nothing is left on the host. If the helper or pasta dies while the
// service runs (seen at once with an event loop, else at the next call), or
// the helper answers out of step (each request carries an "id" the answer
// echoes; a stray answer is dropped, its descriptor closed) or not within
// the request timeout, the network fails closed: the other process is ended
// too, every later call fails naming the cause, and the VMs' traffic stops
// (their filter stays in the kernel with their taps: never unfiltered). The
// network cannot outlive the service: release() is stop(), and adopt()
// refuses (a VM left running loses its network; restart it).
//
// Needs /dev/net/tun open to everyone (checkTun(): Debian's 0666), `unshare`
// (util-linux), `pasta` and unprivileged user namespaces.
class RootlessNetwork : public NetworkBackend {
public:
    static constexpr const char *kUplinkAddress = "10.0.2.15";
    static constexpr int kUplinkPrefix = 24;
    static constexpr const char *kUplinkGateway = "10.0.2.2";
    static constexpr const char *kDnsForward = "10.0.2.3";
    static constexpr int kStartTimeoutMs = 30000; // the helper, pasta, the uplink, the table
    static constexpr int kRequestTimeoutMs = 20000; // an attach starts a resolver (Resolver::kStartTimeoutMs)
    static constexpr int kStopTimeoutMs = 10000;
    static constexpr int kHealthPollMs = 200; // while waiting for an answer
    static constexpr qint64 kMaxLogTailBytes = 2000;
    static constexpr int kHostAddressRefreshMs = 10000; // a new interface, a new lease

    // Unsupported, naming the cause and the fix, when path cannot be opened.
    static Core::Result checkTun(const QString &path);
    static Core::Expected<std::unique_ptr<RootlessNetwork>> start(RootlessOptions options);
    // The host's own addresses (single-address networks) but loopback and
    // link-local IPv6.
    static QList<Cidr> hostAddresses();
    // hostAddresses() and pasta's kUplinkGateway and kDnsForward (the host
    // too: pasta's gateway and DNS forwarder reach the host's loopback).
    static QList<Cidr> reservedAddresses();
    // The upstreams as the namespace reaches them: the host's loopback ones
    // through kDnsForward (needsDnsForward set); one with a port is refused.
    static Core::Expected<QStringList> namespaceUpstreams(const QStringList &upstreams, bool &needsDnsForward);

    RootlessNetwork(const RootlessNetwork &) = delete;
    RootlessNetwork &operator=(const RootlessNetwork &) = delete;
    ~RootlessNetwork() override;

    Core::Expected<VmAttachment> attach(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac = {},
                                        const QString &privateNetwork = {}) override;
    Core::Expected<VmAttachment> adopt(const QString &vmId, int slot, const NetworkPolicy &policy, const QString &mac = {},
                                       const QString &privateNetwork = {}) override;
    Core::Result setPolicy(int slot, const NetworkPolicy &policy) override;
    Core::Result detach(int slot) override;
    Core::Expected<VmCounters> counters(int slot) const override;
    Core::Expected<QList<Denial>> denials(int slot) const override;
    QString tapName(int slot) const override;
    Core::Result stop() override;
    void release() override;
    bool outlivesService() const override { return false; }

    // Both the helper and pasta run (else the error names which ended, and
    // the network fails closed).
    Core::Result health() const;
    Cidr subnet() const { return m_subnet; }
    QString table() const { return m_table; }
    qint64 helperPid() const;
    qint64 pastaPid() const;

private:
    explicit RootlessNetwork(RootlessOptions options);

    Core::Result spawnHelper(int channelFd);
    Core::Result awaitReady();
    Core::Result spawnPasta(bool dnsForward);
    Core::Result startNetwork(const QStringList &upstreams);
    Core::Result refreshHostAddresses();
    void watchProcesses();
    enum class Descriptor { Close, Keep };
    // timeoutMs 0: the options' request timeout. An answer's descriptor is
    // closed unless kept (attach's tap).
    Core::Expected<HelperChannel::Message> request(const QJsonObject &r, Descriptor descriptor = Descriptor::Close, int timeoutMs = 0) const;
    Core::Expected<HelperChannel::Message> awaitAnswer(qint64 id, int timeoutMs) const;
    Core::Result deathOf() const;
    Core::Error failClosed(const Core::Error &why) const;
    QString logTail(const QString &file) const;
    enum class Ending { Graceful, Now };
    void endProcesses(Ending how = Ending::Graceful) const;

    RootlessOptions m_options;
    // Mutable: a failed status call (counters(), denials(), health()) ends
    // the processes too (fail closed).
    // The context of the processes' deaths and the refresh timer; deleted
    // (its queued calls with it) only with this.
    mutable std::unique_ptr<QObject> m_watch;
    mutable std::unique_ptr<QProcess> m_helper;
    mutable std::unique_ptr<QProcess> m_pasta;
    mutable HelperChannel m_channel;
    mutable qint64 m_nextId = 1;
    mutable std::optional<Core::Error> m_failure;
    QList<Cidr> m_reserved;
    Cidr m_subnet;
    QString m_table;
    std::set<int> m_slots;
};

} // namespace Net
