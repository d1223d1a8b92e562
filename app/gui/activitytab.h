#pragma once
// Gui::ActivityTab: the selected VM's activity log, what an agent did
// through the API as it happened: time, action, what (coordinates, the text
// typed, keys, the command, the path), result. Its history comes from an
// ActivitySource when the VM is selected; later events arrive through
// add() (the app connects the service's activity log). It keeps the last
// kMaxRows of a VM and says so when there is nothing yet.

#include "app/gui/activityitem.h"

#include <QWidget>

class QLabel;
class QTreeWidget;

namespace Gui {

class ActivityTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActivityTab)
public:
    static constexpr int kMaxRows = 500;

    explicit ActivityTab(QWidget *parent = nullptr);

    void setSource(ActivitySource source);
    void setVm(const QString &name);
    // An event as it happens: shown when it is the selected VM's.
    void add(const ActivityItem &item);

    // The action and what it was about, for people: "Click at 640, 400",
    // "Type “abc”", "Key ctrl+c", "Run echo hi (exit 0)".
    static QString describe(const ActivityItem &item);

    QTreeWidget *list() const { return m_list; }
    QLabel *emptyLabel() const { return m_empty; }

private:
    void append(const ActivityItem &item);
    void updateEmpty();

    ActivitySource m_source;
    QString m_vm;
    QTreeWidget *m_list;
    QLabel *m_empty;
};

} // namespace Gui
