// LiveMemory::check: what a running VM's memory may be resized to, from
// its boot size, its memory now and what its agent says it can spare (no
// guests; tst_liveresize moves real balloons).

#include "core/agent/agenttypes.h"
#include "core/vm/livememory.h"

#include <QTest>

using namespace Vm;

namespace {

Agent::Health availableMiB(qint64 mib)
{
    Agent::Health h;
    h.memAvailableKiB = quint64(mib) * 1024;
    return h;
}

} // namespace

class TestLiveMemory : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void growsBackUpToItsBootSize()
    {
        QVERIFY(LiveMemory::check(256, 256, 160, nullptr));
        QVERIFY(LiveMemory::check(200, 256, 160, nullptr));
        const auto more = LiveMemory::check(257, 256, 256, nullptr);
        QVERIFY(!more);
        QCOMPARE(more.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(more.error().message.contains(QStringLiteral("256 MiB it booted with")), qPrintable(more.error().message));
    }

    void neverBelowTheMinimum()
    {
        const auto tiny = LiveMemory::check(LiveMemory::kMinMiB - 1, 256, 256, nullptr);
        QVERIFY(!tiny);
        QVERIFY2(tiny.error().message.contains(QStringLiteral("at least %1 MiB").arg(LiveMemory::kMinMiB)), qPrintable(tiny.error().message));
    }

    // The guest keeps kHeadroomMiB available above what it used.
    void shrinksToWhatTheGuestCanSpare()
    {
        const Agent::Health h = availableMiB(150); // of 256: it uses 106
        const qint64 floor = 256 - 150 + LiveMemory::kHeadroomMiB;
        QVERIFY(LiveMemory::check(floor, 256, 256, &h));
        const auto below = LiveMemory::check(floor - 1, 256, 256, &h);
        QVERIFY(!below);
        QCOMPARE(below.error().code, Core::ErrorCode::InvalidArgument);
        QVERIFY2(below.error().message.contains(QStringLiteral("can shrink to %1 MiB").arg(floor)), qPrintable(below.error().message));
        // A guest with plenty available still stops at the minimum.
        const Agent::Health idle = availableMiB(250);
        QVERIFY(LiveMemory::check(LiveMemory::kMinMiB, 256, 256, &idle));
        QVERIFY(!LiveMemory::check(LiveMemory::kMinMiB - 1, 256, 256, &idle));
    }

    // Growing needs no answer from the guest.
    void growingIgnoresTheGuest()
    {
        const Agent::Health starving = availableMiB(0);
        QVERIFY(LiveMemory::check(256, 256, 128, &starving));
    }
};

QTEST_GUILESS_MAIN(TestLiveMemory)
#include "tst_livememory.moc"
