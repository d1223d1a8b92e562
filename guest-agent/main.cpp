// microvm-agent: the guest side of the microVM sandbox. Serves the
// guest-agent protocol (protocol/messages.h) on virtio-serial, vsock, Unix
// sockets or an inherited fd, all from one poll loop.

#include "eventloop.h"
#include "pipedrain.h"
#include "processtable.h"
#include "guestinit.h"
#include "netconfig.h"
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
#include <optional>
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
                 "  --configure-net ADDRESS/PREFIX,GATEWAY,MAC\n"
                 "                       set the NIC's MAC, address, default route and resolver (after a restore or fork)\n"
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

struct Options {
    AgentConfig config;
    std::string portName = "org.microvm.agent";
    std::vector<TransportSpec> specs;
    bool autoChannels = false;
    std::string autoVsockPort = "1024";
};

// Walks the command line one option at a time; "--name=value" and
// "--name value" both work.
class ArgCursor {
public:
    ArgCursor(int argc, char **argv)
        : m_argc(argc)
        , m_argv(argv)
    {
    }

    bool next()
    {
        if (++m_index >= m_argc)
            return false;
        m_name = m_argv[m_index];
        m_value.clear();
        m_hasValue = false;
        if (const auto eq = m_name.find('='); m_name.rfind("--", 0) == 0 && eq != std::string::npos) {
            m_value = m_name.substr(eq + 1);
            m_name.resize(eq);
            m_hasValue = true;
        }
        return true;
    }
    // The option without its "=value".
    const std::string &name() const { return m_name; }
    // The option as given.
    const char *raw() const { return m_argv[m_index]; }
    // The option's value, from "=value" or the next argument.
    bool value(std::string *out)
    {
        if (m_hasValue) {
            *out = m_value;
            return true;
        }
        if (m_index + 1 >= m_argc) {
            std::fprintf(stderr, "microvm-agent: %s needs a value\n", m_name.c_str());
            return false;
        }
        *out = m_argv[++m_index];
        return true;
    }

private:
    const int m_argc;
    char **const m_argv;
    int m_index = 0;
    std::string m_name;
    std::string m_value;
    bool m_hasValue = false;
};

// The transport options (and --port-name); anything else is unknown.
// Returns an exit code, or nothing to go on.
std::optional<int> parseTransportOption(ArgCursor &args, Options &options)
{
    const std::string arg = args.name();
    std::string v;
    if (arg == "--serial") {
        if (!args.value(&v))
            return 2;
        options.specs.push_back({TransportSpec::Serial, v});
    } else if (arg == "--port-name") {
        if (!args.value(&v))
            return 2;
        options.portName = v;
    } else if (arg == "--vsock") {
        unsigned long port = 0;
        if (!args.value(&v))
            return 2;
        if (!parseUnsigned(v, 0xffffffffUL, &port)) {
            std::fprintf(stderr, "microvm-agent: bad vsock port \"%s\"\n", v.c_str());
            return 2;
        }
        options.specs.push_back({TransportSpec::Vsock, v});
    } else if (arg == "--unix") {
        if (!args.value(&v))
            return 2;
        options.specs.push_back({TransportSpec::Unix, v});
    } else if (arg == "--fd" || arg == "--listen-fd") {
        unsigned long fd = 0;
        if (!args.value(&v))
            return 2;
        if (!parseUnsigned(v, 1u << 20, &fd)) {
            std::fprintf(stderr, "microvm-agent: bad fd \"%s\"\n", v.c_str());
            return 2;
        }
        options.specs.push_back({TransportSpec::Fd, v});
    } else {
        std::fprintf(stderr, "microvm-agent: unknown option \"%s\"\n", args.raw());
        printUsage(stderr);
        return 2;
    }
    return std::nullopt;
}

// One option. The one-shot modes (--version, --help, --init-setup,
// --reseed-rng, --configure-net) run here. Returns an exit code, or nothing to go on.
std::optional<int> parseOption(ArgCursor &args, Options &options)
{
    const std::string &arg = args.name();
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
    if (arg == Protocol::kConfigureNetOption) {
        std::string spec;
        if (!args.value(&spec))
            return 2;
        return NetConfig::configureFromArgument(spec);
    }
    if (arg == "--auto") {
        options.autoChannels = true;
        return std::nullopt;
    }
    if (arg == "--vsock-port") {
        unsigned long port = 0;
        if (!args.value(&options.autoVsockPort) || !parseUnsigned(options.autoVsockPort, 0xffffffffUL, &port)) {
            std::fprintf(stderr, "microvm-agent: bad --vsock-port\n");
            return 2;
        }
        return std::nullopt;
    }
    if (arg == "--no-shutdown") {
        options.config.allowShutdown = false;
        return std::nullopt;
    }
    return parseTransportOption(args, options);
}

// The whole command line, then the channels --auto finds. Returns an exit
// code, or nothing when there is something to serve.
std::optional<int> parseArguments(int argc, char **argv, Options &options)
{
    ArgCursor args(argc, argv);
    while (args.next()) {
        if (const auto exitCode = parseOption(args, options))
            return exitCode;
    }
    if (options.autoChannels) {
        const GuestInit::Channels ch = GuestInit::detectChannels(options.portName);
        if (ch.serial)
            options.specs.push_back({TransportSpec::Serial, "auto"});
        if (ch.vsock)
            options.specs.push_back({TransportSpec::Vsock, options.autoVsockPort});
    }
    if (options.specs.empty()) {
        std::fprintf(stderr, "microvm-agent: no transport given\n");
        printUsage(stderr);
        return 2;
    }
    return std::nullopt;
}

std::unique_ptr<Transport> makeTransport(EventLoop &loop, const Options &options, const TransportSpec &spec)
{
    switch (spec.kind) {
    case TransportSpec::Serial: return std::make_unique<SerialTransport>(loop, options.config, spec.value, options.portName);
    case TransportSpec::Vsock:
        return std::make_unique<VsockTransport>(loop, options.config, static_cast<std::uint32_t>(std::strtoul(spec.value.c_str(), nullptr, 10)));
    case TransportSpec::Unix: return std::make_unique<UnixTransport>(loop, options.config, spec.value);
    case TransportSpec::Fd: return std::make_unique<FdTransport>(loop, options.config, static_cast<int>(std::strtol(spec.value.c_str(), nullptr, 10)));
    }
    return nullptr;
}

} // namespace

int main(int argc, char **argv)
{
    markAgentStart();
    ensureStandardFds();
    ::signal(SIGPIPE, SIG_IGN);

    Options options;
    if (const auto exitCode = parseArguments(argc, argv, options))
        return *exitCode;

    EventLoop loop;
    if (!loop.init())
        return 1;
    loop.setTerminateHandler([&loop] {
        logMessage("terminating");
        loop.quit(0);
    });

    // Agent-wide: background processes and the pipes of finished execs'
    // background children outlive the sessions that started them.
    PipeDrain drain(loop);
    ProcessTable processes(loop);
    options.config.drain = &drain;
    options.config.processes = &processes;

    std::vector<std::unique_ptr<Transport>> transports;
    for (const auto &spec : options.specs)
        transports.push_back(makeTransport(loop, options, spec));
    logMessage("version %s starting", MVS_AGENT_VERSION);
    for (auto &transport : transports)
        transport->start();

    const int rc = loop.run();
    transports.clear(); // ends every session: kills their process groups, removes temp files
    // (then `processes` kills the background ones)
    return rc;
}
