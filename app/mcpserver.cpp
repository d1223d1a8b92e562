#include "app/mcpserver.h"

#include "app/clioptions.h"
#include "app/service.h"
#include "app/signalwatcher.h"
#include "core/code/coderunner.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"
#include "server/tokenstore.h"

#include <QCoreApplication>
#include <QFutureWatcher>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QStringDecoder>
#include <QTemporaryDir>

#include <cstdio>
#include <limits>
#include <unistd.h>

namespace App {

namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kProbeTimeoutMs = 3000;
constexpr int kDisplayTimeoutMs = 90000; // the first call waits for the desktop to come up
// Screenshots and input wait this long for the desktop to be ready (the
// service's ?wait_s, at most 60): an agent's first call right after create.
constexpr int kDisplayReadyWaitS = 60;
constexpr qint64 kMaxReadFileBytes = 16 << 20; // read_file's answer goes whole into one JSON message

void log(const QString &line)
{
    std::fprintf(stderr, "microvm-sandbox mcp: %s\n", qPrintable(line));
    std::fflush(stderr);
}

QJsonObject textResult(const QString &text, bool isError = false)
{
    return QJsonObject{{QStringLiteral("content"), QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}}}},
                       {QStringLiteral("isError"), isError}};
}

QJsonObject errorResult(const QString &text)
{
    return textResult(text, true);
}

QJsonObject prop(const char *type, const char *description)
{
    return QJsonObject{{QStringLiteral("type"), QString::fromLatin1(type)}, {QStringLiteral("description"), QString::fromLatin1(description)}};
}

QJsonObject tool(const char *name, const char *description, const QJsonObject &properties, const QStringList &required)
{
    QJsonObject schema{{QStringLiteral("type"), QStringLiteral("object")}, {QStringLiteral("properties"), properties}};
    if (!required.isEmpty())
        schema[QStringLiteral("required")] = QJsonArray::fromStringList(required);
    return QJsonObject{{QStringLiteral("name"), QString::fromLatin1(name)},
                       {QStringLiteral("description"), QString::fromLatin1(description)},
                       {QStringLiteral("inputSchema"), schema}};
}

// Arguments that several tools share.
const QString kNameArg = QStringLiteral("name");
const QString kSnapshotArg = QStringLiteral("snapshot");
const QString kPathArg = QStringLiteral("path");

QJsonObject sandboxNameProp()
{
    return prop("string", "The sandbox's name");
}

QJsonObject codeLanguageProp()
{
    QJsonObject p = prop("string", "python (the default), javascript or bash");
    p[QStringLiteral("enum")] = QJsonArray{QStringLiteral("python"), QStringLiteral("javascript"), QStringLiteral("bash")};
    return p;
}

QJsonObject pathProp()
{
    return prop("string", "Absolute path in the sandbox");
}

QJsonObject snapshotNameProp()
{
    return prop("string", "The snapshot's name");
}

QJsonObject commandProp()
{
    return QJsonObject{{QStringLiteral("description"), QStringLiteral("The command: a shell string (run by /bin/sh -c) or an argv array of strings")},
                       {QStringLiteral("oneOf"),
                        QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("string")}},
                                   QJsonObject{{QStringLiteral("type"), QStringLiteral("array")},
                                               {QStringLiteral("items"), QJsonObject{{QStringLiteral("type"), QStringLiteral("string")}}},
                                               {QStringLiteral("minItems"), 1}}}}};
}

QString compact(const QJsonValue &v)
{
    return QString::fromUtf8(v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Indented)
                                         : QJsonDocument(v.toObject()).toJson(QJsonDocument::Indented));
}

// A non-empty string argument, or empty with *problem set.
QString requiredString(const QJsonObject &args, const QString &key, QString *problem)
{
    const QJsonValue v = args.value(key);
    if (!v.isString() || v.toString().isEmpty()) {
        if (problem->isEmpty())
            *problem = QStringLiteral("'%1' is required and must be a non-empty string").arg(key);
        return QString();
    }
    return v.toString();
}

template<typename T>
Core::Expected<T> wait(Core::Future<T> future)
{
    QEventLoop loop;
    QFutureWatcher<Core::Expected<T>> watcher;
    QObject::connect(&watcher, &QFutureWatcherBase::finished, &loop, &QEventLoop::quit);
    watcher.setFuture(future);
    if (!future.isFinished())
        loop.exec();
    return future.result();
}

} // namespace

McpServer::McpServer(ServiceClient::Endpoint endpoint, QObject *parent)
    : QObject(parent)
    , m_client(std::move(endpoint))
{
}

McpServer::~McpServer() = default;

QStringList McpServer::supportedProtocols()
{
    return {QString::fromLatin1(kLatestProtocol), QStringLiteral("2025-03-26"), QStringLiteral("2024-11-05")};
}

void McpServer::start()
{
    m_notifier = new QSocketNotifier(STDIN_FILENO, QSocketNotifier::Read, this);
    connect(m_notifier, &QSocketNotifier::activated, this, &McpServer::readInput);
}

void McpServer::readInput()
{
    char chunk[65536];
    const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        m_notifier->setEnabled(false);
        m_eof = true;
        if (!m_buffer.trimmed().isEmpty())
            handleMessage(m_buffer);
        m_buffer.clear();
        maybeFinish();
        return;
    }
    m_buffer.append(chunk, n);
    qsizetype nl;
    while ((nl = m_buffer.indexOf('\n')) >= 0) {
        const QByteArray line = m_buffer.left(nl);
        m_buffer.remove(0, nl + 1);
        if (!line.trimmed().isEmpty())
            handleMessage(line);
    }
}

void McpServer::maybeFinish()
{
    if (m_eof && m_pending == 0)
        Q_EMIT finished();
}

void McpServer::write(const QJsonObject &message)
{
    const QByteArray out = QJsonDocument(message).toJson(QJsonDocument::Compact) + '\n';
    std::fwrite(out.constData(), 1, size_t(out.size()), stdout);
    std::fflush(stdout);
}

void McpServer::replyResult(const QJsonValue &id, const QJsonObject &result)
{
    write(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")}, {QStringLiteral("id"), id}, {QStringLiteral("result"), result}});
}

void McpServer::replyError(const QJsonValue &id, int code, const QString &message)
{
    write(QJsonObject{{QStringLiteral("jsonrpc"), QStringLiteral("2.0")},
                      {QStringLiteral("id"), id},
                      {QStringLiteral("error"), QJsonObject{{QStringLiteral("code"), code}, {QStringLiteral("message"), message}}}});
}

void McpServer::handleMessage(const QByteArray &line)
{
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &pe);
    if (pe.error != QJsonParseError::NoError) {
        replyError(QJsonValue::Null, kParseError, QStringLiteral("parse error: %1").arg(pe.errorString()));
        return;
    }
    if (!doc.isObject()) {
        replyError(QJsonValue::Null, kInvalidRequest, QStringLiteral("a message must be a JSON-RPC 2.0 object"));
        return;
    }
    const QJsonObject msg = doc.object();
    const QJsonValue id = msg.value(QStringLiteral("id"));
    const bool isRequest = msg.contains(QStringLiteral("id")) && (id.isString() || id.isDouble());
    const QString method = msg.value(QStringLiteral("method")).toString();
    if (msg.value(QStringLiteral("jsonrpc")).toString() != QLatin1String("2.0") || !msg.value(QStringLiteral("method")).isString()) {
        if (!msg.contains(QStringLiteral("method")) && (msg.contains(QStringLiteral("result")) || msg.contains(QStringLiteral("error"))))
            return; // a response to a request we never send: ignore
        replyError(isRequest ? id : QJsonValue(QJsonValue::Null), kInvalidRequest, QStringLiteral("not a JSON-RPC 2.0 request"));
        return;
    }
    if (!isRequest) {
        if (msg.contains(QStringLiteral("id")))
            replyError(QJsonValue::Null, kInvalidRequest, QStringLiteral("'id' must be a string or a number"));
        return; // notifications (initialized, cancelled, ...) need no answer
    }
    const QJsonObject params = msg.value(QStringLiteral("params")).toObject();

    if (method == QLatin1String("initialize")) {
        const QString asked = params.value(QStringLiteral("protocolVersion")).toString();
        const QString version = supportedProtocols().contains(asked) ? asked : QString::fromLatin1(kLatestProtocol);
        replyResult(
            id,
            QJsonObject{{QStringLiteral("protocolVersion"), version},
                        {QStringLiteral("capabilities"), QJsonObject{{QStringLiteral("tools"), QJsonObject()}}},
                        {QStringLiteral("serverInfo"),
                         QJsonObject{{QStringLiteral("name"), QStringLiteral("microvm-sandbox")}, {QStringLiteral("version"), QStringLiteral(MVS_VERSION)}}},
                        {QStringLiteral("instructions"),
                         QStringLiteral("Each sandbox is a Linux microVM. Create one, run commands and move files in it, "
                                        "snapshot it to come back to a state later or to fork copies, expose its ports on the host, destroy it when done.")}});
        return;
    }
    if (method == QLatin1String("ping")) {
        replyResult(id, QJsonObject());
        return;
    }
    if (method == QLatin1String("tools/list")) {
        replyResult(id, QJsonObject{{QStringLiteral("tools"), toolDefinitions()}});
        return;
    }
    if (method == QLatin1String("tools/call")) {
        const QString name = params.value(QStringLiteral("name")).toString();
        if (!findTool(name)) {
            replyError(id, kInvalidParams, QStringLiteral("unknown tool '%1'").arg(name));
            return;
        }
        const QJsonValue args = params.value(QStringLiteral("arguments"));
        if (!args.isUndefined() && !args.isNull() && !args.isObject()) {
            replyError(id, kInvalidParams, QStringLiteral("'arguments' must be an object"));
            return;
        }
        ++m_pending;
        callTool(name, args.toObject(), [this, id](const QJsonObject &result) {
            replyResult(id, result);
            --m_pending;
            maybeFinish();
        });
        return;
    }
    replyError(id, kMethodNotFound, QStringLiteral("method not found: %1").arg(method));
}

// The tools: one table of name, description, input schema and handler,
// assembled from its groups in the order tools/list shows them.
const QList<McpServer::Tool> &McpServer::tools()
{
    static const QList<Tool> table = sandboxTools() + guestTools() + processTools() + desktopTools() + snapshotTools() + portTools();
    return table;
}

QList<McpServer::Tool> McpServer::sandboxTools()
{
    const QString &n = kNameArg;
    return {
        {tool("create_sandbox", "Create and boot a new sandbox (a microVM) and return its name.",
              {{n, prop("string", "A name for it (letters, digits, '-', '_'); made up when absent")},
               {QStringLiteral("template"), prop("string", "The template to boot (default: minimal)")},
               {QStringLiteral("network"),
                prop("object", "Replaces the template's network section, e.g. {\"mode\": \"none\"} for no NIC (see the API's CreateVm)")}},
              {}),
         &McpServer::createSandbox},
        {tool("list_sandboxes", "List the sandboxes with their state and template.", {}, {}), &McpServer::listSandboxes},
        {tool("destroy_sandbox", "Stop a sandbox and delete it.", {{n, sandboxNameProp()}}, {n}), &McpServer::destroySandbox},
    };
}

QList<McpServer::Tool> McpServer::guestTools()
{
    const QString &n = kNameArg;
    const QString &p = kPathArg;
    const QJsonObject name = sandboxNameProp();
    const QJsonObject path = pathProp();
    return {
        {tool("run_command",
              "Run a command in a sandbox and return its exit code, stdout and stderr. The answer comes when the command's main process "
              "ends: children it leaves in the background (`server &`) keep running. For a long-running command whose output you "
              "want later, use start_process.",
              {{n, name},
               {QStringLiteral("command"), commandProp()},
               {QStringLiteral("timeout_s"), prop("number", "Kill the command after this many seconds")},
               {QStringLiteral("stdin"), prop("string", "Text fed to the command's standard input")}},
              {n, QStringLiteral("command")}),
         &McpServer::runCommand},
        {tool("execute_code",
              "Run code in a sandbox (a template with Python, e.g. agent): python in a Jupyter kernel, javascript with node, "
              "bash. Returns stdout, stderr, the last expression's value, errors with their traceback, and images (a matplotlib "
              "figure comes back as a PNG). With a session (python), variables live on between calls, like a notebook.",
              {{n, name},
               {QStringLiteral("language"), codeLanguageProp()},
               {QStringLiteral("code"), prop("string", "The code to run")},
               {QStringLiteral("session"), prop("string", "Keep state in this named session (python only); started on first use")},
               {QStringLiteral("timeout_s"), prop("number", "Stop the run after this many seconds (default 60); a session keeps its state")}},
              {n, QStringLiteral("code")}),
         &McpServer::executeCode},
        {tool("write_file", "Write a file in a sandbox (parent directories are created).",
              {{n, name},
               {p, path},
               {QStringLiteral("content"), prop("string", "The file's text (UTF-8)")},
               {QStringLiteral("content_base64"), prop("string", "The file's bytes, base64 encoded (instead of content)")}},
              {n, p}),
         &McpServer::writeFile},
        {tool("read_file", "Read a file from a sandbox: its text, or base64 when it is not UTF-8.", {{n, name}, {p, path}}, {n, p}), &McpServer::readFile},
    };
}

QList<McpServer::Tool> McpServer::processTools()
{
    const QString &n = kNameArg;
    const QJsonObject name = sandboxNameProp();
    const QJsonObject pid = prop("integer", "The background process's pid (from start_process or list_processes)");
    return {
        {tool("start_process",
              "Start a command in the background in a sandbox (a dev server, a watcher, a long build) and return its pid at once. "
              "Its output is kept (the last MiB of stdout and of stderr) for read_process_output; it runs until it ends or kill_process.",
              {{n, name},
               {QStringLiteral("command"), commandProp()},
               {QStringLiteral("cwd"), prop("string", "The working directory in the sandbox (default /)")},
               {QStringLiteral("timeout_s"), prop("number", "Kill it after this many seconds (default: never)")},
               {QStringLiteral("stdin"), prop("string", "Text written to its standard input at the start (it stays open: write_process_stdin)")}},
              {n, QStringLiteral("command")}),
         &McpServer::startProcess},
        {tool("list_processes", "List a sandbox's background processes: pid, command, running or how it ended.", {{n, name}}, {n}), &McpServer::listProcesses},
        {tool("read_process_output",
              "Read a background process's output from byte offsets (0: from the start). Returns stdout, stderr, the offsets to "
              "read from next, whether it still runs, its exit code, and truncated when older output was dropped.",
              {{n, name},
               {QStringLiteral("pid"), pid},
               {QStringLiteral("stdout_offset"), prop("integer", "Where to read stdout from (default 0)")},
               {QStringLiteral("stderr_offset"), prop("integer", "Where to read stderr from (default 0)")}},
              {n, QStringLiteral("pid")}),
         &McpServer::readProcessOutput},
        {tool("write_process_stdin", "Write text to a background process's standard input, and close it with eof.",
              {{n, name},
               {QStringLiteral("pid"), pid},
               {QStringLiteral("data"), prop("string", "The text to write")},
               {QStringLiteral("eof"), prop("boolean", "Close its stdin after the data")}},
              {n, QStringLiteral("pid")}),
         &McpServer::writeProcessStdin},
        {tool("kill_process", "Send a signal (TERM by default) to a background process and its group; remove forgets it.",
              {{n, name},
               {QStringLiteral("pid"), pid},
               {QStringLiteral("signal"), prop("string", "TERM, KILL, INT, HUP, ... or a number")},
               {QStringLiteral("remove"), prop("boolean", "Kill it (with KILL) and forget it and its output")}},
              {n, QStringLiteral("pid")}),
         &McpServer::killProcess},
    };
}

QList<McpServer::Tool> McpServer::desktopTools()
{
    const QString &n = kNameArg;
    const QJsonObject name = sandboxNameProp();
    return {
        {tool("screenshot",
              "Take a screenshot of a sandbox's desktop (desktop templates). Returns a PNG image and the scale "
              "to map image coordinates back to the screen.",
              {{n, name},
               {QStringLiteral("max_width"), prop("integer", "Scale the image down to fit this width (default: the screen's)")},
               {QStringLiteral("max_height"), prop("integer", "Scale the image down to fit this height (default: the screen's)")}},
              {n}),
         &McpServer::screenshot},
        {tool("computer_input",
              "Drive a sandbox's desktop with the mouse and keyboard. 'actions' is a list of objects applied in order, each with "
              "'action' one of: move {x,y}; click {x?,y?,button? (left|middle|right),count? (1-3)}; drag {x,y,to_x,to_y,button?}; "
              "scroll {x?,y?,dx?,dy? (notches; dy>0 scrolls down)}; type {text}; key {keys, e.g. \"ctrl+alt+t\", \"Return\"}. "
              "Coordinates are screen pixels, or screenshot pixels when 'scale' is the screenshot's scale. Refused while a "
              "human has taken control of the desktop.",
              {{n, name},
               {QStringLiteral("actions"),
                QJsonObject{{QStringLiteral("type"), QStringLiteral("array")},
                            {QStringLiteral("items"), QJsonObject{{QStringLiteral("type"), QStringLiteral("object")}}},
                            {QStringLiteral("minItems"), 1}}},
               {QStringLiteral("scale"), prop("number", "The scale of the screenshot the coordinates come from (default 1)")}},
              {n, QStringLiteral("actions")}),
         &McpServer::computerInput},
        {tool("display_info", "A sandbox's desktop: its size and who is driving it (the agent, or a human who took control).", {{n, name}}, {n}),
         &McpServer::displayInfo},
    };
}

QList<McpServer::Tool> McpServer::snapshotTools()
{
    const QString &n = kNameArg;
    const QString &s = kSnapshotArg;
    const QJsonObject name = sandboxNameProp();
    const QJsonObject snapshot = snapshotNameProp();
    return {
        {tool("snapshot_create",
              "Snapshot a running sandbox: its memory, processes and disk, to come back to later (snapshot_restore) or to "
              "start copies from (snapshot_fork). The sandbox is paused for about a second, then runs on.",
              {{n, name},
               {s, prop("string", "A name for the snapshot (lowercase letters, digits, '-'); snap-<UTC time> when absent")},
               {QStringLiteral("leave_paused"), prop("boolean", "Leave the sandbox paused afterwards (default false)")}},
              {n}),
         &McpServer::snapshotCreate},
        {tool("snapshot_list", "List a sandbox's snapshots, oldest first: name, time, parent and size.", {{n, name}}, {n}), &McpServer::snapshotList},
        {tool("snapshot_restore",
              "Bring a sandbox back to a snapshot: files, memory and running processes as they were when it was taken. "
              "Whatever happened since is lost; the snapshot stays. A corrupted snapshot is refused and the sandbox left alone.",
              {{n, name}, {s, snapshot}}, {n, s}),
         &McpServer::snapshotRestore},
        {tool("snapshot_fork", "Start new sandboxes from a snapshot, each a running copy with its own name, disk and host name. Returns their names.",
              {{n, name},
               {s, snapshot},
               {QStringLiteral("count"),
                QJsonObject{{QStringLiteral("type"), QStringLiteral("integer")},
                            {QStringLiteral("description"), QStringLiteral("How many (default 1)")},
                            {QStringLiteral("minimum"), 1},
                            {QStringLiteral("maximum"), 16}}},
               {QStringLiteral("name_prefix"), prop("string", "The new sandboxes are named <prefix>-<n> (default <name>-fork)")}},
              {n, s}),
         &McpServer::snapshotFork},
        {tool("snapshot_delete", "Delete a snapshot of a sandbox (the sandbox itself is not touched).", {{n, name}, {s, snapshot}}, {n, s}),
         &McpServer::snapshotDelete},
    };
}

QList<McpServer::Tool> McpServer::portTools()
{
    const QString &n = kNameArg;
    const QString g = QStringLiteral("guest_port");
    const QJsonObject name = sandboxNameProp();
    const QJsonObject guestPort{
        {QStringLiteral("type"), QStringLiteral("integer")},
        {QStringLiteral("description"), QStringLiteral("A TCP port a server listens on inside the sandbox (on its 127.0.0.1 or all addresses)")},
        {QStringLiteral("minimum"), 1},
        {QStringLiteral("maximum"), 65535}};
    return {
        {tool("expose_port",
              "Make a TCP port of a sandbox reachable from the host (for example a web server the agent started), at a host "
              "address and port. Returns the host endpoint to connect to. The exposure stays with the sandbox (also across "
              "restarts) until unexpose_port.",
              {{n, name},
               {g, guestPort},
               {QStringLiteral("host_port"), prop("integer", "The host port (default: any free one)")},
               {QStringLiteral("host_address"), prop("string", "The host address to listen on (default 127.0.0.1)")}},
              {n, g}),
         &McpServer::exposePort},
        {tool("list_ports", "List a sandbox's exposed ports: guest port, host endpoint, state and open connections.", {{n, name}}, {n}), &McpServer::listPorts},
        {tool("unexpose_port", "Stop exposing a sandbox's port on the host; its host port is closed.", {{n, name}, {g, guestPort}}, {n, g}),
         &McpServer::unexposePort},
    };
}

QJsonArray McpServer::toolDefinitions()
{
    QJsonArray out;
    for (const Tool &t : tools())
        out.append(t.definition);
    return out;
}

const McpServer::Tool *McpServer::findTool(const QString &name)
{
    for (const Tool &t : tools()) {
        if (t.definition.value(QStringLiteral("name")).toString() == name)
            return &t;
    }
    return nullptr;
}

void McpServer::callTool(const QString &name, const QJsonObject &args, const Reply &reply)
{
    if (const Tool *t = findTool(name))
        (this->*(t->handler))(args, reply);
    else
        reply(errorResult(QStringLiteral("unknown tool '%1'").arg(name)));
}

// The answer to a tool call: text made from the service's answer, or its error.
template<typename T, typename F>
void McpServer::answer(Core::Future<T> call, const Reply &reply, F text)
{
    call.then(this, [reply, text](const Core::Expected<T> &r) {
        if (!r)
            reply(errorResult(r.error().message));
        else
            reply(textResult(text(*r)));
    });
}

void McpServer::listSandboxes(const QJsonObject &, const Reply &reply)
{
    answer(m_client.getJson(QStringLiteral("/api/v1/vms")), reply, [](const QJsonObject &r) {
        QJsonArray out;
        for (const QJsonValue &v : r.value(QStringLiteral("vms")).toArray())
            out.append(QJsonObject{{QStringLiteral("name"), v[QStringLiteral("name")]},
                                   {QStringLiteral("state"), v[QStringLiteral("state")]},
                                   {QStringLiteral("template"), v[QStringLiteral("template")]}});
        return out.isEmpty() ? QStringLiteral("no sandboxes") : compact(out);
    });
}

void McpServer::createSandbox(const QJsonObject &args, const Reply &reply)
{
    QString name = args.value(QStringLiteral("name")).toString();
    if (name.isEmpty())
        name = QStringLiteral("sbx-%1").arg(QRandomGenerator::system()->generate() & 0xffffff, 6, 16, QLatin1Char('0'));
    QString tmpl = args.value(QStringLiteral("template")).toString();
    if (tmpl.isEmpty())
        tmpl = QStringLiteral("minimal");
    QJsonObject body{{QStringLiteral("name"), name}, {QStringLiteral("template"), tmpl}};
    const QJsonValue network = args.value(QStringLiteral("network"));
    if (!network.isUndefined() && !network.isNull()) {
        if (!network.isObject())
            return reply(errorResult(QStringLiteral("'network' must be an object, e.g. {\"mode\": \"none\"}")));
        body[QStringLiteral("network")] = network; // checked by the service
    }
    answer(m_client.postJson(QStringLiteral("/api/v1/vms"), body), reply, [](const QJsonObject &r) {
        return QStringLiteral("created sandbox %1 (template %2, %3)")
            .arg(r.value(QStringLiteral("name")).toString(), r.value(QStringLiteral("template")).toString(), r.value(QStringLiteral("state")).toString());
    });
}

void McpServer::destroySandbox(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.deleteJson(ServiceClient::vmPath(name)), reply, [name](const QJsonObject &) { return QStringLiteral("destroyed sandbox %1").arg(name); });
}

// The body of an exec request from run_command's arguments; *problem: what is wrong with them.
QJsonObject McpServer::execBody(const QJsonObject &args, QString *problem)
{
    const QJsonValue command = args.value(QStringLiteral("command"));
    QJsonObject body;
    if (command.isString() && !command.toString().isEmpty()) {
        body[QStringLiteral("cmd")] = command;
    } else if (command.isArray() && !command.toArray().isEmpty()) {
        for (const QJsonValue &a : command.toArray())
            if (!a.isString())
                *problem = QStringLiteral("'command' as an array must hold strings only");
        body[QStringLiteral("cmd")] = command;
    } else if (problem->isEmpty()) {
        *problem = QStringLiteral("'command' is required: a shell string or a non-empty array of strings");
    }
    if (args.contains(QStringLiteral("timeout_s"))) {
        if (!args.value(QStringLiteral("timeout_s")).isDouble() || args.value(QStringLiteral("timeout_s")).toDouble() <= 0)
            *problem = QStringLiteral("'timeout_s' must be a number of seconds above 0");
        body[QStringLiteral("timeout_s")] = args.value(QStringLiteral("timeout_s"));
    }
    if (args.contains(QStringLiteral("stdin"))) {
        if (!args.value(QStringLiteral("stdin")).isString())
            *problem = QStringLiteral("'stdin' must be a string");
        body[QStringLiteral("stdin")] = args.value(QStringLiteral("stdin"));
    }
    return body;
}

void McpServer::runCommand(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QJsonObject body = execBody(args, &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("exec")), body), reply, [](const QJsonObject &r) {
        QString text;
        if (r.value(QStringLiteral("timed_out")).toBool())
            text = QStringLiteral("timed out");
        else if (r.contains(QStringLiteral("signal")))
            text = QStringLiteral("killed by signal %1").arg(r.value(QStringLiteral("signal")).toInt());
        else
            text = QStringLiteral("exit code %1").arg(r.value(QStringLiteral("exit_code")).toInt());
        const QString err = r.value(QStringLiteral("stderr")).toString();
        text += QStringLiteral("\n--- stdout ---\n") + r.value(QStringLiteral("stdout")).toString();
        if (!err.isEmpty())
            text += QStringLiteral("\n--- stderr ---\n") + err;
        return text;
    });
}

// The body of a code request from execute_code's arguments; *problem: what is wrong with them.
QJsonObject McpServer::codeBody(const QJsonObject &args, QString *problem)
{
    QJsonObject body{{QStringLiteral("language"), args.value(QStringLiteral("language")).toString(QStringLiteral("python"))}};
    if (!args.value(QStringLiteral("code")).isString() && problem->isEmpty())
        *problem = QStringLiteral("'code' is required: a string");
    body[QStringLiteral("code")] = args.value(QStringLiteral("code"));
    for (const char *key : {"session", "timeout_s"})
        if (args.contains(QLatin1String(key)))
            body[QLatin1String(key)] = args.value(QLatin1String(key));
    return body;
}

// The tool's answer: the text (result, output, error) and the images.
QJsonObject McpServer::codeResult(const QJsonObject &r)
{
    QStringList parts;
    if (r.value(QStringLiteral("timed_out")).toBool())
        parts << QStringLiteral("timed out");
    if (r.value(QStringLiteral("result")).isString())
        parts << QStringLiteral("result: ") + r.value(QStringLiteral("result")).toString();
    for (const char *stream : {"stdout", "stderr"})
        if (!r.value(QLatin1String(stream)).toString().isEmpty())
            parts << QStringLiteral("--- %1 ---\n").arg(QLatin1String(stream)) + r.value(QLatin1String(stream)).toString();
    const QJsonObject error = r.value(QStringLiteral("error")).toObject();
    if (!error.isEmpty()) {
        QStringList tb;
        for (const QJsonValue &line : error.value(QStringLiteral("traceback")).toArray())
            tb << line.toString();
        parts << QStringLiteral("error: %1: %2\n%3")
                     .arg(error.value(QStringLiteral("name")).toString(), error.value(QStringLiteral("value")).toString(), tb.join(QLatin1Char('\n')));
    }
    QJsonArray content;
    for (const QJsonValue &v : r.value(QStringLiteral("outputs")).toArray()) {
        const QJsonObject o = v.toObject();
        const QString type = o.value(QStringLiteral("type")).toString();
        if (type == QLatin1String("image/png") || type == QLatin1String("image/jpeg"))
            content.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("image")},
                                       {QStringLiteral("data"), o.value(QStringLiteral("data"))},
                                       {QStringLiteral("mimeType"), type}});
        else
            parts << QStringLiteral("--- %1 ---\n").arg(type) + o.value(QStringLiteral("data")).toString();
    }
    if (r.value(QStringLiteral("session")).isString())
        parts << QStringLiteral("(session %1, execution %2)")
                     .arg(r.value(QStringLiteral("session")).toString())
                     .arg(r.value(QStringLiteral("execution_count")).toInt());
    if (parts.isEmpty())
        parts << QStringLiteral("(no output)");
    content.prepend(QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), parts.join(QLatin1Char('\n'))}});
    return QJsonObject{{QStringLiteral("content"), content}, {QStringLiteral("isError"), false}};
}

void McpServer::executeCode(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QJsonObject body = codeBody(args, &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    const double timeoutS = args.value(QStringLiteral("timeout_s")).toDouble(Code::CodeRunner::kDefaultTimeoutS);
    const int waitMs = static_cast<int>(qMin<double>(2 * timeoutS * 1000 + Code::CodeRunner::kRunnerOverheadMs, std::numeric_limits<int>::max()));
    m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("code")), body, qMax(waitMs, ServiceClient::kDefaultTimeoutMs))
        .then(this, [reply](const Core::Expected<QJsonObject> &r) { reply(r ? codeResult(*r) : errorResult(r.error().message)); });
}

void McpServer::displayInfo(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.getJson(ServiceClient::vmPath(name, QStringLiteral("display")), kDisplayTimeoutMs), reply, [](const QJsonObject &r) { return compact(r); });
}

void McpServer::computerInput(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QJsonValue actions = args.value(QStringLiteral("actions"));
    if (problem.isEmpty() && (!actions.isArray() || actions.toArray().isEmpty()))
        problem = QStringLiteral("'actions' is required: a non-empty array of action objects");
    QJsonObject body{{QStringLiteral("actions"), actions}};
    if (args.contains(QStringLiteral("scale")))
        body[QStringLiteral("scale")] = args.value(QStringLiteral("scale"));
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(
        m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("input")) + QStringLiteral("?wait_s=%1").arg(kDisplayReadyWaitS), body, kDisplayTimeoutMs),
        reply, [](const QJsonObject &r) {
            return QStringLiteral("performed %1 action(s) on the %2x%3 screen")
                .arg(r.value(QStringLiteral("performed")).toInt())
                .arg(r.value(QStringLiteral("width")).toInt())
                .arg(r.value(QStringLiteral("height")).toInt());
        });
}

void McpServer::screenshot(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    for (const char *key : {"max_width", "max_height"}) {
        const QJsonValue v = args.value(QLatin1String(key));
        if (!v.isUndefined() && (!v.isDouble() || v.toInt() < 16) && problem.isEmpty())
            problem = QStringLiteral("'%1' must be an integer of at least 16").arg(QLatin1String(key));
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    const int maxW = args.value(QStringLiteral("max_width")).toInt(0);
    const int maxH = args.value(QStringLiteral("max_height")).toInt(0);
    // The screen size first, so the scale can be told; then the image.
    m_client.getJson(ServiceClient::vmPath(name, QStringLiteral("display")), kDisplayTimeoutMs)
        .then(this, [this, reply, name, maxW, maxH](const Core::Expected<QJsonObject> &info) {
            if (!info)
                return reply(errorResult(info.error().message));
            const int w = info->value(QStringLiteral("width")).toInt();
            const int h = info->value(QStringLiteral("height")).toInt();
            double scale = 1.0;
            if (w > 0 && h > 0) {
                if (maxW > 0)
                    scale = qMin(scale, double(maxW) / w);
                if (maxH > 0)
                    scale = qMin(scale, double(maxH) / h);
            }
            sendScreenshot(name, w, h, scale, reply);
        });
}

void McpServer::sendScreenshot(const QString &name, int width, int height, double scale, const Reply &reply)
{
    QString path = ServiceClient::vmPath(name, QStringLiteral("screenshot")) + QStringLiteral("?wait_s=%1").arg(kDisplayReadyWaitS);
    if (scale < 1.0)
        path += QStringLiteral("&scale=%1").arg(scale, 0, 'g', 6);
    m_client.getBytes(path, kDisplayTimeoutMs).then(this, [reply, width, height, scale](const Core::Expected<QByteArray> &png) {
        if (!png)
            return reply(errorResult(png.error().message));
        QString text = QStringLiteral("screen %1x%2").arg(width).arg(height);
        if (scale < 1.0)
            text += QStringLiteral(", image scaled by %1: pass \"scale\": %1 to computer_input to use image coordinates").arg(scale, 0, 'g', 6);
        reply(QJsonObject{{QStringLiteral("content"),
                           QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("image")},
                                                  {QStringLiteral("data"), QString::fromLatin1(png->toBase64())},
                                                  {QStringLiteral("mimeType"), QStringLiteral("image/png")}},
                                      QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}}}},
                          {QStringLiteral("isError"), false}});
    });
}

void McpServer::writeFile(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QString path = requiredString(args, QStringLiteral("path"), &problem);
    QByteArray data;
    const QJsonValue text = args.value(QStringLiteral("content"));
    const QJsonValue b64 = args.value(QStringLiteral("content_base64"));
    if (text.isString() == b64.isString()) {
        if (problem.isEmpty())
            problem = QStringLiteral("give exactly one of 'content' (text) and 'content_base64'");
    } else if (text.isString()) {
        data = text.toString().toUtf8();
    } else {
        auto decoded = QByteArray::fromBase64Encoding(b64.toString().toLatin1(), QByteArray::AbortOnBase64DecodingErrors);
        if (!decoded && problem.isEmpty())
            problem = QStringLiteral("'content_base64' is not valid base64");
        data = *decoded;
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.putBytes(ServiceClient::filesPath(name, path), data), reply, [name, path](const QJsonObject &r) {
        return QStringLiteral("wrote %1 bytes to %2 in %3").arg(r.value(QStringLiteral("size")).toInteger()).arg(path, name);
    });
}

void McpServer::readFile(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QString path = requiredString(args, QStringLiteral("path"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    Core::Future<QByteArray> got =
        m_client.getBytes(ServiceClient::filesPath(name, path), ServiceClient::kDefaultTimeoutMs, kMaxReadFileBytes).then([path](Core::Expected<QByteArray> r) {
            if (!r && r.error().detail == ServiceClient::kTooLargeDetail)
                return Core::Expected<QByteArray>(Core::Error(Core::ErrorCode::InvalidArgument,
                                                              QStringLiteral("%1 is larger than read_file's %2 MiB limit: read part of it with run_command "
                                                                             "(head -c, tail -c), or fetch it whole with GET /api/v1/vms/NAME/files")
                                                                  .arg(path)
                                                                  .arg(kMaxReadFileBytes >> 20)));
            return r;
        });
    answer(got, reply, [path](const QByteArray &r) {
        QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
        const QString text = utf8.decode(r);
        if (!utf8.hasError() && !r.contains('\0'))
            return text;
        return QStringLiteral("%1 is not UTF-8 text (%2 bytes); its content in base64:\n%3").arg(path).arg(r.size()).arg(QString::fromLatin1(r.toBase64()));
    });
}

void McpServer::snapshotList(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.getJson(ServiceClient::snapshotPath(name)), reply, [name](const QJsonObject &r) {
        QJsonArray out;
        for (const QJsonValue &v : r.value(QStringLiteral("snapshots")).toArray())
            out.append(QJsonObject{{QStringLiteral("name"), v[QStringLiteral("name")]},
                                   {QStringLiteral("created_at"), v[QStringLiteral("created_at")]},
                                   {QStringLiteral("parent"), v[QStringLiteral("parent")]},
                                   {QStringLiteral("size_bytes"), v[QStringLiteral("size_bytes")]}});
        return out.isEmpty() ? QStringLiteral("sandbox %1 has no snapshots").arg(name) : compact(out);
    });
}

void McpServer::snapshotCreate(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    QJsonObject body;
    if (args.contains(QStringLiteral("snapshot"))) {
        if ((!args.value(QStringLiteral("snapshot")).isString() || args.value(QStringLiteral("snapshot")).toString().isEmpty()) && problem.isEmpty())
            problem = QStringLiteral("'snapshot' must be a non-empty string (leave it out for a generated name)");
        body[QStringLiteral("name")] = args.value(QStringLiteral("snapshot"));
    }
    if (args.contains(QStringLiteral("leave_paused"))) {
        if (!args.value(QStringLiteral("leave_paused")).isBool() && problem.isEmpty())
            problem = QStringLiteral("'leave_paused' must be true or false");
        body[QStringLiteral("leave_paused")] = args.value(QStringLiteral("leave_paused"));
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.postJson(ServiceClient::snapshotPath(name), body), reply, [name](const QJsonObject &r) {
        return QStringLiteral("took snapshot %1 of sandbox %2 (%3 bytes, paused %4 ms)")
            .arg(r.value(QStringLiteral("name")).toString(), name)
            .arg(r.value(QStringLiteral("size_bytes")).toInteger())
            .arg(r.value(QStringLiteral("paused_ms")).toInteger());
    });
}

void McpServer::snapshotRestore(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QString snapshot = requiredString(args, QStringLiteral("snapshot"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.postJson(ServiceClient::snapshotPath(name, snapshot, QStringLiteral("restore")), QJsonObject()), reply,
           [name, snapshot](const QJsonObject &r) {
               return QStringLiteral("restored sandbox %1 to snapshot %2 (%3)").arg(name, snapshot, r.value(QStringLiteral("state")).toString());
           });
}

void McpServer::snapshotFork(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QString snapshot = requiredString(args, QStringLiteral("snapshot"), &problem);
    QJsonObject body;
    if (args.contains(QStringLiteral("count"))) {
        const QJsonValue count = args.value(QStringLiteral("count"));
        if ((!count.isDouble() || count.toDouble() != double(count.toInt())) && problem.isEmpty())
            problem = QStringLiteral("'count' must be an integer from 1 to 16");
        body[QStringLiteral("count")] = count;
    }
    if (args.contains(QStringLiteral("name_prefix"))) {
        if (!args.value(QStringLiteral("name_prefix")).isString() && problem.isEmpty())
            problem = QStringLiteral("'name_prefix' must be a string");
        body[QStringLiteral("name_prefix")] = args.value(QStringLiteral("name_prefix"));
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.postJson(ServiceClient::snapshotPath(name, snapshot, QStringLiteral("fork")), body), reply, [snapshot](const QJsonObject &r) {
        QStringList names;
        for (const QJsonValue &v : r.value(QStringLiteral("vms")).toArray())
            names << v[QStringLiteral("name")].toString();
        return QStringLiteral("started %1 sandbox(es) from snapshot %2: %3").arg(names.size()).arg(snapshot, names.join(QStringLiteral(", ")));
    });
}

void McpServer::snapshotDelete(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const QString snapshot = requiredString(args, QStringLiteral("snapshot"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.deleteJson(ServiceClient::snapshotPath(name, snapshot)), reply,
           [name, snapshot](const QJsonObject &) { return QStringLiteral("deleted snapshot %1 of sandbox %2").arg(snapshot, name); });
}

namespace {

// An integer argument from `lowest` to 65535, or 0 with *problem set.
int portArgument(const QJsonObject &args, const QString &key, int lowest, QString *problem)
{
    const QJsonValue v = args.value(key);
    if (!v.isDouble() || v.toDouble() != double(v.toInt()) || v.toInt() < lowest || v.toInt() > 65535) {
        if (problem->isEmpty())
            *problem = QStringLiteral("'%1' must be an integer from %2 to 65535").arg(key).arg(lowest);
        return 0;
    }
    return v.toInt();
}

} // namespace

void McpServer::exposePort(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const int guest = portArgument(args, QStringLiteral("guest_port"), 1, &problem);
    QJsonObject body{{QStringLiteral("guest_port"), guest}};
    if (args.contains(QStringLiteral("host_port")))
        body[QStringLiteral("host_port")] = portArgument(args, QStringLiteral("host_port"), 0, &problem);
    if (args.contains(QStringLiteral("host_address")))
        body[QStringLiteral("host_address")] = requiredString(args, QStringLiteral("host_address"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("ports")), body), reply, [name, guest](const QJsonObject &r) {
        QString text =
            QStringLiteral("port %1 of sandbox %2 is reachable from the host at %3").arg(guest).arg(name, r.value(QStringLiteral("endpoint")).toString());
        if (r.value(QStringLiteral("state")).toString() != QLatin1String("active"))
            text += QStringLiteral(" once the sandbox runs");
        return text;
    });
}

void McpServer::listPorts(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.getJson(ServiceClient::vmPath(name, QStringLiteral("ports"))), reply, [name](const QJsonObject &r) {
        QJsonArray out;
        for (const QJsonValue &v : r.value(QStringLiteral("ports")).toArray())
            out.append(QJsonObject{{QStringLiteral("guest_port"), v[QStringLiteral("guest_port")]},
                                   {QStringLiteral("endpoint"), v[QStringLiteral("endpoint")]},
                                   {QStringLiteral("state"), v[QStringLiteral("state")]},
                                   {QStringLiteral("connections"), v[QStringLiteral("connections")]}});
        return out.isEmpty() ? QStringLiteral("sandbox %1 has no exposed ports").arg(name) : compact(out);
    });
}

void McpServer::unexposePort(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const int guest = portArgument(args, QStringLiteral("guest_port"), 1, &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.deleteJson(ServiceClient::vmPath(name, QStringLiteral("ports/%1").arg(guest))), reply,
           [name, guest](const QJsonObject &) { return QStringLiteral("port %1 of sandbox %2 is no longer exposed").arg(guest).arg(name); });
}

namespace {

// A pid argument, or 0 with *problem set.
int pidArgument(const QJsonObject &args, QString *problem)
{
    const QJsonValue v = args.value(QStringLiteral("pid"));
    if (!v.isDouble() || v.toDouble() != double(v.toInt()) || v.toInt() < 1) {
        if (problem->isEmpty())
            *problem = QStringLiteral("'pid' is required: a background process's pid, a positive integer");
        return 0;
    }
    return v.toInt();
}

QString processPath(const QString &name, int pid, const QString &rest = QString())
{
    return ServiceClient::vmPath(name, QStringLiteral("processes/%1%2").arg(pid).arg(rest));
}

} // namespace

void McpServer::startProcess(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    QJsonObject body = execBody(args, &problem);
    if (args.contains(QStringLiteral("cwd"))) {
        if (!args.value(QStringLiteral("cwd")).isString() && problem.isEmpty())
            problem = QStringLiteral("'cwd' must be a string");
        body[QStringLiteral("cwd")] = args.value(QStringLiteral("cwd"));
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    body[QStringLiteral("background")] = true;
    answer(m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("exec")), body), reply, [](const QJsonObject &r) {
        return QStringLiteral("started process %1 (read its output with read_process_output)\n%2").arg(r.value(QStringLiteral("pid")).toInt()).arg(compact(r));
    });
}

void McpServer::listProcesses(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.getJson(ServiceClient::vmPath(name, QStringLiteral("processes"))), reply, [name](const QJsonObject &r) {
        const QJsonArray list = r.value(QStringLiteral("processes")).toArray();
        return list.isEmpty() ? QStringLiteral("sandbox %1 has no background processes").arg(name) : compact(list);
    });
}

void McpServer::readProcessOutput(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const int pid = pidArgument(args, &problem);
    qint64 offsets[2] = {0, 0};
    const QString keys[2] = {QStringLiteral("stdout_offset"), QStringLiteral("stderr_offset")};
    for (int i = 0; i < 2; ++i) {
        const QJsonValue v = args.value(keys[i]);
        if (v.isUndefined() || v.isNull())
            continue;
        if ((!v.isDouble() || v.toDouble() < 0 || v.toDouble() != double(v.toInteger())) && problem.isEmpty())
            problem = QStringLiteral("'%1' must be a byte offset, an integer from 0").arg(keys[i]);
        offsets[i] = v.toInteger();
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.getJson(processPath(name, pid, QStringLiteral("/output?stdout_offset=%1&stderr_offset=%2").arg(offsets[0]).arg(offsets[1]))), reply,
           [](const QJsonObject &r) { return compact(r); });
}

void McpServer::writeProcessStdin(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const int pid = pidArgument(args, &problem);
    QJsonObject body;
    for (const auto &[key, isType] : {std::pair{QStringLiteral("data"), &QJsonValue::isString}, std::pair{QStringLiteral("eof"), &QJsonValue::isBool}}) {
        if (!args.contains(key))
            continue;
        if (!(args.value(key).*isType)() && problem.isEmpty())
            problem = QStringLiteral("'%1' must be a %2").arg(key, key == QLatin1String("eof") ? QStringLiteral("boolean") : QStringLiteral("string"));
        body[key] = args.value(key);
    }
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    answer(m_client.postJson(processPath(name, pid, QStringLiteral("/stdin")), body), reply,
           [pid](const QJsonObject &) { return QStringLiteral("written to the stdin of process %1").arg(pid); });
}

void McpServer::killProcess(const QJsonObject &args, const Reply &reply)
{
    QString problem;
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    const int pid = pidArgument(args, &problem);
    if (!problem.isEmpty())
        return reply(errorResult(problem));
    if (args.value(QStringLiteral("remove")).toBool()) {
        return answer(m_client.deleteJson(processPath(name, pid)), reply,
                      [pid](const QJsonObject &) { return QStringLiteral("process %1 is killed and forgotten").arg(pid); });
    }
    QJsonObject body;
    const QJsonValue signal = args.value(QStringLiteral("signal"));
    if (signal.isString() || signal.isDouble())
        body[QStringLiteral("signal")] = signal.isString() && signal.toString().toInt() > 0 ? QJsonValue(signal.toString().toInt()) : signal;
    answer(m_client.postJson(processPath(name, pid, QStringLiteral("/kill")), body), reply,
           [pid](const QJsonObject &r) { return QStringLiteral("signalled process %1\n%2").arg(pid).arg(compact(r)); });
}

namespace {

// A service of this process's own on a free port of 127.0.0.1, with a token
// that is never stored and VM records in *stateDir.
Core::Expected<std::unique_ptr<Service>> startPrivateService(const DriverFlags &flags, std::unique_ptr<QTemporaryDir> *stateDir)
{
    auto driver = flags.options();
    if (!driver)
        return Core::Error(Core::ErrorCode::InvalidArgument, driver.error().message);
    *stateDir = std::make_unique<QTemporaryDir>();
    if (!(*stateDir)->isValid())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot make a temporary directory: %1").arg((*stateDir)->errorString()));
    Service::Options options;
    options.driver = *driver;
    options.port = 0;
    options.stateDir = (*stateDir)->path();
    options.token = Server::TokenStore::generate();
    auto service = Service::create(options);
    if (!service)
        return service.error();
    if (auto url = (*service)->listen(); !url)
        return url.error();
    return std::move(*service);
}

} // namespace

int mcpCommand(QStringList args)
{
    QString url;
    QString token;
    for (auto [flag, target] : {std::pair{QStringLiteral("--url"), &url}, std::pair{QStringLiteral("--token"), &token}}) {
        auto r = takeOption(args, flag, target);
        if (!r) {
            log(r.error().message);
            return 2;
        }
    }
    DriverFlags flags;
    if (auto r = flags.take(args); !r) {
        log(r.error().message);
        return 2;
    }
    const qsizetype standaloneAt = args.indexOf(QStringLiteral("--standalone"));
    bool standalone = standaloneAt >= 0;
    if (standalone)
        args.removeAt(standaloneAt);
    if (!args.isEmpty()) {
        log(QStringLiteral("unknown argument '%1' (usage: microvm-sandbox mcp [--standalone] [--url URL] [--token TOKEN])").arg(args.first()));
        return 2;
    }

    ServiceClient::Endpoint endpoint = ServiceClient::resolve(url, token);
    if (!standalone) {
        ServiceClient probe(endpoint);
        auto r = wait(probe.getJson(QStringLiteral("/api/v1/vms"), kProbeTimeoutMs));
        if (r) {
            log(QStringLiteral("using the service at %1").arg(endpoint.url.toString()));
        } else {
            log(QStringLiteral("%1; starting a private service instead").arg(r.error().message));
            standalone = true;
        }
    }

    // The private service: VM records in a temporary directory, so its VMs
    // live as long as this process.
    std::unique_ptr<QTemporaryDir> stateDir;
    std::unique_ptr<Service> service;
    if (standalone) {
        auto started = startPrivateService(flags, &stateDir);
        if (!started) {
            log(started.error().message);
            return started.error().code == Core::ErrorCode::InvalidArgument ? 2 : 1;
        }
        service = std::move(*started);
        endpoint.url = QUrl(service->url());
        endpoint.token = service->token();
        endpoint.tokenSource = QStringLiteral("the private service");
        log(QStringLiteral("private service on %1 (its VMs go away when this server exits)").arg(endpoint.url.toString()));
    }

    McpServer server(endpoint);
    QObject::connect(
        &server, &McpServer::finished, qApp, [] { QCoreApplication::exit(0); }, Qt::QueuedConnection);
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, qApp, [](int) { QCoreApplication::exit(0); });
    server.start();
    const int rc = QCoreApplication::exec();

    if (service) {
        const qsizetype vms = service->manager().list().size();
        service->shutdown(); // kills the VMMs of the private service's VMs
        if (vms > 0)
            log(QStringLiteral("tore down %1 sandbox(es)").arg(vms));
    }
    return rc;
}

} // namespace App
