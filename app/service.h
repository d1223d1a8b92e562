#pragma once
// App::Service: the API service as one object, shared by `--serve` and the
// GUI (which runs it in-process): the VM manager, the display hub, the API
// controller and the HTTP adapter, with the bearer token.

#include "core/expected.h"
#include "core/vmm/vmmdriver.h"
#include "server/connectionguard.h"

#include <QByteArray>
#include <QHostAddress>
#include <QString>
#include <QStringList>

#include <memory>

namespace Desktop {
class DisplayHub;
}
namespace Server {
class ActivityLog;
class Api;
class AuditLog;
class HttpAdapter;
class TokenRegistry;
class UsageHistory;
} // namespace Server
namespace Vm {
class StateDirLock;
class VmManager;
} // namespace Vm

namespace App {

struct ServiceFlags;

class Service final {
    Q_DISABLE_COPY_MOVE(Service)
public:
    static constexpr quint16 kDefaultPort = 8000;

    struct Options {
        Vmm::DriverOptions driver;
        QHostAddress address = QHostAddress(QHostAddress::LocalHost);
        quint16 port = kDefaultPort;
        QString tokenFile; // empty: MVS_TOKEN, else the config directory's token file
        // VMs may be left running when the service ends (the GUI's "leave
        // running and quit": Vm::VmManager::setDetachable + detachAll). Off
        // for --serve, which stops its VMs on exit.
        bool detachableVms = false;
        // Where the VM records live; empty: the data directory's.
        QString stateDir;
        // A token of the caller's, never stored (a private service); empty:
        // tokenFile, MVS_TOKEN or the stored one.
        QByteArray token;
        // The HTTP connections' cap and timeouts; serviceOptions() takes the
        // timeouts from MVS_HTTP_HEAD_TIMEOUT_MS and MVS_HTTP_IDLE_TIMEOUT_MS.
        Server::ConnectionGuard::Limits connections;
    };

    // Everything but listening: the token (loaded or made), the scoped
    // tokens (tokens.json next to the token file; in memory for a caller's
    // token), the audit log (beside the state directory), the driver, the
    // manager (which loads the VM records), the hub and the controller.
    static Core::Expected<std::unique_ptr<Service>> create(const Options &options);
    ~Service();

    // Start serving the API on the options' address; the URL once it listens.
    Core::Expected<QString> listen();
    bool isListening() const;
    QString url() const { return m_url; }

    QByteArray token() const { return m_token; }
    QString tokenSource() const { return m_tokenSource; } // "MVS_TOKEN" or the file
    bool tokenCreated() const { return m_tokenCreated; }

    Vm::VmManager &manager() const { return *m_manager; }
    Desktop::DisplayHub &displays() const { return *m_displays; }
    Server::TokenRegistry &tokens() const { return *m_tokens; }
    Server::AuditLog &auditLog() const { return *m_audit; }
    // Every running VM's usage, sampled while the service lives.
    const Server::UsageHistory &usageHistory() const;
    // What was done to each VM through the API, as it happens.
    Server::ActivityLog &activity() const;

    // Stop taking requests, then stop the VMs (the manager kills their VMMs;
    // their records keep the desired state). VMs detached before
    // (VmManager::detachAll) keep running. Returns how many VMs were stopped.
    int shutdown();

private:
    explicit Service(Options options);

    Options m_options;
    QByteArray m_token;
    QString m_tokenSource;
    bool m_tokenCreated = false;
    QString m_url;
    std::unique_ptr<Vm::StateDirLock> m_stateLock; // held until after the manager is gone
    std::unique_ptr<Vmm::VmmDriver> m_driver;
    std::unique_ptr<Vm::VmManager> m_manager;
    std::unique_ptr<Desktop::DisplayHub> m_displays;
    std::unique_ptr<Server::TokenRegistry> m_tokens; // scoped tokens, beside m_token (admin)
    std::unique_ptr<Server::AuditLog> m_audit;
    std::unique_ptr<Server::Api> m_controller;
    std::unique_ptr<Server::HttpAdapter> m_adapter;
};

// "HOST:PORT", "[v6]:PORT", ":PORT" (localhost) or "PORT".
Core::Expected<std::pair<QHostAddress, quint16>> parseListen(const QString &spec);

// The service's options from its command-line flags (--listen, the driver
// flags, --token-file); an error is a usage error.
Core::Expected<Service::Options> serviceOptions(const ServiceFlags &flags);

} // namespace App
