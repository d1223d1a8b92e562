#include "core/vm/vmmanager.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vmm/detachedvmm.h"
#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"
#include "core/workerpool.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QPointer>

#include <sys/statvfs.h>
#include <csignal>

namespace Vm {
namespace {

constexpr qint64 kLowSpaceBytes = 4 * 1024 * 1024;

// A snapshot that failed while its file system is (nearly) full failed
// because of that, whatever the writer said (QEMU reports a broken pipe when
// its writer hits ENOSPC).
Core::Error explainSnapshotFailure(Core::Error error, const QString &dir)
{
    if (error.code == Core::ErrorCode::NoSpace)
        return error;
    if (error.code == Core::ErrorCode::Cancelled) {
        error.message += QStringLiteral("; nothing was kept");
        return error;
    }
    struct statvfs fs {};
    if (::statvfs(QFile::encodeName(dir).constData(), &fs) == 0 && qint64(fs.f_bavail) * qint64(fs.f_frsize) < kLowSpaceBytes)
        return Core::Error(Core::ErrorCode::NoSpace,
                           QStringLiteral("no space left for the snapshot in %1 (%2); nothing was kept").arg(dir, error.message));
    error.message += QStringLiteral("; nothing was kept");
    return error;
}

bool isStartable(VirtualMachine::State s)
{
    return s == VirtualMachine::State::Created || s == VirtualMachine::State::Stopped || s == VirtualMachine::State::Failed;
}

} // namespace

Core::Result VmManager::validateName(const QString &name)
{
    return validateVmName(name);
}

QString VmManager::defaultStateDir()
{
    return Core::Paths::dataDir() + QStringLiteral("/vms");
}

VmManager::VmManager(const Vmm::VmmDriver &driver, QString stateDir, QObject *parent)
    : QObject(parent)
    , m_driver(driver)
    , m_stateDir(stateDir.isEmpty() ? defaultStateDir() : std::move(stateDir))
    , m_records(m_stateDir)
{
    load();
    adoptLeftRunning();
}

VmManager::~VmManager()
{
    forgetRunningVmms();
    // Kill every VM this manager runs. Move the entries out first: a VM
    // killed while starting resolves its start future, and continuations
    // that look entries up must find none.
    auto entries = std::move(m_entries);
    m_entries.clear();
    for (auto &[name, entry] : entries)
        if (entry->vm)
            entry->vm->disconnect(this);
    entries.clear();
}

void VmManager::load()
{
    VmRecordStore::Loaded loaded = m_records.loadAll();
    m_loadWarnings = loaded.warnings;
    for (VmRecord &record : loaded.records) {
        const QString name = record.name;
        auto entry = std::make_unique<Entry>();
        entry->record = std::move(record);
        m_entries.emplace(name, std::move(entry));
        // A snapshot interrupted by a crash is never listed; its files go.
        for (const QString &stale : Snapshot::SnapshotStore(snapshotDir(name)).recover())
            Core::Log::core()->warn("removed the unfinished snapshot {}", stale.toStdString());
    }
    for (const QString &w : std::as_const(m_loadWarnings))
        Core::Log::core()->warn("skipped VM record {}", w.toStdString());
}

VmManager::Entry *VmManager::find(const QString &name) const
{
    const auto it = m_entries.find(name);
    return it == m_entries.end() ? nullptr : it->second.get();
}

Core::Expected<VmManager::Entry *> VmManager::entryFor(const QString &name) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    Entry *e = find(name);
    if (!e)
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    if (e->removing)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is being removed").arg(name));
    return e;
}

Core::Result VmManager::ensureVm(Entry *entry)
{
    if (entry->vm)
        return {};
    auto tmpl = Templates::VmTemplate::load(entry->record.templateName);
    if (!tmpl)
        return tmpl.error();
    const QString name = entry->record.name;
    auto vm = std::make_unique<VirtualMachine>(name, *tmpl, m_driver);
    vm->setVcpus(entry->record.vcpus);
    vm->setMemoryMiB(entry->record.memoryMiB);
    vm->setConsoleLogPath(consoleLogPath(name));
    // Root-disk templates: the VM's own writable layer lives with its record,
    // so what it wrote survives stop/start and a restart of the service.
    vm->setDiskDir(diskDir(name));
    connect(vm.get(), &VirtualMachine::stateChanged, this, [this, name]() {
        if (const Entry *e = find(name))
            Q_EMIT vmStateChanged(name, reportedState(*e));
    });
    connect(vm.get(), &VirtualMachine::failed, this, [this, name](const Core::Error &error) {
        setLastError(name, error);
    });
    connect(vm.get(), &VirtualMachine::imageProgress, this,
            [this, name](const QString &step, int percent) { Q_EMIT imageProgress(name, step, percent); });
    clearRunningVmmWhenItEnds(vm.get(), name);
    entry->vm = std::move(vm);
    return {};
}

VirtualMachine::State VmManager::reportedState(const Entry &entry) const
{
    if (entry.vm && entry.vm->state() != VirtualMachine::State::Created)
        return entry.vm->state();
    // Not started by this manager: Stopped if it ever ran (its VMM ended
    // with the process that started it), else Created.
    return entry.record.lastStartedAt.isValid() ? VirtualMachine::State::Stopped : VirtualMachine::State::Created;
}

VmInfo VmManager::infoOf(const Entry &entry) const
{
    VmInfo info;
    info.record = entry.record;
    info.state = reportedState(entry);
    if (entry.vm) {
        info.bootMs = entry.vm->bootMs();
        if (entry.vm->instance())
            info.accelerated = entry.vm->instance()->accelerated();
    }
    return info;
}

QString VmManager::diskDir(const QString &name) const
{
    return m_records.diskDir(name);
}

QString VmManager::snapshotDir(const QString &name) const
{
    return m_records.snapshotDir(name);
}

QString VmManager::consoleLogPath(const QString &name) const
{
    return m_records.consoleLogPath(name);
}

Core::Result VmManager::persist(const VmRecord &record)
{
    return m_records.save(record);
}

void VmManager::setLastError(const QString &name, const std::optional<Core::Error> &error)
{
    Entry *e = find(name);
    if (!e)
        return;
    e->record.lastError = error;
    if (auto ok = persist(e->record); !ok)
        Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
}

Core::Expected<VmInfo> VmManager::create(const CreateOptions &options)
{
    if (auto ok = validateName(options.name); !ok)
        return ok.error();
    if (find(options.name))
        return Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("a VM named '%1' already exists").arg(options.name));
    if (options.templateName.isEmpty())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("a template is required"));
    // A template is named, never a path: records must not point at files.
    if (options.templateName.contains(QLatin1Char('/')) || options.templateName.endsWith(QLatin1String(".yaml")))
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("bad template name '%1': give a template's name, not a path").arg(options.templateName.left(80)));
    auto tmpl = Templates::VmTemplate::load(options.templateName);
    if (!tmpl)
        return tmpl.error();
    const int vcpus = options.vcpus.value_or(tmpl->vcpus);
    const int memory = options.memoryMiB.value_or(tmpl->memoryMiB);
    if (vcpus < 1 || vcpus > kMaxVcpus)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("vcpus must be between 1 and %1").arg(kMaxVcpus));
    if (memory < kMinMemoryMiB || memory > kMaxMemoryMiB)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("memory must be between %1 and %2 MiB").arg(kMinMemoryMiB).arg(kMaxMemoryMiB));

    auto entry = std::make_unique<Entry>();
    entry->record.name = options.name;
    entry->record.templateName = tmpl->name;
    entry->record.vcpus = vcpus;
    entry->record.memoryMiB = memory;
    entry->record.createdAt = QDateTime::currentDateTimeUtc();
    if (auto ok = persist(entry->record); !ok)
        return ok.error();
    // A stale console log of an earlier VM of the same name is not this VM's.
    QFile::remove(consoleLogPath(options.name));
    Entry *e = entry.get();
    m_entries.emplace(options.name, std::move(entry));
    if (auto ok = ensureVm(e); !ok) {
        // Cannot happen for a template that just loaded; roll back anyway.
        m_entries.erase(options.name);
        QFile::remove(m_records.recordPath(options.name));
        return ok.error();
    }
    Q_EMIT vmAdded(options.name);
    return infoOf(*e);
}

bool VmManager::contains(const QString &name) const
{
    return find(name) != nullptr;
}

QStringList VmManager::names() const
{
    QStringList out;
    for (const auto &[name, entry] : m_entries)
        out << name;
    return out;
}

QList<VmInfo> VmManager::list() const
{
    QList<VmInfo> out;
    for (const auto &[name, entry] : m_entries)
        out << infoOf(*entry);
    return out;
}

Core::Expected<VmInfo> VmManager::info(const QString &name) const
{
    auto e = entryFor(name);
    if (!e) {
        // A VM being removed is still listed until it is gone.
        if (const Entry *found = find(name))
            return infoOf(*found);
        return e.error();
    }
    return infoOf(**e);
}

VirtualMachine *VmManager::vm(const QString &name) const
{
    const Entry *e = find(name);
    return e ? e->vm.get() : nullptr;
}

Core::Expected<bool> VmManager::hasDesktop(const QString &name) const
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    if ((*e)->vm)
        return (*e)->vm->vmTemplate().desktop.enabled;
    auto tmpl = Templates::VmTemplate::load((*e)->record.templateName);
    if (!tmpl)
        return tmpl.error();
    return tmpl->desktop.enabled;
}

Core::Expected<qint64> VmManager::vmmCpuMs(const QString &name) const
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    const VirtualMachine *vm = (*e)->vm.get();
    const auto ms = vm && vm->instance() ? Vmm::processCpuMs(vm->instance()->pid()) : std::nullopt;
    if (!ms)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("no VMM runs for VM %1").arg(name));
    return *ms;
}

Core::Result VmManager::cancelImageBuild(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    VirtualMachine *vm = (*e)->vm.get();
    if (!vm || vm->state() != VirtualMachine::State::Preparing || !vm->imageBuilder())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("no image is being prepared for VM %1").arg(name));
    vm->imageBuilder()->cancel();
    return {};
}

Core::Expected<Agent::AgentClient *> VmManager::agent(const QString &name) const
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    const VirtualMachine::State s = reportedState(**e);
    if (s == VirtualMachine::State::Paused)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is paused; resume it first").arg(name));
    if (s != VirtualMachine::State::Ready)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is %2; start it first").arg(name, stateName(s)));
    Agent::AgentClient *a = (*e)->vm->agent();
    if (!a || !a->isReady())
        return Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("the guest agent of VM %1 is not connected").arg(name));
    return a;
}

Core::Expected<QByteArray> VmManager::consoleLog(const QString &name, qint64 maxBytes) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    if (!find(name))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    QFile f(consoleLogPath(name));
    if (!f.open(QIODevice::ReadOnly))
        return QByteArray();
    if (maxBytes >= 0 && f.size() > maxBytes)
        f.seek(f.size() - maxBytes);
    return f.readAll();
}

Core::Future<void> VmManager::start(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Entry *entry = *e;
    if (auto ok = ensureVm(entry); !ok) {
        setLastError(name, ok.error());
        return Core::readyFuture<void>(ok.error());
    }
    const VirtualMachine::State s = entry->vm->state();
    if (!isStartable(s))
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a stopped VM can be started").arg(name, stateName(s))));
    entry->record.desired = VmRecord::Desired::Running;
    entry->record.lastStartedAt = QDateTime::currentDateTimeUtc();
    entry->record.lastError.reset();
    if (auto ok = persist(entry->record); !ok)
        return Core::readyFuture<void>(ok.error());
    entry->vm->setPersistent(m_detachable);
    return entry->vm->start().then(this, [this, name](const Core::Result &r) -> Core::Result {
        if (r && m_detachable)
            recordRunningVmm(name);
        if (!r) {
            if (Entry *en = find(name)) {
                en->record.desired = VmRecord::Desired::Stopped;
                // Stopped or removed while starting: what was asked, not a fault.
                if (r.error().code != Core::ErrorCode::Cancelled)
                    setLastError(name, r.error());
                else if (auto ok = persist(en->record); !ok)
                    Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
            }
        }
        return r;
    });
}

Core::Future<void> VmManager::stop(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Entry *entry = *e;
    if (entry->vm && entry->vm->state() == VirtualMachine::State::Stopping)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("VM %1 is already stopping").arg(name)));
    entry->record.desired = VmRecord::Desired::Stopped;
    if (auto ok = persist(entry->record); !ok)
        return Core::readyFuture<void>(ok.error());
    if (!entry->vm)
        return Core::readyFuture();
    return entry->vm->stop();
}

Core::Future<void> VmManager::pause(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    if (!(*e)->vm || (*e)->vm->state() != VirtualMachine::State::Ready)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a running VM can be paused").arg(name, stateName(reportedState(**e)))));
    return (*e)->vm->pause().then(this, [this, name](const Core::Result &r) -> Core::Result {
        Entry *en = find(name);
        if (r && en) {
            en->record.desired = VmRecord::Desired::Paused;
            if (auto ok = persist(en->record); !ok)
                return ok;
        }
        return r;
    });
}

Core::Future<void> VmManager::resume(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    if (!(*e)->vm || (*e)->vm->state() != VirtualMachine::State::Paused)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a paused VM can be resumed").arg(name, stateName(reportedState(**e)))));
    return (*e)->vm->resume().then(this, [this, name](const Core::Result &r) -> Core::Result {
        Entry *en = find(name);
        if (r && en) {
            en->record.desired = VmRecord::Desired::Running;
            if (auto ok = persist(en->record); !ok)
                return ok;
        }
        return r;
    });
}

Core::Future<void> VmManager::restart(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Core::Promise<void> p;
    Core::whenDone(stop(name), this, [this, name, p](const Core::Result &stopped) {
        if (!stopped) {
            p.resolve(stopped);
            return;
        }
        Core::whenDone(start(name), this, [p](const Core::Result &started) { p.resolve(started); });
    });
    return p.future();
}

Core::Future<void> VmManager::remove(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Entry *entry = *e;
    entry->removing = true;
    Core::Promise<void> p;
    auto forget = [this, name, p]() {
        const auto it = m_entries.find(name);
        if (it == m_entries.end()) {
            p.resolve({});
            return;
        }
        if (auto removed = m_records.remove(name); !removed) {
            it->second->removing = false;
            p.resolve(removed.error());
            return;
        }
        std::unique_ptr<Entry> gone = std::move(it->second);
        m_entries.erase(it);
        QFile::remove(consoleLogPath(name));
        QDir(diskDir(name)).removeRecursively();
        Snapshot::SnapshotStore(snapshotDir(name)).removeAll();
        if (gone->vm) {
            // This may run inside the VM's own continuation: delete it later.
            gone->vm->disconnect(this);
            gone->vm->kill();
            gone->vm.release()->deleteLater();
        }
        Q_EMIT vmRemoved(name);
        p.resolve({});
    };
    if (!entry->vm || isStartable(entry->vm->state())) {
        forget();
        return p.future();
    }
    if (entry->vm->state() == VirtualMachine::State::Stopping) {
        // A stop is under way already; do not wait on it twice.
        entry->vm->kill();
        forget();
        return p.future();
    }
    Core::whenDone(entry->vm->stop(), this, [forget](const Core::Result &) { forget(); });
    return p.future();
}

// --- snapshots ---------------------------------------------------------------

template<typename T>
void VmManager::markInUse(const QString &vm, const QString &snapshot, const Core::Future<T> &until)
{
    const QString key = vm + QLatin1Char('/') + snapshot;
    ++m_snapshotsInUse[key];
    Core::whenDone(until, this, [this, key](const Core::Expected<T> &) {
        if (--m_snapshotsInUse[key] <= 0)
            m_snapshotsInUse.remove(key);
    });
}

Core::Expected<VmManager::Entry *> VmManager::snapshotEntry(const QString &name) const
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    if ((*e)->snapshotting)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("a snapshot, restore or fork of VM %1 is under way").arg(name));
    return e;
}

// A snapshot being taken: where it is staged and what it will be.
struct VmManager::SnapshotTake {
    QString vm;
    Snapshot::SnapshotStore store{QString()};
    QString stagingDir;
    QString name;
    QString parent;
    QDateTime createdAt;
    std::vector<std::unique_ptr<Snapshot::GrowingFileHasher>> hashers;
};

Core::Future<Snapshot::SnapshotInfo> VmManager::snapshot(const QString &name, const SnapshotOptions &options)
{
    using Info = Snapshot::SnapshotInfo;
    auto e = snapshotEntry(name);
    if (!e)
        return Core::readyFuture<Info>(e.error());
    Entry *entry = *e;
    const VirtualMachine::State s = reportedState(*entry);
    if (!entry->vm || (s != VirtualMachine::State::Ready && s != VirtualMachine::State::Paused))
        return Core::readyFuture<Info>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; only a running or paused VM can be snapshotted").arg(name, stateName(s))));
    const Snapshot::SnapshotStore store(snapshotDir(name));
    const QString snapName = options.name.isEmpty() ? store.uniqueName() : options.name;
    if (auto ok = Snapshot::SnapshotStore::validateName(snapName); !ok)
        return Core::readyFuture<Info>(ok.error());
    if (store.contains(snapName))
        return Core::readyFuture<Info>(Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("VM %1 has a snapshot named '%2' already").arg(name, snapName)));
    auto staging = store.beginStaging(snapName);
    if (!staging)
        return Core::readyFuture<Info>(explainSnapshotFailure(staging.error(), store.root()));

    entry->snapshotting = true;
    auto take = std::make_shared<SnapshotTake>();
    take->vm = name;
    take->store = store;
    take->stagingDir = *staging;
    take->name = snapName;
    take->parent = entry->record.currentSnapshot;
    take->createdAt = QDateTime::currentDateTimeUtc();
    // The VMM's state files are hashed while they are written.
    if (Vmm::VmmInstance *instance = entry->vm->instance())
        for (const QString &file : instance->stateFiles())
            take->hashers.push_back(std::make_unique<Snapshot::GrowingFileHasher>(QDir(take->stagingDir).filePath(file)));

    const auto saved = entry->vm->saveSnapshot(take->stagingDir, options.leavePaused);
    const auto committed = Core::then(saved, this, [take](const Info &info) { return commitSnapshot(take, info); });
    Core::Promise<Info> promise;
    Core::whenDone(committed, this, [this, take, promise](const Core::Expected<Info> &r) {
        if (!r) {
            promise.resolve(snapshotFailed(*take, r.error()));
            return;
        }
        snapshotTaken(*take, *r);
        promise.resolve(r);
    });
    return promise.future();
}

// The VM is saved: finish the hashes, write the manifest and list it (off
// the event loop).
Core::Future<Snapshot::SnapshotInfo> VmManager::commitSnapshot(const std::shared_ptr<SnapshotTake> &take, Snapshot::SnapshotInfo info)
{
    info.name = take->name;
    info.createdAt = take->createdAt;
    info.parent = take->parent;
    QStringList files = info.stateFiles;
    if (!info.diskFile.isEmpty())
        files << info.diskFile;
    return Core::runInThread<Snapshot::SnapshotInfo>([take, info, files]() {
        QList<Snapshot::SnapshotFile> hashed;
        for (const auto &hasher : take->hashers)
            if (auto h = hasher->finish())
                hashed << *h; // else commit hashes that file itself
        return take->store.commit(take->stagingDir, info, files, hashed);
    });
}

void VmManager::snapshotTaken(const SnapshotTake &take, const Snapshot::SnapshotInfo &listed)
{
    const QString &name = take.vm;
    if (Entry *en = find(name)) {
        en->snapshotting = false;
        en->record.currentSnapshot = listed.name;
        if (en->vm && en->vm->state() == VirtualMachine::State::Paused)
            en->record.desired = VmRecord::Desired::Paused;
        if (auto ok = persist(en->record); !ok)
            Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
    }
    Core::Log::core()->info("{}: snapshot {} taken, {} bytes, paused {} ms", name.toStdString(), listed.name.toStdString(), listed.sizeBytes(),
                            listed.pausedMs);
    // Durable in the background; the checksums cover a power cut before.
    Core::whenDone(Core::runInThread<void>([listed]() { return Snapshot::SnapshotStore::syncFiles(listed); }), this,
                   [name](const Core::Result &synced) {
                       if (!synced)
                           Core::Log::core()->warn("{}: {}", name.toStdString(), synced.error().message.toStdString());
                   });
    Q_EMIT snapshotsChanged(name);
}

Core::Error VmManager::snapshotFailed(SnapshotTake &take, const Core::Error &error)
{
    take.hashers.clear(); // stop reading before the files go
    // Judge the free space before the partial files go and free it.
    const Core::Error explained = explainSnapshotFailure(error, take.store.root());
    take.store.discard(take.stagingDir);
    if (Entry *en = find(take.vm))
        en->snapshotting = false;
    Core::Log::core()->warn("{}: snapshot failed: {}", take.vm.toStdString(), explained.message.toStdString());
    return explained;
}

Core::Result VmManager::cancelSnapshot(const QString &name)
{
    auto e = entryFor(name);
    if (!e)
        return e.error();
    VirtualMachine *vm = (*e)->vm.get();
    if (!vm || !vm->snapshotBusy())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("no snapshot of VM %1 is under way").arg(name));
    if (!vm->cancelSnapshot())
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the snapshot of VM %1 is past the point where it can be cancelled").arg(name));
    return {};
}

Core::Expected<QList<Snapshot::SnapshotInfo>> VmManager::snapshots(const QString &name) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    if (!find(name))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    QStringList warnings;
    QList<Snapshot::SnapshotInfo> list = Snapshot::SnapshotStore(snapshotDir(name)).list(&warnings);
    for (const QString &w : std::as_const(warnings))
        Core::Log::core()->warn("{}: skipped snapshot {}", name.toStdString(), w.toStdString());
    return list;
}

Core::Expected<Snapshot::SnapshotInfo> VmManager::snapshotInfo(const QString &name, const QString &snapshot) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    if (!find(name))
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no VM named '%1'").arg(name));
    auto info = Snapshot::SnapshotStore(snapshotDir(name)).get(snapshot);
    if (!info && info.error().code == Core::ErrorCode::NotFound)
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("VM %1 has no snapshot named '%2'").arg(name, snapshot.left(80)));
    return info;
}

Core::Future<void> VmManager::restore(const QString &name, const QString &snapshot)
{
    auto e = snapshotEntry(name);
    if (!e)
        return Core::readyFuture<void>(e.error());
    Entry *entry = *e;
    auto info = snapshotInfo(name, snapshot);
    if (!info)
        return Core::readyFuture<void>(info.error());
    if (auto ok = ensureVm(entry); !ok)
        return Core::readyFuture<void>(ok.error());
    const VirtualMachine::State s = entry->vm->state();
    if (s == VirtualMachine::State::Preparing || s == VirtualMachine::State::Booting || s == VirtualMachine::State::Stopping)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::InvalidState,
                                                   QStringLiteral("VM %1 is %2; restore it once it runs or has stopped").arg(name, stateName(s))));
    entry->snapshotting = true;
    const Snapshot::SnapshotInfo snap = *info;
    auto touched = std::make_shared<bool>(false); // the VM was handed the snapshot (else it is as it was)
    const auto verified = Core::runInThread<void>([snap]() { return Snapshot::SnapshotStore::verify(snap); });
    const auto restored = Core::then(verified, this, [this, name, snap, touched]() { return restoreVerified(name, snap, touched.get()); });
    Core::Promise<void> promise;
    markInUse(name, snap.name, promise.future());
    Core::whenDone(restored, this, [this, name, snap, touched, promise](const Core::Result &r) {
        restoreEnded(name, snap, *touched, r);
        promise.resolve(r);
    });
    return promise.future();
}

// The snapshot's checksums hold: the VM runs from it now.
Core::Future<void> VmManager::restoreVerified(const QString &name, const Snapshot::SnapshotInfo &snap, bool *touched)
{
    Entry *en = find(name);
    if (!en || en->removing || !en->vm)
        return Core::readyFuture<void>(Core::Error(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted").arg(name)));
    en->record.desired = VmRecord::Desired::Running;
    en->record.lastStartedAt = QDateTime::currentDateTimeUtc();
    en->record.lastError.reset();
    en->record.currentSnapshot = snap.name;
    en->record.vcpus = snap.vcpus;
    en->record.memoryMiB = snap.memoryMiB;
    if (auto ok = persist(en->record); !ok)
        Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
    en->vm->setPersistent(m_detachable);
    *touched = true;
    return en->vm->restoreSnapshot(snap);
}

void VmManager::restoreEnded(const QString &name, const Snapshot::SnapshotInfo &snap, bool touched, const Core::Result &r)
{
    Entry *after = find(name);
    if (after)
        after->snapshotting = false;
    if (r) {
        if (m_detachable)
            recordRunningVmm(name); // a new VMM
        Core::Log::core()->info("{}: restored snapshot {}", name.toStdString(), snap.name.toStdString());
        return;
    }
    if (!after || !touched)
        return; // not verified, or deleted: the VM is left as it was
    after->record.desired = VmRecord::Desired::Stopped;
    if (r.error().code != Core::ErrorCode::Cancelled)
        setLastError(name, r.error());
    else if (auto ok = persist(after->record); !ok)
        Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
}

Core::Expected<QStringList> VmManager::forkNames(const QString &prefix, int count) const
{
    QStringList names;
    for (int n = 1; names.size() < count; ++n) {
        const QString candidate = prefix + QStringLiteral("-%1").arg(n);
        if (auto ok = validateName(candidate); !ok)
            return Core::Error(Core::ErrorCode::InvalidArgument,
                               QStringLiteral("bad name prefix '%1': fork names <prefix>-<n> must be valid VM names (1 to 63 lowercase letters, digits or '-')")
                                   .arg(prefix.left(80)));
        if (!find(candidate) && !QFileInfo::exists(m_records.recordPath(candidate)))
            names << candidate;
    }
    return names;
}

void VmManager::forkOne(const QString &name, const Snapshot::SnapshotInfo &snapshot, Core::Promise<void> done)
{
    Entry *entry = find(name);
    entry->snapshotting = true;
    entry->record.desired = VmRecord::Desired::Running;
    entry->record.lastStartedAt = QDateTime::currentDateTimeUtc();
    if (auto ok = persist(entry->record); !ok) {
        entry->snapshotting = false;
        done.resolve(ok.error());
        return;
    }
    entry->vm->setPersistent(m_detachable);
    Core::whenDone(entry->vm->restoreSnapshot(snapshot), this, [this, name, done](const Core::Result &r) {
        Entry *en = find(name);
        if (!en || !en->vm) {
            done.fail(Core::ErrorCode::Cancelled, QStringLiteral("VM %1 was deleted").arg(name));
            return;
        }
        if (r && m_detachable)
            recordRunningVmm(name);
        if (!r) {
            en->snapshotting = false;
            done.resolve(Core::Error(r.error().code, QStringLiteral("fork %1: %2").arg(name, r.error().message)));
            return;
        }
        // Its own identity in the guest too: the host name it was booted
        // with belongs to the VM the snapshot was taken of.
        Agent::ExecRequest req;
        req.argv = QStringList{QStringLiteral("hostname"), name};
        req.timeoutMs = 10000;
        Core::whenDone(en->vm->agent()->run(req), this, [this, name, done](const Core::Expected<Agent::ExecResult> &set) {
            if (Entry *after = find(name))
                after->snapshotting = false;
            if (!set || set->exitCode != 0)
                Core::Log::core()->warn("{}: could not set the fork's host name: {}", name.toStdString(),
                                        set ? QString::fromUtf8(set->stderrData).trimmed().toStdString() : set.error().message.toStdString());
            done.resolve({});
        });
    });
}

Core::Future<QStringList> VmManager::fork(const QString &name, const QString &snapshot, const ForkOptions &options)
{
    if (options.count < 1 || options.count > kMaxForkCount)
        return Core::readyFuture<QStringList>(Core::Error(Core::ErrorCode::InvalidArgument,
                                                          QStringLiteral("count must be between 1 and %1, not %2").arg(kMaxForkCount).arg(options.count)));
    auto info = snapshotInfo(name, snapshot);
    if (!info)
        return Core::readyFuture<QStringList>(info.error());
    const QString prefix = options.namePrefix.isEmpty() ? name.left(50) + QStringLiteral("-fork") : options.namePrefix;
    auto names = forkNames(prefix, options.count);
    if (!names)
        return Core::readyFuture<QStringList>(names.error());

    const Snapshot::SnapshotInfo snap = *info;
    Core::Promise<QStringList> promise;
    markInUse(name, snap.name, promise.future());
    Core::whenDone(Core::runInThread<void>([snap]() { return Snapshot::SnapshotStore::verify(snap); }), this,
                   [this, name, snap, promise, options, prefix](const Core::Result &verified) {
        if (!verified) {
            promise.resolve(verified.error());
            return;
        }
        // Names again: others may have been created while it was verified.
        auto chosen = forkNames(prefix, options.count);
        if (!chosen) {
            promise.resolve(chosen.error());
            return;
        }
        const QStringList forks = *chosen;
        for (const QString &fork : forks) {
            auto created = create(CreateOptions{fork, snap.templateName, snap.vcpus, snap.memoryMiB});
            if (!created) {
                for (const QString &made : forks)
                    if (find(made))
                        remove(made);
                promise.resolve(created.error());
                return;
            }
            Entry *entry = find(fork);
            entry->record.forkedFrom = name + QLatin1Char('/') + snap.name;
            if (auto ok = persist(entry->record); !ok)
                Core::Log::core()->warn("{}: {}", fork.toStdString(), ok.error().message.toStdString());
        }
        struct Tally {
            int pending = 0;
            std::optional<Core::Error> firstError;
        };
        auto tally = std::make_shared<Tally>();
        tally->pending = forks.size();
        for (const QString &fork : forks) {
            Core::Promise<void> done;
            Core::whenDone(done.future(), this, [this, tally, forks, promise](const Core::Result &r) {
                if (!r && !tally->firstError)
                    tally->firstError = r.error();
                if (--tally->pending > 0)
                    return;
                if (tally->firstError) {
                    // All or nothing: the forks that did start go again.
                    for (const QString &made : forks)
                        if (find(made))
                            remove(made);
                    promise.resolve(*tally->firstError);
                    return;
                }
                promise.resolve(forks);
            });
            forkOne(fork, snap, done);
        }
    });
    return promise.future();
}

Core::Result VmManager::deleteSnapshot(const QString &name, const QString &snapshot)
{
    auto e = snapshotEntry(name);
    if (!e)
        return e.error();
    auto info = snapshotInfo(name, snapshot);
    if (!info && info.error().code == Core::ErrorCode::NotFound)
        return info.error();
    if (m_snapshotsInUse.contains(name + QLatin1Char('/') + snapshot))
        return Core::Error(Core::ErrorCode::InvalidState,
                           QStringLiteral("snapshot '%1' of VM %2 is being restored or forked; delete it once that is done").arg(snapshot, name));
    const Snapshot::SnapshotStore store(snapshotDir(name));
    if (auto ok = store.remove(snapshot); !ok)
        return ok;
    Entry *entry = *e;
    if (entry->record.currentSnapshot == snapshot) {
        entry->record.currentSnapshot = info ? info->parent : QString();
        if (auto ok = persist(entry->record); !ok)
            Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
    }
    Core::Log::core()->info("{}: deleted snapshot {}", name.toStdString(), snapshot.toStdString());
    Q_EMIT snapshotsChanged(name);
    return {};
}

// --- leaving VMs running, and adopting them -------------------------------

QStringList VmManager::detachAll()
{
    QStringList left;
    for (auto &[name, entry] : m_entries) {
        VirtualMachine *vm = entry->vm.get();
        if (!vm || entry->removing)
            continue;
        const VirtualMachine::State s = vm->state();
        if (s != VirtualMachine::State::Ready && s != VirtualMachine::State::Paused)
            continue;
        // Not a stop: this manager must not see the VM go Stopped.
        vm->disconnect(this);
        auto d = vm->detach();
        if (!d) {
            Core::Log::core()->warn("{}: cannot leave it running: {}", name.toStdString(), d.error().message.toStdString());
            continue;
        }
        entry->record.runningVmm = *d;
        if (auto ok = persist(entry->record); !ok) {
            // Without its record nobody finds the VMM again: do not orphan it.
            Core::Log::core()->warn("{}: {}; stopping it instead", name.toStdString(), ok.error().message.toStdString());
            entry->record.runningVmm.reset();
            if (const auto start = Vmm::processStartTime(d->pid); start && *start == d->startTime)
                ::kill(static_cast<pid_t>(d->pid), SIGKILL);
            QDir(d->runtimeDir).removeRecursively();
            entry->vm.release()->deleteLater();
            Q_EMIT vmStateChanged(name, reportedState(*entry));
            continue;
        }
        // The detached object owns nothing now.
        entry->vm.release()->deleteLater();
        left << name;
        Q_EMIT vmStateChanged(name, reportedState(*entry));
    }
    if (!left.isEmpty())
        Core::Log::core()->info("left {} VM(s) running for the next start: {}", left.size(), left.join(QStringLiteral(", ")).toStdString());
    return left;
}

void VmManager::adoptLeftRunning()
{
    for (auto &[name, entry] : m_entries) {
        if (entry->record.runningVmm)
            adopt(entry.get());
    }
}

void VmManager::adopt(Entry *entry)
{
    const QString name = entry->record.name;
    const Vmm::DetachedVmm vmm = *entry->record.runningVmm;
    if (vmm.managedElsewhere()) {
        // Another manager on this state directory (a GUI beside --serve)
        // runs it: not ours to take over, nor to clear.
        Core::Log::core()->warn("{}: its VMM (pid {}) is managed by process {}; not adopted", name.toStdString(), vmm.pid, vmm.managerPid);
        return;
    }
    if (auto alive = vmm.checkAlive(name); !alive) {
        Core::Log::core()->warn("{}: not adopting the VMM left running (pid {}): {}; the VM is stopped", name.toStdString(), vmm.pid,
                                alive.error().message.toStdString());
        // Its runtime directory, if it is one of ours (never follow a record
        // anywhere else).
        const QFileInfo dir(vmm.runtimeDir);
        if (dir.isDir() && QDir(dir.absolutePath()) == QDir(Core::Paths::runtimeDir())
            && dir.fileName().startsWith(name.left(32) + QLatin1Char('-')))
            QDir(vmm.runtimeDir).removeRecursively();
        clearRunningVmm(name);
        return;
    }
    if (vmm.driver != m_driver.name()) {
        Core::Log::core()->warn("{}: its VMM (pid {}) runs with the {} driver, this manager uses {}: not adopted, left running",
                                name.toStdString(), vmm.pid, vmm.driver.toStdString(), m_driver.name().toStdString());
        return;
    }
    if (auto ok = ensureVm(entry); !ok) {
        Core::Log::core()->warn("{}: cannot adopt its VMM (pid {}): {}; left running", name.toStdString(), vmm.pid,
                                ok.error().message.toStdString());
        return;
    }
    Core::Log::core()->info("{}: adopting the VMM left running (pid {}, runtime directory {})", name.toStdString(), vmm.pid,
                            vmm.runtimeDir.toStdString());
    Core::whenDone(entry->vm->adopt(vmm), this, [this, name](const Core::Result &r) {
        if (r) {
            recordRunningVmm(name); // managed here now
            return;
        }
        Core::Log::core()->warn("{}: adopting its VMM failed: {}", name.toStdString(), r.error().message.toStdString());
        if (Entry *e = find(name)) {
            e->record.desired = VmRecord::Desired::Stopped;
            setLastError(name, r.error());
        }
    });
}

void VmManager::recordRunningVmm(const QString &name)
{
    Entry *e = find(name);
    if (!e || !e->vm)
        return;
    auto d = e->vm->vmmHandle();
    if (!d) {
        Core::Log::core()->warn("{}: it cannot be left running: {}", name.toStdString(), d.error().message.toStdString());
        return;
    }
    d->setManagedHere();
    e->record.runningVmm = *d;
    if (auto ok = persist(e->record); !ok)
        Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
}

void VmManager::clearRunningVmmWhenItEnds(VirtualMachine *vm, const QString &name)
{
    // Stopped, failed, or its adoption failed: the record no longer points
    // at a VMM. (detachAll disconnects first: a detached VM is not ended.)
    connect(vm, &VirtualMachine::stateChanged, this, [this, name](VirtualMachine::State s) {
        if (s == VirtualMachine::State::Stopped || s == VirtualMachine::State::Failed)
            clearRunningVmm(name);
    });
}

void VmManager::forgetRunningVmms()
{
    for (const auto &[name, entry] : m_entries) {
        if (entry->vm && entry->record.runningVmm)
            clearRunningVmm(name);
    }
}

void VmManager::clearRunningVmm(const QString &name)
{
    Entry *e = find(name);
    if (!e || !e->record.runningVmm)
        return;
    e->record.runningVmm.reset();
    if (auto ok = persist(e->record); !ok)
        Core::Log::core()->warn("{}: {}", name.toStdString(), ok.error().message.toStdString());
}

} // namespace Vm
