#include "app/gui/resizedialog.h"

#include "core/vm/livememory.h"

#include <algorithm>

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
    , m_maxVcpusNow(std::max(info.record.vcpus, info.record.maxVcpus))
    , m_memoryNow(int(info.memoryNowMiB > 0 ? info.memoryNowMiB : info.record.memoryMiB))
    , m_vcpus(new QSpinBox(this))
    , m_maxVcpus(new QSpinBox(this))
    , m_memory(new QSpinBox(this))
    , m_note(new QLabel(this))
{
    setObjectName(QStringLiteral("resizeDialog"));
    setWindowTitle(tr("Resize %1").arg(m_name));
    const bool running = info.state == Vm::VirtualMachine::State::Ready;
    setUpVcpus(running);
    m_memory->setObjectName(QStringLiteral("resizeMemory"));
    m_memory->setSuffix(tr(" MiB"));
    m_memory->setSingleStep(64);
    m_memory->setRange(int(running ? Vm::LiveMemory::kMinMiB : Vm::VmManager::kMinMemoryMiB), running ? info.record.memoryMiB : Vm::VmManager::kMaxMemoryMiB);
    m_memory->setValue(m_memoryNow);
    m_memory->setAccessibleName(tr("Memory"));
    m_note->setObjectName(QStringLiteral("resizeNote"));
    m_note->setWordWrap(true);
    m_note->setText(running ? runningNote(info.record.memoryMiB) : tr("%1 takes its new vCPUs, maximum and memory at its next start.").arg(m_name));

    auto *form = new QFormLayout;
    form->addRow(tr("&vCPUs:"), m_vcpus);
    form->addRow(tr("Ma&ximum vCPUs while running:"), m_maxVcpus);
    form->addRow(tr("&Memory:"), m_memory);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_note);
    layout->addWidget(buttons);
}

// Running: vCPUs are added up to the maximum it was started with (removing
// them is for a stopped VM: QEMU cannot), and the maximum waits for a stop.
// Stopped: both for its next start, the maximum never below the vCPUs.
void ResizeDialog::setUpVcpus(bool running)
{
    m_vcpus->setObjectName(QStringLiteral("resizeVcpus"));
    m_vcpus->setRange(running ? m_vcpusNow : 1, running ? m_maxVcpusNow : Vm::VmManager::kMaxVcpus);
    m_vcpus->setValue(m_vcpusNow);
    m_vcpus->setEnabled(!running || m_maxVcpusNow > m_vcpusNow);
    m_vcpus->setAccessibleName(tr("vCPUs"));
    m_maxVcpus->setObjectName(QStringLiteral("resizeMaxVcpus"));
    m_maxVcpus->setRange(1, Vm::VmManager::kMaxVcpus);
    m_maxVcpus->setValue(m_maxVcpusNow);
    m_maxVcpus->setEnabled(!running);
    m_maxVcpus->setAccessibleName(tr("Maximum vCPUs while running"));
    if (!running) {
        m_maxVcpus->setMinimum(m_vcpusNow);
        connect(m_vcpus, &QSpinBox::valueChanged, m_maxVcpus, &QSpinBox::setMinimum);
    }
}

QString ResizeDialog::runningNote(int bootMiB) const
{
    const QString memory = tr("its memory changes at once, between what its guest can spare and the %1 MiB it booted with").arg(bootMiB);
    if (m_maxVcpusNow > m_vcpusNow)
        return tr("%1 is running: vCPUs are added at once, up to its maximum of %2, and %3. "
                  "Fewer vCPUs and another maximum take effect from its next start: resize it while it is stopped.")
            .arg(m_name)
            .arg(m_maxVcpusNow)
            .arg(memory);
    return tr("%1 is running: %2. To add vCPUs while it runs, give it a maximum above its vCPUs while it is stopped.").arg(m_name, memory);
}

ResizeDialog::~ResizeDialog() = default;

Vm::VmManager::Resources ResizeDialog::resources() const
{
    Vm::VmManager::Resources r;
    if (m_vcpus->value() != m_vcpusNow)
        r.vcpus = m_vcpus->value();
    if (m_maxVcpus->isEnabled() && m_maxVcpus->value() != m_maxVcpusNow)
        r.maxVcpus = m_maxVcpus->value();
    if (m_memory->value() != m_memoryNow)
        r.memoryMiB = m_memory->value();
    return r;
}

} // namespace Gui
