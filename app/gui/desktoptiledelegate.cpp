#include "app/gui/desktoptiledelegate.h"

#include "app/gui/desktopgrid.h"
#include "app/gui/vmlistmodel.h"

#include <QApplication>
#include <QPainter>
#include <QPainterPath>

namespace Gui {
namespace {

constexpr int kPad = 6;
constexpr int kSignRadius = 5;

// A lit sign is filled; an unlit one is an outline.
void paintSign(QPainter *painter, const QPointF &centre, QColor colour, bool lit)
{
    painter->setPen(QPen(colour, 1.5));
    painter->setBrush(lit ? QBrush(colour) : QBrush(Qt::NoBrush));
    painter->drawEllipse(centre, kSignRadius, kSignRadius);
}

} // namespace

DesktopTileDelegate::DesktopTileDelegate(QObject *parent)
    : QStyledItemDelegate(parent)
{
}

QSize DesktopTileDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &) const
{
    return option.decorationSize + QSize(0, kStripHeight);
}

void DesktopTileDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    painter->save();
    painter->setRenderHint(QPainter::Antialiasing);
    const QRect tile = option.rect.adjusted(2, 2, -2, -2);
    const bool selected = option.state & QStyle::State_Selected;
    painter->fillRect(tile, QColor(0x1e, 0x1f, 0x22));
    const QRect picture(tile.topLeft(), QSize(tile.width(), tile.height() - kStripHeight));
    const QIcon icon = index.data(Qt::DecorationRole).value<QIcon>();
    const QPixmap thumb = icon.pixmap(picture.size());
    if (!thumb.isNull()) {
        const QSize fitted = thumb.size().scaled(picture.size(), Qt::KeepAspectRatio);
        QRect target(QPoint(), fitted);
        target.moveCenter(picture.center());
        painter->drawPixmap(target, thumb);
    }
    paintStrip(painter, QRect(picture.bottomLeft() + QPoint(0, 1), QSize(tile.width(), kStripHeight)), index);
    painter->setBrush(Qt::NoBrush);
    painter->setPen(QPen(selected ? option.palette.highlight().color() : QColor(0x3a, 0x3c, 0x42), selected ? 3 : 1));
    painter->drawRect(tile);
    painter->restore();
}

void DesktopTileDelegate::paintStrip(QPainter *painter, const QRect &strip, const QModelIndex &index) const
{
    painter->fillRect(strip, QColor(0x2b, 0x2d, 0x31));
    const auto state = static_cast<Vm::VirtualMachine::State>(index.data(DesktopGrid::StateRole).toInt());
    // Right to left: the signs, then the badge; the name takes what is left.
    const double signY = strip.center().y() + 0.5;
    double x = strip.right() - kPad - kSignRadius;
    paintSign(painter, QPointF(x, signY), QColor::fromRgb(kAgentSignRgb), index.data(DesktopGrid::AgentActiveRole).toBool());
    x -= 3 * kSignRadius;
    paintSign(painter, QPointF(x, signY), QColor::fromRgb(kScreenSignRgb), index.data(DesktopGrid::ScreenActiveRole).toBool());
    x -= 2 * kSignRadius + kPad;

    QFont small = painter->font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    const QString badgeText = VmListModel::stateText(state);
    const QString driver = index.data(DesktopGrid::DriverRole).toString();
    const QFontMetrics smallMetrics(small);
    const int badgeWidth = smallMetrics.horizontalAdvance(badgeText) + 2 * kPad;
    const QRectF badge(x - badgeWidth, strip.top() + 6, badgeWidth, strip.height() - 12);
    QPainterPath path;
    path.addRoundedRect(badge, badge.height() / 2, badge.height() / 2);
    painter->fillPath(path, VmListModel::stateColour(state));
    painter->setFont(small);
    painter->setPen(Qt::white);
    painter->drawText(badge, Qt::AlignCenter, badgeText);
    const int driverWidth = driver.isEmpty() ? 0 : smallMetrics.horizontalAdvance(driver) + kPad;
    const QRectF driverRect(badge.left() - driverWidth - kPad, strip.top(), driverWidth, strip.height());
    painter->setPen(QColor(0xf0, 0xb3, 0x5a));
    painter->drawText(driverRect, Qt::AlignVCenter | Qt::AlignRight, driver);

    QFont bold = QApplication::font();
    bold.setBold(true);
    painter->setFont(bold);
    painter->setPen(QColor(0xdd, 0xdd, 0xdd));
    const QRectF nameRect(strip.left() + kPad, strip.top(), driverRect.left() - strip.left() - 2 * kPad, strip.height());
    painter->drawText(nameRect, Qt::AlignVCenter | Qt::AlignLeft,
                      QFontMetrics(bold).elidedText(index.data(Qt::DisplayRole).toString(), Qt::ElideRight, int(nameRect.width())));
}

} // namespace Gui
