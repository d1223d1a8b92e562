#pragma once

#include "core/expected.h"

#include <QHash>
#include <QSet>
#include <QStringList>

namespace Image {

// Kernel modules of an unpacked kernel package, indexed without depmod (the
// package ships no modules.dep): each .ko's .modinfo section names its
// dependencies ("depends=a,b").
class KernelModules {
public:
    // moduleDir: <root>/lib/modules/<version>
    static Core::Expected<KernelModules> scan(const QString &moduleDir);

    // The given modules and everything they depend on, dependencies first:
    // the order insmod needs. Paths relative to moduleDir. Modules built into
    // the kernel (modules.builtin) need no loading and are left out.
    Core::Expected<QStringList> loadOrder(const QStringList &names) const;
    QString moduleDir() const { return m_dir; }

    // "depends=" of one .ko file's bytes.
    static QStringList dependsOf(const QByteArray &ko);

private:
    QString m_dir;
    QHash<QString, QString> m_path; // name -> relative path
    QHash<QString, QStringList> m_deps; // name -> dependency names
    QSet<QString> m_builtin; // names in modules.builtin
};

} // namespace Image
