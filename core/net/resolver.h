#pragma once

#include "core/expected.h"
#include "core/net/dnsmasqconfig.h"

#include <QList>
#include <QString>

namespace Net {

// One VM's resolver: a dnsmasq process running DnsmasqConfig::text(),
// started detached (its own session, not our child, no parent-death
// signal): like the VM it serves, it outlives a crashed service, and the
// next instance's start-up ends it (HostNetwork). It is recognised by its
// configuration file's name, <table>_v<slot>.conf, on its command line.
//
// Blocking: start() waits until dnsmasq answers on the gateway (typically
// 10-50 ms; at most kStartTimeoutMs), stop() until it has exited (at most
// kStopTimeoutMs). dnsmasq does not reread its configuration on SIGHUP, so a
// new policy is a restart (a few tens of ms without DNS for the VM; its
// resolver library retries).
//
// The log file (dnsmasq's own messages, and its stderr) is bounded: past
// kMaxLogBytes it is copied to <log>.old (replacing the one before) and
// emptied, at start and by rotateLog(), which a caller may run periodically.
// dnsmasq gets a clean environment (HostTool::environment()).
class Resolver {
public:
    static constexpr int kStartTimeoutMs = 5000;
    static constexpr int kStopTimeoutMs = 3000;
    static constexpr int kPollIntervalMs = 10;
    static constexpr qint64 kMaxLogBytes = 1024 * 1024;

    // Files in dir: <table>_v<slot>.conf, .pid, .log. config.pidFile and
    // config.logFile are set here.
    Resolver(const QString &dir, DnsmasqConfig config);
    Resolver(const Resolver &) = delete;
    Resolver &operator=(const Resolver &) = delete;
    // Does not stop dnsmasq (HostNetwork does): see above.
    ~Resolver() = default;

    // Writes the configuration, starts dnsmasq, waits until it listens.
    // Timeout names kStartTimeoutMs; a dnsmasq that exits has its log's tail
    // in the error. Stops one left running by an earlier start first.
    Core::Result start();
    // The new policy: rewritten configuration, restart.
    Core::Result replacePolicy(const NetworkPolicy &policy);
    // SIGTERM, then SIGKILL after kStopTimeoutMs. Idempotent.
    Core::Result stop();
    void rotateLog();

    qint64 pid() const { return m_pid; }
    const DnsmasqConfig &config() const { return m_config; }
    QString configPath() const { return m_configPath; }

    // The file name of a VM's configuration: what identifies its dnsmasq.
    static QString configFileName(const QString &table, int slot);
    struct Running {
        qint64 pid = 0;
        QString configName; // "mvs_ab12_v3.conf"
    };
    // The dnsmasq processes whose configuration file name starts with
    // prefix ("mvs_ab12_": every resolver of instance ab12), from /proc,
    // in this process's network namespace only.
    static QList<Running> running(const QString &prefix);
    // Ends a process (SIGTERM, then SIGKILL), waiting at most kStopTimeoutMs
    // for each; success when it is gone.
    static Core::Result terminate(qint64 pid);

private:
    Core::Result writeConfig() const;
    Core::Result waitUntilListening(qint64 pid) const;
    QString logTail() const;

    DnsmasqConfig m_config;
    QString m_configPath;
    qint64 m_pid = 0;
};

} // namespace Net
