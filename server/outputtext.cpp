#include "server/outputtext.h"

namespace Server::OutputText {
namespace {

constexpr int kMaxCharacterBytes = 4;

bool isContinuation(unsigned char b)
{
    return (b & 0xC0) == 0x80;
}

// The bytes of the character lead byte b begins: 1 for ASCII, 2-4, or 0
// for a byte that begins none (a continuation byte, 0xC0, 0xC1, 0xF5-0xFF).
int characterBytes(unsigned char b)
{
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return 2;
    if ((b & 0xF0) == 0xE0)
        return 3;
    if (b >= 0xF0 && b <= 0xF4)
        return 4;
    return 0;
}

} // namespace

qsizetype wholeCharacters(const QByteArray &data)
{
    const qsizetype size = data.size();
    // The last byte that is no continuation byte, among the last few.
    qsizetype lead = size - 1;
    while (lead >= 0 && lead > size - kMaxCharacterBytes && isContinuation(static_cast<unsigned char>(data.at(lead))))
        --lead;
    if (lead < 0 || isContinuation(static_cast<unsigned char>(data.at(lead))))
        return size; // stray continuation bytes: nothing to wait for
    const int needed = characterBytes(static_cast<unsigned char>(data.at(lead)));
    return needed > size - lead ? lead : size;
}

Chunk cut(const QByteArray &data, quint64 nextOffset, bool processEnded)
{
    qsizetype kept = wholeCharacters(data);
    if (kept == 0 && processEnded)
        kept = data.size();
    const auto heldBack = static_cast<quint64>(data.size() - kept);
    return Chunk{QString::fromUtf8(data.left(kept)), nextOffset >= heldBack ? nextOffset - heldBack : 0};
}

} // namespace Server::OutputText
