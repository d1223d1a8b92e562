#pragma once
// The resident memory of this process (the service lives in it), sampled
// every kIntervalMs on a QTimer while the event loop runs, keeping the
// largest value seen since the last reset().

#include <QFile>
#include <QTimer>

#include <unistd.h>

namespace E2e {

class RssSampler final {
    Q_DISABLE_COPY_MOVE(RssSampler)
public:
    static constexpr int kIntervalMs = 100;

    RssSampler()
    {
        m_timer.setInterval(kIntervalMs);
        QObject::connect(&m_timer, &QTimer::timeout, &m_timer, [this] { sample(); });
        m_timer.start();
        reset();
    }

    // Resident bytes now, from /proc/self/statm (0 when unreadable).
    static qint64 current()
    {
        QFile statm(QStringLiteral("/proc/self/statm"));
        if (!statm.open(QIODevice::ReadOnly))
            return 0;
        const QList<QByteArray> fields = statm.readAll().split(' ');
        return fields.size() > 1 ? fields[1].toLongLong() * ::sysconf(_SC_PAGESIZE) : 0;
    }

    // Starts a new window: the baseline and the maximum are the RSS now.
    void reset()
    {
        m_baseline = current();
        m_max = m_baseline;
        m_samples = 0;
    }
    void sample()
    {
        m_max = qMax(m_max, current());
        ++m_samples;
    }

    qint64 baseline() const { return m_baseline; }
    qint64 max() const { return m_max; }
    int samples() const { return m_samples; }
    qint64 growth() const { return m_max - m_baseline; }

private:
    QTimer m_timer;
    qint64 m_baseline = 0;
    qint64 m_max = 0;
    int m_samples = 0;
};

} // namespace E2e
