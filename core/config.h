#pragma once

#include "core/expected.h"

#include <QString>

namespace Core {

// User settings from <configDir>/config.yaml (all keys optional):
//   driver: auto | qemu | cloud-hypervisor
//   accel: auto | kvm | tcg                 (QEMU)
//   qemu_binary: /usr/bin/qemu-system-x86_64
//   cloud_hypervisor_binary: /opt/ch/cloud-hypervisor
// Command-line flags override the environment (MVS_DRIVER, MVS_ACCEL,
// MVS_QEMU, MVS_CLOUD_HYPERVISOR), which overrides this file.
struct Config {
    QString driver;
    QString accel;
    QString qemuBinary;
    QString chBinary;

    static QString path();
    // A missing file is an empty config; a malformed one is an error that
    // names the file and the key.
    static Expected<Config> load(const QString &path = Config::path());
};

} // namespace Core
