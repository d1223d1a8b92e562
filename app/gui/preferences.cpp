#include "app/gui/preferences.h"

#include "core/paths.h"

#include <QCoreApplication>
#include <QHostAddress>
#include <QSettings>

namespace Gui {
namespace {

const QString kListen = QStringLiteral("service/listen");
const QString kDataDir = QStringLiteral("service/data_dir");
const QString kDriver = QStringLiteral("vmm/driver");
const QString kAccel = QStringLiteral("vmm/accel");

} // namespace

QString Preferences::path()
{
    return Core::Paths::configDir() + QStringLiteral("/gui.conf");
}

Preferences Preferences::load()
{
    const QSettings s(path(), QSettings::IniFormat);
    Preferences p;
    p.listen = s.value(kListen, p.listen).toString();
    p.dataDir = s.value(kDataDir, p.dataDir).toString();
    p.driver = s.value(kDriver, p.driver).toString();
    p.accel = s.value(kAccel, p.accel).toString();
    return p;
}

bool Preferences::save() const
{
    QSettings s(path(), QSettings::IniFormat);
    s.setValue(kListen, listen);
    s.setValue(kDataDir, dataDir);
    s.setValue(kDriver, driver);
    s.setValue(kAccel, accel);
    s.sync();
    return s.status() == QSettings::NoError;
}

QString Preferences::listenProblem(const QString &listen)
{
    const qsizetype colon = listen.lastIndexOf(QLatin1Char(':'));
    if (colon < 0)
        return QCoreApplication::translate("Gui::Preferences", "Give HOST:PORT, e.g. 127.0.0.1:8000.");
    QString host = listen.left(colon);
    if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
        host = host.mid(1, host.size() - 2);
    bool ok = false;
    const uint port = listen.mid(colon + 1).toUInt(&ok);
    if (!ok || port > 65535)
        return QCoreApplication::translate("Gui::Preferences", "The port must be a number from 0 to 65535.");
    if (!host.isEmpty() && host != QLatin1String("localhost") && QHostAddress(host).isNull())
        return QCoreApplication::translate("Gui::Preferences", "The host must be an IP address (or localhost).");
    return {};
}

} // namespace Gui
