// The OpenAPI document is true: its paths and methods are exactly the
// routes the adapter registered (both ways), it is served at
// /api/v1/openapi.json, and its structure holds (version, info, every
// operation with responses, path parameters declared, every $ref resolves,
// the bearer scheme, health open).

#include "servicefixture.h"

#include "server/openapi.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QRegularExpression>
#include <QSet>
#include <QTest>

namespace {

const QStringList kMethods{QStringLiteral("get"),     QStringLiteral("put"),  QStringLiteral("post"),  QStringLiteral("delete"),
                           QStringLiteral("options"), QStringLiteral("head"), QStringLiteral("patch"), QStringLiteral("trace")};

QSet<QString> documentedRoutes(const QJsonObject &doc)
{
    QSet<QString> out;
    const QJsonObject paths = doc[QStringLiteral("paths")].toObject();
    for (auto it = paths.begin(); it != paths.end(); ++it) {
        const QJsonObject item = it.value().toObject();
        for (auto op = item.begin(); op != item.end(); ++op) {
            if (kMethods.contains(op.key()))
                out << op.key().toUpper() + QLatin1Char(' ') + it.key();
        }
    }
    return out;
}

// Follows a local "$ref" ("#/components/..."); an empty object when broken.
QJsonObject resolve(const QJsonObject &doc, const QJsonObject &maybeRef)
{
    const QString ref = maybeRef[QStringLiteral("$ref")].toString();
    if (ref.isEmpty())
        return maybeRef;
    if (!ref.startsWith(QLatin1String("#/")))
        return {};
    QJsonValue v = doc;
    for (const QString &part : ref.mid(2).split(QLatin1Char('/')))
        v = v.toObject().value(part);
    return v.toObject();
}

void collectRefs(const QJsonValue &v, QStringList *out)
{
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it) {
            if (it.key() == QLatin1String("$ref"))
                *out << it.value().toString();
            else
                collectRefs(it.value(), out);
        }
    } else if (v.isArray()) {
        for (const QJsonValue &e : v.toArray())
            collectRefs(e, out);
    }
}

} // namespace

class TestOpenApi : public QObject {
    Q_OBJECT

    std::unique_ptr<TestService::Service> m_service;

private Q_SLOTS:
    void initTestCase()
    {
        m_service = std::make_unique<TestService::Service>();
        QVERIFY(m_service->port());
    }

    void cleanupTestCase() { m_service.reset(); }

    void everyRouteDocumentedAndEveryDocumentedRouteRegistered()
    {
        const QStringList registeredList = m_service->adapter().routes();
        const QSet<QString> registered(registeredList.cbegin(), registeredList.cend());
        QCOMPARE(registered.size(), registeredList.size()); // no duplicates
        const QSet<QString> documented = documentedRoutes(Server::OpenApi::document());
        QStringList undocumented = (registered - documented).values();
        QStringList unregistered = (documented - registered).values();
        undocumented.sort();
        unregistered.sort();
        QVERIFY2(undocumented.isEmpty(), qPrintable(QStringLiteral("registered, not documented: ") + undocumented.join(QStringLiteral(", "))));
        QVERIFY2(unregistered.isEmpty(), qPrintable(QStringLiteral("documented, not registered: ") + unregistered.join(QStringLiteral(", "))));
        QVERIFY(registered.contains(QStringLiteral("GET /api/v1/openapi.json")));
        QVERIFY(registered.contains(QStringLiteral("GET /metrics")));
    }

    void servedByTheService()
    {
        const TestService::Reply r = m_service->call("GET", QStringLiteral("/api/v1/openapi.json"));
        QCOMPARE(r.status, 200);
        QVERIFY(r.contentType.startsWith("application/json"));
        QCOMPARE(QJsonDocument::fromJson(r.body).object(), Server::OpenApi::document());
        QCOMPARE(m_service->call("GET", QStringLiteral("/api/v1/openapi.json"), {}, false).status, 401);
    }

    void structure()
    {
        const QJsonObject doc = Server::OpenApi::document();
        QVERIFY(doc[QStringLiteral("openapi")].toString().startsWith(QLatin1String("3.0.")));
        QVERIFY(!doc[QStringLiteral("info")][QStringLiteral("title")].toString().isEmpty());
        QVERIFY(!doc[QStringLiteral("info")][QStringLiteral("version")].toString().isEmpty());

        const QJsonObject bearer = doc[QStringLiteral("components")][QStringLiteral("securitySchemes")][QStringLiteral("bearer")].toObject();
        QCOMPARE(bearer[QStringLiteral("type")].toString(), QStringLiteral("http"));
        QCOMPARE(bearer[QStringLiteral("scheme")].toString(), QStringLiteral("bearer"));
        const QJsonArray security = doc[QStringLiteral("security")].toArray();
        QCOMPARE(security.size(), 1);
        QVERIFY(security.at(0).toObject().contains(QStringLiteral("bearer")));

        const QJsonObject paths = doc[QStringLiteral("paths")].toObject();
        QVERIFY(!paths.isEmpty());
        static const QRegularExpression templated(QStringLiteral("\\{([^}]+)\\}"));
        QSet<QString> operationIds;
        for (auto it = paths.begin(); it != paths.end(); ++it) {
            const QString path = it.key();
            QVERIFY2(path.startsWith(QLatin1Char('/')), qPrintable(path));
            QStringList pathParams;
            for (auto m = templated.globalMatch(path); m.hasNext();)
                pathParams << m.next().captured(1);
            const QJsonObject item = it.value().toObject();
            QVERIFY2(!item.isEmpty(), qPrintable(path));
            for (auto op = item.begin(); op != item.end(); ++op) {
                const QString where = op.key() + QLatin1Char(' ') + path;
                QVERIFY2(kMethods.contains(op.key()), qPrintable(where));
                const QJsonObject operation = op.value().toObject();
                QVERIFY2(!operation[QStringLiteral("summary")].toString().isEmpty(), qPrintable(where));
                const QString id = operation[QStringLiteral("operationId")].toString();
                QVERIFY2(!id.isEmpty() && !operationIds.contains(id), qPrintable(where));
                operationIds << id;

                const QJsonObject responses = operation[QStringLiteral("responses")].toObject();
                bool success = false;
                for (auto r = responses.begin(); r != responses.end(); ++r) {
                    success = success || r.key().startsWith(QLatin1Char('2')) || r.key() == QLatin1String("101");
                    QVERIFY2(!resolve(doc, r.value().toObject())[QStringLiteral("description")].toString().isEmpty(),
                             qPrintable(where + QStringLiteral(" response ") + r.key()));
                }
                QVERIFY2(success, qPrintable(where + QStringLiteral(": no 2xx response")));

                // Every {param} of the path is declared as a required path parameter.
                QStringList declared;
                for (const QJsonValue &p : operation[QStringLiteral("parameters")].toArray()) {
                    const QJsonObject param = resolve(doc, p.toObject());
                    QVERIFY2(!param[QStringLiteral("name")].toString().isEmpty(), qPrintable(where));
                    QVERIFY2(param.contains(QStringLiteral("schema")), qPrintable(where));
                    const QString in = param[QStringLiteral("in")].toString();
                    QVERIFY2(in == QLatin1String("path") || in == QLatin1String("query"), qPrintable(where));
                    if (in == QLatin1String("path")) {
                        QVERIFY2(param[QStringLiteral("required")].toBool(), qPrintable(where));
                        declared << param[QStringLiteral("name")].toString();
                    }
                }
                declared.sort();
                pathParams.sort();
                QCOMPARE(declared, pathParams);

                // Only health is open.
                const bool open = operation.contains(QStringLiteral("security")) && operation[QStringLiteral("security")].toArray().isEmpty();
                QCOMPARE(open, where == QLatin1String("get /api/v1/health"));
                if (!open)
                    QVERIFY2(responses.contains(QStringLiteral("401")), qPrintable(where));
            }
        }

        QStringList refs;
        collectRefs(doc, &refs);
        QVERIFY(!refs.isEmpty());
        for (const QString &ref : std::as_const(refs))
            QVERIFY2(!resolve(doc, QJsonObject{{QStringLiteral("$ref"), ref}}).isEmpty(), qPrintable(QStringLiteral("broken $ref ") + ref));
    }
};

QTEST_GUILESS_MAIN(TestOpenApi)
#include "tst_openapi.moc"
