#pragma once
// The OpenAPI 3.0 description of the service's HTTP API, served at
// GET /api/v1/openapi.json. tst_openapi keeps it true: its paths and
// methods must be exactly HttpAdapter::routes().

#include <QJsonObject>

namespace Server::OpenApi {

QJsonObject document();

} // namespace Server::OpenApi
