#pragma once
// `microvm-sandbox mcp`: a Model Context Protocol server on stdio
// (JSON-RPC 2.0, one message per line). Its tools create, list and destroy
// sandboxes, run commands (also in the background: start_process and its
// siblings), move files, snapshot, restore and fork them and
// expose their ports on the host
// through the service's REST API:
// the running service, or (--standalone, or when none answers) a private
// in-process one whose VMs go away when the client hangs up.

#include "app/serviceclient.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QList>
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
    using Handler = void (McpServer::*)(const QJsonObject &args, const Reply &reply);
    struct Tool {
        QJsonObject definition; // name, description, inputSchema
        Handler handler;
    };
    static const QList<Tool> &tools();
    // The tools by group: sandboxes, guest commands and files, desktop, snapshots.
    static QList<Tool> sandboxTools();
    static QList<Tool> guestTools();
    static QList<Tool> processTools();
    static QList<Tool> desktopTools();
    static QList<Tool> snapshotTools();
    static QList<Tool> portTools();
    static const Tool *findTool(const QString &name);
    void callTool(const QString &name, const QJsonObject &args, const Reply &reply);
    template<typename T, typename F>
    void answer(Core::Future<T> call, const Reply &reply, F text);

    // The tools, one each.
    void listSandboxes(const QJsonObject &args, const Reply &reply);
    void createSandbox(const QJsonObject &args, const Reply &reply);
    void destroySandbox(const QJsonObject &args, const Reply &reply);
    void runCommand(const QJsonObject &args, const Reply &reply);
    static QJsonObject execBody(const QJsonObject &args, QString *problem);
    void executeCode(const QJsonObject &args, const Reply &reply);
    static QJsonObject codeBody(const QJsonObject &args, QString *problem);
    static QJsonObject codeResult(const QJsonObject &answer);
    void displayInfo(const QJsonObject &args, const Reply &reply);
    void computerInput(const QJsonObject &args, const Reply &reply);
    void screenshot(const QJsonObject &args, const Reply &reply);
    void sendScreenshot(const QString &name, int width, int height, double scale, const Reply &reply);
    void writeFile(const QJsonObject &args, const Reply &reply);
    void readFile(const QJsonObject &args, const Reply &reply);
    void snapshotList(const QJsonObject &args, const Reply &reply);
    void snapshotCreate(const QJsonObject &args, const Reply &reply);
    void snapshotRestore(const QJsonObject &args, const Reply &reply);
    void snapshotFork(const QJsonObject &args, const Reply &reply);
    void snapshotDelete(const QJsonObject &args, const Reply &reply);
    void exposePort(const QJsonObject &args, const Reply &reply);
    void listPorts(const QJsonObject &args, const Reply &reply);
    void unexposePort(const QJsonObject &args, const Reply &reply);
    void startProcess(const QJsonObject &args, const Reply &reply);
    void listProcesses(const QJsonObject &args, const Reply &reply);
    void readProcessOutput(const QJsonObject &args, const Reply &reply);
    void writeProcessStdin(const QJsonObject &args, const Reply &reply);
    void killProcess(const QJsonObject &args, const Reply &reply);
    void maybeFinish();

    ServiceClient m_client;
    QSocketNotifier *m_notifier = nullptr;
    QByteArray m_buffer;
    int m_pending = 0;
    bool m_eof = false;
};

int mcpCommand(QStringList args);

} // namespace App
