#include "app/gui/translations.h"

#include "core/paths.h"

#include <QCoreApplication>
#include <QLibraryInfo>
#include <QTranslator>

namespace Gui {

bool installTranslations(const QLocale &locale)
{
    auto *qt = new QTranslator(QCoreApplication::instance());
    if (qt->load(locale, QStringLiteral("qtbase"), QStringLiteral("_"), QLibraryInfo::path(QLibraryInfo::TranslationsPath)))
        QCoreApplication::installTranslator(qt);
    else
        delete qt;
    // The installed .qm files first (a packager may update them), then the
    // ones built into the executable.
    QStringList dirs{QStringLiteral(":/i18n")};
    if (const QString share = Core::Paths::installedDataDir(); !share.isEmpty())
        dirs.prepend(share + QStringLiteral("/translations"));
    for (const QString &dir : dirs) {
        auto *gui = new QTranslator(QCoreApplication::instance());
        if (gui->load(locale, QStringLiteral("mvs_gui"), QStringLiteral("_"), dir)) {
            QCoreApplication::installTranslator(gui);
            return true;
        }
        delete gui;
    }
    return false;
}

} // namespace Gui
