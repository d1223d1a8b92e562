// Hostile guests on real QEMU guests (minimal template), through the REST
// service in this process. Each case turns one VM hostile: hostile-agent
// (tests/e2e/hostile) is uploaded with the files API and takes the place of
// the guest agent (busybox init respawns /usr/sbin/microvm-agent, which
// becomes a script that runs it, and the real agent is killed). Then every
// case checks that the host answers by its own deadlines with a clear error,
// that the service's resident memory stays under its baseline plus
// kRssHeadroomBytes (sampled every 100 ms throughout), and that a bystander
// VM booted at the start is untouched.

#include "e2efixture.h"
#include "e2eservice.h"
#include "hostile/hostilelimits.h"
#include "rsssampler.h"
#include "tests/apicall.h"

#include "core/agent/agentclient.h"
#include "core/agent/streamlimits.h"
#include "core/vm/bootjob.h"
#include "core/vm/vmmanager.h"
#include "desktop/vmdisplay.h"

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <memory>

using namespace E2e;

namespace {

// The bound on the service: its resident memory never grows by more than
// this over the RSS at the start of a case.
constexpr qint64 kRssHeadroomBytes = 256ll << 20;
constexpr int kCreateTimeoutMs = kBootTimeoutMs + 300000; // the first run may build the image
constexpr quint16 kDesktopVncPort = 5900; // templates/desktop.yaml's vnc_port
constexpr int kDesktopCreateTimeoutMs = 20 * 60 * 1000; // the first run builds the desktop image (debootstrap)
constexpr int kSlackMs = 30000; // a host deadline, plus this, is when the test stops waiting
constexpr int kHostileReadyMs = 60000; // upload -> the hostile agent has the port
constexpr int kOpTimeoutMs = 240000; // a snapshot, restore or fork under TCG on a busy host
// An exec the guest never ends: its timeout, and when the host gives up.
constexpr int kExecTimeoutS = 2;
constexpr int kExecDeadlineMs = kExecTimeoutS * 1000 + Agent::StreamLimits::kExecDeadlineGraceMs;
// A restore or a fork whose guest agent never answers the command after it
// (the clock and RNG, the host name): when the host gives up on that.
constexpr int kMoveOnDeadlineMs = Vm::BootJob::kClockSyncTimeoutMs + Agent::StreamLimits::kInternalGraceMs;
// Hellos the host may send while a guest spams Announce for one spam and
// drain cycle: one per AgentClient::kMinHelloIntervalMs, one per
// kHelloRetryMs, and the one on connecting.
constexpr int kSpamCycleMs = Hostile::kSpamMs + Hostile::kDrainMs;
constexpr int kMaxHellosPerCycle = kSpamCycleMs / Agent::AgentClient::kMinHelloIntervalMs + kSpamCycleMs / Agent::AgentClient::kHelloRetryMs + 2;
constexpr qint64 kSparseSize = 50ll << 30;
constexpr int kStreamWindowMs = 20000; // how long the download is watched
// The exec WebSocket's firehose: twice what the bound holds, the longest it
// is watched, and how long its writes may stand still before it counts as
// held back.
constexpr int kFirehoseMiB = int(2 * kRssHeadroomBytes >> 20);
constexpr int kFirehoseWindowMs = 180000;
constexpr int kStallMs = 8000;
constexpr int kReadBufferBytes = 64 * 1024; // what the test's own clients hold

QByteArray json(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QString mib(qint64 bytes)
{
    return QString::number(double(bytes) / (1 << 20), 'f', 1) + QStringLiteral(" MiB");
}

// A masked client text frame (RFC 6455).
QByteArray webSocketText(const QByteArray &payload)
{
    QByteArray frame;
    frame.append(char(0x81));
    if (payload.size() < 126) {
        frame.append(char(0x80 | payload.size()));
    } else {
        frame.append(char(0x80 | 126));
        frame.append(char((payload.size() >> 8) & 0xff));
        frame.append(char(payload.size() & 0xff));
    }
    const char mask[4] = {0x12, 0x34, 0x56, 0x78};
    frame.append(mask, 4);
    for (qsizetype i = 0; i < payload.size(); ++i)
        frame.append(char(payload[i] ^ mask[i % 4]));
    return frame;
}

} // namespace

class TestHostileGuest : public QObject {
    Q_OBJECT

    QTemporaryDir m_home;
    std::shared_ptr<Vmm::VmmDriver> m_driver;
    E2e::Service m_service;
    Vm::VmManager *m_manager = nullptr;
    QNetworkAccessManager m_nam;
    std::unique_ptr<RssSampler> m_rss;
    const QString m_bystander = QStringLiteral("bystander");
    QString m_bystanderBootId;
    QStringList m_victims; // deleted after each case

    TestApi::Reply call(const QByteArray &method, const QString &path, const QByteArray &body = {}, int timeoutMs = 60000)
    {
        return TestApi::call(m_nam, m_service.port(), m_service.token(), method, path, body, timeoutMs);
    }

    QNetworkRequest request(const QString &path) const
    {
        QNetworkRequest req(QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_service.port()).arg(path)));
        req.setRawHeader("Authorization", QByteArrayLiteral("Bearer ") + m_service.token());
        return req;
    }

    static QString vmPath(const QString &vm, const QString &rest) { return QStringLiteral("/api/v1/vms/%1/%2").arg(vm, rest); }

    // stdout of a shell command in the guest, trimmed ("<...>" when it failed).
    QString sh(const QString &vm, const QString &command, int timeoutMs = 90000)
    {
        const auto r = call("POST", vmPath(vm, QStringLiteral("exec")), json({{QStringLiteral("cmd"), command}}), timeoutMs);
        if (r.status != 200)
            return QStringLiteral("<%1>").arg(r.describe());
        if (r.json[QStringLiteral("exit_code")].toInt(-1) != 0)
            return QStringLiteral("<exit %1: %2>").arg(r.json[QStringLiteral("exit_code")].toInt(-1)).arg(r.json[QStringLiteral("stderr")].toString());
        return r.json[QStringLiteral("stdout")].toString().trimmed();
    }

    QString console(const QString &vm) { return QString::fromUtf8(call("GET", vmPath(vm, QStringLiteral("console?bytes=65536"))).body); }

    bool boot(const QString &name)
    {
        auto created = m_manager->create({name, QStringLiteral("minimal"), std::nullopt, std::nullopt});
        if (!created) {
            qWarning() << created.error().toString();
            return false;
        }
        auto started = await(m_manager->start(name), kCreateTimeoutMs);
        if (!started)
            qWarning() << started.error().toString();
        return started.hasValue();
    }

    // A fresh VM for this case, deleted in cleanup().
    bool bootVictim(const QString &name)
    {
        m_victims << name;
        return boot(name);
    }

    QString agentVersion(const QString &vm) const
    {
        auto agent = m_manager->agent(vm);
        return agent ? (*agent)->info().agentVersion : QString();
    }

    // Uploads hostile-agent and makes it the VM's agent: init's respawn runs
    // it once the real agent is killed (a second after the exec answered).
    // Empty when it runs in `mode`, else why not.
    QString turnHostile(const QString &vm, const QString &mode)
    {
        if (const QString uploaded = upload(vm, QStringLiteral(MVS_HOSTILE_AGENT), QStringLiteral("/tmp/hostile-agent")); !uploaded.isEmpty())
            return uploaded;
        const QString installed = sh(vm,
                                     QStringLiteral("chmod 755 /tmp/hostile-agent && "
                                                    "echo '#!/bin/sh' > /tmp/agent.sh && echo 'exec /tmp/hostile-agent %1' >> /tmp/agent.sh && "
                                                    "chmod 755 /tmp/agent.sh && mv -f /tmp/agent.sh /usr/sbin/microvm-agent && "
                                                    "(setsid sh -c \"sleep 1; kill $PPID\" </dev/null >/dev/null 2>&1 &) && echo replaced")
                                         .arg(mode));
        if (installed != QLatin1String("replaced"))
            return QStringLiteral("install: ") + installed;
        return waitForConsole(vm, QStringLiteral("hostile-agent: %1: ready").arg(mode));
    }

    // Empty once `line` is on the VM's console (running `nudge` in the
    // guest every few seconds meanwhile, when given), else why not.
    QString waitForConsole(const QString &vm, const QString &line, const QString &nudge = {})
    {
        QDeadlineTimer deadline(kHostileReadyMs);
        while (!console(vm).contains(line) && !deadline.hasExpired()) {
            if (!nudge.isEmpty())
                sh(vm, nudge);
            QTest::qWait(2000);
        }
        return deadline.hasExpired() ? QStringLiteral("no \"%1\" on the console:\n%2").arg(line, console(vm).right(2000)) : QString();
    }

    // Copies a host file into the guest with the files API. Empty when it
    // did, else why not.
    QString upload(const QString &vm, const QString &hostPath, const QString &guestPath)
    {
        QFile binary(hostPath);
        if (!binary.open(QIODevice::ReadOnly))
            return QStringLiteral("cannot read %1").arg(hostPath);
        QNetworkReply *put = m_nam.put(request(vmPath(vm, QStringLiteral("files?path=") + guestPath)), binary.readAll());
        waitAll({put}, 60000);
        const int status = statusOf(put);
        put->deleteLater();
        return status == 200 || status == 201 ? QString() : QStringLiteral("upload of %1: HTTP %2").arg(guestPath).arg(status);
    }

    // Undisturbed: the bystander answers at once, on the boot it had.
    // Empty when it is, else what is wrong.
    QString bystanderProblem()
    {
        QElapsedTimer t;
        t.start();
        const QString ok = sh(m_bystander, QStringLiteral("echo ok"), 30000);
        if (ok != QLatin1String("ok") || t.elapsed() > 30000)
            return QStringLiteral("the bystander answered %1 after %2 ms").arg(ok).arg(t.elapsed());
        const QString bootId = sh(m_bystander, QStringLiteral("cat /proc/sys/kernel/random/boot_id"));
        return bootId == m_bystanderBootId ? QString() : QStringLiteral("the bystander rebooted: %1").arg(bootId);
    }

    // Empty while the service's RSS stayed under baseline + kRssHeadroomBytes.
    QString rssProblem() const
    {
        if (m_rss->samples() == 0)
            return QStringLiteral("no RSS samples");
        if (m_rss->growth() < kRssHeadroomBytes)
            return {};
        return QStringLiteral("RSS grew by %1 (baseline %2, max %3); bound %4")
            .arg(mib(m_rss->growth()), mib(m_rss->baseline()), mib(m_rss->max()), mib(kRssHeadroomBytes));
    }

    // A fresh VM for this case, turned hostile. Empty when it is, else why not.
    QString hostileVictim(const QString &vm, const QString &mode)
    {
        if (!bootVictim(vm))
            return QStringLiteral("%1 did not boot").arg(vm);
        return turnHostile(vm, mode);
    }

    // Empty while the service stayed under its bound and the bystander
    // untouched, else what went wrong.
    QString hostUnharmed()
    {
        const QString rss = rssProblem();
        return rss.isEmpty() ? bystanderProblem() : rss;
    }

    // Waits until every reply is finished or the time is up.
    static void waitAll(const QList<QNetworkReply *> &replies, int timeoutMs)
    {
        QDeadlineTimer deadline(timeoutMs);
        const auto done = [&replies] { return std::all_of(replies.begin(), replies.end(), [](QNetworkReply *r) { return r->isFinished(); }); };
        while (!done() && !deadline.hasExpired())
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    }

    static int statusOf(QNetworkReply *reply) { return reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(); }
    static QString errorCodeOf(const QByteArray &body)
    {
        return QJsonDocument::fromJson(body).object()[QStringLiteral("error")][QStringLiteral("code")].toString();
    }

    // VM names the service lists.
    QStringList vmNames()
    {
        QStringList names;
        for (const QJsonValue &v : call("GET", QStringLiteral("/api/v1/vms")).json[QStringLiteral("vms")].toArray())
            names << v[QStringLiteral("name")].toString();
        return names;
    }

    // A restore or fork that ended: the VM's answer, or a clear error.
    // Empty when it did, else what is wrong.
    static QString endedProblem(const TestApi::Reply &r, const char *what)
    {
        qInfo("%s: %s", what, qPrintable(r.describe().left(300)));
        if (r.status == 0 || (r.status >= 400 && r.errorCode().isEmpty()))
            return QStringLiteral("%1: %2").arg(QLatin1String(what), r.describe());
        return {};
    }

    void restoreAndForkEndCleanly(const QString &vm);

private Q_SLOTS:
    void initTestCase();
    void init() { m_rss->reset(); }
    void cleanup();
    void cleanupTestCase();

    void silentAgent();
    void announceSpam();
    void overfeedingDownload();
    void endlessExec();
    void sparseDownloadOf50GiB();
    void execWebSocketNeverRead();
    void hostileVncServer();
};

void TestHostileGuest::initTestCase()
{
    initEnvironment();
    QVERIFY(m_home.isValid());
    qputenv("MVS_DATA_DIR", m_home.filePath(QStringLiteral("data")).toUtf8());
    qputenv("MVS_CONFIG_DIR", m_home.filePath(QStringLiteral("config")).toUtf8());
    QVERIFY2(QFile::exists(QStringLiteral(MVS_HOSTILE_AGENT)), MVS_HOSTILE_AGENT);
    auto d = driverFor(Vmm::DriverKind::Qemu);
    if (!d.driver)
        QFAIL(qPrintable(d.skipReason));
    m_driver = d.driver;
    const QString problem = m_service.start(*m_driver, Service::Displays::Served);
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    m_manager = m_service.manager();
    m_rss = std::make_unique<RssSampler>();
    QVERIFY(boot(m_bystander));
    m_bystanderBootId = sh(m_bystander, QStringLiteral("cat /proc/sys/kernel/random/boot_id"));
    QVERIFY2(m_bystanderBootId.size() == 36, qPrintable(m_bystanderBootId));
}

void TestHostileGuest::cleanup()
{
    qInfo("RSS: baseline %s, max %s over %d samples, now %s", qPrintable(mib(m_rss->baseline())), qPrintable(mib(m_rss->max())), m_rss->samples(),
          qPrintable(mib(RssSampler::current())));
    for (const QString &vm : std::as_const(m_victims))
        call("DELETE", QStringLiteral("/api/v1/vms/") + vm, {}, 60000);
    m_victims.clear();
}

void TestHostileGuest::cleanupTestCase()
{
    m_manager = nullptr;
    m_service.stop(); // kills the VMs it runs
}

// An agent that shakes hands and then answers nothing: exec, list, stat and
// get each fail with timeout by their own host-side deadline.
void TestHostileGuest::silentAgent()
{
    const QString vm = QStringLiteral("mute");
    const QString problem = hostileVictim(vm, QStringLiteral("silent"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));

    // Shared with the replies' slots: a reply may finish after a failed
    // check has left this function (while cleanup() waits).
    const auto clock = std::make_shared<QElapsedTimer>();
    clock->start();
    const auto finishedAt = std::make_shared<QHash<QNetworkReply *, qint64>>();
    const auto timed = [&](QNetworkReply *reply) {
        connect(reply, &QNetworkReply::finished, this, [finishedAt, clock, reply] { (*finishedAt)[reply] = clock->elapsed(); });
        return reply;
    };
    QNetworkRequest execReq = request(vmPath(vm, QStringLiteral("exec")));
    execReq.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    QNetworkReply *exec = timed(m_nam.post(execReq, json({{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("timeout_s"), kExecTimeoutS}})));
    QNetworkReply *list = timed(m_nam.get(request(vmPath(vm, QStringLiteral("files/list?path=/")))));
    QNetworkReply *get = timed(m_nam.get(request(vmPath(vm, QStringLiteral("files?path=/etc/hostname")))));
    auto agent = m_manager->agent(vm);
    QVERIFY(agent.hasValue());
    const auto stat = (*agent)->stat(QStringLiteral("/"));

    const int requestBoundMs = Agent::StreamLimits::kRequestDeadlineMs + kSlackMs;
    waitAll({exec, list}, requestBoundMs);
    QVERIFY2(exec->isFinished() && finishedAt->value(exec) < kExecDeadlineMs + kSlackMs, qPrintable(QString::number(finishedAt->value(exec, -1))));
    const QByteArray execBody = exec->readAll();
    QCOMPARE(statusOf(exec), 504);
    QCOMPARE(errorCodeOf(execBody), QStringLiteral("timeout"));
    QVERIFY(list->isFinished());
    QCOMPARE(statusOf(list), 504);
    QCOMPARE(errorCodeOf(list->readAll()), QStringLiteral("timeout"));
    const auto statResult = await(stat, kSlackMs);
    QVERIFY(!statResult.hasValue());
    QCOMPARE(statResult.error().code, Core::ErrorCode::Timeout);

    // A download's deadline is the idle one: no byte for kTransferIdleMs.
    waitAll({get}, qMax(0, Agent::StreamLimits::kTransferIdleMs + kSlackMs - int(clock->elapsed())));
    const bool getEnded = get->isFinished();
    if (!getEnded)
        get->abort();
    qInfo("silent download: %s after %lld ms: %s", getEnded ? "ended" : "still waiting", finishedAt->value(get, clock->elapsed()), get->readAll().constData());
    QVERIFY2(getEnded && finishedAt->value(get) < Agent::StreamLimits::kTransferIdleMs + kSlackMs && statusOf(get) == 504,
             qPrintable(QStringLiteral("the download %1").arg(getEnded ? QString::number(statusOf(get)) : QStringLiteral("is still waiting"))));
    for (QNetworkReply *r : {exec, list, get})
        r->deleteLater();

    restoreAndForkEndCleanly(vm);
    const QString harm = hostUnharmed();
    QVERIFY2(harm.isEmpty(), qPrintable(harm));
}

// A snapshot of a guest whose agent answers nothing: a fork and a restore
// of it fail by the host's deadline for the exec that follows them (the
// clock, the RNG, the host name) with timeout, leaving no half-made fork,
// and the snapshot is free again afterwards.
void TestHostileGuest::restoreAndForkEndCleanly(const QString &vm)
{
    const auto snap = call("POST", vmPath(vm, QStringLiteral("snapshots")), json({{QStringLiteral("name"), QStringLiteral("silent")}}), kOpTimeoutMs);
    QVERIFY2(snap.status == 201, qPrintable(snap.describe()));

    const QString forkPrefix = vm + QStringLiteral("-fork");
    const auto fork = call("POST", vmPath(vm, QStringLiteral("snapshots/silent/fork")), json({{QStringLiteral("count"), 1}}), kMoveOnDeadlineMs + kOpTimeoutMs);
    for (const QString &name : vmNames()) {
        if (name.startsWith(forkPrefix))
            m_victims << name;
    }
    QVERIFY2(endedProblem(fork, "fork").isEmpty(), qPrintable(fork.describe()));
    QCOMPARE(fork.status, 504);
    QCOMPARE(fork.errorCode(), QStringLiteral("timeout"));
    QVERIFY2(m_victims.filter(forkPrefix).isEmpty(), qPrintable(m_victims.join(u' ')));

    const auto restore = call("POST", vmPath(vm, QStringLiteral("snapshots/silent/restore")), {}, kMoveOnDeadlineMs + kOpTimeoutMs);
    QVERIFY2(endedProblem(restore, "restore").isEmpty(), qPrintable(restore.describe()));
    QCOMPARE(restore.status, 504);
    QCOMPARE(restore.errorCode(), QStringLiteral("timeout"));

    // Neither holds the snapshot nor the VM any more.
    const auto deleted = call("DELETE", vmPath(vm, QStringLiteral("snapshots/silent")));
    QVERIFY2(deleted.status == 200 || deleted.status == 204, qPrintable(deleted.describe()));
}

// A guest that writes Announce as fast as it can and reads nothing, while
// the host (after a restore) waits for its handshake: the host sends its
// paced Hellos, not one per Announce, and its memory stays flat. The guest
// never answers the command after the restore (the clock, the RNG): the
// restore fails with timeout by its deadline, and the service stays up.
void TestHostileGuest::announceSpam()
{
    const QString vm = QStringLiteral("chatter");
    const QString problem = hostileVictim(vm, QStringLiteral("announce-spam"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    // The host's session is the first agent's and ignores Announces; a
    // restore makes a new one that waits for a HelloAck through the spam.
    const auto snap = call("POST", vmPath(vm, QStringLiteral("snapshots")), json({{QStringLiteral("name"), QStringLiteral("spam")}}), kOpTimeoutMs);
    QVERIFY2(snap.status == 201, qPrintable(snap.describe()));
    QElapsedTimer restoring;
    restoring.start();
    const auto restore = call("POST", vmPath(vm, QStringLiteral("snapshots/spam/restore")), {}, kMoveOnDeadlineMs + kOpTimeoutMs);
    QVERIFY2(endedProblem(restore, "restore").isEmpty(), qPrintable(restore.describe()));
    QCOMPARE(restore.status, 504);
    QCOMPARE(restore.errorCode(), QStringLiteral("timeout"));
    QVERIFY2(restoring.elapsed() < kMoveOnDeadlineMs + kOpTimeoutMs, qPrintable(QString::number(restoring.elapsed())));
    QCOMPARE(call("GET", QStringLiteral("/api/v1/health")).status, 200);

    // Each cycle's count, as the guest printed it (the restore's wait for its
    // exec outlasts a cycle; the console stays readable after it failed).
    static const QRegularExpression counted(QStringLiteral("hostile-agent: announce-spam: sent (\\d+) announces in \\d+ ms; hellos=(\\d+)"));
    int maxHellos = -1;
    qint64 announces = 0;
    QDeadlineTimer deadline(2 * kSpamCycleMs + kSlackMs);
    while (maxHellos <= 0 && !deadline.hasExpired()) {
        QTest::qWait(1000);
        for (auto it = counted.globalMatch(console(vm)); it.hasNext();) {
            const auto m = it.next();
            maxHellos = qMax(maxHellos, m.captured(2).toInt());
            announces = qMax(announces, m.captured(1).toLongLong());
        }
    }
    qInfo("at most %d hellos in a cycle of %lld announces", maxHellos, announces);
    QVERIFY2(maxHellos > 0, qPrintable(console(vm).right(2000))); // the host did wait for a handshake through a spam cycle
    QVERIFY2(maxHellos <= kMaxHellosPerCycle, qPrintable(QString::number(maxHellos)));
    QVERIFY(announces > kMaxHellosPerCycle);
    const QString harm = hostUnharmed();
    QVERIFY2(harm.isEmpty(), qPrintable(harm));
}

// A download whose guest sends far more than the size it declared: it
// fails, and less than the declared size was ever passed on (the client
// sees a body cut short, never a complete one).
void TestHostileGuest::overfeedingDownload()
{
    const QString vm = QStringLiteral("glutton");
    const QString problem = hostileVictim(vm, QStringLiteral("overfeed"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QNetworkReply *get = m_nam.get(request(vmPath(vm, QStringLiteral("files?path=/etc/hostname"))));
    qint64 received = 0;
    connect(get, &QNetworkReply::readyRead, this, [get, &received] { received += get->readAll().size(); });
    waitAll({get}, Agent::StreamLimits::kRequestDeadlineMs + kSlackMs);
    QVERIFY2(get->isFinished(), "the overfed download never ended");
    received += get->readAll().size();
    const int status = statusOf(get);
    qInfo("overfed download: HTTP %d, %lld bytes, %s", status, received, qPrintable(get->errorString()));
    // Failed: an error status, or a body cut short of what was announced
    // (the last chunk is held back until the guest's FileEnd).
    QVERIFY2(received < qint64(Hostile::kOverfeedDeclared), qPrintable(QString::number(received)));
    QVERIFY2(status >= 400 || get->error() != QNetworkReply::NoError, qPrintable(QString::number(status)));
    get->deleteLater();
    const QString harm = hostUnharmed();
    QVERIFY2(harm.isEmpty(), qPrintable(harm));
}

// An exec the guest accepts, streams output for without end and never
// reports an exit for: it ends by the host's deadline (its timeout plus the
// grace), with timeout, and the output kept stays capped.
void TestHostileGuest::endlessExec()
{
    const QString vm = QStringLiteral("babbler");
    const QString problem = hostileVictim(vm, QStringLiteral("endless-exec"));
    QVERIFY2(problem.isEmpty(), qPrintable(problem));
    QElapsedTimer t;
    t.start();
    const auto r = call("POST", vmPath(vm, QStringLiteral("exec")),
                        json({{QStringLiteral("cmd"), QStringLiteral("true")}, {QStringLiteral("timeout_s"), kExecTimeoutS}}), kExecDeadlineMs + kSlackMs);
    QVERIFY2(r.status != 0, "no answer by the host's deadline");
    QCOMPARE(r.status, 504);
    QCOMPARE(r.errorCode(), QStringLiteral("timeout"));
    QVERIFY2(t.elapsed() < kExecDeadlineMs + kSlackMs, qPrintable(QString::number(t.elapsed())));
    QVERIFY2(console(vm).contains(QLatin1String("hostile-agent: endless-exec: ready")), "not the hostile agent");
    const QString harm = hostUnharmed();
    QVERIFY2(harm.isEmpty(), qPrintable(harm));
}

// A 50 GiB sparse file streams out of a real guest: the answer starts with
// its size, bytes flow, and the service's memory stays flat while the
// client reads for kStreamWindowMs; leaving early ends the transfer.
void TestHostileGuest::sparseDownloadOf50GiB()
{
    const QString vm = QStringLiteral("sparse");
    QVERIFY(bootVictim(vm));
    QCOMPARE(sh(vm, QStringLiteral("truncate -s %1 /tmp/sparse && stat -c %s /tmp/sparse").arg(kSparseSize)), QString::number(kSparseSize));
    QNetworkReply *get = m_nam.get(request(vmPath(vm, QStringLiteral("files?path=/tmp/sparse"))));
    get->setReadBufferSize(kReadBufferBytes);
    qint64 received = 0;
    connect(get, &QNetworkReply::readyRead, this, [get, &received] { received += get->readAll().size(); });
    QDeadlineTimer window(kStreamWindowMs);
    while (!get->isFinished() && !window.hasExpired() && m_rss->growth() < kRssHeadroomBytes)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    const int status = statusOf(get);
    const qint64 length = get->header(QNetworkRequest::ContentLengthHeader).toLongLong();
    const bool finished = get->isFinished();
    qInfo("sparse download: HTTP %d, %lld bytes in the window, finished %d, %s", status, received, finished, qPrintable(get->errorString()));
    get->abort();
    get->deleteLater();
    QVERIFY2(rssProblem().isEmpty(), qPrintable(rssProblem()));
    // Leaving early ended it: the guest's agent serves the next call.
    QCOMPARE(sh(vm, QStringLiteral("echo ok"), 60000), QStringLiteral("ok"));
    QVERIFY2(bystanderProblem().isEmpty(), qPrintable(bystanderProblem()));
    QVERIFY2(!finished && status == 200, qPrintable(QStringLiteral("HTTP %1").arg(status)));
    QCOMPARE(length, kSparseSize);
    QVERIFY(received > 0);
}

// `yes` on the exec WebSocket, with a client that reads nothing after the
// upgrade (its socket buffer is kReadBufferBytes), a MiB at a time, the
// guest counting the MiB written on its console (the serial port, not the
// agent's channel). Watched until the service is over its bound, the guest
// wrote kFirehoseMiB (more than the bound could hold), its writes stalled
// for kStallMs (held back), or kFirehoseWindowMs: the service's memory
// stays flat, another exec on the VM answers meanwhile (only the held
// stream waits for credit), and closing the socket kills the command.
void TestHostileGuest::execWebSocketNeverRead()
{
    const QString vm = QStringLiteral("firehose");
    QVERIFY(bootVictim(vm));
    QTcpSocket socket;
    socket.setReadBufferSize(kReadBufferBytes);
    socket.connectToHost(QHostAddress::LocalHost, m_service.port());
    QVERIFY(socket.waitForConnected(5000));
    socket.write("GET " + vmPath(vm, QStringLiteral("exec/ws")).toUtf8()
                 + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer "
                 + m_service.token() + "\r\n\r\n");
    QTRY_VERIFY_WITH_TIMEOUT(socket.bytesAvailable() > 0, 10000);
    QVERIFY2(socket.peek(64).startsWith("HTTP/1.1 101"), socket.peek(200).constData());
    const QString firehose = QStringLiteral("i=0; while :; do yes | head -c 1048576; i=$((i+1)); echo \"firehose: $i MiB\" > /dev/console; done");
    socket.write(webSocketText(json({{QStringLiteral("cmd"), firehose}, {QStringLiteral("timeout_s"), 600}})));

    static const QRegularExpression progress(QStringLiteral("firehose: (\\d+) MiB"));
    QDeadlineTimer window(kFirehoseWindowMs);
    QElapsedTimer sinceProgress;
    sinceProgress.start();
    int written = 0;
    while (!window.hasExpired() && m_rss->growth() < kRssHeadroomBytes && written < kFirehoseMiB && sinceProgress.elapsed() < kStallMs) {
        QTest::qWait(1000);
        int now = 0;
        for (auto it = progress.globalMatch(console(vm)); it.hasNext();)
            now = qMax(now, it.next().captured(1).toInt());
        if (now > written)
            sinceProgress.restart();
        written = qMax(written, now);
    }
    qInfo("exec WebSocket: the guest wrote %d MiB, last progress %lld ms ago; the client holds %lld bytes", written, sinceProgress.elapsed(),
          socket.bytesAvailable());
    QVERIFY2(written > 0, "the command wrote nothing");
    const QString rss = rssProblem();
    // The client held back is its own business: only its stream waits for
    // credit, the VM's other calls go on.
    QElapsedTimer other;
    other.start();
    const QString echoed = sh(vm, QStringLiteral("echo ok"), kSlackMs);
    qInfo("another exec on that VM meanwhile: %s after %lld ms", qPrintable(echoed.left(200)), other.elapsed());
    QCOMPARE(echoed, QStringLiteral("ok"));
    socket.abort();
    QVERIFY2(rss.isEmpty(), qPrintable(rss));
    // The socket's close killed the command in the guest.
    QTRY_COMPARE_WITH_TIMEOUT(sh(vm, QStringLiteral("pidof yes head || echo none"), 30000), QStringLiteral("none"), 30000);
    const QString harm = hostUnharmed();
    QVERIFY2(harm.isEmpty(), qPrintable(harm));
}

// A desktop guest's VNC server replaced by hostile-rfb (init respawns the
// desktop's Xvnc role, which now runs it), announcing a 65535x65535 screen
// at once ("init") or as a resize after a sane start ("resize"): the
// screenshot answers 409 invalid_state at once, naming that screen, nothing
// that size is allocated, and the service lives on.
void TestHostileGuest::hostileVncServer()
{
    const QString vm = QStringLiteral("painter");
    m_victims << vm;
    auto created = m_manager->create({vm, QStringLiteral("desktop"), std::nullopt, std::nullopt});
    E2E_VERIFY_OK(created);
    E2E_VERIFY_OK(await(m_manager->start(vm), kDesktopCreateTimeoutMs));
    const QString uploaded = upload(vm, QStringLiteral(MVS_HOSTILE_RFB), QStringLiteral("/tmp/hostile-rfb"));
    QVERIFY2(uploaded.isEmpty(), qPrintable(uploaded));
    const QString installed = sh(vm,
                                 QStringLiteral("chmod 755 /tmp/hostile-rfb && echo init > /tmp/rfb-mode && D=/usr/lib/microvm-sandbox/desktop && "
                                                "mv $D $D.real && echo '#!/bin/sh' > $D && "
                                                "echo '[ \"$1\" = xvnc ] && exec /tmp/hostile-rfb %1 $(cat /tmp/rfb-mode)' >> $D && "
                                                "echo 'exec '$D'.real \"$@\"' >> $D && chmod 755 $D && echo replaced")
                                     .arg(kDesktopVncPort));
    QCOMPARE(installed, QStringLiteral("replaced"));

    for (const QString &mode : {QStringLiteral("init"), QStringLiteral("resize")}) {
        sh(vm, QStringLiteral("echo %1 > /tmp/rfb-mode; pkill -x hostile-rfb; true").arg(mode));
        const QString listening =
            waitForConsole(vm, QStringLiteral("hostile-rfb: listening on %1 (%2)").arg(kDesktopVncPort).arg(mode), QStringLiteral("pkill -x Xvnc; true"));
        QVERIFY2(listening.isEmpty(), qPrintable(listening));
        // The guest says its desktop is ready (the session's readiness file,
        // once its watcher, polling every 2 s, has seen Xvnc go): a guest may
        // lie, and the display then meets the hostile server.
        sh(vm, QStringLiteral("sleep 3; touch %1").arg(QLatin1String(Desktop::VmDisplay::kReadyFile)));
        QElapsedTimer t;
        t.start();
        const auto shot = call("GET", vmPath(vm, QStringLiteral("screenshot")), {}, Desktop::VmDisplay::kConnectTimeoutMs + kSlackMs);
        qInfo("%s: screenshot after %lld ms: %s", qPrintable(mode), t.elapsed(), qPrintable(shot.describe()));
        QVERIFY2(shot.status >= 400 && shot.json[QStringLiteral("error")][QStringLiteral("message")].toString().contains(QLatin1String("65535x65535")),
                 qPrintable(shot.describe()));
        // A client error, at once (not retried as a desktop still starting).
        QCOMPARE(shot.status, 409);
        QCOMPARE(shot.errorCode(), QStringLiteral("invalid_state"));
        QVERIFY2(t.elapsed() < kSlackMs, qPrintable(QString::number(t.elapsed())));
        QCOMPARE(call("GET", QStringLiteral("/api/v1/health")).status, 200);
    }
    const QString harm = hostUnharmed();
    QVERIFY2(harm.isEmpty(), qPrintable(harm));
}

QTEST_GUILESS_MAIN(TestHostileGuest)
#include "tst_hostileguest.moc"
