#include "core/code/coderunner.h"

#include "core/agent/agentclient.h"
#include "core/image/imagebuilder.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QPointer>
#include <QRegularExpression>

#include <cmath>

namespace Code::CodeRunner {
namespace {

// The shell's "command not found" and "cannot execute": the image has no
// runner, or the runner no python3 (a template without Python).
constexpr int kExitNotFound = 127;
constexpr int kExitCannotExecute = 126;
constexpr qint64 kMaxFieldChars = 32 << 20;
constexpr int kMaxShortFieldChars = 4096;

Core::Error guestError(const QString &message)
{
    return Core::Error(Core::ErrorCode::Agent, QStringLiteral("the guest's code runner: ") + message);
}

Core::ErrorCode failureCode(const QString &code)
{
    if (code == QLatin1String("invalid_argument"))
        return Core::ErrorCode::InvalidArgument;
    if (code == QLatin1String("not_found"))
        return Core::ErrorCode::NotFound;
    if (code == QLatin1String("busy") || code == QLatin1String("limit"))
        return Core::ErrorCode::InvalidState;
    if (code == QLatin1String("unsupported"))
        return Core::ErrorCode::Unsupported;
    return Core::ErrorCode::Agent;
}

// Field readers: absent or the wrong type is an error naming the field.
struct Reader {
    const QJsonObject &o;
    QString problem;

    QString text(const char *key, qint64 maxChars = kMaxFieldChars)
    {
        const QJsonValue v = o.value(QLatin1String(key));
        if (!v.isString() || v.toString().size() > maxChars)
            fail(key);
        return v.toString();
    }
    std::optional<QString> optionalText(const char *key, qint64 maxChars = kMaxFieldChars)
    {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isNull() || v.isUndefined())
            return std::nullopt;
        return text(key, maxChars);
    }
    std::optional<int> optionalInt(const char *key)
    {
        const QJsonValue v = o.value(QLatin1String(key));
        if (v.isNull() || v.isUndefined())
            return std::nullopt;
        const double d = v.toDouble(-1);
        if (!v.isDouble() || d < 0 || d > 1e9 || d != std::floor(d)) {
            fail(key);
            return std::nullopt;
        }
        return static_cast<int>(d);
    }
    bool flag(const char *key)
    {
        if (!o.value(QLatin1String(key)).isBool())
            fail(key);
        return o.value(QLatin1String(key)).toBool();
    }
    void fail(const char *key)
    {
        if (problem.isEmpty())
            problem = QStringLiteral("'%1' is missing or malformed").arg(QLatin1String(key));
    }
};

std::optional<CodeOutput> parseOutput(const QJsonValue &v)
{
    if (!v.isObject())
        return std::nullopt;
    const QJsonObject o = v.toObject();
    Reader r{o, {}};
    CodeOutput out{r.text("type", 255), r.text("data"), r.optionalInt("width"), r.optionalInt("height")};
    if (!r.problem.isEmpty() || !QRegularExpression(QStringLiteral("^[a-z]+/[A-Za-z0-9.+_-]+$")).match(out.type).hasMatch())
        return std::nullopt;
    return out;
}

std::optional<CodeError> parseError(const QJsonValue &v)
{
    if (!v.isObject())
        return std::nullopt;
    const QJsonObject o = v.toObject();
    Reader r{o, {}};
    CodeError e{r.text("name", kMaxShortFieldChars), r.text("value", 1 << 20), {}};
    const QJsonValue tb = o.value(QStringLiteral("traceback"));
    if (!r.problem.isEmpty() || !tb.isArray() || tb.toArray().size() > kMaxTracebackLines)
        return std::nullopt;
    for (const QJsonValue &line : tb.toArray()) {
        if (!line.isString() || line.toString().size() > 64 * 1024)
            return std::nullopt;
        e.traceback << line.toString();
    }
    return e;
}

QJsonObject baseRequest(const char *op)
{
    return QJsonObject{{QStringLiteral("op"), QString::fromLatin1(op)}};
}

// The runner or its python3 missing from the image (a template without Python).
Core::Error noRunner(const QString &detail)
{
    return Core::Error(Core::ErrorCode::Unsupported,
                       QStringLiteral("this VM cannot run code: its image has no code runner or no python3 (use the agent template): %1").arg(detail));
}

Core::Future<QJsonObject> call(Agent::AgentClient &agent, const QJsonObject &request, int timeoutMs)
{
    Core::Promise<QJsonObject> answer;
    Core::whenDone(agent.run(runnerExec(request, timeoutMs)), &agent, [answer](const Core::Expected<Agent::ExecResult> &r) {
        if (r)
            answer.resolve(answerObject(*r));
        else if (r.error().code == Core::ErrorCode::NotFound || r.error().code == Core::ErrorCode::PermissionDenied)
            answer.resolve(noRunner(r.error().message)); // the exec itself failed: no runner or no interpreter
        else
            answer.resolve(r.error());
    });
    return answer.future();
}

// An agent's runs going on, kept on the agent (gone with it).
constexpr const char *kRunsProperty = "mvs_code_runs";

// A held slot: gives it back when destroyed.
class RunClaim {
public:
    explicit RunClaim(Agent::AgentClient *agent)
        : m_agent(agent)
    {
        m_agent->setProperty(kRunsProperty, runsInProgress(*m_agent) + 1);
    }
    ~RunClaim()
    {
        if (m_agent)
            m_agent->setProperty(kRunsProperty, qMax(0, runsInProgress(*m_agent) - 1));
    }
    RunClaim(const RunClaim &) = delete;
    RunClaim &operator=(const RunClaim &) = delete;

private:
    QPointer<Agent::AgentClient> m_agent;
};

} // namespace

Core::Expected<RunSlot> claimRunSlot(Agent::AgentClient &agent)
{
    if (runsInProgress(agent) >= kMaxConcurrentRuns)
        return Core::Error(
            Core::ErrorCode::InvalidState,
            QStringLiteral("%1 code runs are going on in this VM already, the most at once: run this one when one has ended").arg(kMaxConcurrentRuns));
    return RunSlot(std::make_shared<const RunClaim>(&agent));
}

int runsInProgress(const Agent::AgentClient &agent)
{
    return agent.property(kRunsProperty).toInt();
}

bool validSessionId(const QString &id)
{
    static const QRegularExpression re(QStringLiteral("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"));
    return re.match(id).hasMatch();
}

Core::Expected<CodeRequest> checkRequest(CodeRequest request)
{
    const auto invalid = [](const QString &m) { return Core::Error(Core::ErrorCode::InvalidArgument, m); };
    if (request.code.toUtf8().size() > kMaxCodeBytes)
        return invalid(QStringLiteral("'code' is over %1 bytes").arg(kMaxCodeBytes));
    if (!request.session.isEmpty() && !validSessionId(request.session))
        return invalid(QStringLiteral("'session' must be 1-%1 letters, digits, '_', '.' or '-', not starting with '.' or '-'").arg(kMaxSessionIdLength));
    if (!request.session.isEmpty() && request.language != Language::Python)
        return Core::Error(Core::ErrorCode::Unsupported,
                           QStringLiteral("sessions are for python only; run %1 without a session (one-shot)").arg(languageName(request.language)));
    if (request.timeoutMs <= 0)
        request.timeoutMs = static_cast<int>(kDefaultTimeoutS * 1000);
    if (request.timeoutMs > kMaxTimeoutS * 1000)
        return invalid(QStringLiteral("'timeout_s' is at most %1").arg(kMaxTimeoutS));
    return request;
}

Agent::ExecRequest runnerExec(const QJsonObject &request, int timeoutMs)
{
    Agent::ExecRequest exec;
    exec.argv = {QString::fromLatin1(Image::ImageBuilder::kCodeRunnerGuestPath)};
    exec.env = {QStringLiteral("HOME=/root"), QStringLiteral("LANG=C.UTF-8"),
                QStringLiteral("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")};
    exec.cwd = QStringLiteral("/");
    exec.stdinData = QJsonDocument(request).toJson(QJsonDocument::Compact);
    exec.timeoutMs = timeoutMs;
    exec.limits.maxBytes = kMaxAnswerBytes;
    exec.limits.maxStderrBytes = kMaxRunnerStderrBytes;
    return exec;
}

Core::Expected<QJsonObject> answerObject(const Agent::ExecResult &r)
{
    if (r.exitCode == kExitNotFound || r.exitCode == kExitCannotExecute)
        return noRunner(QString::fromUtf8(r.stderrData.left(kRunnerStderrShownBytes / 2)).trimmed());
    if (r.timedOut)
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("the guest's code runner did not finish in time"));
    if (r.stdoutTruncated)
        return guestError(QStringLiteral("its answer is over %1 bytes").arg(kMaxAnswerBytes));
    if (r.signal != 0 || r.exitCode != 0)
        return guestError(QStringLiteral("it failed (%1): %2")
                              .arg(r.signal ? QStringLiteral("signal %1").arg(r.signal) : QStringLiteral("exit %1").arg(r.exitCode),
                                   QString::fromUtf8(r.stderrData.right(kRunnerStderrShownBytes)).trimmed()));
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(r.stdoutData, &parseError);
    if (!doc.isObject())
        return guestError(QStringLiteral("its answer is not a JSON object (%1)").arg(parseError.errorString()));
    const QJsonObject answer = doc.object();
    if (answer.contains(QStringLiteral("failure"))) {
        const QJsonObject f = answer.value(QStringLiteral("failure")).toObject();
        return Core::Error(failureCode(f.value(QStringLiteral("code")).toString()), f.value(QStringLiteral("message")).toString().left(kMaxShortFieldChars));
    }
    return answer;
}

Core::Expected<CodeResult> parseResult(const QJsonObject &answer)
{
    Reader r{answer, {}};
    CodeResult out;
    out.stdoutText = r.text("stdout");
    out.stderrText = r.text("stderr");
    out.result = r.optionalText("result");
    out.timedOut = r.flag("timed_out");
    out.session = r.optionalText("session", kMaxSessionIdLength).value_or(QString());
    out.executionCount = r.optionalInt("execution_count");
    out.durationMs = r.optionalInt("duration_ms").value_or(0);
    const QJsonValue outputs = answer.value(QStringLiteral("outputs"));
    if (!outputs.isArray() || outputs.toArray().size() > kMaxOutputs)
        r.fail("outputs");
    for (const QJsonValue &v : outputs.toArray()) {
        if (auto o = parseOutput(v))
            out.outputs << *o;
        else
            r.fail("outputs");
    }
    const QJsonValue error = answer.value(QStringLiteral("error"));
    if (!error.isNull()) {
        out.error = parseError(error);
        if (!out.error)
            r.fail("error");
    }
    if (!r.problem.isEmpty())
        return guestError(r.problem);
    return out;
}

Core::Expected<CodeSession> parseSession(const QJsonObject &answer)
{
    Reader r{answer, {}};
    CodeSession s{r.text("id", kMaxSessionIdLength), r.text("language", 32), r.text("created_at", 64), r.optionalInt("executions").value_or(0), r.flag("busy")};
    if (r.problem.isEmpty() && !validSessionId(s.id))
        r.fail("id");
    if (!r.problem.isEmpty())
        return guestError(r.problem);
    return s;
}

Core::Expected<QList<CodeSession>> parseSessions(const QJsonObject &answer)
{
    const QJsonValue list = answer.value(QStringLiteral("sessions"));
    if (!list.isArray() || list.toArray().size() > kMaxSessions)
        return guestError(QStringLiteral("'sessions' is missing or malformed"));
    QList<CodeSession> out;
    for (const QJsonValue &v : list.toArray()) {
        auto s = parseSession(v.toObject());
        if (!s)
            return s.error();
        out << *s;
    }
    return out;
}

Core::Future<CodeResult> execute(Agent::AgentClient &agent, const CodeRequest &request)
{
    QJsonObject body = baseRequest("execute");
    body.insert(QStringLiteral("language"), languageName(request.language));
    body.insert(QStringLiteral("code"), request.code);
    body.insert(QStringLiteral("session"), request.session.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(request.session));
    body.insert(QStringLiteral("timeout_s"), request.timeoutMs / 1000.0);
    const int timeoutMs = 2 * request.timeoutMs + kRunnerOverheadMs;
    auto slot = claimRunSlot(agent);
    if (!slot)
        return Core::readyFuture<CodeResult>(slot.error());
    Core::Promise<CodeResult> done;
    // The slot is given back once the answer is in, whatever it is.
    Core::whenDone(call(agent, body, timeoutMs), &agent, [done, held = std::make_shared<RunSlot>(*slot)](const Core::Expected<QJsonObject> &answer) {
        held->reset();
        done.resolve(answer ? parseResult(*answer) : Core::Expected<CodeResult>(answer.error()));
    });
    return done.future();
}

Core::Future<QList<CodeSession>> sessions(Agent::AgentClient &agent)
{
    return Core::then(call(agent, baseRequest("sessions"), kSessionOpTimeoutMs), &agent, [](const QJsonObject &a) { return parseSessions(a); });
}

Core::Future<CodeSession> restart(Agent::AgentClient &agent, const QString &sessionId)
{
    QJsonObject body = baseRequest("restart");
    body.insert(QStringLiteral("session"), sessionId);
    return Core::then(call(agent, body, kSessionOpTimeoutMs), &agent, [](const QJsonObject &a) { return parseSession(a); });
}

Core::Future<void> close(Agent::AgentClient &agent, const QString &sessionId)
{
    QJsonObject body = baseRequest("close");
    body.insert(QStringLiteral("session"), sessionId);
    return Core::then(call(agent, body, kSessionOpTimeoutMs), &agent, [](const QJsonObject &) { return Core::Expected<void>(); });
}

} // namespace Code::CodeRunner
