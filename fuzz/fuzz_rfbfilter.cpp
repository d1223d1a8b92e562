// Server::RfbFilter on an arbitrary client stream cut at arbitrary points,
// each piece fed with its own allowInput. Properties:
//  - differential: the same pieces fed one byte at a time (each byte with
//    its piece's allowInput) give the same output, phase, error and counts;
//  - it never holds back more than kMaxHeldBytes, and after an error the
//    output never grows;
//  - what it forwards is a clean stream: a fresh filter passes it unchanged
//    and finds no error, and when no piece allowed input it finds no input
//    message in it (nothing was smuggled past the filter).

#include "fuzz/fuzzcheck.h"
#include "server/rfbfilter.h"

#include <vector>

namespace {

using Server::RfbFilter;

struct Piece {
    QByteArray bytes;
    bool allowInput = false;
};

void checkHeld(const RfbFilter &f)
{
    MVS_FUZZ_CHECK(f.heldBytes() <= RfbFilter::kMaxHeldBytes);
}

void feedChecked(RfbFilter &f, QByteArrayView bytes, bool allowInput)
{
    const bool failedBefore = f.hasError();
    const qsizetype before = f.output().size();
    const RfbFilter::Result r = f.feed(bytes, allowInput);
    MVS_FUZZ_CHECK((r == RfbFilter::Result::Error) == f.hasError());
    MVS_FUZZ_CHECK(f.output().size() >= before);
    if (failedBefore)
        MVS_FUZZ_CHECK(f.output().size() == before);
    checkHeld(f);
}

bool sameState(const RfbFilter &a, const RfbFilter &b)
{
    return a.output() == b.output() && a.phase() == b.phase() && a.errorString() == b.errorString() && a.passedMessages() == b.passedMessages()
        && a.droppedInputMessages() == b.droppedInputMessages() && a.heldBytes() == b.heldBytes();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    const auto framing = in.ConsumeBool() ? RfbFilter::PointerFraming::ExtendedMouseButtons : RfbFilter::PointerFraming::Standard;
    std::vector<Piece> pieces;
    bool anyAllowed = false;
    while (in.remaining_bytes() > 0) {
        Piece p;
        p.allowInput = in.ConsumeBool();
        const std::string bytes = in.ConsumeRandomLengthString(256);
        p.bytes = QByteArray(bytes.data(), qsizetype(bytes.size()));
        anyAllowed = anyAllowed || p.allowInput;
        pieces.push_back(std::move(p));
    }

    RfbFilter whole(framing);
    RfbFilter byByte(framing);
    for (const Piece &p : pieces) {
        feedChecked(whole, p.bytes, p.allowInput);
        for (qsizetype i = 0; i < p.bytes.size(); ++i)
            feedChecked(byByte, QByteArrayView(p.bytes).sliced(i, 1), p.allowInput);
        MVS_FUZZ_CHECK(sameState(whole, byByte));
    }

    // The forwarded stream, filtered again, passes whole.
    RfbFilter again(framing);
    feedChecked(again, whole.output(), true);
    MVS_FUZZ_CHECK(!again.hasError());
    MVS_FUZZ_CHECK(again.output() == whole.output());
    MVS_FUZZ_CHECK(again.passedMessages() == whole.passedMessages());
    if (!anyAllowed) {
        RfbFilter watcher(framing);
        feedChecked(watcher, whole.output(), false);
        MVS_FUZZ_CHECK(watcher.droppedInputMessages() == 0);
    }
    return 0;
}
