#pragma once

#include "core/expected.h"

#include <QObject>

class QLocalSocket;

namespace Vmm {

// A VM's serial console on the host's disk, capped: the VMM serves the
// console on a Unix socket, this reads it (kReadChunkBytes at a time) and
// appends to the log file, which rotates to "<log>.1" when it would pass
// kMaxFileBytes. So a guest flooding its console holds at most twice that on
// disk, and the VMM never writes a host file for the guest. Files are opened
// with O_NOFOLLOW: a link planted at the log path is refused, not followed.
class ConsoleLog final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConsoleLog)
public:
    static constexpr qint64 kMaxFileBytes = 4 * 1024 * 1024; // each of <log> and <log>.1
    static constexpr qint64 kReadChunkBytes = 64 * 1024; // socket read buffer and one write
    static constexpr const char *kRotatedSuffix = ".1";

    explicit ConsoleLog(QString logPath, QObject *parent = nullptr);
    ~ConsoleLog() override;

    QString logPath() const { return m_logPath; }
    // Read the VMM's console socket until it closes (or close()). Bytes
    // the guest writes before this connects are not captured.
    void attach(const QString &socketPath);
    bool isAttached() const;
    // Stop reading; what was read is on disk.
    void close();
    // Append to the log, rotating as needed. attach() feeds it; tests too.
    Core::Result append(QByteArray bytes);

    // The last maxBytes of a log written this way (its rotated part first).
    static QByteArray tail(const QString &logPath, qint64 maxBytes);
    // Delete a log and its rotated part.
    static void remove(const QString &logPath);

private:
    void onReadyRead();
    Core::Result openLog();
    Core::Result rotate();

    QString m_logPath;
    int m_fd = -1;
    qint64 m_size = 0;
    QLocalSocket *m_socket = nullptr;
    bool m_reportedError = false;
};

} // namespace Vmm
