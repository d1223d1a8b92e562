// Protocol::FrameReader on arbitrary bytes fed in arbitrary pieces.
// Properties: every frame it returns has reserved flags 0 and a payload of
// the announced length within the maximum; what it buffers while waiting
// stays below one header plus the maximum payload; Oversize names a header
// above the maximum; and the frames do not depend on how the bytes were
// split (the same stream fed whole gives the same frames).

#include "fuzz/fuzzcheck.h"
#include "protocol/framereader.h"

#include <string>
#include <vector>

namespace {

// Small enough that the fuzzer reaches Oversize with short inputs.
constexpr std::uint32_t kMaxFuzzPayload = 4096;

struct Outcome {
    std::vector<Protocol::Frame> frames;
    bool oversize = false;
};

bool sameFrame(const Protocol::Frame &a, const Protocol::Frame &b)
{
    return a.header.type == b.header.type && a.header.stream == b.header.stream && a.header.length == b.header.length && a.payload == b.payload;
}

// Takes frames out until the reader needs more; false once it refused one.
bool drain(Protocol::FrameReader &reader, Outcome *out)
{
    Protocol::Frame frame;
    for (;;) {
        switch (reader.next(&frame)) {
        case Protocol::FrameReader::Status::Frame:
            MVS_FUZZ_CHECK(frame.header.flags == 0);
            MVS_FUZZ_CHECK(frame.header.length <= reader.maxPayload());
            MVS_FUZZ_CHECK(frame.payload.size() == frame.header.length);
            out->frames.push_back(std::move(frame));
            frame = {};
            break;
        case Protocol::FrameReader::Status::NeedMore: MVS_FUZZ_CHECK(reader.buffered() < Protocol::kHeaderSize + reader.maxPayload()); return true;
        case Protocol::FrameReader::Status::Oversize:
            MVS_FUZZ_CHECK(reader.lastHeader().length > reader.maxPayload());
            out->oversize = true;
            return false;
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    FuzzedDataProvider in(data, size);
    const std::uint32_t maxPayload = in.ConsumeIntegralInRange<std::uint32_t>(0, kMaxFuzzPayload);
    std::vector<std::size_t> splits;
    for (int i = in.ConsumeIntegralInRange(0, 16); i > 0; --i)
        splits.push_back(in.ConsumeIntegralInRange<std::size_t>(1, 64));
    const std::string stream = in.ConsumeRemainingBytesAsString();

    Protocol::FrameReader pieces(maxPayload);
    Outcome split;
    std::size_t pos = 0;
    for (std::size_t i = 0; pos < stream.size(); ++i) {
        const std::size_t n = splits.empty() ? stream.size() : splits[i % splits.size()];
        const std::string_view piece = std::string_view(stream).substr(pos, n);
        pieces.feed(piece);
        pos += piece.size();
        if (!drain(pieces, &split))
            break;
    }

    Protocol::FrameReader whole(maxPayload);
    Outcome once;
    whole.feed(stream);
    drain(whole, &once);
    MVS_FUZZ_CHECK(split.oversize == once.oversize);
    MVS_FUZZ_CHECK(pieces.skippedBytes() == whole.skippedBytes());
    MVS_FUZZ_CHECK(split.frames.size() == once.frames.size());
    for (std::size_t i = 0; i < once.frames.size(); ++i)
        MVS_FUZZ_CHECK(sameFrame(split.frames[i], once.frames[i]));

    // After reset() the reader starts clean.
    whole.reset();
    MVS_FUZZ_CHECK(whole.buffered() == 0);
    return 0;
}
