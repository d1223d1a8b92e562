#include "app/gui/filestab.h"

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"

#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QStorageInfo>
#include <QTimer>
#include <QVBoxLayout>

#include <algorithm>

namespace Gui {

namespace {

// A file seen through a gate: reads and writes pass until close() of the
// gate, then fail, which the agent client answers by cancelling the stream.
class GateDevice final : public QIODevice {
public:
    explicit GateDevice(std::shared_ptr<QFileDevice> file)
        : m_file(std::move(file))
    {
        setOpenMode(m_file->openMode() | QIODevice::Unbuffered);
    }
    void shut()
    {
        m_shut = true;
        setErrorString(FilesTab::tr("cancelled"));
    }
    qint64 size() const override { return m_file->size(); }

protected:
    qint64 readData(char *data, qint64 maxSize) override { return m_shut ? -1 : m_file->read(data, maxSize); }
    qint64 writeData(const char *data, qint64 maxSize) override { return m_shut ? -1 : m_file->write(data, maxSize); }

private:
    std::shared_ptr<QFileDevice> m_file;
    bool m_shut = false;
};

// A wide widget with a button on its right.
QWidget *row(QWidget *parent, QWidget *edit, QPushButton *button)
{
    auto *w = new QWidget(parent);
    auto *l = new QHBoxLayout(w);
    l->setContentsMargins(0, 0, 0, 0);
    l->addWidget(edit, 1);
    l->addWidget(button);
    return w;
}

} // namespace

FilesTab::FilesTab(Vm::VmManager &manager, QWidget *parent)
    : QWidget(parent)
    , m_manager(manager)
{
    auto *up = new QGroupBox(tr("Upload to the VM"), this);
    m_upLocal = new QLineEdit(up);
    m_upLocal->setPlaceholderText(tr("a file on this computer"));
    m_upBrowse = new QPushButton(tr("Browse…"), up);
    m_upGuest = new QLineEdit(up);
    m_upGuest->setPlaceholderText(tr("e.g. /root/data.tar"));
    m_upStart = new QPushButton(tr("&Upload"), up);
    auto *upForm = new QFormLayout(up);
    upForm->addRow(tr("Local file:"), row(up, m_upLocal, m_upBrowse));
    upForm->addRow(tr("Guest path:"), row(up, m_upGuest, m_upStart));

    auto *down = new QGroupBox(tr("Download from the VM"), this);
    m_downGuest = new QLineEdit(down);
    m_downGuest->setPlaceholderText(tr("e.g. /etc/os-release"));
    m_downLocal = new QLineEdit(down);
    m_downLocal->setPlaceholderText(tr("where to save it on this computer"));
    m_downBrowse = new QPushButton(tr("Browse…"), down);
    m_downStart = new QPushButton(tr("&Download"), down);
    auto *downForm = new QFormLayout(down);
    downForm->addRow(tr("Guest path:"), m_downGuest);
    downForm->addRow(tr("Save as:"), row(down, m_downLocal, m_downBrowse));
    downForm->addRow(QString(), m_downStart);

    m_progress = new QProgressBar(this);
    m_progress->setRange(0, 100);
    m_progress->setValue(0);
    m_cancel = new QPushButton(tr("&Cancel transfer"), this);
    m_cancel->setEnabled(false);
    connect(m_cancel, &QPushButton::clicked, this, &FilesTab::cancel);
    m_status = new QLabel(this);
    m_status->setTextFormat(Qt::PlainText); // may show a guest's text: never rich text
    m_status->setWordWrap(true);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(up);
    layout->addWidget(down);
    layout->addWidget(row(this, m_progress, m_cancel));
    layout->addWidget(m_status);
    layout->addStretch(1);

    m_timer = new QTimer(this);
    m_timer->setInterval(kProgressMs);
    connect(m_timer, &QTimer::timeout, this, &FilesTab::updateProgress);

    connect(m_upBrowse, &QPushButton::clicked, this, [this]() {
        auto *dialog = new QFileDialog(this, tr("Upload a file"));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setFileMode(QFileDialog::ExistingFile);
        connect(dialog, &QFileDialog::fileSelected, this, [this](const QString &path) {
            m_upLocal->setText(path);
            if (m_upGuest->text().isEmpty())
                m_upGuest->setText(QStringLiteral("/root/") + QFileInfo(path).fileName());
        });
        dialog->open();
    });
    connect(m_downBrowse, &QPushButton::clicked, this, [this]() {
        auto *dialog = new QFileDialog(this, tr("Save the file as"));
        dialog->setAttribute(Qt::WA_DeleteOnClose);
        dialog->setAcceptMode(QFileDialog::AcceptSave);
        const QString guestName = QFileInfo(m_downGuest->text()).fileName();
        if (!guestName.isEmpty())
            dialog->selectFile(guestName);
        connect(dialog, &QFileDialog::fileSelected, m_downLocal, &QLineEdit::setText);
        dialog->open();
    });
    connect(m_upStart, &QPushButton::clicked, this, &FilesTab::upload);
    connect(m_downStart, &QPushButton::clicked, this, &FilesTab::download);
    for (QLineEdit *e : {m_upLocal, m_upGuest, m_downGuest, m_downLocal})
        connect(e, &QLineEdit::textChanged, this, &FilesTab::updateButtons);
    updateButtons();
}

FilesTab::~FilesTab() = default;

void FilesTab::setVm(const QString &name)
{
    if (name == m_vm)
        return;
    m_vm = name;
    if (!m_busy) {
        m_status->clear();
        m_progress->setValue(0);
    }
    updateButtons();
}

void FilesTab::updateButtons()
{
    const bool can = !m_busy && !m_vm.isEmpty();
    m_upStart->setEnabled(can && !m_upLocal->text().isEmpty() && m_upGuest->text().startsWith(QLatin1Char('/')));
    m_downStart->setEnabled(can && !m_downLocal->text().isEmpty() && m_downGuest->text().startsWith(QLatin1Char('/')));
}

void FilesTab::upload()
{
    if (m_busy || m_vm.isEmpty())
        return;
    auto agent = m_manager.agent(m_vm);
    if (!agent) {
        finish(false, agent.error().message);
        return;
    }
    auto file = std::make_shared<QFile>(m_upLocal->text());
    if (!file->open(QIODevice::ReadOnly)) {
        finish(false, tr("Cannot read %1: %2").arg(file->fileName(), file->errorString()));
        return;
    }
    const QString guestPath = m_upGuest->text();
    const QString vm = m_vm;
    const std::shared_ptr<QIODevice> gate = begin(file, file->size(), true);
    m_status->setText(tr("Uploading %1 to %2:%3…").arg(QFileInfo(file->fileName()).fileName(), vm, guestPath));
    const quint32 mode = (file->permissions() & QFileDevice::ExeUser) ? 0755 : 0644;
    Core::whenDone((*agent)->putFile(guestPath, gate, static_cast<quint64>(file->size()), mode), this, [this, vm, guestPath](const Core::Expected<quint64> &r) {
        if (!r && m_cancelled)
            finish(false, tr("Upload cancelled: nothing was written to %1:%2").arg(vm, guestPath));
        else if (!r)
            finish(false, tr("Upload failed: %1").arg(r.error().message));
        else
            finish(true, tr("Uploaded %1 bytes to %2:%3").arg(QLocale().toString(*r), vm, guestPath));
    });
}

void FilesTab::download()
{
    if (m_busy || m_vm.isEmpty())
        return;
    auto agent = m_manager.agent(m_vm);
    if (!agent) {
        finish(false, agent.error().message);
        return;
    }
    const QString guestPath = m_downGuest->text();
    const QString localPath = m_downLocal->text();
    const QString vm = m_vm;
    // The size first, for the progress bar; the file is written under a
    // temporary name and only appears once it is complete.
    m_busy = true;
    updateButtons();
    m_status->setText(tr("Downloading %1:%2…").arg(vm, guestPath));
    const QPointer<Agent::AgentClient> client = *agent;
    Core::whenDone(client->stat(guestPath), this, [this, client, vm, guestPath, localPath](const Core::Expected<Agent::FileInfo> &st) {
        if (!st) {
            finish(false, tr("Download failed: %1").arg(st.error().message));
            return;
        }
        if (!client) {
            finish(false, tr("Download failed: the guest agent of %1 went away").arg(vm));
            return;
        }
        // Never more than the target's free space, whatever the guest says.
        const qint64 room = QStorageInfo(QFileInfo(localPath).absolutePath()).bytesAvailable();
        if (room >= 0 && st->size > quint64(room)) {
            finish(false,
                   tr("Download refused: %1 is %2 bytes, %3 has %4 bytes free")
                       .arg(guestPath, QLocale().toString(st->size), QFileInfo(localPath).absolutePath(), QLocale().toString(room)));
            return;
        }
        Agent::StreamLimits limits = Agent::StreamLimits::transfer();
        limits.maxBytes = qMax<qint64>(0, room);
        auto file = std::make_shared<QSaveFile>(localPath);
        if (!file->open(QIODevice::WriteOnly)) {
            finish(false, tr("Cannot write %1: %2").arg(localPath, file->errorString()));
            return;
        }
        const std::shared_ptr<QIODevice> gate = begin(file, static_cast<qint64>(st->size), false);
        Core::whenDone(client->getFile(guestPath, gate, limits), this, [this, file, vm, guestPath, localPath](const Core::Expected<quint64> &r) {
            if (!r) {
                file->cancelWriting();
                file->commit();
                finish(false, m_cancelled ? tr("Download cancelled: %1 was not saved").arg(localPath) : tr("Download failed: %1").arg(r.error().message));
                return;
            }
            if (!file->commit()) {
                finish(false, tr("Cannot write %1: %2").arg(localPath, file->errorString()));
                return;
            }
            finish(true, tr("Downloaded %1 bytes from %2:%3 to %4").arg(QLocale().toString(*r), vm, guestPath, localPath));
        });
    });
}

void FilesTab::cancel()
{
    if (!m_busy || !m_gate)
        return;
    m_cancelled = true;
    static_cast<GateDevice *>(m_gate.get())->shut();
    m_cancel->setEnabled(false);
    m_status->setText(tr("Cancelling…"));
}

std::shared_ptr<QIODevice> FilesTab::begin(std::shared_ptr<QFileDevice> file, qint64 total, bool isUpload)
{
    m_busy = true;
    m_cancelled = false;
    m_gate = std::make_shared<GateDevice>(file);
    m_cancel->setEnabled(true);
    m_file = std::move(file);
    m_total = total;
    m_isUpload = isUpload;
    m_progress->setRange(0, total > 0 ? 100 : 0);
    m_progress->setValue(0);
    m_timer->start();
    updateButtons();
    return m_gate;
}

void FilesTab::updateProgress()
{
    if (!m_file || m_total <= 0)
        return;
    const qint64 done = m_file->pos();
    m_progress->setValue(static_cast<int>(std::clamp<qint64>(done * 100 / m_total, 0, 100)));
}

void FilesTab::finish(bool ok, const QString &message)
{
    m_timer->stop();
    m_file.reset();
    m_gate.reset();
    m_cancel->setEnabled(false);
    m_busy = false;
    m_progress->setRange(0, 100);
    m_progress->setValue(ok ? 100 : 0);
    m_status->setText(message);
    updateButtons();
    Q_EMIT transferFinished(ok);
}

} // namespace Gui
