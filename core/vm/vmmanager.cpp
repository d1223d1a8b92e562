#include "core/vm/vmmanager.h"

#include "core/agent/agentclient.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vmm/vmmdriver.h"
#include "core/vmm/vmminstance.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QPointer>
#include <QRegularExpression>
#include <QSaveFile>

#include <csignal>

namespace Vm {
namespace {

constexpr int kRecordVersion = 1;

const QRegularExpression &namePattern()
{
    // Anchored for real: "$" alone would also accept a trailing newline.
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9-]{0,62}")));
    return re;
}

std::optional<Core::ErrorCode> parseErrorCode(const QString &name)
{
    for (int i = 0; i <= static_cast<int>(Core::ErrorCode::Unsupported); ++i) {
        const auto code = static_cast<Core::ErrorCode>(i);
        if (Core::errorCodeName(code) == name)
            return code;
    }
    return std::nullopt;
}

std::optional<VmRecord::Desired> parseDesired(const QString &name)
{
    for (auto d : {VmRecord::Desired::Stopped, VmRecord::Desired::Running, VmRecord::Desired::Paused})
        if (desiredName(d) == name)
            return d;
    return std::nullopt;
}

QJsonValue timeToJson(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue(QJsonValue::Null);
}

Core::Error recordError(const QString &why)
{
    return Core::Error(Core::ErrorCode::InvalidArgument, why);
}

bool isStartable(VirtualMachine::State s)
{
    return s == VirtualMachine::State::Created || s == VirtualMachine::State::Stopped || s == VirtualMachine::State::Failed;
}

} // namespace

QString desiredName(VmRecord::Desired desired)
{
    switch (desired) {
    case VmRecord::Desired::Stopped: return QStringLiteral("stopped");
    case VmRecord::Desired::Running: return QStringLiteral("running");
    case VmRecord::Desired::Paused: return QStringLiteral("paused");
    }
    return QStringLiteral("stopped");
}

QJsonObject VmRecord::toJson() const
{
    QJsonObject o;
    o[QStringLiteral("version")] = kRecordVersion;
    o[QStringLiteral("name")] = name;
    o[QStringLiteral("template")] = templateName;
    o[QStringLiteral("vcpus")] = vcpus;
    o[QStringLiteral("memory_mb")] = memoryMiB;
    o[QStringLiteral("desired_state")] = desiredName(desired);
    o[QStringLiteral("created_at")] = timeToJson(createdAt);
    o[QStringLiteral("last_started_at")] = timeToJson(lastStartedAt);
    if (lastError) {
        o[QStringLiteral("last_error")] = QJsonObject{{QStringLiteral("code"), Core::errorCodeName(lastError->code)},
                                                      {QStringLiteral("message"), lastError->message}};
    } else {
        o[QStringLiteral("last_error")] = QJsonValue(QJsonValue::Null);
    }
    if (runningVmm)
        o[QStringLiteral("running_vmm")] = runningVmm->toJson();
    return o;
}

Core::Expected<VmRecord> VmRecord::fromJson(const QJsonObject &o)
{
    VmRecord r;
    if (o.value(QStringLiteral("version")).toInt() != kRecordVersion)
        return recordError(QStringLiteral("unsupported record version"));
    const QJsonValue name = o.value(QStringLiteral("name"));
    const QJsonValue tmpl = o.value(QStringLiteral("template"));
    const QJsonValue vcpus = o.value(QStringLiteral("vcpus"));
    const QJsonValue memory = o.value(QStringLiteral("memory_mb"));
    if (!name.isString() || !tmpl.isString() || !vcpus.isDouble() || !memory.isDouble())
        return recordError(QStringLiteral("name, template, vcpus and memory_mb are required"));
    r.name = name.toString();
    r.templateName = tmpl.toString();
    r.vcpus = vcpus.toInt();
    r.memoryMiB = memory.toInt();
    const auto desired = parseDesired(o.value(QStringLiteral("desired_state")).toString());
    if (!desired)
        return recordError(QStringLiteral("bad desired_state"));
    r.desired = *desired;
    r.createdAt = QDateTime::fromString(o.value(QStringLiteral("created_at")).toString(), Qt::ISODateWithMs);
    r.lastStartedAt = QDateTime::fromString(o.value(QStringLiteral("last_started_at")).toString(), Qt::ISODateWithMs);
    const QJsonValue err = o.value(QStringLiteral("last_error"));
    if (err.isObject()) {
        const auto code = parseErrorCode(err[QStringLiteral("code")].toString());
        r.lastError = Core::Error(code.value_or(Core::ErrorCode::Internal), err[QStringLiteral("message")].toString());
    }
    // Optional (records written before it, or of VMs not left running). A
    // malformed one is dropped: it can only name a VMM that is not adoptable.
    if (const QJsonValue vmm = o.value(QStringLiteral("running_vmm")); vmm.isObject()) {
        if (auto d = Vmm::DetachedVmm::fromJson(vmm.toObject()))
            r.runningVmm = *d;
    }
    return r;
}

Core::Result VmManager::validateName(const QString &name)
{
    if (!namePattern().match(name).hasMatch())
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("bad VM name '%1': 1 to 63 lowercase letters, digits or '-', starting with a letter or digit")
                               .arg(name.left(80)));
    return {};
}

QString VmManager::defaultStateDir()
{
    return Core::Paths::dataDir() + QStringLiteral("/vms");
}

VmManager::VmManager(const Vmm::VmmDriver &driver, QString stateDir, QObject *parent)
    : QObject(parent)
    , m_driver(driver)
    , m_stateDir(stateDir.isEmpty() ? defaultStateDir() : std::move(stateDir))
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
    const QDir dir(m_stateDir);
    const QStringList files = dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name);
    for (const QString &file : files) {
        const QString path = dir.filePath(file);
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly)) {
            m_loadWarnings << QStringLiteral("%1: %2").arg(path, f.errorString());
            continue;
        }
        QJsonParseError pe;
        const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
        if (!doc.isObject()) {
            m_loadWarnings << QStringLiteral("%1: not a JSON object (%2)").arg(path, pe.errorString());
            continue;
        }
        auto record = VmRecord::fromJson(doc.object());
        if (!record) {
            m_loadWarnings << QStringLiteral("%1: %2").arg(path, record.error().message);
            continue;
        }
        if (!validateName(record->name) || record->name + QStringLiteral(".json") != file) {
            m_loadWarnings << QStringLiteral("%1: the name '%2' does not match the file").arg(path, record->name);
            continue;
        }
        auto entry = std::make_unique<Entry>();
        entry->record = *record;
        m_entries.emplace(record->name, std::move(entry));
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

QString VmManager::recordPath(const QString &name) const
{
    return m_stateDir + QLatin1Char('/') + name + QStringLiteral(".json");
}

QString VmManager::diskDir(const QString &name) const
{
    return m_stateDir + QLatin1Char('/') + name + QStringLiteral(".disk");
}

QString VmManager::consoleLogPath(const QString &name) const
{
    return m_stateDir + QLatin1Char('/') + name + QStringLiteral(".console.log");
}

Core::Result VmManager::persist(const VmRecord &record)
{
    if (auto ok = Core::Paths::ensurePrivateDir(m_stateDir); !ok)
        return ok;
    QSaveFile f(recordPath(record.name));
    if (!f.open(QIODevice::WriteOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(f.fileName(), f.errorString()));
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    f.write(QJsonDocument(record.toJson()).toJson(QJsonDocument::Indented));
    if (!f.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(f.fileName(), f.errorString()));
    return {};
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
        QFile::remove(recordPath(options.name));
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
        if (QFile::exists(recordPath(name)) && !QFile::remove(recordPath(name))) {
            it->second->removing = false;
            p.fail(Core::ErrorCode::Io, QStringLiteral("cannot delete %1").arg(recordPath(name)));
            return;
        }
        std::unique_ptr<Entry> gone = std::move(it->second);
        m_entries.erase(it);
        QFile::remove(consoleLogPath(name));
        QDir(diskDir(name)).removeRecursively();
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
