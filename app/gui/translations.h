#pragma once
// The GUI's translations: mvs_gui_<lang>.qm (built from the top-level
// translations/*.ts by qt_add_translations), read from the installed
// <prefix>/share/microvm-sandbox/translations, else embedded under :/i18n;
// and Qt's own for the standard dialogs and buttons.

#include <QLocale>

namespace Gui {

// Install the translators for the locale on the application (once, before
// any window is made). Returns true when the GUI has a translation for it
// (English needs none).
bool installTranslations(const QLocale &locale = QLocale());

} // namespace Gui
