#include "app/guicommand.h"

#include "app/clioptions.h"
#include "app/activityfeed.h"
#include "app/gui/icons.h"
#include "app/gui/mainwindow.h"
#include "app/gui/preferences.h"
#include "app/gui/translations.h"
#include "app/service.h"
#include "server/usagehistory.h"
#include "app/signalwatcher.h"
#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"
#include "server/auditlog.h"

#include <QApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QIcon>

#include <cstdio>
#include <memory>
#include <tuple>

namespace App {
namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void err(const QString &s)
{
    std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(s));
}

// The saved preferences fill in what neither the flags nor the environment
// say.
void applyPreferences(ServiceFlags &serviceFlags)
{
    DriverFlags &flags = serviceFlags.driver;
    const Gui::Preferences preferences = Gui::Preferences::load();
    if (serviceFlags.listen.isEmpty())
        serviceFlags.listen = preferences.listen;
    if (flags.driver.isEmpty() && qEnvironmentVariableIsEmpty("MVS_DRIVER") && preferences.driver != QLatin1String("auto"))
        flags.driver = preferences.driver;
    if (flags.accel.isEmpty() && qEnvironmentVariableIsEmpty("MVS_ACCEL") && preferences.accel != QLatin1String("auto"))
        flags.accel = preferences.accel;
    if (!preferences.dataDir.isEmpty() && qEnvironmentVariableIsEmpty("MVS_DATA_DIR"))
        qputenv("MVS_DATA_DIR", QFile::encodeName(preferences.dataDir));
}

// The service's usage history as the Performance tab reads it.
Gui::UsageSource usageSource(const Server::UsageHistory &history)
{
    return [&history](const QString &vm) {
        QList<Gui::UsagePoint> out;
        // What the charts draw (and the sample before it, for the first CPU share), not the whole hour kept.
        const qint64 since = QDateTime::currentMSecsSinceEpoch() - Gui::UsageChart::kDefaultWindowMs - 2 * Server::UsageHistory::kIntervalMs;
        const QList<Server::UsageHistory::Sample> samples = history.since(vm, since);
        const Server::UsageHistory::Sample *before = nullptr;
        auto opt = [](const auto &v) { return v ? std::optional<double>(double(*v)) : std::nullopt; };
        for (const Server::UsageHistory::Sample &s : samples) {
            Gui::UsagePoint p;
            p.atMs = s.atMs;
            p.cpuPercent = before ? Server::UsageHistory::cpuPercent(*before, s) : std::nullopt;
            p.vmmResidentBytes = opt(s.vmmResidentBytes);
            if (s.guestMemTotalBytes && s.guestMemAvailableBytes)
                p.guestUsedBytes = double(*s.guestMemTotalBytes) - double(*s.guestMemAvailableBytes);
            p.diskBytes = opt(s.diskBytes);
            p.networkReceivedBytes = opt(s.networkReceivedBytes);
            p.networkSentBytes = opt(s.networkSentBytes);
            out << p;
            before = &s;
        }
        return out;
    };
}

// The window's take-overs and releases go to the service's audit log (no API
// request carries them).
void auditTakeOvers(Gui::MainWindow &window, Service &service)
{
    QObject::connect(&window, &Gui::MainWindow::desktopControlToggled, &window, [&service](const QString &vm, bool human) {
        if (auto r = service.auditLog().append(Server::AuditLog::appControl(vm, human)); !r)
            err(QStringLiteral("audit log: %1").arg(r.error().message));
    });
}

} // namespace

// Qt aborts when the platform it picked cannot connect, so a display that
// is named but plainly not there (no socket) counts as none. Remote X
// displays ("host:N", SSH forwarding) are trusted.
bool displayAvailable()
{
    if (!qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        return true;
    const QString wayland = qEnvironmentVariable("WAYLAND_DISPLAY");
    if (!wayland.isEmpty()) {
        const QString path = QDir::isAbsolutePath(wayland) ? wayland : qEnvironmentVariable("XDG_RUNTIME_DIR") + QLatin1Char('/') + wayland;
        if (QFileInfo::exists(path))
            return true;
    }
    const QString x11 = qEnvironmentVariable("DISPLAY");
    if (x11.isEmpty())
        return false;
    const qsizetype colon = x11.lastIndexOf(QLatin1Char(':'));
    if (colon < 0)
        return false;
    const QString host = x11.left(colon);
    if (!host.isEmpty() && host != QLatin1String("unix"))
        return true; // over TCP: cannot tell without connecting
    const QString number = x11.mid(colon + 1).section(QLatin1Char('.'), 0, 0);
    return QFileInfo::exists(QStringLiteral("/tmp/.X11-unix/X") + number);
}

int noDisplayHint()
{
    std::fprintf(stderr,
                 "microvm-sandbox: no display here (DISPLAY and WAYLAND_DISPLAY name no running display server), so the window cannot "
                 "open.\n"
                 "  run the API service without a window:  microvm-sandbox --serve\n"
                 "  every command and option:              microvm-sandbox --help\n");
    return kExitUsage;
}

int guiCommand(int &argc, char **argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("microvm-sandbox"));
    QApplication::setApplicationVersion(QStringLiteral(MVS_VERSION));
    // The installed desktop entry and icon (packaging/, resources/icons):
    // the Wayland app id and the window icon from the icon theme.
    QGuiApplication::setDesktopFileName(QStringLiteral("microvm-sandbox"));
    QApplication::setWindowIcon(Gui::Icons::application());
    Gui::installTranslations();
    QApplication::setApplicationDisplayName(Gui::MainWindow::applicationDisplayName());

    QStringList args = QApplication::arguments().mid(1);
    if (!args.isEmpty() && args.first() == QLatin1String("gui"))
        args.removeFirst();
    ServiceFlags serviceFlags;
    if (auto r = serviceFlags.take(args); !r) {
        err(r.error().message);
        return kExitUsage;
    }
    if (!args.isEmpty()) {
        err(QStringLiteral("unknown option %1 (usage: microvm-sandbox [gui] [--listen HOST:PORT] [--token-file PATH])").arg(args.first()));
        return kExitUsage;
    }
    applyPreferences(serviceFlags);

    auto serviceOpts = serviceOptions(serviceFlags);
    if (!serviceOpts) {
        err(serviceOpts.error().message);
        return kExitUsage;
    }

    // The window's quit dialog may leave the VMs running (re-adopted at the
    // next start).
    serviceOpts->detachableVms = true;
    auto service = Service::create(*serviceOpts);
    if (!service) {
        err(service.error().message);
        Gui::MainWindow::showStartupError(service.error().message);
        return kExitFailure;
    }
    for (const QString &warning : (*service)->manager().loadWarnings())
        err(QStringLiteral("skipped a VM record: %1").arg(warning));

    // The window comes up even when the API cannot listen (say, a --serve
    // already holds the port); the status bar says why.
    auto window = std::make_unique<Gui::MainWindow>((*service)->manager(), &(*service)->displays());
    auto url = (*service)->listen();
    if (url) {
        window->setService(*url, (*service)->token());
        err(QStringLiteral("serving the API on %1 (token from %2)").arg(*url, (*service)->tokenSource()));
    } else {
        window->setService(QString(), QByteArray(), url.error().message);
        err(QStringLiteral("the API is not served: %1").arg(url.error().message));
    }
    auditTakeOvers(*window, **service);
    window->setUsageSource(usageSource((*service)->usageHistory()));
    ActivityFeed::connect(*window, (*service)->activity());
    window->show();

    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, &app, [](int sig) {
        err(QStringLiteral("signal %1: quitting").arg(sig));
        QApplication::exit(0);
    });
    const int rc = QApplication::exec();
    window.reset(); // before what it shows
    const int running = (*service)->shutdown();
    if (running > 0)
        err(QStringLiteral("stopped %1 running VM(s)").arg(running));
    return rc;
}

} // namespace App
