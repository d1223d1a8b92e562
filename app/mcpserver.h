#pragma once
// `microvm-sandbox mcp`: a Model Context Protocol server on stdio
// (JSON-RPC 2.0, one message per line). Its tools create, list and destroy
// sandboxes, run commands, move files and snapshot, restore and fork them
// through the service's REST API:
// the running service, or (--standalone, or when none answers) a private
// in-process one whose VMs go away when the client hangs up.

#include "app/serviceclient.h"

#include <QJsonObject>
#include <QObject>
#include <QStringList>

#include <functional>
#include <memory>

class QSocketNotifier;

namespace App {

class McpServer final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(McpServer)
public:
    static constexpr auto kLatestProtocol = "2025-06-18";

    explicit McpServer(ServiceClient::Endpoint endpoint, QObject *parent = nullptr);
    ~McpServer() override;

    // Read stdin until EOF; finished() follows the last answer.
    void start();

    // One message in; the answer, if any, goes to the writer.
    void handleMessage(const QByteArray &line);

    static QStringList supportedProtocols();
    static QJsonArray toolDefinitions();

Q_SIGNALS:
    void finished();

private:
    using Reply = std::function<void(const QJsonObject &result)>;

    void readInput();
    void write(const QJsonObject &message);
    void replyResult(const QJsonValue &id, const QJsonObject &result);
    void replyError(const QJsonValue &id, int code, const QString &message);
    void callTool(const QString &tool, const QJsonObject &args, const Reply &reply);
    // The snapshot_* tools; problem: what is already wrong with the arguments.
    void snapshotTool(const QString &tool, const QString &name, const QJsonObject &args, QString problem, const Reply &reply);
    void maybeFinish();

    ServiceClient m_client;
    QSocketNotifier *m_notifier = nullptr;
    QByteArray m_buffer;
    int m_pending = 0;
    bool m_eof = false;
};

int mcpCommand(QStringList args);

} // namespace App
