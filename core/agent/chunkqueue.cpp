#include "core/agent/chunkqueue.h"

#include <cstring>

namespace Agent {

void ChunkQueue::append(QByteArray data)
{
    if (data.isEmpty())
        return;
    m_bytes += data.size();
    m_chunks.push_back(std::move(data));
}

qint64 ChunkQueue::read(char *data, qint64 max)
{
    qint64 done = 0;
    while (done < max && !m_chunks.empty()) {
        QByteArray &front = m_chunks.front();
        const qint64 n = qMin<qint64>(max - done, front.size() - m_offset);
        std::memcpy(data + done, front.constData() + m_offset, static_cast<size_t>(n));
        done += n;
        m_offset += n;
        if (m_offset == front.size()) {
            m_chunks.pop_front();
            m_offset = 0;
        }
    }
    m_bytes -= done;
    return done;
}

QByteArray ChunkQueue::take(qint64 max)
{
    const qint64 n = qMin(max, m_bytes);
    if (n > 0 && m_offset == 0 && m_chunks.front().size() == n) {
        QByteArray out = std::move(m_chunks.front());
        m_chunks.pop_front();
        m_bytes -= n;
        return out;
    }
    QByteArray out(n, Qt::Uninitialized);
    read(out.data(), n);
    return out;
}

bool ChunkQueue::containsNewline() const
{
    qsizetype offset = m_offset;
    for (const QByteArray &chunk : m_chunks) {
        if (std::memchr(chunk.constData() + offset, '\n', static_cast<size_t>(chunk.size() - offset)))
            return true;
        offset = 0;
    }
    return false;
}

void ChunkQueue::clear()
{
    m_chunks.clear();
    m_offset = 0;
    m_bytes = 0;
}

} // namespace Agent
