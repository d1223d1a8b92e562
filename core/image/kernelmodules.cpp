#include "core/image/kernelmodules.h"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>
#include <QSet>

#include <functional>

namespace Image {
namespace {

QString moduleName(const QString &fileName)
{
    QString n = fileName.left(fileName.indexOf(QLatin1String(".ko")));
    return n.replace(QLatin1Char('-'), QLatin1Char('_'));
}

} // namespace

QStringList KernelModules::dependsOf(const QByteArray &ko)
{
    // .modinfo holds NUL-separated key=value strings; "depends=" is always present.
    static const QByteArray key("\0depends=", 9);
    const qsizetype at = ko.indexOf(key);
    if (at < 0)
        return {};
    const qsizetype start = at + key.size();
    const qsizetype end = ko.indexOf('\0', start);
    const QByteArray value = ko.mid(start, end < 0 ? -1 : end - start);
    QStringList out;
    for (const QByteArray &d : value.split(','))
        if (!d.isEmpty())
            out << QString::fromLatin1(d).replace(QLatin1Char('-'), QLatin1Char('_'));
    return out;
}

Core::Expected<KernelModules> KernelModules::scan(const QString &moduleDir)
{
    KernelModules km;
    km.m_dir = moduleDir;
    QDirIterator it(moduleDir, {QStringLiteral("*.ko")}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
        const QString path = it.next();
        km.m_path.insert(moduleName(QFileInfo(path).fileName()), QDir(moduleDir).relativeFilePath(path));
    }
    QFile builtin(QDir(moduleDir).filePath(QStringLiteral("modules.builtin")));
    if (builtin.open(QIODevice::ReadOnly))
        for (const QByteArray &line : builtin.readAll().split('\n'))
            if (!line.isEmpty())
                km.m_builtin.insert(moduleName(QFileInfo(QString::fromLatin1(line)).fileName()));
    if (km.m_path.isEmpty())
        return Core::Error(Core::ErrorCode::ImageBuild,
                           QStringLiteral("no kernel modules (*.ko) under %1 (compressed modules are not supported)").arg(moduleDir));
    return km;
}

Core::Expected<QStringList> KernelModules::loadOrder(const QStringList &names) const
{
    QStringList order;
    QSet<QString> done, visiting;
    // Depth-first: dependencies before dependants; cycles are a broken package.
    std::function<Core::Result(const QString &, const QString &)> visit = [&](const QString &name, const QString &wantedBy) -> Core::Result {
        if (done.contains(name) || (m_builtin.contains(name) && !m_path.contains(name)))
            return {};
        if (visiting.contains(name))
            return Core::Error(Core::ErrorCode::ImageBuild, QStringLiteral("kernel module dependency cycle at %1").arg(name));
        const auto p = m_path.constFind(name);
        if (p == m_path.constEnd())
            return Core::Error(Core::ErrorCode::ImageBuild,
                               wantedBy.isEmpty() ? QStringLiteral("kernel module '%1' is not in the kernel package (built in, or misspelt?)").arg(name)
                                                  : QStringLiteral("kernel module '%1' (needed by %2) is not in the kernel package").arg(name, wantedBy));
        visiting.insert(name);
        QStringList deps = m_deps.value(name);
        if (!m_deps.contains(name)) {
            QFile f(QDir(m_dir).filePath(*p));
            if (!f.open(QIODevice::ReadOnly))
                return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read %1").arg(f.fileName()));
            deps = dependsOf(f.readAll());
        }
        for (const QString &d : deps)
            if (auto r = visit(d, name); !r)
                return r;
        visiting.remove(name);
        done.insert(name);
        order << *p;
        return {};
    };
    for (const QString &n : names) {
        QString name = n;
        name.replace(QLatin1Char('-'), QLatin1Char('_'));
        if (auto r = visit(name, QString()); !r)
            return r.error();
    }
    return order;
}

} // namespace Image
