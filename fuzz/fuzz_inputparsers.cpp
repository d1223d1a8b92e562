// The parsers of computer-use input from API clients, on arbitrary text;
// the first byte picks one:
//   0  Server::InputRequest::parse on a body of POST .../input;
//   1  InputRequest::parseScale on the ?scale text, for a screen size
//      from the last bytes;
//   2  Vnc::Keysyms::parseCombo; 3 Vnc::Keysyms::fromName.
// Properties: no crash or undefined behaviour, and what parses is sane:
// 1 to kMaxActions actions, move and drag with a point; a scale is a
// factor in (0, 1]; a combo is at least one non-zero keysym and at most one
// per part; a named key is non-zero.

#include "fuzz/fuzzcheck.h"

#include "desktop/inputaction.h"
#include "server/inputrequest.h"
#include "vncview/keysyms.h"

namespace {

using Server::InputRequest;

void body(FuzzedDataProvider &in)
{
    const std::string text = in.ConsumeRemainingBytesAsString();
    const auto actions = InputRequest::parse(QByteArray(text.data(), qsizetype(text.size())));
    if (!actions)
        return;
    MVS_FUZZ_CHECK(!actions->isEmpty() && actions->size() <= InputRequest::kMaxActions);
    for (const Desktop::InputAction &a : *actions) {
        if (a.kind == Desktop::InputAction::Kind::Move || a.kind == Desktop::InputAction::Kind::Drag)
            MVS_FUZZ_CHECK(a.hasPoint);
    }
}

void scale(FuzzedDataProvider &in)
{
    const int width = in.ConsumeIntegralInRange(1, 1 << 14);
    const int height = in.ConsumeIntegralInRange(1, 1 << 14);
    const std::string text = in.ConsumeRemainingBytesAsString();
    const auto f = InputRequest::parseScale(QString::fromUtf8(text.data(), qsizetype(text.size())), QSize(width, height));
    if (!f)
        return;
    MVS_FUZZ_CHECK(*f > 0 && *f <= 1);
}

void combo(FuzzedDataProvider &in)
{
    const std::string text = in.ConsumeRemainingBytesAsString();
    const QString s = QString::fromUtf8(text.data(), qsizetype(text.size()));
    const auto keys = Vnc::Keysyms::parseCombo(s);
    if (!keys)
        return;
    MVS_FUZZ_CHECK(!keys->isEmpty());
    MVS_FUZZ_CHECK(keys->size() <= s.count(QLatin1Char('+')) + 1);
    for (const quint32 k : *keys)
        MVS_FUZZ_CHECK(k != 0);
}

void keyName(FuzzedDataProvider &in)
{
    const std::string text = in.ConsumeRemainingBytesAsString();
    const auto key = Vnc::Keysyms::fromName(QString::fromUtf8(text.data(), qsizetype(text.size())));
    if (key)
        MVS_FUZZ_CHECK(*key != 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    FuzzedDataProvider in(data + 1, size - 1);
    switch (data[0] % 4) {
    case 0: body(in); break;
    case 1: scale(in); break;
    case 2: combo(in); break;
    default: keyName(in); break;
    }
    return 0;
}
