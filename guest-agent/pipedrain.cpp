#include "pipedrain.h"

#include "util.h"

#include <cerrno>
#include <poll.h>
#include <unistd.h>

namespace GuestAgent {

PipeDrain::PipeDrain(EventLoop &loop)
    : m_loop(loop)
{
}

void PipeDrain::adopt(UniqueFd fd)
{
    if (!fd.valid())
        return;
    if (m_pipes.size() >= kMaxPipes) {
        logMessage("exec: %zu background output pipes held, closing the oldest", m_pipes.size());
        m_pipes.erase(m_pipes.begin());
    }
    setNonBlocking(fd.get(), true);
    const std::uint64_t key = m_nextKey++;
    Pipe &pipe = m_pipes[key];
    pipe.fd = std::move(fd);
    pipe.watch = WatchHandle(&m_loop, m_loop.addWatch(pipe.fd.get(), POLLIN, [this, key](short) { onReadable(key); }));
}

void PipeDrain::onReadable(std::uint64_t key)
{
    const auto it = m_pipes.find(key);
    if (it == m_pipes.end())
        return;
    static char scratch[kReadChunk];
    const ssize_t n = ::read(it->second.fd.get(), scratch, sizeof scratch);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
        return;
    m_pipes.erase(it); // EOF: the last writer is gone (or an error)
}

} // namespace GuestAgent
