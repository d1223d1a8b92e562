#pragma once
// Gui::VmListModel: the VMs of a Vm::VmManager as a table (name, template,
// state, vCPUs, memory, CPU use, memory use, uptime), kept in step with the
// manager's signals. Only the measured columns tick, while some VM runs:
// uptime every second; CPU use (the VMM process's CPU time on this host, 100 %
// = one host CPU) and memory use (the guest's own view, from its agent) every
// kUsageMs.

#include "core/vm/vmmanager.h"

#include <QAbstractTableModel>
#include <QColor>
#include <QDateTime>
#include <QElapsedTimer>
#include <QList>
#include <QTimer>

namespace Gui {

class VmListModel final : public QAbstractTableModel {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(VmListModel)
public:
    static constexpr int kUsageMs = 2000;

    enum Column { NameColumn, TemplateColumn, StateColumn, VcpusColumn, MemoryColumn, CpuColumn, MemoryUseColumn, UptimeColumn, ColumnCount };
    enum Role {
        NameRole = Qt::UserRole + 1, // the VM's name (every column)
        StateRole, // int(Vm::VirtualMachine::State) (every column)
        SortRole, // numbers as numbers for the sort proxy
        CpuHistoryRole, // CpuColumn: QList<double>, the last kCpuHistory CPU shares, oldest first
    };
    // CPU shares kept per running VM for its sparkline (a minute at kUsageMs).
    static constexpr int kCpuHistory = 30;

    // The manager must outlive the model.
    explicit VmListModel(Vm::VmManager &manager, QObject *parent = nullptr);
    ~VmListModel() override;

    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    int columnCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // The row of a VM, -1 when not listed.
    int rowOf(const QString &name) const;
    QString nameAt(int row) const;
    Vm::VirtualMachine::State stateOf(const QString &name) const;

    static QString stateText(Vm::VirtualMachine::State state);
    // A state's badge colour: running green, paused amber, starting and
    // stopping blue, failed red, stopped and created grey.
    static QColor stateColour(Vm::VirtualMachine::State state);
    static QString uptimeText(qint64 seconds);

private:
    struct Row {
        Vm::VmInfo info;
        QDateTime runningSince; // invalid: not running
        double cpuPercent = -1; // -1: not measured yet
        QList<double> cpuHistory = QList<double>(); // the last kCpuHistory shares, oldest first
        qint64 cpuMs = -1; // the VMM's CPU time at the last sample
        qint64 sampledAtMs = 0;
        qint64 memUsedMiB = -1;
        qint64 memTotalMiB = -1;
        bool healthPending = false;
    };

    void onAdded(const QString &name);
    void onRemoved(const QString &name);
    void onStateChanged(const QString &name, Vm::VirtualMachine::State state);
    void refreshRow(int row);
    void tick();
    void sampleUsage();
    static void clearUsage(Row &row);
    void updateTimer();
    static bool isUp(Vm::VirtualMachine::State state);

    Vm::VmManager &m_manager;
    QList<Row> m_rows; // sorted by name, like VmManager::list()
    QTimer m_uptimeTimer;
    QTimer m_usageTimer;
    QElapsedTimer m_clock;
};

} // namespace Gui
