#pragma once
// File transfer streams: FilePutStream (host -> guest, written to a temp file
// and renamed into place) and FileGetStream (guest -> host, paced by the
// session's backpressure).

#include "stream.h"
#include "uniquefd.h"

#include <cstdint>
#include <string>

namespace GuestAgent {

class FilePutStream final : public Stream {
public:
    FilePutStream(Session &session, std::uint32_t id);
    ~FilePutStream() override;

    void start(const Protocol::FilePut &request);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    void cancel() override;
    void release() override;

private:
    void fail(Protocol::ErrorCode code, const std::string &message);
    void writeData(std::string_view data);
    void commit();

    std::string m_path;
    std::string m_dir;
    std::string m_tempPath; // non-empty while the temp file exists
    UniqueFd m_file;
    std::uint32_t m_mode = 0644;
    std::uint32_t m_flags = 0;
    std::uint64_t m_expected = 0;
    std::uint64_t m_written = 0;
    bool m_released = false;
};

class FileGetStream final : public Stream {
public:
    FileGetStream(Session &session, std::uint32_t id);
    ~FileGetStream() override;

    void start(const std::string &path);

    void handleFrame(Protocol::MsgType type, std::string_view payload) override;
    void cancel() override;
    void release() override;
    void outputResumed() override;

private:
    void fail(Protocol::ErrorCode code, const std::string &message);
    void schedulePump();
    void pump();

    std::string m_path;
    UniqueFd m_file;
    bool m_pumpPosted = false;
    bool m_waiting = false; // paused by backpressure
    bool m_released = false;
};

} // namespace GuestAgent
