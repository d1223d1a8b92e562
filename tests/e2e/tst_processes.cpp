// Commands the way agents write them, on a real guest (minimal template)
// through the REST service in this process: an exec whose command leaves a
// child in the background (`sleep 300 & echo started`) answers when its main
// process ends, and the child runs on; background processes
// (POST .../exec with "background": true) are listed, read by offset,
// written to, killed and deleted, unknown pids are 404 and the guest's
// limit is a clear 409.

#include "e2efixture.h"
#include "e2eservice.h"
#include "tests/apicall.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QTemporaryDir>

using namespace E2e;

namespace {

constexpr int kCreateTimeoutMs = kBootTimeoutMs + 600000; // the first run builds the image
// What an exec of a command that ended at once may take under TCG on a busy
// host (the grace is 250 ms; a timeout would be 60 s).
constexpr qint64 kPromptAnswerMs = 10000;
constexpr int kMaxProcesses = 32; // guest-agent ProcessTable::kMaxProcesses
// Counts the guest's processes whose command line is exactly `sleep <arg>`.
const QString kCountSleeps =
    QStringLiteral("n=0; for c in /proc/[0-9]*/cmdline; do [ \"$(tr '\\0' ' ' < $c 2>/dev/null)\" = 'sleep %1 ' ] && n=$((n+1)); done; echo $n");

// Kills them.
const QString kKillSleeps =
    QStringLiteral("for c in /proc/[0-9]*; do [ \"$(tr '\\0' ' ' < $c/cmdline 2>/dev/null)\" = 'sleep %1 ' ] && kill ${c#/proc/}; done; true");

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

class TestProcesses : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    QNetworkAccessManager m_nam;
    const QString m_vm = QStringLiteral("procs");

    TestApi::Reply call(const QByteArray &method, const QString &rest, const QByteArray &body = {}, int timeoutMs = 90000)
    {
        return TestApi::call(m_nam, m_service.port(), m_service.token(), method, QStringLiteral("/api/v1/vms/%1/%2").arg(m_vm, rest), body, timeoutMs);
    }

    TestApi::Reply exec(const QJsonObject &request, int timeoutMs = 90000) { return call("POST", QStringLiteral("exec"), json(request), timeoutMs); }

    // stdout of a shell command, trimmed ("<...>" when it failed).
    QString sh(const QString &command)
    {
        const auto r = exec({{QStringLiteral("cmd"), command}});
        if (r.status != 200 || r.json[QStringLiteral("exit_code")].toInt(-1) != 0)
            return QStringLiteral("<%1>").arg(r.describe());
        return r.json[QStringLiteral("stdout")].toString().trimmed();
    }

    TestApi::Reply output(int pid, qint64 stdoutOffset, qint64 stderrOffset = 0)
    {
        return call("GET", QStringLiteral("processes/%1/output?stdout_offset=%2&stderr_offset=%3").arg(pid).arg(stdoutOffset).arg(stderrOffset));
    }

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void execAnswersWhenMainProcessEnds();
    void backgroundProcess();
    void textIsCutAtWholeCharacters();
    void startStdinIsCheckedAndWritten();
    void unknownPid();
    void processLimit();
};

void TestProcesses::initTestCase()
{
    initEnvironment();
    QVERIFY(m_home.isValid());
    qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
    auto d = driverFor(Vmm::DriverKind::Qemu);
    if (!d.driver)
        QFAIL(qPrintable(d.skipReason));
    m_driver = d.driver;
    const QString problem = m_service.start(*m_driver);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    auto created = m_service.manager()->create({m_vm, QStringLiteral("minimal"), std::nullopt, std::nullopt});
    QVERIFY2(created, qPrintable(created ? QString() : created.error().toString()));
    auto started = await(m_service.manager()->start(m_vm), kCreateTimeoutMs);
    if (!started)
        qWarning("console:\n%s", call("GET", QStringLiteral("console?bytes=16384")).body.constData());
    QVERIFY2(started, qPrintable(started ? QString() : started.error().toString()));
}

void TestProcesses::cleanupTestCase()
{
    m_service.stop(); // kills the VM
}

void TestProcesses::execAnswersWhenMainProcessEnds()
{
    QElapsedTimer timer;
    timer.start();
    const auto r = exec({{QStringLiteral("cmd"), QStringLiteral("sleep 300 & echo started")}, {QStringLiteral("timeout_s"), 60}});
    const qint64 took = timer.elapsed();
    QVERIFY2(r.status == 200, qPrintable(r.describe()));
    QVERIFY2(took < kPromptAnswerMs, qPrintable(QStringLiteral("%1 ms").arg(took)));
    QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("started\n"));
    QCOMPARE(r.json[QStringLiteral("exit_code")].toInt(-1), 0);
    QCOMPARE(r.json[QStringLiteral("timed_out")].toBool(true), false);
    qInfo("sleep 300 & echo started answered in %lld ms", took);

    // The child runs on, also after a while (no SIGPIPE, no hang-up).
    QCOMPARE(sh(kCountSleeps.arg(300)), QStringLiteral("1"));
    QTest::qWait(1500);
    QCOMPARE(sh(kCountSleeps.arg(300)), QStringLiteral("1"));

    // A child writing after the answer is not killed by SIGPIPE either.
    // (its first ticks may come with the answer, within the grace)
    const QString writer = sh(QStringLiteral("(while :; do echo tick; echo tock >&2; sleep 0.2; done) & echo $!")).section(QLatin1Char('\n'), 0, 0);
    QVERIFY2(writer.toInt() > 0, qPrintable(writer));
    QTest::qWait(1500);
    QCOMPARE(sh(QStringLiteral("kill -0 %1 && echo alive").arg(writer)), QStringLiteral("alive"));
    QCOMPARE(sh(QStringLiteral("kill %1 && echo killed").arg(writer)), QStringLiteral("killed"));
    QCOMPARE(sh(kKillSleeps.arg(300)), QString());
    QCOMPARE(sh(kCountSleeps.arg(300)), QStringLiteral("0"));
}

void TestProcesses::backgroundProcess()
{
    const QString command = QStringLiteral("echo ready; read line; echo \"got $line\"; echo note >&2; exec sleep 302");
    QElapsedTimer timer;
    timer.start();
    auto r = exec({{QStringLiteral("cmd"), command}, {QStringLiteral("background"), true}});
    QVERIFY2(r.status == 201, qPrintable(r.describe()));
    QVERIFY2(timer.elapsed() < kPromptAnswerMs, qPrintable(QString::number(timer.elapsed())));
    const int pid = r.json[QStringLiteral("pid")].toInt();
    QVERIFY(pid > 0);
    QCOMPARE(r.json[QStringLiteral("running")].toBool(), true);
    QCOMPARE(r.json[QStringLiteral("command")].toArray().last().toString(), command);
    QVERIFY(QDateTime::fromString(r.json[QStringLiteral("started_at")].toString(), Qt::ISODateWithMs).isValid());

    r = call("GET", QStringLiteral("processes"));
    QCOMPARE(r.status, 200);
    QJsonArray listed = r.json[QStringLiteral("processes")].toArray();
    QCOMPARE(listed.size(), 1);
    QCOMPARE(listed.first()[QStringLiteral("pid")].toInt(), pid);

    // Read incrementally: "ready\n" first, then what stdin brought.
    QTRY_VERIFY_WITH_TIMEOUT((r = output(pid, 0)).json[QStringLiteral("stdout")].toString() == QLatin1String("ready\n"), 20000);
    QCOMPARE(r.json[QStringLiteral("stdout_offset")].toInt(), 6);
    QCOMPARE(r.json[QStringLiteral("truncated")].toBool(true), false);
    QCOMPARE(r.json[QStringLiteral("running")].toBool(), true);
    QVERIFY(r.json[QStringLiteral("exit_code")].isNull());
    r = call("POST", QStringLiteral("processes/%1/stdin").arg(pid), json({{QStringLiteral("data"), QStringLiteral("hello\n")}}));
    QVERIFY2(r.status == 204, qPrintable(r.describe()));
    QTRY_VERIFY_WITH_TIMEOUT((r = output(pid, 6)).json[QStringLiteral("stderr")].toString() == QLatin1String("note\n"), 20000);
    QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("got hello\n"));
    QCOMPARE(r.json[QStringLiteral("stdout_offset")].toInt(), 16);
    QCOMPARE(r.json[QStringLiteral("stderr_offset")].toInt(), 5);
    r = output(pid, 16, 5);
    QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QString());
    QCOMPARE(r.json[QStringLiteral("stderr")].toString(), QString());
    QCOMPARE(sh(kCountSleeps.arg(302)), QStringLiteral("1"));

    r = call("POST", QStringLiteral("processes/%1/kill").arg(pid), json({{QStringLiteral("signal"), QStringLiteral("TERM")}}));
    QVERIFY2(r.status == 200, qPrintable(r.describe()));
    QCOMPARE(r.json[QStringLiteral("pid")].toInt(), pid);
    QTRY_VERIFY_WITH_TIMEOUT(!(r = call("GET", QStringLiteral("processes/%1").arg(pid))).json[QStringLiteral("running")].toBool(true), 20000);
    QCOMPARE(r.json[QStringLiteral("signal")].toInt(), 15);
    QVERIFY(r.json[QStringLiteral("exit_code")].isNull());
    QVERIFY(QDateTime::fromString(r.json[QStringLiteral("ended_at")].toString(), Qt::ISODateWithMs).isValid());
    QCOMPARE(sh(kCountSleeps.arg(302)), QStringLiteral("0"));

    // An exit code, through the exec's cwd and env.
    r = exec({{QStringLiteral("cmd"), QStringLiteral("cat; echo \"$X in $(pwd)\"; exit 3")},
              {QStringLiteral("background"), true},
              {QStringLiteral("stdin"), QStringLiteral("fed ")},
              {QStringLiteral("cwd"), QStringLiteral("/tmp")},
              {QStringLiteral("env"), QJsonObject{{QStringLiteral("X"), QStringLiteral("x")}}}});
    QVERIFY2(r.status == 201, qPrintable(r.describe()));
    const int second = r.json[QStringLiteral("pid")].toInt();
    r = call("POST", QStringLiteral("processes/%1/stdin").arg(second), json({{QStringLiteral("eof"), true}}));
    QVERIFY2(r.status == 204, qPrintable(r.describe()));
    QTRY_VERIFY_WITH_TIMEOUT(!(r = output(second, 0)).json[QStringLiteral("running")].toBool(true), 20000);
    QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("fed x in /tmp\n"));
    QCOMPARE(r.json[QStringLiteral("exit_code")].toInt(), 3);

    for (int p : {pid, second}) {
        r = call("DELETE", QStringLiteral("processes/%1").arg(p));
        QVERIFY2(r.status == 204, qPrintable(r.describe()));
    }
    r = call("GET", QStringLiteral("processes"));
    QCOMPARE(r.json[QStringLiteral("processes")].toArray().size(), 0);
}

// A character the process wrote in two pieces comes back whole: its first
// bytes are held back (the offset stays before them) until the rest is there.
void TestProcesses::textIsCutAtWholeCharacters()
{
    auto r = exec({{QStringLiteral("cmd"), QStringLiteral("printf 'a\\342\\202'; read x; printf '\\254\\n'")}, {QStringLiteral("background"), true}});
    QVERIFY2(r.status == 201, qPrintable(r.describe()));
    const int pid = r.json[QStringLiteral("pid")].toInt();
    QTRY_VERIFY_WITH_TIMEOUT((r = output(pid, 0)).json[QStringLiteral("stdout")].toString() == QLatin1String("a"), 20000);
    QCOMPARE(r.json[QStringLiteral("stdout_offset")].toInt(), 1);
    QTest::qWait(500);
    r = output(pid, 1);
    QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QString());
    QCOMPARE(r.json[QStringLiteral("stdout_offset")].toInt(), 1);
    r = call("POST", QStringLiteral("processes/%1/stdin").arg(pid), json({{QStringLiteral("data"), QStringLiteral("go\n")}}));
    QVERIFY2(r.status == 204, qPrintable(r.describe()));
    QTRY_VERIFY_WITH_TIMEOUT(!(r = output(pid, 1)).json[QStringLiteral("running")].toBool(true), 20000);
    QCOMPARE(r.json[QStringLiteral("stdout")].toString(), QStringLiteral("\u20AC\n"));
    QCOMPARE(r.json[QStringLiteral("stdout_offset")].toInt(), 5);
    QCOMPARE(call("DELETE", QStringLiteral("processes/%1").arg(pid)).status, 204);
}

// stdin given with the start: above what one write to the agent holds it
// is 413 (here the JSON body's 1 MiB comes first) and nothing starts;
// within it, it is written before the 201.
void TestProcesses::startStdinIsCheckedAndWritten()
{
    auto r = exec({{QStringLiteral("cmd"), QStringLiteral("cat")},
                   {QStringLiteral("background"), true},
                   {QStringLiteral("stdin"), QString((1 << 20) + 1, QLatin1Char('x'))}});
    QVERIFY2(r.status == 413, qPrintable(r.describe()));
    r = call("GET", QStringLiteral("processes"));
    QCOMPARE(r.json[QStringLiteral("processes")].toArray().size(), 0);
    r = exec({{QStringLiteral("cmd"), QStringLiteral("wc -c")},
              {QStringLiteral("background"), true},
              {QStringLiteral("stdin"), QString(512 << 10, QLatin1Char('y'))}});
    QVERIFY2(r.status == 201, qPrintable(r.describe()));
    const int pid = r.json[QStringLiteral("pid")].toInt();
    QCOMPARE(call("POST", QStringLiteral("processes/%1/stdin").arg(pid), json({{QStringLiteral("eof"), true}})).status, 204);
    QTRY_VERIFY_WITH_TIMEOUT(!(r = output(pid, 0)).json[QStringLiteral("running")].toBool(true), 20000);
    QCOMPARE(r.json[QStringLiteral("stdout")].toString().trimmed(), QString::number(512 << 10));
    QCOMPARE(call("DELETE", QStringLiteral("processes/%1").arg(pid)).status, 204);
}

void TestProcesses::unknownPid()
{
    for (const auto &[method, rest] : {std::pair<QByteArray, QString>{"GET", QStringLiteral("processes/999999")},
                                       {"GET", QStringLiteral("processes/999999/output")},
                                       {"POST", QStringLiteral("processes/999999/kill")},
                                       {"DELETE", QStringLiteral("processes/999999")}}) {
        const auto r = call(method, rest);
        QVERIFY2(r.status == 404, qPrintable(rest + QLatin1Char(' ') + r.describe()));
        QCOMPARE(r.errorCode(), QStringLiteral("not_found"));
    }
    const auto r = call("POST", QStringLiteral("processes/999999/stdin"), json({{QStringLiteral("data"), QStringLiteral("x")}}));
    QVERIFY2(r.status == 404, qPrintable(r.describe()));
}

void TestProcesses::processLimit()
{
    QList<int> pids;
    for (int i = 0; i < kMaxProcesses; ++i) {
        const auto r = exec({{QStringLiteral("cmd"), QStringLiteral("exec sleep 303")}, {QStringLiteral("background"), true}});
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        pids << r.json[QStringLiteral("pid")].toInt();
    }
    auto r = exec({{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("background"), true}});
    QVERIFY2(r.status == 409, qPrintable(r.describe()));
    QVERIFY2(r.json[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QLatin1String("too many background processes")),
             qPrintable(r.describe()));
    QCOMPARE(sh(kCountSleeps.arg(303)), QString::number(kMaxProcesses));

    r = call("POST", QStringLiteral("processes/%1/kill").arg(pids.first()), json({{QStringLiteral("signal"), 9}}));
    QVERIFY2(r.status == 200, qPrintable(r.describe()));
    QTRY_VERIFY_WITH_TIMEOUT(!call("GET", QStringLiteral("processes/%1").arg(pids.first())).json[QStringLiteral("running")].toBool(true), 20000);
    r = exec({{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("background"), true}});
    QVERIFY2(r.status == 201, qPrintable(r.describe())); // the ended one made room
    pids.removeFirst();
    pids << r.json[QStringLiteral("pid")].toInt();
    for (int pid : std::as_const(pids))
        QCOMPARE(call("DELETE", QStringLiteral("processes/%1").arg(pid)).status, 204);
    QCOMPARE(sh(kCountSleeps.arg(303)), QStringLiteral("0"));
}

} // namespace

QTEST_GUILESS_MAIN(TestProcesses)
#include "tst_processes.moc"
