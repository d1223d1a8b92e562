#pragma once
// Incremental frame parser shared by the guest agent and the host client.
// Feed it whatever bytes arrived; take complete frames out with next().

#include "protocol/wire.h"

#include <optional>

namespace Protocol {

struct Frame {
    FrameHeader header;
    std::string payload;
};

class FrameReader {
public:
    enum class Status { Frame, NeedMore, Oversize };

    explicit FrameReader(std::uint32_t maxPayload = kDefaultMaxPayload)
        : m_maxPayload(maxPayload)
    {
    }

    void setMaxPayload(std::uint32_t max) { m_maxPayload = max < kMaxPayloadCeiling ? max : kMaxPayloadCeiling; }
    std::uint32_t maxPayload() const { return m_maxPayload; }

    void feed(const char *data, std::size_t n) { m_buf.append(data, n); }
    void feed(std::string_view s) { m_buf.append(s.data(), s.size()); }

    // Bytes skipped so far while looking for a frame start (garbage on the
    // line, for example left over from a previous session on a serial port).
    std::uint64_t skippedBytes() const { return m_skipped; }
    std::size_t buffered() const { return m_buf.size() - m_pos; }
    // Header of the frame that was refused as oversize.
    const FrameHeader &lastHeader() const { return m_last; }

    // Frame: *out holds the next frame. NeedMore: feed more bytes.
    // Oversize: the next frame announces a payload above the maximum; the
    // connection is broken (the caller reports a protocol error and resets).
    Status next(Frame *out)
    {
        for (;;) {
            const std::size_t avail = m_buf.size() - m_pos;
            if (avail < 2) {
                compact();
                return Status::NeedMore;
            }
            const auto *p = reinterpret_cast<const unsigned char *>(m_buf.data() + m_pos);
            if ((p[0] | (p[1] << 8)) != kMagic) {
                ++m_pos;
                ++m_skipped;
                continue;
            }
            if (avail < kHeaderSize) {
                compact();
                return Status::NeedMore;
            }
            Reader r(std::string_view(m_buf.data() + m_pos + 2, kHeaderSize - 2));
            m_last.type = r.u8();
            m_last.flags = r.u8();
            if (m_last.flags != 0) {
                // Flags are reserved (always 0): this is not a frame start but
                // stale bytes that happen to hold the magic. Keep resyncing.
                ++m_pos;
                ++m_skipped;
                continue;
            }
            m_last.stream = r.u32();
            m_last.length = r.u32();
            if (m_last.length > m_maxPayload)
                return Status::Oversize;
            if (avail < kHeaderSize + m_last.length) {
                compact();
                return Status::NeedMore;
            }
            out->header = m_last;
            out->payload.assign(m_buf.data() + m_pos + kHeaderSize, m_last.length);
            m_pos += kHeaderSize + m_last.length;
            return Status::Frame;
        }
    }

    // Drop everything buffered (after a protocol error, before a new session).
    void reset()
    {
        m_buf.clear();
        m_pos = 0;
    }

private:
    void compact()
    {
        if (m_pos > 0 && (m_pos > 65536 || m_pos == m_buf.size())) {
            m_buf.erase(0, m_pos);
            m_pos = 0;
        }
    }

    std::string m_buf;
    std::size_t m_pos = 0;
    std::uint32_t m_maxPayload;
    std::uint64_t m_skipped = 0;
    FrameHeader m_last;
};

} // namespace Protocol
