#pragma once
// Gui::CreateDialog: a template, a name checked as it is typed (the rule of
// Vm::VmManager::validateName, plus "not taken"), vCPUs and memory bounded by
// the host, and whether to start the VM at once. What the host's quotas
// leave (see Vm::QuotaLimits) is shown, and a VM they refuse cannot be
// created from here.

#include "core/vm/vmmanager.h"

#include <QDialog>

class QCheckBox;
class QComboBox;
class QDialogButtonBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace Gui {

class CreateDialog final : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CreateDialog)
public:
    // The manager (for names already taken) must outlive the dialog.
    explicit CreateDialog(const Vm::VmManager &manager, QWidget *parent = nullptr);
    ~CreateDialog() override;

    Vm::VmManager::CreateOptions options() const;
    bool startNow() const;

    // Why the name typed is not acceptable; empty when it is.
    QString nameProblem() const;
    // Why the host's quotas refuse the VM as set (its count and the disk;
    // its vCPUs and memory beside the VMs running when it is to start now,
    // or alone); empty when they do not.
    QString quotaProblem() const;
    bool isAcceptable() const;

    // The host's limits: logical CPUs, and MemTotal of /proc/meminfo in MiB
    // (0 when it cannot be read).
    static int hostCpus();
    static int hostMemoryMiB();

    // For tests and callers that preset fields.
    QLineEdit *nameEdit() const { return m_name; }
    QComboBox *templateCombo() const { return m_template; }
    QSpinBox *vcpusSpin() const { return m_vcpus; }
    QSpinBox *memorySpin() const { return m_memory; }
    QCheckBox *startCheck() const { return m_start; }
    QDialogButtonBox *buttons() const { return m_buttons; }
    QLabel *problemLabel() const { return m_problem; }
    QLabel *quotaLabel() const { return m_quota; }

private:
    void addShapeRows(QFormLayout *form);
    void onTemplateChanged();
    void validate();
    QString quotaText() const;

    const Vm::VmManager &m_manager;
    QComboBox *m_template = nullptr;
    QLabel *m_templateInfo = nullptr;
    QLineEdit *m_name = nullptr;
    QLabel *m_problem = nullptr;
    QSpinBox *m_vcpus = nullptr;
    QSpinBox *m_memory = nullptr;
    QCheckBox *m_start = nullptr;
    QLabel *m_quota = nullptr;
    QDialogButtonBox *m_buttons = nullptr;
    // What the VMs held when the dialog opened (the disk walked only when
    // it is limited).
    Vm::QuotaUsage m_usage;
};

} // namespace Gui
