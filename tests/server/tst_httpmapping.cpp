// The one mapping of API answers to HTTP, pure: every ApiError code's
// status, the error body and the bearer challenge, a too-large guest screen
// (409 invalid_state naming the size), 200/201/204, extra
// headers, and an answer written by hand (the raw paths).

#include "desktop/vmdisplay.h"
#include "server/httpmapping.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using Server::ApiError;
using Server::HttpAnswer;
using Server::Response;

class TestHttpMapping : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void everyCodeHasItsStatus_data()
    {
        QTest::addColumn<ApiError::Code>("code");
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("name");
        using C = ApiError::Code;
        const std::initializer_list<std::tuple<const char *, C, int>> rows{{"invalid_json", C::InvalidJson, 400},
                                                                           {"invalid_argument", C::InvalidArgument, 400},
                                                                           {"unauthorized", C::Unauthorized, 401},
                                                                           {"permission_denied", C::PermissionDenied, 403},
                                                                           {"forbidden", C::Forbidden, 403},
                                                                           {"too_many_requests", C::TooManyRequests, 429},
                                                                           {"not_found", C::NotFound, 404},
                                                                           {"method_not_allowed", C::MethodNotAllowed, 405},
                                                                           {"already_exists", C::AlreadyExists, 409},
                                                                           {"invalid_state", C::InvalidState, 409},
                                                                           {"control_held", C::ControlHeld, 409},
                                                                           {"payload_too_large", C::PayloadTooLarge, 413},
                                                                           {"corrupted", C::Corrupted, 422},
                                                                           {"internal", C::Internal, 500},
                                                                           {"vm_failed", C::VmFailed, 500},
                                                                           {"unsupported", C::Unsupported, 501},
                                                                           {"guest_error", C::GuestError, 502},
                                                                           {"agent_unavailable", C::AgentUnavailable, 503},
                                                                           {"display_not_ready", C::DisplayNotReady, 503},
                                                                           {"timeout", C::Timeout, 504},
                                                                           {"no_space", C::NoSpace, 507}};
        for (const auto &[name, code, status] : rows)
            QTest::newRow(name) << code << status << QString::fromLatin1(name);
    }

    void everyCodeHasItsStatus()
    {
        QFETCH(ApiError::Code, code);
        QFETCH(int, status);
        QFETCH(QString, name);
        QCOMPARE(Server::httpStatus(code), status);
        const HttpAnswer a = Server::httpAnswer(ApiError(code, QStringLiteral("why")));
        QCOMPARE(a.status, status);
        QCOMPARE(a.contentType, QByteArrayLiteral("application/json"));
        const QJsonObject error = QJsonDocument::fromJson(a.body).object().value(QStringLiteral("error")).toObject();
        QCOMPARE(error.value(QStringLiteral("code")).toString(), name);
        QCOMPARE(error.value(QStringLiteral("message")).toString(), QStringLiteral("why"));
        const bool challenged = !a.headers.isEmpty() && a.headers.first().first == "WWW-Authenticate";
        QCOMPARE(challenged, code == ApiError::Code::Unauthorized);
        // A desktop not ready yet, and a peer over its failed-authentication
        // limit (at least 1 s), say when to ask again.
        const bool retryAfter = !a.headers.isEmpty() && a.headers.first() == std::pair(QByteArray("Retry-After"), QByteArray("1"));
        QCOMPARE(retryAfter, code == ApiError::Code::DisplayNotReady || code == ApiError::Code::TooManyRequests);
    }

    // A guest VNC server announcing a screen above the limit: the display's
    // refusal answers 409 invalid_state (the caller's VM is in a state the
    // display cannot serve, no retry changes it), naming the size.
    void screenTooLargeIsInvalidState()
    {
        const QString why = QStringLiteral("the VNC server announced a 65535x65535 screen, larger than the 3840x2160 this connection allows");
        const HttpAnswer a = Server::httpAnswer(ApiError::fromCore(Desktop::VmDisplay::screenTooLarge(QStringLiteral("painter"), why)));
        QCOMPARE(a.status, 409);
        const QJsonObject error = QJsonDocument::fromJson(a.body).object().value(QStringLiteral("error")).toObject();
        QCOMPARE(error.value(QStringLiteral("code")).toString(), QStringLiteral("invalid_state"));
        const QString message = error.value(QStringLiteral("message")).toString();
        QVERIFY2(message.contains(QLatin1String("painter")) && message.contains(QLatin1String("65535x65535")), qPrintable(message));
    }

    void successes()
    {
        Response json = Response::ofJson(QJsonObject{{QStringLiteral("a"), 1}});
        json.headers.append({QByteArrayLiteral("Set-Cookie"), QByteArrayLiteral("x=y")});
        HttpAnswer a = Server::httpAnswer(json);
        QCOMPARE(a.status, 200);
        QCOMPARE(a.body, QByteArrayLiteral("{\"a\":1}"));
        QCOMPARE(a.headers.size(), 1);
        QCOMPARE(a.headers.first().second, QByteArrayLiteral("x=y"));

        a = Server::httpAnswer(Response::ofJson(QJsonObject{}, true));
        QCOMPARE(a.status, 201);
        a = Server::httpAnswer(Response::ofBytes(QByteArrayLiteral("png"), QByteArrayLiteral("image/png")));
        QCOMPARE(a.status, 200);
        QCOMPARE(a.contentType, QByteArrayLiteral("image/png"));
        QCOMPARE(a.body, QByteArrayLiteral("png"));
        a = Server::httpAnswer(Response::empty());
        QCOMPARE(a.status, 204);
        QVERIFY(a.body.isEmpty());
    }

    void writtenByHand()
    {
        const QByteArray raw = Server::rawResponse(Server::errorAnswer(ApiError(ApiError::Code::Unauthorized, QStringLiteral("token"))));
        QVERIFY2(raw.startsWith("HTTP/1.1 401 Unauthorized\r\n"), raw.constData());
        QVERIFY(raw.contains("\r\nWWW-Authenticate: Bearer realm=\"microvm-sandbox\"\r\n"));
        QVERIFY(raw.contains("\r\nContent-Type: application/json\r\n"));
        QVERIFY(raw.contains("\r\nConnection: close\r\n\r\n{\"error\""));
        const qsizetype bodyStart = raw.indexOf("\r\n\r\n") + 4;
        QVERIFY(raw.contains(QByteArray("Content-Length: " + QByteArray::number(raw.size() - bodyStart) + "\r\n")));
        QVERIFY(
            Server::rawResponse(Server::errorAnswer(ApiError(ApiError::Code::PayloadTooLarge, QString()))).startsWith("HTTP/1.1 413 Payload Too Large\r\n"));
    }
};

QTEST_GUILESS_MAIN(TestHttpMapping)
#include "tst_httpmapping.moc"
