// Core's JSON log lines and the log context: jsonLine()'s fields, the JSON
// formatter through a real spdlog logger, and the context carried by
// Core::then, Core::whenDone and the worker pool into work that runs later
// (on the event loop, on a pool thread), and never leaking out of a Scope.

#include "core/async.h"
#include "core/log.h"
#include "core/workerpool.h"

#include <spdlog/sinks/ostream_sink.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>
#include <QTimer>

#include <sstream>

namespace {

QJsonObject parsed(const QByteArray &line)
{
    QJsonParseError error{};
    const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
    return error.error == QJsonParseError::NoError ? doc.object() : QJsonObject();
}

// A future resolved on the next event-loop pass.
Core::Future<int> later(int value)
{
    Core::Promise<int> p;
    QTimer::singleShot(0, [p, value]() { p.resolve(value); });
    return p.future();
}

} // namespace

class TestLogJson : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void lineHasItsFields()
    {
        const QDateTime t = QDateTime::fromMSecsSinceEpoch(1767225600123);
        const QByteArray line = Core::Log::jsonLine(t, QStringLiteral("info"), QStringLiteral("core"), QStringLiteral("box: \"started\"\n"),
                                                    {QStringLiteral("req-1"), QStringLiteral("box")});
        QVERIFY(!line.contains('\n'));
        const QJsonObject o = parsed(line);
        QCOMPARE(o.value(QStringLiteral("time")).toString(), QStringLiteral("2026-01-01T00:00:00.123Z"));
        QCOMPARE(o.value(QStringLiteral("level")).toString(), QStringLiteral("info"));
        QCOMPARE(o.value(QStringLiteral("category")).toString(), QStringLiteral("core"));
        QCOMPARE(o.value(QStringLiteral("message")).toString(), QStringLiteral("box: \"started\"\n"));
        QCOMPARE(o.value(QStringLiteral("request_id")).toString(), QStringLiteral("req-1"));
        QCOMPARE(o.value(QStringLiteral("vm")).toString(), QStringLiteral("box"));

        const QJsonObject bare = parsed(Core::Log::jsonLine(t, QStringLiteral("warn"), QStringLiteral("vmm"), QStringLiteral("x"), {}));
        QVERIFY(!bare.contains(QStringLiteral("request_id")));
        QVERIFY(!bare.contains(QStringLiteral("vm")));
        QCOMPARE(bare.size(), 4);
    }

    void formatterWritesOneObjectPerLine()
    {
        std::ostringstream out;
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
        spdlog::logger logger("test", sink);
        logger.set_formatter(Core::Log::makeJsonFormatter());
        logger.set_level(spdlog::level::info);
        logger.info("outside");
        {
            const Core::Log::Scope scope({QStringLiteral("abc"), QStringLiteral("vm1")});
            logger.warn("inside {}", 42);
        }
        const QList<QByteArray> lines = QByteArray::fromStdString(out.str()).split('\n');
        QCOMPARE(lines.size(), 3);
        QVERIFY(lines.last().isEmpty());
        const QJsonObject first = parsed(lines.at(0));
        QCOMPARE(first.value(QStringLiteral("message")).toString(), QStringLiteral("outside"));
        QCOMPARE(first.value(QStringLiteral("category")).toString(), QStringLiteral("test"));
        QVERIFY(!first.contains(QStringLiteral("request_id")));
        const QJsonObject second = parsed(lines.at(1));
        QCOMPARE(second.value(QStringLiteral("level")).toString(), QStringLiteral("warning"));
        QCOMPARE(second.value(QStringLiteral("message")).toString(), QStringLiteral("inside 42"));
        QCOMPARE(second.value(QStringLiteral("request_id")).toString(), QStringLiteral("abc"));
        QCOMPARE(second.value(QStringLiteral("vm")).toString(), QStringLiteral("vm1"));
    }

    void formatNames()
    {
        QVERIFY(Core::Log::formatFromName(QStringLiteral("json")) == Core::Log::Format::Json);
        QVERIFY(Core::Log::formatFromName(QStringLiteral("text")) == Core::Log::Format::Text);
        QVERIFY(!Core::Log::formatFromName(QStringLiteral("xml")));
    }

    void scopesNestAndRestore()
    {
        QVERIFY(Core::Log::currentContext().isEmpty());
        {
            const Core::Log::Scope outer({QStringLiteral("r1"), QString()});
            QCOMPARE(Core::Log::contextForVm(QStringLiteral("a")).requestId, QStringLiteral("r1"));
            {
                const Core::Log::Scope inner(Core::Log::contextForVm(QStringLiteral("a")));
                QCOMPARE(Core::Log::currentContext().vm, QStringLiteral("a"));
                QCOMPARE(Core::Log::currentContext().requestId, QStringLiteral("r1"));
            }
            QCOMPARE(Core::Log::currentContext().vm, QString());
        }
        QVERIFY(Core::Log::currentContext().isEmpty());
    }

    // Steps chained inside a request's scope run later, outside it, in its context.
    void chainsCarryTheContext()
    {
        QObject owner;
        QStringList seen;
        Core::Future<int> chained;
        {
            const Core::Log::Scope scope({QStringLiteral("req-7"), QStringLiteral("box")});
            const auto first = Core::then(later(1), &owner, [&seen](int v) {
                seen << Core::Log::currentContext().requestId;
                return later(v + 1);
            });
            chained = Core::then(first, &owner, [&seen](int v) {
                seen << Core::Log::currentContext().requestId + QLatin1Char('/') + Core::Log::currentContext().vm;
                return Core::Expected<int>(v + 1);
            });
        }
        QVERIFY(Core::Log::currentContext().isEmpty());
        bool done = false;
        QString atEnd;
        Core::whenDone(chained, &owner, [&](const Core::Expected<int> &r) {
            done = r && *r == 3;
            atEnd = Core::Log::currentContext().requestId;
        });
        QTRY_VERIFY(done);
        QCOMPARE(seen, (QStringList{QStringLiteral("req-7"), QStringLiteral("req-7/box")}));
        QCOMPARE(atEnd, QString()); // chained outside the scope: no context
        QVERIFY(Core::Log::currentContext().isEmpty());
    }

    void workerPoolCarriesTheContext()
    {
        Core::WorkerPool pool(1);
        Core::Future<QString> onThread;
        {
            const Core::Log::Scope scope({QStringLiteral("req-9"), QString()});
            onThread = pool.run<QString>([]() { return Core::Expected<QString>(Core::Log::currentContext().requestId); });
        }
        QString seen;
        QObject owner;
        Core::whenDone(onThread, &owner, [&seen](const Core::Expected<QString> &r) { seen = r ? *r : QStringLiteral("error"); });
        QTRY_COMPARE(seen, QStringLiteral("req-9"));
    }
};

QTEST_GUILESS_MAIN(TestLogJson)
#include "tst_logjson.moc"
