#include "server/usagehistory.h"

#include "core/agent/agentclient.h"
#include "core/vm/hostquota.h"
#include "core/vm/vmmanager.h"
#include "server/hoststats.h"

#include <QDateTime>

namespace Server {

UsageHistory::UsageHistory(Vm::VmManager &manager, QObject *parent)
    : QObject(parent)
    , m_manager(manager)
{
    m_timer.setInterval(kIntervalMs);
    connect(&m_timer, &QTimer::timeout, this, &UsageHistory::sampleNow);
    connect(&m_manager, &Vm::VmManager::vmRemoved, this, &UsageHistory::forget);
}

void UsageHistory::start()
{
    m_timer.start();
}

void UsageHistory::sampleNow()
{
    for (const Vm::VmInfo &info : m_manager.list()) {
        const bool runs = info.state == Vm::VirtualMachine::State::Ready || info.state == Vm::VirtualMachine::State::Paused;
        if (!runs)
            continue;
        const QString name = info.record.name;
        Sample sample = readHost(name);
        const Vm::VirtualMachine *vm = m_manager.vm(name);
        if (info.state != Vm::VirtualMachine::State::Ready || !vm || !vm->agent() || !vm->agent()->isReady() || m_asking[name]) {
            record(name, sample);
            continue;
        }
        addGuestMemory(name, sample);
    }
}

// The VMM process and the VM's disk, read now.
UsageHistory::Sample UsageHistory::readHost(const QString &vm) const
{
    Sample sample;
    sample.atMs = QDateTime::currentMSecsSinceEpoch();
    const Vm::VirtualMachine *machine = m_manager.vm(vm);
    if (!machine)
        return sample;
    if (machine->instance()) {
        const HostStats::ProcessSample p = HostStats::readProcess(machine->instance()->pid());
        sample.vmmCpuSeconds = p.cpuSeconds;
        sample.vmmResidentBytes = p.residentBytes;
    }
    if (const QString dir = machine->diskDir(); !dir.isEmpty())
        sample.diskBytes = Vm::diskUsageBytes(dir);
    if (const auto traffic = m_manager.networkTraffic(vm)) {
        sample.networkReceivedBytes = traffic->receivedBytes;
        sample.networkSentBytes = traffic->sentBytes;
    }
    return sample;
}

// The guest's memory from its agent, recorded with the host's numbers once
// it answers, or without it after kHealthTimeoutMs.
void UsageHistory::addGuestMemory(const QString &vm, Sample sample)
{
    m_asking[vm] = true;
    auto recorded = std::make_shared<bool>(false);
    auto finish = [this, vm, recorded](const Sample &s) {
        if (std::exchange(*recorded, true))
            return;
        m_asking.erase(vm);
        if (m_manager.contains(vm))
            record(vm, s);
    };
    Core::whenDone(m_manager.vm(vm)->agent()->health(), this, [sample, finish](const Core::Expected<Agent::Health> &h) {
        Sample withGuest = sample;
        if (h && h->memTotalKiB > 0) {
            withGuest.guestMemTotalBytes = h->memTotalKiB * 1024;
            withGuest.guestMemAvailableBytes = h->memAvailableKiB * 1024;
        }
        finish(withGuest);
    });
    QTimer::singleShot(kHealthTimeoutMs, this, [sample, finish]() { finish(sample); });
}

void UsageHistory::record(const QString &vm, const Sample &sample)
{
    std::deque<Sample> &ring = m_samples[vm];
    ring.push_back(sample);
    while (!ring.empty() && (int(ring.size()) > kMaxSamples || ring.front().atMs < sample.atMs - kKeepMs))
        ring.pop_front();
}

void UsageHistory::forget(const QString &vm)
{
    m_samples.erase(vm);
    m_asking.erase(vm);
}

QList<UsageHistory::Sample> UsageHistory::since(const QString &vm, qint64 sinceMs) const
{
    QList<Sample> out;
    const auto it = m_samples.find(vm);
    if (it == m_samples.end())
        return out;
    for (const Sample &s : it->second)
        if (s.atMs > sinceMs)
            out << s;
    return out;
}

std::optional<double> UsageHistory::cpuPercent(const Sample &before, const Sample &after)
{
    if (!before.vmmCpuSeconds || !after.vmmCpuSeconds || after.atMs <= before.atMs || *after.vmmCpuSeconds < *before.vmmCpuSeconds)
        return std::nullopt;
    return (*after.vmmCpuSeconds - *before.vmmCpuSeconds) * 100.0 * 1000.0 / double(after.atMs - before.atMs);
}

} // namespace Server
