#include "app/gui/resizedialog.h"

#include "core/vm/livememory.h"

#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QSpinBox>
#include <QVBoxLayout>

namespace Gui {

ResizeDialog::ResizeDialog(const Vm::VmInfo &info, QWidget *parent)
    : QDialog(parent)
    , m_name(info.record.name)
    , m_vcpusNow(info.record.vcpus)
    , m_memoryNow(int(info.memoryNowMiB > 0 ? info.memoryNowMiB : info.record.memoryMiB))
    , m_vcpus(new QSpinBox(this))
    , m_memory(new QSpinBox(this))
    , m_note(new QLabel(this))
{
    setObjectName(QStringLiteral("resizeDialog"));
    setWindowTitle(tr("Resize %1").arg(m_name));
    const bool running = info.state == Vm::VirtualMachine::State::Ready;
    m_vcpus->setObjectName(QStringLiteral("resizeVcpus"));
    m_vcpus->setRange(1, Vm::VmManager::kMaxVcpus);
    m_vcpus->setValue(m_vcpusNow);
    m_vcpus->setEnabled(!running);
    m_vcpus->setAccessibleName(tr("vCPUs"));
    m_memory->setObjectName(QStringLiteral("resizeMemory"));
    m_memory->setSuffix(tr(" MiB"));
    m_memory->setSingleStep(64);
    m_memory->setRange(int(running ? Vm::LiveMemory::kMinMiB : Vm::VmManager::kMinMemoryMiB), running ? info.record.memoryMiB : Vm::VmManager::kMaxMemoryMiB);
    m_memory->setValue(m_memoryNow);
    m_memory->setAccessibleName(tr("Memory"));
    m_note->setObjectName(QStringLiteral("resizeNote"));
    m_note->setWordWrap(true);
    m_note->setText(running ? tr("%1 is running: its memory changes at once, between what its guest can spare and the %2 MiB it booted with. "
                                 "Its vCPUs can change while it is stopped.")
                                  .arg(m_name)
                                  .arg(info.record.memoryMiB)
                            : tr("%1 takes its new vCPUs and memory at its next start.").arg(m_name));

    auto *form = new QFormLayout;
    form->addRow(tr("&vCPUs:"), m_vcpus);
    form->addRow(tr("&Memory:"), m_memory);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_note);
    layout->addWidget(buttons);
}

ResizeDialog::~ResizeDialog() = default;

Vm::VmManager::Resources ResizeDialog::resources() const
{
    Vm::VmManager::Resources r;
    if (m_vcpus->value() != m_vcpusNow)
        r.vcpus = m_vcpus->value();
    if (m_memory->value() != m_memoryNow)
        r.memoryMiB = m_memory->value();
    return r;
}

} // namespace Gui
