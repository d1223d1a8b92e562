#pragma once

#include "core/expected.h"

#include <QString>

namespace Core::Paths {

// Each honours an environment override first (tests and CI use them):
//   MVS_CACHE_DIR   ~/.cache/microvm-sandbox        guest images, probe verdicts
//   MVS_DATA_DIR    ~/.local/share/microvm-sandbox  durable VM records, disks
//   MVS_CONFIG_DIR  ~/.config/microvm-sandbox       config, API token
//   MVS_RUNTIME_DIR $XDG_RUNTIME_DIR/microvm-sandbox or /tmp/microvm-sandbox-<uid>
//                   sockets (kept short: Unix socket paths max out at 107 bytes)
QString cacheDir();
QString dataDir();
QString configDir();
QString runtimeDir();

// Create a directory (and parents) with mode 0700 if missing.
Core::Result ensurePrivateDir(const QString &path);
// As ensurePrivateDir, but one that exists must be a real directory (not a
// link) owned by this user, else PermissionDenied: a directory someone else
// made in a shared place (/tmp) is never used.
Core::Result ensureOwnedPrivateDir(const QString &path);
// The runtime directory (sockets, VMM state, probe verdicts), made or
// checked as ensureOwnedPrivateDir does.
Core::Expected<QString> ensureRuntimeDir();

// The installed data directory, <prefix>/share/microvm-sandbox, where
// <prefix> is the parent of the running executable's directory (so a package
// or `cmake --install` to any prefix works without environment variables);
// empty without a QCoreApplication.
QString installedDataDir();

// Where template YAML files are searched: MVS_TEMPLATE_PATH (colon-separated),
// the user's config dir, the installed share dir, then the source tree.
QStringList templateSearchPath();

// noVNC's files for the browser viewer: MVS_NOVNC_DIR, else a copy in
// installedDataDir()/novnc when it has core/rfb.js, else Debian's novnc
// package (/usr/share/novnc), which the .deb depends on.
QString novncDir();

// The guest agent binary to put into images: MVS_AGENT_BINARY, else
// microvm-agent next to the running executable, in ../guest-agent (build
// tree), or in the installed libexec dir.
QString agentBinary();

} // namespace Core::Paths
