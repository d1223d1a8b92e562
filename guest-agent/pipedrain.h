#pragma once
// Where the output pipes of an exec go once its answer is sent: a command's
// main process ended, but a background child (`server &`) still holds them.
// The drain keeps reading and discarding until each pipe's last writer is
// gone, so such a child never blocks on a full pipe nor dies of SIGPIPE.
// Bounded: at most kMaxPipes are held; past that the oldest is closed (its
// writers then get EPIPE, as with a closed terminal).

#include "eventloop.h"
#include "uniquefd.h"

#include <cstddef>
#include <cstdint>
#include <map>

namespace GuestAgent {

class PipeDrain {
public:
    static constexpr std::size_t kMaxPipes = 256;
    // Most bytes read from one pipe per wake-up (then the loop goes on).
    static constexpr std::size_t kReadChunk = 64 * 1024;

    explicit PipeDrain(EventLoop &loop);
    PipeDrain(const PipeDrain &) = delete;
    PipeDrain &operator=(const PipeDrain &) = delete;

    // Takes the read end of a pipe (made non-blocking here).
    void adopt(UniqueFd fd);
    std::size_t size() const { return m_pipes.size(); }

private:
    struct Pipe {
        UniqueFd fd;
        WatchHandle watch;
    };
    void onReadable(std::uint64_t key);

    EventLoop &m_loop;
    std::uint64_t m_nextKey = 1;
    std::map<std::uint64_t, Pipe> m_pipes; // oldest first
};

} // namespace GuestAgent
