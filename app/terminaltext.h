#pragma once

#include <QByteArray>

namespace App {

// A guest's bytes made safe for the user's terminal: valid UTF-8 with every
// control character but newline and tab shown in caret notation (ESC as
// "^[", DEL as "^?", a C1 control as "<U+009B>"), so a guest cannot move the
// cursor, retitle the window, rewrite what was printed or feed the terminal
// input. A CR before a newline is dropped (serial consoles end lines with
// CRLF); any other CR is shown as "^M". Invalid UTF-8 becomes U+FFFD.
QByteArray printableTerminalText(const QByteArray &guestBytes);

} // namespace App
