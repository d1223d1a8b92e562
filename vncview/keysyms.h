#pragma once
// X11 keysyms for the RFB protocol: characters, key names, key combos and
// Qt keys. Pure functions, no libvncclient and no Widgets, unit-tested.

#include <QList>
#include <QString>
#include <QStringView>

#include <optional>

namespace Vnc::Keysyms {

// A few keysyms used by name in code (values from X11 keysymdef.h).
inline constexpr quint32 BackSpace = 0xff08;
inline constexpr quint32 Tab = 0xff09;
inline constexpr quint32 Return = 0xff0d;
inline constexpr quint32 Escape = 0xff1b;
inline constexpr quint32 Delete = 0xffff;
inline constexpr quint32 ShiftL = 0xffe1;
inline constexpr quint32 ControlL = 0xffe3;
inline constexpr quint32 AltL = 0xffe9;
inline constexpr quint32 SuperL = 0xffeb;

// The keysym that types one Unicode character: Latin-1 maps to itself,
// '\n' and '\r' to Return, '\t' to Tab, '\b' to BackSpace, other control
// characters to nothing (0), everything else to 0x01000000 + codepoint.
quint32 fromCodepoint(char32_t codepoint);

// One key by name, case-insensitive: "Return", "enter", "Tab", "esc", "F5",
// "ctrl", "alt", "shift", "super", "PageUp", "space", a single character
// ("a", "é"), or a hexadecimal keysym ("0xff0d"). nullopt if unknown.
std::optional<quint32> fromName(QStringView name);

// "ctrl+alt+t", "shift+Tab", "Return", "ctrl++": keysyms in press order
// (modifiers first, the key last; release in reverse). nullopt if any part
// is unknown or the combo is empty. A final letter is upper-cased when shift
// is part of the combo and lower-cased otherwise ("shift+w" sends 'W',
// "ctrl+T" sends ctrl and 't'), as the server fakes shift to match a keysym.
std::optional<QList<quint32>> parseCombo(QStringView combo);

// A Qt key (Qt::Key value) with the text it produced, as a keysym; 0 if
// there is none. `text` decides printable keys so that layouts and shift
// state are respected; when it is a control character (ctrl+letter) the key
// itself is used, lower-cased unless `shift` is held.
quint32 fromQtKey(int qtKey, const QString &text, bool shift);

} // namespace Vnc::Keysyms
