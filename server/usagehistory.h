#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <deque>
#include <map>
#include <optional>

namespace Vm {
class VmManager;
}

namespace Server {

// What each VM that runs costs the host, sampled every kIntervalMs and kept
// for kKeepMs in memory, per VM in a ring of at most kMaxSamples (a deleted
// VM's go with it): its VMM process's CPU time and resident memory (/proc),
// its guest's memory (the agent's health, when it answers within
// kHealthTimeoutMs) and the blocks of its own disk directory. Served as
// GET /api/v1/vms/{name}/stats. Bounded: kMaxSamples per VM that exists,
// one health request per running VM per interval, never two at once.
class UsageHistory final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UsageHistory)
public:
    static constexpr int kIntervalMs = 5000;
    static constexpr qint64 kKeepMs = 3600 * 1000;
    static constexpr int kMaxSamples = int(kKeepMs / kIntervalMs);
    static constexpr int kHealthTimeoutMs = 2000;

    struct Sample {
        qint64 atMs = 0; // ms since the epoch, UTC
        std::optional<double> vmmCpuSeconds;
        std::optional<quint64> vmmResidentBytes;
        std::optional<quint64> guestMemTotalBytes;
        std::optional<quint64> guestMemAvailableBytes;
        std::optional<qint64> diskBytes;
        // Through its NIC, from the start of its network (guest's view).
        std::optional<quint64> networkReceivedBytes;
        std::optional<quint64> networkSentBytes;
    };

    // The manager must outlive this. Sampling starts with start().
    explicit UsageHistory(Vm::VmManager &manager, QObject *parent = nullptr);

    void start();
    // One round now (what the timer does).
    void sampleNow();
    // Add a sample (oldest first; one older than kKeepMs before it, or
    // past kMaxSamples, pushes out the oldest).
    void record(const QString &vm, const Sample &sample);
    void forget(const QString &vm);
    // The VM's samples taken after sinceMs, oldest first.
    QList<Sample> since(const QString &vm, qint64 sinceMs) const;
    // CPU use between two samples in percent of one core; none when either
    // lacks the VMM's time or they are not in order.
    static std::optional<double> cpuPercent(const Sample &before, const Sample &after);

private:
    Sample readHost(const QString &vm) const;
    void addGuestMemory(const QString &vm, Sample sample);

    Vm::VmManager &m_manager;
    QTimer m_timer;
    std::map<QString, std::deque<Sample>> m_samples;
    std::map<QString, bool> m_asking; // a health request of this VM is out
};

} // namespace Server
