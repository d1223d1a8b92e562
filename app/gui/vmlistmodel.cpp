#include "app/gui/vmlistmodel.h"

#include "core/agent/agentclient.h"

#include <algorithm>

namespace Gui {
namespace {

constexpr int kUptimeTickMs = 1000;

} // namespace

VmListModel::VmListModel(Vm::VmManager &manager, QObject *parent)
    : QAbstractTableModel(parent)
    , m_manager(manager)
{
    for (const Vm::VmInfo &info : manager.list()) {
        Row row{info, {}};
        if (isUp(info.state))
            row.runningSince = QDateTime::currentDateTimeUtc();
        m_rows << row;
    }
    connect(&manager, &Vm::VmManager::vmAdded, this, &VmListModel::onAdded);
    connect(&manager, &Vm::VmManager::vmRemoved, this, &VmListModel::onRemoved);
    connect(&manager, &Vm::VmManager::vmStateChanged, this, &VmListModel::onStateChanged);
    m_uptimeTimer.setInterval(kUptimeTickMs);
    connect(&m_uptimeTimer, &QTimer::timeout, this, &VmListModel::tick);
    m_usageTimer.setInterval(kUsageMs);
    connect(&m_usageTimer, &QTimer::timeout, this, &VmListModel::sampleUsage);
    m_clock.start();
    updateTimer();
}

VmListModel::~VmListModel() = default;

int VmListModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_rows.size());
}

int VmListModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant VmListModel::data(const QModelIndex &index, int role) const
{
    if (!index.isValid() || index.row() < 0 || index.row() >= m_rows.size())
        return {};
    const Row &row = m_rows.at(index.row());
    const Vm::VmRecord &rec = row.info.record;
    const qint64 uptime = row.runningSince.isValid() ? row.runningSince.secsTo(QDateTime::currentDateTimeUtc()) : -1;
    switch (role) {
    case NameRole: return rec.name;
    case StateRole: return static_cast<int>(row.info.state);
    case Qt::DisplayRole:
        switch (index.column()) {
        case NameColumn: return rec.name;
        case TemplateColumn: return rec.templateName;
        case StateColumn: return stateText(row.info.state);
        case VcpusColumn: return rec.vcpus;
        case MemoryColumn: return tr("%1 MiB").arg(rec.memoryMiB);
        case CpuColumn: return row.cpuPercent >= 0 ? tr("%1 %").arg(row.cpuPercent, 0, 'f', 0) : QString();
        case MemoryUseColumn: return row.memUsedMiB >= 0 ? tr("%1 / %2 MiB").arg(row.memUsedMiB).arg(row.memTotalMiB) : QString();
        case UptimeColumn: return uptime >= 0 ? uptimeText(uptime) : QString();
        default: return {};
        }
    case SortRole:
        switch (index.column()) {
        case StateColumn: return static_cast<int>(row.info.state);
        case VcpusColumn: return rec.vcpus;
        case MemoryColumn: return rec.memoryMiB;
        case CpuColumn: return row.cpuPercent;
        case MemoryUseColumn: return row.memUsedMiB;
        case UptimeColumn: return uptime;
        default: return data(index, Qt::DisplayRole);
        }
    case CpuHistoryRole: return index.column() == CpuColumn ? QVariant::fromValue(row.cpuHistory) : QVariant();
    case Qt::DecorationRole: return index.column() == StateColumn ? QVariant(stateColour(row.info.state)) : QVariant(); // a badge
    case Qt::ToolTipRole:
        if (index.column() == StateColumn && rec.lastError)
            return tr("Last error: %1").arg(rec.lastError->message);
        return {};
    case Qt::TextAlignmentRole:
        if (index.column() >= VcpusColumn)
            return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
        return {};
    default: return {};
    }
}

QVariant VmListModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (section) {
    case NameColumn: return tr("Name");
    case TemplateColumn: return tr("Template");
    case StateColumn: return tr("State");
    case VcpusColumn: return tr("vCPUs");
    case MemoryColumn: return tr("Memory");
    case CpuColumn: return tr("CPU");
    case MemoryUseColumn: return tr("Memory use");
    case UptimeColumn: return tr("Uptime");
    default: return {};
    }
}

int VmListModel::rowOf(const QString &name) const
{
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).info.record.name == name)
            return i;
    return -1;
}

QString VmListModel::nameAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).info.record.name : QString();
}

Vm::VirtualMachine::State VmListModel::stateOf(const QString &name) const
{
    const int row = rowOf(name);
    return row >= 0 ? m_rows.at(row).info.state : Vm::VirtualMachine::State::Created;
}

QString VmListModel::stateText(Vm::VirtualMachine::State state)
{
    using State = Vm::VirtualMachine::State;
    switch (state) {
    case State::Created: return tr("Created");
    case State::Preparing: return tr("Preparing");
    case State::Booting: return tr("Booting");
    case State::Ready: return tr("Running");
    case State::Paused: return tr("Paused");
    case State::Stopping: return tr("Stopping");
    case State::Stopped: return tr("Stopped");
    case State::Failed: return tr("Failed");
    }
    return {};
}

QColor VmListModel::stateColour(Vm::VirtualMachine::State state)
{
    using State = Vm::VirtualMachine::State;
    switch (state) {
    case State::Ready: return QColor(0x2e, 0xa0, 0x43);
    case State::Paused: return QColor(0xd9, 0x8e, 0x04);
    case State::Preparing:
    case State::Booting:
    case State::Stopping: return QColor(0x2f, 0x7d, 0xd1);
    case State::Failed: return QColor(0xd1, 0x24, 0x2f);
    case State::Created:
    case State::Stopped: break;
    }
    return QColor(0x8c, 0x95, 0x9f);
}

QString VmListModel::uptimeText(qint64 seconds)
{
    const qint64 h = seconds / 3600;
    const qint64 m = (seconds / 60) % 60;
    const qint64 s = seconds % 60;
    if (h > 0)
        return tr("%1:%2:%3").arg(h).arg(m, 2, 10, QLatin1Char('0')).arg(s, 2, 10, QLatin1Char('0'));
    return tr("%1:%2").arg(m).arg(s, 2, 10, QLatin1Char('0'));
}

bool VmListModel::isUp(Vm::VirtualMachine::State state)
{
    return state == Vm::VirtualMachine::State::Ready || state == Vm::VirtualMachine::State::Paused;
}

void VmListModel::onAdded(const QString &name)
{
    if (rowOf(name) >= 0)
        return;
    auto info = m_manager.info(name);
    if (!info)
        return;
    const auto it = std::lower_bound(m_rows.cbegin(), m_rows.cend(), name, [](const Row &r, const QString &n) { return r.info.record.name < n; });
    const int row = static_cast<int>(it - m_rows.cbegin());
    beginInsertRows({}, row, row);
    m_rows.insert(row, Row{*info, isUp(info->state) ? QDateTime::currentDateTimeUtc() : QDateTime()});
    endInsertRows();
    updateTimer();
}

void VmListModel::onRemoved(const QString &name)
{
    const int row = rowOf(name);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    endRemoveRows();
    updateTimer();
}

void VmListModel::onStateChanged(const QString &name, Vm::VirtualMachine::State state)
{
    const int row = rowOf(name);
    if (row < 0) {
        onAdded(name);
        return;
    }
    Row &r = m_rows[row];
    const bool wasUp = isUp(r.info.state);
    if (auto info = m_manager.info(name))
        r.info = *info;
    r.info.state = state; // the state the signal reported, even if it moved on
    if (isUp(state) && !wasUp)
        r.runningSince = QDateTime::currentDateTimeUtc();
    else if (!isUp(state))
        r.runningSince = QDateTime();
    if (!isUp(state))
        clearUsage(r);
    refreshRow(row);
    updateTimer();
}

void VmListModel::refreshRow(int row)
{
    Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
}

void VmListModel::tick()
{
    for (int i = 0; i < m_rows.size(); ++i)
        if (m_rows.at(i).runningSince.isValid())
            Q_EMIT dataChanged(index(i, UptimeColumn), index(i, UptimeColumn), {Qt::DisplayRole, SortRole});
}

void VmListModel::updateTimer()
{
    const bool any = std::any_of(m_rows.cbegin(), m_rows.cend(), [](const Row &r) { return r.runningSince.isValid(); });
    if (any && !m_uptimeTimer.isActive()) {
        m_uptimeTimer.start();
        m_usageTimer.start();
        sampleUsage();
    } else if (!any) {
        m_uptimeTimer.stop();
        m_usageTimer.stop();
    }
}

void VmListModel::clearUsage(Row &row)
{
    row.cpuPercent = -1;
    row.cpuHistory.clear();
    row.cpuMs = -1;
    row.memUsedMiB = -1;
    row.memTotalMiB = -1;
}

void VmListModel::sampleUsage()
{
    const qint64 now = m_clock.elapsed();
    for (int i = 0; i < m_rows.size(); ++i) {
        Row &r = m_rows[i];
        if (!r.runningSince.isValid())
            continue;
        const QString name = r.info.record.name;
        const qint64 cpuMs = m_manager.vmmCpuMs(name).valueOr(-1);
        if (cpuMs >= 0 && r.cpuMs >= 0 && now > r.sampledAtMs) {
            r.cpuPercent = 100.0 * double(cpuMs - r.cpuMs) / double(now - r.sampledAtMs);
            r.cpuHistory.append(r.cpuPercent);
            if (r.cpuHistory.size() > kCpuHistory)
                r.cpuHistory.removeFirst();
        }
        r.cpuMs = cpuMs;
        r.sampledAtMs = now;
        Q_EMIT dataChanged(index(i, CpuColumn), index(i, CpuColumn), {Qt::DisplayRole, SortRole, CpuHistoryRole});

        // Memory use as the guest sees it (a running guest only; one ask at a time).
        auto agent = m_manager.agent(name);
        if (!agent || r.healthPending)
            continue;
        r.healthPending = true;
        Core::whenDone((*agent)->health(), this, [this, name](const Core::Expected<Agent::Health> &h) {
            const int row = rowOf(name);
            if (row < 0)
                return;
            Row &rr = m_rows[row];
            rr.healthPending = false;
            if (!h || !rr.runningSince.isValid())
                return;
            rr.memTotalMiB = static_cast<qint64>(h->memTotalKiB / 1024);
            rr.memUsedMiB = static_cast<qint64>((h->memTotalKiB - qMin(h->memAvailableKiB, h->memTotalKiB)) / 1024);
            Q_EMIT dataChanged(index(row, MemoryUseColumn), index(row, MemoryUseColumn), {Qt::DisplayRole, SortRole});
        });
    }
}

} // namespace Gui
