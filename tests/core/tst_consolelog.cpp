// Vmm::ConsoleLog: the serial console's log rotates to "<log>.1" at its cap,
// so a flood holds at most two capped files; a link at the log path is
// refused; tail() reads across the rotation; a console socket (a local
// server standing in for the VMM) is copied into the log, in bounded reads.

#include "core/vmm/consolelog.h"

#include <QFile>
#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTemporaryDir>
#include <QTest>

using Vmm::ConsoleLog;

class TestConsoleLog : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    static qint64 sizeOf(const QString &path) { return QFileInfo(path).size(); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void appendsBelowTheCap()
    {
        const QString path = m_dir.filePath(QStringLiteral("small.log"));
        ConsoleLog log(path);
        QVERIFY(log.append("hello ").hasValue());
        QVERIFY(log.append("world\n").hasValue());
        QCOMPARE(ConsoleLog::tail(path, 100), QByteArray("hello world\n"));
        QCOMPARE(ConsoleLog::tail(path, 6), QByteArray("world\n"));
        QVERIFY(!QFile::exists(path + QStringLiteral(".1")));
    }

    void floodRotatesAndStaysCapped()
    {
        const QString path = m_dir.filePath(QStringLiteral("flood.log"));
        ConsoleLog log(path);
        const QByteArray chunk(ConsoleLog::kReadChunkBytes - 7, 'x'); // never aligned with the cap
        const qint64 total = 5 * ConsoleLog::kMaxFileBytes + 12345;
        for (qint64 written = 0; written < total; written += chunk.size()) {
            QVERIFY(log.append(chunk).hasValue());
            QVERIFY(sizeOf(path) <= ConsoleLog::kMaxFileBytes);
        }
        QVERIFY(log.append("the end\n").hasValue());
        QCOMPARE(sizeOf(path + QStringLiteral(".1")), ConsoleLog::kMaxFileBytes);
        QVERIFY(sizeOf(path) <= ConsoleLog::kMaxFileBytes);
        QVERIFY(!QFile::exists(path + QStringLiteral(".2")));
        QVERIFY(ConsoleLog::tail(path, 64).endsWith("the end\n"));
    }

    void oneWriteLargerThanTheCapIsSplit()
    {
        const QString path = m_dir.filePath(QStringLiteral("big.log"));
        ConsoleLog log(path);
        QVERIFY(log.append(QByteArray(2 * ConsoleLog::kMaxFileBytes + 10, 'y')).hasValue());
        QCOMPARE(sizeOf(path + QStringLiteral(".1")), ConsoleLog::kMaxFileBytes);
        QCOMPARE(sizeOf(path), qint64(10));
    }

    void tailReadsAcrossTheRotation()
    {
        const QString path = m_dir.filePath(QStringLiteral("across.log"));
        ConsoleLog log(path);
        QVERIFY(log.append(QByteArray(ConsoleLog::kMaxFileBytes - 3, 'a') + "old").hasValue());
        QVERIFY(log.append("new").hasValue());
        QCOMPARE(sizeOf(path), qint64(3));
        QCOMPARE(ConsoleLog::tail(path, 6), QByteArray("oldnew"));
        // Everything, and no more than both files.
        QCOMPARE(ConsoleLog::tail(path, -1).size(), ConsoleLog::kMaxFileBytes + 3);
        ConsoleLog::remove(path);
        QVERIFY(!QFile::exists(path));
        QVERIFY(!QFile::exists(path + QStringLiteral(".1")));
        QCOMPARE(ConsoleLog::tail(path, 10), QByteArray());
    }

    void anExistingLogIsContinuedAndCapped()
    {
        const QString path = m_dir.filePath(QStringLiteral("earlier.log"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(QByteArray(ConsoleLog::kMaxFileBytes, 'e'));
        f.close();
        ConsoleLog log(path);
        QVERIFY(log.append("next boot").hasValue());
        QCOMPARE(sizeOf(path + QStringLiteral(".1")), ConsoleLog::kMaxFileBytes);
        QCOMPARE(ConsoleLog::tail(path, 9), QByteArray("next boot"));
    }

    void aLinkAtTheLogPathIsRefused()
    {
        const QString target = m_dir.filePath(QStringLiteral("victim"));
        QFile t(target);
        QVERIFY(t.open(QIODevice::WriteOnly));
        t.write("precious\n");
        t.close();
        const QString path = m_dir.filePath(QStringLiteral("linked.log"));
        QVERIFY(QFile::link(target, path));
        ConsoleLog log(path);
        const auto r = log.append("guest bytes");
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::Io);
        QCOMPARE(ConsoleLog::tail(path, 100), QByteArray()); // not read through the link either
        QFile check(target);
        QVERIFY(check.open(QIODevice::ReadOnly));
        QCOMPARE(check.readAll(), QByteArray("precious\n"));
    }

    void copiesTheConsoleSocket()
    {
        const QString socketPath = m_dir.filePath(QStringLiteral("console.sock"));
        QLocalServer server;
        QVERIFY(server.listen(socketPath));
        const QString path = m_dir.filePath(QStringLiteral("socket.log"));
        ConsoleLog log(path);
        log.attach(socketPath);
        QVERIFY(server.waitForNewConnection(5000));
        QLocalSocket *vmm = server.nextPendingConnection();
        QTRY_VERIFY(log.isAttached());
        const QByteArray line("[    0.000000] Linux version\n");
        QByteArray flood;
        while (flood.size() < 3 * ConsoleLog::kMaxFileBytes)
            flood += line;
        vmm->write(flood);
        vmm->write("last line\n");
        vmm->flush();
        QTRY_VERIFY_WITH_TIMEOUT(ConsoleLog::tail(path, 10) == "last line\n", 20000);
        QVERIFY(sizeOf(path) <= ConsoleLog::kMaxFileBytes);
        QCOMPARE(sizeOf(path + QStringLiteral(".1")), ConsoleLog::kMaxFileBytes);
        // The VMM goes: the log keeps what it got; attach again (an adopted VM).
        vmm->disconnectFromServer();
        QTRY_VERIFY(!log.isAttached());
        log.attach(socketPath);
        QVERIFY(server.waitForNewConnection(5000));
        QLocalSocket *again = server.nextPendingConnection();
        again->write("after adoption\n");
        again->flush();
        QTRY_VERIFY_WITH_TIMEOUT(ConsoleLog::tail(path, 15) == "after adoption\n", 5000);
    }
};

QTEST_GUILESS_MAIN(TestConsoleLog)
#include "tst_consolelog.moc"
