#pragma once
// Test data for byte streams (forwarded streams, port forwards): a
// reproducible pattern, its digest, and a write-while-reading pump.

#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDeadlineTimer>
#include <QIODevice>

namespace StreamData {

// `size` pseudo-random bytes, the same for the same seed (xorshift32).
inline QByteArray pattern(qsizetype size, int seed)
{
    QByteArray data(size, Qt::Uninitialized);
    quint32 x = 2463534242u + static_cast<quint32>(seed) * 7919u;
    for (qsizetype i = 0; i < size; ++i) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data[i] = static_cast<char>(x);
    }
    return data;
}

inline QByteArray sha(const QByteArray &d)
{
    return QCryptographicHash::hash(d, QCryptographicHash::Sha256).toHex();
}

// Writes `data` into dev, never more than 2 MiB ahead of what it took, while
// reading back until `expect` bytes came or the time is up.
inline QByteArray pumpThrough(QIODevice *dev, const QByteArray &data, qint64 expect, int timeoutMs = 120000)
{
    QByteArray got;
    got.reserve(expect);
    qint64 sent = 0;
    QDeadlineTimer d(timeoutMs);
    while (got.size() < expect && !d.hasExpired()) {
        while (sent < data.size() && dev->bytesToWrite() < (2 << 20)) {
            const qint64 n = qMin<qint64>(256 * 1024, data.size() - sent);
            if (dev->write(data.constData() + sent, n) != n)
                return got;
            sent += n;
        }
        if (dev->bytesAvailable() > 0)
            got += dev->readAll();
        else
            QCoreApplication::processEvents(QEventLoop::AllEvents | QEventLoop::WaitForMoreEvents, 10);
    }
    return got;
}

} // namespace StreamData
