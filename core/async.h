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

#include <memory>
#include <type_traits>
#include <utility>

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

namespace Detail {

template<typename R>
struct StepResult; // what a chain step returns: Expected<U> or Future<U>
template<typename U>
struct StepResult<Expected<U>> {
    using Value = U;
    static constexpr bool isFuture = false;
};
template<typename U>
struct StepResult<QFuture<Expected<U>>> {
    using Value = U;
    static constexpr bool isFuture = true;
};

template<typename T, typename F>
auto invokeStep(F &fn, const Expected<T> &value)
{
    if constexpr (std::is_void_v<T>)
        return fn();
    else
        return fn(*value);
}

template<typename U>
void forwardTo(Future<U> future, Promise<U> promise)
{
    future.then([promise](const Expected<U> &r) { promise.resolve(r); })
        .onCanceled([promise]() { promise.fail(ErrorCode::Cancelled, QStringLiteral("the operation was abandoned")); });
}

} // namespace Detail

// The next step of a chain. Once `future` has a value, fn runs with it (no
// argument for Future<void>) where the future is resolved, and what fn
// returns, an Expected<U> or a Future<U>, becomes the result of the future
// then() returns. So a multi-step operation is a flat list of steps:
//
//   auto saved = Core::then(pause(), this, [this]() { return save(); });
//   return Core::then(saved, this, [this](const Info &i) { return copyDisk(i); });
//
// An error skips fn and travels down the chain unchanged. An abandoned
// future, or a context destroyed before fn could run, ends the chain with
// Cancelled; fn never runs on a destroyed context. A Future runs one
// continuation: chain each future once.
template<typename T, typename F>
auto then(Future<T> future, QObject *context, F fn)
{
    using R = decltype(Detail::invokeStep<T>(fn, std::declval<const Expected<T> &>()));
    using U = typename Detail::StepResult<R>::Value;
    Promise<U> next;
    const QPointer<QObject> guard(context);
    future
        .then([guard, fn, next](const Expected<T> &r) mutable {
            if (!r) {
                next.resolve(r.error());
                return;
            }
            if (!guard) {
                next.fail(ErrorCode::Cancelled, QStringLiteral("the operation's owner is gone"));
                return;
            }
            if constexpr (Detail::StepResult<R>::isFuture)
                Detail::forwardTo<U>(Detail::invokeStep<T>(fn, r), next);
            else
                next.resolve(Detail::invokeStep<T>(fn, r));
        })
        .onCanceled([next]() { next.fail(ErrorCode::Cancelled, QStringLiteral("the operation was abandoned")); });
    return next.future();
}

inline Future<void> readyFuture()
{
    return readyFuture<void>(Expected<void>());
}

} // namespace Core
