#pragma once
// Gui::Preferences: what the desktop application starts with (the API's
// listen address, the data directory, the VMM driver and accelerator),
// kept in <config dir>/gui.conf. Command-line flags and MVS_* variables
// still win over them; changes apply at the next start.

#include <QString>

namespace Gui {

struct Preferences {
    QString listen = QStringLiteral("127.0.0.1:8000"); // HOST:PORT
    QString dataDir; // empty: the default (MVS_DATA_DIR, else ~/.local/share/...)
    QString driver = QStringLiteral("auto"); // auto | qemu | cloud-hypervisor
    QString accel = QStringLiteral("auto"); // auto | kvm | tcg

    static QString path(); // Core::Paths::configDir() + "/gui.conf"
    static Preferences load();
    bool save() const;

    // Why a listen address is not HOST:PORT (empty when it is).
    static QString listenProblem(const QString &listen);

    bool operator==(const Preferences &) const = default;
};

} // namespace Gui
