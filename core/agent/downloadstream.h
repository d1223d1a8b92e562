#pragma once
// A download handed out as a reader (AgentClient::download): the guest's
// bytes go to a FileDownload, and the stream's credit is withheld while
// that reader is behind. Until the guest declares the size the stream waits
// a request's deadline; after, it fails when neither the guest sent nor the
// reader took a byte for StreamLimits::kTransferIdleMs.

#include "core/agent/filestreams.h"

#include <QPointer>

namespace Agent {

class FileDownload;

class DownloadStream final : public FileGetStream {
public:
    DownloadStream(AgentClient *client, quint32 id, const StreamLimits &limits);

    // Resolves with the reader once the guest declared the file's size (the
    // caller owns it; deleteLater() it).
    Core::Future<FileDownload *> start(const QString &guestPath);

    // For FileDownload.
    void drained();
    void cancel();

private:
    void opened(quint64 size) override;
    bool deliver(std::string_view data) override;
    void completed(quint64 size) override;
    void failed(const Core::Error &error) override;
    void progress();

    const int m_idleMs;
    QString m_path;
    QPointer<FileDownload> m_device;
    Core::Promise<FileDownload *> m_promise;
};

} // namespace Agent
