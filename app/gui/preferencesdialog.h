#pragma once
// Gui::PreferencesDialog: edits Gui::Preferences; saved on OK, applied at
// the next start.

#include "app/gui/preferences.h"

#include <QDialog>

class QComboBox;
class QDialogButtonBox;
class QLabel;
class QLineEdit;

namespace Gui {

class PreferencesDialog final : public QDialog {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PreferencesDialog)
public:
    explicit PreferencesDialog(const Preferences &preferences, QWidget *parent = nullptr);
    ~PreferencesDialog() override;

    Preferences preferences() const;

    QLineEdit *listenEdit() const { return m_listen; }
    QLineEdit *dataDirEdit() const { return m_dataDir; }
    QComboBox *driverCombo() const { return m_driver; }
    QComboBox *accelCombo() const { return m_accel; }
    QDialogButtonBox *buttons() const { return m_buttons; }
    QLabel *problemLabel() const { return m_problem; }

private:
    void validate();

    QLineEdit *m_listen = nullptr;
    QLineEdit *m_dataDir = nullptr;
    QComboBox *m_driver = nullptr;
    QComboBox *m_accel = nullptr;
    QLabel *m_problem = nullptr;
    QDialogButtonBox *m_buttons = nullptr;
};

} // namespace Gui
