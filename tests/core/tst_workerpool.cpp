// Core::WorkerPool: work runs off the calling thread, results come back on
// it, at most maxThreads run at once, and the destructor joins the work
// under way (its results are then dropped: the futures end canceled).

#include "core/workerpool.h"

#include <QTest>
#include <QThread>

#include <atomic>

class TestWorkerPool : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void resultsComeBackOnTheCallingThread()
    {
        Core::WorkerPool pool(2);
        QThread *caller = QThread::currentThread();
        std::atomic<QThread *> ranOn{nullptr};
        auto f = pool.run<int>([&ranOn]() {
            ranOn = QThread::currentThread();
            return Core::Expected<int>(42);
        });
        QThread *resolvedOn = nullptr;
        Core::whenDone(f, this, [&resolvedOn](const Core::Expected<int> &) { resolvedOn = QThread::currentThread(); });
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(*f.result(), 42);
        QVERIFY(ranOn.load() != caller);
        QTRY_COMPARE(resolvedOn, caller);
    }

    void errorsAreValues()
    {
        Core::WorkerPool pool(1);
        auto f = pool.run<void>([]() { return Core::Result(Core::Error(Core::ErrorCode::NoSpace, QStringLiteral("full"))); });
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(f.result().error().code, Core::ErrorCode::NoSpace);
    }

    void atMostMaxThreadsAtOnce()
    {
        Core::WorkerPool pool(2);
        std::atomic<int> running{0};
        std::atomic<int> most{0};
        QList<Core::Future<void>> all;
        for (int i = 0; i < 8; ++i) {
            all << pool.run<void>([&running, &most]() {
                const int now = ++running;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                QThread::msleep(30);
                --running;
                return Core::Result();
            });
        }
        for (auto &f : all)
            QTRY_VERIFY(f.isFinished());
        QCOMPARE(most.load(), 2);
        QCOMPARE(pool.maxThreads(), 2);
    }

    void theDestructorJoinsTheWorkUnderWay()
    {
        std::atomic<bool> finished{false};
        Core::Future<void> f;
        {
            Core::WorkerPool pool(1);
            f = pool.run<void>([&finished]() {
                QThread::msleep(200);
                finished = true;
                return Core::Result();
            });
            QTRY_COMPARE(pool.activeThreads(), 1);
        }
        QVERIFY(finished.load()); // joined before the pool went
        QTest::qWait(50);
        // Its result was not delivered to a pool that is gone.
        QVERIFY(f.isFinished());
        QVERIFY(f.isCanceled());
    }

    void theSharedPoolBelongsToTheApplication()
    {
        Core::WorkerPool &pool = Core::WorkerPool::shared();
        QCOMPARE(pool.parent(), QCoreApplication::instance());
        QCOMPARE(&Core::WorkerPool::shared(), &pool);
        QCOMPARE(pool.maxThreads(), Core::WorkerPool::kMaxThreads);
        auto f = Core::runInThread<int>([]() { return Core::Expected<int>(7); });
        QTRY_VERIFY(f.isFinished());
        QCOMPARE(*f.result(), 7);
    }
};

QTEST_GUILESS_MAIN(TestWorkerPool)
#include "tst_workerpool.moc"
