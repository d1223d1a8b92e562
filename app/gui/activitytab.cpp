#include "app/gui/activitytab.h"

#include <QHeaderView>
#include <QLabel>
#include <QLocale>
#include <QScrollBar>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace Gui {

namespace {

enum Column { Time, Action, Result, Duration };

int detailInt(const ActivityItem &item, const char *key)
{
    return item.detail.value(QLatin1String(key)).toInt();
}

QString detailText(const ActivityItem &item, const char *key)
{
    return item.detail.value(QLatin1String(key)).toString();
}

QString describePointer(const ActivityItem &item)
{
    const bool at = item.detail.contains(QStringLiteral("x"));
    const QString where = at ? ActivityTab::tr("at %1, %2").arg(detailInt(item, "x")).arg(detailInt(item, "y")) : ActivityTab::tr("where the pointer is");
    if (item.action == QLatin1String("click"))
        return ActivityTab::tr("Click %1").arg(where);
    if (item.action == QLatin1String("double_click"))
        return ActivityTab::tr("Double click %1").arg(where);
    if (item.action == QLatin1String("triple_click"))
        return ActivityTab::tr("Triple click %1").arg(where);
    if (item.action == QLatin1String("move"))
        return ActivityTab::tr("Move the pointer %1").arg(where);
    if (item.action == QLatin1String("scroll"))
        return ActivityTab::tr("Scroll %1 by %2, %3").arg(where).arg(detailInt(item, "dx")).arg(detailInt(item, "dy"));
    return ActivityTab::tr("Drag from %1, %2 to %3, %4")
        .arg(detailInt(item, "x"))
        .arg(detailInt(item, "y"))
        .arg(detailInt(item, "to_x"))
        .arg(detailInt(item, "to_y"));
}

QString describeGuest(const ActivityItem &item)
{
    if (item.action == QLatin1String("exec")) {
        const QJsonValue exit = item.detail.value(QStringLiteral("exit_code"));
        return exit.isDouble() ? ActivityTab::tr("Run %1 (exit %2)").arg(detailText(item, "cmd")).arg(exit.toInt())
                               : ActivityTab::tr("Run %1").arg(detailText(item, "cmd"));
    }
    if (item.action == QLatin1String("file_put"))
        return ActivityTab::tr("Write %1").arg(detailText(item, "path"));
    if (item.action == QLatin1String("file_get"))
        return ActivityTab::tr("Read %1").arg(detailText(item, "path"));
    if (item.action == QLatin1String("code"))
        return ActivityTab::tr("Run %1 code: %2").arg(detailText(item, "language"), detailText(item, "code"));
    return item.action;
}

} // namespace

ActivityTab::ActivityTab(QWidget *parent)
    : QWidget(parent)
    , m_list(new QTreeWidget(this))
    , m_empty(new QLabel(this))
{
    setObjectName(QStringLiteral("activityTab"));
    m_list->setObjectName(QStringLiteral("activityList"));
    m_list->setAccessibleName(tr("Activity"));
    m_list->setRootIsDecorated(false);
    m_list->setUniformRowHeights(true);
    m_list->setHeaderLabels({tr("Time"), tr("Action"), tr("Result"), tr("Took")});
    m_list->header()->setSectionResizeMode(Action, QHeaderView::Stretch);
    m_list->header()->setStretchLastSection(false);
    m_empty->setObjectName(QStringLiteral("activityEmpty"));
    m_empty->setWordWrap(true);
    m_empty->setAlignment(Qt::AlignCenter);
    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_empty);
    layout->addWidget(m_list);
    updateEmpty();
}

void ActivityTab::setSource(ActivitySource source)
{
    m_source = std::move(source);
    setVm(m_vm);
}

void ActivityTab::setVm(const QString &name)
{
    m_vm = name;
    m_list->clear();
    if (m_source && !name.isEmpty()) {
        const QList<ActivityItem> items = m_source(name);
        for (qsizetype i = std::max<qsizetype>(0, items.size() - kMaxRows); i < items.size(); ++i)
            append(items[i]);
    }
    updateEmpty();
}

void ActivityTab::add(const ActivityItem &item)
{
    if (item.vm != m_vm || m_vm.isEmpty())
        return;
    // Follows the newest unless the person scrolled back.
    QScrollBar *bar = m_list->verticalScrollBar();
    const bool atEnd = bar->value() == bar->maximum();
    append(item);
    while (m_list->topLevelItemCount() > kMaxRows)
        delete m_list->takeTopLevelItem(0);
    if (atEnd)
        m_list->scrollToBottom();
    updateEmpty();
}

QString ActivityTab::describe(const ActivityItem &item)
{
    const QString &a = item.action;
    if (a == QLatin1String("type"))
        return tr("Type “%1”").arg(detailText(item, "text"));
    if (a == QLatin1String("key"))
        return tr("Key %1").arg(detailText(item, "keys"));
    if (a == QLatin1String("screenshot"))
        return item.detail.contains(QStringLiteral("width")) ? tr("Screenshot (%1×%2)").arg(detailInt(item, "width")).arg(detailInt(item, "height"))
                                                             : tr("Screenshot");
    if (a == QLatin1String("click") || a == QLatin1String("double_click") || a == QLatin1String("triple_click") || a == QLatin1String("move")
        || a == QLatin1String("scroll") || a == QLatin1String("drag"))
        return describePointer(item);
    return describeGuest(item);
}

void ActivityTab::append(const ActivityItem &item)
{
    auto *row = new QTreeWidgetItem(m_list);
    row->setText(Time, QLocale().toString(item.time.toLocalTime().time(), QStringLiteral("HH:mm:ss.zzz")));
    row->setText(Action, describe(item));
    row->setToolTip(Action, describe(item));
    row->setText(Result, item.result == QLatin1String("ok") ? tr("done") : item.result);
    if (item.result != QLatin1String("ok"))
        row->setForeground(Result, QColor(0xc0, 0x1c, 0x28));
    row->setText(Duration, tr("%1 ms").arg(item.durationMs));
    row->setData(Time, Qt::UserRole, qulonglong(item.seq));
}

void ActivityTab::updateEmpty()
{
    const bool none = m_list->topLevelItemCount() == 0;
    m_empty->setText(m_vm.isEmpty() ? tr("Select a VM to see what agents do in it.")
                                    : tr("Nothing done to %1 through the API yet. Clicks, typing, keys, screenshots, commands, files and code "
                                         "an agent sends show here as they happen.")
                                          .arg(m_vm));
    m_empty->setVisible(none);
    m_list->setVisible(!none);
}

} // namespace Gui
