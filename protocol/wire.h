#pragma once
// Wire format of the guest-agent protocol: one multiplexed stream of frames
// over one byte stream (virtio-serial port on QEMU, vsock on cloud-hypervisor).
//
// Every frame is a 12-byte little-endian header followed by `length` payload
// bytes:
//
//   offset 0  u16  magic   0x4D56 ("VM" on the wire), lets a reader resync
//   offset 2  u8   type    MsgType
//   offset 3  u8   flags   reserved, always 0 (a reader treats non-zero as
//                          stale bytes and keeps resyncing)
//   offset 4  u32  stream  0 = connection level, otherwise a host-chosen id
//   offset 8  u32  length  payload size, never above the receiver's maximum
//
// Payloads are built from the primitives below (integers little-endian,
// strings and byte blobs as u32 length + bytes, lists as u32 count + items).
// Plain C++20, no Qt: the static guest agent and the Qt core both include it.

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace Protocol {

inline constexpr std::uint16_t kMagic = 0x4D56;
// 2: per-stream flow control (StreamCredit, kStreamWindow). Both sides
// refuse a peer of another version in the handshake.
inline constexpr std::uint16_t kVersion = 2;
// How an agent's Error (code Protocol, stream 0) refusing a Hello of another
// version begins; version 1 agents word it the same way.
inline constexpr std::string_view kVersionRefusal = "unsupported protocol version";
inline constexpr std::size_t kHeaderSize = 12;
// Largest payload either side accepts before the handshake, and the default
// it announces. Each side announces the largest payload it will accept in
// Hello/HelloAck; a sender never exceeds the peer's announced maximum.
inline constexpr std::uint32_t kDefaultMaxPayload = 1u << 20;
// Hard ceiling: a receiver never accepts more than this whatever was announced.
inline constexpr std::uint32_t kMaxPayloadCeiling = 16u << 20;
// Chunk size used for file and stream data, well under kDefaultMaxPayload.
inline constexpr std::uint32_t kDataChunk = 1024u * 1024u;
// Flow control: the bytes of data (ExecStdout, ExecStderr, FileData,
// StreamData) the agent may send on one stream before the host grants more
// with StreamCredit. Every stream starts with this much credit.
inline constexpr std::uint32_t kStreamWindow = 1u << 20;
// The host grants credit back in batches of this many bytes.
inline constexpr std::uint32_t kCreditBatch = kStreamWindow / 4;

struct FrameHeader {
    std::uint8_t type = 0;
    std::uint8_t flags = 0;
    std::uint32_t stream = 0;
    std::uint32_t length = 0;
};

class Writer {
public:
    void u8(std::uint8_t v) { m_buf.push_back(static_cast<char>(v)); }
    void u16(std::uint16_t v) { putLe(v, 2); }
    void u32(std::uint32_t v) { putLe(v, 4); }
    void u64(std::uint64_t v) { putLe(v, 8); }
    void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
    void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
    void boolean(bool v) { u8(v ? 1 : 0); }
    void str(std::string_view s)
    {
        u32(static_cast<std::uint32_t>(s.size()));
        m_buf.append(s.data(), s.size());
    }
    void strList(const std::vector<std::string> &list)
    {
        u32(static_cast<std::uint32_t>(list.size()));
        for (const auto &s : list)
            str(s);
    }
    // Raw bytes with no length prefix: only as the last field of a payload.
    void raw(std::string_view s) { m_buf.append(s.data(), s.size()); }

    const std::string &data() const { return m_buf; }
    std::string take() { return std::move(m_buf); }

private:
    void putLe(std::uint64_t v, int n)
    {
        for (int i = 0; i < n; ++i)
            m_buf.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    }
    std::string m_buf;
};

// Reads primitives; once a read runs past the end, ok() stays false and
// every later read returns a zero value, so decoders check ok() once.
class Reader {
public:
    explicit Reader(std::string_view data)
        : m_data(data)
    {
    }

    std::uint8_t u8() { return static_cast<std::uint8_t>(getLe(1)); }
    std::uint16_t u16() { return static_cast<std::uint16_t>(getLe(2)); }
    std::uint32_t u32() { return static_cast<std::uint32_t>(getLe(4)); }
    std::uint64_t u64() { return getLe(8); }
    std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
    std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
    bool boolean() { return u8() != 0; }
    std::string str()
    {
        const std::uint32_t n = u32();
        if (!m_ok || n > m_data.size() - m_pos) {
            m_ok = false;
            return {};
        }
        std::string s(m_data.substr(m_pos, n));
        m_pos += n;
        return s;
    }
    std::vector<std::string> strList()
    {
        const std::uint32_t n = u32();
        std::vector<std::string> out;
        // Each item needs at least its 4-byte length: bound the count by the
        // bytes left so a hostile count cannot make us allocate.
        if (!m_ok || n > (m_data.size() - m_pos) / 4) {
            m_ok = false;
            return out;
        }
        out.reserve(n);
        for (std::uint32_t i = 0; i < n && m_ok; ++i)
            out.push_back(str());
        return out;
    }
    // Everything not yet read.
    std::string_view rest()
    {
        std::string_view r = m_data.substr(m_pos);
        m_pos = m_data.size();
        return r;
    }

    bool ok() const { return m_ok; }
    bool atEnd() const { return m_pos == m_data.size(); }
    std::size_t remaining() const { return m_data.size() - m_pos; }

private:
    std::uint64_t getLe(std::size_t n)
    {
        if (!m_ok || m_data.size() - m_pos < n) {
            m_ok = false;
            return 0;
        }
        std::uint64_t v = 0;
        for (std::size_t i = 0; i < n; ++i)
            v |= static_cast<std::uint64_t>(static_cast<unsigned char>(m_data[m_pos + i])) << (8 * i);
        m_pos += n;
        return v;
    }

    std::string_view m_data;
    std::size_t m_pos = 0;
    bool m_ok = true;
};

inline void encodeHeader(char *out, const FrameHeader &h)
{
    auto put = [&out](std::uint64_t v, int n) {
        for (int i = 0; i < n; ++i)
            *out++ = static_cast<char>((v >> (8 * i)) & 0xff);
    };
    put(kMagic, 2);
    put(h.type, 1);
    put(h.flags, 1);
    put(h.stream, 4);
    put(h.length, 4);
}

// A complete frame (header + payload) ready to write.
inline std::string encodeFrame(std::uint8_t type, std::uint32_t stream, std::string_view payload)
{
    std::string frame(kHeaderSize + payload.size(), '\0');
    encodeHeader(frame.data(), FrameHeader{type, 0, stream, static_cast<std::uint32_t>(payload.size())});
    if (!payload.empty())
        std::memcpy(frame.data() + kHeaderSize, payload.data(), payload.size());
    return frame;
}

} // namespace Protocol
