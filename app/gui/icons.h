#pragma once
// Gui::Icons: the window's icons, the desktop theme's where it has them
// (freedesktop icon names, QIcon::fromTheme), else ours: resources/icons,
// embedded under :/icons (SVG; Qt's SVG icon engine, libqt6svg6, draws them).

#include <QIcon>

namespace Gui {

class Icons {
public:
    // themeName: a freedesktop name ("media-playback-start"); fallback: a
    // file of resources/icons/actions without ".svg" ("start").
    static QIcon themed(const QString &themeName, const QString &fallback);
    // The application's own (microvm-sandbox).
    static QIcon application();
};

} // namespace Gui
