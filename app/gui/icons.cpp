#include "app/gui/icons.h"

namespace Gui {

QIcon Icons::themed(const QString &themeName, const QString &fallback)
{
    return QIcon::fromTheme(themeName, QIcon(QStringLiteral(":/icons/actions/%1.svg").arg(fallback)));
}

QIcon Icons::application()
{
    return QIcon::fromTheme(QStringLiteral("microvm-sandbox"), QIcon(QStringLiteral(":/icons/hicolor/scalable/apps/microvm-sandbox.svg")));
}

} // namespace Gui
