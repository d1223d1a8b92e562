// The guest's side of a NIC on a real guest through the real QEMU driver:
// a TAP made here (a non-persistent one: it goes with its last descriptor,
// this test's and QEMU's, even when the test crashes) with the gateway's
// address in a private /30 no host route overlaps; the guest configured
// from the kernel command line at boot (mvs.net=), reporting its address in
// health, reaching a TCP server on the gateway and pinging it; then
// reconfigured by `microvm-agent --configure-net` to a new MAC and address;
// then a snapshot restored onto a new tap in another /30 and reconfigured
// there. Needs root (TUNSETIFF, addresses on the host side).

#include "e2efixture.h"

#include "core/net/guestnet.h"
#include "core/net/subnetplan.h"

#include <QDir>
#include <QProcess>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <unistd.h>

using namespace E2e;

namespace {

constexpr int kExecTimeoutMs = 30000;
constexpr int kOpTimeoutMs = 300000;
// Three /30s of a block the issue names for tests; never 192.0.2.0/24.
const Net::Cidr kTestBlock = Net::Cidr(QHostAddress(QStringLiteral("10.213.250.0")), 28);

Net::VmAddress block(int n)
{
    const quint32 base = kTestBlock.address().toIPv4Address() + quint32(n) * 4;
    Net::VmAddress a;
    a.slot = n;
    a.gateway = QHostAddress(base + 1);
    a.address = QHostAddress(base + 2);
    a.prefix = 30;
    a.block = Net::Cidr(QHostAddress(base), 30);
    return a;
}

// A TAP device with IFF_VNET_HDR (as a QEMU snapshot taken with one wants),
// up, with the gateway's address. Not persistent: the kernel removes it
// once this descriptor and QEMU's copy are closed.
class TestTap {
public:
    ~TestTap()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    static std::unique_ptr<TestTap> create(QString *error)
    {
        auto tap = std::make_unique<TestTap>();
        tap->m_fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        ifreq ifr{};
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
        std::strncpy(ifr.ifr_name, "mvsnettest%d", IFNAMSIZ - 1);
        if (tap->m_fd < 0 || ::ioctl(tap->m_fd, TUNSETIFF, &ifr) != 0) {
            *error = QStringLiteral("cannot create a tap: %1").arg(QString::fromLocal8Bit(std::strerror(errno)));
            return nullptr;
        }
        tap->m_name = QString::fromLatin1(ifr.ifr_name);
        if (!tap->ip({QStringLiteral("link"), QStringLiteral("set"), tap->m_name, QStringLiteral("up")}, error))
            return nullptr;
        return tap;
    }
    bool addGateway(const Net::VmAddress &a, QString *error)
    {
        return ip(
            {QStringLiteral("addr"), QStringLiteral("add"), QStringLiteral("%1/%2").arg(a.gateway.toString()).arg(a.prefix), QStringLiteral("dev"), m_name},
            error);
    }
    int fd() const { return m_fd; }
    QString name() const { return m_name; }

private:
    static bool ip(const QStringList &args, QString *error)
    {
        QProcess p;
        p.start(QStringLiteral("ip"), args);
        if (p.waitForFinished(10000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0)
            return true;
        *error = QStringLiteral("ip %1: %2").arg(args.join(QLatin1Char(' ')), QString::fromLocal8Bit(p.readAllStandardError()));
        return false;
    }
    int m_fd = -1;
    QString m_name;
};

// A TCP server on a gateway address: answers each line with "pong" and
// closes, keeping what it was sent.
class GatewayServer {
public:
    bool listen(const QHostAddress &address)
    {
        QObject::connect(&m_server, &QTcpServer::newConnection, [this]() {
            while (QTcpSocket *s = m_server.nextPendingConnection()) {
                QObject::connect(s, &QTcpSocket::readyRead, s, [this, s]() {
                    if (!s->canReadLine())
                        return;
                    received << QString::fromUtf8(s->readLine()).trimmed();
                    s->write("pong\n");
                    s->disconnectFromHost();
                });
                QObject::connect(s, &QTcpSocket::disconnected, s, &QObject::deleteLater);
            }
        });
        return m_server.listen(address, 0);
    }
    quint16 port() const { return m_server.serverPort(); }
    QStringList received;

private:
    QTcpServer m_server;
};

Core::Expected<Agent::ExecResult> run(Vm::VirtualMachine &vm, Agent::ExecRequest req)
{
    if (!vm.agent())
        return Core::Error(Core::ErrorCode::AgentUnavailable, QStringLiteral("no agent"));
    req.timeoutMs = kExecTimeoutMs;
    return await(vm.agent()->run(req), kExecTimeoutMs + 30000);
}

// stdout of a shell command that must succeed, trimmed; what went wrong otherwise.
QString out(Vm::VirtualMachine &vm, const QString &shell)
{
    Agent::ExecRequest req;
    req.shell = shell;
    auto r = run(vm, req);
    if (!r)
        return QStringLiteral("<error: %1>").arg(r.error().toString());
    if (r->exitCode != 0)
        return QStringLiteral("<exit %1: %2%3>").arg(r->exitCode).arg(QString::fromUtf8(r->stdoutData), QString::fromUtf8(r->stderrData));
    return QString::fromUtf8(r->stdoutData).trimmed();
}

// The guest's interfaces as its agent reports them in health, one line each.
QString interfacesOf(Vm::VirtualMachine &vm)
{
    if (!vm.agent())
        return QStringLiteral("<no agent>");
    auto h = await(vm.agent()->health(), 60000);
    if (!h)
        return QStringLiteral("<error: %1>").arg(h.error().toString());
    QStringList lines;
    for (const Agent::GuestInterface &i : h->interfaces)
        lines << QStringLiteral("%1 %2 %3 %4").arg(i.name, i.mac, i.up ? QStringLiteral("up") : QStringLiteral("down"), i.addresses.join(QLatin1Char(' ')));
    return lines.join(QLatin1Char('\n'));
}

} // namespace

class TestGuestNic : public QObject {
    Q_OBJECT

    // The guest reaches the TCP server on `a`'s gateway (both ways) and pings it.
    void reachesGateway(Vm::VirtualMachine &vm, const Net::VmAddress &a, const QString &hello)
    {
        GatewayServer server;
        QVERIFY2(server.listen(a.gateway), qPrintable(a.gateway.toString()));
        QCOMPARE(out(vm, QStringLiteral("echo %1 | timeout 20 nc %2 %3").arg(hello, a.gateway.toString()).arg(server.port())), QStringLiteral("pong"));
        QCOMPARE(server.received, QStringList{hello});
        QVERIFY(out(vm, QStringLiteral("ping -c 1 -W 5 %1").arg(a.gateway.toString())).contains(QLatin1String("1 packets received")));
        QCOMPARE(out(vm, QStringLiteral("cat /etc/resolv.conf")), QStringLiteral("nameserver %1").arg(a.gateway.toString()));
        QVERIFY2(out(vm, QStringLiteral("ip route")).contains(QStringLiteral("default via %1").arg(a.gateway.toString())),
                 qPrintable(out(vm, QStringLiteral("ip route"))));
    }

    void configureNet(Vm::VirtualMachine &vm, const Net::VmAddress &a, const QString &mac)
    {
        auto cmd = Net::GuestNet::configureNetCommand(a, mac);
        E2E_VERIFY_OK(cmd);
        Agent::ExecRequest req;
        req.argv = *cmd;
        auto r = run(vm, req);
        E2E_VERIFY_OK(r);
        QVERIFY2(r->exitCode == 0, qPrintable(QString::fromUtf8(r->stderrData)));
    }

    // The interface with `mac` has exactly `a`'s address (and maybe an IPv6 link-local one).
    static void hasOnly(const QString &interfaces, const Net::VmAddress &a, const QString &mac)
    {
        QStringList ipv4;
        bool found = false;
        for (const QString &line : interfaces.split(QLatin1Char('\n'))) {
            const QStringList f = line.split(QLatin1Char(' '));
            if (f.value(1) != mac)
                continue;
            found = true;
            QCOMPARE(f.value(2), QStringLiteral("up"));
            for (const QString &addr : f.mid(3))
                if (!addr.contains(QLatin1Char(':')))
                    ipv4 << addr;
        }
        QVERIFY2(found, qPrintable(QStringLiteral("no interface with %1 in:\n%2").arg(mac, interfaces)));
        QCOMPARE(ipv4, QStringList{QStringLiteral("%1/30").arg(a.address.toString())});
    }

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
        if (::geteuid() != 0)
            QSKIP("needs root: it creates TAP devices and gives them addresses");
        for (const Net::Cidr &route : Net::HostRoutes::read().routes)
            QVERIFY2(route.prefix() < Net::SubnetPlan::kMinRoutePrefix || !route.overlaps(kTestBlock),
                     qPrintable(QStringLiteral("the test block %1 overlaps the host's route %2").arg(kTestBlock.toString(), route.toString())));
    }

    void bootReconfigureAndRestoreOntoANewTap()
    {
        const auto driver = driverFor(Vmm::DriverKind::Qemu);
        QVERIFY2(driver.driver, qPrintable(driver.skipReason));
        QTemporaryDir stateDir;
        QVERIFY(stateDir.isValid());
        QString error;
        const auto tapA = TestTap::create(&error);
        QVERIFY2(tapA && tapA->addGateway(block(0), &error), qPrintable(error));

        // Boot: configured from the kernel command line.
        const QString macA = Net::macForVm(QStringLiteral("nettest-a"));
        Vm::VirtualMachine vm(QStringLiteral("nettest"), minimalTemplate(), *driver.driver);
        vm.setReadyTimeoutMs(kBootTimeoutMs);
        vm.setStateDir(stateDir.path());
        vm.setNic(Vmm::NicSpec{tapA->fd(), macA});
        const auto arg = Net::GuestNet::kernelArgument(block(0), macA);
        E2E_VERIFY_OK(arg);
        vm.setExtraKernelArgs(*arg);
        E2E_VERIFY_OK(await(vm.start(), kBootTimeoutMs + 900000)); // may build the image first
        hasOnly(interfacesOf(vm), block(0), macA);
        reachesGateway(vm, block(0), QStringLiteral("hello-boot"));
        if (QTest::currentTestFailed())
            return;

        // --configure-net: a new MAC and an address in another /30 (its
        // gateway on the same tap).
        QVERIFY2(tapA->addGateway(block(1), &error), qPrintable(error));
        const QString macB = Net::macForVm(QStringLiteral("nettest-b"));
        configureNet(vm, block(1), macB);
        hasOnly(interfacesOf(vm), block(1), macB);
        reachesGateway(vm, block(1), QStringLiteral("hello-reconfigured"));
        if (QTest::currentTestFailed())
            return;

        // A snapshot restored onto a new tap in a third /30: the guest comes
        // back as saved (the saved device state brings its MAC back), then
        // --configure-net moves it to the new tap's network.
        const QString snapDir = QDir(stateDir.path()).filePath(QStringLiteral("s1"));
        QVERIFY(QDir().mkpath(snapDir));
        auto snap = await(vm.saveSnapshot(snapDir, false), kOpTimeoutMs);
        E2E_VERIFY_OK(snap);
        snap->directory = snapDir; // what a snapshot store would record
        const auto tapC = TestTap::create(&error);
        QVERIFY2(tapC && tapC->addGateway(block(2), &error), qPrintable(error));
        const QString macC = Net::macForVm(QStringLiteral("nettest-c"));
        vm.setNic(Vmm::NicSpec{tapC->fd(), macC});
        E2E_VERIFY_OK(await(vm.restoreSnapshot(*snap), kOpTimeoutMs));
        hasOnly(interfacesOf(vm), block(1), macB);
        configureNet(vm, block(2), macC);
        hasOnly(interfacesOf(vm), block(2), macC);
        reachesGateway(vm, block(2), QStringLiteral("hello-restored"));
        qInfo("guest interfaces after the restore:\n%s", qPrintable(interfacesOf(vm)));
    }
};

QTEST_GUILESS_MAIN(TestGuestNic)
#include "tst_guestnic.moc"
