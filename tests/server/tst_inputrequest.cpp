// Server::InputRequest: the body of POST .../input and the screenshot's
// ?scale, parsed without a display (the live path is tst_computeruse).

#include "server/inputrequest.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QTest>

using Desktop::InputAction;
using Server::ApiError;
using Server::InputRequest;

namespace {

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

class TestInputRequest : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void oneAction()
    {
        const auto r = InputRequest::parse(R"({"action": "click", "x": 10, "y": 20, "button": "right", "count": 2})");
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(r->size(), 1);
        const InputAction &a = r->first();
        QCOMPARE(a.kind, InputAction::Kind::Click);
        QVERIFY(a.hasPoint);
        QCOMPARE(a.point, QPoint(10, 20));
        QCOMPARE(a.button, InputAction::Button::Right);
        QCOMPARE(a.count, 2);
    }

    void actionsInScreenshotCoordinates()
    {
        const QJsonArray actions{QJsonObject{{QStringLiteral("action"), QStringLiteral("drag")},
                                             {QStringLiteral("x"), 5},
                                             {QStringLiteral("y"), 10},
                                             {QStringLiteral("to_x"), 50},
                                             {QStringLiteral("to_y"), 100}},
                                 QJsonObject{{QStringLiteral("action"), QStringLiteral("key")}, {QStringLiteral("keys"), QStringLiteral("ctrl+alt+t")}}};
        const auto r = InputRequest::parse(json({{QStringLiteral("actions"), actions}, {QStringLiteral("scale"), 0.5}}));
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(r->size(), 2);
        QCOMPARE(r->at(0).point, QPoint(10, 20));
        QCOMPARE(r->at(0).to, QPoint(100, 200));
        QCOMPARE(r->at(1).kind, InputAction::Kind::Key);
        QCOMPARE(r->at(1).text, QStringLiteral("ctrl+alt+t"));
    }

    void refusals_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("says");
        const int invalid = int(ApiError::Code::InvalidArgument);
        QTest::newRow("not json") << QByteArray("{") << int(ApiError::Code::InvalidJson) << "JSON object";
        QTest::newRow("unknown action") << QByteArray(R"({"action": "jump"})") << invalid << "field 'action'";
        QTest::newRow("unknown field") << QByteArray(R"({"action": "move", "x": 1, "y": 1, "z": 3})") << invalid << "unknown field 'z'";
        QTest::newRow("x without y") << QByteArray(R"({"action": "click", "x": 1})") << invalid << "'x' and 'y' go together";
        QTest::newRow("huge coordinate") << QByteArray(R"({"action": "move", "x": 1e9, "y": 1})") << invalid << "field 'x' must be a number";
        QTest::newRow("bad scale") << QByteArray(R"({"action": "move", "x": 1, "y": 1, "scale": 2})") << invalid << "field 'scale'";
        QTest::newRow("no actions") << QByteArray(R"({"actions": []})") << invalid << "give 1 to 200 actions";
        QTest::newRow("second action bad") << QByteArray(R"({"actions": [{"action": "move", "x": 1, "y": 1}, {"action": "type"}]})") << invalid
                                           << "action 1: type needs 'text'";
    }

    void refusals()
    {
        QFETCH(QByteArray, body);
        QFETCH(int, code);
        QFETCH(QString, says);
        const auto r = InputRequest::parse(body);
        QVERIFY(!r);
        QCOMPARE(int(r.error().code), code);
        QVERIFY2(r.error().message.contains(says), qPrintable(r.error().message));
    }

    void tooManyActions()
    {
        QJsonArray actions;
        for (int i = 0; i <= InputRequest::kMaxActions; ++i)
            actions.append(QJsonObject{{QStringLiteral("action"), QStringLiteral("scroll")}, {QStringLiteral("dy"), 1}});
        QVERIFY(!InputRequest::parse(json({{QStringLiteral("actions"), actions}})));
        actions.removeLast();
        QVERIFY(InputRequest::parse(json({{QStringLiteral("actions"), actions}})));
    }

    void scale()
    {
        const QSize screen(2048, 1536);
        QCOMPARE(*InputRequest::parseScale(QStringLiteral("0.5"), screen), 0.5);
        QCOMPARE(*InputRequest::parseScale(QStringLiteral("1024x1024"), screen), 0.5);
        QCOMPARE(*InputRequest::parseScale(QStringLiteral("4096x4096"), screen), 1.0); // never enlarged
        QVERIFY(!InputRequest::parseScale(QStringLiteral("2"), screen));
        QVERIFY(!InputRequest::parseScale(QStringLiteral("0"), screen));
        QVERIFY(!InputRequest::parseScale(QStringLiteral("8x8"), screen));
        QVERIFY(!InputRequest::parseScale(QStringLiteral("100x100x100"), screen));
    }
};

QTEST_GUILESS_MAIN(TestInputRequest)
#include "tst_inputrequest.moc"
