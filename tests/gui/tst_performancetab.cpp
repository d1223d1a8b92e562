// The Performance tab and its charts, and the VM list's CPU sparkline
// (offscreen, no guests): what it says
// with no history, no VM or no samples yet; with samples (a fixed list from
// a test source here; the app's source is the service's usage history,
// adapted in app/guicommand.cpp, and the samples themselves are checked
// against real guests in tst_usageapi and tst_vmnetwork) the CPU, memory,
// disk and network charts get their series, network counters become rates
// (a counter that went down starts again), the scale's top reads well, the
// captions say the newest values, and the lines are drawn.

#include "app/gui/performancetab.h"
#include "app/gui/sparklinedelegate.h"
#include "app/gui/usagechart.h"

#include <QApplication>
#include <QImage>
#include <QLabel>
#include <QTest>

using Gui::PerformanceTab;
using Gui::UsagePoint;

namespace {

constexpr qint64 kT0 = 1'800'000'000'000;

QList<UsagePoint> samples()
{
    QList<UsagePoint> out;
    for (int i = 0; i < 6; ++i) {
        UsagePoint p;
        p.atMs = kT0 + i * 5000;
        if (i > 0)
            p.cpuPercent = 10.0 * i; // 10 .. 50 %
        p.vmmResidentBytes = 200.0 * 1024 * 1024;
        p.guestUsedBytes = (40.0 + i) * 1024 * 1024;
        p.diskBytes = 1024.0 * 1024 * (i + 1);
        p.networkReceivedBytes = 5000.0 * i; // 1000 B/s
        p.networkSentBytes = i == 4 ? 0.0 : 500.0 * i; // went down once: a new network
        out << p;
    }
    return out;
}

// Pixels of this color (within a little) in the widget as drawn.
int pixelsOf(QWidget *w, const QColor &color)
{
    const QImage image = w->grab().toImage();
    int n = 0;
    for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) {
            const QColor c = image.pixelColor(x, y);
            if (qAbs(c.red() - color.red()) < 30 && qAbs(c.green() - color.green()) < 30 && qAbs(c.blue() - color.blue()) < 30)
                ++n;
        }
    return n;
}

} // namespace

class TestPerformanceTab : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void saysWhyItIsEmpty()
    {
        PerformanceTab tab;
        tab.show();
        QVERIFY(tab.emptyLabel()->isVisible());
        QVERIFY2(tab.emptyLabel()->text().contains(QLatin1String("not running")), qPrintable(tab.emptyLabel()->text()));
        QList<UsagePoint> none;
        tab.setSource([&none](const QString &) { return none; });
        QVERIFY2(tab.emptyLabel()->text().contains(QLatin1String("Select a VM")), qPrintable(tab.emptyLabel()->text()));
        tab.setVm(QStringLiteral("box"));
        QVERIFY2(tab.emptyLabel()->text().contains(QLatin1String("No samples of box yet")), qPrintable(tab.emptyLabel()->text()));
        QVERIFY(!tab.cpuChart()->isVisible());
    }

    void chartsGetTheSeries()
    {
        PerformanceTab tab;
        tab.resize(800, 400);
        QString asked;
        tab.setSource([&asked](const QString &vm) {
            asked = vm;
            return samples();
        });
        tab.setVm(QStringLiteral("box"));
        tab.show();
        QCOMPARE(asked, QStringLiteral("box"));
        QVERIFY(!tab.emptyLabel()->isVisible());
        QVERIFY(tab.cpuChart()->isVisible());

        QCOMPARE(tab.cpuChart()->series(0).size(), 5); // the first sample has no CPU share
        QCOMPARE(tab.cpuChart()->series(0).last().y(), 50.0);
        QCOMPARE(tab.cpuChart()->top(), 100.0); // a percentage's scale is at least 100
        QCOMPARE(tab.cpuChart()->caption(), QStringLiteral("CPU: 50.0 %"));
        QCOMPARE(tab.memoryChart()->series(0).size(), 6);
        QCOMPARE(tab.memoryChart()->series(1).last().y(), 45.0 * 1024 * 1024);
        QVERIFY2(tab.memoryChart()->caption().startsWith(QLatin1String("Memory: VMM 200")), qPrintable(tab.memoryChart()->caption()));
        QCOMPARE(tab.diskChart()->series(0).last().y(), 6.0 * 1024 * 1024);
        // Rates: received 1000 B/s throughout; sent 100 B/s, the drop left out.
        const QList<QPointF> in = tab.networkChart()->series(0);
        QCOMPARE(in.size(), 5);
        for (const QPointF &p : in)
            QCOMPARE(p.y(), 1000.0);
        const QList<QPointF> out = tab.networkChart()->series(1);
        QCOMPARE(out.size(), 4); // 0->1, 1->2, 2->3, then 4 (a drop: skipped), 4->5 from 0
        QCOMPARE(out.first().y(), 100.0);
        QCOMPARE(out.last().y(), 500.0); // 0 -> 2500 in 5 s
        QCOMPARE(tab.networkChart()->top(), 1000.0);
        QVERIFY2(tab.networkChart()->caption().contains(QLatin1String("out 500 bytes/s")), qPrintable(tab.networkChart()->caption()));
        // The lines are drawn in the series' colors.
        QVERIFY(pixelsOf(tab.cpuChart(), tab.palette().color(QPalette::Highlight)) > 50);
        QVERIFY(pixelsOf(tab.networkChart(), QColor(0xd0, 0x70, 0x20)) > 50);
    }

    // The sparkline spans its cell, oldest left, scaled to at least 100 (a
    // percentage) or to the highest value.
    void sparklineLine()
    {
        const QRectF cell(10, 0, 100, 20);
        QVERIFY(Gui::SparklineDelegate::line({}, cell, 100).isEmpty());
        QVERIFY(Gui::SparklineDelegate::line({50}, cell, 100).isEmpty()); // one value is no line
        const QPolygonF line = Gui::SparklineDelegate::line({0, 50, 100}, cell, 100);
        QCOMPARE(line.size(), 3);
        QCOMPARE(line.at(0), QPointF(10, 20));
        QCOMPARE(line.at(1), QPointF(60, 10));
        QCOMPARE(line.at(2), QPointF(110, 0));
        const QPolygonF busy = Gui::SparklineDelegate::line({100, 200}, cell, 100); // over one core: scaled to 200
        QCOMPARE(busy.at(0).y(), 10.0);
        QCOMPARE(busy.at(1).y(), 0.0);
    }

    void rateOfNothing()
    {
        QVERIFY(PerformanceTab::ratePerSecond({}, &UsagePoint::networkReceivedBytes).isEmpty());
        UsagePoint only;
        only.atMs = kT0;
        only.networkReceivedBytes = 10;
        QVERIFY(PerformanceTab::ratePerSecond({only}, &UsagePoint::networkReceivedBytes).isEmpty());
        QVERIFY(PerformanceTab::ratePerSecond({only, only}, &UsagePoint::networkReceivedBytes).isEmpty()); // no time between
    }
};

QTEST_MAIN(TestPerformanceTab)
#include "tst_performancetab.moc"
