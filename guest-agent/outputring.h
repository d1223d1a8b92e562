#pragma once
// The last `capacity` bytes of an output stream, read by byte offset into
// the whole stream: a background process's stdout or stderr. Older bytes
// are dropped as new ones come; a read from before what is kept starts at
// the oldest byte kept and says truncated. Pure: no I/O.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace GuestAgent {

class OutputRing {
public:
    struct Slice {
        std::string data;
        std::uint64_t next = 0; // the offset to read from next
        bool truncated = false; // bytes between the offset asked and data were dropped
    };

    explicit OutputRing(std::size_t capacity)
        : m_capacity(std::max<std::size_t>(capacity, 1))
    {
    }

    // The buffer grows as bytes come, up to the capacity.
    void append(std::string_view bytes)
    {
        m_total += bytes.size();
        if (bytes.size() >= m_capacity) {
            m_data.assign(bytes.substr(bytes.size() - m_capacity));
            m_head = 0;
            return;
        }
        if (m_data.size() < m_capacity) {
            const std::size_t n = std::min(m_capacity - m_data.size(), bytes.size());
            m_data.append(bytes.substr(0, n));
            bytes.remove_prefix(n);
        }
        while (!bytes.empty()) { // full: overwrite the oldest
            const std::size_t n = std::min(bytes.size(), m_capacity - m_head);
            std::memcpy(m_data.data() + m_head, bytes.data(), n);
            m_head = (m_head + n) % m_capacity;
            bytes.remove_prefix(n);
        }
    }

    // Offset of the oldest byte kept, and of the end of the stream.
    std::uint64_t begin() const { return m_total - m_data.size(); }
    std::uint64_t end() const { return m_total; }
    std::size_t size() const { return m_data.size(); }
    std::size_t capacity() const { return m_capacity; }

    // At most maxBytes from offset (an offset past the end reads nothing
    // and next is the end).
    Slice read(std::uint64_t offset, std::size_t maxBytes) const
    {
        Slice slice;
        if (offset < begin()) {
            slice.truncated = true;
            offset = begin();
        }
        offset = std::min(offset, end());
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(maxBytes, end() - offset));
        const std::size_t first = (m_head + static_cast<std::size_t>(offset - begin())) % std::max<std::size_t>(m_data.size(), 1);
        const std::size_t firstPart = std::min(n, m_data.size() - first);
        slice.data.reserve(n);
        slice.data.append(m_data, first, firstPart);
        slice.data.append(m_data, 0, n - firstPart);
        slice.next = offset + n;
        return slice;
    }

private:
    const std::size_t m_capacity;
    std::string m_data; // logical order starts at m_head
    std::size_t m_head = 0;
    std::uint64_t m_total = 0;
};

} // namespace GuestAgent
