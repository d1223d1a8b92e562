// Every decoder of the guest-agent protocol (protocol/messages.h) on
// arbitrary payloads; the first byte picks the message. Properties: no
// decoder reads out of bounds or allocates beyond what the payload can
// describe (ASan, -rss_limit_mb, -malloc_limit_mb), and whatever decodes
// survives a round trip: decode(encode(m)) == m, with encode canonical
// (encoding the copy gives the same bytes).

#include "fuzz/fuzzcheck.h"
#include "protocol/messages.h"

#include <string>

namespace {

template<typename T>
void roundTrip(std::string_view payload)
{
    T m;
    if (!T::decode(payload, &m))
        return;
    const std::string bytes = m.encode();
    MVS_FUZZ_CHECK(bytes.size() <= payload.size()); // a decoder never invents bytes
    T copy;
    MVS_FUZZ_CHECK(T::decode(bytes, &copy));
    MVS_FUZZ_CHECK(copy == m);
    MVS_FUZZ_CHECK(copy.encode() == bytes);
}

using Decoder = void (*)(std::string_view);
constexpr Decoder kDecoders[] = {
    roundTrip<Protocol::Hello>,        roundTrip<Protocol::HelloAck>,      roundTrip<Protocol::Announce>,          roundTrip<Protocol::ErrorMsg>,
    roundTrip<Protocol::ExecStart>,    roundTrip<Protocol::ExecStarted>,   roundTrip<Protocol::ExecExit>,          roundTrip<Protocol::FilePut>,
    roundTrip<Protocol::FilePutDone>,  roundTrip<Protocol::PathRequest>,   roundTrip<Protocol::FileGetInfo>,       roundTrip<Protocol::StatResult>,
    roundTrip<Protocol::ListResult>,   roundTrip<Protocol::HealthResult>,  roundTrip<Protocol::Shutdown>,          roundTrip<Protocol::StreamOpen>,
    roundTrip<Protocol::StreamCredit>, roundTrip<Protocol::ProcessState>,  roundTrip<Protocol::ProcessListResult>, roundTrip<Protocol::ProcessRef>,
    roundTrip<Protocol::ProcessRead>,  roundTrip<Protocol::ProcessOutput>, roundTrip<Protocol::ProcessWrite>,      roundTrip<Protocol::ProcessSignal>,
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::string_view payload(reinterpret_cast<const char *>(data) + 1, size - 1);
    kDecoders[data[0] % std::size(kDecoders)](payload);
    return 0;
}
