#include "app/gui/performancetab.h"

#include <QGridLayout>
#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>

namespace Gui {

namespace {

QString bytes(double v)
{
    return QLocale().formattedDataSize(qint64(v), 1, QLocale::DataSizeTraditionalFormat);
}

QString bytesPerSecond(double v)
{
    return PerformanceTab::tr("%1/s").arg(bytes(v));
}

QString percent(double v)
{
    return PerformanceTab::tr("%1 %").arg(v, 0, 'f', 1);
}

// The points of one measure that was read.
QList<QPointF> seriesOf(const QList<UsagePoint> &points, std::optional<double> UsagePoint::*value)
{
    QList<QPointF> out;
    for (const UsagePoint &p : points)
        if (const std::optional<double> &v = p.*value)
            out << QPointF(double(p.atMs), *v);
    return out;
}

} // namespace

PerformanceTab::PerformanceTab(QWidget *parent)
    : QWidget(parent)
{
    m_cpu = new UsageChart(tr("CPU"), percent, this);
    m_cpu->setMinimumTop(100);
    m_memory = new UsageChart(tr("Memory"), bytes, this);
    m_memory->setSeriesNames(tr("VMM"), tr("guest"));
    m_disk = new UsageChart(tr("Disk"), bytes, this);
    m_network = new UsageChart(tr("Network"), bytesPerSecond, this);
    m_network->setSeriesNames(tr("in"), tr("out"));
    m_charts = new QWidget(this);
    auto *grid = new QGridLayout(m_charts);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->addWidget(m_cpu, 0, 0);
    grid->addWidget(m_memory, 0, 1);
    grid->addWidget(m_disk, 1, 0);
    grid->addWidget(m_network, 1, 1);
    m_empty = new QLabel(this);
    m_empty->setAlignment(Qt::AlignCenter);
    m_empty->setWordWrap(true);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_empty);
    layout->addWidget(m_charts, 1);
    m_timer.setInterval(kRefreshMs);
    connect(&m_timer, &QTimer::timeout, this, &PerformanceTab::refresh);
    refresh();
}

void PerformanceTab::setSource(UsageSource source)
{
    m_source = std::move(source);
    refresh();
}

void PerformanceTab::setVm(const QString &name)
{
    m_vm = name;
    refresh();
}

void PerformanceTab::showEvent(QShowEvent *event)
{
    QWidget::showEvent(event);
    refresh();
    m_timer.start();
}

void PerformanceTab::hideEvent(QHideEvent *event)
{
    QWidget::hideEvent(event);
    m_timer.stop();
}

void PerformanceTab::showEmpty(const QString &why)
{
    m_empty->setText(why);
    m_empty->show();
    m_charts->hide();
}

void PerformanceTab::refresh()
{
    if (!m_source) {
        showEmpty(tr("No usage history here: it is kept by the API service, which is not running."));
        return;
    }
    if (m_vm.isEmpty()) {
        showEmpty(tr("Select a VM to see its CPU, memory, disk and network over the last minutes."));
        return;
    }
    const QList<UsagePoint> points = m_source(m_vm);
    if (points.isEmpty()) {
        showEmpty(tr("No samples of %1 yet: a VM's usage is sampled every few seconds while it runs.").arg(m_vm));
        return;
    }
    m_empty->hide();
    m_charts->show();
    m_cpu->setSeries(seriesOf(points, &UsagePoint::cpuPercent));
    m_memory->setSeries(seriesOf(points, &UsagePoint::vmmResidentBytes), seriesOf(points, &UsagePoint::guestUsedBytes));
    m_disk->setSeries(seriesOf(points, &UsagePoint::diskBytes));
    m_network->setSeries(ratePerSecond(points, &UsagePoint::networkReceivedBytes), ratePerSecond(points, &UsagePoint::networkSentBytes));
}

QList<QPointF> PerformanceTab::ratePerSecond(const QList<UsagePoint> &points, std::optional<double> UsagePoint::*counter)
{
    QList<QPointF> out;
    const UsagePoint *before = nullptr;
    for (const UsagePoint &p : points) {
        if (!(p.*counter))
            continue;
        if (before && p.atMs > before->atMs && *(p.*counter) >= *(before->*counter))
            out << QPointF(double(p.atMs), (*(p.*counter) - *(before->*counter)) * 1000.0 / double(p.atMs - before->atMs));
        before = &p;
    }
    return out;
}

} // namespace Gui
