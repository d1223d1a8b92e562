#pragma once

#include "core/expected.h"

#include <QByteArray>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>

namespace Net {

// Runs one of the host's networking tools (nft, ip) to the end, blocking:
// the program is found in the sbin directories (a service's PATH may lack
// them), stdin is written, stdout is returned. A failure is an error naming
// what was being done, the command and the tool's stderr.
struct HostTool {
    static constexpr int kTimeoutMs = 10000;
    static constexpr qsizetype kMaxOutputBytes = 16 * 1024 * 1024;

    // What the tools (and the resolvers) get: a fixed PATH and the C.UTF-8
    // locale, nothing of the service's environment (no MVS_TOKEN).
    static QProcessEnvironment environment();
    // "nft" -> "/usr/sbin/nft"; empty when it is not installed.
    static QString find(const QString &name);
    // what: "apply the table of mvs_x" (the error reads "cannot <what>: ...").
    static Core::Expected<QByteArray> run(const QString &name, const QStringList &arguments, const QString &what, const QByteArray &input = {});
};

} // namespace Net
