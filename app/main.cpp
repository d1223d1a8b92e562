#include "app/clientcommand.h"
#include "app/guicommand.h"
#include "app/imagecommand.h"
#include "app/mcpserver.h"
#include "app/runcommand.h"
#include "app/servecommand.h"
#include "core/log.h"
#include "core/net/nethelper.h"

#include <QCoreApplication>

#include <cstdio>

#include <fcntl.h>

namespace {

void usage()
{
    std::printf("microvm-sandbox %s: run AI agents in microVMs\n\n"
                "usage:\n"
                "  microvm-sandbox [gui] [--listen HOST:PORT] [--token-file PATH]\n"
                "      the desktop application (needs a display), with the API service running inside it\n"
                "  microvm-sandbox run [--template NAME] [--vcpus N] [--memory MiB] [--timeout S] [--keep-console FILE] [--quiet]\n"
                "                      -- COMMAND [ARGS...]\n"
                "      create a VM, run COMMAND in it with streamed output (piped stdin is forwarded), destroy the VM;\n"
                "      exit with COMMAND's code (128+N: signal, 124: timeout, 125: the sandbox failed)\n"
                "  microvm-sandbox image build|path [--template NAME]\n"
                "      build (once, cached) or locate a template's guest image\n"
                "  microvm-sandbox template list [--json]\n"
                "  microvm-sandbox vm list|create|start|stop|rm|exec|cp|console|snapshot|snapshots|restore|fork|snapshot-delete ...\n"
                "                     [--url URL] [--token TOKEN] [--json]\n"
                "      drive the running service (MVS_URL, MVS_TOKEN; default http://127.0.0.1:8000 and the token file);\n"
                "      `microvm-sandbox vm --help` lists the commands\n"
                "  microvm-sandbox token create --role viewer|operator|admin [--vms GLOB] [--expires 1h] [--name NAME] | list | revoke ID\n"
                "      scoped tokens of the running service (with its admin token); the secret is printed once\n"
                "  microvm-sandbox pool [set TEMPLATE=N[,TEMPLATE=N...]] [--url URL] [--token TOKEN] [--json]\n"
                "      the service's paused pool per template, or new targets until it stops (config: pool)\n"
                "  microvm-sandbox mcp [--standalone] [--url URL] [--token TOKEN]\n"
                "      a Model Context Protocol server on stdio (uses the running service, else starts its own)\n"
                "  microvm-sandbox --serve [--listen HOST:PORT] [--token-file PATH] [--log-format text|json]\n"
                "      run the REST API service (default 127.0.0.1:8000); the token is made on first start (config dir,\n"
                "      0600) and printed once; --token-file or MVS_TOKEN override it; SIGINT/SIGTERM stop it (exit 0)\n"
                "  microvm-sandbox --version\n\n"
                "driver options: --driver auto|qemu|cloud-hypervisor  --accel auto|kvm|tcg  --qemu-binary PATH  --ch-binary PATH\n"
                "environment: MVS_DRIVER MVS_ACCEL MVS_TOKEN MVS_CACHE_DIR MVS_CONFIG_DIR MVS_DATA_DIR MVS_RUNTIME_DIR MVS_LOG=debug MVS_LOG_FORMAT=json\n",
                MVS_VERSION);
}

// Internal: the network helper of a service that is not root, which starts
// it in namespaces of its own with its channel as descriptor 3
// (Net::RootlessNetwork, Net::NetHelper).
int netHelperCommand()
{
    const int fd = Net::NetHelper::kChannelFd;
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
        std::fprintf(stderr, "net-helper is started by the service (Net::RootlessNetwork), with its channel as descriptor %d\n", fd);
        return 2;
    }
    if (auto own = Net::NetHelper::mountOwnSysfs(); !own) {
        std::fprintf(stderr, "net-helper: %s\n", qPrintable(own.error().message));
        return 1;
    }
    return Net::NetHelper(Net::HelperChannel(fd)).run();
}

} // namespace

int main(int argc, char **argv)
{
    // The mode decides the application object: the window needs a
    // QApplication, every other command (--serve included) a QCoreApplication
    // and never a widget.
    const bool gui = argc < 2 || qstrcmp(argv[1], "gui") == 0;
    if (gui) {
        if (!App::displayAvailable())
            return App::noDisplayHint();
        return App::guiCommand(argc, argv);
    }

    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("microvm-sandbox"));
    QCoreApplication::setApplicationVersion(QStringLiteral(MVS_VERSION));
    QStringList args = QCoreApplication::arguments().mid(1);
    const QString cmd = args.isEmpty() ? QString() : args.takeFirst();
    if (cmd == QLatin1String("run"))
        return App::runCommand(args);
    if (cmd == QLatin1String("image"))
        return App::imageCommand(args);
    if (cmd == QLatin1String("template"))
        return App::templateListCommand(args);
    if (cmd == QLatin1String("vm"))
        return App::vmCommand(args);
    if (cmd == QLatin1String("token"))
        return App::tokenCommand(args);
    if (cmd == QLatin1String("pool"))
        return App::poolCommand(args);
    if (cmd == QLatin1String("mcp"))
        return App::mcpCommand(args);
    if (cmd == QLatin1String("--serve"))
        return App::serveCommand(args);
    if (cmd == QLatin1String("net-helper"))
        return netHelperCommand();
    if (cmd == QLatin1String("--version")) {
        std::printf("microvm-sandbox %s\n", MVS_VERSION);
        return 0;
    }
    if (cmd == QLatin1String("--help") || cmd == QLatin1String("-h") || cmd == QLatin1String("help")) {
        usage();
        return 0;
    }
    std::fprintf(stderr, "microvm-sandbox: unknown command '%s' (see --help)\n", qPrintable(cmd));
    return 2;
}
