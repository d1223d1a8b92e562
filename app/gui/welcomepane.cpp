#include "app/gui/welcomepane.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace Gui {

WelcomePane::WelcomePane(QWidget *parent)
    : QWidget(parent)
    , m_title(new QLabel(this))
    , m_text(new QLabel(this))
    , m_create(new QPushButton(tr("Create a VM…"), this))
    , m_copyToken(new QPushButton(tr("Copy the API token"), this))
{
    QFont big = m_title->font();
    big.setPointSizeF(big.pointSizeF() * 1.5);
    big.setBold(true);
    m_title->setFont(big);
    m_title->setAlignment(Qt::AlignCenter);
    m_text->setTextFormat(Qt::RichText); // our own text only; the address is escaped
    m_text->setWordWrap(true);
    m_text->setAlignment(Qt::AlignCenter);
    m_text->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_create->setAccessibleName(tr("Create a VM"));
    m_copyToken->setAccessibleName(tr("Copy the API token"));
    connect(m_create, &QPushButton::clicked, this, &WelcomePane::createRequested);
    connect(m_copyToken, &QPushButton::clicked, this, &WelcomePane::copyTokenRequested);

    auto *buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_create);
    buttons->addWidget(m_copyToken);
    buttons->addStretch();
    auto *layout = new QVBoxLayout(this);
    layout->addStretch();
    layout->addWidget(m_title);
    layout->addWidget(m_text);
    layout->addLayout(buttons);
    layout->addStretch();
    update();
}

void WelcomePane::setMode(Mode mode)
{
    m_mode = mode;
    update();
}

void WelcomePane::setServiceUrl(const QString &url)
{
    m_url = url;
    update();
}

void WelcomePane::update()
{
    const bool none = m_mode == Mode::NoVms;
    m_create->setVisible(none);
    m_copyToken->setVisible(none && !m_url.isEmpty());
    if (!none) {
        m_title->setText(tr("No VM selected"));
        m_text->setText(tr("Select a VM in the list to see its display, console, files and what agents do in it."));
        return;
    }
    m_title->setText(tr("Welcome to MicroVM Sandbox"));
    const QString create = tr("<p><b>Create</b> a VM here: pick a template (a minimal Linux, a desktop, a browser for computer use) and it boots in seconds, "
                              "isolated in its own microVM.</p>");
    const QString api = m_url.isEmpty() ? tr("<p>Or let an agent create them: the API is not served in this window (see Settings → Preferences).</p>")
                                        : tr("<p>Or point an agent at the API: copy the token, then ask <code>%1/api/v1/vms</code> with it as a bearer token, "
                                             "e.g. <code>curl -H \"Authorization: Bearer $TOKEN\" %1/api/v1/vms -d "
                                             "'{\"name\":\"box\",\"template\":\"minimal\"}'</code>. Its VMs appear here as it makes them.</p>")
                                              .arg(m_url.toHtmlEscaped());
    m_text->setText(create + api);
}

} // namespace Gui
