#pragma once

#include "core/expected.h"
#include "core/net/helperchannel.h"
#include "core/net/hostnetwork.h"

#include <QJsonObject>

#include <memory>

namespace Net {

// The network helper of a service that is not root (RootlessNetwork starts
// it as `microvm-sandbox net-helper`): it runs as root of a user namespace
// of its own, in a network namespace of its own, as process 1 of a PID
// namespace of its own (so every resolver it starts dies with it), and does
// there exactly what a root service does on the host: a HostNetwork, whose
// taps' descriptors it hands to the service. Its uplink, kUplink, is pasta's
// interface, which the service's pasta configures.
//
// run() answers NetHelperProtocol requests until the channel closes (the
// service ended, however) or a stop request, stops the HostNetwork and
// returns the process's exit code.
class NetHelper {
public:
    static constexpr const char *kUplink = "mvsup0";
    static constexpr int kUplinkTimeoutMs = 10000; // pasta configures it
    static constexpr int kPollIntervalMs = 20;
    // The descriptor of the channel in the helper (inherited).
    static constexpr int kChannelFd = 3;

    // /sys of its own network namespace over the host's (unshare remounts
    // only /proc): TapLink reads /sys/class/net, which otherwise lists the
    // host's interfaces (another service's taps). Refused outside a user
    // namespace of its own (the host's /sys stays).
    static Core::Result mountOwnSysfs();

    explicit NetHelper(HelperChannel channel);
    int run();

private:
    Core::Result answerWith(const QJsonObject &request, QJsonObject answer, int fd);
    QJsonObject handle(const QJsonObject &request, int &fdToSend);
    QJsonObject start(const QJsonObject &request);
    QJsonObject attach(const QJsonObject &request, int &fdToSend);
    QJsonObject detach(const QJsonObject &request);
    QJsonObject setPolicy(const QJsonObject &request);
    QJsonObject counters(const QJsonObject &request) const;
    QJsonObject denials(const QJsonObject &request) const;
    QJsonObject reserve(const QJsonObject &request);
    Core::Result waitForUplink() const;

    HelperChannel m_channel;
    std::unique_ptr<HostNetwork> m_network;
    TapDevice m_lastTap; // kept until sent
};

} // namespace Net
