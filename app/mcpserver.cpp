#include "app/mcpserver.h"

#include "app/clioptions.h"
#include "app/signalwatcher.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"
#include "desktop/displayhub.h"
#include "server/apicontroller.h"
#include "server/httpadapter.h"
#include "server/tokenstore.h"

#include <QCoreApplication>
#include <QFutureWatcher>
#include <QEventLoop>
#include <QHostAddress>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>
#include <QSocketNotifier>
#include <QStringDecoder>
#include <QTemporaryDir>

#include <cstdio>
#include <unistd.h>

namespace App {

namespace {

constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kProbeTimeoutMs = 3000;
constexpr int kDisplayTimeoutMs = 90000; // the first call waits for the desktop to come up

void log(const QString &line)
{
    std::fprintf(stderr, "microvm-sandbox mcp: %s\n", qPrintable(line));
    std::fflush(stderr);
}

QJsonObject textResult(const QString &text, bool isError = false)
{
    return QJsonObject{{QStringLiteral("content"),
                        QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}}}},
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

McpServer::McpServer(ServiceClient::Endpoint endpoint, QObject *parent) : QObject(parent), m_client(std::move(endpoint)) {}

McpServer::~McpServer() = default;

QStringList McpServer::supportedProtocols()
{
    return {QString::fromLatin1(kLatestProtocol), QStringLiteral("2025-03-26"), QStringLiteral("2024-11-05")};
}

QJsonArray McpServer::toolDefinitions()
{
    const QJsonObject name = prop("string", "The sandbox's name");
    QJsonObject command{{QStringLiteral("description"),
                         QStringLiteral("The command: a shell string (run by /bin/sh -c) or an argv array of strings")},
                        {QStringLiteral("oneOf"), QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("string")}},
                                                             QJsonObject{{QStringLiteral("type"), QStringLiteral("array")},
                                                                         {QStringLiteral("items"), QJsonObject{{QStringLiteral("type"), QStringLiteral("string")}}},
                                                                         {QStringLiteral("minItems"), 1}}}}};
    return {
        tool("create_sandbox", "Create and boot a new sandbox (a microVM) and return its name.",
             {{QStringLiteral("name"), prop("string", "A name for it (letters, digits, '-', '_'); made up when absent")},
              {QStringLiteral("template"), prop("string", "The template to boot (default: minimal)")}},
             {}),
        tool("list_sandboxes", "List the sandboxes with their state and template.", {}, {}),
        tool("destroy_sandbox", "Stop a sandbox and delete it.", {{QStringLiteral("name"), name}}, {QStringLiteral("name")}),
        tool("run_command", "Run a command in a sandbox and return its exit code, stdout and stderr.",
             {{QStringLiteral("name"), name},
              {QStringLiteral("command"), command},
              {QStringLiteral("timeout_s"), prop("number", "Kill the command after this many seconds")},
              {QStringLiteral("stdin"), prop("string", "Text fed to the command's standard input")}},
             {QStringLiteral("name"), QStringLiteral("command")}),
        tool("write_file", "Write a file in a sandbox (parent directories are created).",
             {{QStringLiteral("name"), name},
              {QStringLiteral("path"), prop("string", "Absolute path in the sandbox")},
              {QStringLiteral("content"), prop("string", "The file's text (UTF-8)")},
              {QStringLiteral("content_base64"), prop("string", "The file's bytes, base64 encoded (instead of content)")}},
             {QStringLiteral("name"), QStringLiteral("path")}),
        tool("read_file", "Read a file from a sandbox: its text, or base64 when it is not UTF-8.",
             {{QStringLiteral("name"), name}, {QStringLiteral("path"), prop("string", "Absolute path in the sandbox")}},
             {QStringLiteral("name"), QStringLiteral("path")}),
        tool("screenshot", "Take a screenshot of a sandbox's desktop (desktop templates). Returns a PNG image and the scale "
                           "to map image coordinates back to the screen.",
             {{QStringLiteral("name"), name},
              {QStringLiteral("max_width"), prop("integer", "Scale the image down to fit this width (default: the screen's)")},
              {QStringLiteral("max_height"), prop("integer", "Scale the image down to fit this height (default: the screen's)")}},
             {QStringLiteral("name")}),
        tool("computer_input",
             "Drive a sandbox's desktop with the mouse and keyboard. 'actions' is a list of objects applied in order, each with "
             "'action' one of: move {x,y}; click {x?,y?,button? (left|middle|right),count? (1-3)}; drag {x,y,to_x,to_y,button?}; "
             "scroll {x?,y?,dx?,dy? (notches; dy>0 scrolls down)}; type {text}; key {keys, e.g. \"ctrl+alt+t\", \"Return\"}. "
             "Coordinates are screen pixels, or screenshot pixels when 'scale' is the screenshot's scale. Refused while a "
             "human has taken control of the desktop.",
             {{QStringLiteral("name"), name},
              {QStringLiteral("actions"), QJsonObject{{QStringLiteral("type"), QStringLiteral("array")},
                                                      {QStringLiteral("items"), QJsonObject{{QStringLiteral("type"), QStringLiteral("object")}}},
                                                      {QStringLiteral("minItems"), 1}}},
              {QStringLiteral("scale"), prop("number", "The scale of the screenshot the coordinates come from (default 1)")}},
             {QStringLiteral("name"), QStringLiteral("actions")}),
        tool("display_info", "A sandbox's desktop: its size and who is driving it (the agent, or a human who took control).",
             {{QStringLiteral("name"), name}}, {QStringLiteral("name")}),
        tool("snapshot_create",
             "Snapshot a running sandbox: its memory, processes and disk, to come back to later (snapshot_restore) or to "
             "start copies from (snapshot_fork). The sandbox is paused for about a second, then runs on.",
             {{QStringLiteral("name"), name},
              {QStringLiteral("snapshot"), prop("string", "A name for the snapshot (lowercase letters, digits, '-'); snap-<UTC time> when absent")},
              {QStringLiteral("leave_paused"), prop("boolean", "Leave the sandbox paused afterwards (default false)")}},
             {QStringLiteral("name")}),
        tool("snapshot_list", "List a sandbox's snapshots, oldest first: name, time, parent and size.", {{QStringLiteral("name"), name}},
             {QStringLiteral("name")}),
        tool("snapshot_restore",
             "Bring a sandbox back to a snapshot: files, memory and running processes as they were when it was taken. "
             "Whatever happened since is lost; the snapshot stays. A corrupted snapshot is refused and the sandbox left alone.",
             {{QStringLiteral("name"), name}, {QStringLiteral("snapshot"), prop("string", "The snapshot's name")}},
             {QStringLiteral("name"), QStringLiteral("snapshot")}),
        tool("snapshot_fork",
             "Start new sandboxes from a snapshot, each a running copy with its own name, disk and host name. Returns their names.",
             {{QStringLiteral("name"), name},
              {QStringLiteral("snapshot"), prop("string", "The snapshot's name")},
              {QStringLiteral("count"), QJsonObject{{QStringLiteral("type"), QStringLiteral("integer")},
                                                    {QStringLiteral("description"), QStringLiteral("How many (default 1)")},
                                                    {QStringLiteral("minimum"), 1},
                                                    {QStringLiteral("maximum"), 16}}},
              {QStringLiteral("name_prefix"), prop("string", "The new sandboxes are named <prefix>-<n> (default <name>-fork)")}},
             {QStringLiteral("name"), QStringLiteral("snapshot")}),
        tool("snapshot_delete", "Delete a snapshot of a sandbox (the sandbox itself is not touched).",
             {{QStringLiteral("name"), name}, {QStringLiteral("snapshot"), prop("string", "The snapshot's name")}},
             {QStringLiteral("name"), QStringLiteral("snapshot")}),
    };
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
        replyResult(id, QJsonObject{{QStringLiteral("protocolVersion"), version},
                                    {QStringLiteral("capabilities"), QJsonObject{{QStringLiteral("tools"), QJsonObject()}}},
                                    {QStringLiteral("serverInfo"), QJsonObject{{QStringLiteral("name"), QStringLiteral("microvm-sandbox")},
                                                                               {QStringLiteral("version"), QStringLiteral(MVS_VERSION)}}},
                                    {QStringLiteral("instructions"),
                                     QStringLiteral("Each sandbox is a Linux microVM. Create one, run commands and move files in it, "
                                                    "snapshot it to come back to a state later or to fork copies, destroy it when done.")}});
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
        bool known = false;
        for (const QJsonValue &t : toolDefinitions())
            known = known || t[QStringLiteral("name")].toString() == name;
        if (!known) {
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

void McpServer::callTool(const QString &tool, const QJsonObject &args, const Reply &reply)
{
    auto failed = [reply](const Core::Error &e) { reply(errorResult(e.message)); };
    QString problem;

    if (tool == QLatin1String("list_sandboxes")) {
        m_client.getJson(QStringLiteral("/api/v1/vms")).then(this, [reply, failed](const Core::Expected<QJsonObject> &r) {
            if (!r)
                return failed(r.error());
            QJsonArray out;
            for (const QJsonValue &v : r->value(QStringLiteral("vms")).toArray())
                out.append(QJsonObject{{QStringLiteral("name"), v[QStringLiteral("name")]},
                                       {QStringLiteral("state"), v[QStringLiteral("state")]},
                                       {QStringLiteral("template"), v[QStringLiteral("template")]}});
            reply(textResult(out.isEmpty() ? QStringLiteral("no sandboxes") : compact(out)));
        });
        return;
    }
    if (tool == QLatin1String("create_sandbox")) {
        QString name = args.value(QStringLiteral("name")).toString();
        if (name.isEmpty())
            name = QStringLiteral("sbx-%1").arg(QRandomGenerator::system()->generate() & 0xffffff, 6, 16, QLatin1Char('0'));
        QString tmpl = args.value(QStringLiteral("template")).toString();
        if (tmpl.isEmpty())
            tmpl = QStringLiteral("minimal");
        m_client.postJson(QStringLiteral("/api/v1/vms"), QJsonObject{{QStringLiteral("name"), name}, {QStringLiteral("template"), tmpl}})
            .then(this, [reply, failed](const Core::Expected<QJsonObject> &r) {
                if (!r)
                    return failed(r.error());
                reply(textResult(QStringLiteral("created sandbox %1 (template %2, %3)")
                                     .arg(r->value(QStringLiteral("name")).toString(), r->value(QStringLiteral("template")).toString(),
                                          r->value(QStringLiteral("state")).toString())));
            });
        return;
    }
    const QString name = requiredString(args, QStringLiteral("name"), &problem);
    if (tool == QLatin1String("destroy_sandbox")) {
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.deleteJson(ServiceClient::vmPath(name)).then(this, [reply, failed, name](const Core::Expected<QJsonObject> &r) {
            if (!r)
                return failed(r.error());
            reply(textResult(QStringLiteral("destroyed sandbox %1").arg(name)));
        });
        return;
    }
    if (tool == QLatin1String("run_command")) {
        const QJsonValue command = args.value(QStringLiteral("command"));
        QJsonObject body;
        if (command.isString() && !command.toString().isEmpty()) {
            body[QStringLiteral("cmd")] = command;
        } else if (command.isArray() && !command.toArray().isEmpty()) {
            for (const QJsonValue &a : command.toArray())
                if (!a.isString())
                    problem = QStringLiteral("'command' as an array must hold strings only");
            body[QStringLiteral("cmd")] = command;
        } else if (problem.isEmpty()) {
            problem = QStringLiteral("'command' is required: a shell string or a non-empty array of strings");
        }
        if (args.contains(QStringLiteral("timeout_s"))) {
            if (!args.value(QStringLiteral("timeout_s")).isDouble() || args.value(QStringLiteral("timeout_s")).toDouble() <= 0)
                problem = QStringLiteral("'timeout_s' must be a number of seconds above 0");
            body[QStringLiteral("timeout_s")] = args.value(QStringLiteral("timeout_s"));
        }
        if (args.contains(QStringLiteral("stdin"))) {
            if (!args.value(QStringLiteral("stdin")).isString())
                problem = QStringLiteral("'stdin' must be a string");
            body[QStringLiteral("stdin")] = args.value(QStringLiteral("stdin"));
        }
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("exec")), body)
            .then(this, [reply, failed](const Core::Expected<QJsonObject> &r) {
                if (!r)
                    return failed(r.error());
                QString status;
                if (r->value(QStringLiteral("timed_out")).toBool())
                    status = QStringLiteral("timed out");
                else if (r->contains(QStringLiteral("signal")))
                    status = QStringLiteral("killed by signal %1").arg(r->value(QStringLiteral("signal")).toInt());
                else
                    status = QStringLiteral("exit code %1").arg(r->value(QStringLiteral("exit_code")).toInt());
                QString text = status;
                const QString out = r->value(QStringLiteral("stdout")).toString();
                const QString err = r->value(QStringLiteral("stderr")).toString();
                text += QStringLiteral("\n--- stdout ---\n") + out;
                if (!err.isEmpty())
                    text += QStringLiteral("\n--- stderr ---\n") + err;
                reply(textResult(text));
            });
        return;
    }
    if (tool.startsWith(QLatin1String("snapshot_"))) {
        snapshotTool(tool, name, args, problem, reply);
        return;
    }
    if (tool == QLatin1String("display_info")) {
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.getJson(ServiceClient::vmPath(name, QStringLiteral("display")), kDisplayTimeoutMs)
            .then(this, [reply, failed](const Core::Expected<QJsonObject> &r) {
                if (!r)
                    return failed(r.error());
                reply(textResult(compact(*r)));
            });
        return;
    }
    if (tool == QLatin1String("computer_input")) {
        const QJsonValue actions = args.value(QStringLiteral("actions"));
        if (problem.isEmpty() && (!actions.isArray() || actions.toArray().isEmpty()))
            problem = QStringLiteral("'actions' is required: a non-empty array of action objects");
        QJsonObject body{{QStringLiteral("actions"), actions}};
        if (args.contains(QStringLiteral("scale")))
            body[QStringLiteral("scale")] = args.value(QStringLiteral("scale"));
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.postJson(ServiceClient::vmPath(name, QStringLiteral("input")), body, kDisplayTimeoutMs)
            .then(this, [reply, failed](const Core::Expected<QJsonObject> &r) {
                if (!r)
                    return failed(r.error());
                reply(textResult(QStringLiteral("performed %1 action(s) on the %2x%3 screen")
                                     .arg(r->value(QStringLiteral("performed")).toInt())
                                     .arg(r->value(QStringLiteral("width")).toInt())
                                     .arg(r->value(QStringLiteral("height")).toInt())));
            });
        return;
    }
    if (tool == QLatin1String("screenshot")) {
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
            .then(this, [this, reply, failed, name, maxW, maxH](const Core::Expected<QJsonObject> &info) {
                if (!info)
                    return failed(info.error());
                const int w = info->value(QStringLiteral("width")).toInt();
                const int h = info->value(QStringLiteral("height")).toInt();
                double scale = 1.0;
                if (w > 0 && h > 0) {
                    if (maxW > 0)
                        scale = qMin(scale, double(maxW) / w);
                    if (maxH > 0)
                        scale = qMin(scale, double(maxH) / h);
                }
                QString path = ServiceClient::vmPath(name, QStringLiteral("screenshot"));
                if (scale < 1.0)
                    path += QStringLiteral("?scale=%1").arg(scale, 0, 'g', 6);
                m_client.getBytes(path, kDisplayTimeoutMs).then(this, [reply, failed, w, h, scale](const Core::Expected<QByteArray> &png) {
                    if (!png)
                        return failed(png.error());
                    QString text = QStringLiteral("screen %1x%2").arg(w).arg(h);
                    if (scale < 1.0)
                        text += QStringLiteral(", image scaled by %1: pass \"scale\": %1 to computer_input to use image coordinates")
                                    .arg(scale, 0, 'g', 6);
                    reply(QJsonObject{{QStringLiteral("content"),
                                       QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("image")},
                                                              {QStringLiteral("data"), QString::fromLatin1(png->toBase64())},
                                                              {QStringLiteral("mimeType"), QStringLiteral("image/png")}},
                                                  QJsonObject{{QStringLiteral("type"), QStringLiteral("text")}, {QStringLiteral("text"), text}}}},
                                      {QStringLiteral("isError"), false}});
                });
            });
        return;
    }
    const QString path = requiredString(args, QStringLiteral("path"), &problem);
    if (tool == QLatin1String("write_file")) {
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
        m_client.putBytes(ServiceClient::filesPath(name, path), data).then(this, [reply, failed, name, path](const Core::Expected<QJsonObject> &r) {
            if (!r)
                return failed(r.error());
            reply(textResult(QStringLiteral("wrote %1 bytes to %2 in %3").arg(r->value(QStringLiteral("size")).toInteger()).arg(path, name)));
        });
        return;
    }
    if (tool == QLatin1String("read_file")) {
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.getBytes(ServiceClient::filesPath(name, path)).then(this, [reply, failed, path](const Core::Expected<QByteArray> &r) {
            if (!r)
                return failed(r.error());
            QStringDecoder utf8(QStringDecoder::Utf8, QStringDecoder::Flag::Stateless);
            const QString text = utf8.decode(*r);
            if (!utf8.hasError() && !r->contains('\0')) {
                reply(textResult(text));
                return;
            }
            reply(textResult(QStringLiteral("%1 is not UTF-8 text (%2 bytes); its content in base64:\n%3")
                                 .arg(path)
                                 .arg(r->size())
                                 .arg(QString::fromLatin1(r->toBase64()))));
        });
        return;
    }
    reply(errorResult(QStringLiteral("unknown tool '%1'").arg(tool)));
}

void McpServer::snapshotTool(const QString &tool, const QString &name, const QJsonObject &args, QString problem, const Reply &reply)
{
    const auto failed = [reply](const Core::Error &e) { reply(errorResult(e.message)); };
    if (tool == QLatin1String("snapshot_list")) {
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.getJson(ServiceClient::snapshotPath(name)).then(this, [reply, failed, name](const Core::Expected<QJsonObject> &r) {
            if (!r)
                return failed(r.error());
            QJsonArray out;
            for (const QJsonValue &v : r->value(QStringLiteral("snapshots")).toArray())
                out.append(QJsonObject{{QStringLiteral("name"), v[QStringLiteral("name")]},
                                       {QStringLiteral("created_at"), v[QStringLiteral("created_at")]},
                                       {QStringLiteral("parent"), v[QStringLiteral("parent")]},
                                       {QStringLiteral("size_bytes"), v[QStringLiteral("size_bytes")]}});
            reply(textResult(out.isEmpty() ? QStringLiteral("sandbox %1 has no snapshots").arg(name) : compact(out)));
        });
        return;
    }
    if (tool == QLatin1String("snapshot_create")) {
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
        m_client.postJson(ServiceClient::snapshotPath(name), body).then(this, [reply, failed, name](const Core::Expected<QJsonObject> &r) {
            if (!r)
                return failed(r.error());
            reply(textResult(QStringLiteral("took snapshot %1 of sandbox %2 (%3 bytes, paused %4 ms)")
                                 .arg(r->value(QStringLiteral("name")).toString(), name)
                                 .arg(r->value(QStringLiteral("size_bytes")).toInteger())
                                 .arg(r->value(QStringLiteral("paused_ms")).toInteger())));
        });
        return;
    }
    const QString snapshot = requiredString(args, QStringLiteral("snapshot"), &problem);
    if (tool == QLatin1String("snapshot_restore")) {
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.postJson(ServiceClient::snapshotPath(name, snapshot, QStringLiteral("restore")), QJsonObject())
            .then(this, [reply, failed, name, snapshot](const Core::Expected<QJsonObject> &r) {
                if (!r)
                    return failed(r.error());
                reply(textResult(QStringLiteral("restored sandbox %1 to snapshot %2 (%3)")
                                     .arg(name, snapshot, r->value(QStringLiteral("state")).toString())));
            });
        return;
    }
    if (tool == QLatin1String("snapshot_fork")) {
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
        m_client.postJson(ServiceClient::snapshotPath(name, snapshot, QStringLiteral("fork")), body)
            .then(this, [reply, failed, snapshot](const Core::Expected<QJsonObject> &r) {
                if (!r)
                    return failed(r.error());
                QStringList names;
                for (const QJsonValue &v : r->value(QStringLiteral("vms")).toArray())
                    names << v[QStringLiteral("name")].toString();
                reply(textResult(QStringLiteral("started %1 sandbox(es) from snapshot %2: %3")
                                     .arg(names.size())
                                     .arg(snapshot, names.join(QStringLiteral(", ")))));
            });
        return;
    }
    if (tool == QLatin1String("snapshot_delete")) {
        if (!problem.isEmpty())
            return reply(errorResult(problem));
        m_client.deleteJson(ServiceClient::snapshotPath(name, snapshot)).then(this, [reply, failed, name, snapshot](const Core::Expected<QJsonObject> &r) {
            if (!r)
                return failed(r.error());
            reply(textResult(QStringLiteral("deleted snapshot %1 of sandbox %2").arg(snapshot, name)));
        });
        return;
    }
    reply(errorResult(QStringLiteral("unknown tool '%1'").arg(tool)));
}

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
    std::unique_ptr<Vmm::VmmDriver> driver;
    std::unique_ptr<Vm::VmManager> manager;
    std::unique_ptr<Desktop::DisplayHub> displays;
    std::unique_ptr<Server::ApiController> controller;
    std::unique_ptr<Server::HttpAdapter> adapter;
    if (standalone) {
        auto options = flags.options();
        if (!options) {
            log(options.error().message);
            return 2;
        }
        auto d = Vmm::createDriver(*options);
        if (!d) {
            log(d.error().message);
            return 1;
        }
        driver = std::move(*d);
        stateDir = std::make_unique<QTemporaryDir>();
        if (!stateDir->isValid()) {
            log(QStringLiteral("cannot make a temporary directory: %1").arg(stateDir->errorString()));
            return 1;
        }
        manager = std::make_unique<Vm::VmManager>(*driver, stateDir->path());
        displays = std::make_unique<Desktop::DisplayHub>(*manager);
        controller = std::make_unique<Server::ApiController>(*manager, displays.get());
        Server::HttpAdapter::Options o;
        o.token = Server::TokenStore::generate();
        adapter = std::make_unique<Server::HttpAdapter>(*controller, o);
        auto port = adapter->listen(QHostAddress::LocalHost, 0);
        if (!port) {
            log(port.error().message);
            return 1;
        }
        endpoint.url = QUrl(QStringLiteral("http://127.0.0.1:%1").arg(*port));
        endpoint.token = o.token;
        endpoint.tokenSource = QStringLiteral("the private service");
        log(QStringLiteral("private service on %1 (its VMs go away when this server exits)").arg(endpoint.url.toString()));
    }

    McpServer server(endpoint);
    QObject::connect(&server, &McpServer::finished, qApp, [] { QCoreApplication::exit(0); }, Qt::QueuedConnection);
    SignalWatcher signals;
    QObject::connect(&signals, &SignalWatcher::terminationRequested, qApp, [](int) { QCoreApplication::exit(0); });
    server.start();
    const int rc = QCoreApplication::exec();

    adapter.reset();
    controller.reset();
    if (manager) {
        const auto vms = manager->list();
        manager.reset(); // kills the VMMs of the private service's VMs
        if (!vms.empty())
            log(QStringLiteral("tore down %1 sandbox(es)").arg(vms.size()));
    }
    return rc;
}

} // namespace App
