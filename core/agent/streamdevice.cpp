#include "core/agent/streamdevice.h"

#include <QPointer>

#include <utility>

namespace Agent {

StreamDevice::StreamDevice(QObject *parent, OpenMode mode)
    : QIODevice(parent)
{
    QIODevice::open(mode | QIODevice::Unbuffered);
}

qint64 StreamDevice::bytesAvailable() const
{
    return m_unread.size() + QIODevice::bytesAvailable();
}

qint64 StreamDevice::readData(char *data, qint64 maxSize)
{
    const qint64 done = m_unread.read(data, maxSize);
    if (done > 0)
        taken(m_unread.size());
    if (done == 0 && m_ended)
        return -1; // the end: nothing more will come
    return done;
}

void StreamDevice::received(QByteArray data)
{
    m_unread.append(std::move(data));
    m_pendingReadyRead = true;
    scheduleSignals();
}

bool StreamDevice::end(EndSignal signal)
{
    if (m_ended)
        return false;
    m_ended = true;
    if (signal == EndSignal::Signalled) {
        m_pendingEnd = true;
        scheduleSignals();
    }
    return true;
}

bool StreamDevice::fail(const Core::Error &error)
{
    if (m_ended)
        return false;
    m_hasError = true;
    m_error = error;
    setErrorString(error.message);
    m_pendingError = true;
    return end();
}

void StreamDevice::scheduleSignals()
{
    if (m_signalsPosted)
        return;
    m_signalsPosted = true;
    QMetaObject::invokeMethod(this, &StreamDevice::emitSignals, Qt::QueuedConnection);
}

void StreamDevice::emitSignals()
{
    m_signalsPosted = false;
    const QPointer<StreamDevice> self(this);
    if (std::exchange(m_pendingReadyRead, false) && bytesAvailable() > 0) {
        Q_EMIT readyRead();
        if (!self)
            return;
    }
    if (!emitProgress())
        return;
    if (std::exchange(m_pendingError, false)) {
        Q_EMIT errorOccurred(m_error);
        if (!self)
            return;
    }
    if (std::exchange(m_pendingEnd, false))
        emitEnd();
}

void StreamDevice::emitEnd()
{
    Q_EMIT readChannelFinished();
}

} // namespace Agent
