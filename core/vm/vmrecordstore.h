#pragma once

#include "core/vm/vmrecord.h"

#include <QList>
#include <QStringList>

namespace Vm {

// The state directory of a VmManager: one JSON record per VM
// (<dir>/<name>.json, written atomically, mode 0600) and, beside it, the
// VM's console log, writable disk and snapshots.
class VmRecordStore {
public:
    explicit VmRecordStore(QString dir)
        : m_dir(std::move(dir))
    {
    }

    QString dir() const { return m_dir; }
    QString recordPath(const QString &name) const { return file(name, QStringLiteral(".json")); }
    QString consoleLogPath(const QString &name) const { return file(name, QStringLiteral(".console.log")); }
    QString diskDir(const QString &name) const { return file(name, QStringLiteral(".disk")); }
    QString snapshotDir(const QString &name) const { return file(name, QStringLiteral(".snapshots")); }

    Core::Result save(const VmRecord &record) const;
    Core::Result remove(const QString &name) const;

    struct Loaded {
        QList<VmRecord> records; // by name
        QStringList warnings; // one line per file that could not be read (skipped): the file and why
    };
    Loaded loadAll() const;

private:
    QString file(const QString &name, const QString &suffix) const { return m_dir + QLatin1Char('/') + name + suffix; }

    QString m_dir;
};

} // namespace Vm
