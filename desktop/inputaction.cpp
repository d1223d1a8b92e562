#include "desktop/inputaction.h"

namespace Desktop {

bool parseButton(const QString &name, InputAction::Button *out)
{
    if (name == QLatin1String("left"))
        *out = InputAction::Button::Left;
    else if (name == QLatin1String("middle"))
        *out = InputAction::Button::Middle;
    else if (name == QLatin1String("right"))
        *out = InputAction::Button::Right;
    else
        return false;
    return true;
}

QString kindName(InputAction::Kind kind)
{
    switch (kind) {
    case InputAction::Kind::Move: return QStringLiteral("move");
    case InputAction::Kind::Click: return QStringLiteral("click");
    case InputAction::Kind::Drag: return QStringLiteral("drag");
    case InputAction::Kind::Scroll: return QStringLiteral("scroll");
    case InputAction::Kind::Type: return QStringLiteral("type");
    case InputAction::Kind::Key: return QStringLiteral("key");
    }
    return QString();
}

} // namespace Desktop
