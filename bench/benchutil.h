#pragma once
// Small helpers every benchmark uses: waiting on a core future while the
// event loop runs, percentiles, numeric flags.

#include "core/async.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QList>
#include <QStringList>

#include <algorithm>
#include <cstdio>

namespace Bench {

template<typename T>
Core::Expected<T> await(Core::Future<T> f, int timeoutMs = 300000)
{
    QDeadlineTimer d(timeoutMs);
    while (!f.isFinished() && !d.hasExpired())
        QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
    if (!f.isFinished())
        return Core::Error(Core::ErrorCode::Timeout, QStringLiteral("benchmark step timed out"));
    return f.result();
}

// The p-quantile (0..1) by nearest rank; 0 for no samples.
template<typename Container>
double percentile(Container v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const auto n = static_cast<qsizetype>(v.size());
    const auto idx = static_cast<qsizetype>(p * double(n - 1) + 0.5);
    return v[static_cast<size_t>(qBound<qsizetype>(0, idx, n - 1))];
}

// Milliseconds since the timer started.
inline double msSince(const QElapsedTimer &t)
{
    return double(t.nsecsElapsed()) / 1e6;
}

// "label: v1 v2 ..." on one line, rounded to whole units.
inline void printSamples(const char *label, const QList<double> &values)
{
    std::printf("%s:", label);
    for (double v : values)
        std::printf(" %.0f", v);
    std::printf("\n");
}

// The guest agent this build made (path), unless MVS_AGENT_BINARY names one.
inline void useBuiltAgent(const char *path)
{
    if (qEnvironmentVariableIsEmpty("MVS_AGENT_BINARY"))
        qputenv("MVS_AGENT_BINARY", path);
}

// "--name N" among the arguments, else fallback.
inline int intArg(const QStringList &args, const QString &name, int fallback)
{
    const qsizetype i = args.indexOf(name);
    return i >= 0 && i + 1 < args.size() ? args.at(i + 1).toInt() : fallback;
}

} // namespace Bench
