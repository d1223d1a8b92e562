// Core::then, the chaining primitive: values flow down a chain of steps
// (plain and asynchronous), an error skips the rest, an abandoned future and
// a context destroyed mid-chain end it with Cancelled without running a step.

#include "core/async.h"

#include <QTest>
#include <QTimer>

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

} // namespace

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
