#include "core/vm/vmrecordstore.h"

#include "core/paths.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QSaveFile>

namespace Vm {
namespace {

// A record file's contents; a warning when it cannot be one.
Core::Expected<VmRecord> readRecord(const QString &path, const QString &fileName)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return Core::Error(Core::ErrorCode::Io, f.errorString());
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (!doc.isObject())
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("not a JSON object (%1)").arg(pe.errorString()));
    auto record = VmRecord::fromJson(doc.object());
    if (!record)
        return record.error();
    if (!validateVmName(record->name) || record->name + QStringLiteral(".json") != fileName)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("the name '%1' does not match the file").arg(record->name));
    return record;
}

} // namespace

Core::Result VmRecordStore::save(const VmRecord &record) const
{
    if (auto ok = Core::Paths::ensurePrivateDir(m_dir); !ok)
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

Core::Result VmRecordStore::remove(const QString &name) const
{
    const QString path = recordPath(name);
    if (QFile::exists(path) && !QFile::remove(path))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot delete %1").arg(path));
    return {};
}

VmRecordStore::Loaded VmRecordStore::loadAll() const
{
    Loaded loaded;
    const QDir dir(m_dir);
    for (const QString &file : dir.entryList({QStringLiteral("*.json")}, QDir::Files, QDir::Name)) {
        const QString path = dir.filePath(file);
        auto record = readRecord(path, file);
        if (record)
            loaded.records << *record;
        else
            loaded.warnings << QStringLiteral("%1: %2").arg(path, record.error().message);
    }
    return loaded;
}

} // namespace Vm
