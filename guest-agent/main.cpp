// microvm-agent: the guest side of the microVM sandbox. Serves the
// guest-agent protocol (protocol/messages.h) on virtio-serial, vsock, Unix
// sockets or an inherited fd, all from one poll loop.

#include "eventloop.h"
#include "guestinit.h"
#include "session.h"
#include "transport.h"
#include "util.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace GuestAgent;

namespace {

void printUsage(std::FILE *out)
{
    std::fprintf(out,
                 "Usage: microvm-agent [options]\n"
                 "Serves the microVM guest-agent protocol. Several transports may be given.\n"
                 "\n"
                 "  --serial auto|PATH   virtio-serial port; auto finds the port by name\n"
                 "  --port-name NAME     port name for --serial auto (default org.microvm.agent)\n"
                 "  --vsock PORT         listen on AF_VSOCK, one session per connection\n"
                 "  --unix PATH          listen on a Unix socket, one session per connection\n"
                 "  --fd N, --listen-fd N  one session on an inherited connected fd; exit when it closes\n"
                 "  --auto               serve the channels this VM has: the --port-name\n"
                 "                       virtio-serial port and/or vsock on --vsock-port\n"
                 "  --vsock-port PORT    vsock port for --auto (default 1024)\n"
                 "  --init-setup         guest boot work (mounts, modules, hostname), then exit\n"
                 "  --reseed-rng         mix the seed on stdin into the kernel's RNG and reseed it (after a restore)\n"
                 "  --no-shutdown        refuse Shutdown requests (for tests on a host)\n"
                 "  --version            print the version and exit\n"
                 "  --help               this text\n");
}

bool parseUnsigned(std::string_view text, unsigned long max, unsigned long *out)
{
    if (text.empty() || text.size() > 10)
        return false;
    unsigned long value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return false;
        value = value * 10 + static_cast<unsigned long>(c - '0');
    }
    if (value > max)
        return false;
    *out = value;
    return true;
}

// fds 0-2 must be open so that pipes never land on them (exec relies on it).
void ensureStandardFds()
{
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0)
            continue;
        int opened = ::open("/dev/null", O_RDWR);
        if (opened < 0)
            opened = ::open("/", O_RDONLY | O_DIRECTORY);
        if (opened >= 0 && opened != fd) {
            ::dup2(opened, fd);
            ::close(opened);
        }
    }
}

struct TransportSpec {
    enum Kind { Serial, Vsock, Unix, Fd } kind;
    std::string value;
};

} // namespace

int main(int argc, char **argv)
{
    markAgentStart();
    ensureStandardFds();
    ::signal(SIGPIPE, SIG_IGN);

    AgentConfig config;
    std::string portName = "org.microvm.agent";
    std::vector<TransportSpec> specs;
    bool autoChannels = false;
    std::string autoVsockPort = "1024";

    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        bool hasValue = false;
        if (const auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
            hasValue = true;
        }
        const auto needValue = [&](std::string *out) {
            if (hasValue) {
                *out = value;
                return true;
            }
            if (i + 1 >= argc) {
                std::fprintf(stderr, "microvm-agent: %s needs a value\n", arg.c_str());
                return false;
            }
            *out = argv[++i];
            return true;
        };

        if (arg == "--version") {
            std::printf("microvm-agent %s\n", MVS_AGENT_VERSION);
            return 0;
        }
        if (arg == "--help" || arg == "-h") {
            printUsage(stdout);
            return 0;
        }
        if (arg == "--init-setup")
            return GuestInit::runSetup();
        if (arg == "--reseed-rng")
            return GuestInit::reseedRandom();
        if (arg == "--auto") {
            autoChannels = true;
            continue;
        }
        if (arg == "--vsock-port") {
            unsigned long port = 0;
            if (!needValue(&autoVsockPort) || !parseUnsigned(autoVsockPort, 0xffffffffUL, &port)) {
                std::fprintf(stderr, "microvm-agent: bad --vsock-port\n");
                return 2;
            }
            continue;
        }
        if (arg == "--no-shutdown") {
            config.allowShutdown = false;
            continue;
        }
        std::string v;
        if (arg == "--serial") {
            if (!needValue(&v))
                return 2;
            specs.push_back({TransportSpec::Serial, v});
        } else if (arg == "--port-name") {
            if (!needValue(&v))
                return 2;
            portName = v;
        } else if (arg == "--vsock") {
            unsigned long port = 0;
            if (!needValue(&v))
                return 2;
            if (!parseUnsigned(v, 0xffffffffUL, &port)) {
                std::fprintf(stderr, "microvm-agent: bad vsock port \"%s\"\n", v.c_str());
                return 2;
            }
            specs.push_back({TransportSpec::Vsock, v});
        } else if (arg == "--unix") {
            if (!needValue(&v))
                return 2;
            specs.push_back({TransportSpec::Unix, v});
        } else if (arg == "--fd" || arg == "--listen-fd") {
            unsigned long fd = 0;
            if (!needValue(&v))
                return 2;
            if (!parseUnsigned(v, 1u << 20, &fd)) {
                std::fprintf(stderr, "microvm-agent: bad fd \"%s\"\n", v.c_str());
                return 2;
            }
            specs.push_back({TransportSpec::Fd, v});
        } else {
            std::fprintf(stderr, "microvm-agent: unknown option \"%s\"\n", argv[i]);
            printUsage(stderr);
            return 2;
        }
    }
    if (autoChannels) {
        const GuestInit::Channels ch = GuestInit::detectChannels(portName);
        if (ch.serial)
            specs.push_back({TransportSpec::Serial, "auto"});
        if (ch.vsock)
            specs.push_back({TransportSpec::Vsock, autoVsockPort});
    }
    if (specs.empty()) {
        std::fprintf(stderr, "microvm-agent: no transport given\n");
        printUsage(stderr);
        return 2;
    }

    EventLoop loop;
    if (!loop.init())
        return 1;
    loop.setTerminateHandler([&loop] {
        logMessage("terminating");
        loop.quit(0);
    });

    std::vector<std::unique_ptr<Transport>> transports;
    for (const auto &spec : specs) {
        switch (spec.kind) {
        case TransportSpec::Serial:
            transports.push_back(std::make_unique<SerialTransport>(loop, config, spec.value, portName));
            break;
        case TransportSpec::Vsock:
            transports.push_back(std::make_unique<VsockTransport>(
                loop, config, static_cast<std::uint32_t>(std::strtoul(spec.value.c_str(), nullptr, 10))));
            break;
        case TransportSpec::Unix:
            transports.push_back(std::make_unique<UnixTransport>(loop, config, spec.value));
            break;
        case TransportSpec::Fd:
            transports.push_back(
                std::make_unique<FdTransport>(loop, config, static_cast<int>(std::strtol(spec.value.c_str(), nullptr, 10))));
            break;
        }
    }
    logMessage("version %s starting", MVS_AGENT_VERSION);
    for (auto &transport : transports)
        transport->start();

    const int rc = loop.run();
    transports.clear(); // ends every session: kills their process groups, removes temp files
    return rc;
}
