#include "app/gui/createdialog.h"

#include "core/template/vmtemplate.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

namespace Gui {
namespace {

constexpr int kMemoryStepMiB = 64;

} // namespace

CreateDialog::CreateDialog(const Vm::VmManager &manager, QWidget *parent)
    : QDialog(parent)
    , m_manager(manager)
{
    setWindowTitle(tr("Create a VM"));
    auto *form = new QFormLayout;

    m_template = new QComboBox(this);
    for (const Templates::VmTemplate &t : Templates::VmTemplate::all()) {
        m_template->addItem(t.name, t.name);
        const int i = m_template->count() - 1;
        m_template->setItemData(i, t.vcpus, Qt::UserRole + 1);
        m_template->setItemData(i, t.memoryMiB, Qt::UserRole + 2);
        m_template->setItemData(i, t.description, Qt::ToolTipRole);
        m_template->setItemData(i, t.desktop.enabled, Qt::UserRole + 3);
    }
    form->addRow(tr("&Template:"), m_template);
    m_templateInfo = new QLabel(this);
    m_templateInfo->setTextFormat(Qt::PlainText); // a template file's text, shown as written
    m_templateInfo->setWordWrap(true);
    form->addRow(QString(), m_templateInfo);

    m_name = new QLineEdit(this);
    m_name->setPlaceholderText(tr("e.g. agent-1"));
    m_name->setMaxLength(63);
    form->addRow(tr("&Name:"), m_name);
    m_problem = new QLabel(this);
    m_problem->setTextFormat(Qt::PlainText); // error text, shown as written
    m_problem->setWordWrap(true);
    m_problem->setObjectName(QStringLiteral("nameProblem"));
    QPalette pal = m_problem->palette();
    pal.setColor(QPalette::WindowText, Qt::darkRed);
    m_problem->setPalette(pal);
    form->addRow(QString(), m_problem);

    addShapeRows(form);

    m_start = new QCheckBox(tr("&Start now"), this);
    m_start->setChecked(true);
    form->addRow(QString(), m_start);

    m_usage = manager.quotaUsage(QString(), manager.quota().maxDiskBytes > 0);
    m_quota = new QLabel(this);
    m_quota->setObjectName(QStringLiteral("quota"));
    m_quota->setWordWrap(true);
    form->addRow(tr("Quota:"), m_quota);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("Create"));
    connect(m_buttons, &QDialogButtonBox::accepted, this, [this]() {
        if (isAcceptable())
            accept();
    });
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_buttons);

    connect(m_template, &QComboBox::currentIndexChanged, this, &CreateDialog::onTemplateChanged);
    connect(m_name, &QLineEdit::textChanged, this, &CreateDialog::validate);
    connect(m_vcpus, &QSpinBox::valueChanged, this, &CreateDialog::validate);
    connect(m_memory, &QSpinBox::valueChanged, this, &CreateDialog::validate);
    connect(m_start, &QCheckBox::toggled, this, &CreateDialog::validate);
    const int minimal = m_template->findData(QStringLiteral("minimal"));
    if (minimal >= 0)
        m_template->setCurrentIndex(minimal);
    onTemplateChanged();
    validate();
}

// vCPUs and memory, bounded by the host.
void CreateDialog::addShapeRows(QFormLayout *form)
{
    const int cpus = hostCpus();
    m_vcpus = new QSpinBox(this);
    m_vcpus->setRange(1, qBound(1, cpus, Vm::VmManager::kMaxVcpus));
    m_vcpus->setToolTip(tr("At most the host's %n logical CPU(s)", nullptr, cpus));
    form->addRow(tr("&vCPUs:"), m_vcpus);

    const int hostMem = hostMemoryMiB();
    const int maxMem = hostMem > 0 ? qBound(Vm::VmManager::kMinMemoryMiB, hostMem, Vm::VmManager::kMaxMemoryMiB) : Vm::VmManager::kMaxMemoryMiB;
    m_memory = new QSpinBox(this);
    m_memory->setRange(Vm::VmManager::kMinMemoryMiB, maxMem);
    m_memory->setSingleStep(kMemoryStepMiB);
    m_memory->setSuffix(tr(" MiB"));
    if (hostMem > 0)
        m_memory->setToolTip(tr("At most the host's %1 MiB").arg(hostMem));
    form->addRow(tr("&Memory:"), m_memory);
}

CreateDialog::~CreateDialog() = default;

void CreateDialog::onTemplateChanged()
{
    const int i = m_template->currentIndex();
    if (i < 0) {
        m_templateInfo->setText(tr("No templates were found."));
        validate();
        return;
    }
    m_vcpus->setValue(m_template->itemData(i, Qt::UserRole + 1).toInt());
    m_memory->setValue(m_template->itemData(i, Qt::UserRole + 2).toInt());
    const QString description = m_template->itemData(i, Qt::ToolTipRole).toString();
    m_templateInfo->setText(m_template->itemData(i, Qt::UserRole + 3).toBool() ? tr("%1 (with a desktop)").arg(description) : description);
    validate();
}

QString CreateDialog::nameProblem() const
{
    const QString name = m_name->text();
    if (name.isEmpty())
        return tr("Give the VM a name.");
    if (!Vm::VmManager::validateName(name)) {
        static const QRegularExpression allowed(QStringLiteral("^[a-z0-9-]*$"));
        if (!allowed.match(name).hasMatch())
            return tr("Only lowercase letters, digits and '-' are allowed.");
        if (name.startsWith(QLatin1Char('-')))
            return tr("The name must start with a letter or a digit.");
        return tr("1 to 63 lowercase letters, digits or '-', starting with a letter or digit.");
    }
    if (m_manager.contains(name))
        return tr("A VM named '%1' already exists.").arg(name);
    return {};
}

QString CreateDialog::quotaProblem() const
{
    const Vm::QuotaLimits &limits = m_manager.quota();
    Core::Result ok = Vm::checkCreate(limits, m_usage);
    if (ok)
        ok = Vm::checkStart(limits, m_start->isChecked() ? m_usage : Vm::QuotaUsage(), m_vcpus->value(), m_memory->value());
    return ok ? QString() : tr("The host's quota does not allow it: %1").arg(ok.error().message);
}

// What the quotas leave: VMs, and vCPUs and memory beside the running VMs.
QString CreateDialog::quotaText() const
{
    const Vm::QuotaLimits &limits = m_manager.quota();
    QStringList left;
    if (limits.maxVms > 0)
        left << tr("VMs: %1").arg(qMax(0, limits.maxVms - m_usage.vms));
    if (limits.maxVcpus > 0)
        left << tr("vCPUs: %1").arg(qMax(0, limits.maxVcpus - m_usage.vcpus));
    if (limits.maxMemoryMiB > 0)
        left << tr("memory: %1 MiB").arg(qMax<qint64>(0, limits.maxMemoryMiB - m_usage.memoryMiB));
    if (limits.maxDiskBytes > 0)
        left << tr("disk: %1 MiB").arg(qMax<qint64>(0, limits.maxDiskBytes - m_usage.diskBytes) >> 20);
    return left.isEmpty() ? tr("No quotas are set on this host.") : tr("Left on this host: %1.").arg(left.join(QStringLiteral(", ")));
}

bool CreateDialog::isAcceptable() const
{
    return m_template->currentIndex() >= 0 && nameProblem().isEmpty() && quotaProblem().isEmpty();
}

void CreateDialog::validate()
{
    m_quota->setText(quotaText());
    QString problem = m_name->text().isEmpty() ? QString() : nameProblem();
    if (problem.isEmpty())
        problem = quotaProblem();
    m_problem->setText(problem);
    m_problem->setVisible(!problem.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(isAcceptable());
}

Vm::VmManager::CreateOptions CreateDialog::options() const
{
    Vm::VmManager::CreateOptions o;
    o.name = m_name->text();
    o.templateName = m_template->currentData().toString();
    o.vcpus = m_vcpus->value();
    o.memoryMiB = m_memory->value();
    return o;
}

bool CreateDialog::startNow() const
{
    return m_start->isChecked();
}

int CreateDialog::hostCpus()
{
    return qMax(1, QThread::idealThreadCount());
}

int CreateDialog::hostMemoryMiB()
{
    return static_cast<int>(Vm::hostMemoryMiB());
}

} // namespace Gui
