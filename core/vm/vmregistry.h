#pragma once

#include "core/expected.h"
#include "core/vm/virtualmachine.h"
#include "core/vm/vmrecord.h"
#include "core/vm/vmrecordstore.h"

#include <QHash>
#include <QStringList>

#include <map>
#include <memory>
#include <optional>

namespace Vm {

// A snapshot of one managed VM, for listings and the API.
struct VmInfo {
    VmRecord record;
    VirtualMachine::State state = VirtualMachine::State::Created;
    bool accelerated = false; // meaningful while running
    qint64 bootMs = 0; // the last start's spawn -> agent time
    QString boot; // how the last start went: cold, warm, restore, fork; empty: adopted or never
    qint64 memoryNowMiB = 0; // while a VMM runs: memory less what the balloon holds
};

// One named VM of a manager: its durable record and, once instantiated, the
// VM object.
struct VmEntry {
    VmRecord record;
    std::unique_ptr<VirtualMachine> vm;
    bool removing = false;
    bool snapshotting = false; // a snapshot, restore or fork of this VM's snapshot is under way
    QString boot; // see VmInfo::boot
};

// The named VMs of one state directory and their records: lookups with the
// errors an operation reports (unknown, being removed, busy with a
// snapshot), saving records, and which snapshots are being read.
class VmRegistry {
    Q_DISABLE_COPY_MOVE(VmRegistry)
public:
    using Entries = std::map<QString, std::unique_ptr<VmEntry>>;

    explicit VmRegistry(QString stateDir);

    const VmRecordStore &records() const { return m_records; }
    // Load every record (warnings: the files skipped, and why); unfinished
    // snapshots left by a crash are removed.
    QStringList load();

    VmEntry *find(const QString &name) const;
    // The entry, ready for an operation: a valid name, known, not being removed.
    Core::Expected<VmEntry *> entryFor(const QString &name) const;
    // ...and no snapshot, restore or fork of it under way.
    Core::Expected<VmEntry *> idleEntryFor(const QString &name) const;
    const Entries &entries() const { return m_entries; }
    VmEntry *insert(std::unique_ptr<VmEntry> entry);
    std::unique_ptr<VmEntry> take(const QString &name);
    Entries takeAll();

    Core::Result save(const VmRecord &record);
    // Save, and log when that fails (the operation goes on).
    void saveOrWarn(const VmRecord &record);
    void setLastError(const QString &name, const std::optional<Core::Error> &error);

    static VirtualMachine::State reportedState(const VmEntry &entry);
    static VmInfo infoOf(const VmEntry &entry);

    // Snapshots being read by a restore or a fork cannot be deleted meanwhile.
    void beginReading(const QString &vm, const QString &snapshot);
    void endReading(const QString &vm, const QString &snapshot);
    bool isBeingRead(const QString &vm, const QString &snapshot) const;

private:
    VmRecordStore m_records;
    Entries m_entries;
    QHash<QString, int> m_snapshotsRead; // "<vm>/<snapshot>" -> how many readers
};

} // namespace Vm
