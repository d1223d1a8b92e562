// QemuCpus: query-hotpluggable-cpus answers (as QEMU 7.2 gives them for
// q35 with -smp 1,maxcpus=4 and after a device_add) -> slots in topology
// order, and what to add or remove to reach a count: added from the lowest
// free slot up, removed from the highest present one down, so the vCPUs
// present are always the first slots (what -smp N,maxcpus=M boots with).

#include "core/vmm/qemucpus.h"

#include <QJsonDocument>
#include <QTest>

using namespace Vmm;

namespace {

// QEMU 7.2's answer, in its own order (highest core first), one vCPU booted.
QJsonObject answer(int present)
{
    QJsonArray list;
    for (int core = 3; core >= 0; --core) {
        QJsonObject slot{
            {QStringLiteral("type"), QStringLiteral("max-x86_64-cpu")},
            {QStringLiteral("vcpus-count"), 1},
            {QStringLiteral("props"), QJsonObject{{QStringLiteral("core-id"), core}, {QStringLiteral("thread-id"), 0}, {QStringLiteral("socket-id"), 0}}}};
        if (core < present)
            slot.insert(QStringLiteral("qom-path"),
                        core == 0 ? QStringLiteral("/machine/unattached/device[0]") : QStringLiteral("/machine/peripheral/mvs-cpu-0-0-0-%1-0").arg(core));
        list.append(slot);
    }
    return QJsonObject{{QStringLiteral("return"), list}};
}

} // namespace

class TestQemuCpus : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void slotsAreInTopologyOrder()
    {
        auto slots = QemuCpus::parse(answer(2));
        QVERIFY(slots);
        QCOMPARE(slots->size(), 4);
        for (int i = 0; i < 4; ++i)
            QCOMPARE(slots->at(i).props.value(QStringLiteral("core-id")).toInt(), i);
        QCOMPARE(QemuCpus::present(*slots), 2);
        QVERIFY(slots->at(1).present());
        QVERIFY(!slots->at(2).present());
        QCOMPARE(slots->at(0).type, QStringLiteral("max-x86_64-cpu"));
    }

    void addingFillsTheLowestFreeSlots()
    {
        auto plan = QemuCpus::plan(*QemuCpus::parse(answer(1)), 3);
        QVERIFY(plan);
        QVERIFY(plan->remove.isEmpty());
        QCOMPARE(plan->add.size(), 2);
        // device_add's arguments: the slot's properties, its type, an id of its place.
        const QJsonObject expected{{QStringLiteral("driver"), QStringLiteral("max-x86_64-cpu")},
                                   {QStringLiteral("id"), QStringLiteral("mvs-cpu-0-0-0-1-0")},
                                   {QStringLiteral("socket-id"), 0},
                                   {QStringLiteral("core-id"), 1},
                                   {QStringLiteral("thread-id"), 0}};
        QCOMPARE(plan->add.at(0), expected);
        QCOMPARE(plan->add.at(1).value(QStringLiteral("core-id")).toInt(), 2);
        QCOMPARE(plan->add.at(1).value(QStringLiteral("id")).toString(), QStringLiteral("mvs-cpu-0-0-0-2-0"));
    }

    void removingEmptiesTheHighestSlots()
    {
        auto plan = QemuCpus::plan(*QemuCpus::parse(answer(4)), 2);
        QVERIFY(plan);
        QVERIFY(plan->add.isEmpty());
        QCOMPARE(plan->remove, (QStringList{QStringLiteral("/machine/peripheral/mvs-cpu-0-0-0-3-0"), QStringLiteral("/machine/peripheral/mvs-cpu-0-0-0-2-0")}));
        // Never the boot vCPU: 1 is the least.
        auto toOne = QemuCpus::plan(*QemuCpus::parse(answer(4)), 1);
        QCOMPARE(toOne->remove.size(), 3);
        QVERIFY(!toOne->remove.contains(QStringLiteral("/machine/unattached/device[0]")));
    }

    void theSameCountIsNoChange()
    {
        auto plan = QemuCpus::plan(*QemuCpus::parse(answer(3)), 3);
        QVERIFY(plan);
        QVERIFY(plan->add.isEmpty() && plan->remove.isEmpty());
    }

    void countsOutsideTheSlotsAreRefused_data()
    {
        QTest::addColumn<int>("target");
        QTest::newRow("none") << 0;
        QTest::newRow("negative") << -1;
        QTest::newRow("more than maxcpus") << 5;
    }
    void countsOutsideTheSlotsAreRefused()
    {
        QFETCH(int, target);
        auto plan = QemuCpus::plan(*QemuCpus::parse(answer(1)), target);
        QVERIFY(!plan);
        QCOMPARE(plan.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(plan.error().message.contains(QStringLiteral("between 1 and 4")), qPrintable(plan.error().message));
    }

    // A QEMU that answers something else is not believed.
    void malformedAnswersAreRefused_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::newRow("not a list") << QByteArray(R"({"return": {"type": "x"}})");
        QTest::newRow("no type") << QByteArray(R"({"return": [{"props": {"core-id": 0}, "vcpus-count": 1}]})");
        QTest::newRow("no place") << QByteArray(R"({"return": [{"type": "max-x86_64-cpu", "vcpus-count": 1}]})");
        QTest::newRow("two vcpus a slot") << QByteArray(R"({"return": [{"type": "t", "props": {"core-id": 0}, "vcpus-count": 2}]})");
    }
    void malformedAnswersAreRefused()
    {
        QFETCH(QByteArray, json);
        auto slots = QemuCpus::parse(QJsonDocument::fromJson(json).object());
        QVERIFY(!slots);
        QCOMPARE(slots.error().code, Core::ErrorCode::InvalidArgument);
    }
};

QTEST_GUILESS_MAIN(TestQemuCpus)
#include "tst_qemucpus.moc"
