#pragma once
// Slow operations (boot, API calls, transfers) run on the event loop and
// report through a Future<T> = QFuture<Expected<T>>. Nothing in core blocks
// the thread it runs on. Continue with future.then(context, ...).

#include "core/expected.h"

#include <QCoreApplication>
#include <QFuture>
#include <QObject>
#include <QPointer>
#include <QPromise>
#include <QThread>

#include <memory>

namespace Core {

template<typename T>
using Future = QFuture<Expected<T>>;

// A copyable handle on a QPromise, so it can ride in lambdas and signals.
// The first resolve wins; later ones are ignored.
template<typename T>
class Promise {
public:
    Promise() : m_p(std::make_shared<QPromise<Expected<T>>>()) { m_p->start(); }

    Future<T> future() const { return m_p->future(); }
    bool isResolved() const { return m_p->future().isFinished(); }

    void resolve(Expected<T> value) const
    {
        if (isResolved())
            return;
        m_p->addResult(std::move(value));
        m_p->finish();
    }
    void fail(ErrorCode code, const QString &message) const { resolve(Error(code, message)); }

private:
    std::shared_ptr<QPromise<Expected<T>>> m_p;
};

template<typename T>
Future<T> readyFuture(Expected<T> value)
{
    Promise<T> p;
    p.resolve(std::move(value));
    return p.future();
}

// Run fn once the future is done, with its value, or with a Cancelled error
// when it was abandoned (a promise dropped unresolved): then() alone never
// runs for a canceled future. fn runs where the future is resolved (core
// resolves on its objects' thread, the main thread), and not at all once
// context is gone: a context-bound then() would assert on a destroyed
// context in debug builds.
template<typename T, typename F>
void whenDone(Future<T> future, QObject *context, F fn)
{
    const QPointer<QObject> guard(context);
    future
        .then([guard, fn](const Expected<T> &r) {
            if (guard)
                fn(r);
        })
        .onCanceled([guard, fn]() {
            if (guard)
                fn(Expected<T>(Error(ErrorCode::Cancelled, QStringLiteral("the operation was abandoned"))));
        });
}

// Run fn (returning Expected<T>) on a thread of its own, for file work that
// would block the event loop (hashing, copying, fsync). The future resolves
// on the main thread. fn must not touch QObjects of other threads.
template<typename T, typename F>
Future<T> runInThread(F fn)
{
    Promise<T> promise;
    QThread *worker = QThread::create([promise, fn]() mutable {
        Expected<T> result = fn();
        QMetaObject::invokeMethod(
            QCoreApplication::instance(), [promise, result]() { promise.resolve(result); }, Qt::QueuedConnection);
    });
    QObject::connect(worker, &QThread::finished, worker, &QObject::deleteLater);
    worker->start();
    return promise.future();
}

inline Future<void> readyFuture()
{
    return readyFuture<void>(Expected<void>());
}

} // namespace Core
