#include "app/gui/sparklinedelegate.h"

#include <QPainter>

#include <algorithm>

namespace Gui {

SparklineDelegate::SparklineDelegate(int historyRole, double minimumTop, QObject *parent)
    : QStyledItemDelegate(parent)
    , m_role(historyRole)
    , m_minimumTop(minimumTop)
{
}

QPolygonF SparklineDelegate::line(const QList<double> &values, const QRectF &rect, double minimumTop)
{
    QPolygonF points;
    if (values.size() < 2)
        return points;
    const double top = std::max(minimumTop, *std::max_element(values.begin(), values.end()));
    for (qsizetype i = 0; i < values.size(); ++i) {
        const double x = rect.left() + rect.width() * double(i) / double(values.size() - 1);
        const double y = rect.bottom() - rect.height() * std::clamp(values.at(i) / top, 0.0, 1.0);
        points << QPointF(x, y);
    }
    return points;
}

void SparklineDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    const QList<double> values = index.data(m_role).value<QList<double>>();
    const QPolygonF points = line(values, QRectF(option.rect).adjusted(2, 3, -2, -3), m_minimumTop);
    if (!points.isEmpty()) {
        painter->save();
        painter->setRenderHint(QPainter::Antialiasing);
        QColor color = option.palette.color(QPalette::Highlight);
        color.setAlpha(150);
        painter->setPen(QPen(color, 1.5));
        painter->drawPolyline(points);
        painter->restore();
    }
    QStyledItemDelegate::paint(painter, option, index);
}

} // namespace Gui
