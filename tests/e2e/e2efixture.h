#pragma once
// Shared helpers for the end-to-end suites: driver rows, waiting on core
// futures while the event loop runs, and booting a VM from a template.

#include "core/agent/agentclient.h"
#include "core/async.h"
#include "core/vm/vmmanager.h"
#include "core/template/vmtemplate.h"
#include "core/vm/virtualmachine.h"
#include "core/vmm/vmmdriver.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QTest>

#include <memory>

namespace E2e {

// Point core at the agent binary this build made, and keep images in the
// user's cache (built once per machine).
void initEnvironment();

// Adds a "driver" column with a row per driver: qemu, cloud-hypervisor.
void addDriverRows();

// The driver for the current row, or a skip reason when it cannot run here.
struct DriverOrSkip {
    std::shared_ptr<Vmm::VmmDriver> driver;
    QString skipReason;
};
DriverOrSkip driverFor(Vmm::DriverKind kind);
Vmm::DriverKind currentDriverKind();

Templates::VmTemplate minimalTemplate();

// A shell command run by a VmManager's VM's agent, bounded by timeoutMs
// (in the guest) plus a grace period (here).
Core::Expected<Agent::ExecResult> runInVm(Vm::VmManager &manager, const QString &vm, const QString &shell, int timeoutMs);

// The shell command's stdout, trimmed, through runInVm (60 s); "<error: ...>"
// or "<exit N: stderr>" when it did not run or failed.
QString shellOut(Vm::VmManager &manager, const QString &vm, const QString &shell);
// Create a VM of the template (the template's vCPUs, and its memory unless
// given) and start it; false (and a warning saying why) when either fails.
bool createAndStart(Vm::VmManager &manager, const QString &name, const QString &templateName = QStringLiteral("minimal"),
                    std::optional<int> memoryMiB = std::nullopt);
// How the VM's last start went (VmInfo::boot), or the error.
QString bootOf(const Vm::VmManager &manager, const QString &name);

// Live (not zombie) processes whose parent is `parent` (from /proc/*/stat).
QList<int> childProcessesOf(qint64 parent);

// Spin the event loop until the future is finished or the time is up.
template<typename T>
Core::Expected<T> await(Core::Future<T> future, int timeoutMs)
{
    QDeadlineTimer deadline(timeoutMs);
    while (!future.isFinished() && !deadline.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 20);
    if (!future.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("the test gave up waiting after %1 ms").arg(timeoutMs));
    return future.result();
}

// Boot deadline used by the suites (spawn -> agent). Generous: TCG on a
// busy 2-core machine; a boot that misses it is a failure with its log.
inline constexpr int kBootTimeoutMs = 60000;

} // namespace E2e

// QCOMPARE/QVERIFY helpers that print the core error.
#define E2E_VERIFY_OK(expr) \
    do { \
        const auto &r_ = (expr); \
        QVERIFY2(r_.hasValue(), qPrintable(r_.hasValue() ? QString() : r_.error().toString())); \
    } while (false)

// Declares `var`, the row's driver; skips the row (with its reason) where the
// driver cannot run here, fails it where QEMU itself is unusable.
#define E2E_DRIVER_OR_SKIP(var) \
    const auto var##Row_ = E2e::driverFor(E2e::currentDriverKind()); \
    if (!var##Row_.driver && !var##Row_.skipReason.startsWith(QLatin1String("FAIL"))) \
        QSKIP(qPrintable(var##Row_.skipReason)); \
    QVERIFY2(var##Row_.driver, qPrintable(var##Row_.skipReason)); \
    Vmm::VmmDriver &var = *var##Row_.driver
