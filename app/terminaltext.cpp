#include "app/terminaltext.h"

#include <QString>

namespace App {

namespace {

constexpr char16_t kDelete = 0x7f;
constexpr char16_t kLastC1 = 0x9f;

bool isCrBeforeNewline(const QString &text, qsizetype i)
{
    return text.at(i) == QLatin1Char('\r') && i + 1 < text.size() && text.at(i + 1) == QLatin1Char('\n');
}

void appendVisible(QString &out, char16_t c)
{
    if (c < 0x20) {
        out += QLatin1Char('^');
        out += QChar(char16_t(c + 0x40));
    } else if (c == kDelete) {
        out += QStringLiteral("^?");
    } else {
        out += QStringLiteral("<U+%1>").arg(QString::number(c, 16).toUpper().rightJustified(4, QLatin1Char('0')));
    }
}

} // namespace

QByteArray printableTerminalText(const QByteArray &guestBytes)
{
    const QString text = QString::fromUtf8(guestBytes);
    QString out;
    out.reserve(text.size());
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char16_t c = text.at(i).unicode();
        if (c == u'\n' || c == u'\t' || (c > 0x1f && c < kDelete) || c > kLastC1)
            out += QChar(c);
        else if (!isCrBeforeNewline(text, i))
            appendVisible(out, c);
    }
    return out.toUtf8();
}

} // namespace App
