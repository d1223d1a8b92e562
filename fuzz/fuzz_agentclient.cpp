// The host's Agent::AgentClient against a hostile guest agent. A scripted
// agent on a Unix socket completes the handshake; the client then starts
// one operation of every kind (exec, put, get, stat, list, health, forward,
// shutdown) and the agent answers with arbitrary frames (type, a stream id
// among the open ones, payload) and raw bytes, written in arbitrary pieces,
// then hangs up.
// Properties: no crash, leak or undefined behaviour, memory stays within
// -rss_limit_mb, and once the connection is gone every operation has
// finished (failed or not) within LocalPeer::kStepMs: nothing waits
// forever.

#include "fuzz/localpeer.h"

#include "core/agent/agentclient.h"
#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <functional>
#include <memory>
#include <vector>

namespace {

using Fuzz::LocalPeer;

constexpr int kStreams = 10; // frames go to streams 0 .. kStreams - 1
constexpr std::size_t kMaxPayload = 8192; // per fuzzed frame
constexpr std::uint8_t kRawBytes = 0; // the type that means "no frame"

QByteArray frame(std::uint8_t type, quint32 stream, std::string_view payload)
{
    const std::string f = Protocol::encodeFrame(type, stream, payload);
    return QByteArray(f.data(), qsizetype(f.size()));
}

// The agent's side of the handshake: HelloAck to the client's Hello.
bool answerHello(QLocalSocket *peer)
{
    Protocol::FrameReader reader;
    Protocol::Frame f;
    const bool hello = LocalPeer::pumpUntil([&]() {
        const QByteArray in = peer->readAll();
        reader.feed(in.constData(), std::size_t(in.size()));
        while (reader.next(&f) == Protocol::FrameReader::Status::Frame) {
            if (f.header.type == std::uint8_t(Protocol::MsgType::Hello))
                return true;
        }
        return false;
    });
    if (!hello)
        return false;
    Protocol::Hello h;
    Protocol::Hello::decode(f.payload, &h);
    Protocol::HelloAck ack;
    ack.nonce = h.nonce;
    ack.agentVersion = "fuzz";
    ack.bootId = "boot";
    peer->write(frame(std::uint8_t(Protocol::MsgType::HelloAck), 0, ack.encode()));
    return true;
}

template<typename T>
std::function<bool()> finished(QFuture<T> f)
{
    return [f]() { return f.isFinished(); };
}

// One operation of every kind; each entry says whether it has ended.
std::vector<std::function<bool()>> startOperations(Agent::AgentClient *client)
{
    std::vector<std::function<bool()>> ops;
    Agent::ExecRequest exec;
    exec.argv = QStringList{QStringLiteral("/bin/true")};
    exec.stdinData = "input";
    ops.push_back(finished(client->run(exec)));
    ops.push_back(finished(client->putData(QStringLiteral("/tmp/up"), QByteArray(100, 'u'))));
    ops.push_back(finished(client->getData(QStringLiteral("/tmp/down"))));
    ops.push_back(finished(client->stat(QStringLiteral("/tmp"))));
    ops.push_back(finished(client->list(QStringLiteral("/tmp"))));
    ops.push_back(finished(client->health()));
    ops.push_back(finished(client->openStream(QStringLiteral("127.0.0.1"), 80)));
    ops.push_back(finished(client->shutdownGuest()));
    Agent::ExecRequest streaming = exec;
    streaming.streamStdin = true;
    Agent::ExecHandle *handle = client->exec(streaming);
    auto ended = std::make_shared<bool>(false);
    QObject::connect(handle, &Agent::ExecHandle::finished, handle, [ended]() { *ended = true; });
    QObject::connect(handle, &Agent::ExecHandle::failed, handle, [ended]() { *ended = true; });
    ops.push_back([ended]() { return *ended; });
    return ops;
}

// The hostile part: frames built from the input, written in pieces.
void sendFrames(FuzzedDataProvider &in, QLocalSocket *peer)
{
    while (in.remaining_bytes() > 0 && peer->state() == QLocalSocket::ConnectedState) {
        const auto type = in.ConsumeIntegral<std::uint8_t>();
        const auto stream = in.ConsumeIntegralInRange<quint32>(0, kStreams - 1);
        const bool pause = in.ConsumeBool();
        const std::string payload = in.ConsumeRandomLengthString(kMaxPayload);
        // Type 0 is no message: its payload goes out raw (garbage between
        // frames, torn or oversize headers).
        peer->write(type == kRawBytes ? QByteArray(payload.data(), qsizetype(payload.size())) : frame(type, stream, payload));
        if (pause)
            QCoreApplication::processEvents();
        peer->readAll(); // what the client sends is dropped
    }
    LocalPeer::settle(peer);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    LocalPeer &local = LocalPeer::instance();
    FuzzedDataProvider in(data, size);
    auto *client = new Agent::AgentClient(Vmm::AgentEndpoint{local.path(), 0});
    const auto connected = client->connectToAgent(LocalPeer::kStepMs);
    QLocalSocket *peer = local.accept();
    MVS_FUZZ_CHECK(answerHello(peer));
    MVS_FUZZ_CHECK(LocalPeer::pumpUntil([&connected]() { return connected.isFinished(); }));
    MVS_FUZZ_CHECK(connected.result().hasValue());

    const auto ops = startOperations(client);
    sendFrames(in, peer);
    peer->abort();
    MVS_FUZZ_CHECK(LocalPeer::pumpUntil([&ops, &local]() {
        local.refuseNew();
        for (const auto &done : ops)
            if (!done())
                return false;
        return true;
    }));
    delete client;
    delete peer;
    local.cleanUp();
    return 0;
}
