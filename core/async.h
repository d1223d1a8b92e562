#pragma once
// Slow operations (boot, API calls, transfers) run on the event loop and
// report through a Future<T> = QFuture<Expected<T>>. Nothing in core blocks
// the thread it runs on. Continue with Core::then (a chain) or whenDone.
// Like Expected, Future and Promise take an error type, Core::Error by default.

#include "core/expected.h"
#include "core/logcontext.h"

#include <QCoreApplication>
#include <QFuture>
#include <QObject>
#include <QPointer>
#include <QPromise>

#include <memory>
#include <type_traits>
#include <utility>

namespace Core {

template<typename T, typename E = Error>
using Future = QFuture<Expected<T, E>>;

// A copyable handle on a QPromise, so it can ride in lambdas and signals.
// The first resolve wins; later ones are ignored.
template<typename T, typename E = Error>
class Promise {
public:
    Promise()
        : m_p(std::make_shared<QPromise<Expected<T, E>>>())
    {
        m_p->start();
    }

    Future<T, E> future() const { return m_p->future(); }
    bool isResolved() const { return m_p->future().isFinished(); }

    void resolve(Expected<T, E> value) const
    {
        if (isResolved())
            return;
        m_p->addResult(std::move(value));
        m_p->finish();
    }
    // For E = Core::Error.
    void fail(ErrorCode code, const QString &message) const { resolve(Error(code, message)); }
    // The operation was given up (Abandoned<E>).
    void abandon(const QString &message) const { resolve(Abandoned<E>::error(message)); }

private:
    std::shared_ptr<QPromise<Expected<T, E>>> m_p;
};

// A finished future; T (and E) named by the caller: readyFuture<int>(42).
template<typename T, typename E = Error>
Future<T, E> readyFuture(std::type_identity_t<Expected<T, E>> value)
{
    Promise<T, E> p;
    p.resolve(std::move(value));
    return p.future();
}

// Run fn once the future is done, with its value, or with a Cancelled error
// (Abandoned<E>) when it was abandoned (a promise dropped unresolved): then() alone never
// runs for a canceled future. fn runs where the future is resolved (core
// resolves on its objects' thread, the main thread), and not at all once
// context is gone: a context-bound then() would assert on a destroyed
// context in debug builds. fn runs in the log context of the caller (see
// core/logcontext.h).
template<typename T, typename E, typename F>
void whenDone(Future<T, E> future, QObject *context, F fn)
{
    const QPointer<QObject> guard(context);
    const Log::Context logContext = Log::currentContext();
    future
        .then([guard, fn, logContext](const Expected<T, E> &r) {
            const Log::Scope scope(logContext);
            if (guard)
                fn(r);
        })
        .onCanceled([guard, fn, logContext]() {
            const Log::Scope scope(logContext);
            if (guard)
                fn(Expected<T, E>(Abandoned<E>::error(QStringLiteral("the operation was abandoned"))));
        });
}

namespace Detail {

template<typename R>
struct StepResult; // what a chain step returns: Expected<U, E> or Future<U, E>
template<typename U, typename E>
struct StepResult<Expected<U, E>> {
    using Value = U;
    using ErrorType = E;
    static constexpr bool isFuture = false;
};
template<typename U, typename E>
struct StepResult<QFuture<Expected<U, E>>> {
    using Value = U;
    using ErrorType = E;
    static constexpr bool isFuture = true;
};

template<typename T, typename E, typename F>
auto invokeStep(F &fn, const Expected<T, E> &value)
{
    if constexpr (std::is_void_v<T>)
        return fn();
    else
        return fn(*value);
}

template<typename U, typename E>
void forwardTo(Future<U, E> future, Promise<U, E> promise)
{
    future.then([promise](const Expected<U, E> &r) { promise.resolve(r); }).onCanceled([promise]() {
        promise.abandon(QStringLiteral("the operation was abandoned"));
    });
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
// An error skips fn and travels down the chain unchanged (steps share the
// error type E). An abandoned future, or a context destroyed before fn could
// run, ends the chain with Cancelled (Abandoned<E>); fn never runs on a
// destroyed context. A Future runs one continuation: chain each future once.
// fn runs in the log context of the caller of then() (core/logcontext.h).
template<typename T, typename E, typename F>
auto then(Future<T, E> future, QObject *context, F fn)
{
    using R = decltype(Detail::invokeStep<T, E>(fn, std::declval<const Expected<T, E> &>()));
    using U = typename Detail::StepResult<R>::Value;
    static_assert(std::is_same_v<typename Detail::StepResult<R>::ErrorType, E>, "the steps of a chain share one error type");
    Promise<U, E> next;
    const QPointer<QObject> guard(context);
    const Log::Context logContext = Log::currentContext();
    future
        .then([guard, fn, next, logContext](const Expected<T, E> &r) mutable {
            const Log::Scope scope(logContext);
            if (!r) {
                next.resolve(r.error());
                return;
            }
            if (!guard) {
                next.abandon(QStringLiteral("the operation's owner is gone"));
                return;
            }
            if constexpr (Detail::StepResult<R>::isFuture)
                Detail::forwardTo<U, E>(Detail::invokeStep<T, E>(fn, r), next);
            else
                next.resolve(Detail::invokeStep<T, E>(fn, r));
        })
        .onCanceled([next]() { next.abandon(QStringLiteral("the operation was abandoned")); });
    return next.future();
}

inline Future<void> readyFuture()
{
    return readyFuture<void>(Expected<void>());
}

} // namespace Core
