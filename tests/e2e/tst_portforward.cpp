// End to end: guest TCP ports reached from the host through Vm::PortForward
// (VirtualMachine::forward) on a real minimal guest. Busybox nc listens in
// the guest (started through the agent); the test connects to the forward's
// Unix socket and TCP port. One VM per driver, shared by the test functions.

#include "e2efixture.h"

#include "core/agent/agentclient.h"
#include "tests/streamdata.h"

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QLocalSocket>
#include <QPointer>
#include <QSignalSpy>
#include <QTcpSocket>

using namespace E2e;

namespace {

using StreamData::pattern;
using StreamData::sha;

// Through a guest under TCG: a generous deadline.
QByteArray pumpThrough(QIODevice *dev, const QByteArray &data, qint64 expect, int timeoutMs = 300000)
{
    return StreamData::pumpThrough(dev, data, expect, timeoutMs);
}

constexpr quint16 kEchoPort = 7000;
constexpr int kWaitMs = 60000;

} // namespace

class TestPortForward : public QObject {
    Q_OBJECT

private:
    struct Fixture {
        std::shared_ptr<Vmm::VmmDriver> driver;
        std::unique_ptr<Vm::VirtualMachine> vm;
        QPointer<Agent::ExecHandle> echo; // nc -ll -p 7000 -e cat in the guest
        QString skip;
        QString failure;
    };
    QHash<int, std::shared_ptr<Fixture>> m_fixtures;

    // Waits until something accepts on 127.0.0.1:port in the guest.
    static bool waitForGuestPort(Agent::AgentClient *agent, quint16 port)
    {
        QDeadlineTimer d(30000);
        while (!d.hasExpired()) {
            auto r = await(agent->openStream(QStringLiteral("127.0.0.1"), port), 10000);
            if (r) {
                (*r)->abort();
                delete *r;
                return true;
            }
            QTest::qWait(100);
        }
        return false;
    }

    Fixture *fixtureForRow()
    {
        const Vmm::DriverKind kind = currentDriverKind();
        auto &f = m_fixtures[static_cast<int>(kind)];
        if (f)
            return f.get();
        f = std::make_shared<Fixture>();
        auto d = driverFor(kind);
        if (d.skipReason.startsWith(QLatin1String("FAIL: "))) {
            f->failure = d.skipReason;
            return f.get();
        }
        if (!d.driver) {
            f->skip = d.skipReason;
            return f.get();
        }
        f->driver = d.driver;
        f->vm = std::make_unique<Vm::VirtualMachine>(QStringLiteral("e2e-fwd-%1").arg(Vmm::driverKindName(kind)), minimalTemplate(), *f->driver);
        f->vm->setReadyTimeoutMs(kBootTimeoutMs);
        auto started = await(f->vm->start(), kBootTimeoutMs + 300000); // first run may build the image
        if (!started) {
            f->failure = started.error().toString();
            return f.get();
        }
        qInfo("%s: booted to agent in %lld ms (%s)", qPrintable(Vmm::driverKindName(kind)), f->vm->bootMs(), f->vm->instance()->accelerated() ? "KVM" : "TCG");
        // A persistent echo server: nc forks `cat` for every connection.
        Agent::ExecRequest req;
        req.shell = QStringLiteral("exec nc -ll -p %1 -e cat").arg(kEchoPort);
        req.collectOutput = false;
        f->echo = f->vm->agent()->exec(req);
        if (!waitForGuestPort(f->vm->agent(), kEchoPort))
            f->failure = QStringLiteral("nc did not start listening on port %1 in the guest").arg(kEchoPort);
        return f.get();
    }

#define ACQUIRE_VM(vm) \
    Fixture *fx_ = fixtureForRow(); \
    if (!fx_->skip.isEmpty()) \
        QSKIP(qPrintable(fx_->skip)); \
    QVERIFY2(fx_->failure.isEmpty(), qPrintable(fx_->failure)); \
    Vm::VirtualMachine *vm = fx_->vm.get()

private Q_SLOTS:
    void initTestCase()
    {
        initEnvironment();
    }
    void cleanupTestCase()
    {
        for (auto &f : m_fixtures) {
            if (f->echo)
                f->echo->cancel();
            if (f->vm)
                (void)await(f->vm->stop(), 15000);
        }
        m_fixtures.clear();
    }

    void roundTripOverUnixSocketAndTcp_data()
    {
        addDriverRows();
    }
    void roundTripOverUnixSocketAndTcp()
    {
        ACQUIRE_VM(vm);
        Vm::ForwardListen listen;
        listen.unixSocket = true;
        listen.tcp = true;
        auto fwd = vm->forward(kEchoPort, listen);
        E2E_VERIFY_OK(fwd);
        std::unique_ptr<Vm::PortForward> owner(*fwd);
        const QString path = (*fwd)->unixSocketPath();
        QCOMPARE(QFileInfo(path).absolutePath(), QFileInfo(vm->runtimeDir()).absoluteFilePath());
        QCOMPARE(QFile::permissions(path) & 0x7777, QFile::ReadOwner | QFile::WriteOwner | QFile::ReadUser | QFile::WriteUser);
        QVERIFY((*fwd)->tcpPort() != 0);

        QLocalSocket local;
        local.connectToServer(path);
        QVERIFY(local.waitForConnected(5000));
        QCOMPARE(pumpThrough(&local, "hello over unix\n", 16, kWaitMs), QByteArray("hello over unix\n"));

        QTcpSocket tcp;
        tcp.connectToHost(QHostAddress::LocalHost, (*fwd)->tcpPort());
        QVERIFY(tcp.waitForConnected(5000));
        QCOMPARE(pumpThrough(&tcp, "hello over tcp\n", 15, kWaitMs), QByteArray("hello over tcp\n"));
        QCOMPARE((*fwd)->connectionCount(), 2);

        // A second forward of the same port gets its own socket path.
        auto again = vm->forward(kEchoPort);
        E2E_VERIFY_OK(again);
        std::unique_ptr<Vm::PortForward> againOwner(*again);
        QVERIFY((*again)->unixSocketPath() != path);
    }

    void eightMiBEcho_data()
    {
        addDriverRows();
    }
    void eightMiBEcho()
    {
        ACQUIRE_VM(vm);
        Vm::ForwardListen listen;
        listen.unixSocket = false;
        listen.tcp = true;
        auto fwd = vm->forward(kEchoPort, listen);
        E2E_VERIFY_OK(fwd);
        std::unique_ptr<Vm::PortForward> owner(*fwd);
        QTcpSocket tcp;
        tcp.connectToHost(QHostAddress::LocalHost, (*fwd)->tcpPort());
        QVERIFY(tcp.waitForConnected(5000));
        const QByteArray data = pattern(8 << 20, 1);
        QElapsedTimer t;
        t.start();
        const QByteArray got = pumpThrough(&tcp, data, data.size());
        QCOMPARE(got.size(), data.size());
        QCOMPARE(sha(got), sha(data));
        qInfo("8 MiB echoed through the guest in %.2f s (%.1f MiB/s each way, %s)", t.elapsed() / 1000.0, 8 / (t.elapsed() / 1000.0),
              vm->instance()->accelerated() ? "KVM" : "TCG");
    }

    void concurrentConnections_data()
    {
        addDriverRows();
    }
    void concurrentConnections()
    {
        ACQUIRE_VM(vm);
        Vm::ForwardListen listen;
        listen.tcp = true;
        auto fwd = vm->forward(kEchoPort, listen);
        E2E_VERIFY_OK(fwd);
        std::unique_ptr<Vm::PortForward> owner(*fwd);
        constexpr int kConnections = 6;
        constexpr qsizetype kSize = 512 * 1024;
        std::vector<std::unique_ptr<QIODevice>> sockets;
        for (int i = 0; i < kConnections; ++i) {
            if (i % 2) {
                auto s = std::make_unique<QLocalSocket>();
                s->connectToServer((*fwd)->unixSocketPath());
                QVERIFY(s->waitForConnected(5000));
                sockets.push_back(std::move(s));
            } else {
                auto s = std::make_unique<QTcpSocket>();
                s->connectToHost(QHostAddress::LocalHost, (*fwd)->tcpPort());
                QVERIFY(s->waitForConnected(5000));
                sockets.push_back(std::move(s));
            }
        }
        QList<QByteArray> sent, got;
        QList<qint64> offset;
        for (int i = 0; i < kConnections; ++i) {
            sent << pattern(kSize, 50 + i);
            got << QByteArray();
            offset << 0;
        }
        QDeadlineTimer d(300000);
        auto done = [&]() {
            for (const auto &g : got)
                if (g.size() < kSize)
                    return false;
            return true;
        };
        while (!done() && !d.hasExpired()) {
            for (int i = 0; i < kConnections; ++i) {
                QIODevice *s = sockets[size_t(i)].get();
                if (offset[i] < kSize && s->bytesToWrite() < (128 << 10)) {
                    const qint64 n = qMin<qint64>(32 << 10, kSize - offset[i]);
                    s->write(sent[i].constData() + offset[i], n);
                    offset[i] += n;
                }
                if (s->bytesAvailable() > 0)
                    got[i] += s->readAll();
            }
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
        }
        for (int i = 0; i < kConnections; ++i)
            QCOMPARE(sha(got[i]), sha(sent[i]));
        QCOMPARE((*fwd)->connectionCount(), kConnections);
        // Closing the local ends closes the guest's connections too.
        QSignalSpy closed(*fwd, &Vm::PortForward::connectionClosed);
        sockets.clear();
        QTRY_COMPARE_WITH_TIMEOUT(closed.size(), kConnections, kWaitMs);
        QCOMPARE((*fwd)->connectionCount(), 0);
    }

    void guestClosesTheConnection_data()
    {
        addDriverRows();
    }
    void guestClosesTheConnection()
    {
        ACQUIRE_VM(vm);
        // nc runs `echo bye` for every connection, which then exits.
        Agent::ExecRequest req;
        req.shell = QStringLiteral("exec nc -ll -p 7002 -e echo bye");
        req.collectOutput = false;
        std::unique_ptr<Agent::ExecHandle> server(vm->agent()->exec(req));
        QVERIFY(waitForGuestPort(vm->agent(), 7002));

        auto fwd = vm->forward(7002);
        E2E_VERIFY_OK(fwd);
        std::unique_ptr<Vm::PortForward> owner(*fwd);
        QSignalSpy closed(*fwd, &Vm::PortForward::connectionClosed);
        QLocalSocket local;
        local.connectToServer((*fwd)->unixSocketPath());
        QVERIFY(local.waitForConnected(5000));
        QTRY_COMPARE_WITH_TIMEOUT(local.state(), QLocalSocket::UnconnectedState, kWaitMs);
        QCOMPARE(local.readAll(), QByteArray("bye\n"));
        QTRY_COMPARE_WITH_TIMEOUT(closed.size(), 1, kWaitMs);
        server->cancel();
        (void)await(server->result(), kWaitMs);
    }

    void closedGuestPortClosesTheLocalConnection_data()
    {
        addDriverRows();
    }
    void closedGuestPortClosesTheLocalConnection()
    {
        ACQUIRE_VM(vm);
        Vm::ForwardListen listen;
        listen.tcp = true;
        auto fwd = vm->forward(7999, listen); // nothing listens there
        E2E_VERIFY_OK(fwd);
        std::unique_ptr<Vm::PortForward> owner(*fwd);
        QSignalSpy failed(*fwd, &Vm::PortForward::connectionFailed);
        QTcpSocket tcp;
        tcp.connectToHost(QHostAddress::LocalHost, (*fwd)->tcpPort());
        QVERIFY(tcp.waitForConnected(5000));
        QTRY_COMPARE_WITH_TIMEOUT(tcp.state(), QAbstractSocket::UnconnectedState, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 1, kWaitMs);
        const auto e = failed.at(0).at(0).value<Core::Error>();
        qInfo("refused as expected: %s", qPrintable(e.toString()));
        QCOMPARE(e.code, Core::ErrorCode::NotFound);
        QCOMPARE(e.detail, int(Protocol::ErrorCode::ConnectionRefused));

        QLocalSocket local;
        local.connectToServer((*fwd)->unixSocketPath());
        QVERIFY(local.waitForConnected(5000));
        QTRY_COMPARE_WITH_TIMEOUT(local.state(), QLocalSocket::UnconnectedState, kWaitMs);
        QTRY_COMPARE_WITH_TIMEOUT(failed.size(), 2, kWaitMs);
    }

    void forwardNeedsARunningVm()
    {
        initEnvironment();
        auto driver = driverFor(Vmm::DriverKind::Qemu);
        if (!driver.driver)
            QSKIP(qPrintable(driver.skipReason));
        Vm::VirtualMachine vm(QStringLiteral("e2e-fwd-off"), minimalTemplate(), *driver.driver);
        auto fwd = vm.forward(kEchoPort);
        QVERIFY(!fwd);
        QCOMPARE(fwd.error().code, Core::ErrorCode::InvalidState);
    }
};

QTEST_GUILESS_MAIN(TestPortForward)
#include "tst_portforward.moc"
