// Code execution end to end (issue 16): the REST service in this process, a
// real guest of the agent template (no network), and POST .../code with
// sessions: state kept between runs, a matplotlib figure as a PNG of the
// figure's size, a syntax error as a 200 with its traceback, a runaway loop
// stopped by its timeout in a session that lives on, javascript and bash
// one-shots, sessions listed, restarted and closed. Prints create -> first
// result. Its first run may build the agent template's image.
//
// MVS_CODE_TEMPLATE names another template with python3-ipykernel, node and
// bash (default: agent).

#include "../apicall.h"
#include "e2efixture.h"
#include "e2eservice.h"

#include <QElapsedTimer>
#include <QJsonArray>
#include <QNetworkAccessManager>
#include <QTemporaryDir>
#include <QtEndian>

using namespace E2e;

namespace {

constexpr int kImageBuildMs = 40 * 60 * 1000; // debootstrap of the agent template, once per machine
constexpr int kCreateTimeoutMs = 300000 + kImageBuildMs;
constexpr int kCodeTimeoutMs = 600000; // a kernel start under TCG, then the code
constexpr int kOpTimeoutMs = 240000;
const QString kVm = QStringLiteral("code-e2e");

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

} // namespace

class TestCodeExec : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    Service m_service;
    QNetworkAccessManager m_nam;

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = kOpTimeoutMs)
    {
        return TestApi::call(m_nam, m_service.port(), m_service.token(), method, path, body, timeoutMs);
    }
    TestApi::Reply code(const QString &language, const QString &source, const QString &session = {}, double timeoutS = 0)
    {
        QJsonObject body{{QStringLiteral("language"), language}, {QStringLiteral("code"), source}};
        if (!session.isEmpty())
            body[QStringLiteral("session")] = session;
        if (timeoutS > 0)
            body[QStringLiteral("timeout_s")] = timeoutS;
        return call("POST", QStringLiteral("/api/v1/vms/%1/code").arg(kVm), json(body), kCodeTimeoutMs);
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
        qputenv("MVS_RUNTIME_DIR", m_home.filePath(QStringLiteral("run")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        m_driver = d.driver;
        const QString problem = m_service.start(*m_driver);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));

        QElapsedTimer t;
        t.start();
        const auto created = call("POST", QStringLiteral("/api/v1/vms"),
                                  json({{QStringLiteral("name"), kVm},
                                        {QStringLiteral("template"), qEnvironmentVariable("MVS_CODE_TEMPLATE", QStringLiteral("agent"))},
                                        {QStringLiteral("network"), QJsonObject{{QStringLiteral("mode"), QStringLiteral("none")}}}}),
                                  kCreateTimeoutMs);
        QVERIFY2(created.status == 201, qPrintable(created.describe()));
        const qint64 createdMs = t.elapsed();
        const auto first = code(QStringLiteral("python"), QStringLiteral("6 * 7"));
        QVERIFY2(first.status == 200, qPrintable(first.describe()));
        QVERIFY2(first.json[QStringLiteral("result")].toString() == QLatin1String("42"), qPrintable(first.describe()));
        qInfo("agent template: create -> running %lld ms, create -> first run_code result (one-shot python) %lld ms", createdMs, t.elapsed());
    }

    void cleanupTestCase()
    {
        if (m_service.port())
            call("DELETE", QStringLiteral("/api/v1/vms/%1").arg(kVm));
        m_service.stop();
    }

    void sessionKeepsState()
    {
        QElapsedTimer t;
        t.start();
        const auto set = code(QStringLiteral("python"), QStringLiteral("x = 41"), QStringLiteral("notebook"));
        QVERIFY2(set.status == 200, qPrintable(set.describe()));
        QVERIFY(set.json[QStringLiteral("error")].isNull());
        const qint64 firstMs = t.elapsed();
        t.restart();
        const auto get = code(QStringLiteral("python"), QStringLiteral("x + 1"), QStringLiteral("notebook"));
        QVERIFY2(get.status == 200, qPrintable(get.describe()));
        QCOMPARE(get.json[QStringLiteral("result")].toString(), QStringLiteral("42"));
        QCOMPARE(get.json[QStringLiteral("session")].toString(), QStringLiteral("notebook"));
        qInfo("session: first run (kernel start) %lld ms, next run %lld ms", firstMs, t.elapsed());
    }

    void matplotlibFigureComesBackAsPng()
    {
        const auto r =
            code(QStringLiteral("python"),
                 QStringLiteral("import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(4, 3), dpi=100)\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.show()"),
                 QStringLiteral("notebook"));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QVERIFY2(r.json[QStringLiteral("error")].isNull(), qPrintable(r.describe()));
        const QJsonArray outputs = r.json[QStringLiteral("outputs")].toArray();
        QCOMPARE(outputs.size(), 1);
        const QJsonObject png = outputs.first().toObject();
        QCOMPARE(png[QStringLiteral("type")].toString(), QStringLiteral("image/png"));
        QCOMPARE(png[QStringLiteral("width")].toInt(), 400);
        QCOMPARE(png[QStringLiteral("height")].toInt(), 300);
        const QByteArray data = QByteArray::fromBase64(png[QStringLiteral("data")].toString().toLatin1());
        QVERIFY(data.startsWith("\x89PNG\r\n\x1a\n"));
        QCOMPARE(qFromBigEndian<quint32>(data.constData() + 16), 400u);
        QCOMPARE(qFromBigEndian<quint32>(data.constData() + 20), 300u);
    }

    void syntaxErrorIsA200WithTraceback()
    {
        const auto r = code(QStringLiteral("python"), QStringLiteral("def f(:\n    pass"), QStringLiteral("notebook"));
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        const QJsonObject error = r.json[QStringLiteral("error")].toObject();
        QCOMPARE(error[QStringLiteral("name")].toString(), QStringLiteral("SyntaxError"));
        QVERIFY(!error[QStringLiteral("traceback")].toArray().isEmpty());
    }

    void runawayLoopIsStoppedAndTheSessionLivesOn()
    {
        const auto r = code(QStringLiteral("python"), QStringLiteral("while True:\n    pass"), QStringLiteral("notebook"), 3);
        QVERIFY2(r.status == 200, qPrintable(r.describe()));
        QVERIFY(r.json[QStringLiteral("timed_out")].toBool());
        QVERIFY2(r.json[QStringLiteral("error")][QStringLiteral("value")].toString().contains(QLatin1String("still running with its state")),
                 qPrintable(r.describe()));
        const auto after = code(QStringLiteral("python"), QStringLiteral("x + 1"), QStringLiteral("notebook"));
        QCOMPARE(after.json[QStringLiteral("result")].toString(), QStringLiteral("42"));
    }

    void javascriptAndBashOneShots()
    {
        const auto js = code(QStringLiteral("javascript"), QStringLiteral("console.log('node ' + process.version); [1, 2].map(x => x * 21)"));
        QVERIFY2(js.status == 200, qPrintable(js.describe()));
        QCOMPARE(js.json[QStringLiteral("result")].toString(), QStringLiteral("[ 21, 42 ]"));
        QVERIFY(js.json[QStringLiteral("stdout")].toString().startsWith(QLatin1String("node v")));
        const auto sh = code(QStringLiteral("bash"), QStringLiteral("echo $((6 * 7)); echo oops >&2; exit 3"));
        QVERIFY2(sh.status == 200, qPrintable(sh.describe()));
        QCOMPARE(sh.json[QStringLiteral("stdout")].toString(), QStringLiteral("42\n"));
        QCOMPARE(sh.json[QStringLiteral("stderr")].toString(), QStringLiteral("oops\n"));
        QCOMPARE(sh.json[QStringLiteral("error")][QStringLiteral("name")].toString(), QStringLiteral("ExitError"));
        const auto jsSession = code(QStringLiteral("javascript"), QStringLiteral("1"), QStringLiteral("js"));
        QCOMPARE(jsSession.status, 501);
    }

    void sessionsListRestartClose()
    {
        const auto list = call("GET", QStringLiteral("/api/v1/vms/%1/code/sessions").arg(kVm));
        QVERIFY2(list.status == 200, qPrintable(list.describe()));
        const QJsonArray sessions = list.json[QStringLiteral("sessions")].toArray();
        QCOMPARE(sessions.size(), 1);
        QCOMPARE(sessions.first()[QStringLiteral("id")].toString(), QStringLiteral("notebook"));
        QCOMPARE(sessions.first()[QStringLiteral("busy")].toBool(), false);
        const auto restarted = call("POST", QStringLiteral("/api/v1/vms/%1/code/sessions/notebook/restart").arg(kVm), {}, kCodeTimeoutMs);
        QVERIFY2(restarted.status == 200, qPrintable(restarted.describe()));
        QCOMPARE(restarted.json[QStringLiteral("executions")].toInt(), 0);
        const auto gone = code(QStringLiteral("python"), QStringLiteral("x"), QStringLiteral("notebook"));
        QCOMPARE(gone.json[QStringLiteral("error")][QStringLiteral("name")].toString(), QStringLiteral("NameError"));
        QCOMPARE(call("DELETE", QStringLiteral("/api/v1/vms/%1/code/sessions/notebook").arg(kVm)).status, 204);
        QCOMPARE(call("DELETE", QStringLiteral("/api/v1/vms/%1/code/sessions/notebook").arg(kVm)).status, 404);
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/%1/code/sessions").arg(kVm)).json[QStringLiteral("sessions")].toArray().size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestCodeExec)
#include "tst_codeexec.moc"
