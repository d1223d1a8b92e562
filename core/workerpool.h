#pragma once

#include "core/async.h"

#include <QObject>
#include <QThreadPool>

namespace Core {

// The threads that do core's blocking work: hashing, copying and syncing
// files, building images, encoding screenshots. Bounded (work beyond
// kMaxThreads waits its turn), and joined: the destructor waits for the work
// under way. Results are delivered on the pool's thread (the main thread),
// never after the pool is gone.
//
// shared() is the process's pool, made on first use and owned by the
// application object, so it is joined when the application goes (after the
// service, the window or `run` that used it).
class WorkerPool final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(WorkerPool)
public:
    static constexpr int kMaxThreads = 4;

    explicit WorkerPool(int maxThreads = kMaxThreads, QObject *parent = nullptr);
    ~WorkerPool() override;

    static WorkerPool &shared();

    // Runs fn (returning Expected<T>) on a pool thread, in the caller's log
    // context. fn must not touch QObjects of other threads.
    template<typename T, typename F>
    Future<T> run(F fn)
    {
        Promise<T> promise;
        m_pool.start([this, promise, fn, logContext = Log::currentContext()]() mutable {
            const Log::Scope scope(logContext);
            Expected<T> result = fn();
            QMetaObject::invokeMethod(
                this, [promise, result]() { promise.resolve(result); }, Qt::QueuedConnection);
        });
        return promise.future();
    }

    // Blocks until the work under way is done.
    void waitForDone() { m_pool.waitForDone(); }
    int maxThreads() const { return m_pool.maxThreadCount(); }
    int activeThreads() const { return m_pool.activeThreadCount(); }

private:
    QThreadPool m_pool;
};

// Run fn (returning Expected<T>) on the shared pool, for file work that
// would block the event loop. The future resolves on the main thread.
template<typename T, typename F>
Future<T> runInThread(F fn)
{
    return WorkerPool::shared().run<T>(std::move(fn));
}

} // namespace Core
