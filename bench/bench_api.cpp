// bench_api: the service's overhead, measured against a running service in
// the same run as its floor.
//
//  1. GET /api/v1/vms latency (p50, p99) and throughput under N concurrent
//     keep-alive clients, beside GET /api/v1/health (auth, routing and the
//     HTTP server, no work) under the same load.
//  2. exec round trips per second through POST /api/v1/vms/{name}/exec
//     beside the same exec done directly through core (AgentClient::run) on
//     the same VM, interleaved in blocks so drift hits both alike.
//
// The service is the real one (VmManager + Api + HttpAdapter) on
// the main thread, as under --serve; the HTTP clients are plain blocking
// sockets on their own threads, so they never queue behind the server.
//
// Usage: bench_api [--clients 32] [--requests 100] [--vms 8] [--execs 200]

#include "core/agent/agentclient.h"
#include "core/vm/vmmanager.h"
#include "core/vmm/vmmdriver.h"
#include "server/api.h"

#include "bench/benchhttp.h"
#include "bench/benchservice.h"
#include "bench/benchutil.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace {

using Bench::HttpClient;
using Bench::kHttpTimeoutMs;
using Bench::LoadResult;

constexpr int kBootTimeoutMs = 600000; // the first run may build the image
constexpr int kExecBlock = 20;

[[noreturn]] void die(const QString &m)
{
    std::fprintf(stderr, "bench_api: %s\n", qPrintable(m));
    std::exit(1);
}

// `count` execs of `true` through the API, from a client thread; returns
// the seconds they took.
double apiExecs(quint16 port, const QByteArray &token, const QByteArray &vm, int count, QString *error)
{
    std::atomic<bool> finished{false};
    double seconds = 0;
    std::thread thread([&]() {
        HttpClient client(port, token);
        QByteArray body;
        client.request("GET", "/api/v1/health", {}, &body, error);
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < count && error->isEmpty(); ++i) {
            const int status = client.request("POST", "/api/v1/vms/" + vm + "/exec", R"({"cmd":["true"]})", &body, error);
            if (status != 200 && error->isEmpty())
                *error = QStringLiteral("HTTP %1: %2").arg(status).arg(QString::fromUtf8(body.left(200)));
            else if (error->isEmpty() && QJsonDocument::fromJson(body).object().value(QStringLiteral("exit_code")).toInt(-1) != 0)
                *error = QStringLiteral("exec failed: %1").arg(QString::fromUtf8(body.left(200)));
        }
        seconds = double(t.nsecsElapsed()) / 1e9;
        finished = true;
    });
    while (!finished)
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 5);
    thread.join();
    return seconds;
}

double coreExecs(Agent::AgentClient *agent, int count)
{
    Agent::ExecRequest request;
    request.argv = {QStringLiteral("true")};
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < count; ++i) {
        auto r = Bench::await(agent->run(request), kHttpTimeoutMs);
        if (!r || r->exitCode != 0)
            die(QStringLiteral("core exec failed: %1").arg(r ? QStringLiteral("exit %1").arg(r->exitCode) : r.error().toString()));
    }
    return double(t.nsecsElapsed()) / 1e9;
}

// One running VM for exec ("bench"), the rest as records so the list has rows.
void createVms(Vm::VmManager &manager, int vmCount)
{
    for (int i = 0; i < vmCount; ++i) {
        Vm::VmManager::CreateOptions o;
        o.name = i == 0 ? QStringLiteral("bench") : QStringLiteral("idle-%1").arg(i);
        o.templateName = QStringLiteral("minimal");
        if (auto r = manager.create(o); !r)
            die(r.error().message);
    }
}

struct ExecTimes {
    double coreS = 0;
    double apiS = 0;
};

// Exec: API beside core, interleaved in blocks.
ExecTimes measureExecs(Agent::AgentClient *agent, quint16 port, const QByteArray &token, int execs)
{
    coreExecs(agent, 10); // warm up both paths
    QString error;
    apiExecs(port, token, "bench", 10, &error);
    ExecTimes times;
    for (int done = 0; done < execs && error.isEmpty(); done += kExecBlock) {
        const int n = std::min(kExecBlock, execs - done);
        times.coreS += coreExecs(agent, n);
        times.apiS += apiExecs(port, token, "bench", n, &error);
    }
    if (!error.isEmpty())
        die(error);
    return times;
}

struct Report {
    int clients = 0;
    int requests = 0;
    int vmCount = 0;
    int execs = 0;
    QString driverName;
};

void printReport(const Report &run, const LoadResult &health, const LoadResult &list, const ExecTimes &times)
{
    const double healthP50 = Bench::percentile(health.latenciesMs, 0.5);
    const double healthP99 = Bench::percentile(health.latenciesMs, 0.99);
    const double listP50 = Bench::percentile(list.latenciesMs, 0.5);
    const double listP99 = Bench::percentile(list.latenciesMs, 0.99);
    const double coreRate = run.execs / times.coreS;
    const double apiRate = run.execs / times.apiS;
    const double overhead = (times.apiS / times.coreS - 1.0) * 100.0;

    std::printf("\nbench_api: %d clients x %d requests, %d VMs listed, %d execs of `true` each way (%s driver)\n\n", run.clients, run.requests, run.vmCount,
                run.execs, qPrintable(run.driverName));
    std::printf("| measure | service | floor (same run) | ratio | aim |\n|---|---|---|---|---|\n");
    std::printf("| GET /api/v1/vms p50 | %.2f ms | GET /api/v1/health p50: %.2f ms | %.2f | |\n", listP50, healthP50, listP50 / healthP50);
    std::printf("| GET /api/v1/vms p99 | %.2f ms | GET /api/v1/health p99: %.2f ms | %.2f | |\n", listP99, healthP99, listP99 / healthP99);
    std::printf("| GET /api/v1/vms throughput | %.0f req/s | health: %.0f req/s | %.2f | |\n", double(list.latenciesMs.size()) / list.seconds,
                double(health.latenciesMs.size()) / health.seconds,
                (double(list.latenciesMs.size()) / list.seconds) / (double(health.latenciesMs.size()) / health.seconds));
    std::printf("| exec round trips | %.1f /s via API | %.1f /s via core | %.3f | overhead %.1f%% (aim < 10%%: %s) |\n", apiRate, coreRate, apiRate / coreRate,
                overhead, overhead < 10.0 ? "met" : "NOT met");
    std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QStringList args = app.arguments();
    Report run;
    run.clients = Bench::intArg(args, QStringLiteral("--clients"), 32);
    run.requests = Bench::intArg(args, QStringLiteral("--requests"), 100);
    run.vmCount = Bench::intArg(args, QStringLiteral("--vms"), 8);
    run.execs = Bench::intArg(args, QStringLiteral("--execs"), 200);

    QTemporaryDir state;
    auto driver = Vmm::createDriver(Vmm::DriverOptions());
    if (!driver)
        die(driver.error().message);
    run.driverName = (*driver)->name();
    Vm::VmManager manager(**driver, state.path());
    Server::Api controller(manager);
    auto service = Bench::listenLocally(controller);
    if (!service)
        die(service.error().message);
    const quint16 port = service->port;

    createVms(manager, run.vmCount);
    std::printf("booting the exec VM (%s driver)...\n", qPrintable(run.driverName));
    std::fflush(stdout);
    if (auto r = Bench::await(manager.start(QStringLiteral("bench")), kBootTimeoutMs); !r)
        die(QStringLiteral("boot failed: %1").arg(r.error().toString()));
    auto agent = manager.agent(QStringLiteral("bench"));
    if (!agent)
        die(agent.error().toString());

    // 1. list latency under load, beside health under the same load
    const LoadResult health = Bench::load(port, Bench::kServiceToken, "/api/v1/health", run.clients, run.requests);
    const LoadResult list = Bench::load(port, Bench::kServiceToken, "/api/v1/vms", run.clients, run.requests);
    if (!health.error.isEmpty() || !list.error.isEmpty())
        die(QStringLiteral("load failed: %1 %2").arg(health.error, list.error));
    // 2. exec: API beside core
    const ExecTimes times = measureExecs(*agent, port, Bench::kServiceToken, run.execs);
    printReport(run, health, list, times);

    if (auto r = Bench::await(manager.remove(QStringLiteral("bench")), 60000); !r)
        std::fprintf(stderr, "bench_api: cleanup: %s\n", qPrintable(r.error().toString()));
    return 0;
}
