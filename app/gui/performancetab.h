#pragma once
// Gui::PerformanceTab: the selected VM's usage over the last minutes as
// four live charts: its VMM's CPU, memory (the VMM's resident set and what
// the guest uses), its own disk, and its network (received and sent per
// second). The samples come from a UsageSource (the service's usage
// history, Server::UsageHistory, set by the app); the tab reads it every
// kRefreshMs while it is shown.

#include "app/gui/usagechart.h"

#include <QList>
#include <QTimer>
#include <QWidget>

#include <functional>
#include <optional>

class QLabel;

namespace Gui {

// One sample of a VM's usage (cumulative counters as they were read).
struct UsagePoint {
    qint64 atMs = 0; // ms since the epoch
    std::optional<double> cpuPercent; // of one core, since the sample before
    std::optional<double> vmmResidentBytes;
    std::optional<double> guestUsedBytes; // total less available
    std::optional<double> diskBytes;
    std::optional<double> networkReceivedBytes; // from the start of its network
    std::optional<double> networkSentBytes;
};
// A VM's samples, oldest first (empty: none yet, or no history at all).
using UsageSource = std::function<QList<UsagePoint>(const QString &vm)>;

class PerformanceTab final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PerformanceTab)
public:
    static constexpr int kRefreshMs = 5000;

    explicit PerformanceTab(QWidget *parent = nullptr);

    void setSource(UsageSource source);
    void setVm(const QString &name);
    QString vm() const { return m_vm; }
    // Read the source and redraw now (what the timer does).
    void refresh();

    UsageChart *cpuChart() const { return m_cpu; }
    UsageChart *memoryChart() const { return m_memory; }
    UsageChart *diskChart() const { return m_disk; }
    UsageChart *networkChart() const { return m_network; }
    // What the tab says when there is nothing to draw.
    QLabel *emptyLabel() const { return m_empty; }

    // Bytes per second between consecutive samples of a counter (a counter
    // that went down, a new network, starts again from there).
    static QList<QPointF> ratePerSecond(const QList<UsagePoint> &points, std::optional<double> UsagePoint::*counter);

protected:
    void showEvent(QShowEvent *event) override;
    void hideEvent(QHideEvent *event) override;

private:
    void showEmpty(const QString &why);

    UsageSource m_source;
    QString m_vm;
    QTimer m_timer;
    QLabel *m_empty = nullptr;
    QWidget *m_charts = nullptr;
    UsageChart *m_cpu = nullptr;
    UsageChart *m_memory = nullptr;
    UsageChart *m_disk = nullptr;
    UsageChart *m_network = nullptr;
};

} // namespace Gui
