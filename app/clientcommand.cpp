#include "app/clientcommand.h"

#include "app/clioptions.h"
#include "app/serviceclient.h"
#include "app/terminaltext.h"
#include "core/agent/streamlimits.h"
#include "core/code/coderunner.h"
#include "core/vm/vmpool.h"

#include <QDateTime>
#include <QEventLoop>
#include <QFile>
#include <QFutureWatcher>
#include <QJsonArray>
#include <QJsonDocument>
#include <QTimer>
#include <QUrl>

#include <cstdio>
#include <limits>
#include <optional>

namespace App {

namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

const char kUsage[] = "usage: microvm-sandbox vm COMMAND [--url URL] [--token TOKEN] [--json]\n"
                      "  vm list\n"
                      "  vm create NAME [--template NAME] [--vcpus N] [--memory MiB] [--max-vcpus N] [--no-start]\n"
                      "  vm start|stop|rm NAME\n"
                      "  vm resize NAME [--vcpus N] [--memory MiB] [--max-vcpus N]\n"
                      "             (a running VM: vCPUs up to its --max-vcpus and memory, at once)\n"
                      "  vm exec NAME [--timeout S] [--stdin] [--background] -- COMMAND [ARGS...]\n"
                      "  vm ps NAME\n"
                      "  vm logs NAME PID [--follow]\n"
                      "  vm kill NAME PID [--signal SIG]\n"
                      "  vm code NAME [--lang python|javascript|bash] (-c CODE | FILE | -) [--session S] [--timeout S]\n"
                      "  vm cp LOCAL NAME:/guest/path | NAME:/guest/path LOCAL\n"
                      "  vm console NAME [--raw]\n"
                      "  vm snapshot NAME [--name SNAP] [--leave-paused]\n"
                      "  vm snapshots NAME\n"
                      "  vm restore NAME SNAP\n"
                      "  vm fork NAME SNAP [--count N] [--prefix PREFIX]\n"
                      "  vm snapshot-delete NAME SNAP\n"
                      "  vm ports NAME\n"
                      "  vm expose NAME GUEST_PORT [--host-port N] [--host-address ADDRESS]\n"
                      "  vm unexpose NAME GUEST_PORT\n";

template<typename T>
Core::Expected<T> wait(Core::Future<T> future)
{
    if (!future.isFinished()) {
        QEventLoop loop;
        QFutureWatcher<Core::Expected<T>> watcher;
        QObject::connect(&watcher, &QFutureWatcherBase::finished, &loop, &QEventLoop::quit);
        watcher.setFuture(future);
        if (!future.isFinished())
            loop.exec();
    }
    return future.result();
}

int fail(const Core::Error &error)
{
    std::fprintf(stderr, "microvm-sandbox: %s\n", qPrintable(error.message));
    return kExitError;
}

int usageError(const QString &message)
{
    std::fprintf(stderr, "microvm-sandbox: %s\n%s", qPrintable(message), kUsage);
    return kExitUsage;
}

void printJson(const QJsonValue &v)
{
    const QByteArray out =
        v.isArray() ? QJsonDocument(v.toArray()).toJson(QJsonDocument::Indented) : QJsonDocument(v.toObject()).toJson(QJsonDocument::Indented);
    std::fwrite(out.constData(), 1, size_t(out.size()), stdout);
}

void writeAll(FILE *to, const QByteArray &data)
{
    std::fwrite(data.constData(), 1, size_t(data.size()), to);
    std::fflush(to);
}

// The flags every client command shares, taken from anywhere before "--".
struct Common {
    QString url;
    QString token;
    bool json = false;

    Core::Result take(QStringList &args)
    {
        for (auto [flag, target] : {std::pair{QStringLiteral("--url"), &url}, std::pair{QStringLiteral("--token"), &token}}) {
            auto r = takeOption(args, flag, target);
            if (!r)
                return r.error();
        }
        json = takeFlag(args, QStringLiteral("--json"));
        return {};
    }

    static bool takeFlag(QStringList &args, const QString &flag)
    {
        for (int i = 0; i < args.size() && args.at(i) != QLatin1String("--"); ++i) {
            if (args.at(i) == flag) {
                args.removeAt(i);
                return true;
            }
        }
        return false;
    }
};

// MEMORY: a running VM's shrunk memory shows as now/booted.
QString vmRow(const QJsonObject &vm)
{
    const int memory = vm.value(QStringLiteral("memory_mb")).toInt();
    const int now = vm.value(QStringLiteral("memory_current_mb")).toInt(memory);
    const QString shown = now == memory ? QString::number(memory) : QStringLiteral("%1/%2").arg(now).arg(memory);
    return QStringLiteral("%1 %2 %3 %4 %5 MiB")
        .arg(vm.value(QStringLiteral("name")).toString(), -20)
        .arg(vm.value(QStringLiteral("state")).toString(), -10)
        .arg(vm.value(QStringLiteral("template")).toString(), -12)
        .arg(vm.value(QStringLiteral("vcpus")).toInt(), 5)
        .arg(shown, 6);
}

// A VM list as the API gives it: JSON with --json, else a table.
int printVms(const Common &c, const QJsonArray &vms)
{
    if (c.json) {
        printJson(vms);
        return 0;
    }
    std::printf("%-20s %-10s %-12s %5s %10s\n", "NAME", "STATE", "TEMPLATE", "VCPUS", "MEMORY");
    for (const QJsonValue &v : vms)
        std::printf("%s\n", qPrintable(vmRow(v.toObject())));
    return 0;
}

int printVm(const Common &c, const Core::Expected<QJsonObject> &r)
{
    if (!r)
        return fail(r.error());
    if (c.json) {
        printJson(*r);
    } else {
        std::printf("%-20s %-10s %-12s %5s %10s\n%s\n", "NAME", "STATE", "TEMPLATE", "VCPUS", "MEMORY", qPrintable(vmRow(*r)));
        const QJsonValue err = r->value(QStringLiteral("last_error"));
        if (err.isObject())
            std::printf("last error: %s\n", qPrintable(err[QStringLiteral("message")].toString()));
    }
    return 0;
}

int list(ServiceClient &client, const Common &c)
{
    auto r = wait(client.getJson(QStringLiteral("/api/v1/vms")));
    if (!r)
        return fail(r.error());
    return printVms(c, r->value(QStringLiteral("vms")).toArray());
}

// --vcpus, --memory and --max-vcpus, as given.
struct Shape {
    QString vcpus;
    QString memory;
    QString maxVcpus;
    bool empty() const { return vcpus.isEmpty() && memory.isEmpty() && maxVcpus.isEmpty(); }
    // Into a request's body; false when one is not an integer.
    bool putInto(QJsonObject &body) const
    {
        const std::pair<const QString *, QString> fields[] = {
            {&vcpus, QStringLiteral("vcpus")}, {&memory, QStringLiteral("memory_mb")}, {&maxVcpus, QStringLiteral("max_vcpus")}};
        for (const auto &[value, key] : fields) {
            bool ok = true;
            if (!value->isEmpty())
                body[key] = value->toInt(&ok);
            if (!ok)
                return false;
        }
        return true;
    }
};

constexpr char kShapeNotIntegers[] = "--vcpus, --memory and --max-vcpus take integers";

int create(ServiceClient &client, const Common &c, QStringList args)
{
    QString tmpl = QStringLiteral("minimal");
    Shape shape;
    if (auto r = takeOptions(args,
                             {{QStringLiteral("--template"), &tmpl},
                              {QStringLiteral("--vcpus"), &shape.vcpus},
                              {QStringLiteral("--memory"), &shape.memory},
                              {QStringLiteral("--max-vcpus"), &shape.maxVcpus}});
        !r)
        return usageError(r.error().message);
    const bool noStart = Common::takeFlag(args, QStringLiteral("--no-start"));
    if (args.size() != 1 || args.first().startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("vm create takes one NAME"));
    QJsonObject body{{QStringLiteral("name"), args.first()}, {QStringLiteral("template"), tmpl}};
    if (!shape.putInto(body))
        return usageError(QString::fromLatin1(kShapeNotIntegers));
    if (noStart)
        body[QStringLiteral("start")] = false;
    return printVm(c, wait(client.postJson(QStringLiteral("/api/v1/vms"), body)));
}

int resize(ServiceClient &client, const Common &c, QStringList args)
{
    Shape shape;
    if (auto r = takeOptions(
            args, {{QStringLiteral("--vcpus"), &shape.vcpus}, {QStringLiteral("--memory"), &shape.memory}, {QStringLiteral("--max-vcpus"), &shape.maxVcpus}});
        !r)
        return usageError(r.error().message);
    if (args.size() != 1 || args.first().startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("vm resize takes one NAME"));
    if (shape.empty())
        return usageError(QStringLiteral("vm resize needs --vcpus, --memory or --max-vcpus"));
    QJsonObject body;
    if (!shape.putInto(body))
        return usageError(QString::fromLatin1(kShapeNotIntegers));
    return printVm(c, wait(client.patchJson(ServiceClient::vmPath(args.first(), QStringLiteral("resources")), body)));
}

int action(ServiceClient &client, const Common &c, const QString &verb, const QStringList &args)
{
    if (args.size() != 1)
        return usageError(QStringLiteral("vm %1 takes one NAME").arg(verb));
    if (verb == QLatin1String("rm")) {
        auto r = wait(client.deleteJson(ServiceClient::vmPath(args.first())));
        if (!r)
            return fail(r.error());
        if (c.json)
            printJson(*r);
        else
            std::printf("removed %s\n", qPrintable(args.first()));
        return 0;
    }
    return printVm(c, wait(client.postJson(ServiceClient::vmPath(args.first(), verb), QJsonObject())));
}

int exec(ServiceClient &client, const Common &c, QStringList args)
{
    const qsizetype dash = args.indexOf(QStringLiteral("--"));
    QStringList command;
    if (dash >= 0) {
        command = args.mid(dash + 1);
        args = args.first(dash);
    }
    QString timeout;
    if (auto r = takeOption(args, QStringLiteral("--timeout"), &timeout); !r)
        return usageError(r.error().message);
    const bool withStdin = Common::takeFlag(args, QStringLiteral("--stdin"));
    const bool background = Common::takeFlag(args, QStringLiteral("--background"));
    if (dash < 0 && args.size() > 1) { // vm exec NAME CMD... without "--"
        command = args.mid(1);
        args = args.first(1);
    }
    if (args.size() != 1 || command.isEmpty())
        return usageError(QStringLiteral("vm exec takes NAME -- COMMAND [ARGS...]"));
    QJsonObject body{{QStringLiteral("cmd"), QJsonArray::fromStringList(command)}};
    if (!timeout.isEmpty()) {
        bool ok = false;
        const double t = timeout.toDouble(&ok);
        if (!ok || t <= 0)
            return usageError(QStringLiteral("--timeout takes seconds above 0"));
        body[QStringLiteral("timeout_s")] = t;
    }
    if (withStdin) {
        QFile in;
        if (!in.open(stdin, QIODevice::ReadOnly))
            return fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read stdin")));
        body[QStringLiteral("stdin")] = QString::fromUtf8(in.readAll());
    }
    if (background)
        body[QStringLiteral("background")] = true;
    auto r = wait(client.postJson(ServiceClient::vmPath(args.first(), QStringLiteral("exec")), body));
    if (!r)
        return fail(r.error());
    if (background) {
        if (c.json)
            printJson(*r);
        else
            std::printf("started process %d in %s (vm logs %s %d)\n", r->value(QStringLiteral("pid")).toInt(), qPrintable(args.first()),
                        qPrintable(args.first()), r->value(QStringLiteral("pid")).toInt());
        return 0;
    }
    if (c.json) {
        printJson(*r);
    } else {
        writeAll(stdout, r->value(QStringLiteral("stdout")).toString().toUtf8());
        writeAll(stderr, r->value(QStringLiteral("stderr")).toString().toUtf8());
    }
    if (r->value(QStringLiteral("timed_out")).toBool()) {
        if (!c.json)
            std::fprintf(stderr, "microvm-sandbox: the command timed out\n");
        return 124;
    }
    if (r->contains(QStringLiteral("signal")))
        return 128 + r->value(QStringLiteral("signal")).toInt();
    return r->value(QStringLiteral("exit_code")).toInt();
}

// The code of `vm code`: -c CODE, a FILE, or - (stdin).
Core::Expected<QString> codeSource(QStringList &args)
{
    QString inline_;
    if (auto r = takeOption(args, QStringLiteral("-c"), &inline_); !r)
        return r.error();
    if (!inline_.isEmpty() || args.size() == 1)
        return inline_;
    if (args.size() != 2)
        return Core::Error(Core::ErrorCode::InvalidArgument, QStringLiteral("vm code takes NAME and -c CODE, a FILE or - (stdin)"));
    QFile f;
    const QString file = args.takeLast();
    const bool ok = file == QLatin1String("-") ? f.open(stdin, QIODevice::ReadOnly) : (f.setFileName(file), f.open(QIODevice::ReadOnly));
    if (!ok)
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read %1: %2").arg(file, f.errorString()));
    return QString::fromUtf8(f.readAll());
}

// A code result for a person: output on its streams, the value, the
// error's traceback, a line per rich output.
void printCodeResult(const QJsonObject &r)
{
    writeAll(stdout, r.value(QStringLiteral("stdout")).toString().toUtf8());
    writeAll(stderr, r.value(QStringLiteral("stderr")).toString().toUtf8());
    if (r.value(QStringLiteral("result")).isString())
        writeAll(stdout, r.value(QStringLiteral("result")).toString().toUtf8() + '\n');
    for (const QJsonValue &v : r.value(QStringLiteral("outputs")).toArray()) {
        const QJsonObject o = v.toObject();
        QString line = QStringLiteral("[%1").arg(o.value(QStringLiteral("type")).toString());
        if (o.contains(QStringLiteral("width")))
            line += QStringLiteral(" %1x%2").arg(o.value(QStringLiteral("width")).toInt()).arg(o.value(QStringLiteral("height")).toInt());
        writeAll(stdout, (line + QStringLiteral(", %1 bytes: use --json for the data]\n").arg(o.value(QStringLiteral("data")).toString().size())).toUtf8());
    }
    const QJsonObject error = r.value(QStringLiteral("error")).toObject();
    if (!error.isEmpty()) {
        for (const QJsonValue &line : error.value(QStringLiteral("traceback")).toArray())
            writeAll(stderr, line.toString().toUtf8() + '\n');
        writeAll(stderr,
                 QStringLiteral("%1: %2\n").arg(error.value(QStringLiteral("name")).toString(), error.value(QStringLiteral("value")).toString()).toUtf8());
    }
}

int code(ServiceClient &client, const Common &c, QStringList args)
{
    QString language = QStringLiteral("python");
    QString session;
    QString timeout;
    if (auto r = takeOptions(args, {{QStringLiteral("--lang"), &language}, {QStringLiteral("--session"), &session}, {QStringLiteral("--timeout"), &timeout}});
        !r)
        return usageError(r.error().message);
    auto source = codeSource(args);
    if (!source)
        return source.error().code == Core::ErrorCode::Io ? fail(source.error()) : usageError(source.error().message);
    if (args.size() != 1)
        return usageError(QStringLiteral("vm code takes NAME and -c CODE, a FILE or - (stdin)"));
    QJsonObject body{{QStringLiteral("language"), language}, {QStringLiteral("code"), *source}};
    if (!session.isEmpty())
        body[QStringLiteral("session")] = session;
    double t = Code::CodeRunner::kDefaultTimeoutS;
    if (!timeout.isEmpty()) {
        bool ok = false;
        t = timeout.toDouble(&ok);
        if (!ok || t <= 0)
            return usageError(QStringLiteral("--timeout takes seconds above 0"));
        body[QStringLiteral("timeout_s")] = t;
    }
    const double waitMs = 2 * t * 1000 + Code::CodeRunner::kRunnerOverheadMs;
    auto r = wait(client.postJson(ServiceClient::vmPath(args.first(), QStringLiteral("code")), body,
                                  static_cast<int>(qBound<double>(ServiceClient::kDefaultTimeoutMs, waitMs, std::numeric_limits<int>::max()))));
    if (!r)
        return fail(r.error());
    if (c.json)
        printJson(*r);
    else
        printCodeResult(*r);
    if (r->value(QStringLiteral("timed_out")).toBool())
        return 124;
    return r->value(QStringLiteral("error")).isObject() ? kExitError : 0;
}

// "NAME:/path" -> {NAME, /path}; a local path otherwise (empty name).
std::pair<QString, QString> splitRemote(const QString &spec)
{
    const qsizetype colon = spec.indexOf(QLatin1Char(':'));
    if (colon <= 0 || spec.left(colon).contains(QLatin1Char('/')))
        return {QString(), spec};
    return {spec.left(colon), spec.mid(colon + 1)};
}

int copy(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 2)
        return usageError(QStringLiteral("vm cp takes SOURCE and DESTINATION, one of them NAME:/guest/path"));
    const auto [srcVm, srcPath] = splitRemote(args.at(0));
    const auto [dstVm, dstPath] = splitRemote(args.at(1));
    if (srcVm.isEmpty() == dstVm.isEmpty())
        return usageError(QStringLiteral("vm cp copies between this host and a VM: exactly one side is NAME:/guest/path"));
    if (!dstVm.isEmpty()) {
        QFile f(srcPath);
        if (!f.open(QIODevice::ReadOnly))
            return fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot read %1: %2").arg(srcPath, f.errorString())));
        auto r = wait(client.putBytes(ServiceClient::filesPath(dstVm, dstPath), f.readAll()));
        if (!r)
            return fail(r.error());
        if (c.json)
            printJson(*r);
        return 0;
    }
    // Held in memory before it is written: capped as core caps such downloads.
    auto r = wait(client.getBytes(ServiceClient::filesPath(srcVm, srcPath), ServiceClient::kDefaultTimeoutMs, Agent::StreamLimits::kDefaultMaxDataBytes));
    if (!r)
        return fail(r.error());
    QFile f(dstPath);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate) || f.write(*r) != r->size() || !f.flush())
        return fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(dstPath, f.errorString())));
    if (c.json)
        printJson(QJsonObject{{QStringLiteral("path"), dstPath}, {QStringLiteral("size"), static_cast<qint64>(r->size())}});
    return 0;
}

int console(ServiceClient &client, const QStringList &args)
{
    QStringList rest = args;
    const bool raw = rest.removeAll(QStringLiteral("--raw")) > 0;
    if (rest.size() != 1)
        return usageError(QStringLiteral("vm console takes one NAME (and --raw)"));
    auto r = wait(client.getBytes(ServiceClient::vmPath(rest.first(), QStringLiteral("console"))));
    if (!r)
        return fail(r.error());
    // The guest wrote these bytes: shown as plain text unless asked for raw
    // (a pipe often ends on a terminal too).
    writeAll(stdout, raw ? *r : printableTerminalText(*r));
    return 0;
}

// --- snapshots ----------------------------------------------------------------

// 1536 -> "1.5 KiB"
QString humanSize(qint64 bytes)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = double(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? QStringLiteral("%1 B").arg(bytes) : QStringLiteral("%1 %2").arg(v, 0, 'f', 1).arg(QLatin1String(units[u]));
}

// "2026-11-24T23:50:01.123Z" -> "2026-11-24 23:50:01" (UTC)
QString shortTime(const QJsonValue &iso)
{
    const QDateTime t = QDateTime::fromString(iso.toString(), Qt::ISODateWithMs);
    return t.isValid() ? t.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss")) : QStringLiteral("-");
}

void printSnapshotHeader()
{
    std::printf("%-28s %-19s %-28s %10s\n", "NAME", "CREATED (UTC)", "PARENT", "SIZE");
}

void printSnapshotRow(const QJsonObject &s)
{
    const QJsonValue parent = s.value(QStringLiteral("parent"));
    std::printf("%-28s %-19s %-28s %10s\n", qPrintable(s.value(QStringLiteral("name")).toString()),
                qPrintable(shortTime(s.value(QStringLiteral("created_at")))), qPrintable(parent.isString() ? parent.toString() : QStringLiteral("-")),
                qPrintable(humanSize(s.value(QStringLiteral("size_bytes")).toInteger())));
}

int snapshot(ServiceClient &client, const Common &c, QStringList args)
{
    QString name;
    auto named = takeOption(args, QStringLiteral("--name"), &name);
    if (!named)
        return usageError(named.error().message);
    const bool leavePaused = Common::takeFlag(args, QStringLiteral("--leave-paused"));
    if (args.size() != 1 || args.first().startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("vm snapshot takes one NAME [--name SNAP] [--leave-paused]"));
    QJsonObject body;
    if (*named)
        body[QStringLiteral("name")] = name;
    if (leavePaused)
        body[QStringLiteral("leave_paused")] = true;
    auto r = wait(client.postJson(ServiceClient::snapshotPath(args.first()), body));
    if (!r)
        return fail(r.error());
    if (c.json) {
        printJson(*r);
        return 0;
    }
    std::printf("snapshot %s of %s: %s, the VM was paused %lld ms\n", qPrintable(r->value(QStringLiteral("name")).toString()), qPrintable(args.first()),
                qPrintable(humanSize(r->value(QStringLiteral("size_bytes")).toInteger())),
                static_cast<long long>(r->value(QStringLiteral("paused_ms")).toInteger()));
    return 0;
}

int snapshots(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 1 || args.first().startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("vm snapshots takes one NAME"));
    auto r = wait(client.getJson(ServiceClient::snapshotPath(args.first())));
    if (!r)
        return fail(r.error());
    const QJsonArray list = r->value(QStringLiteral("snapshots")).toArray();
    if (c.json) {
        printJson(list);
        return 0;
    }
    printSnapshotHeader();
    for (const QJsonValue &v : list)
        printSnapshotRow(v.toObject());
    return 0;
}

int restore(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 2)
        return usageError(QStringLiteral("vm restore takes NAME SNAP"));
    return printVm(c, wait(client.postJson(ServiceClient::snapshotPath(args.at(0), args.at(1), QStringLiteral("restore")), QJsonObject())));
}

int fork(ServiceClient &client, const Common &c, QStringList args)
{
    QString count;
    QString prefix;
    if (auto r = takeOptions(args, {{QStringLiteral("--count"), &count}, {QStringLiteral("--prefix"), &prefix}}); !r)
        return usageError(r.error().message);
    if (args.size() != 2)
        return usageError(QStringLiteral("vm fork takes NAME SNAP [--count N] [--prefix PREFIX]"));
    QJsonObject body;
    if (!count.isEmpty()) {
        bool ok = false;
        const int n = count.toInt(&ok);
        if (!ok)
            return usageError(QStringLiteral("--count takes an integer"));
        body[QStringLiteral("count")] = n; // the service says which range
    }
    if (!prefix.isEmpty())
        body[QStringLiteral("name_prefix")] = prefix;
    auto r = wait(client.postJson(ServiceClient::snapshotPath(args.at(0), args.at(1), QStringLiteral("fork")), body));
    if (!r)
        return fail(r.error());
    return printVms(c, r->value(QStringLiteral("vms")).toArray());
}

int snapshotDelete(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 2)
        return usageError(QStringLiteral("vm snapshot-delete takes NAME SNAP"));
    auto r = wait(client.deleteJson(ServiceClient::snapshotPath(args.at(0), args.at(1))));
    if (!r)
        return fail(r.error());
    if (c.json)
        printJson(QJsonObject{{QStringLiteral("vm"), args.at(0)}, {QStringLiteral("snapshot"), args.at(1)}, {QStringLiteral("deleted"), true}});
    else
        std::printf("deleted snapshot %s of %s\n", qPrintable(args.at(1)), qPrintable(args.at(0)));
    return 0;
}

// --- exposed ports ------------------------------------------------------------

// "8000" -> 8000; nothing for what is not a port from `lowest` to 65535.
std::optional<int> portArg(const QString &text, int lowest)
{
    bool ok = false;
    const int port = text.toInt(&ok);
    if (!ok || port < lowest || port > 65535)
        return std::nullopt;
    return port;
}

void printPortRow(const QJsonObject &p)
{
    const QJsonValue endpoint = p.value(QStringLiteral("endpoint"));
    QString note = p.value(QStringLiteral("host_port_fixed")).toBool() ? QStringLiteral("fixed") : QStringLiteral("any free");
    if (p.value(QStringLiteral("error")).isObject())
        note = p.value(QStringLiteral("error"))[QStringLiteral("message")].toString();
    std::printf("%-10d %-28s %-8s %11d  %s\n", p.value(QStringLiteral("guest_port")).toInt(),
                qPrintable(endpoint.isString() ? endpoint.toString() : p.value(QStringLiteral("host_address")).toString() + QStringLiteral(":-")),
                qPrintable(p.value(QStringLiteral("state")).toString()), p.value(QStringLiteral("connections")).toInt(), qPrintable(note));
}

void printPortHeader()
{
    std::printf("%-10s %-28s %-8s %11s  %s\n", "GUEST", "HOST", "STATE", "CONNECTIONS", "HOST PORT");
}

int ports(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 1 || args.first().startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("vm ports takes one NAME"));
    auto r = wait(client.getJson(ServiceClient::vmPath(args.first(), QStringLiteral("ports"))));
    if (!r)
        return fail(r.error());
    const QJsonArray list = r->value(QStringLiteral("ports")).toArray();
    if (c.json) {
        printJson(list);
        return 0;
    }
    printPortHeader();
    for (const QJsonValue &v : list)
        printPortRow(v.toObject());
    return 0;
}

int expose(ServiceClient &client, const Common &c, QStringList args)
{
    QString hostPort;
    QString hostAddress;
    if (auto r = takeOptions(args, {{QStringLiteral("--host-port"), &hostPort}, {QStringLiteral("--host-address"), &hostAddress}}); !r)
        return usageError(r.error().message);
    if (args.size() != 2)
        return usageError(QStringLiteral("vm expose takes NAME GUEST_PORT [--host-port N] [--host-address ADDRESS]"));
    const auto guest = portArg(args.at(1), 1);
    if (!guest)
        return usageError(QStringLiteral("GUEST_PORT must be a port from 1 to 65535, not '%1'").arg(args.at(1)));
    QJsonObject body{{QStringLiteral("guest_port"), *guest}};
    if (!hostPort.isEmpty()) {
        const auto host = portArg(hostPort, 0);
        if (!host)
            return usageError(QStringLiteral("--host-port takes a port from 0 (any free one) to 65535"));
        body[QStringLiteral("host_port")] = *host;
    }
    if (!hostAddress.isEmpty())
        body[QStringLiteral("host_address")] = hostAddress;
    auto r = wait(client.postJson(ServiceClient::vmPath(args.at(0), QStringLiteral("ports")), body));
    if (!r)
        return fail(r.error());
    if (c.json)
        printJson(*r);
    else
        std::printf("guest port %d of %s is exposed on %s (%s)\n", *guest, qPrintable(args.at(0)), qPrintable(r->value(QStringLiteral("endpoint")).toString()),
                    qPrintable(r->value(QStringLiteral("state")).toString()));
    return 0;
}

int unexpose(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 2)
        return usageError(QStringLiteral("vm unexpose takes NAME GUEST_PORT"));
    const auto guest = portArg(args.at(1), 1);
    if (!guest)
        return usageError(QStringLiteral("GUEST_PORT must be a port from 1 to 65535, not '%1'").arg(args.at(1)));
    auto r = wait(client.deleteJson(ServiceClient::vmPath(args.at(0), QStringLiteral("ports/%1").arg(*guest))));
    if (!r)
        return fail(r.error());
    if (c.json)
        printJson(QJsonObject{{QStringLiteral("vm"), args.at(0)}, {QStringLiteral("guest_port"), *guest}, {QStringLiteral("removed"), true}});
    else
        std::printf("guest port %d of %s is no longer exposed\n", *guest, qPrintable(args.at(0)));
    return 0;
}

// --- background processes ------------------------------------------------------

// How often `vm logs --follow` asks for more output.
constexpr int kFollowIntervalMs = 500;

QString processPath(const QString &vm, const QString &pid, const QString &rest = QString())
{
    return ServiceClient::vmPath(vm, QStringLiteral("processes/") + QString::fromLatin1(QUrl::toPercentEncoding(pid)) + rest);
}

int processes(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 1 || args.first().startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("vm ps takes one NAME"));
    auto r = wait(client.getJson(ServiceClient::vmPath(args.first(), QStringLiteral("processes"))));
    if (!r)
        return fail(r.error());
    const QJsonArray list = r->value(QStringLiteral("processes")).toArray();
    if (c.json) {
        printJson(list);
        return 0;
    }
    std::printf("%-8s %-12s %-20s %s\n", "PID", "STATUS", "STARTED", "COMMAND");
    for (const QJsonValue &v : list) {
        const QJsonObject p = v.toObject();
        QString status = QStringLiteral("running");
        if (!p.value(QStringLiteral("running")).toBool())
            status = p.value(QStringLiteral("signal")).isDouble() ? QStringLiteral("signal %1").arg(p.value(QStringLiteral("signal")).toInt())
                                                                  : QStringLiteral("exit %1").arg(p.value(QStringLiteral("exit_code")).toInt());
        QStringList command;
        for (const QJsonValue &arg : p.value(QStringLiteral("command")).toArray())
            command << arg.toString();
        std::printf("%-8d %-12s %-20s %s\n", p.value(QStringLiteral("pid")).toInt(), qPrintable(status),
                    qPrintable(p.value(QStringLiteral("started_at")).toString().left(19)), qPrintable(command.join(QLatin1Char(' ')).left(200)));
    }
    return 0;
}

// Prints the output from the offsets on: everything the guest kept (one
// reply holds part of it: read while the offsets advance); with follow,
// until the process ended and said everything.
int logs(ServiceClient &client, const Common &c, QStringList args)
{
    const bool follow = Common::takeFlag(args, QStringLiteral("--follow")) || Common::takeFlag(args, QStringLiteral("-f"));
    if (args.size() != 2)
        return usageError(QStringLiteral("vm logs takes NAME PID [--follow]"));
    qint64 outOffset = 0;
    qint64 errOffset = 0;
    for (;;) {
        auto r = wait(
            client.getJson(processPath(args.at(0), args.at(1), QStringLiteral("/output?stdout_offset=%1&stderr_offset=%2").arg(outOffset).arg(errOffset))));
        if (!r)
            return fail(r.error());
        if (c.json) {
            printJson(*r);
        } else {
            writeAll(stdout, r->value(QStringLiteral("stdout")).toString().toUtf8());
            writeAll(stderr, r->value(QStringLiteral("stderr")).toString().toUtf8());
        }
        const qint64 nextOut = r->value(QStringLiteral("stdout_offset")).toInteger();
        const qint64 nextErr = r->value(QStringLiteral("stderr_offset")).toInteger();
        const bool quiet = nextOut == outOffset && nextErr == errOffset;
        outOffset = nextOut;
        errOffset = nextErr;
        if (quiet && (!follow || !r->value(QStringLiteral("running")).toBool()))
            return 0;
        if (quiet) {
            QEventLoop pause;
            QTimer::singleShot(kFollowIntervalMs, &pause, &QEventLoop::quit);
            pause.exec();
        }
    }
}

int killProcess(ServiceClient &client, const Common &c, QStringList args)
{
    QString signal;
    if (auto r = takeOption(args, QStringLiteral("--signal"), &signal); !r)
        return usageError(r.error().message);
    if (args.size() != 2)
        return usageError(QStringLiteral("vm kill takes NAME PID [--signal SIG]"));
    QJsonObject body;
    if (!signal.isEmpty()) {
        bool number = false;
        const int n = signal.toInt(&number);
        body[QStringLiteral("signal")] = number ? QJsonValue(n) : QJsonValue(signal);
    }
    auto r = wait(client.postJson(processPath(args.at(0), args.at(1), QStringLiteral("/kill")), body));
    if (!r)
        return fail(r.error());
    if (c.json)
        printJson(*r);
    else
        std::printf("signalled process %s in %s\n", qPrintable(args.at(1)), qPrintable(args.at(0)));
    return 0;
}

} // namespace

int vmCommand(QStringList args)
{
    Common c;
    if (auto r = c.take(args); !r)
        return usageError(r.error().message);
    const QString verb = args.isEmpty() ? QString() : args.takeFirst();
    if (verb.isEmpty() || verb == QLatin1String("--help") || verb == QLatin1String("-h")) {
        std::printf("%s", kUsage);
        return verb.isEmpty() ? kExitUsage : 0;
    }
    ServiceClient client(ServiceClient::resolve(c.url, c.token));
    if (verb == QLatin1String("list") || verb == QLatin1String("ls"))
        return args.isEmpty() ? list(client, c) : usageError(QStringLiteral("vm list takes no arguments"));
    if (verb == QLatin1String("create"))
        return create(client, c, args);
    if (verb == QLatin1String("start") || verb == QLatin1String("stop") || verb == QLatin1String("rm"))
        return action(client, c, verb, args);
    if (verb == QLatin1String("resize"))
        return resize(client, c, args);
    if (verb == QLatin1String("exec"))
        return exec(client, c, args);
    if (verb == QLatin1String("ps"))
        return processes(client, c, args);
    if (verb == QLatin1String("logs"))
        return logs(client, c, args);
    if (verb == QLatin1String("kill"))
        return killProcess(client, c, args);
    if (verb == QLatin1String("cp"))
        return copy(client, c, args);
    if (verb == QLatin1String("code"))
        return code(client, c, args);
    if (verb == QLatin1String("console"))
        return console(client, args);
    if (verb == QLatin1String("snapshot"))
        return snapshot(client, c, args);
    if (verb == QLatin1String("snapshots"))
        return snapshots(client, c, args);
    if (verb == QLatin1String("restore"))
        return restore(client, c, args);
    if (verb == QLatin1String("fork"))
        return fork(client, c, args);
    if (verb == QLatin1String("snapshot-delete"))
        return snapshotDelete(client, c, args);
    if (verb == QLatin1String("ports"))
        return ports(client, c, args);
    if (verb == QLatin1String("expose"))
        return expose(client, c, args);
    if (verb == QLatin1String("unexpose"))
        return unexpose(client, c, args);
    return usageError(QStringLiteral("unknown vm command '%1'").arg(verb));
}

namespace {

const char kTokenUsage[] = "usage: microvm-sandbox token COMMAND [--url URL] [--token TOKEN] [--json]   (an admin token)\n"
                           "  token create --role viewer|operator|admin [--vms GLOB] [--expires DURATION] [--name NAME]\n"
                           "               [--max-vms N] [--max-vcpus N] [--max-memory-mb N]\n"
                           "      DURATION: 90s, 30m, 12h, 7d; the secret is printed once; --max-*: limits on\n"
                           "      the VMs this token makes (beside the host's quotas)\n"
                           "  token list\n"
                           "  token revoke ID\n";

// "90", "90s", "30m", "12h", "7d" in seconds; nullopt for anything else.
std::optional<qint64> parseDuration(const QString &text)
{
    static const QList<std::pair<QChar, qint64>> units{{QLatin1Char('s'), 1}, {QLatin1Char('m'), 60}, {QLatin1Char('h'), 3600}, {QLatin1Char('d'), 86400}};
    qint64 unit = 1;
    QString digits = text;
    for (const auto &[suffix, seconds] : units) {
        if (text.endsWith(suffix)) {
            unit = seconds;
            digits.chop(1);
        }
    }
    bool ok = false;
    const qint64 n = digits.toLongLong(&ok);
    if (!ok || n < 1 || n > std::numeric_limits<qint32>::max())
        return std::nullopt;
    return n * unit;
}

// --max-vms, --max-vcpus, --max-memory-mb as the API's "quota" (absent when
// none is given); nullopt when one is not a positive integer.
std::optional<QJsonObject> takeQuota(QStringList &args)
{
    QJsonObject quota;
    for (const auto &[flag, key] :
         {std::pair{QStringLiteral("--max-vms"), QStringLiteral("vms")}, std::pair{QStringLiteral("--max-vcpus"), QStringLiteral("vcpus")},
          std::pair{QStringLiteral("--max-memory-mb"), QStringLiteral("memory_mb")}}) {
        QString value;
        if (auto r = takeOption(args, flag, &value); !r)
            return std::nullopt;
        if (value.isEmpty())
            continue;
        bool ok = false;
        const qint64 n = value.toLongLong(&ok);
        if (!ok || n < 1)
            return std::nullopt;
        quota.insert(key, n);
    }
    return quota;
}

int tokenCreate(ServiceClient &client, const Common &c, QStringList args)
{
    QString role, vms, expires, name;
    if (auto r = takeOptions(
            args,
            {{QStringLiteral("--role"), &role}, {QStringLiteral("--vms"), &vms}, {QStringLiteral("--expires"), &expires}, {QStringLiteral("--name"), &name}});
        !r)
        return usageError(r.error().message);
    const std::optional<QJsonObject> quota = takeQuota(args);
    if (!quota)
        return usageError(QStringLiteral("--max-vms, --max-vcpus and --max-memory-mb take a positive integer"));
    if (role.isEmpty() || !args.isEmpty())
        return usageError(QStringLiteral("token create takes --role and optional --vms, --expires, --name, --max-vms, --max-vcpus, --max-memory-mb"));
    QJsonObject body{{QStringLiteral("role"), role}};
    if (!vms.isEmpty())
        body.insert(QStringLiteral("vms"), vms);
    if (!name.isEmpty())
        body.insert(QStringLiteral("name"), name);
    if (!quota->isEmpty())
        body.insert(QStringLiteral("quota"), *quota);
    if (!expires.isEmpty()) {
        const std::optional<qint64> seconds = parseDuration(expires);
        if (!seconds)
            return usageError(QStringLiteral("--expires takes a duration such as 90s, 30m, 12h or 7d"));
        body.insert(QStringLiteral("expires_in_s"), *seconds);
    }
    auto r = wait(client.postJson(QStringLiteral("/api/v1/tokens"), body));
    if (!r)
        return fail(r.error());
    if (c.json) {
        printJson(*r);
        return 0;
    }
    std::printf("token %s (%s%s%s)\n", qPrintable(r->value(QStringLiteral("id")).toString()), qPrintable(role), vms.isEmpty() ? "" : ", VMs ", qPrintable(vms));
    std::printf("%s\n", qPrintable(r->value(QStringLiteral("secret")).toString()));
    std::fprintf(stderr, "the secret above is shown once: store it now\n");
    return 0;
}

int tokenList(ServiceClient &client, const Common &c)
{
    auto r = wait(client.getJson(QStringLiteral("/api/v1/tokens")));
    if (!r)
        return fail(r.error());
    const QJsonArray tokens = r->value(QStringLiteral("tokens")).toArray();
    if (c.json) {
        printJson(tokens);
        return 0;
    }
    std::printf("%-16s %-16s %-8s %-16s %-20s %s\n", "ID", "NAME", "ROLE", "VMS", "EXPIRES", "QUOTA");
    for (const QJsonValue &v : tokens) {
        const QJsonObject t = v.toObject();
        QStringList quota;
        const QJsonObject q = t.value(QStringLiteral("quota")).toObject();
        for (auto it = q.begin(); it != q.end(); ++it)
            quota << it.key() + QLatin1Char('=') + QString::number(it.value().toInteger());
        std::printf(
            "%-16s %-16s %-8s %-16s %-20s %s\n", qPrintable(t.value(QStringLiteral("id")).toString()), qPrintable(t.value(QStringLiteral("name")).toString()),
            qPrintable(t.value(QStringLiteral("role")).toString()), qPrintable(t.value(QStringLiteral("vms")).toString(QStringLiteral("*"))),
            qPrintable(t.value(QStringLiteral("expires")).toString(QStringLiteral("never"))), quota.isEmpty() ? "-" : qPrintable(quota.join(QLatin1Char(','))));
    }
    return 0;
}

int tokenRevoke(ServiceClient &client, const Common &c, const QStringList &args)
{
    if (args.size() != 1)
        return usageError(QStringLiteral("token revoke takes one ID"));
    auto r = wait(client.deleteJson(QStringLiteral("/api/v1/tokens/") + QString::fromLatin1(QUrl::toPercentEncoding(args.first()))));
    if (!r)
        return fail(r.error());
    if (c.json)
        printJson(QJsonObject{{QStringLiteral("id"), args.first()}, {QStringLiteral("revoked"), true}});
    else
        std::printf("revoked %s\n", qPrintable(args.first()));
    return 0;
}

} // namespace

int tokenCommand(QStringList args)
{
    Common c;
    if (auto r = c.take(args); !r)
        return usageError(r.error().message);
    const QString verb = args.isEmpty() ? QString() : args.takeFirst();
    if (verb.isEmpty() || verb == QLatin1String("--help") || verb == QLatin1String("-h")) {
        std::printf("%s", kTokenUsage);
        return verb.isEmpty() ? kExitUsage : 0;
    }
    ServiceClient client(ServiceClient::resolve(c.url, c.token));
    if (verb == QLatin1String("create"))
        return tokenCreate(client, c, args);
    if (verb == QLatin1String("list") || verb == QLatin1String("ls"))
        return args.isEmpty() ? tokenList(client, c) : usageError(QStringLiteral("token list takes no arguments"));
    if (verb == QLatin1String("revoke"))
        return tokenRevoke(client, c, args);
    return usageError(QStringLiteral("unknown token command '%1'").arg(verb));
}

namespace {

const char kPoolUsage[] = "usage: microvm-sandbox pool [--url URL] [--token TOKEN] [--json]            the paused pool, per template\n"
                          "       microvm-sandbox pool set TEMPLATE=N[,TEMPLATE=N...] [...]   new targets until the service stops (admin)\n";

int printPool(const Common &c, const Core::Expected<QJsonObject> &r)
{
    if (!r)
        return fail(r.error());
    const QJsonArray templates = r->value(QStringLiteral("templates")).toArray();
    if (c.json) {
        printJson(*r);
        return 0;
    }
    if (templates.isEmpty()) {
        std::printf("no pool%s\n", r->value(QStringLiteral("warm_start")).toBool() ? "" : " (warm starts are off: the pool needs them)");
        return 0;
    }
    std::printf("%-16s %6s %6s %7s %10s  %s\n", "TEMPLATE", "TARGET", "READY", "FILLING", "MEMORY", "NOTE");
    for (const QJsonValue &v : templates)
        std::printf("%-16s %6d %6d %7d %6d MiB  %s\n", qPrintable(v[QStringLiteral("template")].toString()), v[QStringLiteral("target")].toInt(),
                    v[QStringLiteral("ready")].toInt(), v[QStringLiteral("filling")].toInt(), v[QStringLiteral("memory_mb")].toInt(),
                    qPrintable(v[QStringLiteral("last_error")].toString()));
    return 0;
}

} // namespace

int poolCommand(QStringList args)
{
    Common c;
    if (auto r = c.take(args); !r)
        return usageError(r.error().message);
    if (args.value(0) == QLatin1String("--help") || args.value(0) == QLatin1String("-h")) {
        std::printf("%s", kPoolUsage);
        return 0;
    }
    ServiceClient client(ServiceClient::resolve(c.url, c.token));
    if (args.isEmpty())
        return printPool(c, wait(client.getJson(QStringLiteral("/api/v1/pool"))));
    if (args.first() != QLatin1String("set") || args.size() != 2)
        return usageError(QStringLiteral("%1").arg(QString::fromLatin1(kPoolUsage).trimmed()));
    auto targets = Vm::VmPool::parseTargets(args.at(1));
    if (!targets)
        return usageError(targets.error().message);
    QJsonObject byTemplate;
    for (const Vm::VmPool::Target &t : *targets)
        byTemplate.insert(t.templateName, t.count);
    return printPool(c, wait(client.putJson(QStringLiteral("/api/v1/pool"), QJsonObject{{QStringLiteral("targets"), byTemplate}})));
}

int templateListCommand(QStringList args)
{
    Common c;
    if (auto r = c.take(args); !r)
        return usageError(r.error().message);
    if (args.value(0) != QLatin1String("list") || args.size() != 1) {
        std::fprintf(stderr, "usage: microvm-sandbox template list [--url URL] [--token TOKEN] [--json]\n");
        return kExitUsage;
    }
    ServiceClient client(ServiceClient::resolve(c.url, c.token));
    auto r = wait(client.getJson(QStringLiteral("/api/v1/templates")));
    if (!r)
        return fail(r.error());
    const QJsonArray list = r->value(QStringLiteral("templates")).toArray();
    if (c.json) {
        printJson(list);
        return 0;
    }
    std::printf("%-16s %5s %10s  %s\n", "NAME", "VCPUS", "MEMORY", "DESCRIPTION");
    for (const QJsonValue &v : list)
        std::printf("%-16s %5d %6d MiB  %s\n", qPrintable(v[QStringLiteral("name")].toString()), v[QStringLiteral("vcpus")].toInt(),
                    v[QStringLiteral("memory_mb")].toInt(), qPrintable(v[QStringLiteral("description")].toString()));
    return 0;
}

} // namespace App
