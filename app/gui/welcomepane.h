#pragma once
// Gui::WelcomePane: what the details pane shows when it has nothing to show.
// With no VMs, a welcome that explains the two ways in: create one here, or
// point an agent at the API with the copied token (the address and a first
// request shown). With VMs but none selected, a hint to select one. No
// button in it acts on a VM.

#include <QWidget>

class QLabel;
class QPushButton;

namespace Gui {

class WelcomePane final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WelcomePane)
public:
    enum class Mode { NoVms, NoSelection };

    explicit WelcomePane(QWidget *parent = nullptr);

    void setMode(Mode mode);
    Mode mode() const { return m_mode; }
    // The API's address (empty: the service does not serve; the API part says so).
    void setServiceUrl(const QString &url);

    QLabel *titleLabel() const { return m_title; }
    QLabel *textLabel() const { return m_text; }
    QPushButton *createButton() const { return m_create; }
    QPushButton *copyTokenButton() const { return m_copyToken; }

Q_SIGNALS:
    void createRequested();
    void copyTokenRequested();

private:
    void update();

    Mode m_mode = Mode::NoVms;
    QString m_url;
    QLabel *m_title;
    QLabel *m_text;
    QPushButton *m_create;
    QPushButton *m_copyToken;
};

} // namespace Gui
