#pragma once
// One computer-use input action on a VM's display, in guest pixels.

#include <QList>
#include <QPoint>
#include <QString>

namespace Desktop {

struct InputAction {
    enum class Kind { Move, Click, Drag, Scroll, Type, Key };
    enum class Button { Left, Middle, Right };

    Kind kind = Kind::Move;
    QPoint point; // Move, Click, Scroll (target); Drag (from)
    QPoint to; // Drag
    bool hasPoint = false; // Click/Scroll: false means "where the pointer is"
    Button button = Button::Left;
    int count = 1; // Click: 1 single, 2 double, 3 triple
    int scrollX = 0; // Scroll: notches right (+) or left (-)
    int scrollY = 0; // Scroll: notches down (+) or up (-)
    QString text; // Type: any Unicode; Key: a combination such as "ctrl+alt+t"

    static constexpr int kMaxClickCount = 3;
    static constexpr int kMaxScroll = 50;
    static constexpr int kMaxTextLength = 10000;
};

// "left", "middle", "right".
bool parseButton(const QString &name, InputAction::Button *out);
QString kindName(InputAction::Kind kind);

} // namespace Desktop
