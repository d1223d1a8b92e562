#pragma once
// Gui::SparklineDelegate: draws a cell's recent values (a QList<double> in
// a role, e.g. VmListModel::CpuHistoryRole) as a small line behind its text,
// scaled to at least `minimumTop` (100 for a percentage).

#include <QStyledItemDelegate>

namespace Gui {

class SparklineDelegate final : public QStyledItemDelegate {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(SparklineDelegate)
public:
    SparklineDelegate(int historyRole, double minimumTop, QObject *parent = nullptr);

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;

    // Where the values are drawn in `rect` (oldest left, newest right), for
    // the painter and for tests.
    static QPolygonF line(const QList<double> &values, const QRectF &rect, double minimumTop);

private:
    int m_role;
    double m_minimumTop;
};

} // namespace Gui
