#include "core/vm/warmstarts.h"

#include "core/image/imagebuilder.h"
#include "core/log.h"
#include "core/paths.h"
#include "core/vm/warmbuildjob.h"
#include "core/vmm/vmmdriver.h"
#include "core/workerpool.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <fcntl.h>
#include <sys/stat.h>

namespace Vm {

WarmStarts::WarmStarts(const Vmm::VmmDriver &driver, QObject *parent)
    : QObject(parent)
    , m_driver(driver)
{
}

WarmStarts::~WarmStarts() = default;

// The template's file as a whole (its kernel command line, machine, desktop,
// agent channel: whatever shapes the VM's devices and boot), the hardware
// and the driver.
QByteArray WarmStarts::shapeKey(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, const QString &driver, bool nic)
{
    QCryptographicHash h(QCryptographicHash::Sha256);
    h.addData(QByteArray(tmpl.name.toUtf8() + "\n"));
    QFile source(tmpl.sourcePath);
    if (!tmpl.sourcePath.isEmpty() && source.open(QIODevice::ReadOnly))
        h.addData(source.readAll());
    else
        h.addData(QStringLiteral("%1\n%2\n%3").arg(tmpl.kernelCmdline, tmpl.qemuMachine, tmpl.desktop.kernelArgs()).toUtf8());
    h.addData(QStringLiteral("\n%1 vcpus\n%2 MiB\n%3\n").arg(vcpus).arg(memoryMiB).arg(driver).toUtf8());
    if (nic) // (none: the key of the snapshots made before NICs had theirs)
        h.addData(QByteArrayLiteral("nic\n"));
    return h.result().toHex().left(16);
}

Core::Expected<QString> WarmStarts::directoryFor(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, bool nic) const
{
    auto image = Image::ImageBuilder::cached(tmpl.image, Core::Paths::agentBinary());
    if (!image)
        return image.error();
    return QDir(image->dir).filePath(QStringLiteral("warm/") + QString::fromLatin1(shapeKey(tmpl, vcpus, memoryMiB, m_driver.name(), nic)));
}

Core::Future<Snapshot::SnapshotInfo> WarmStarts::find(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, bool nic)
{
    using Info = Snapshot::SnapshotInfo;
    auto dir = directoryFor(tmpl, vcpus, memoryMiB, nic);
    if (!dir)
        return Core::readyFuture<Info>(dir.error());
    auto snapshot = Snapshot::SnapshotStore(*dir).get(QString::fromLatin1(WarmBuildJob::kSnapshotName));
    if (!snapshot)
        return Core::readyFuture<Info>(snapshot.error());
    // Used now: the last to go when room is made for another shape.
    ::utimensat(AT_FDCWD, QFile::encodeName(*dir).constData(), nullptr, 0);
    if (m_verified.value(snapshot->directory) == snapshot->createdAt)
        return Core::readyFuture<Info>(*snapshot);
    const auto checked = Core::runInThread<Info>([snap = *snapshot, images = Image::ImageBuilder::imagesDir()]() -> Core::Expected<Info> {
        if (auto confined = Snapshot::SnapshotStore::checkImagePaths(snap, images); !confined)
            return confined.error();
        if (auto ok = Snapshot::SnapshotStore::verify(snap); !ok)
            return ok.error();
        return snap;
    });
    Core::Promise<Info> promise;
    Core::whenDone(checked, this, [this, promise, snap = *snapshot](const Core::Expected<Info> &r) {
        if (r)
            verified(*r);
        else
            discard(snap);
        promise.resolve(r);
    });
    return promise.future();
}

void WarmStarts::verified(const Snapshot::SnapshotInfo &snapshot)
{
    m_verified.insert(snapshot.directory, snapshot.createdAt);
}

void WarmStarts::build(const Templates::VmTemplate &tmpl, int vcpus, int memoryMiB, bool nic)
{
    auto dir = directoryFor(tmpl, vcpus, memoryMiB, nic);
    if (!dir || m_building.contains(*dir) || m_building.size() >= kMaxConcurrentBuilds)
        return;
    if (Snapshot::SnapshotStore(*dir).contains(QString::fromLatin1(WarmBuildJob::kSnapshotName)))
        return;
    for (const QString &gone : makeRoom(QFileInfo(*dir).path(), kMaxShapesPerImage, *dir))
        Core::Log::core()->info("warm start: removed the least recently used warm snapshot {}", gone.toStdString());
    const QString builder = QString::fromLatin1(kBuilderPrefix) + QDir(*dir).dirName().left(12);
    WarmBuildJob::Request request{tmpl, vcpus, memoryMiB, *dir, builder};
    if (nic) {
        auto tap = builderTap(*dir);
        if (!tap) {
            Core::Log::core()->info("warm start: no snapshot of template {} with a NIC: {}", tmpl.name.toStdString(), tap.error().message.toStdString());
            return;
        }
        request.nic = Vmm::NicSpec{tap->fd(), QStringLiteral("02:00:00:00:00:01")};
        m_builderTaps.emplace(*dir, std::move(*tap));
    }
    auto *job = new WarmBuildJob(m_driver, request, this);
    m_building.insert(*dir);
    Core::Log::core()->info("warm start: making the snapshot of template {} ({} vCPUs, {} MiB) in {}", tmpl.name.toStdString(), vcpus, memoryMiB,
                            dir->toStdString());
    Core::whenDone(job->run(), this, [this, job, directory = *dir](const Core::Expected<Snapshot::SnapshotInfo> &r) {
        m_building.remove(directory);
        m_builderTaps.erase(directory); // the builder is gone: so is its tap
        job->deleteLater();
        if (r) {
            verified(*r);
            Core::Log::core()->info("warm start: snapshot in {} made, {} bytes", directory.toStdString(), r->sizeBytes());
            Q_EMIT buildEnded(directory, QString());
            return;
        }
        Core::Log::core()->warn("warm start: making the snapshot in {} failed: {}", directory.toStdString(), r.error().message.toStdString());
        Q_EMIT buildEnded(directory, r.error().message);
    });
}

// A tap for a builder's NIC, in this network namespace, with no address,
// never up: the guest's frames go nowhere. "mvsw" and 8 hex digits of the
// warm directory (15 characters at most).
Core::Expected<Net::TapDevice> WarmStarts::builderTap(const QString &directory)
{
    const QByteArray key = QCryptographicHash::hash(directory.toUtf8(), QCryptographicHash::Sha256).toHex().left(8);
    return Net::TapDevice::create(QStringLiteral("mvsw") + QString::fromLatin1(key));
}

void WarmStarts::discard(const Snapshot::SnapshotInfo &snapshot)
{
    m_verified.remove(snapshot.directory);
    const Snapshot::SnapshotStore store(QFileInfo(snapshot.directory).path());
    if (auto ok = store.remove(snapshot.name); !ok)
        Core::Log::core()->warn("warm start: could not discard {}: {}", snapshot.directory.toStdString(), ok.error().message.toStdString());
    else
        Core::Log::core()->info("warm start: discarded {}", snapshot.directory.toStdString());
}

QStringList WarmStarts::makeRoom(const QString &warmRoot, int keep, const QString &except)
{
    QStringList removed;
    QFileInfoList shapes = QDir(warmRoot).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Time); // newest first
    shapes.removeIf([&except](const QFileInfo &f) { return f.absoluteFilePath() == QFileInfo(except).absoluteFilePath(); });
    while (shapes.size() > qMax(0, keep - 1)) { // and one more to come
        const QFileInfo oldest = shapes.takeLast();
        if (QDir(oldest.absoluteFilePath()).removeRecursively())
            removed << oldest.absoluteFilePath();
    }
    return removed;
}

} // namespace Vm
