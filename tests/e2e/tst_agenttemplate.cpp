// The agent template on real guests, through the REST service in the test
// process (QEMU): its aliases resolve wherever a template is named and the
// template list names each template once with its aliases; a VM created as
// `linux-default` (with "network": {"mode": "none"}: no DNS query leaves the
// machine) runs Python with numpy, pandas and matplotlib, `python`, Node and
// git; a service without VM networking refuses the template's default
// egress network, naming why, instead of dropping the filter. Then
// create -> agent-ready of `agent` and `computer-use` beside `desktop`,
// printed (the numbers for the closing note; MVS_AGENT_BOOTS boots each,
// default 2).
//
// The first run may build the agent root disk (debootstrap: minutes; a
// cached build returns at once).

#include "../apicall.h"
#include "e2eservice.h"
#include "e2efixture.h"

#include <QElapsedTimer>
#include <QHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QTemporaryDir>

#include <algorithm>

using namespace E2e;

namespace {

// The first create may build the root disk (debootstrap) before booting.
constexpr int kImageBuildMs = 40 * 60 * 1000;
constexpr int kBootMs = 180000; // create -> agent under TCG on a busy host
constexpr int kCreateTimeoutMs = kImageBuildMs + kBootMs;
constexpr int kExecTimeoutS = 120; // importing pandas and matplotlib under TCG takes seconds
constexpr int kExecGraceMs = 30000;
constexpr int kDefaultBoots = 2;

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject noNetwork()
{
    return QJsonObject{{QStringLiteral("mode"), QStringLiteral("none")}};
}

QString median(QList<qint64> v)
{
    std::sort(v.begin(), v.end());
    return QStringLiteral("median %1 ms (min %2, max %3)").arg(v.at(v.size() / 2)).arg(v.first()).arg(v.last());
}

} // namespace

class TestAgentTemplate : public QObject {
    Q_OBJECT

    QTemporaryDir m_home; // tst_agenttemplate-XXXXXX: the reaper's prefix
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    QNetworkAccessManager m_nam;

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000)
    {
        return TestApi::call(m_nam, m_service.port(), m_service.token(), method, path, body, timeoutMs);
    }

    struct Exec {
        int exitCode = -1;
        QString out;
        QString err;
        QString describe() const { return QStringLiteral("exit %1, stdout \"%2\", stderr \"%3\"").arg(exitCode).arg(out.left(600), err.left(600)); }
    };
    Exec exec(const QString &vm, const QString &command)
    {
        const auto r = call("POST", QStringLiteral("/api/v1/vms/%1/exec").arg(vm),
                            json({{QStringLiteral("cmd"), command}, {QStringLiteral("timeout_s"), kExecTimeoutS}}), kExecTimeoutS * 1000 + kExecGraceMs);
        Exec e;
        if (r.status != 200) {
            e.err = r.describe();
            return e;
        }
        e.exitCode = r.json[QStringLiteral("exit_code")].toInt(-1);
        e.out = r.json[QStringLiteral("stdout")].toString().trimmed();
        e.err = r.json[QStringLiteral("stderr")].toString().trimmed();
        return e;
    }

    // Create (and boot) a VM of the template without a NIC; the time to its 201, or -1 with why.
    qint64 createTimed(const QString &name, const QString &templateName, QString &why)
    {
        QElapsedTimer t;
        t.start();
        const auto r = call("POST", QStringLiteral("/api/v1/vms"),
                            json({{QStringLiteral("name"), name}, {QStringLiteral("template"), templateName}, {QStringLiteral("network"), noNetwork()}}),
                            kCreateTimeoutMs);
        if (r.status != 201) {
            why = QStringLiteral("create %1 from %2: %3").arg(name, templateName, r.describe());
            return -1;
        }
        return t.elapsed();
    }

    QString remove(const QString &name)
    {
        const auto r = call("DELETE", QStringLiteral("/api/v1/vms/") + name, {}, kBootMs);
        return r.status == 200 ? QString() : QStringLiteral("delete %1: %2").arg(name, r.describe());
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        QVERIFY(m_home.isValid());
        qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
        qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
        auto d = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(d.driver, qPrintable(d.skipReason));
        m_driver = d.driver;
        // No VM networking: what a service that cannot give NICs does.
        const QString problem = m_service.start(*m_driver);
        QVERIFY2(problem.isEmpty(), qPrintable(problem));
    }
    void cleanupTestCase() { m_service.stop(); }

    void templateListNamesAliases()
    {
        const auto r = call("GET", QStringLiteral("/api/v1/templates"));
        QCOMPARE(r.status, 200);
        QStringList names;
        QJsonObject agent;
        for (const QJsonValue &v : r.json[QStringLiteral("templates")].toArray()) {
            names << v[QStringLiteral("name")].toString();
            if (names.last() == QLatin1String("agent"))
                agent = v.toObject();
        }
        QCOMPARE(names.count(QStringLiteral("agent")), 1);
        QVERIFY2(!names.contains(QStringLiteral("linux-default")) && !names.contains(QStringLiteral("ai-agent")), qPrintable(names.join(u' ')));
        QCOMPARE(agent[QStringLiteral("aliases")].toArray(), (QJsonArray{QStringLiteral("linux-default"), QStringLiteral("ai-agent")}));
        QVERIFY(r.json[QStringLiteral("templates")].toArray().at(0).toObject().contains(QStringLiteral("aliases"))); // every entry has the field
    }

    void aliasCreatesAgentVm()
    {
        // Not started: the record names the template by its own name.
        const auto r = call("POST", QStringLiteral("/api/v1/vms"),
                            json({{QStringLiteral("name"), QStringLiteral("alias-ai")},
                                  {QStringLiteral("template"), QStringLiteral("ai-agent")},
                                  {QStringLiteral("start"), false},
                                  {QStringLiteral("network"), noNetwork()}}));
        QVERIFY2(r.status == 201, qPrintable(r.describe()));
        QCOMPARE(r.json[QStringLiteral("template")].toString(), QStringLiteral("agent"));
        const QString removed = remove(QStringLiteral("alias-ai"));
        QVERIFY2(removed.isEmpty(), qPrintable(removed));
    }

    // The template's default is egress; this service has no VM networking
    // (as a service not running as root): the VM is refused, saying why.
    void defaultEgressRefusedWithoutNetworking()
    {
        const auto r = call("POST", QStringLiteral("/api/v1/vms"),
                            json({{QStringLiteral("name"), QStringLiteral("egress-refused")}, {QStringLiteral("template"), QStringLiteral("agent")}}));
        QVERIFY2(r.status >= 400, qPrintable(r.describe()));
        QCOMPARE(r.errorCode(), QStringLiteral("unsupported"));
        const QString message = r.json[QStringLiteral("error")][QStringLiteral("message")].toString();
        QVERIFY2(message.contains(QStringLiteral("network mode egress")), qPrintable(message));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/vms/egress-refused")).status, 404); // not kept
    }

    void toolchain()
    {
        QString why;
        const qint64 ms = createTimed(QStringLiteral("agent-tools"), QStringLiteral("linux-default"), why);
        QVERIFY2(ms >= 0, qPrintable(why));
        qInfo("create -> agent-ready (agent, maybe with its image build): %lld ms", ms);
        const QString vm = QStringLiteral("agent-tools");
        const auto info = call("GET", QStringLiteral("/api/v1/vms/") + vm);
        QCOMPARE(info.json[QStringLiteral("template")].toString(), QStringLiteral("agent"));

        Exec e = exec(vm, QStringLiteral("python3 -c 'import numpy, pandas, matplotlib; print(numpy.arange(7).sum() * 2, pandas.__name__)'"));
        QVERIFY2(e.exitCode == 0 && e.out == QLatin1String("42 pandas"), qPrintable(e.describe()));
        e = exec(vm, QStringLiteral("python --version"));
        QVERIFY2(e.exitCode == 0 && e.out.startsWith(QLatin1String("Python 3.")), qPrintable(e.describe()));
        e = exec(vm, QStringLiteral("node -e 'console.log(6*7)'"));
        QVERIFY2(e.exitCode == 0 && e.out == QLatin1String("42"), qPrintable(e.describe()));
        e = exec(vm, QStringLiteral("git --version && npm --version && pip --version && jq --version && rg --version | head -n1 && curl --version | head -n1"));
        QVERIFY2(e.exitCode == 0 && e.out.startsWith(QLatin1String("git version 2.")), qPrintable(e.describe()));
        // A venv, and matplotlib drawing without a display (Agg).
        e = exec(vm,
                 QStringLiteral("python3 -m venv /tmp/v && /tmp/v/bin/python -c 'import sys; print(sys.prefix)' && "
                                "python3 -c 'import matplotlib.pyplot as p; p.plot([1,2]); p.savefig(\"/tmp/f.png\")' && test -s /tmp/f.png && echo ok"));
        QVERIFY2(e.exitCode == 0 && e.out.endsWith(QLatin1String("ok")), qPrintable(e.describe()));
        e = exec(vm, QStringLiteral("python3 -c 'import ipykernel, jupyter_client; print(\"kernel\")'"));
        QVERIFY2(e.exitCode == 0 && e.out == QLatin1String("kernel"), qPrintable(e.describe()));
        const QString removed = remove(vm);
        QVERIFY2(removed.isEmpty(), qPrintable(removed));
    }

    // The numbers for the closing note: create -> agent-ready (the 201 of a
    // started create) of agent and computer-use beside desktop, in turns.
    void bootTimesBesideDesktop()
    {
        const int boots = qEnvironmentVariableIntValue("MVS_AGENT_BOOTS") > 0 ? qEnvironmentVariableIntValue("MVS_AGENT_BOOTS") : kDefaultBoots;
        const QStringList templates{QStringLiteral("agent"), QStringLiteral("desktop"), QStringLiteral("computer-use")};
        QString why;
        // Every image built (and cached) before anything is timed.
        for (const QString &t : templates) {
            QVERIFY2(createTimed(QStringLiteral("warm-") + t, t, why) >= 0, qPrintable(why));
            QVERIFY(remove(QStringLiteral("warm-") + t).isEmpty());
        }
        QHash<QString, QList<qint64>> ms;
        for (int i = 0; i < boots; ++i) {
            for (const QString &t : templates) {
                const QString name = QStringLiteral("%1-%2").arg(t).arg(i);
                const qint64 took = createTimed(name, t, why);
                QVERIFY2(took >= 0, qPrintable(why));
                ms[t] << took;
                const QString removed = remove(name);
                QVERIFY2(removed.isEmpty(), qPrintable(removed));
            }
        }
        for (const QString &t : templates)
            qInfo("create -> agent-ready over %d boots: %s %s", boots, qPrintable(t), qPrintable(median(ms.value(t))));
    }
};

QTEST_GUILESS_MAIN(TestAgentTemplate)
#include "tst_agenttemplate.moc"
