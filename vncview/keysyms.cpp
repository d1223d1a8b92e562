#include "vncview/keysyms.h"

#include <QHash>

namespace Vnc::Keysyms {
namespace {

struct Named {
    const char *name;
    quint32 keysym;
};

// Lower-case names; lookups are case-insensitive.
constexpr Named kNames[] = {
    {"return", Return},      {"enter", Return},       {"ret", Return},       {"tab", Tab},         {"backspace", BackSpace}, {"bs", BackSpace},
    {"escape", Escape},      {"esc", Escape},         {"delete", Delete},    {"del", Delete},      {"insert", 0xff63},       {"ins", 0xff63},
    {"home", 0xff50},        {"end", 0xff57},         {"pageup", 0xff55},    {"page_up", 0xff55},  {"prior", 0xff55},        {"pgup", 0xff55},
    {"pagedown", 0xff56},    {"page_down", 0xff56},   {"next", 0xff56},      {"pgdn", 0xff56},     {"left", 0xff51},         {"up", 0xff52},
    {"right", 0xff53},       {"down", 0xff54},        {"space", 0x20},       {"plus", 0x2b},       {"minus", 0x2d},          {"print", 0xff61},
    {"printscreen", 0xff61}, {"pause", 0xff13},       {"menu", 0xff67},      {"capslock", 0xffe5}, {"caps_lock", 0xffe5},    {"numlock", 0xff7f},
    {"scrolllock", 0xff14},  {"kp_enter", 0xff8d},    {"shift", ShiftL},     {"shift_l", ShiftL},  {"shift_r", 0xffe2},      {"ctrl", ControlL},
    {"control", ControlL},   {"control_l", ControlL}, {"control_r", 0xffe4}, {"alt", AltL},        {"alt_l", AltL},          {"alt_r", 0xffea},
    {"altgr", 0xfe03},       {"super", SuperL},       {"super_l", SuperL},   {"super_r", 0xffec},  {"win", SuperL},          {"meta", SuperL},
    {"cmd", SuperL},
};

const QHash<QString, quint32> &nameTable()
{
    static const QHash<QString, quint32> table = [] {
        QHash<QString, quint32> t;
        for (const Named &n : kNames)
            t.insert(QString::fromLatin1(n.name), n.keysym);
        return t;
    }();
    return table;
}

} // namespace

quint32 fromCodepoint(char32_t cp)
{
    switch (cp) {
    case U'\n':
    case U'\r': return Return;
    case U'\t': return Tab;
    case U'\b': return BackSpace;
    case 0x1b: return Escape;
    case 0x7f: return Delete;
    default: break;
    }
    if (cp < 0x20 || (cp >= 0x80 && cp < 0xa0) || cp > 0x10ffff)
        return 0;
    if (cp <= 0xff)
        return quint32(cp);
    return 0x01000000u + quint32(cp);
}

std::optional<quint32> fromName(QStringView name)
{
    if (name.isEmpty())
        return std::nullopt;
    const QList<uint> ucs4 = name.toUcs4();
    if (ucs4.size() == 1) {
        const quint32 k = fromCodepoint(char32_t(ucs4.first()));
        return k ? std::optional<quint32>(k) : std::nullopt;
    }
    const QString lower = name.toString().toLower();
    if (const auto it = nameTable().constFind(lower); it != nameTable().constEnd())
        return *it;
    if (lower.size() >= 2 && lower.startsWith(QLatin1Char('f'))) {
        bool ok = false;
        const int n = QStringView(lower).mid(1).toInt(&ok);
        if (ok && n >= 1 && n <= 35)
            return 0xffbe + quint32(n - 1);
    }
    if (lower.startsWith(QLatin1String("0x")) && lower.size() > 2) {
        bool ok = false;
        const uint v = QStringView(lower).mid(2).toUInt(&ok, 16);
        if (ok && v > 0 && v <= 0x1ffffff)
            return quint32(v);
    }
    return std::nullopt;
}

std::optional<QList<quint32>> parseCombo(QStringView combo)
{
    combo = combo.trimmed();
    if (combo.isEmpty())
        return std::nullopt;
    QList<QStringView> parts = combo.split(QLatin1Char('+'));
    // "ctrl++" and "+": the last key is '+' itself.
    if (parts.size() >= 2 && parts.last().isEmpty() && parts.at(parts.size() - 2).trimmed().isEmpty()) {
        parts.removeLast();
        parts.last() = QStringView(u"+");
    }
    QList<quint32> keys;
    for (QStringView part : parts) {
        const QStringView p = part.size() == 1 ? part : part.trimmed();
        const auto k = fromName(p);
        if (!k)
            return std::nullopt;
        keys.append(*k);
    }
    // A letter's case follows shift: servers such as TigerVNC fake the shift
    // state a keysym needs, so "shift+w" must send 'W' and "ctrl+T" 't'.
    const bool shift = keys.contains(ShiftL) || keys.contains(0xffe2);
    quint32 &last = keys.last();
    if (last < 0x100 && QChar(char16_t(last)).isLetter())
        last = shift ? QChar::toUpper(last) : QChar::toLower(last);
    return keys;
}

quint32 fromQtKey(int qtKey, const QString &text, bool shift)
{
    switch (qtKey) {
    case Qt::Key_Return: return Return;
    case Qt::Key_Enter: return 0xff8d;
    case Qt::Key_Tab:
    case Qt::Key_Backtab: return Tab;
    case Qt::Key_Backspace: return BackSpace;
    case Qt::Key_Escape: return Escape;
    case Qt::Key_Delete: return Delete;
    case Qt::Key_Insert: return 0xff63;
    case Qt::Key_Home: return 0xff50;
    case Qt::Key_End: return 0xff57;
    case Qt::Key_PageUp: return 0xff55;
    case Qt::Key_PageDown: return 0xff56;
    case Qt::Key_Left: return 0xff51;
    case Qt::Key_Up: return 0xff52;
    case Qt::Key_Right: return 0xff53;
    case Qt::Key_Down: return 0xff54;
    case Qt::Key_Shift: return ShiftL;
    case Qt::Key_Control: return ControlL;
    case Qt::Key_Alt: return AltL;
    case Qt::Key_AltGr: return 0xfe03;
    case Qt::Key_Meta:
    case Qt::Key_Super_L: return SuperL;
    case Qt::Key_Super_R: return 0xffec;
    case Qt::Key_Menu: return 0xff67;
    case Qt::Key_CapsLock: return 0xffe5;
    case Qt::Key_NumLock: return 0xff7f;
    case Qt::Key_ScrollLock: return 0xff14;
    case Qt::Key_Print: return 0xff61;
    case Qt::Key_Pause: return 0xff13;
    case Qt::Key_Space: return 0x20;
    default: break;
    }
    if (qtKey >= Qt::Key_F1 && qtKey <= Qt::Key_F35)
        return 0xffbe + quint32(qtKey - Qt::Key_F1);
    const QList<uint> ucs4 = text.toUcs4();
    if (ucs4.size() == 1 && ucs4.first() >= 0x20 && ucs4.first() != 0x7f)
        return fromCodepoint(char32_t(ucs4.first()));
    // No printable text (ctrl+letter gives "\x01"...): Qt keys below
    // 0x01000000 are Unicode code points, letters upper-cased.
    if (qtKey > 0x20 && qtKey < 0x01000000) {
        char32_t cp = char32_t(qtKey);
        if (!shift)
            cp = char32_t(QChar::toLower(cp));
        return fromCodepoint(cp);
    }
    return 0;
}

} // namespace Vnc::Keysyms
