#pragma once
// Gui::ResizeDialog: a VM's vCPUs and memory. A stopped VM takes both from
// its next start; a running VM's memory changes at once (its balloon), up
// to what it booted with, and its vCPUs cannot change. The manager checks
// the rest (what the guest can spare, the quotas) and says why it refuses.

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
    QSpinBox *memoryBox() const { return m_memory; }
    QLabel *noteLabel() const { return m_note; }

private:
    QString m_name;
    int m_vcpusNow;
    int m_memoryNow;
    QSpinBox *m_vcpus;
    QSpinBox *m_memory;
    QLabel *m_note;
};

} // namespace Gui
