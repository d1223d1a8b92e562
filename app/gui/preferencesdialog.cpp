#include "app/gui/preferencesdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

namespace Gui {

PreferencesDialog::PreferencesDialog(const Preferences &preferences, QWidget *parent)
    : QDialog(parent)
{
    setWindowTitle(tr("Preferences"));
    auto *form = new QFormLayout;

    m_listen = new QLineEdit(preferences.listen, this);
    m_listen->setToolTip(tr("Where the REST API listens (HOST:PORT); 127.0.0.1 keeps it on this computer"));
    form->addRow(tr("API &listen address:"), m_listen);
    m_problem = new QLabel(this);
    m_problem->setTextFormat(Qt::PlainText); // error text, shown as written
    m_problem->setWordWrap(true);
    QPalette pal = m_problem->palette();
    pal.setColor(QPalette::WindowText, Qt::darkRed);
    m_problem->setPalette(pal);
    form->addRow(QString(), m_problem);

    m_dataDir = new QLineEdit(preferences.dataDir, this);
    m_dataDir->setPlaceholderText(tr("the default"));
    auto *browse = new QPushButton(tr("Browse…"), this);
    connect(browse, &QPushButton::clicked, this, [this]() {
        auto *dialog = new QFileDialog(this, tr("Data directory"), m_dataDir->text());
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setFileMode(QFileDialog::Directory);
        dialog->setOption(QFileDialog::ShowDirsOnly);
        connect(dialog, &QFileDialog::fileSelected, m_dataDir, &QLineEdit::setText);
        dialog->open();
    });
    auto *dataRow = new QHBoxLayout;
    dataRow->addWidget(m_dataDir, 1);
    dataRow->addWidget(browse);
    form->addRow(tr("&Data directory:"), dataRow);

    m_driver = new QComboBox(this);
    m_driver->addItem(tr("Automatic"), QStringLiteral("auto"));
    m_driver->addItem(tr("QEMU"), QStringLiteral("qemu"));
    m_driver->addItem(tr("cloud-hypervisor"), QStringLiteral("cloud-hypervisor"));
    m_driver->setCurrentIndex(qMax(0, m_driver->findData(preferences.driver)));
    m_driver->setToolTip(tr("Automatic: cloud-hypervisor when KVM works and it is installed, else QEMU"));
    form->addRow(tr("VMM &driver:"), m_driver);

    m_accel = new QComboBox(this);
    m_accel->addItem(tr("Automatic"), QStringLiteral("auto"));
    m_accel->addItem(tr("KVM"), QStringLiteral("kvm"));
    m_accel->addItem(tr("TCG (software emulation)"), QStringLiteral("tcg"));
    m_accel->setCurrentIndex(qMax(0, m_accel->findData(preferences.accel)));
    m_accel->setToolTip(tr("QEMU only. Automatic uses KVM when it really works here, else TCG (slower, but works everywhere)"));
    form->addRow(tr("QEMU &accelerator:"), m_accel);

    auto *note = new QLabel(tr("Changes apply the next time MicroVM Sandbox starts. Command-line options and MVS_* "
                               "environment variables still take precedence."),
                            this);
    note->setWordWrap(true);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(m_buttons, &QDialogButtonBox::accepted, this, [this]() {
        if (Preferences::listenProblem(m_listen->text()).isEmpty())
            accept();
    });
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_listen, &QLineEdit::textChanged, this, &PreferencesDialog::validate);

    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(note);
    layout->addWidget(m_buttons);
    validate();
}

PreferencesDialog::~PreferencesDialog() = default;

Preferences PreferencesDialog::preferences() const
{
    Preferences p;
    p.listen = m_listen->text().trimmed();
    p.dataDir = m_dataDir->text().trimmed();
    p.driver = m_driver->currentData().toString();
    p.accel = m_accel->currentData().toString();
    return p;
}

void PreferencesDialog::validate()
{
    const QString problem = Preferences::listenProblem(m_listen->text().trimmed());
    m_problem->setText(problem);
    m_problem->setVisible(!problem.isEmpty());
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(problem.isEmpty());
}

} // namespace Gui
