#include "core/image/vmdisk.h"

#include "core/log.h"
#include "core/paths.h"
#include "core/workerpool.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

namespace Image {
namespace {

constexpr int kToolTimeoutMs = 10 * 60 * 1000;

Core::Expected<QByteArray> run(const QString &program, const QStringList &args)
{
    QProcess p;
    p.start(program, args);
    if (!p.waitForStarted())
        return Core::Error(Core::ErrorCode::BinaryMissing,
                           QStringLiteral("cannot run %1 (%2): install qemu-utils and coreutils").arg(program, p.errorString()));
    if (!p.waitForFinished(kToolTimeoutMs)) {
        p.kill();
        p.waitForFinished();
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("%1 took too long").arg(program));
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return Core::Error(Core::ErrorCode::Io,
                           QStringLiteral("%1 %2 failed: %3")
                               .arg(program, args.join(QLatin1Char(' ')), QString::fromLocal8Bit(p.readAllStandardError()).trimmed().right(400)));
    return p.readAllStandardOutput();
}

// An existing overlay keeps the base it was made from; that base must still be there.
Core::Result checkOverlay(const QString &overlay, const QString &basePath)
{
    auto info = run(QStringLiteral("qemu-img"), {QStringLiteral("info"), QStringLiteral("--output=json"), QStringLiteral("--force-share"), overlay});
    if (!info)
        return info.error();
    const QJsonObject o = QJsonDocument::fromJson(*info).object();
    const QString backing = o.value(QStringLiteral("full-backing-filename")).toString(o.value(QStringLiteral("backing-filename")).toString());
    if (backing.isEmpty())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("%1 has no base image").arg(overlay));
    if (!QFileInfo::exists(backing))
        return Core::Error(
            Core::ErrorCode::NotFound,
            QStringLiteral("the VM's disk %1 was made over %2, which is gone from the image cache: delete the VM (its writes are lost) or rebuild that image")
                .arg(overlay, backing));
    if (backing != basePath)
        Core::Log::image()->info("{} keeps its older base {}", overlay.toStdString(), backing.toStdString());
    return {};
}

Core::Expected<Vmm::DiskSpec> prepare(const QString &basePath, const QString &dir, DiskLayer layer)
{
    if (auto ok = Core::Paths::ensurePrivateDir(dir); !ok)
        return ok.error();
    const bool qcow2 = layer == DiskLayer::Qcow2Overlay;
    const Vmm::DiskSpec disk{QDir(dir).filePath(qcow2 ? QStringLiteral("root.qcow2") : QStringLiteral("root.raw")),
                             qcow2 ? QStringLiteral("qcow2") : QStringLiteral("raw"), false};
    if (QFileInfo::exists(disk.path)) {
        if (qcow2)
            if (auto ok = checkOverlay(disk.path, basePath); !ok)
                return ok.error();
        return disk;
    }
    const QString partial = disk.path + QStringLiteral(".partial");
    QFile::remove(partial);
    auto made = qcow2
        ? run(QStringLiteral("qemu-img"),
              {QStringLiteral("create"), QStringLiteral("-q"), QStringLiteral("-f"), QStringLiteral("qcow2"), QStringLiteral("-F"), QStringLiteral("raw"),
               QStringLiteral("-b"), basePath, partial})
        : run(QStringLiteral("cp"), {QStringLiteral("--reflink=auto"), QStringLiteral("--sparse=always"), QStringLiteral("--"), basePath, partial});
    if (!made) {
        QFile::remove(partial);
        return made.error();
    }
    QFile::setPermissions(partial, QFile::ReadOwner | QFile::WriteOwner);
    if (!QFile::rename(partial, disk.path)) {
        QFile::remove(partial);
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot create the VM's disk %1").arg(disk.path));
    }
    return disk;
}

} // namespace

Core::Result copyDiskFile(const QString &src, const QString &dst)
{
    const QString partial = dst + QStringLiteral(".partial");
    QFile::remove(partial);
    auto copied = run(QStringLiteral("cp"), {QStringLiteral("--reflink=auto"), QStringLiteral("--sparse=always"), QStringLiteral("--"), src, partial});
    if (!copied) {
        QFile::remove(partial);
        Core::Error e = copied.error();
        if (e.message.contains(QLatin1String("No space left")))
            e.code = Core::ErrorCode::NoSpace;
        return e;
    }
    QFile::setPermissions(partial, QFile::ReadOwner | QFile::WriteOwner);
    QFile::remove(dst);
    if (!QFile::rename(partial, dst)) {
        QFile::remove(partial);
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot rename %1 to %2").arg(partial, dst));
    }
    return {};
}

Core::Future<Vmm::DiskSpec> prepareVmDisk(const QString &basePath, const QString &dir, DiskLayer layer)
{
    return Core::runInThread<Vmm::DiskSpec>([basePath, dir, layer]() { return prepare(basePath, dir, layer); });
}

} // namespace Image
