// The Activity tab (issue 19) from fixed events (no guests): what it says
// with no VM and with nothing done yet, the selected VM's history, events
// as they come (another VM's left out), failures marked, the row cap, and
// the words for each kind of action.

#include "app/gui/activitytab.h"

#include <QJsonDocument>
#include <QLabel>
#include <QTest>
#include <QTreeWidget>

using Gui::ActivityItem;
using Gui::ActivityTab;

namespace {

ActivityItem item(const QString &vm, const QString &action, QJsonObject detail = {}, const QString &result = QStringLiteral("ok"))
{
    static quint64 seq = 0;
    return ActivityItem{++seq, QDateTime::currentDateTimeUtc(), vm, action, std::move(detail), result, 12};
}

} // namespace

class TestActivityTab : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void emptyStatesSayWhatShowsHere()
    {
        ActivityTab tab;
        tab.show();
        QVERIFY(tab.emptyLabel()->isVisible());
        QVERIFY(tab.emptyLabel()->text().contains(QStringLiteral("Select a VM")));
        tab.setVm(QStringLiteral("box"));
        QVERIFY(tab.emptyLabel()->text().contains(QStringLiteral("Nothing done to box")));
        QVERIFY(!tab.list()->isVisible());
    }

    void historyThenLiveEventsOfTheSelectedVm()
    {
        ActivityTab tab;
        tab.show();
        tab.setSource([](const QString &vm) {
            return vm == QLatin1String("box")
                ? QList<ActivityItem>{item(vm, QStringLiteral("screenshot"), {{QStringLiteral("width"), 1280}, {QStringLiteral("height"), 800}})}
                : QList<ActivityItem>{};
        });
        tab.setVm(QStringLiteral("box"));
        QCOMPARE(tab.list()->topLevelItemCount(), 1);
        QVERIFY(tab.list()->isVisible() && !tab.emptyLabel()->isVisible());
        QCOMPARE(tab.list()->topLevelItem(0)->text(1), QStringLiteral("Screenshot (1280×800)"));
        tab.add(item(QStringLiteral("box"), QStringLiteral("click"), {{QStringLiteral("x"), 640}, {QStringLiteral("y"), 400}}));
        tab.add(item(QStringLiteral("other"), QStringLiteral("click"), {{QStringLiteral("x"), 1}, {QStringLiteral("y"), 1}}));
        tab.add(item(QStringLiteral("box"), QStringLiteral("type"), {{QStringLiteral("text"), QStringLiteral("abc")}}, QStringLiteral("control_held")));
        QCOMPARE(tab.list()->topLevelItemCount(), 3);
        QCOMPARE(tab.list()->topLevelItem(1)->text(1), QStringLiteral("Click at 640, 400"));
        QCOMPARE(tab.list()->topLevelItem(1)->text(2), QStringLiteral("done"));
        QCOMPARE(tab.list()->topLevelItem(2)->text(2), QStringLiteral("control_held"));
        QVERIFY(tab.list()->topLevelItem(2)->foreground(2).color() != tab.list()->topLevelItem(1)->foreground(2).color());
        QCOMPARE(tab.list()->topLevelItem(2)->text(3), QStringLiteral("12 ms"));
        // Another VM selected: its own history (none).
        tab.setVm(QStringLiteral("other"));
        QCOMPARE(tab.list()->topLevelItemCount(), 0);
        QVERIFY(tab.emptyLabel()->isVisible());
    }

    void keepsTheLastRows()
    {
        ActivityTab tab;
        tab.setVm(QStringLiteral("box"));
        for (int i = 0; i < ActivityTab::kMaxRows + 20; ++i)
            tab.add(item(QStringLiteral("box"), QStringLiteral("key"), {{QStringLiteral("keys"), QString::number(i)}}));
        QCOMPARE(tab.list()->topLevelItemCount(), ActivityTab::kMaxRows);
        QCOMPARE(tab.list()->topLevelItem(0)->text(1), QStringLiteral("Key 20"));
    }

    void describe_data()
    {
        QTest::addColumn<QString>("action");
        QTest::addColumn<QJsonObject>("detail");
        QTest::addColumn<QString>("text");
        const auto row = [](const char *name, const char *action, const char *json, const char *text) {
            QTest::newRow(name) << QString::fromUtf8(action) << QJsonDocument::fromJson(json).object() << QString::fromUtf8(text);
        };
        row("click", "click", R"j({"x":5,"y":6})j", "Click at 5, 6");
        row("click here", "click", R"j({})j", "Click where the pointer is");
        row("double", "double_click", R"j({"x":1,"y":2})j", "Double click at 1, 2");
        row("drag", "drag", R"j({"x":1,"y":2,"to_x":30,"to_y":40})j", "Drag from 1, 2 to 30, 40");
        row("scroll", "scroll", R"j({"dx":0,"dy":3})j", "Scroll where the pointer is by 0, 3");
        row("type", "type", R"j({"text":"abc"})j", "Type “abc”");
        row("key", "key", R"j({"keys":"ctrl+c"})j", "Key ctrl+c");
        row("exec", "exec", R"j({"cmd":"echo hi","exit_code":0})j", "Run echo hi (exit 0)");
        row("exec failed", "exec", R"j({"cmd":"sleep 9"})j", "Run sleep 9");
        row("put", "file_put", R"j({"path":"/tmp/a"})j", "Write /tmp/a");
        row("get", "file_get", R"j({"path":"/tmp/a"})j", "Read /tmp/a");
        row("code", "code", R"j({"language":"python","code":"print(1)"})j", "Run python code: print(1)");
    }
    void describe()
    {
        QFETCH(QString, action);
        QFETCH(QJsonObject, detail);
        QFETCH(QString, text);
        QCOMPARE(ActivityTab::describe(item(QStringLiteral("box"), action, detail)), text);
    }
};

QTEST_MAIN(TestActivityTab)
#include "tst_activitytab.moc"
