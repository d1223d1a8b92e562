#include "app/servecommand.h"

#include "app/clioptions.h"
#include "app/signalwatcher.h"
#include "app/service.h"
#include "core/log.h"
#include "core/vm/vmmanager.h"

#include <QCoreApplication>
#include <QDateTime>

#include <cstdio>
#include <tuple>

namespace App {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// A line of the service's own on stderr: text, or one JSON object like
// core's lines with --log-format json (category "service").
void err(const QString &s)
{
    if (Core::Log::format() == Core::Log::Format::Json) {
        const QByteArray line =
            Core::Log::jsonLine(QDateTime::currentDateTimeUtc(), QStringLiteral("info"), QStringLiteral("service"), s, Core::Log::currentContext());
        std::fprintf(stderr, "%s\n", line.constData());
        return;
    }
    std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(s));
}

} // namespace

int serveCommand(QStringList args)
{
    ServiceFlags serviceFlags;
    if (auto r = serviceFlags.take(args); !r) {
        err(r.error().message);
        return kExitUsage;
    }
    if (!args.isEmpty()) {
        err(QStringLiteral("unknown option %1 (usage: microvm-sandbox --serve [--listen HOST:PORT] [--token-file PATH] [--log-format text|json])")
                .arg(args.first()));
        return kExitUsage;
    }
    auto serviceOpts = serviceOptions(serviceFlags);
    if (!serviceOpts) {
        err(serviceOpts.error().message);
        return kExitUsage;
    }

    auto service = Service::create(*serviceOpts);
    if (!service) {
        err(service.error().message);
        return kExitFailure;
    }
    for (const QString &warning : (*service)->manager().loadWarnings())
        err(QStringLiteral("skipped a VM record: %1").arg(warning));
    auto url = (*service)->listen();
    if (!url) {
        err(url.error().message);
        return kExitFailure;
    }
    const QByteArray token = (*service)->token();
    if ((*service)->tokenCreated() && Core::Log::format() == Core::Log::Format::Json) {
        err(QStringLiteral("a new API token was generated and stored in %1 (mode 0600); it is printed only this once: %2")
                .arg((*service)->tokenSource(), QString::fromLatin1(token)));
    } else if ((*service)->tokenCreated()) {
        std::fprintf(stderr,
                     "microvm-sandbox: a new API token was generated and stored in %s (mode 0600); it is printed only this once:\n"
                     "%s\n"
                     "microvm-sandbox: send it with every request: curl -H 'Authorization: Bearer %s' %s/api/v1/vms\n",
                     qPrintable((*service)->tokenSource()), token.constData(), token.constData(), qPrintable(*url));
    }
    err(QStringLiteral("serving the API on %1 (token from %2; Ctrl-C stops)").arg(*url, (*service)->tokenSource()));
    std::fflush(stderr);

    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, qApp, [](int sig) {
        err(QStringLiteral("signal %1: stopping the service").arg(sig));
        QCoreApplication::exit(0);
    });
    const int rc = QCoreApplication::exec();

    // No new requests; then the VMs this service runs are stopped (the
    // manager kills their VMMs; the records keep the desired state).
    const int running = (*service)->shutdown();
    if (running > 0)
        err(QStringLiteral("stopped %1 running VM(s)").arg(running));
    return rc;
}

} // namespace App
