#pragma once
// Gui::ActionOverlay: what an agent does to a desktop, drawn over its live
// view (a Vnc::VncViewWidget) as the service publishes it, so that a person
// watching sees it before its effect shows: a ring where it clicked (two or
// three for double and triple clicks), a line ending in a ring where it
// dragged, an arrow where it scrolled, a small ring where it moved the
// pointer; and a caption of what it typed, pressed, or that it took a
// screenshot. Marks fade out over kMarkMs, the caption over kCaptionMs.
//
// A child of the view that covers it and lets the mouse through; it follows
// the view's size and maps the guest's screen coordinates with the view's
// own scaling. It runs no timer and paints nothing while nothing is shown.

#include "app/gui/activityitem.h"

#include <QElapsedTimer>
#include <QList>
#include <QPointF>
#include <QTimer>
#include <QWidget>

#include <optional>

namespace Vnc {
class VncViewWidget;
}

namespace Gui {

class ActionOverlay final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActionOverlay)
public:
    static constexpr int kMarkMs = 1500;
    static constexpr int kCaptionMs = 3000;
    static constexpr int kMaxMarks = 32; // an agent's burst keeps its last ones
    static constexpr int kTickMs = 40; // the fade's frame interval
    static constexpr int kRingRadius = 14; // widget pixels
    static constexpr QRgb kMarkRgb = 0xffff2d95; // a pink that no desktop theme uses
    static constexpr int kMaxCaptionChars = 80;

    // Becomes a child of the view.
    explicit ActionOverlay(Vnc::VncViewWidget *view);

    // An event of the shown VM: marked if it happened on the screen.
    void showAction(const ActivityItem &item);
    // Another VM is shown: everything goes.
    void clear();

    // What is shown now (for tests and accessibility).
    int markCount() const { return int(m_marks.size()); }
    QString caption() const { return m_caption; }
    // Where the newest mark is drawn, in the view's coordinates (nullopt:
    // none, or the view has no frame yet).
    std::optional<QPointF> newestMarkPos() const;

protected:
    void paintEvent(QPaintEvent *event) override;
    bool eventFilter(QObject *watched, QEvent *event) override;

private:
    struct Mark {
        QString action;
        QPointF at; // guest screen pixels
        QPointF to; // drag: where it ended; scroll: dx, dy
        QElapsedTimer age;
    };

    std::optional<QPointF> pointOf(const ActivityItem &item) const;
    void addMark(const ActivityItem &item, const QPointF &at);
    void setCaption(const QString &text);
    void onTick();
    void paintMark(QPainter &painter, const Mark &mark) const;
    void paintCaption(QPainter &painter) const;

    Vnc::VncViewWidget *m_view;
    QList<Mark> m_marks;
    std::optional<QPointF> m_pointer; // where the agent's pointer was last put
    QString m_caption;
    QElapsedTimer m_captionAge;
    QTimer m_tick;
};

} // namespace Gui
