#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <QJsonDocument>
#include <QJsonObject>

#include <atomic>
#include <chrono>
#include <mutex>

namespace Core::Log {
namespace {

constexpr char kTextPattern[] = "%H:%M:%S.%e [%n] %^%l%$ %v";

Format envFormat()
{
    return qgetenv("MVS_LOG_FORMAT") == "json" ? Format::Json : Format::Text;
}

std::atomic<Format> g_format{envFormat()};

std::shared_ptr<spdlog::sinks::sink> sharedSink()
{
    static auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    return sink;
}

spdlog::level::level_enum envLevel()
{
    const QByteArray env = qgetenv("MVS_LOG");
    return env.isEmpty() ? spdlog::level::warn : spdlog::level::from_str(env.toStdString());
}

QString fromView(spdlog::string_view_t view)
{
    return QString::fromUtf8(view.data(), static_cast<qsizetype>(view.size()));
}

// A line as jsonLine() makes it, in the context of the thread that logs it.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg &msg, spdlog::memory_buf_t &dest) override
    {
        const qint64 ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
        const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
        const QByteArray line =
            jsonLine(QDateTime::fromMSecsSinceEpoch(ms), fromView(level), fromView(msg.logger_name), fromView(msg.payload), currentContext()) + '\n';
        dest.append(line.constData(), line.constData() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

void applyFormat(spdlog::logger &logger, Format format)
{
    if (format == Format::Json)
        logger.set_formatter(makeJsonFormatter());
    else
        logger.set_pattern(kTextPattern);
}

spdlog::logger *get(const char *name)
{
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    if (auto existing = spdlog::get(name))
        return existing.get();
    auto logger = std::make_shared<spdlog::logger>(name, sharedSink());
    logger->set_level(envLevel());
    applyFormat(*logger, g_format);
    spdlog::register_logger(logger);
    return logger.get();
}

void makeAll()
{
    core();
    vmm();
    agent();
    image();
    api();
}

} // namespace

spdlog::logger *core()
{
    return get("core");
}
spdlog::logger *vmm()
{
    return get("vmm");
}
spdlog::logger *agent()
{
    return get("agent");
}
spdlog::logger *image()
{
    return get("image");
}
spdlog::logger *api()
{
    return get("api");
}

void setLevel(const QString &level)
{
    const auto lvl = spdlog::level::from_str(level.toStdString());
    makeAll();
    spdlog::apply_all([lvl](const std::shared_ptr<spdlog::logger> &l) { l->set_level(lvl); });
}

std::optional<Format> formatFromName(const QString &name)
{
    if (name == QLatin1String("text"))
        return Format::Text;
    if (name == QLatin1String("json"))
        return Format::Json;
    return std::nullopt;
}

void setFormat(Format format)
{
    g_format = format;
    makeAll();
    spdlog::apply_all([format](const std::shared_ptr<spdlog::logger> &l) { applyFormat(*l, format); });
}

Format format()
{
    return g_format;
}

std::unique_ptr<spdlog::formatter> makeJsonFormatter()
{
    return std::make_unique<JsonFormatter>();
}

QByteArray jsonLine(const QDateTime &time, const QString &level, const QString &category, const QString &message, const Context &context)
{
    QJsonObject o{{QStringLiteral("time"), time.toUTC().toString(Qt::ISODateWithMs)},
                  {QStringLiteral("level"), level},
                  {QStringLiteral("category"), category},
                  {QStringLiteral("message"), message}};
    if (!context.requestId.isEmpty())
        o.insert(QStringLiteral("request_id"), context.requestId);
    if (!context.vm.isEmpty())
        o.insert(QStringLiteral("vm"), context.vm);
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace Core::Log
