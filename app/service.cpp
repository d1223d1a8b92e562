#include "app/service.h"

#include "app/clioptions.h"
#include "core/config.h"
#include "core/vm/statedirlock.h"
#include "core/vm/vmmanager.h"
#include "desktop/displayhub.h"
#include "server/api.h"
#include "server/idlepause.h"
#include "server/usagehistory.h"
#include "server/auditlog.h"
#include "server/httpadapter.h"
#include "server/tokenregistry.h"
#include "server/tokenstore.h"

#include <QPointer>
#include <QFileInfo>

namespace App {

Core::Expected<std::pair<QHostAddress, quint16>> parseListen(const QString &spec)
{
    const auto bad = [&spec]() { return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("--listen takes HOST:PORT, not '%1'").arg(spec)); };
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
    QHostAddress address;
    if (!address.setAddress(host))
        return bad();
    return std::pair{address, static_cast<quint16>(p)};
}

Service::Service(Options options)
    : m_options(std::move(options))
{
}

Service::~Service()
{
    shutdown();
}

Core::Expected<std::unique_ptr<Service>> Service::create(const Options &options)
{
    std::unique_ptr<Service> s(new Service(options));

    // The token: the file given, else MVS_TOKEN, else the config directory's.
    const QByteArray envToken = qgetenv("MVS_TOKEN").trimmed();
    if (!options.token.isEmpty()) {
        s->m_token = options.token;
        s->m_tokenSource = QStringLiteral("the caller");
    } else if (options.tokenFile.isEmpty() && !envToken.isEmpty()) {
        s->m_token = envToken;
        s->m_tokenSource = QStringLiteral("MVS_TOKEN");
    } else {
        const Server::TokenStore store(options.tokenFile);
        auto t = store.loadOrCreate(&s->m_tokenCreated);
        if (!t)
            return t.error();
        s->m_token = *t;
        s->m_tokenSource = store.path();
    }
    // The scoped tokens live next to the token file; a caller's own token
    // makes a private service whose tokens are never stored.
    const QString tokensPath = !options.token.isEmpty() ? QString()
        : !options.tokenFile.isEmpty()                  ? QFileInfo(options.tokenFile).absolutePath() + QStringLiteral("/tokens.json")
                                                        : Server::TokenRegistry::defaultPath();
    s->m_tokens = std::make_unique<Server::TokenRegistry>(tokensPath, s->m_token);
    if (auto loaded = s->m_tokens->load(); !loaded)
        return loaded.error();

    auto driver = Vmm::createDriver(options.driver);
    if (!driver)
        return driver.error();
    s->m_driver = std::move(*driver);
    const QString stateDir = options.stateDir.isEmpty() ? Vm::VmManager::defaultStateDir() : options.stateDir;
    auto lock = Vm::StateDirLock::acquire(stateDir);
    if (!lock)
        return lock.error();
    s->m_stateLock = std::move(*lock);
    // As root, the VMs' NICs: the host network (reconciling what an earlier
    // life left) before the manager adopts the VMs it left running.
    s->m_manager = std::make_unique<Vm::VmManager>(*s->m_driver, stateDir, Vm::VmNetworks::start(Vm::VmNetworks::serviceOptions(stateDir)));
    s->m_manager->setDetachable(options.detachableVms);
    auto config = Core::Config::load();
    if (!config)
        return config.error();
    auto quota = Vm::QuotaLimits::resolve(*config, Vm::hostMemoryMiB());
    if (!quota)
        return quota.error();
    s->m_manager->setQuota(*quota);
    auto warm = config->warmStartEnabled();
    if (!warm)
        return warm.error();
    s->m_manager->setWarmStart(*warm);
    auto pool = Vm::VmPool::parseTargets(config->poolTargets());
    if (!pool)
        return pool.error();
    if (auto ok = s->m_manager->setPoolTargets(*pool); !ok)
        return ok.error();
    // (A QPointer: the registry goes before the manager.)
    s->m_manager->setOwnerQuota(
        [tokens = QPointer<Server::TokenRegistry>(s->m_tokens.get())](const QString &owner) { return tokens ? tokens->quotaOf(owner) : Vm::QuotaLimits(); });
    s->m_displays = std::make_unique<Desktop::DisplayHub>(*s->m_manager);
    s->m_audit = std::make_unique<Server::AuditLog>(Server::AuditLog::pathFor(stateDir));
    s->m_controller = std::make_unique<Server::Api>(*s->m_manager, s->m_displays.get(), s->m_tokens.get(), s->m_audit.get());
    auto idle = config->idlePauseAfterMs();
    if (!idle)
        return idle.error();
    const auto idleAction = Server::IdlePause::parseAction(config->idleActionText());
    if (!idleAction)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("idle_action must be pause or snapshot, not '%1'").arg(config->idleActionText().left(40)));
    s->m_controller->idlePause().setAction(*idleAction);
    s->m_controller->idlePause().setIdleAfterMs(*idle);
    return s;
}

const Server::UsageHistory &Service::usageHistory() const
{
    return m_controller->usage();
}

Server::ActivityLog &Service::activity() const
{
    return m_controller->activity();
}

Core::Expected<QString> Service::listen()
{
    if (!m_controller)
        return Core::Error(Core::ErrorCode::InvalidState, QStringLiteral("the service was shut down"));
    if (m_adapter)
        return m_url;
    Server::HttpAdapter::Options adapterOptions;
    adapterOptions.token = m_token;
    adapterOptions.connections = m_options.connections;
    auto adapter = std::make_unique<Server::HttpAdapter>(m_controller->httpEndpoints(), adapterOptions);
    auto port = adapter->listen(m_options.address, m_options.port);
    if (!port)
        return port.error();
    m_adapter = std::move(adapter);
    const QHostAddress &a = m_options.address;
    const QString host = a.protocol() == QAbstractSocket::IPv6Protocol ? QStringLiteral("[%1]").arg(a.toString()) : a.toString();
    m_url = QStringLiteral("http://%1:%2").arg(host).arg(*port);
    return m_url;
}

bool Service::isListening() const
{
    return m_adapter != nullptr;
}

int Service::shutdown()
{
    // No new requests; then the VMs this service runs are stopped.
    m_adapter.reset();
    m_controller.reset();
    m_url.clear();
    if (!m_manager)
        return 0;
    using State = Vm::VirtualMachine::State;
    int running = 0;
    for (const Vm::VmInfo &info : m_manager->list())
        running += info.state != State::Created && info.state != State::Stopped && info.state != State::Failed ? 1 : 0;
    m_displays.reset();
    m_manager.reset();
    return running;
}

namespace {

// A positive number of milliseconds from the environment, if set.
Core::Result timeoutFromEnvironment(const char *name, int *ms)
{
    const QByteArray value = qgetenv(name);
    if (value.isEmpty())
        return {};
    bool ok = false;
    const int v = value.toInt(&ok);
    if (!ok || v <= 0)
        return Core::Error(Core::ErrorCode::InvalidArgument,
                           QStringLiteral("%1 must be a positive number of milliseconds, not '%2'").arg(QLatin1String(name), QString::fromLocal8Bit(value)));
    *ms = v;
    return {};
}

} // namespace

Core::Expected<Service::Options> serviceOptions(const ServiceFlags &flags)
{
    Service::Options options;
    if (!flags.listen.isEmpty()) {
        auto l = parseListen(flags.listen);
        if (!l)
            return l.error();
        std::tie(options.address, options.port) = *l;
    }
    auto driver = flags.driver.options();
    if (!driver)
        return driver.error();
    options.driver = *driver;
    options.tokenFile = flags.tokenFile;
    if (auto r = timeoutFromEnvironment("MVS_HTTP_HEAD_TIMEOUT_MS", &options.connections.headTimeoutMs); !r)
        return r.error();
    if (auto r = timeoutFromEnvironment("MVS_HTTP_IDLE_TIMEOUT_MS", &options.connections.idleTimeoutMs); !r)
        return r.error();
    return options;
}

} // namespace App
