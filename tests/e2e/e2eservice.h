#pragma once
// The REST service inside the test process, on real guests: a VmManager over
// the driver (its records under MVS_DATA_DIR), its Api, and the
// HttpAdapter on an ephemeral port of 127.0.0.1, taking the user's token
// (TokenStore, under MVS_CONFIG_DIR) as `--serve` does. With displays, a
// DisplayHub serves the desktops' routes (screenshot, display, input).

#include "e2efixture.h"

#include "core/net/hostnetwork.h"
#include "core/vm/vmmanager.h"
#include "core/vm/vmnetworks.h"
#include "desktop/displayhub.h"
#include "server/api.h"
#include "server/httpadapter.h"
#include "server/tokenstore.h"

#include <QTemporaryDir>

#include <memory>

namespace E2e {

class Service {
public:
    enum class Displays { None, Served };

    // Empty when it listens; else why it does not.
    // networks: the VMs' NICs (Vm::VmNetworks::start), else none.
    QString start(const Vmm::VmmDriver &driver, Displays displays = Displays::None, std::unique_ptr<Vm::VmNetworks> networks = nullptr)
    {
        auto token = Server::TokenStore().loadOrCreate();
        if (!token)
            return token.error().toString();
        m_token = *token;
        m_manager = std::make_unique<Vm::VmManager>(driver, QString(), std::move(networks));
        if (displays == Displays::Served)
            m_displays = std::make_unique<Desktop::DisplayHub>(*m_manager);
        m_controller = std::make_unique<Server::Api>(*m_manager, m_displays.get());
        Server::HttpAdapter::Options o;
        o.token = m_token;
        m_adapter = std::make_unique<Server::HttpAdapter>(m_controller->httpEndpoints(), o);
        auto port = m_adapter->listen(QHostAddress::LocalHost, 0);
        if (!port)
            return port.error().toString();
        m_port = *port;
        return {};
    }
    // Stops listening, then the manager kills the VMs it runs.
    void stop()
    {
        m_adapter.reset();
        m_controller.reset();
        m_displays.reset();
        m_manager.reset();
    }

    Vm::VmManager *manager() const { return m_manager.get(); }
    QByteArray token() const { return m_token; }
    quint16 port() const { return m_port; }

private:
    std::unique_ptr<Vm::VmManager> m_manager;
    std::unique_ptr<Desktop::DisplayHub> m_displays;
    std::unique_ptr<Server::Api> m_controller;
    std::unique_ptr<Server::HttpAdapter> m_adapter;
    QByteArray m_token;
    quint16 m_port = 0;
};

// The service in this process on QEMU (*driver) with VM networking of
// instance `instance` from a host network (root: taps, nftables, a resolver
// per VM asking only `upstream`); its records, config, runtime and network
// files under home. Empty when it listens, else why not. *subnet: its VMs'.
inline QString startWithHostNetwork(Service &service, std::shared_ptr<Vmm::VmmDriver> *driver, const QTemporaryDir &home, const QString &instance,
                                    const QString &upstream, Net::Cidr *subnet = nullptr)
{
    qputenv("MVS_DATA_DIR", home.filePath(QStringLiteral("data")).toUtf8());
    qputenv("MVS_CONFIG_DIR", home.filePath(QStringLiteral("config")).toUtf8());
    qputenv("MVS_RUNTIME_DIR", home.filePath(QStringLiteral("run")).toUtf8());
    const DriverOrSkip d = driverFor(Vmm::DriverKind::Qemu);
    if (!d.driver)
        return d.skipReason;
    *driver = d.driver;

    Net::HostNetworkOptions options;
    options.instanceId = instance;
    options.runtimeDir = home.filePath(QStringLiteral("net"));
    options.upstreams = {upstream}; // what MVS_NET_UPSTREAMS gives `--serve`
    auto networks = Vm::VmNetworks::start(options);
    if (!networks)
        return QStringLiteral("no VM networks");
    Vm::VmRecord withNic;
    withNic.network.spec.mode = QStringLiteral("egress");
    const Core::Result available = networks->available(withNic);
    if (!networks->hasHostNetwork() || !available)
        return available ? QStringLiteral("no host network") : available.error().toString();
    if (subnet)
        *subnet = networks->hostNetwork()->plan().subnet();
    return service.start(**driver, Service::Displays::None, std::move(networks));
}

} // namespace E2e
