#pragma once

#include <QByteArray>

#include <deque>

namespace Agent {

// Bytes queued as the chunks they arrived in, read from the front: the read
// buffer of a forwarded stream or a download, the write queue of a forward.
// Appending moves a chunk in; nothing is copied until it is read.
class ChunkQueue {
public:
    qint64 size() const { return m_bytes; }
    bool isEmpty() const { return m_bytes == 0; }
    void append(QByteArray data);
    // Copies up to max bytes into data and drops them; the count.
    qint64 read(char *data, qint64 max);
    // Up to max bytes as one array (a whole front chunk is moved, not copied).
    QByteArray take(qint64 max);
    bool containsNewline() const;
    void clear();

private:
    std::deque<QByteArray> m_chunks;
    qsizetype m_offset = 0; // consumed bytes of m_chunks.front()
    qint64 m_bytes = 0;
};

} // namespace Agent
