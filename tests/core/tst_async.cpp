// Core::then, the chaining primitive: values flow down a chain of steps
// (plain and asynchronous), an error skips the rest, an abandoned future and
// a context destroyed mid-chain end it with Cancelled without running a step.
// Expected, Promise, Future, whenDone and then with an error type of a
// layer's own (a specialised Abandoned, or one built from a Core::Error).

#include "core/async.h"

#include <QTest>
#include <QTimer>

#include <optional>

using Core::ErrorCode;
using Core::Expected;
using Core::Future;
using Core::Promise;

namespace {

template<typename T>
Expected<T> await(Future<T> f, int ms = 5000)
{
    if (!QTest::qWaitFor([&]() { return f.isFinished(); }, ms))
        return Core::Error(ErrorCode::Timeout, QStringLiteral("not finished"));
    if (f.isCanceled())
        return Core::Error(ErrorCode::Internal, QStringLiteral("a chain must never hand out a canceled future"));
    return f.result();
}

// A value delivered later, from the event loop.
template<typename T>
Future<T> later(T value, QObject *context, int ms = 20)
{
    Promise<T> p;
    QTimer::singleShot(ms, context, [p, value]() { p.resolve(value); });
    return p.future();
}

// An error type with its own word for "abandoned".
struct HttpishError {
    int status = 500;
    QString message;
};

// One that is built from a Core::Error (the default Abandoned).
struct WrappedError {
    WrappedError() = default;
    explicit WrappedError(const Core::Error &e)
        : code(e.code)
        , message(e.message)
    {
    }
    ErrorCode code = ErrorCode::Internal;
    QString message;
};

template<typename T, typename E>
Expected<T, E> awaitAny(Future<T, E> f, int ms = 5000)
{
    if (!QTest::qWaitFor([&]() { return f.isFinished(); }, ms) || f.isCanceled())
        return E();
    return f.result();
}

} // namespace

template<>
struct Core::Abandoned<HttpishError> {
    static HttpishError error(const QString &message) { return HttpishError{499, message}; }
};

class TestAsync : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void valuesFlowThroughPlainAndAsyncSteps()
    {
        QObject ctx;
        auto a = Core::then(later(20, &ctx), &ctx, [](int v) { return Expected<int>(v + 1); });
        auto b = Core::then(a, &ctx, [&ctx](int v) { return later(QString::number(v * 2), &ctx); });
        auto c = Core::then(b, &ctx, [](const QString &s) { return Expected<QString>(s + QStringLiteral("!")); });
        const auto r = await(c);
        QVERIFY(r);
        QCOMPARE(*r, QStringLiteral("42!"));
    }

    void voidSteps()
    {
        QObject ctx;
        int ran = 0;
        auto a = Core::then(Core::readyFuture(), &ctx, [&]() {
            ++ran;
            return Core::Result();
        });
        auto b = Core::then(a, &ctx, [&]() {
            ++ran;
            return Expected<int>(7);
        });
        auto c = Core::then(b, &ctx, [&](int v) {
            ran += v;
            return Core::readyFuture();
        });
        QVERIFY(await(c));
        QCOMPARE(ran, 9);
    }

    void anErrorSkipsTheRestAndKeepsItsCode()
    {
        QObject ctx;
        bool thirdRan = false;
        auto a = Core::then(later(1, &ctx), &ctx, [](int) { return Expected<int>(Core::Error(ErrorCode::NoSpace, QStringLiteral("disk full"))); });
        auto b = Core::then(a, &ctx, [&](int v) {
            thirdRan = true;
            return Expected<int>(v);
        });
        const auto r = await(b);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::NoSpace);
        QCOMPARE(r.error().message, QStringLiteral("disk full"));
        QVERIFY(!thirdRan);

        // An error from an asynchronous step too.
        auto c = Core::then(later(1, &ctx), &ctx, [](int) { return Core::readyFuture<int>(Core::Error(ErrorCode::Timeout, QStringLiteral("slow"))); });
        const auto rc = await(c);
        QVERIFY(!rc);
        QCOMPARE(rc.error().code, ErrorCode::Timeout);
    }

    void anAbandonedFutureEndsTheChainCancelled()
    {
        QObject ctx;
        bool ran = false;
        Future<int> abandoned;
        {
            Promise<int> p;
            abandoned = p.future();
        } // dropped unresolved
        auto a = Core::then(abandoned, &ctx, [&](int) {
            ran = true;
            return Expected<int>(1);
        });
        const auto r = await(a);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Cancelled);
        QVERIFY(!ran);

        // ... also when the abandoned future is an asynchronous step's.
        auto b = Core::then(Core::readyFuture<int>(1), &ctx, [](int) {
            Promise<int> p;
            return p.future();
        });
        const auto rb = await(b);
        QVERIFY(!rb);
        QCOMPARE(rb.error().code, ErrorCode::Cancelled);
    }

    void anotherErrorType()
    {
        using E = HttpishError;
        const Expected<int, E> v(3);
        QVERIFY(v);
        QCOMPARE(*v, 3);
        const Expected<int, E> e(E{404, QStringLiteral("no such thing")});
        QVERIFY(!e);
        QCOMPARE(e.error().status, 404);
        const Expected<void, E> ok;
        QVERIFY(ok);
        const Expected<void, E> failed(E{409, QStringLiteral("busy")});
        QVERIFY(!failed);
        QCOMPARE(failed.error().status, 409);

        // Promise, readyFuture and whenDone carry it as it is.
        Promise<QString, E> p;
        std::optional<Expected<QString, E>> seen;
        QObject ctx;
        Core::whenDone(p.future(), &ctx, [&](const Expected<QString, E> &r) { seen = r; });
        p.resolve(E{418, QStringLiteral("teapot")});
        p.resolve(QStringLiteral("too late")); // the first resolve wins
        QVERIFY(QTest::qWaitFor([&]() { return seen.has_value(); }, 5000));
        QVERIFY(!*seen);
        QCOMPARE(seen->error().status, 418);
        const auto ready = awaitAny(Core::readyFuture<int, E>(7));
        QVERIFY(ready);
        QCOMPARE(*ready, 7);
    }

    void anotherErrorTypeThroughAChain()
    {
        using E = HttpishError;
        QObject ctx;
        bool ran = false;
        auto a = Core::then(Core::readyFuture<int, E>(1), &ctx, [](int v) { return Expected<int, E>(v + 1); });
        auto b = Core::then(a, &ctx, [](int) { return Core::readyFuture<int, E>(E{422, QStringLiteral("corrupted")}); });
        auto c = Core::then(b, &ctx, [&](int v) {
            ran = true;
            return Expected<int, E>(v);
        });
        const auto r = awaitAny(c);
        QVERIFY(!r);
        QCOMPARE(r.error().status, 422);
        QCOMPARE(r.error().message, QStringLiteral("corrupted"));
        QVERIFY(!ran);

        // Abandoned, in the type's own words.
        Future<int, E> abandoned;
        {
            Promise<int, E> p;
            abandoned = p.future();
        }
        const auto ra = awaitAny(Core::then(abandoned, &ctx, [](int v) { return Expected<int, E>(v); }));
        QVERIFY(!ra);
        QCOMPARE(ra.error().status, 499);
        std::optional<Expected<void, E>> seen;
        {
            Promise<void, E> p;
            Core::whenDone(p.future(), &ctx, [&](const Expected<void, E> &done) { seen = done; });
        }
        QVERIFY(QTest::qWaitFor([&]() { return seen.has_value(); }, 5000));
        QCOMPARE(seen->error().status, 499);

        // A type built from a Core::Error gets Cancelled by default.
        Future<QString, WrappedError> dropped;
        {
            Promise<QString, WrappedError> p;
            dropped = p.future();
        }
        const auto rw = awaitAny(Core::then(dropped, &ctx, [](const QString &s) { return Expected<QString, WrappedError>(s); }));
        QVERIFY(!rw);
        QCOMPARE(rw.error().code, ErrorCode::Cancelled);
    }

    void aContextDestroyedMidChainRunsNoMoreSteps()
    {
        auto *ctx = new QObject;
        QObject other;
        int ran = 0;
        Promise<int> first;
        auto a = Core::then(first.future(), ctx, [&](int v) {
            ++ran;
            return Expected<int>(v);
        });
        auto b = Core::then(a, &other, [&](int v) {
            ++ran;
            return Expected<int>(v);
        });
        delete ctx;
        first.resolve(5);
        const auto r = await(b);
        QVERIFY(!r);
        QCOMPARE(r.error().code, ErrorCode::Cancelled);
        QCOMPARE(ran, 0);
    }

    void stepsRunInOrderOnce()
    {
        QObject ctx;
        QStringList order;
        auto a = Core::then(later(0, &ctx), &ctx, [&](int) {
            order << QStringLiteral("a");
            return later(1, &ctx);
        });
        auto b = Core::then(a, &ctx, [&](int) {
            order << QStringLiteral("b");
            return Expected<int>(2);
        });
        QVERIFY(await(b));
        QTest::qWait(50);
        QCOMPARE(order, (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
    }
};

QTEST_GUILESS_MAIN(TestAsync)
#include "tst_async.moc"
