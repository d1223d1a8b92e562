#include "app/gui/usagechart.h"

#include <QPainter>
#include <QPainterPath>
#include <QPalette>

#include <algorithm>
#include <cmath>

namespace Gui {

namespace {

constexpr int kMargin = 6;
constexpr int kGridLines = 3;

// 1, 2 or 5 times a power of ten, at least v: a scale's top that reads well.
double niceTop(double v)
{
    if (v <= 0)
        return 1;
    const double power = std::pow(10.0, std::floor(std::log10(v)));
    for (double step : {1.0, 2.0, 5.0, 10.0})
        if (step * power >= v)
            return step * power;
    return 10 * power;
}

} // namespace

UsageChart::UsageChart(QString title, Format format, QWidget *parent)
    : QWidget(parent)
    , m_title(std::move(title))
    , m_format(std::move(format))
{
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void UsageChart::setSeries(const QList<QPointF> &first, const QList<QPointF> &second)
{
    m_first = first;
    m_second = second;
    update();
}

void UsageChart::setSeriesNames(const QString &first, const QString &second)
{
    m_firstName = first;
    m_secondName = second;
    update();
}

QString UsageChart::caption() const
{
    auto newest = [this](const QString &name, const QList<QPointF> &points) {
        if (points.isEmpty())
            return QString();
        const QString value = m_format(points.last().y());
        return name.isEmpty() ? value : tr("%1 %2").arg(name, value);
    };
    QStringList parts;
    for (const QString &part : {newest(m_firstName, m_first), newest(m_secondName, m_second)})
        if (!part.isEmpty())
            parts << part;
    return parts.isEmpty() ? m_title : tr("%1: %2").arg(m_title, parts.join(QStringLiteral(", ")));
}

double UsageChart::top() const
{
    double highest = m_minimumTop;
    for (const QList<QPointF> *points : {&m_first, &m_second})
        for (const QPointF &p : *points)
            highest = std::max(highest, p.y());
    return niceTop(highest);
}

void UsageChart::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QPalette pal = palette();
    p.fillRect(rect(), pal.color(QPalette::Base));
    const int line = fontMetrics().height();
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRect(kMargin, kMargin, width() - 2 * kMargin, line), Qt::AlignLeft | Qt::AlignVCenter, caption());
    const QRectF plot(kMargin, kMargin + line + 2, width() - 2 * kMargin, height() - 2 * kMargin - 2 * line - 4);
    if (plot.height() < 10)
        return;
    const double scaleTop = top();
    QColor grid = pal.color(QPalette::Mid);
    grid.setAlpha(120);
    p.setPen(QPen(grid, 1, Qt::DotLine));
    for (int i = 0; i <= kGridLines; ++i) {
        const double y = plot.top() + plot.height() * i / kGridLines;
        p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y));
    }
    p.setPen(pal.color(QPalette::PlaceholderText));
    p.drawText(QRectF(plot.left(), plot.top(), plot.width(), line), Qt::AlignRight | Qt::AlignTop, m_format(scaleTop));
    p.drawText(QRectF(plot.left(), plot.bottom() + 2, plot.width(), line), Qt::AlignLeft | Qt::AlignTop,
               tr("last %n minute(s)", nullptr, int(m_windowMs / 60000)));
    double newest = 0;
    for (const QList<QPointF> *points : {&m_first, &m_second})
        if (!points->isEmpty())
            newest = std::max(newest, points->last().x());
    drawSeries(p, plot, m_first, pal.color(QPalette::Highlight), newest, scaleTop);
    drawSeries(p, plot, m_second, QColor(0xd0, 0x70, 0x20), newest, scaleTop);
}

void UsageChart::drawSeries(QPainter &p, const QRectF &plot, const QList<QPointF> &points, const QColor &color, double newest, double top) const
{
    QPainterPath path;
    bool started = false;
    const double oldest = newest - double(m_windowMs);
    for (const QPointF &pt : points) {
        if (pt.x() < oldest)
            continue;
        const QPointF at(plot.left() + plot.width() * (pt.x() - oldest) / double(m_windowMs),
                         plot.bottom() - plot.height() * std::clamp(pt.y() / top, 0.0, 1.0));
        if (started) {
            path.lineTo(at);
        } else {
            path.moveTo(at);
            started = true;
        }
    }
    p.setPen(QPen(color, 2));
    p.drawPath(path);
}

} // namespace Gui
