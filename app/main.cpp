#include "app/imagecommand.h"
#include "app/runcommand.h"
#include "core/log.h"

#include <QCoreApplication>

#include <cstdio>

namespace {

void usage()
{
    std::printf(
        "microvm-sandbox %s: run AI agents in microVMs\n\n"
        "usage:\n"
        "  microvm-sandbox run [--template NAME] [--vcpus N] [--memory MiB] [--timeout S] [--keep-console FILE] [--quiet]\n"
        "                      -- COMMAND [ARGS...]\n"
        "      create a VM, run COMMAND in it with streamed output (piped stdin is forwarded), destroy the VM;\n"
        "      exit with COMMAND's code (128+N: signal, 124: timeout, 125: the sandbox failed)\n"
        "  microvm-sandbox image build|path [--template NAME]\n"
        "      build (once, cached) or locate a template's guest image\n"
        "  microvm-sandbox template list\n"
        "  microvm-sandbox --version\n\n"
        "driver options: --driver auto|qemu|cloud-hypervisor  --accel auto|kvm|tcg  --qemu-binary PATH  --ch-binary PATH\n"
        "environment: MVS_DRIVER MVS_ACCEL MVS_CACHE_DIR MVS_DATA_DIR MVS_RUNTIME_DIR MVS_LOG=debug\n",
        MVS_VERSION);
}

} // namespace

int main(int argc, char **argv)
{
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
        return App::templateCommand(args);
    if (cmd == QLatin1String("--version")) {
        std::printf("microvm-sandbox %s\n", MVS_VERSION);
        return 0;
    }
    if (cmd.isEmpty() || cmd == QLatin1String("--help") || cmd == QLatin1String("-h") || cmd == QLatin1String("help")) {
        usage();
        return cmd.isEmpty() ? 2 : 0;
    }
    std::fprintf(stderr, "microvm-sandbox: unknown command '%s' (see --help)\n", qPrintable(cmd));
    return 2;
}
