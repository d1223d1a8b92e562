// hostile-agent: a test double that stands in for microvm-agent on the
// guest's virtio-serial port and misbehaves in one way, chosen by argv[1]:
//
//   silent         answers every Hello (so the host thinks it is talking to
//                  an agent), then never answers anything else
//   announce-spam  in cycles, for ever: writes Announce frames for
//                  Hostile::kSpamMs without reading a byte, then for
//                  Hostile::kDrainMs reads (and answers) the Hellos the host
//                  queued meanwhile, and prints how many on the console
//   overfeed       answers a file get with a declared size of
//                  Hostile::kOverfeedDeclared bytes, then sends kOverfeedFactor times
//                  as much data and a FileEnd; silent otherwise
//   endless-exec   answers ExecStart with ExecStarted, then streams stdout
//                  on every exec stream for ever (as fast as the host's
//                  credit allows: an overrun would only fail the stream
//                  early), ignoring Cancel; never sends ExecExit
//
// Every line it prints starts "hostile-agent: <mode>:" and goes to stderr,
// which busybox init points at the serial console; tst_hostileguest waits
// for "ready" there. Static, like the real agent, for the bare initramfs.

#include "hostilelimits.h"

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <poll.h>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <thread>
#include <utility>
#include <unistd.h>

namespace {

using Protocol::MsgType;

constexpr const char *kPortName = "org.microvm.agent";
constexpr const char *kPortsDir = "/sys/class/virtio-ports";
constexpr int kOpenRetryMs = 50;
constexpr int kOpenAttempts = 600; // the real agent may still hold the port
using Hostile::kDrainMs;
using Hostile::kOverfeedDeclared;
using Hostile::kOverfeedFactor;
using Hostile::kSpamMs;
constexpr int kSpamBatch = 512; // Announces per write
constexpr std::size_t kChunk = 64 * 1024;

const char *g_mode = "?";

void say(const std::string &text)
{
    std::fprintf(stderr, "hostile-agent: %s: %s\n", g_mode, text.c_str());
    std::fflush(stderr);
}

std::string readTrimmed(const std::string &path)
{
    std::string s;
    if (std::FILE *f = std::fopen(path.c_str(), "r")) {
        char buf[256];
        const std::size_t n = std::fread(buf, 1, sizeof buf, f);
        s.assign(buf, n);
        std::fclose(f);
    }
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

// /dev/vportNpM of the agent's port, made from sysfs when missing.
std::string findPort()
{
    DIR *dir = ::opendir(kPortsDir);
    if (!dir)
        return {};
    std::string found;
    while (const dirent *e = ::readdir(dir)) {
        const std::string base = std::string(kPortsDir) + "/" + e->d_name;
        if (e->d_name[0] != '.' && readTrimmed(base + "/name") == kPortName) {
            found = e->d_name;
            break;
        }
    }
    ::closedir(dir);
    if (found.empty())
        return {};
    const std::string device = "/dev/" + found;
    unsigned major = 0, minor = 0;
    struct stat st { };
    if (::stat(device.c_str(), &st) != 0 && std::sscanf(readTrimmed(std::string(kPortsDir) + "/" + found + "/dev").c_str(), "%u:%u", &major, &minor) == 2)
        ::mknod(device.c_str(), S_IFCHR | 0600, makedev(major, minor));
    return device;
}

int openPort()
{
    for (int i = 0; i < kOpenAttempts; ++i) {
        const std::string device = findPort();
        const int fd = device.empty() ? -1 : ::open(device.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd >= 0)
            return fd;
        std::this_thread::sleep_for(std::chrono::milliseconds(kOpenRetryMs));
    }
    say("cannot open the port");
    return -1;
}

bool writeAll(int fd, const std::string &data)
{
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool send(int fd, MsgType type, std::uint32_t stream, const std::string &payload)
{
    return writeAll(fd, Protocol::encodeFrame(static_cast<std::uint8_t>(type), stream, payload));
}

std::string announce()
{
    Protocol::Announce a;
    a.agentVersion = std::string("hostile-") + g_mode;
    return Protocol::encodeFrame(static_cast<std::uint8_t>(MsgType::Announce), 0, a.encode());
}

class Agent {
public:
    explicit Agent(int fd)
        : m_fd(fd)
        , m_reader(Protocol::kMaxPayloadCeiling)
    {
    }

    // Reads what is there (waiting up to timeoutMs) and handles each frame.
    // False when the port is gone.
    bool pump(int timeoutMs)
    {
        pollfd p{m_fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, timeoutMs);
        if (ready <= 0)
            return ready == 0 || errno == EINTR;
        char buf[kChunk];
        const ssize_t n = ::read(m_fd, buf, sizeof buf);
        if (n <= 0)
            return n < 0 && (errno == EINTR || errno == EAGAIN);
        m_reader.feed(buf, static_cast<std::size_t>(n));
        Protocol::Frame frame;
        while (m_reader.next(&frame) == Protocol::FrameReader::Status::Frame)
            handle(frame);
        return true;
    }

    // One chunk of stdout on every exec stream that has credit left.
    bool streamOutput()
    {
        static const std::string yes = [] {
            std::string s;
            while (s.size() < kChunk)
                s += "y\n";
            return s;
        }();
        for (auto &[stream, credit] : m_execs) {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(credit, yes.size()));
            if (n == 0)
                continue;
            credit -= n;
            if (!send(m_fd, MsgType::ExecStdout, stream, yes.substr(0, n)))
                return false;
        }
        return true;
    }

    bool streaming() const
    {
        for (const auto &[stream, credit] : m_execs) {
            if (credit > 0)
                return true;
        }
        return false;
    }
    // Hellos answered since the last call.
    int takeHellos() { return std::exchange(m_hellos, 0); }

private:
    void handle(const Protocol::Frame &frame)
    {
        const auto type = static_cast<MsgType>(frame.header.type);
        if (type == MsgType::Hello)
            return helloAck(frame.payload);
        if (type == MsgType::FileGet && std::strcmp(g_mode, "overfeed") == 0)
            return overfeed(frame.header.stream);
        if (type == MsgType::ExecStart && std::strcmp(g_mode, "endless-exec") == 0) {
            Protocol::ExecStarted started;
            started.pid = 4242;
            send(m_fd, MsgType::ExecStarted, frame.header.stream, started.encode());
            m_execs[frame.header.stream] = Protocol::kStreamWindow;
        }
        Protocol::StreamCredit credit;
        const auto exec = m_execs.find(frame.header.stream);
        if (type == MsgType::StreamCredit && exec != m_execs.end() && Protocol::StreamCredit::decode(frame.payload, &credit))
            exec->second += credit.bytes;
        // Anything else (Cancel included) is never answered.
    }

    void helloAck(const std::string &payload)
    {
        ++m_hellos;
        Protocol::Hello hello;
        if (!Protocol::Hello::decode(payload, &hello))
            return;
        Protocol::HelloAck ack;
        ack.nonce = hello.nonce;
        ack.maxPayload = Protocol::kDefaultMaxPayload;
        ack.agentVersion = std::string("hostile-") + g_mode;
        ack.bootId = readTrimmed("/proc/sys/kernel/random/boot_id");
        send(m_fd, MsgType::HelloAck, 0, ack.encode());
    }

    void overfeed(std::uint32_t stream)
    {
        Protocol::FileGetInfo info;
        info.size = kOverfeedDeclared;
        info.mode = 0644;
        send(m_fd, MsgType::FileGetInfo, stream, info.encode());
        const std::string chunk(kChunk, 'x');
        for (std::uint64_t sent = 0; sent < kOverfeedDeclared * kOverfeedFactor; sent += kChunk) {
            if (!send(m_fd, MsgType::FileData, stream, chunk))
                return;
        }
        send(m_fd, MsgType::FileEnd, stream, {});
        say("overfed a file get");
    }

    int m_fd;
    Protocol::FrameReader m_reader;
    std::map<std::uint32_t, std::uint64_t> m_execs; // exec stream -> credit left
    int m_hellos = 0;
};

// Announces for Hostile::kSpamMs without reading, then counts the Hellos
// queued. False when the port is gone.
bool spamAnnounces(int fd, Agent &agent)
{
    std::string batch;
    for (int i = 0; i < kSpamBatch; ++i)
        batch += announce();
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSpamMs);
    long long sent = 0;
    while (std::chrono::steady_clock::now() < end && writeAll(fd, batch))
        sent += kSpamBatch;
    const auto drainEnd = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDrainMs);
    bool open = true;
    while (open && std::chrono::steady_clock::now() < drainEnd)
        open = agent.pump(100);
    say("sent " + std::to_string(sent) + " announces in " + std::to_string(kSpamMs) + " ms; hellos=" + std::to_string(agent.takeHellos()));
    return open;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: hostile-agent silent|announce-spam|overfeed|endless-exec\n");
        return 2;
    }
    g_mode = argv[1];
    const int fd = openPort();
    if (fd < 0)
        return 1;
    Agent agent(fd);
    send(fd, MsgType::Announce, 0, Protocol::Announce{Protocol::kVersion, std::string("hostile-") + g_mode}.encode());
    say("ready");
    if (std::strcmp(g_mode, "announce-spam") == 0) {
        while (spamAnnounces(fd, agent)) {
        }
    }
    for (;;) {
        if (!agent.pump(agent.streaming() ? 0 : 1000))
            break;
        if (agent.streaming() && !agent.streamOutput())
            break;
    }
    say("port closed");
    return 0;
}
