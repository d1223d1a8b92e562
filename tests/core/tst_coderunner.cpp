// Code::CodeRunner: the exec it asks of the guest, the answers of the real
// mvs-code-runner (run here on the host with Debian's python3, ipykernel,
// node and bash) parsed into CodeResult, and hostile answers refused or
// mapped to the right errors.

#include "core/agent/agentclient.h"
#include "core/agent/exechandle.h"
#include "core/code/coderunner.h"
#include "core/image/imagebuilder.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QProcessEnvironment>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace Code;

namespace {

const QString kRunner = QStringLiteral(MVS_SOURCE_DIR "/guest-agent/coderunner/mvs-code-runner");

Agent::ExecResult okResult(const QJsonObject &answer)
{
    Agent::ExecResult r;
    r.exitCode = 0;
    r.stdoutData = QJsonDocument(answer).toJson(QJsonDocument::Compact);
    return r;
}

QJsonObject goodAnswer()
{
    return QJsonObject{{QStringLiteral("stdout"), QStringLiteral("hello\n")},
                       {QStringLiteral("stderr"), QString()},
                       {QStringLiteral("result"), QStringLiteral("42")},
                       {QStringLiteral("outputs"),
                        QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("image/png")},
                                               {QStringLiteral("data"), QStringLiteral("iVBORw0K")},
                                               {QStringLiteral("width"), 400},
                                               {QStringLiteral("height"), 300}}}},
                       {QStringLiteral("error"), QJsonValue::Null},
                       {QStringLiteral("timed_out"), false},
                       {QStringLiteral("session"), QStringLiteral("s1")},
                       {QStringLiteral("execution_count"), 2},
                       {QStringLiteral("duration_ms"), 12}};
}

} // namespace

class TestCodeRunner : public QObject {
    Q_OBJECT

    QTemporaryDir m_runDir;

    // The real runner, fed the stdin CodeRunner builds; its exit as an ExecResult.
    Agent::ExecResult runReal(const QJsonObject &request)
    {
        const Agent::ExecRequest exec = CodeRunner::runnerExec(request, 60000);
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("MVS_CODE_RUN_DIR"), m_runDir.path());
        p.setProcessEnvironment(env);
        p.start(QStringLiteral("/usr/bin/python3"), {kRunner});
        p.write(exec.stdinData);
        p.closeWriteChannel();
        if (!p.waitForFinished(120000))
            p.kill();
        Agent::ExecResult r;
        r.exitCode = p.exitCode();
        r.stdoutData = p.readAllStandardOutput();
        r.stderrData = p.readAllStandardError();
        return r;
    }

    Core::Expected<CodeResult> execute(Language language, const QString &code, const QString &session = {})
    {
        auto request = CodeRunner::checkRequest(CodeRequest{language, code, session, 30000});
        if (!request)
            return request.error();
        QJsonObject body{{QStringLiteral("op"), QStringLiteral("execute")},
                         {QStringLiteral("language"), languageName(language)},
                         {QStringLiteral("code"), code},
                         {QStringLiteral("timeout_s"), request->timeoutMs / 1000.0}};
        if (!session.isEmpty())
            body[QStringLiteral("session")] = session;
        auto answer = CodeRunner::answerObject(runReal(body));
        if (!answer)
            return answer.error();
        return CodeRunner::parseResult(*answer);
    }

private Q_SLOTS:
    void cleanupTestCase()
    {
        // The sessions' kernels: closed through the runner, like the service would.
        auto answer = CodeRunner::answerObject(runReal(QJsonObject{{QStringLiteral("op"), QStringLiteral("sessions")}}));
        QVERIFY(answer);
        auto sessions = CodeRunner::parseSessions(*answer);
        QVERIFY(sessions);
        for (const CodeSession &s : *sessions)
            QVERIFY(CodeRunner::answerObject(runReal(QJsonObject{{QStringLiteral("op"), QStringLiteral("close")}, {QStringLiteral("session"), s.id}})));
    }

    void runnerExecRunsTheGuestRunnerWithTheRequestOnStdin()
    {
        const QJsonObject request{{QStringLiteral("op"), QStringLiteral("sessions")}};
        const Agent::ExecRequest exec = CodeRunner::runnerExec(request, 1234);
        QCOMPARE(exec.argv, QStringList{QString::fromLatin1(Image::ImageBuilder::kCodeRunnerGuestPath)});
        QCOMPARE(QJsonDocument::fromJson(exec.stdinData).object(), request);
        QCOMPARE(exec.timeoutMs, 1234);
        QCOMPARE(exec.limits.maxBytes, CodeRunner::kMaxAnswerBytes);
        QCOMPARE(exec.limits.maxStderrBytes, CodeRunner::kMaxRunnerStderrBytes);
        QVERIFY(CodeRunner::kMaxRunnerStderrBytes < CodeRunner::kMaxAnswerBytes / 64);
    }

    // The answer's cap holds the most the runner says (its own caps, read
    // from it), with room for JSON escapes, and no more than twice that.
    void theAnswerCapFitsTheRunnersCaps()
    {
        QFile f(kRunner);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QString source = QString::fromUtf8(f.readAll());
        const auto cap = [&source](const char *name) {
            const auto m =
                QRegularExpression(QStringLiteral("^%1 = (\\d+)(?: << (\\d+))?").arg(QLatin1String(name)), QRegularExpression::MultilineOption).match(source);
            return m.hasMatch() ? m.captured(1).toLongLong() << m.captured(2).toInt() : qint64(-1);
        };
        const qint64 stream = cap("MAX_STREAM_BYTES"), value = cap("MAX_RESULT_BYTES"), outputs = cap("MAX_OUTPUTS_BYTES");
        const qint64 error = cap("MAX_ERROR_VALUE_BYTES") + cap("MAX_TRACEBACK_LINES") * cap("MAX_TRACEBACK_LINE_BYTES");
        QVERIFY(stream > 0 && value > 0 && outputs > 0 && error > 0);
        const qint64 most = 2 * stream + value + outputs + error;
        QVERIFY2(most + most / 2 <= CodeRunner::kMaxAnswerBytes, qPrintable(QString::number(most)));
        QVERIFY(CodeRunner::kMaxAnswerBytes <= 2 * most);
    }

    // At most kMaxConcurrentRuns per agent; a slot comes back when its run
    // ends, whatever its end (here: the agent is not connected).
    void concurrentRunsPerAgentAreCapped()
    {
        Agent::AgentClient agent(Vmm::AgentEndpoint{m_runDir.filePath(QStringLiteral("no-agent.sock")), 0});
        Agent::AgentClient other(Vmm::AgentEndpoint{m_runDir.filePath(QStringLiteral("no-agent-2.sock")), 0});
        QList<CodeRunner::RunSlot> held;
        for (int i = 0; i < CodeRunner::kMaxConcurrentRuns; ++i) {
            auto slot = CodeRunner::claimRunSlot(agent);
            QVERIFY2(slot, slot ? "" : qPrintable(slot.error().message));
            held << *slot;
        }
        QCOMPARE(CodeRunner::runsInProgress(agent), CodeRunner::kMaxConcurrentRuns);
        auto refused = CodeRunner::claimRunSlot(agent);
        QVERIFY(!refused);
        QCOMPARE(refused.error().code, Core::ErrorCode::InvalidState);
        // execute() refuses at once, without asking the guest.
        const CodeRequest request{Language::Python, QStringLiteral("1"), {}, 1000};
        auto full = CodeRunner::execute(agent, request);
        QVERIFY(full.isFinished());
        QCOMPARE(full.result().error().code, Core::ErrorCode::InvalidState);
        QVERIFY(CodeRunner::claimRunSlot(other)); // another VM's are its own
        held.removeLast();
        QCOMPARE(CodeRunner::runsInProgress(agent), CodeRunner::kMaxConcurrentRuns - 1);
        held.clear();
        QCOMPARE(CodeRunner::runsInProgress(agent), 0);
        // A run that fails gives its slot back.
        auto failed = CodeRunner::execute(agent, request);
        QTRY_VERIFY(failed.isFinished());
        QVERIFY(!failed.result());
        QVERIFY(failed.result().error().code != Core::ErrorCode::InvalidState);
        QCOMPARE(CodeRunner::runsInProgress(agent), 0);
    }

    void theRunnerIsInTheImages()
    {
        QFile f(kRunner);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(Image::ImageBuilder::codeRunner(), f.readAll());
    }

    void checkRequest_data()
    {
        QTest::addColumn<int>("language");
        QTest::addColumn<QString>("session");
        QTest::addColumn<int>("timeoutMs");
        QTest::addColumn<int>("error"); // -1: accepted
        QTest::newRow("python session") << int(Language::Python) << QStringLiteral("s1") << 0 << -1;
        QTest::newRow("one-shot bash") << int(Language::Bash) << QString() << 5000 << -1;
        QTest::newRow("javascript session") << int(Language::JavaScript) << QStringLiteral("s") << 0 << int(Core::ErrorCode::Unsupported);
        QTest::newRow("path in session") << int(Language::Python) << QStringLiteral("../x") << 0 << int(Core::ErrorCode::InvalidArgument);
        QTest::newRow("dot session") << int(Language::Python) << QStringLiteral(".x") << 0 << int(Core::ErrorCode::InvalidArgument);
        QTest::newRow("long session") << int(Language::Python) << QString(65, QLatin1Char('a')) << 0 << int(Core::ErrorCode::InvalidArgument);
        QTest::newRow("timeout too long") << int(Language::Python) << QString() << int(CodeRunner::kMaxTimeoutS * 1000) + 1
                                          << int(Core::ErrorCode::InvalidArgument);
    }
    void checkRequest()
    {
        QFETCH(int, language);
        QFETCH(QString, session);
        QFETCH(int, timeoutMs);
        QFETCH(int, error);
        auto r = CodeRunner::checkRequest(CodeRequest{Language(language), QStringLiteral("1"), session, timeoutMs});
        if (error < 0) {
            QVERIFY2(r, r ? "" : qPrintable(r.error().message));
            QCOMPARE(r->timeoutMs, timeoutMs ? timeoutMs : int(CodeRunner::kDefaultTimeoutS * 1000));
        } else {
            QVERIFY(!r);
            QCOMPARE(int(r.error().code), error);
        }
    }

    void parsesAGoodAnswer()
    {
        auto answer = CodeRunner::answerObject(okResult(goodAnswer()));
        QVERIFY(answer);
        auto r = CodeRunner::parseResult(*answer);
        QVERIFY2(r, r ? "" : qPrintable(r.error().message));
        QCOMPARE(r->result.value_or(QString()), QStringLiteral("42"));
        QCOMPARE(r->outputs.size(), 1);
        QCOMPARE(r->outputs.first().width.value_or(0), 400);
        QCOMPARE(r->executionCount.value_or(0), 2);
        QCOMPARE(r->toJson(), goodAnswer()); // the API's JSON is the runner's, checked
    }

    void refusesHostileAnswers_data()
    {
        QTest::addColumn<QJsonObject>("answer");
        QJsonObject a = goodAnswer();
        a[QStringLiteral("stdout")] = 5;
        QTest::newRow("stdout not a string") << a;
        a = goodAnswer();
        a.remove(QStringLiteral("timed_out"));
        QTest::newRow("timed_out missing") << a;
        a = goodAnswer();
        QJsonArray many;
        for (int i = 0; i <= CodeRunner::kMaxOutputs; ++i)
            many.append(QJsonObject{{QStringLiteral("type"), QStringLiteral("text/plain")}, {QStringLiteral("data"), QStringLiteral("x")}});
        a[QStringLiteral("outputs")] = many;
        QTest::newRow("too many outputs") << a;
        a = goodAnswer();
        a[QStringLiteral("outputs")] =
            QJsonArray{QJsonObject{{QStringLiteral("type"), QStringLiteral("text/html\r\nX: y")}, {QStringLiteral("data"), QString()}}};
        QTest::newRow("bad MIME type") << a;
        a = goodAnswer();
        a[QStringLiteral("error")] = QJsonObject{{QStringLiteral("name"), QStringLiteral("E")}, {QStringLiteral("value"), QString()}};
        QTest::newRow("error without traceback") << a;
        a = goodAnswer();
        a[QStringLiteral("execution_count")] = -3;
        QTest::newRow("negative count") << a;
        a = goodAnswer();
        a[QStringLiteral("session")] = QString(100, QLatin1Char('s'));
        QTest::newRow("long session") << a;
    }
    void refusesHostileAnswers()
    {
        QFETCH(QJsonObject, answer);
        auto r = CodeRunner::parseResult(answer);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Agent);
    }

    void runnerFailuresMapToErrors_data()
    {
        QTest::addColumn<QString>("failure");
        QTest::addColumn<int>("code");
        QTest::newRow("invalid") << QStringLiteral("invalid_argument") << int(Core::ErrorCode::InvalidArgument);
        QTest::newRow("not found") << QStringLiteral("not_found") << int(Core::ErrorCode::NotFound);
        QTest::newRow("busy") << QStringLiteral("busy") << int(Core::ErrorCode::InvalidState);
        QTest::newRow("unsupported") << QStringLiteral("unsupported") << int(Core::ErrorCode::Unsupported);
        QTest::newRow("unknown") << QStringLiteral("whatever") << int(Core::ErrorCode::Agent);
    }
    void runnerFailuresMapToErrors()
    {
        QFETCH(QString, failure);
        QFETCH(int, code);
        auto r = CodeRunner::answerObject(okResult(
            QJsonObject{{QStringLiteral("failure"), QJsonObject{{QStringLiteral("code"), failure}, {QStringLiteral("message"), QStringLiteral("m")}}}}));
        QVERIFY(!r);
        QCOMPARE(int(r.error().code), code);
        QCOMPARE(r.error().message, QStringLiteral("m"));
    }

    void exitsMapToErrors()
    {
        Agent::ExecResult missing;
        missing.exitCode = 127;
        missing.stderrData = "/usr/bin/python3: not found";
        QCOMPARE(CodeRunner::answerObject(missing).error().code, Core::ErrorCode::Unsupported);
        Agent::ExecResult killed;
        killed.signal = SIGKILL;
        QCOMPARE(CodeRunner::answerObject(killed).error().code, Core::ErrorCode::Agent);
        Agent::ExecResult truncated = okResult(goodAnswer());
        truncated.stdoutTruncated = true;
        QCOMPARE(CodeRunner::answerObject(truncated).error().code, Core::ErrorCode::Agent);
        Agent::ExecResult garbage;
        garbage.exitCode = 0;
        garbage.stdoutData = "[1, 2";
        QCOMPARE(CodeRunner::answerObject(garbage).error().code, Core::ErrorCode::Agent);
    }

    // The real runner's answers, as the service reads them.
    void realSessionKeepsState()
    {
        auto first = execute(Language::Python, QStringLiteral("x = 41"), QStringLiteral("core-test"));
        QVERIFY2(first, first ? "" : qPrintable(first.error().message));
        auto second = execute(Language::Python, QStringLiteral("x + 1"), QStringLiteral("core-test"));
        QVERIFY2(second, second ? "" : qPrintable(second.error().message));
        QCOMPARE(second->result.value_or(QString()), QStringLiteral("42"));
        QCOMPARE(second->session, QStringLiteral("core-test"));
        QVERIFY(!second->error);
    }

    void realErrorsAndOneShots()
    {
        auto syntax = execute(Language::Python, QStringLiteral("def f(:"), QStringLiteral("core-test"));
        QVERIFY2(syntax, syntax ? "" : qPrintable(syntax.error().message));
        QVERIFY(syntax->error);
        QCOMPARE(syntax->error->name, QStringLiteral("SyntaxError"));
        QVERIFY(!syntax->error->traceback.isEmpty());
        auto js = execute(Language::JavaScript, QStringLiteral("6 * 7"));
        QVERIFY2(js, js ? "" : qPrintable(js.error().message));
        QCOMPARE(js->result.value_or(QString()), QStringLiteral("42"));
        auto sh = execute(Language::Bash, QStringLiteral("echo $((6 * 7))"));
        QVERIFY2(sh, sh ? "" : qPrintable(sh.error().message));
        QCOMPARE(sh->stdoutText, QStringLiteral("42\n"));
        QVERIFY(sh->session.isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestCodeRunner)
#include "tst_coderunner.moc"
