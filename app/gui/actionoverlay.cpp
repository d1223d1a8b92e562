#include "app/gui/actionoverlay.h"

#include "app/gui/activitytab.h"
#include "vncview/widget/vncviewwidget.h"

#include <QEvent>
#include <QFontMetrics>
#include <QPainter>
#include <QPainterPath>

#include <cmath>

namespace Gui {
namespace {

bool isPointerAction(const QString &action)
{
    static const QStringList pointer{QStringLiteral("click"), QStringLiteral("double_click"), QStringLiteral("triple_click"),
                                     QStringLiteral("move"),  QStringLiteral("drag"),         QStringLiteral("scroll")};
    return pointer.contains(action);
}

bool isCaptioned(const QString &action)
{
    return action == QLatin1String("type") || action == QLatin1String("key") || action == QLatin1String("screenshot");
}

int ringsOf(const QString &action)
{
    if (action == QLatin1String("double_click"))
        return 2;
    if (action == QLatin1String("triple_click"))
        return 3;
    return 1;
}

// 1 when new, 0 when `lifeMs` old.
double fade(const QElapsedTimer &age, int lifeMs)
{
    return qBound(0.0, 1.0 - double(age.elapsed()) / lifeMs, 1.0);
}

} // namespace

ActionOverlay::ActionOverlay(Vnc::VncViewWidget *view)
    : QWidget(view)
    , m_view(view)
{
    setAttribute(Qt::WA_TransparentForMouseEvents);
    setAttribute(Qt::WA_NoSystemBackground);
    setFocusPolicy(Qt::NoFocus);
    setGeometry(view->rect());
    view->installEventFilter(this);
    m_tick.setInterval(kTickMs);
    connect(&m_tick, &QTimer::timeout, this, &ActionOverlay::onTick);
    hide();
}

void ActionOverlay::showAction(const ActivityItem &item)
{
    if (item.result != QLatin1String("ok"))
        return; // refused or failed: it did not reach the screen
    if (isPointerAction(item.action)) {
        if (const auto at = pointOf(item))
            addMark(item, *at);
    } else if (isCaptioned(item.action)) {
        setCaption(ActivityTab::describe(item));
    } else {
        return;
    }
    if (!m_tick.isActive())
        m_tick.start();
    raise();
    show();
    update();
}

void ActionOverlay::clear()
{
    m_marks.clear();
    m_pointer.reset();
    m_caption.clear();
    m_tick.stop();
    hide();
}

std::optional<QPointF> ActionOverlay::newestMarkPos() const
{
    if (m_marks.isEmpty() || m_view->frameSize().isEmpty())
        return std::nullopt;
    const Mark &m = m_marks.constLast();
    return m_view->mapFromFrame(m.action == QLatin1String("drag") ? m.to : m.at);
}

std::optional<QPointF> ActionOverlay::pointOf(const ActivityItem &item) const
{
    const QJsonObject &d = item.detail;
    if (d.contains(QStringLiteral("x")) && d.contains(QStringLiteral("y")))
        return QPointF(d.value(QStringLiteral("x")).toDouble(), d.value(QStringLiteral("y")).toDouble());
    return m_pointer; // "where the pointer is": where the agent last put it, if we saw it
}

void ActionOverlay::addMark(const ActivityItem &item, const QPointF &at)
{
    Mark m;
    m.action = item.action;
    m.at = at;
    const QJsonObject &d = item.detail;
    if (item.action == QLatin1String("drag"))
        m.to = QPointF(d.value(QStringLiteral("to_x")).toDouble(), d.value(QStringLiteral("to_y")).toDouble());
    else if (item.action == QLatin1String("scroll"))
        m.to = QPointF(d.value(QStringLiteral("dx")).toDouble(), d.value(QStringLiteral("dy")).toDouble());
    m.age.start();
    m_pointer = item.action == QLatin1String("drag") ? m.to : at;
    m_marks.append(m);
    while (m_marks.size() > kMaxMarks)
        m_marks.removeFirst();
}

void ActionOverlay::setCaption(const QString &text)
{
    m_caption = text.size() > kMaxCaptionChars ? text.left(kMaxCaptionChars - 1) + QChar(0x2026) : text;
    m_captionAge.start();
}

void ActionOverlay::onTick()
{
    m_marks.removeIf([](const Mark &m) { return m.age.elapsed() >= kMarkMs; });
    if (!m_caption.isEmpty() && m_captionAge.elapsed() >= kCaptionMs)
        m_caption.clear();
    if (m_marks.isEmpty() && m_caption.isEmpty()) {
        m_tick.stop();
        hide();
        return;
    }
    update();
}

bool ActionOverlay::eventFilter(QObject *watched, QEvent *event)
{
    if (watched == m_view && event->type() == QEvent::Resize)
        setGeometry(m_view->rect());
    return QWidget::eventFilter(watched, event);
}

void ActionOverlay::paintEvent(QPaintEvent *)
{
    QPainter painter(this);
    painter.setRenderHint(QPainter::Antialiasing);
    if (!m_view->frameSize().isEmpty()) {
        for (const Mark &m : std::as_const(m_marks))
            paintMark(painter, m);
    }
    if (!m_caption.isEmpty())
        paintCaption(painter);
}

void ActionOverlay::paintMark(QPainter &painter, const Mark &mark) const
{
    QColor colour = QColor::fromRgb(kMarkRgb);
    colour.setAlphaF(float(fade(mark.age, kMarkMs)));
    painter.setPen(QPen(colour, 3));
    painter.setBrush(Qt::NoBrush);
    const QPointF at = m_view->mapFromFrame(mark.at);
    if (mark.action == QLatin1String("drag")) {
        const QPointF to = m_view->mapFromFrame(mark.to);
        painter.drawLine(at, to);
        painter.drawEllipse(at, 4, 4);
        painter.drawEllipse(to, kRingRadius, kRingRadius);
        return;
    }
    if (mark.action == QLatin1String("move")) {
        painter.drawEllipse(at, kRingRadius / 2.0, kRingRadius / 2.0);
        return;
    }
    if (mark.action == QLatin1String("scroll")) {
        const double length = 2.0 * kRingRadius;
        const QPointF dir(mark.to.x() > 0 ? 1 : mark.to.x() < 0 ? -1 : 0, mark.to.y() > 0 ? 1 : mark.to.y() < 0 ? -1 : 0);
        const QPointF tip = at + dir * length;
        painter.drawLine(at, tip);
        const QPointF side(-dir.y() * 6, dir.x() * 6);
        painter.drawLine(tip, tip - dir * 8 + side);
        painter.drawLine(tip, tip - dir * 8 - side);
        painter.drawEllipse(at, 4, 4);
        return;
    }
    // Clicks: a filled centre and one ring per click.
    painter.setBrush(colour);
    painter.drawEllipse(at, 4, 4);
    painter.setBrush(Qt::NoBrush);
    for (int i = 0; i < ringsOf(mark.action); ++i) {
        const double r = kRingRadius + 6 * i;
        painter.drawEllipse(at, r, r);
    }
}

void ActionOverlay::paintCaption(QPainter &painter) const
{
    const double alpha = fade(m_captionAge, kCaptionMs);
    QFont font = painter.font();
    font.setPointSizeF(font.pointSizeF() * 1.2);
    painter.setFont(font);
    const QFontMetrics metrics(font);
    const int pad = 8;
    const QRect text = metrics.boundingRect(m_caption);
    QRectF box(0, 0, text.width() + 2 * pad, metrics.height() + 2 * pad);
    box.moveCenter(QPointF(width() / 2.0, height() - box.height() / 2 - 16));
    QColor back(20, 20, 24);
    back.setAlphaF(float(0.8 * alpha));
    QColor front = QColor::fromRgb(kMarkRgb).lighter(150);
    front.setAlphaF(float(alpha));
    QPainterPath path;
    path.addRoundedRect(box, 6, 6);
    painter.fillPath(path, back);
    painter.setPen(front);
    painter.drawText(box, Qt::AlignCenter, m_caption);
}

} // namespace Gui
