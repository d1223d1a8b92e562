#pragma once
// Gui::UsageChart: one measure of a VM over the last minutes as a line
// chart (one or two series, e.g. received and sent), drawn with QPainter:
// its title with the newest values, the scale's top, a few grid lines and
// the time window's span. Values come in as (ms since the epoch, value).

#include <QList>
#include <QPointF>
#include <QString>
#include <QWidget>

#include <functional>

namespace Gui {

class UsageChart final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(UsageChart)
public:
    // How a value reads ("12.5 %", "300 MiB", "1.2 KiB/s").
    using Format = std::function<QString(double)>;

    static constexpr qint64 kDefaultWindowMs = 10 * 60 * 1000;

    UsageChart(QString title, Format format, QWidget *parent = nullptr);

    // Series 0 and (optionally) 1 with their names; points oldest first.
    void setSeries(const QList<QPointF> &first, const QList<QPointF> &second = {});
    void setSeriesNames(const QString &first, const QString &second = QString());
    // The span shown, ending at the newest point.
    void setWindowMs(qint64 ms) { m_windowMs = ms; }
    // At least this top of scale (e.g. 100 for a percentage).
    void setMinimumTop(double top) { m_minimumTop = top; }

    const QList<QPointF> &series(int i) const { return i == 0 ? m_first : m_second; }
    // The title line as drawn: the title and the newest values.
    QString caption() const;
    double top() const;

    QSize sizeHint() const override { return {320, 140}; }
    QSize minimumSizeHint() const override { return {160, 90}; }

protected:
    void paintEvent(QPaintEvent *event) override;

private:
    void drawSeries(QPainter &p, const QRectF &plot, const QList<QPointF> &points, const QColor &color, double newest, double top) const;

    QString m_title;
    Format m_format;
    QString m_firstName;
    QString m_secondName;
    QList<QPointF> m_first;
    QList<QPointF> m_second;
    qint64 m_windowMs = kDefaultWindowMs;
    double m_minimumTop = 0;
};

} // namespace Gui
