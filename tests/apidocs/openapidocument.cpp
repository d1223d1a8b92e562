// Writes the service's OpenAPI document (what GET /api/v1/openapi.json
// serves) to stdout, for tst_openapi_lint.
#include "server/openapi.h"

#include <QJsonDocument>

#include <cstdio>

int main()
{
    const QByteArray json = QJsonDocument(Server::OpenApi::document()).toJson();
    return std::fwrite(json.constData(), 1, size_t(json.size()), stdout) == size_t(json.size()) ? 0 : 1;
}
