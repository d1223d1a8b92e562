#include "app/gui/snapshotstab.h"

#include "core/vm/vmmanager.h"

#include <QCheckBox>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTreeWidget>
#include <QVBoxLayout>

namespace Gui {

SnapshotsTab::SnapshotsTab(Vm::VmManager &manager, QWidget *parent)
    : QWidget(parent)
    , m_manager(manager)
{
    m_list = new QTreeWidget(this);
    m_list->setRootIsDecorated(false);
    m_list->setHeaderLabels({tr("Name"), tr("Taken"), tr("Parent"), tr("Size"), tr("Paused for")});
    m_list->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_list->setSelectionMode(QAbstractItemView::SingleSelection);
    m_name = new QLineEdit(this);
    m_name->setPlaceholderText(tr("Name (optional)"));
    m_stayPaused = new QCheckBox(tr("Stay paused"), this);
    m_take = new QPushButton(tr("&Take snapshot"), this);
    m_restore = new QPushButton(tr("Re&store"), this);
    m_fork = new QPushButton(tr("&Fork…"), this);
    m_delete = new QPushButton(tr("De&lete…"), this);
    m_cancel = new QPushButton(tr("&Cancel"), this);
    m_cancel->hide();
    m_busy = new QProgressBar(this);
    m_busy->setRange(0, 0); // busy: the VMM reports no progress we could show honestly
    m_busy->setMaximumWidth(160);
    m_busy->hide();
    m_status = new QLabel(this);
    m_status->setTextFormat(Qt::PlainText); // may show a guest's text: never rich text
    m_status->setWordWrap(true);

    auto *takeRow = new QHBoxLayout;
    takeRow->addWidget(m_name, 1);
    takeRow->addWidget(m_stayPaused);
    takeRow->addWidget(m_take);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_restore);
    buttons->addWidget(m_fork);
    buttons->addWidget(m_delete);
    buttons->addStretch(1);
    buttons->addWidget(m_busy);
    buttons->addWidget(m_cancel);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(takeRow);
    layout->addWidget(m_list, 1);
    layout->addLayout(buttons);
    layout->addWidget(m_status);

    connect(m_take, &QPushButton::clicked, this, &SnapshotsTab::take);
    connect(m_name, &QLineEdit::returnPressed, this, &SnapshotsTab::take);
    connect(m_restore, &QPushButton::clicked, this, &SnapshotsTab::restoreSelected);
    connect(m_fork, &QPushButton::clicked, this, &SnapshotsTab::forkSelected);
    connect(m_delete, &QPushButton::clicked, this, &SnapshotsTab::deleteSelected);
    connect(m_cancel, &QPushButton::clicked, this, [this]() {
        if (m_takingVm.isEmpty())
            return;
        const Core::Result r = m_manager.cancelSnapshot(m_takingVm);
        m_status->setText(r ? tr("Cancelling the snapshot of %1…").arg(m_takingVm) : tr("Cannot cancel: %1").arg(r.error().message));
        m_cancel->setEnabled(false);
    });
    connect(m_list, &QTreeWidget::itemSelectionChanged, this, &SnapshotsTab::updateButtons);
    connect(&m_manager, &Vm::VmManager::snapshotsChanged, this, [this](const QString &name) {
        if (name == m_vm)
            refresh();
    });
    connect(&m_manager, &Vm::VmManager::vmStateChanged, this, [this](const QString &name) {
        if (name == m_vm)
            refresh(); // a restore changes which snapshot is current
    });
    updateButtons();
}

SnapshotsTab::~SnapshotsTab() = default;

void SnapshotsTab::setVm(const QString &name)
{
    if (name == m_vm)
        return;
    m_vm = name;
    m_status->clear();
    refresh();
}

QString SnapshotsTab::selectedSnapshot() const
{
    const QList<QTreeWidgetItem *> items = m_list->selectedItems();
    return items.isEmpty() ? QString() : items.first()->data(NameColumn, Qt::UserRole).toString();
}

bool SnapshotsTab::selectSnapshot(const QString &name)
{
    for (int i = 0; i < m_list->topLevelItemCount(); ++i) {
        QTreeWidgetItem *item = m_list->topLevelItem(i);
        if (item->data(NameColumn, Qt::UserRole).toString() == name) {
            m_list->setCurrentItem(item);
            item->setSelected(true);
            return true;
        }
    }
    return false;
}

void SnapshotsTab::refresh()
{
    const QString keep = selectedSnapshot();
    m_list->clear();
    auto info = m_manager.info(m_vm);
    auto snapshots = m_manager.snapshots(m_vm);
    if (info && snapshots) {
        const QLocale locale;
        for (const Snapshot::SnapshotInfo &s : std::as_const(*snapshots)) {
            auto *item = new QTreeWidgetItem(m_list);
            const bool current = s.name == info->record.currentSnapshot;
            item->setText(NameColumn, current ? tr("%1 (current)").arg(s.name) : s.name);
            item->setData(NameColumn, Qt::UserRole, s.name);
            item->setText(TakenColumn, locale.toString(s.createdAt.toLocalTime(), QLocale::ShortFormat));
            item->setText(ParentColumn, s.parent.isEmpty() ? tr("—") : s.parent);
            item->setText(SizeColumn, locale.formattedDataSize(s.sizeBytes()));
            item->setText(PausedColumn, tr("%1 ms").arg(s.pausedMs));
            item->setToolTip(NameColumn, tr("%1 vCPU, %2 MiB, %3 files, template %4").arg(s.vcpus).arg(s.memoryMiB).arg(s.files.size()).arg(s.templateName));
            if (current) {
                QFont f = item->font(NameColumn);
                f.setBold(true);
                item->setFont(NameColumn, f);
            }
        }
    }
    if (!keep.isEmpty())
        selectSnapshot(keep);
    updateButtons();
}

void SnapshotsTab::updateButtons()
{
    auto info = m_manager.info(m_vm);
    const bool idle = m_doing.isEmpty() && info.hasValue();
    const auto state = info ? info->state : Vm::VirtualMachine::State::Created;
    const bool runs = state == Vm::VirtualMachine::State::Ready || state == Vm::VirtualMachine::State::Paused;
    const bool settled =
        runs || state == Vm::VirtualMachine::State::Created || state == Vm::VirtualMachine::State::Stopped || state == Vm::VirtualMachine::State::Failed;
    const bool selected = !selectedSnapshot().isEmpty();
    m_take->setEnabled(idle && runs);
    m_name->setEnabled(idle && runs);
    m_stayPaused->setEnabled(idle && runs);
    m_restore->setEnabled(idle && selected && settled);
    m_fork->setEnabled(idle && selected);
    m_delete->setEnabled(idle && selected);
}

void SnapshotsTab::begin(const QString &doing)
{
    m_doing = doing;
    m_status->setText(doing);
    m_busy->show();
    updateButtons();
}

void SnapshotsTab::finish(bool ok, const QString &message)
{
    m_doing.clear();
    m_takingVm.clear();
    m_busy->hide();
    m_cancel->hide();
    m_status->setText(message);
    refresh();
    Q_EMIT operationFinished(ok);
}

void SnapshotsTab::take()
{
    if (!m_take->isEnabled())
        return;
    const QString vm = m_vm;
    begin(tr("Taking a snapshot of %1…").arg(vm));
    m_takingVm = vm;
    m_cancel->setEnabled(true);
    m_cancel->show();
    const Vm::VmManager::SnapshotOptions options{m_name->text().trimmed(), m_stayPaused->isChecked()};
    Core::whenDone(m_manager.snapshot(vm, options), this, [this, vm](const Core::Expected<Snapshot::SnapshotInfo> &r) {
        if (!r) {
            if (r.error().code == Core::ErrorCode::Cancelled)
                finish(false, tr("The snapshot of %1 was cancelled; nothing was kept.").arg(vm));
            else
                finish(false, tr("Cannot take a snapshot of %1: %2").arg(vm, r.error().message));
            return;
        }
        m_name->clear();
        finish(true,
               tr("Took snapshot %1 of %2 (%3; the VM was paused for %4 ms).").arg(r->name, vm, QLocale().formattedDataSize(r->sizeBytes())).arg(r->pausedMs));
        selectSnapshot(r->name);
    });
}

void SnapshotsTab::confirm(const QString &title, const QString &text, const QString &action, std::function<void()> then)
{
    if (m_confirm)
        return;
    auto *box = new QMessageBox(QMessageBox::Question, title, text, QMessageBox::Cancel, this);
    box->setTextFormat(Qt::PlainText);
    QPushButton *yes = box->addButton(action, QMessageBox::AcceptRole);
    box->setDefaultButton(QMessageBox::Cancel);
    box->setObjectName(QStringLiteral("confirmSnapshot"));
    box->setAttribute(Qt::WA_DeleteOnClose);
    m_confirm = box;
    connect(box, &QMessageBox::buttonClicked, this, [yes, then = std::move(then)](QAbstractButton *clicked) {
        if (clicked == yes)
            then();
    });
    box->open();
}

void SnapshotsTab::restoreSelected()
{
    const QString vm = m_vm;
    const QString snap = selectedSnapshot();
    if (!m_restore->isEnabled() || snap.isEmpty())
        return;
    confirm(tr("Restore %1?").arg(vm), tr("Restore %1 to the snapshot %2? What it did since then is lost, unless it is in another snapshot.").arg(vm, snap),
            tr("Restore"), [this, vm, snap]() {
                begin(tr("Restoring %1 to %2…").arg(vm, snap));
                Core::whenDone(m_manager.restore(vm, snap), this, [this, vm, snap](const Core::Result &r) {
                    if (!r)
                        finish(false, tr("Cannot restore %1 to %2: %3").arg(vm, snap, r.error().message));
                    else
                        finish(true, tr("%1 runs from the snapshot %2.").arg(vm, snap));
                });
            });
}

void SnapshotsTab::forkSelected()
{
    const QString vm = m_vm;
    const QString snap = selectedSnapshot();
    if (!m_fork->isEnabled() || snap.isEmpty() || m_forkDialog)
        return;
    auto *dialog = new QDialog(this);
    dialog->setObjectName(QStringLiteral("forkDialog"));
    dialog->setWindowTitle(tr("Fork %1").arg(snap));
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    auto *count = new QSpinBox(dialog);
    count->setObjectName(QStringLiteral("forkCount"));
    count->setRange(1, Vm::VmManager::kMaxForkCount);
    auto *prefix = new QLineEdit(dialog);
    prefix->setObjectName(QStringLiteral("forkPrefix"));
    prefix->setPlaceholderText(vm.left(50) + QStringLiteral("-fork"));
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, dialog);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Fork"));
    auto *form = new QFormLayout(dialog);
    form->addRow(new QLabel(tr("Start new VMs from the snapshot %1 of %2. Each gets its own name, disk and agent channel.").arg(snap, vm), dialog));
    form->addRow(tr("How many:"), count);
    form->addRow(tr("Name prefix:"), prefix);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
    connect(dialog, &QDialog::accepted, this, [this, vm, snap, count, prefix]() {
        const Vm::VmManager::ForkOptions options{count->value(), prefix->text().trimmed()};
        begin(tr("Forking %n VM(s) from %1…", nullptr, options.count).arg(snap));
        Core::whenDone(m_manager.fork(vm, snap, options), this, [this, snap](const Core::Expected<QStringList> &r) {
            if (!r)
                finish(false, tr("Cannot fork %1: %2").arg(snap, r.error().message));
            else
                finish(true, tr("Started %1 from %2.").arg(r->join(QStringLiteral(", ")), snap));
        });
    });
    m_forkDialog = dialog;
    dialog->open();
}

void SnapshotsTab::deleteSelected()
{
    const QString vm = m_vm;
    const QString snap = selectedSnapshot();
    if (!m_delete->isEnabled() || snap.isEmpty())
        return;
    confirm(tr("Delete %1?").arg(snap), tr("Delete the snapshot %1 of %2? Snapshots taken after it keep working.").arg(snap, vm), tr("Delete"),
            [this, vm, snap]() {
                const Core::Result r = m_manager.deleteSnapshot(vm, snap);
                finish(r.hasValue(), r ? tr("Deleted the snapshot %1.").arg(snap) : tr("Cannot delete %1: %2").arg(snap, r.error().message));
            });
}

} // namespace Gui
