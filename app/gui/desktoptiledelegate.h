#pragma once
// Gui::DesktopTileDelegate: one tile of the desktops wall (DesktopGrid):
// the live thumbnail filling the tile, and under it a strip with the VM's
// name, its state as a coloured badge, who drives (the agent or a person)
// and two activity signs, lit while the screen changed or the agent acted
// in the last seconds. Everything it draws comes from the item's roles.

#include <QStyledItemDelegate>

namespace Gui {

class DesktopTileDelegate final : public QStyledItemDelegate {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(DesktopTileDelegate)
public:
    static constexpr int kStripHeight = 30; // the label strip under the picture
    static constexpr QRgb kAgentSignRgb = 0xffff2d95; // as ActionOverlay's marks
    static constexpr QRgb kScreenSignRgb = 0xff2ea043;

    explicit DesktopTileDelegate(QObject *parent = nullptr);

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;

private:
    void paintStrip(QPainter *painter, const QRect &strip, const QModelIndex &index) const;
};

} // namespace Gui
