#pragma once
// Gui::ResizeDialog: a VM's vCPUs, their maximum while it runs, and memory.
// A stopped VM takes all three from its next start; a running VM's vCPUs
// are added at once up to its maximum (hot-plug) and its memory changes at
// once (its balloon), up to what it booted with. The manager checks the
// rest (what the guest can spare, the quotas) and says why it refuses.

#include "core/vm/vmmanager.h"

#include <QDialog>

class QLabel;
class QSpinBox;

namespace Gui {

class ResizeDialog final : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ResizeDialog)
public:
    explicit ResizeDialog(const Vm::VmInfo &info, QWidget *parent = nullptr);
    ~ResizeDialog() override;

    QString vmName() const { return m_name; }
    // What was changed (unset: left as it is).
    Vm::VmManager::Resources resources() const;

    QSpinBox *vcpusBox() const { return m_vcpus; }
    QSpinBox *maxVcpusBox() const { return m_maxVcpus; }
    QSpinBox *memoryBox() const { return m_memory; }
    QLabel *noteLabel() const { return m_note; }

private:
    void setUpVcpus(bool running);
    QString runningNote(int bootMiB) const;

    QString m_name;
    int m_vcpusNow;
    int m_maxVcpusNow; // at least m_vcpusNow
    int m_memoryNow;
    QSpinBox *m_vcpus;
    QSpinBox *m_maxVcpus;
    QSpinBox *m_memory;
    QLabel *m_note;
};

} // namespace Gui
