// `microvm-sandbox --serve` as a user runs it: the real binary, no display,
// private config and data directories, an ephemeral port. Health without a
// token, 401 without one elsewhere, the token generated once (0600, printed
// once), MVS_TOKEN and --token-file overriding it, SIGTERM -> exit 0, and a
// port in use -> one clear line and exit 1. The token CLI (create, list,
// revoke) against it. Then a real guest: SIGTERM stops
// the VM it runs (no VMM left), and the next start lists it again.

#include "tests/vmmprocesses.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QRegularExpression>
#include <QTcpServer>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <sys/stat.h>

namespace {

constexpr int kStartTimeoutMs = 30000;

// A port nobody listens on right now: bind port 0, read it, let it go.
quint16 freePort()
{
    QTcpServer s;
    if (!s.listen(QHostAddress::LocalHost, 0))
        return 0;
    return s.serverPort();
}

// The VMMs that hold something under this runtime directory (their sockets
// are bound there; a root service's VMM, run as the VMM user with its
// sockets passed as descriptors, names none of it on its command line).
int processesUnder(const QString &runtimeDir)
{
    return int(VmmProcesses::vmmsUnder(runtimeDir).size());
}

} // namespace

class TestServe : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir{QStringLiteral("/tmp/mvs-serve-XXXXXX")};
    QNetworkAccessManager m_nam;

    QProcessEnvironment environment(const QString &sub) const
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove(QStringLiteral("DISPLAY"));
        env.remove(QStringLiteral("WAYLAND_DISPLAY"));
        env.remove(QStringLiteral("MVS_TOKEN"));
        env.insert(QStringLiteral("MVS_CONFIG_DIR"), m_dir.filePath(sub + QStringLiteral("/config")));
        env.insert(QStringLiteral("MVS_DATA_DIR"), m_dir.filePath(sub + QStringLiteral("/data")));
        env.insert(QStringLiteral("MVS_RUNTIME_DIR"), m_dir.filePath(sub + QStringLiteral("/run")));
        return env;
    }

    // Start the service and wait for its "serving" line; the stderr read so
    // far lands in *err.
    bool start(QProcess &p, const QProcessEnvironment &env, quint16 port, QByteArray *err, const QStringList &extra = {})
    {
        p.setProcessEnvironment(env);
        p.start(QStringLiteral(MVS_APP_BINARY),
                QStringList{QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port)} + extra);
        if (!p.waitForStarted())
            return false;
        QElapsedTimer t;
        t.start();
        while (!err->contains("serving the API") && t.elapsed() < kStartTimeoutMs && p.state() == QProcess::Running) {
            p.waitForReadyRead(200);
            *err += p.readAllStandardError();
        }
        return err->contains("serving the API");
    }

    // SIGTERM, then the exit code (-1 for a crash or no exit).
    static int terminate(QProcess &p)
    {
        ::kill(static_cast<pid_t>(p.processId()), SIGTERM);
        if (!p.waitForFinished(30000)) {
            p.kill();
            p.waitForFinished();
            return -1;
        }
        return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    }

    int get(quint16 port, const QString &path, const QByteArray &token = {}, QByteArray *body = nullptr) { return request("GET", port, path, token, {}, body); }

    int request(const QByteArray &method, quint16 port, const QString &path, const QByteArray &token, const QByteArray &payload, QByteArray *body = nullptr,
                int timeoutMs = 10000)
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(port).arg(path)));
        if (!token.isEmpty())
            req.setRawHeader("Authorization", "Bearer " + token);
        if (!payload.isEmpty())
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
        QNetworkReply *reply = m_nam.sendCustomRequest(req, method, payload);
        QDeadlineTimer deadline(timeoutMs);
        while (!reply->isFinished() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        if (body)
            *body = reply->readAll();
        reply->deleteLater();
        return status;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void tokenMadeOncePrintedOnceAndRequired()
    {
        const QProcessEnvironment env = environment(QStringLiteral("a"));
        const quint16 port = freePort();
        QVERIFY(port);
        QByteArray err;
        QProcess p;
        QVERIFY2(start(p, env, port, &err), err.constData());

        const QString tokenPath = env.value(QStringLiteral("MVS_CONFIG_DIR")) + QStringLiteral("/token");
        QFile f(tokenPath);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray token = f.readAll().trimmed();
        QCOMPARE(token.size(), 64);
        struct stat st { };
        QCOMPARE(::stat(QFile::encodeName(tokenPath).constData(), &st), 0);
        QCOMPARE(st.st_mode & 0777, 0600u);
        QVERIFY2(err.contains(token), err.constData());
        QVERIFY2(err.contains("Authorization: Bearer"), err.constData());

        QCOMPARE(get(port, QStringLiteral("/api/v1/health")), 200);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms")), 401);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), "wrong"), 401);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), token), 200);
        QCOMPARE(terminate(p), 0);
        err += p.readAllStandardError();
        QVERIFY2(err.contains("stopping"), err.constData());

        // Second start: the same token, not printed again.
        QByteArray err2;
        QProcess p2;
        QVERIFY2(start(p2, env, port, &err2), err2.constData());
        QVERIFY2(!err2.contains(token), err2.constData());
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), token), 200);
        ::kill(static_cast<pid_t>(p2.processId()), SIGINT);
        QVERIFY(p2.waitForFinished(30000));
        QCOMPARE(p2.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p2.exitCode(), 0);
    }

    // `microvm-sandbox token ...` against the real service, as an admin
    // scripts it: a scoped token made, shown once, listed without its
    // secret, held to its role and glob, revoked; usage errors exit 2.
    void tokenCliCreatesListsAndRevokes()
    {
        QProcessEnvironment env = environment(QStringLiteral("t"));
        const quint16 port = freePort();
        QByteArray err;
        QProcess p;
        QVERIFY2(start(p, env, port, &err), err.constData());
        env.insert(QStringLiteral("MVS_URL"), QStringLiteral("http://127.0.0.1:%1").arg(port));
        const auto cli = [&env](const QStringList &args, QByteArray *out, QByteArray *errOut = nullptr) {
            QProcess c;
            c.setProcessEnvironment(env);
            c.start(QStringLiteral(MVS_APP_BINARY), args);
            if (!c.waitForFinished(30000)) {
                c.kill();
                c.waitForFinished();
                return -2;
            }
            *out = c.readAllStandardOutput();
            if (errOut)
                *errOut = c.readAllStandardError();
            return c.exitStatus() == QProcess::NormalExit ? c.exitCode() : -1;
        };
        QByteArray out, cerr;
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("create"), QStringLiteral("--role"), QStringLiteral("viewer"), QStringLiteral("--vms"),
                      QStringLiteral("ci-*"), QStringLiteral("--name"), QStringLiteral("bot"), QStringLiteral("--expires"), QStringLiteral("1h")},
                     &out, &cerr),
                 0);
        const QList<QByteArray> lines = out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        QVERIFY2(lines.at(0).startsWith("token ") && lines.at(0).contains("(viewer, VMs ci-*)"), out.constData());
        const QByteArray secret = lines.at(1).trimmed();
        QVERIFY2(secret.startsWith("mvs_"), out.constData());
        QVERIFY2(cerr.contains("shown once"), cerr.constData());
        const QByteArray id = lines.at(0).split(' ').at(1);

        // Listed, with no secret in the listing.
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("list"), QStringLiteral("--json")}, &out), 0);
        const QJsonArray listed = QJsonDocument::fromJson(out).array();
        QCOMPARE(listed.size(), 1);
        QCOMPARE(listed.at(0)[QStringLiteral("id")].toString().toUtf8(), id);
        QCOMPARE(listed.at(0)[QStringLiteral("role")].toString(), QStringLiteral("viewer"));
        QCOMPARE(listed.at(0)[QStringLiteral("vms")].toString(), QStringLiteral("ci-*"));
        QVERIFY(!listed.at(0)[QStringLiteral("expires")].toString().isEmpty());
        QVERIFY2(!out.contains(secret) && !out.contains(secret.right(64)), out.constData());

        // The token reads, may not create, and sees only its VMs' routes.
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), secret), 200);
        QCOMPARE(request("POST", port, QStringLiteral("/api/v1/vms"), secret, R"({"name": "ci-1", "template": "minimal", "start": false})"), 403);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms/other"), secret), 403);
        QCOMPARE(get(port, QStringLiteral("/api/v1/tokens"), secret), 403);

        // Revoked: refused at once, and gone from the list.
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("revoke"), QString::fromUtf8(id)}, &out), 0);
        QCOMPARE(out.trimmed(), "revoked " + id);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), secret), 401);
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("list"), QStringLiteral("--json")}, &out), 0);
        QCOMPARE(QJsonDocument::fromJson(out).array().size(), 0);

        // Usage errors.
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("create")}, &out), 2);
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("create"), QStringLiteral("--role"), QStringLiteral("viewer"), QStringLiteral("--expires"),
                      QStringLiteral("soon")},
                     &out),
                 2);
        QCOMPARE(cli({QStringLiteral("token"), QStringLiteral("revoke")}, &out), 2);
        QCOMPARE(terminate(p), 0);
    }

    void environmentAndTokenFileOverride()
    {
        QProcessEnvironment env = environment(QStringLiteral("b"));
        env.insert(QStringLiteral("MVS_TOKEN"), QStringLiteral("from-the-environment"));
        const quint16 port = freePort();
        QByteArray err;
        QProcess p;
        QVERIFY2(start(p, env, port, &err), err.constData());
        QVERIFY(!QFile::exists(env.value(QStringLiteral("MVS_CONFIG_DIR")) + QStringLiteral("/token")));
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), "from-the-environment"), 200);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms")), 401);
        QCOMPARE(terminate(p), 0);

        const QString tokenFile = m_dir.filePath(QStringLiteral("given-token"));
        QFile f(tokenFile);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("from-the-file\n");
        f.close();
        QByteArray err2;
        QProcess p2;
        QVERIFY2(start(p2, env, port, &err2, {QStringLiteral("--token-file"), tokenFile}), err2.constData());
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), "from-the-file"), 200);
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), "from-the-environment"), 401);
        QCOMPARE(terminate(p2), 0);
    }

    // Warm starts are on unless the setting says off (the suites run with
    // MVS_WARM_START=off, see tests/CMakeLists.txt); a bad value stops the
    // service with the setting's name.
    void warmStartIsOnByDefault()
    {
        QProcessEnvironment env = environment(QStringLiteral("warm"));
        env.remove(QStringLiteral("MVS_WARM_START"));
        env.insert(QStringLiteral("MVS_TOKEN"), QStringLiteral("warm-token"));
        const quint16 port = freePort();
        QVERIFY(port);
        auto warmStart = [&](const QProcessEnvironment &e) -> QJsonObject {
            QByteArray err;
            QProcess p;
            if (!start(p, e, port, &err)) {
                qWarning() << err;
                return {};
            }
            QByteArray body;
            const int status = get(port, QStringLiteral("/api/v1/system"), "warm-token", &body);
            terminate(p);
            return status == 200 ? QJsonDocument::fromJson(body).object().value(QStringLiteral("warm_start")).toObject() : QJsonObject();
        };
        const QJsonObject on = warmStart(env);
        QCOMPARE(on.value(QStringLiteral("enabled")), QJsonValue(true));
        QCOMPARE(on.value(QStringLiteral("building")), QJsonValue(false));
        env.insert(QStringLiteral("MVS_WARM_START"), QStringLiteral("off"));
        QCOMPARE(warmStart(env).value(QStringLiteral("enabled")), QJsonValue(false));

        env.insert(QStringLiteral("MVS_WARM_START"), QStringLiteral("sometimes"));
        QProcess bad;
        bad.setProcessEnvironment(env);
        bad.start(QStringLiteral(MVS_APP_BINARY), QStringList{QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(port)});
        QVERIFY(bad.waitForFinished(30000));
        QVERIFY(bad.exitCode() != 0);
        const QByteArray err = bad.readAllStandardError();
        QVERIFY2(err.contains("warm_start (MVS_WARM_START) must be on or off, not 'sometimes'"), err.constData());
    }

    void portInUseIsOneClearLine()
    {
        QTcpServer taken;
        QVERIFY(taken.listen(QHostAddress::LocalHost, 0));
        QProcess p;
        p.setProcessEnvironment(environment(QStringLiteral("c")));
        p.start(QStringLiteral(MVS_APP_BINARY),
                {QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(taken.serverPort())});
        QVERIFY(p.waitForFinished(kStartTimeoutMs));
        QCOMPARE(p.exitStatus(), QProcess::NormalExit);
        QCOMPARE(p.exitCode(), 1);
        const QList<QByteArray> lines = p.readAllStandardError().trimmed().split('\n');
        const QByteArray last = lines.last();
        const QByteArray expected = QByteArray("cannot listen on 127.0.0.1:").append(QByteArray::number(taken.serverPort()));
        QVERIFY2(last.contains(expected), last.constData());
        QVERIFY2(last.contains("in use"), last.constData());
    }

    // One data directory, one service: a second --serve on the first one's
    // directory (on another port) exits 1 naming the holder and its pid,
    // and the first one serves on untouched.
    void secondServiceOnTheSameDataIsRefused()
    {
        const QProcessEnvironment env = environment(QStringLiteral("lock"));
        QProcess first;
        QByteArray err;
        const quint16 port = freePort();
        QVERIFY2(start(first, env, port, &err), err.constData());
        QProcess second;
        second.setProcessEnvironment(env);
        second.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("127.0.0.1:%1").arg(freePort())});
        QVERIFY(second.waitForFinished(kStartTimeoutMs));
        QCOMPARE(second.exitStatus(), QProcess::NormalExit);
        QCOMPARE(second.exitCode(), 1);
        const QByteArray last = second.readAllStandardError().trimmed().split('\n').last();
        QVERIFY2(last.contains(QByteArray("in use by microvm-sandbox (pid ").append(QByteArray::number(first.processId()))), last.constData());
        QCOMPARE(get(port, QStringLiteral("/api/v1/health")), 200);
        QCOMPARE(terminate(first), 0);
    }

    void sigtermStopsRunningVmsAndTheyAreListedAgain()
    {
        QProcessEnvironment env = environment(QStringLiteral("e"));
        env.insert(QStringLiteral("MVS_TOKEN"), QStringLiteral("vm-token"));
        env.insert(QStringLiteral("MVS_AGENT_BINARY"), QStringLiteral(MVS_AGENT_BINARY));
        env.insert(QStringLiteral("MVS_DRIVER"), QStringLiteral("qemu"));
        const QString runtimeDir = env.value(QStringLiteral("MVS_RUNTIME_DIR"));
        const quint16 port = freePort();
        QByteArray err;
        QProcess p;
        QVERIFY2(start(p, env, port, &err), err.constData());
        QByteArray body;
        const int created =
            request("POST", port, QStringLiteral("/api/v1/vms"), "vm-token", R"({"name": "keep", "template": "minimal", "start": true})", &body, 360000);
        QVERIFY2(created == 201, body.constData());
        QCOMPARE(QJsonDocument::fromJson(body).object()[QStringLiteral("state")].toString(), QStringLiteral("running"));
        QVERIFY(processesUnder(runtimeDir) >= 1);

        QCOMPARE(terminate(p), 0);
        err += p.readAllStandardError();
        QVERIFY2(err.contains("stopped 1 running VM"), err.constData());
        QTRY_COMPARE_WITH_TIMEOUT(processesUnder(runtimeDir), 0, 10000);

        // The record survives with the state asked for; the VM is listed stopped.
        QByteArray err2;
        QProcess p2;
        QVERIFY2(start(p2, env, port, &err2), err2.constData());
        QCOMPARE(get(port, QStringLiteral("/api/v1/vms"), "vm-token", &body), 200);
        const QJsonArray vms = QJsonDocument::fromJson(body).object()[QStringLiteral("vms")].toArray();
        QCOMPARE(vms.size(), 1);
        QCOMPARE(vms.at(0)[QStringLiteral("name")].toString(), QStringLiteral("keep"));
        QCOMPARE(vms.at(0)[QStringLiteral("state")].toString(), QStringLiteral("stopped"));
        QCOMPARE(vms.at(0)[QStringLiteral("desired_state")].toString(), QStringLiteral("running"));
        QCOMPARE(request("DELETE", port, QStringLiteral("/api/v1/vms/keep"), "vm-token", {}), 200);
        QCOMPARE(terminate(p2), 0);
    }

    void badListenIsAUsageError()
    {
        QProcess p;
        p.setProcessEnvironment(environment(QStringLiteral("d")));
        p.start(QStringLiteral(MVS_APP_BINARY), {QStringLiteral("--serve"), QStringLiteral("--listen"), QStringLiteral("nowhere:99999")});
        QVERIFY(p.waitForFinished(kStartTimeoutMs));
        QCOMPARE(p.exitCode(), 2);
        QVERIFY(p.readAllStandardError().contains("--listen takes HOST:PORT"));
    }
};

QTEST_GUILESS_MAIN(TestServe)
#include "tst_serve.moc"
