// The Display tab's overlay of the agent's actions (issue 19) from fixed
// events (no guest; tst_controltoggle draws it over a real desktop): which
// events it marks and captions, failed ones left out, "where the pointer
// is" taken from the agent's last point, the mark cap, clearing, and that
// everything fades out, the timer stops and the overlay hides itself.

#include "app/gui/actionoverlay.h"
#include "vncview/widget/vncviewwidget.h"

#include <QJsonDocument>
#include <QTest>

using Gui::ActionOverlay;
using Gui::ActivityItem;

namespace {

ActivityItem item(const QString &action, const QByteArray &detail = "{}", const QString &result = QStringLiteral("ok"))
{
    static quint64 seq = 0;
    return ActivityItem{++seq, QDateTime::currentDateTimeUtc(), QStringLiteral("desk"), action, QJsonDocument::fromJson(detail).object(), result, 5};
}

} // namespace

class TestActionOverlay : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void pointerActionsAreMarkedAndTextIsCaptioned()
    {
        Vnc::VncViewWidget view;
        view.resize(640, 400);
        view.show();
        auto *overlay = new ActionOverlay(&view);
        QVERIFY(!overlay->isVisible()); // nothing shown: hidden, no timer
        QCOMPARE(overlay->geometry(), view.rect());

        overlay->showAction(item(QStringLiteral("click"), R"({"x": 10, "y": 20, "button": "left"})"));
        QVERIFY(overlay->isVisible());
        QCOMPARE(overlay->markCount(), 1);
        overlay->showAction(item(QStringLiteral("drag"), R"({"x": 1, "y": 2, "to_x": 30, "to_y": 40})"));
        overlay->showAction(item(QStringLiteral("scroll"), R"({"x": 5, "y": 5, "dx": 0, "dy": 3})"));
        overlay->showAction(item(QStringLiteral("double_click"), R"({"x": 7, "y": 8})"));
        QCOMPARE(overlay->markCount(), 4);
        QVERIFY(overlay->caption().isEmpty());

        overlay->showAction(item(QStringLiteral("type"), R"({"text": "abc"})"));
        QCOMPARE(overlay->caption(), QStringLiteral("Type “abc”"));
        overlay->showAction(item(QStringLiteral("key"), R"({"keys": "ctrl+c"})"));
        QCOMPARE(overlay->caption(), QStringLiteral("Key ctrl+c"));
        QCOMPARE(overlay->markCount(), 4); // text is a caption, not a mark

        // Exec, files and code belong to the log, not over the screen.
        overlay->showAction(item(QStringLiteral("exec"), R"({"cmd": "ls", "exit_code": 0})"));
        QCOMPARE(overlay->caption(), QStringLiteral("Key ctrl+c"));
        QCOMPARE(overlay->markCount(), 4);

        // The view follows its widget's size.
        view.resize(800, 500);
        QCOMPARE(overlay->geometry(), view.rect());
        // No frame yet (no connection): nothing can be placed on it.
        QVERIFY(!overlay->newestMarkPos());
    }

    void failedActionsAreNotShown()
    {
        Vnc::VncViewWidget view;
        auto *overlay = new ActionOverlay(&view);
        overlay->showAction(item(QStringLiteral("click"), R"({"x": 10, "y": 20})", QStringLiteral("control_held")));
        overlay->showAction(item(QStringLiteral("type"), R"({"text": "x"})", QStringLiteral("display_not_ready")));
        QCOMPARE(overlay->markCount(), 0);
        QVERIFY(overlay->caption().isEmpty());
        QVERIFY(!overlay->isVisible());
    }

    void aClickWithoutAPointIsWhereTheAgentLastPutThePointer()
    {
        Vnc::VncViewWidget view;
        auto *overlay = new ActionOverlay(&view);
        overlay->showAction(item(QStringLiteral("click"))); // nowhere known yet: not marked
        QCOMPARE(overlay->markCount(), 0);
        overlay->showAction(item(QStringLiteral("move"), R"({"x": 100, "y": 50})"));
        overlay->showAction(item(QStringLiteral("click")));
        QCOMPARE(overlay->markCount(), 2);
        overlay->showAction(item(QStringLiteral("drag"), R"({"x": 1, "y": 1, "to_x": 300, "to_y": 200})"));
        overlay->showAction(item(QStringLiteral("scroll"), R"({"dy": -2})"));
        QCOMPARE(overlay->markCount(), 4);
    }

    void marksAreCappedAndClearedAndFadeAway()
    {
        Vnc::VncViewWidget view;
        view.show();
        auto *overlay = new ActionOverlay(&view);
        for (int i = 0; i < ActionOverlay::kMaxMarks + 10; ++i)
            overlay->showAction(item(QStringLiteral("click"), QStringLiteral(R"({"x": %1, "y": 1})").arg(i).toUtf8()));
        QCOMPARE(overlay->markCount(), ActionOverlay::kMaxMarks);
        overlay->clear();
        QCOMPARE(overlay->markCount(), 0);
        QVERIFY(!overlay->isVisible());

        overlay->showAction(item(QStringLiteral("click"), R"({"x": 3, "y": 4})"));
        overlay->showAction(item(QStringLiteral("key"), R"({"keys": "Return"})"));
        QVERIFY(overlay->isVisible());
        QTRY_COMPARE_WITH_TIMEOUT(overlay->markCount(), 0, ActionOverlay::kMarkMs + 2000);
        QVERIFY(!overlay->caption().isEmpty()); // the caption stays longer
        QTRY_VERIFY_WITH_TIMEOUT(overlay->caption().isEmpty(), ActionOverlay::kCaptionMs + 2000);
        QVERIFY(!overlay->isVisible());
    }

    void longCaptionsAreCut()
    {
        Vnc::VncViewWidget view;
        auto *overlay = new ActionOverlay(&view);
        overlay->showAction(item(QStringLiteral("type"), QJsonDocument(QJsonObject{{QStringLiteral("text"), QString(300, QLatin1Char('a'))}}).toJson()));
        QCOMPARE(overlay->caption().size(), ActionOverlay::kMaxCaptionChars);
        QVERIFY(overlay->caption().endsWith(QChar(0x2026)));
    }
};

QTEST_MAIN(TestActionOverlay)
#include "tst_actionoverlay.moc"
