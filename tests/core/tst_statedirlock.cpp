// Vm::StateDirLock: one state directory, one service. A second holder is
// refused with a message naming the first (program and pid), in this
// process and from another; a released lock, or one whose holder died, is
// taken by the next service.

#include "core/vm/statedirlock.h"

#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <cstdio>
#include <iostream>
#include <string>

namespace {

constexpr char kHoldFlag[] = "--hold";

// The child mode: hold the lock on argv[2] until stdin closes.
int holdLock(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    auto lock = Vm::StateDirLock::acquire(QString::fromLocal8Bit(argv[2]));
    std::printf("%s\n", lock ? "held" : qPrintable(lock.error().message));
    std::fflush(stdout);
    std::string line;
    while (std::getline(std::cin, line)) {
    }
    return lock ? 0 : 1;
}

} // namespace

class TestStateDirLock : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    QString dir(const char *name) const { return m_dir.filePath(QString::fromLatin1(name)); }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void missingDirectoryIsMadeAndLocked()
    {
        const QString d = dir("fresh/vms");
        auto lock = Vm::StateDirLock::acquire(d);
        QVERIFY2(lock.hasValue(), lock ? "" : qPrintable(lock.error().message));
        QVERIFY(QFileInfo(d).isDir());
        QVERIFY(QFileInfo::exists(Vm::StateDirLock::lockPath(d)));
    }

    void secondHolderInThisProcessIsRefused()
    {
        const QString d = dir("same");
        auto first = Vm::StateDirLock::acquire(d);
        QVERIFY(first.hasValue());
        auto second = Vm::StateDirLock::acquire(d);
        QVERIFY(!second.hasValue());
        QCOMPARE(second.error().code, Core::ErrorCode::AlreadyExists);
        QVERIFY2(second.error().message.contains(QStringLiteral("pid %1").arg(QCoreApplication::applicationPid())), qPrintable(second.error().message));
        QVERIFY2(second.error().message.contains(d), qPrintable(second.error().message));
    }

    void releasedLockIsTakenAgain()
    {
        const QString d = dir("released");
        {
            auto first = Vm::StateDirLock::acquire(d);
            QVERIFY(first.hasValue());
        }
        auto again = Vm::StateDirLock::acquire(d);
        QVERIFY2(again.hasValue(), again ? "" : qPrintable(again.error().message));
    }

    void holderInAnotherProcessIsNamed()
    {
        const QString d = dir("other");
        QProcess holder;
        holder.start(QCoreApplication::applicationFilePath(), {QString::fromLatin1(kHoldFlag), d});
        QVERIFY(holder.waitForStarted());
        QVERIFY(holder.waitForReadyRead(10000));
        QCOMPARE(holder.readLine().trimmed(), QByteArray("held"));

        auto refused = Vm::StateDirLock::acquire(d);
        QVERIFY(!refused.hasValue());
        const QString message = refused.error().message;
        // The holder's program (its executable's name, as QLockFile records it).
        QVERIFY2(message.contains(QStringLiteral(" by tst_statedirlock ")), qPrintable(message));
        QVERIFY2(message.contains(QStringLiteral("pid %1").arg(holder.processId())), qPrintable(message));

        holder.closeWriteChannel();
        QVERIFY(holder.waitForFinished(10000));
        QCOMPARE(holder.exitCode(), 0);
        auto taken = Vm::StateDirLock::acquire(d);
        QVERIFY2(taken.hasValue(), taken ? "" : qPrintable(taken.error().message));
    }

    void lockOfADeadHolderIsTakenOver()
    {
        const QString d = dir("dead");
        QProcess holder;
        holder.start(QCoreApplication::applicationFilePath(), {QString::fromLatin1(kHoldFlag), d});
        QVERIFY(holder.waitForStarted());
        QVERIFY(holder.waitForReadyRead(10000));
        holder.kill(); // no chance to release: the lock file stays behind
        QVERIFY(holder.waitForFinished(10000));
        QVERIFY(QFileInfo::exists(Vm::StateDirLock::lockPath(d)));

        auto taken = Vm::StateDirLock::acquire(d);
        QVERIFY2(taken.hasValue(), taken ? "" : qPrintable(taken.error().message));
    }
};

int main(int argc, char **argv)
{
    if (argc == 3 && qstrcmp(argv[1], kHoldFlag) == 0)
        return holdLock(argc, argv);
    QCoreApplication app(argc, argv);
    TestStateDirLock test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_statedirlock.moc"
