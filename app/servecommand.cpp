#include "app/servecommand.h"

#include "app/clioptions.h"
#include "app/signalwatcher.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"
#include "desktop/displayhub.h"
#include "server/apicontroller.h"
#include "server/httpadapter.h"
#include "server/tokenstore.h"

#include <QCoreApplication>
#include <QHostAddress>

#include <cstdio>
#include <memory>

namespace App {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr quint16 kDefaultPort = 8000;

void err(const QString &s)
{
    std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(s));
}

struct Listen {
    QHostAddress address;
    quint16 port = 0;
};

// "HOST:PORT", "[v6]:PORT", ":PORT" (localhost) or "PORT".
Core::Expected<Listen> parseListen(const QString &spec)
{
    const auto bad = [&spec]() {
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("--listen takes HOST:PORT, not '%1'").arg(spec));
    };
    QString host = QStringLiteral("127.0.0.1");
    QString port = spec;
    const qsizetype colon = spec.lastIndexOf(QLatin1Char(':'));
    if (colon >= 0) {
        host = spec.left(colon);
        port = spec.mid(colon + 1);
        if (host.startsWith(QLatin1Char('[')) && host.endsWith(QLatin1Char(']')))
            host = host.mid(1, host.size() - 2);
        if (host.isEmpty())
            host = QStringLiteral("127.0.0.1");
        else if (host == QLatin1String("localhost"))
            host = QStringLiteral("127.0.0.1");
    }
    bool ok = false;
    const uint p = port.toUInt(&ok);
    if (!ok || p > 65535)
        return bad();
    Listen l;
    if (!l.address.setAddress(host))
        return bad();
    l.port = static_cast<quint16>(p);
    return l;
}

} // namespace

int serveCommand(QStringList args)
{
    DriverFlags flags;
    if (auto r = flags.take(args); !r) {
        err(r.error().message);
        return kExitUsage;
    }
    QString listenSpec, tokenFile;
    for (auto [flag, target] : {std::pair{QStringLiteral("--listen"), &listenSpec}, std::pair{QStringLiteral("--token-file"), &tokenFile}}) {
        if (auto r = takeOption(args, flag, target); !r) {
            err(r.error().message);
            return kExitUsage;
        }
    }
    if (!args.isEmpty()) {
        err(QStringLiteral("unknown option %1 (usage: microvm-sandbox --serve [--listen HOST:PORT] [--token-file PATH])").arg(args.first()));
        return kExitUsage;
    }
    Listen listen{QHostAddress(QHostAddress::LocalHost), kDefaultPort};
    if (!listenSpec.isEmpty()) {
        auto l = parseListen(listenSpec);
        if (!l) {
            err(l.error().message);
            return kExitUsage;
        }
        listen = *l;
    }

    // The token: --token-file, else MVS_TOKEN, else the config directory's.
    QByteArray token;
    QString tokenSource;
    bool created = false;
    const QByteArray envToken = qgetenv("MVS_TOKEN").trimmed();
    if (tokenFile.isEmpty() && !envToken.isEmpty()) {
        token = envToken;
        tokenSource = QStringLiteral("MVS_TOKEN");
    } else {
        const Server::TokenStore store(tokenFile);
        auto t = store.loadOrCreate(&created);
        if (!t) {
            err(t.error().message);
            return kExitFailure;
        }
        token = *t;
        tokenSource = store.path();
    }

    auto options = flags.options();
    if (!options) {
        err(options.error().message);
        return kExitUsage;
    }
    auto driver = Vmm::createDriver(*options);
    if (!driver) {
        err(driver.error().message);
        return kExitFailure;
    }

    auto manager = std::make_unique<Vm::VmManager>(**driver);
    for (const QString &warning : manager->loadWarnings())
        err(QStringLiteral("skipped a VM record: %1").arg(warning));
    auto displays = std::make_unique<Desktop::DisplayHub>(*manager);
    auto controller = std::make_unique<Server::ApiController>(*manager, displays.get());
    Server::HttpAdapter::Options adapterOptions;
    adapterOptions.token = token;
    auto adapter = std::make_unique<Server::HttpAdapter>(*controller, adapterOptions);
    auto port = adapter->listen(listen.address, listen.port);
    if (!port) {
        err(port.error().message);
        return kExitFailure;
    }

    const QString host = listen.address.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(listen.address.toString())
                                                                                      : listen.address.toString();
    const QString url = QStringLiteral("http://%1:%2").arg(host).arg(*port);
    if (created) {
        std::fprintf(stderr,
                     "microvm-sandbox: a new API token was generated and stored in %s (mode 0600); it is printed only this once:\n"
                     "%s\n"
                     "microvm-sandbox: send it with every request: curl -H 'Authorization: Bearer %s' %s/api/v1/vms\n",
                     qPrintable(tokenSource), token.constData(), token.constData(), qPrintable(url));
    }
    err(QStringLiteral("serving the API on %1 (token from %2; Ctrl-C stops)").arg(url, tokenSource));
    std::fflush(stderr);

    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, qApp, [](int sig) {
        err(QStringLiteral("signal %1: stopping the service").arg(sig));
        QCoreApplication::exit(0);
    });
    const int rc = QCoreApplication::exec();

    // No new requests; then the VMs this service runs are stopped (the
    // manager kills their VMMs; the records keep the desired state).
    adapter.reset();
    controller.reset();
    using State = Vm::VirtualMachine::State;
    int running = 0;
    for (const Vm::VmInfo &info : manager->list())
        running += info.state != State::Created && info.state != State::Stopped && info.state != State::Failed ? 1 : 0;
    manager.reset();
    if (running > 0)
        err(QStringLiteral("stopped %1 running VM(s)").arg(running));
    return rc;
}

} // namespace App
