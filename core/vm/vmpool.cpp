#include "core/vm/vmpool.h"

#include "core/image/imagebuilder.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/template/vmtemplate.h"
#include "core/vm/virtualmachine.h"
#include "core/vm/warmstarts.h"

#include <QDir>
#include <QFile>
#include <QRegularExpression>
#include <QSet>
#include <QTimer>

#include <algorithm>

namespace Vm {

Core::Expected<QList<VmPool::Target>> VmPool::parseTargets(const QString &text)
{
    static const QRegularExpression item(QStringLiteral("^([a-z0-9][a-z0-9_-]{0,62})\\s*=\\s*([0-9]{1,3})$"));
    QList<Target> targets;
    QSet<QString> seen;
    for (const QString &part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        const auto m = item.match(part.trimmed());
        if (!m.hasMatch())
            return Core::Error(Core::ErrorCode::InvalidArgument,
                               QStringLiteral("pool: '%1' is not <template>=<count> (for example minimal=2)").arg(part.trimmed().left(80)));
        const int count = m.captured(2).toInt();
        if (count > kMaxPerTemplate)
            return Core::Error(Core::ErrorCode::InvalidArgument,
                               QStringLiteral("pool: %1 VMs of template %2 is more than %3").arg(count).arg(m.captured(1)).arg(kMaxPerTemplate));
        if (seen.contains(m.captured(1)))
            return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("pool: template %1 is named twice").arg(m.captured(1)));
        seen.insert(m.captured(1));
        targets << Target{m.captured(1), count};
    }
    return targets;
}

QString VmPool::formatTargets(const QList<Target> &targets)
{
    QStringList parts;
    for (const Target &t : targets)
        parts << QStringLiteral("%1=%2").arg(t.templateName).arg(t.count);
    return parts.join(QStringLiteral(", "));
}

VmPool::VmPool(const Vmm::VmmDriver &driver, WarmStarts &warm, QString stateDir, Fits fits, QObject *parent)
    : QObject(parent)
    , m_driver(driver)
    , m_warm(warm)
    , m_stateDir(std::move(stateDir))
    , m_fits(std::move(fits))
{
    QDir(poolDir()).removeRecursively(); // an earlier process's pooled VMs died with it
    connect(&m_warm, &WarmStarts::buildEnded, this, [this]() {
        m_waitingForBuild = false;
        refill();
    });
}

VmPool::~VmPool()
{
    m_filling = nullptr; // a restore cut short by the kill below is no failed fill
    m_slots.clear(); // kills every pooled VM
    QDir(poolDir()).removeRecursively();
}

QString VmPool::poolDir() const
{
    return QDir(m_stateDir).filePath(QStringLiteral(".pool"));
}

Core::Result VmPool::setTargets(const QList<Target> &targets)
{
    std::vector<std::pair<Target, Templates::VmTemplate>> loaded;
    for (const Target &t : targets) {
        auto tmpl = Templates::VmTemplate::load(t.templateName);
        if (!tmpl)
            return Core::Error(tmpl.error().code, QStringLiteral("pool: %1").arg(tmpl.error().message));
        if (tmpl->network.hasNic() && t.count > 0)
            return Core::Error(Core::ErrorCode::Unsupported,
                               QStringLiteral("pool: template %1 gives its VMs a NIC; only templates without one can be pooled").arg(t.templateName));
        loaded.emplace_back(t, *tmpl);
    }
    std::vector<Slot> slots;
    for (auto &[target, tmpl] : loaded) {
        Slot *old = slotFor(target.templateName);
        Slot slot = old ? std::move(*old) : Slot{};
        slot.target = target;
        slot.vcpus = tmpl.vcpus;
        slot.memoryMiB = tmpl.memoryMiB;
        slots.push_back(std::move(slot));
    }
    for (Slot &gone : m_slots) { // templates no longer pooled
        if (!gone.target.templateName.isEmpty()
            && std::none_of(slots.begin(), slots.end(), [&](const Slot &s) { return s.target.templateName == gone.target.templateName; }))
            while (!gone.members.empty())
                removeMember(gone, gone.members.back().vm.get());
    }
    m_slots = std::move(slots);
    for (Slot &slot : m_slots)
        while (static_cast<int>(slot.members.size()) > slot.target.count)
            removeMember(slot, slot.members.back().vm.get()); // the newest (filling) first
    Core::Log::core()->info("pool: {}", targets.isEmpty() ? std::string("none") : formatTargets(targets).toStdString());
    Q_EMIT changed();
    refill();
    return {};
}

QList<VmPool::Target> VmPool::targets() const
{
    QList<Target> out;
    for (const Slot &s : m_slots)
        out << s.target;
    return out;
}

QList<VmPool::Status> VmPool::status() const
{
    QList<Status> out;
    for (const Slot &s : m_slots) {
        Status st;
        st.templateName = s.target.templateName;
        st.target = s.target.count;
        st.vcpus = s.vcpus;
        st.memoryMiB = s.memoryMiB;
        for (const Member &m : s.members)
            ++(m.ready ? st.ready : st.filling);
        st.lastError = s.lastError;
        out << st;
    }
    return out;
}

int VmPool::readyCount() const
{
    int n = 0;
    for (const Slot &s : m_slots)
        n += static_cast<int>(std::count_if(s.members.begin(), s.members.end(), [](const Member &m) { return m.ready; }));
    return n;
}

int VmPool::vcpus() const
{
    int n = 0;
    for (const Slot &s : m_slots)
        n += s.vcpus * static_cast<int>(s.members.size());
    return n;
}

qint64 VmPool::memoryMiB() const
{
    qint64 n = 0;
    for (const Slot &s : m_slots)
        n += qint64(s.memoryMiB) * static_cast<qint64>(s.members.size());
    return n;
}

VmPool::Slot *VmPool::slotFor(const QString &templateName)
{
    for (Slot &s : m_slots)
        if (s.target.templateName == templateName)
            return &s;
    return nullptr;
}

std::unique_ptr<VirtualMachine> VmPool::take(const QString &templateName, int vcpus, int memoryMiB)
{
    Slot *slot = slotFor(templateName);
    if (!slot || slot->vcpus != vcpus || slot->memoryMiB != memoryMiB)
        return nullptr;
    for (auto it = slot->members.begin(); it != slot->members.end(); ++it) {
        if (!it->ready)
            continue;
        std::unique_ptr<VirtualMachine> vm = std::move(it->vm);
        slot->members.erase(it);
        vm->disconnect(this);
        Q_EMIT changed();
        return vm;
    }
    return nullptr;
}

void VmPool::retire(std::unique_ptr<VirtualMachine> used)
{
    if (used) {
        QDir(used->diskDir()).removeRecursively();
        QFile::remove(used->consoleLogPath());
        used.release()->deleteLater(); // we may be inside one of its callbacks
    }
    refill();
}

// One VM at a time, for the first template short of its target whose
// retry is not pending: a whole VM restoring is all this host's CPU under
// TCG.
void VmPool::refill()
{
    if (m_filling || m_finding || m_waitingForBuild)
        return;
    for (Slot &slot : m_slots) {
        if (static_cast<int>(slot.members.size()) < slot.target.count && !slot.retryPending) {
            fillOne(slot);
            return;
        }
    }
}

void VmPool::fillOne(Slot &slot)
{
    if (auto room = m_fits(slot.vcpus, slot.memoryMiB, vcpus(), memoryMiB()); !room) {
        slot.lastError = QStringLiteral("waiting for room: %1").arg(room.error().message);
        Q_EMIT changed();
        return; // refill() is asked again when a VM stops
    }
    auto tmpl = Templates::VmTemplate::load(slot.target.templateName);
    if (!tmpl) {
        slot.lastError = tmpl.error().message;
        retryLater(slot);
        return;
    }
    m_finding = true;
    const QString templateName = slot.target.templateName;
    Core::whenDone(m_warm.find(*tmpl, slot.vcpus, slot.memoryMiB), this,
                   [this, templateName, tmpl = *tmpl](const Core::Expected<Snapshot::SnapshotInfo> &snapshot) {
                       m_finding = false;
                       Slot *s = slotFor(templateName);
                       if (!s || static_cast<int>(s->members.size()) >= s->target.count) {
                           refill();
                           return;
                       }
                       if (!snapshot && !m_warm.directoryFor(tmpl, s->vcpus, s->memoryMiB)) {
                           buildImage(tmpl); // a first run: no image yet, so no place for a snapshot
                           return;
                       }
                       if (!snapshot && snapshot.error().code == Core::ErrorCode::NotFound) {
                           // The warm snapshot is made first (by the next cold
                           // boot of the shape, or now); its end refills.
                           m_waitingForBuild = true;
                           m_warm.build(tmpl, s->vcpus, s->memoryMiB);
                           if (!m_warm.isBuilding()) { // it could not start one
                               m_waitingForBuild = false;
                               retryLater(*s);
                           }
                           return;
                       }
                       if (!snapshot) {
                           s->lastError = snapshot.error().message;
                           retryLater(*s);
                           return;
                       }
                       auto vm = std::make_unique<VirtualMachine>(QStringLiteral("%1%2").arg(QLatin1String(kMemberPrefix)).arg(++m_serial), tmpl, m_driver);
                       vm->setVcpus(s->vcpus);
                       vm->setMemoryMiB(s->memoryMiB);
                       vm->setStateDir(m_stateDir);
                       vm->setDiskDir(QDir(poolDir()).filePath(vm->name() + QStringLiteral(".disk")));
                       vm->setConsoleLogPath(QDir(poolDir()).filePath(vm->name() + QStringLiteral(".console.log")));
                       VirtualMachine *raw = vm.get();
                       s->members.push_back(Member{std::move(vm), false});
                       Q_EMIT changed();
                       restoreInto(templateName, raw, *snapshot);
                   });
}

// The template's image, built (once, cached) as a cold boot would; its end
// refills, which then makes the warm snapshot.
void VmPool::buildImage(const Templates::VmTemplate &tmpl)
{
    m_waitingForBuild = true;
    auto *builder = new Image::ImageBuilder(this);
    Core::Log::core()->info("pool: building the image of template {} first", tmpl.name.toStdString());
    Core::whenDone(builder->ensure(tmpl.image, Core::Paths::agentBinary()), this,
                   [this, builder, name = tmpl.name](const Core::Expected<Image::GuestImage> &r) {
                       builder->deleteLater();
                       m_waitingForBuild = false;
                       if (r) {
                           refill();
                           return;
                       }
                       if (Slot *slot = slotFor(name)) {
                           slot->lastError = QStringLiteral("building the image: %1").arg(r.error().message);
                           retryLater(*slot);
                       }
                   });
}

void VmPool::restoreInto(const QString &templateName, VirtualMachine *vm, const Snapshot::SnapshotInfo &snapshot)
{
    if (auto ok = Core::Paths::ensurePrivateDir(poolDir()); !ok) {
        fillFailed(templateName, vm, ok.error());
        return;
    }
    m_filling = vm;
    Core::whenDone(vm->restoreSnapshot(snapshot), this, [this, templateName, vm](const Core::Result &r) {
        if (m_filling != vm)
            return; // given up while it restored
        if (!r) {
            fillFailed(templateName, vm, r.error());
            return;
        }
        pauseRestored(templateName, vm);
    });
}

void VmPool::pauseRestored(const QString &templateName, VirtualMachine *vm)
{
    Core::whenDone(vm->pause(), this, [this, templateName, vm](const Core::Result &r) {
        if (m_filling != vm)
            return;
        if (!r) {
            fillFailed(templateName, vm, r.error());
            return;
        }
        m_filling = nullptr;
        Slot *slot = slotFor(templateName);
        for (Member &m : slot->members)
            if (m.vm.get() == vm)
                m.ready = true;
        slot->lastError.clear();
        slot->retryMs = kRetryMs;
        Core::Log::core()->info("pool: {} of template {} is ready (paused)", vm->name().toStdString(), templateName.toStdString());
        Q_EMIT changed();
        refill();
    });
}

void VmPool::fillFailed(const QString &templateName, VirtualMachine *vm, const Core::Error &error)
{
    Core::Log::core()->warn("pool: {} of template {} could not be made: {}", vm->name().toStdString(), templateName.toStdString(), error.message.toStdString());
    Slot *slot = slotFor(templateName);
    if (!slot)
        return;
    slot->lastError = error.message;
    removeMember(*slot, vm);
    retryLater(*slot);
}

void VmPool::retryLater(Slot &slot)
{
    slot.retryPending = true;
    const QString templateName = slot.target.templateName;
    QTimer::singleShot(slot.retryMs, this, [this, templateName]() {
        if (Slot *s = slotFor(templateName))
            s->retryPending = false;
        refill();
    });
    slot.retryMs = std::min(slot.retryMs * 2, kMaxRetryMs);
    Q_EMIT changed();
}

void VmPool::removeMember(Slot &slot, VirtualMachine *vm)
{
    auto it = std::find_if(slot.members.begin(), slot.members.end(), [vm](const Member &m) { return m.vm.get() == vm; });
    if (it == slot.members.end())
        return;
    std::unique_ptr<VirtualMachine> gone = std::move(it->vm);
    slot.members.erase(it);
    if (m_filling == vm)
        m_filling = nullptr;
    gone->disconnect(this);
    const QString disk = gone->diskDir();
    const QString console = gone->consoleLogPath();
    gone->kill();
    gone.release()->deleteLater();
    QDir(disk).removeRecursively();
    QFile::remove(console);
    Q_EMIT changed();
}

void VmPool::shrinkToFit(const std::function<bool(int pooledVcpus, qint64 pooledMemoryMiB)> &fits)
{
    while (!fits(vcpus(), memoryMiB())) {
        Slot *victimSlot = nullptr;
        VirtualMachine *victim = nullptr;
        for (Slot &s : m_slots) {
            for (const Member &m : s.members) {
                if (!victim || !m.ready) { // a filling one if there is one
                    victimSlot = &s;
                    victim = m.vm.get();
                }
            }
        }
        if (!victim)
            return;
        Core::Log::core()->info("pool: giving up {} to make room", victim->name().toStdString());
        removeMember(*victimSlot, victim);
    }
}

} // namespace Vm
