// The VMM control clients against a hostile VMM on their Unix socket (a
// compromised QEMU or cloud-hypervisor); the first byte picks the client:
//   even  Vmm::QmpClient: connect, then the input's first part as what QEMU
//         says (greeting, answers, events), a command, then the rest;
//   odd   Vmm::ChApiClient: three calls queued (ping, vm.info, vm.pause),
//         the input as the server's HTTP responses.
// The bytes arrive in pieces of sizes taken from the input's end, then the
// VMM hangs up. Properties: no crash, leak or undefined behaviour, and once
// the connection is gone every call has finished within LocalPeer::kStepMs
// (a reconnecting client finds nobody answering).

#include "fuzz/localpeer.h"

#include "core/vmm/chapiclient.h"
#include "core/vmm/qmpclient.h"

#include <vector>

namespace {

using Fuzz::LocalPeer;

constexpr int kMaxPieces = 8;
constexpr std::size_t kMaxFirstPart = 2048;

std::vector<qsizetype> pieceSizes(FuzzedDataProvider &in)
{
    std::vector<qsizetype> sizes;
    for (int i = in.ConsumeIntegralInRange(0, kMaxPieces); i > 0; --i)
        sizes.push_back(in.ConsumeIntegralInRange<qsizetype>(1, 512));
    return sizes;
}

QByteArray bytesOf(const std::string &s)
{
    return QByteArray(s.data(), qsizetype(s.size()));
}

template<typename T>
std::function<bool()> finished(QFuture<T> f)
{
    return [f]() { return f.isFinished(); };
}

// The peer hangs up; then every call must end.
void hangUpAndSettle(LocalPeer &local, QLocalSocket *peer, const std::vector<std::function<bool()>> &calls)
{
    peer->abort();
    MVS_FUZZ_CHECK(LocalPeer::pumpUntil([&]() {
        local.refuseNew();
        for (const auto &done : calls)
            if (!done())
                return false;
        return true;
    }));
}

void qmp(FuzzedDataProvider &in, LocalPeer &local)
{
    const auto pieces = pieceSizes(in);
    const QByteArray first = bytesOf(in.ConsumeRandomLengthString(kMaxFirstPart));
    const QByteArray rest = bytesOf(in.ConsumeRemainingBytesAsString());
    auto *client = new Vmm::QmpClient;
    std::vector<std::function<bool()>> calls{finished(client->connectTo(local.path()))};
    QLocalSocket *peer = local.accept();
    LocalPeer::writeInPieces(peer, first, pieces);
    calls.push_back(finished(client->execute(QStringLiteral("query-status"))));
    LocalPeer::writeInPieces(peer, rest, pieces);
    hangUpAndSettle(local, peer, calls);
    delete client;
    delete peer;
}

void cloudHypervisor(FuzzedDataProvider &in, LocalPeer &local)
{
    const auto pieces = pieceSizes(in);
    const QByteArray responses = bytesOf(in.ConsumeRemainingBytesAsString());
    auto *client = new Vmm::ChApiClient(local.path());
    client->setDefaultTimeoutMs(LocalPeer::kStepMs / 2);
    std::vector<std::function<bool()>> calls{finished(client->ping()), finished(client->vmInfo()), finished(client->pauseVm())};
    QLocalSocket *peer = local.accept();
    LocalPeer::writeInPieces(peer, responses, pieces);
    hangUpAndSettle(local, peer, calls);
    delete client;
    delete peer;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    LocalPeer &local = LocalPeer::instance();
    FuzzedDataProvider in(data + 1, size - 1);
    if (data[0] % 2 == 0)
        qmp(in, local);
    else
        cloudHypervisor(in, local);
    local.cleanUp();
    return 0;
}
