#include "e2efixture.h"

#include "core/vmm/kvmprobe.h"
#include "core/vmm/vmmprocess.h"

#include <QDir>
#include <QFile>

namespace E2e {

void initEnvironment()
{
    if (qEnvironmentVariableIsEmpty("MVS_AGENT_BINARY"))
        qputenv("MVS_AGENT_BINARY", MVS_AGENT_BINARY);
}

void addDriverRows()
{
    QTest::addColumn<int>("driver");
    QTest::newRow("qemu") << static_cast<int>(Vmm::DriverKind::Qemu);
    QTest::newRow("cloud-hypervisor") << static_cast<int>(Vmm::DriverKind::CloudHypervisor);
}

Vmm::DriverKind currentDriverKind()
{
    QFETCH(int, driver);
    return static_cast<Vmm::DriverKind>(driver);
}

DriverOrSkip driverFor(Vmm::DriverKind kind)
{
    Vmm::DriverOptions o;
    o.kind = kind;
    o.accel = qEnvironmentVariable("MVS_ACCEL", QStringLiteral("auto"));
    auto d = Vmm::createDriver(o);
    if (!d) {
        if (kind == Vmm::DriverKind::CloudHypervisor)
            return {nullptr, QStringLiteral("cloud-hypervisor cannot run here: %1").arg(d.error().message)};
        return {nullptr, QStringLiteral("FAIL: %1").arg(d.error().message)};
    }
    return {std::shared_ptr<Vmm::VmmDriver>(std::move(*d)), QString()};
}

Core::Expected<Agent::ExecResult> runInVm(Vm::VmManager &manager, const QString &vm, const QString &shell, int timeoutMs)
{
    constexpr int kGraceMs = 30000; // the guest's own timeout answers first
    auto agent = manager.agent(vm);
    if (!agent)
        return agent.error();
    Agent::ExecRequest req;
    req.shell = shell;
    req.timeoutMs = timeoutMs;
    return await((*agent)->run(req), timeoutMs + kGraceMs);
}

QList<int> childProcessesOf(qint64 parent)
{
    QList<int> out;
    const QByteArray wanted = QByteArray::number(parent);
    for (const QString &p : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool ok = false;
        const int pid = p.toInt(&ok);
        if (!ok)
            continue;
        QFile stat(QStringLiteral("/proc/%1/stat").arg(p));
        if (!stat.open(QIODevice::ReadOnly))
            continue;
        const QByteArray s = stat.readAll();
        // pid (comm) state ppid ...: comm may contain spaces, so split after ')'.
        const QList<QByteArray> fields = s.mid(s.lastIndexOf(')') + 2).split(' ');
        if (fields.size() > 2 && fields.at(1) == wanted && fields.at(0) != "Z")
            out << pid;
    }
    return out;
}

Templates::VmTemplate minimalTemplate()
{
    auto t = Templates::VmTemplate::load(QStringLiteral("minimal"));
    if (!t)
        qFatal("cannot load the minimal template: %s", qPrintable(t.error().message));
    return *t;
}

QString shellOut(Vm::VmManager &manager, const QString &vm, const QString &shell)
{
    auto r = runInVm(manager, vm, shell, 60000);
    if (!r)
        return QStringLiteral("<error: %1>").arg(r.error().toString());
    if (r->exitCode != 0)
        return QStringLiteral("<exit %1: %2>").arg(r->exitCode).arg(QString::fromUtf8(r->stderrData));
    return QString::fromUtf8(r->stdoutData).trimmed();
}

bool createAndStart(Vm::VmManager &manager, const QString &name, const QString &templateName, std::optional<int> memoryMiB)
{
    auto created = manager.create({name, templateName, std::nullopt, memoryMiB});
    if (!created) {
        qWarning() << created.error().toString();
        return false;
    }
    auto started = await(manager.start(name), kBootTimeoutMs + 300000);
    if (!started)
        qWarning() << started.error().toString();
    return started.hasValue();
}

QString bootOf(const Vm::VmManager &manager, const QString &name)
{
    auto info = manager.info(name);
    return info ? info->boot : info.error().toString();
}

} // namespace E2e
