#pragma once
// The service's HTTP side as the API benchmarks run it: on 127.0.0.1, an
// ephemeral port, a fixed token.

#include "server/api.h"
#include "server/httpadapter.h"

#include <QHostAddress>

#include <memory>

namespace Bench {

inline const QByteArray kServiceToken = QByteArrayLiteral("bench-token");

struct Service {
    std::unique_ptr<Server::HttpAdapter> adapter;
    quint16 port = 0;
};

inline Core::Expected<Service> listenLocally(Server::Api &api)
{
    Server::HttpAdapter::Options options;
    options.token = kServiceToken;
    Service service;
    service.adapter = std::make_unique<Server::HttpAdapter>(api.httpEndpoints(), options);
    auto port = service.adapter->listen(QHostAddress::LocalHost, 0);
    if (!port)
        return port.error();
    service.port = *port;
    return service;
}

} // namespace Bench
