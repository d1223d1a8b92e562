#include "core/vm/vmregistry.h"

#include "core/log.h"
#include "core/snapshot/snapshotstore.h"
#include "core/vmm/vmminstance.h"

namespace Vm {
namespace {

QString readerKey(const QString &vm, const QString &snapshot)
{
    return vm + QLatin1Char('/') + snapshot;
}

} // namespace

VmRegistry::VmRegistry(QString stateDir)
    : m_records(std::move(stateDir))
{
}

QStringList VmRegistry::load()
{
    VmRecordStore::Loaded loaded = m_records.loadAll();
    for (VmRecord &record : loaded.records) {
        const QString name = record.name;
        auto entry = std::make_unique<VmEntry>();
        entry->record = std::move(record);
        m_entries.emplace(name, std::move(entry));
        // A snapshot interrupted by a crash is never listed; its files go.
        for (const QString &stale : Snapshot::SnapshotStore(m_records.snapshotDir(name)).recover())
            Core::Log::core()->warn("removed the unfinished snapshot {}", stale.toStdString());
    }
    for (const QString &w : std::as_const(loaded.warnings))
        Core::Log::core()->warn("skipped VM record {}", w.toStdString());
    return loaded.warnings;
}

VmEntry *VmRegistry::find(const QString &name) const
{
    const auto it = m_entries.find(name);
    return it == m_entries.end() ? nullptr : it->second.get();
}

Core::Expected<VmEntry *> VmRegistry::entryFor(const QString &name) const
{
    if (auto ok = validateVmName(name); !ok)
        return ok.error();
    VmEntry *e = find(name);
    if (!e)
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    if (e->removing)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is being removed").arg(name));
    return e;
}

Core::Expected<VmEntry *> VmRegistry::idleEntryFor(const QString &name) const
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    if ((*e)->snapshotting)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot, restore or fork of VM %1 is under way").arg(name));
    return e;
}

VmEntry *VmRegistry::insert(std::unique_ptr<VmEntry> entry)
{
    VmEntry *e = entry.get();
    const QString name = e->record.name;
    m_entries.emplace(name, std::move(entry));
    return e;
}

std::unique_ptr<VmEntry> VmRegistry::take(const QString &name)
{
    const auto it = m_entries.find(name);
    if (it == m_entries.end())
        return nullptr;
    std::unique_ptr<VmEntry> gone = std::move(it->second);
    m_entries.erase(it);
    return gone;
}

VmRegistry::Entries VmRegistry::takeAll()
{
    Entries all = std::move(m_entries);
    m_entries.clear();
    return all;
}

Core::Result VmRegistry::save(const VmRecord &record)
{
    return m_records.save(record);
}

void VmRegistry::saveOrWarn(const VmRecord &record)
{
    if (auto ok = save(record); !ok)
        Core::Log::core()->warn("{}: {}", record.name.toStdString(), ok.error().message.toStdString());
}

void VmRegistry::setLastError(const QString &name, const std::optional<Core::Error> &error)
{
    VmEntry *e = find(name);
    if (!e)
        return;
    e->record.lastError = error;
    saveOrWarn(e->record);
}

VirtualMachine::State VmRegistry::reportedState(const VmEntry &entry)
{
    if (entry.vm && entry.vm->state() != VirtualMachine::State::Created)
        return entry.vm->state();
    // Not started by this manager: Stopped if it ever ran (its VMM ended
    // with the process that started it), else Created.
    return entry.record.lastStartedAt.isValid() ? VirtualMachine::State::Stopped : VirtualMachine::State::Created;
}

VmInfo VmRegistry::infoOf(const VmEntry &entry)
{
    VmInfo info;
    info.record = entry.record;
    info.state = reportedState(entry);
    info.boot = entry.boot;
    if (entry.vm) {
        info.bootMs = entry.vm->bootMs();
        info.memoryNowMiB = entry.vm->memoryNowMiB();
        if (entry.vm->instance())
            info.accelerated = entry.vm->instance()->accelerated();
    }
    return info;
}

void VmRegistry::beginReading(const QString &vm, const QString &snapshot)
{
    ++m_snapshotsRead[readerKey(vm, snapshot)];
}

void VmRegistry::endReading(const QString &vm, const QString &snapshot)
{
    const QString key = readerKey(vm, snapshot);
    if (--m_snapshotsRead[key] <= 0)
        m_snapshotsRead.remove(key);
}

bool VmRegistry::isBeingRead(const QString &vm, const QString &snapshot) const
{
    return m_snapshotsRead.contains(readerKey(vm, snapshot));
}

} // namespace Vm
