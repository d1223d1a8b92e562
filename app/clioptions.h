#pragma once

#include "core/expected.h"
#include "core/vmm/vmmdriver.h"

#include <QStringList>

#include <initializer_list>
#include <utility>

namespace App {

// Options every VM-starting subcommand shares: --driver, --accel,
// --qemu-binary, --ch-binary; then the environment (MVS_DRIVER, MVS_ACCEL,
// MVS_QEMU, MVS_CLOUD_HYPERVISOR); then config.yaml (Core::Config).
struct DriverFlags {
    QString driver;
    QString accel;
    QString qemuBinary;
    QString chBinary;

    // Consumes the flags it knows from args (and their values); returns an
    // error for a flag missing its value.
    Core::Result take(QStringList &args);
    Core::Expected<Vmm::DriverOptions> options() const;
};

// The flags of a command that runs the service (--serve, the GUI): the
// driver flags, --listen and --token-file.
struct ServiceFlags {
    DriverFlags driver;
    QString listen;
    QString tokenFile;
    QString logFormat; // --log-format text|json; empty: MVS_LOG_FORMAT, else text

    // Consumes the flags it knows from args; an error for a missing value.
    Core::Result take(QStringList &args);
};

// Pops "--name value" or "--name=value" from args. Returns false if absent.
Core::Expected<bool> takeOption(QStringList &args, const QString &name, QString *value);
// takeOption for each {name, value}; the first error.
Core::Result takeOptions(QStringList &args, std::initializer_list<std::pair<QString, QString *>> options);

} // namespace App
