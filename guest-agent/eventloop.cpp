#include "eventloop.h"

#include "util.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace GuestAgent {

namespace {

int g_signalWriteFd = -1;

void onSignal(int signo)
{
    const int savedErrno = errno;
    const char c = signo == SIGCHLD ? 'C' : 'T';
    if (g_signalWriteFd >= 0) [[maybe_unused]]
        const ssize_t n = ::write(g_signalWriteFd, &c, 1);
    errno = savedErrno;
}

} // namespace

EventLoop::EventLoop() = default;

EventLoop::~EventLoop()
{
    if (g_signalWriteFd == m_signalPipe[1])
        g_signalWriteFd = -1;
    for (int fd : m_signalPipe) {
        if (fd >= 0)
            ::close(fd);
    }
}

bool EventLoop::init()
{
    if (::pipe2(m_signalPipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        logMessage("self-pipe: %s", errnoText(errno).c_str());
        return false;
    }
    g_signalWriteFd = m_signalPipe[1];

    struct sigaction sa { };
    sa.sa_handler = onSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, nullptr);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    return true;
}

std::uint64_t EventLoop::addWatch(int fd, short events, IoCallback callback)
{
    const std::uint64_t id = m_nextId++;
    Watch w;
    w.fd = fd;
    w.events = events;
    w.callback = std::move(callback);
    m_watches.emplace(id, std::move(w));
    return id;
}

void EventLoop::setWatchEvents(std::uint64_t id, short events)
{
    const auto it = m_watches.find(id);
    if (it != m_watches.end())
        it->second.events = events;
}

void EventLoop::removeWatch(std::uint64_t id)
{
    const auto it = m_watches.find(id);
    if (it == m_watches.end())
        return;
    // Erased after dispatch: the callback may be the one running right now.
    it->second.alive = false;
    it->second.events = 0;
    m_hasDeadWatches = true;
}

std::uint64_t EventLoop::addTimer(std::uint64_t delayMs, Task callback)
{
    const std::uint64_t id = m_nextId++;
    m_timers.emplace(id, Timer{monotonicMs() + delayMs, std::move(callback)});
    return id;
}

void EventLoop::removeTimer(std::uint64_t id)
{
    m_timers.erase(id);
}

void EventLoop::post(Task task)
{
    m_posted.push_back(std::move(task));
}

void EventLoop::watchChild(pid_t pid, ChildCallback callback)
{
    m_children[pid] = std::move(callback);
}

void EventLoop::unwatchChild(pid_t pid)
{
    m_children.erase(pid);
}

void EventLoop::quit(int exitCode)
{
    m_quit = true;
    m_exitCode = exitCode;
}

void EventLoop::runPosted()
{
    // Tasks may post more tasks: those run on the next pass.
    std::vector<Task> tasks;
    tasks.swap(m_posted);
    for (auto &task : tasks) {
        if (m_quit)
            return;
        task();
    }
}

int EventLoop::pollTimeout() const
{
    if (!m_posted.empty())
        return 0;
    if (m_timers.empty())
        return -1;
    std::uint64_t nearest = UINT64_MAX;
    for (const auto &[id, timer] : m_timers)
        nearest = timer.deadlineMs < nearest ? timer.deadlineMs : nearest;
    const std::uint64_t now = monotonicMs();
    if (nearest <= now)
        return 0;
    const std::uint64_t wait = nearest - now;
    return wait > 60000 ? 60000 : static_cast<int>(wait);
}

void EventLoop::fireTimers()
{
    const std::uint64_t now = monotonicMs();
    std::vector<std::uint64_t> due;
    for (const auto &[id, timer] : m_timers) {
        if (timer.deadlineMs <= now)
            due.push_back(id);
    }
    for (const std::uint64_t id : due) {
        const auto it = m_timers.find(id);
        if (it == m_timers.end())
            continue; // removed by an earlier timer
        Task cb = std::move(it->second.callback);
        m_timers.erase(it);
        cb();
        if (m_quit)
            return;
    }
}

void EventLoop::handleSignalPipe()
{
    char buf[64];
    bool child = false;
    bool terminate = false;
    for (;;) {
        const ssize_t n = ::read(m_signalPipe[0], buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == 'C')
                child = true;
            else
                terminate = true;
        }
    }
    if (child)
        reapChildren();
    if (terminate) {
        if (m_terminateHandler)
            m_terminateHandler();
        else
            quit(0);
    }
}

void EventLoop::reapChildren()
{
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        const auto it = m_children.find(pid);
        if (it == m_children.end())
            continue;
        ChildCallback cb = std::move(it->second);
        m_children.erase(it);
        cb(status);
    }
}

int EventLoop::run()
{
    std::vector<pollfd> fds;
    std::vector<std::uint64_t> ids;
    while (!m_quit) {
        runPosted();
        if (m_quit)
            break;

        fds.clear();
        ids.clear();
        fds.push_back(pollfd{m_signalPipe[0], POLLIN, 0});
        ids.push_back(0);
        for (const auto &[id, w] : m_watches) {
            if (w.alive && w.events != 0) {
                fds.push_back(pollfd{w.fd, w.events, 0});
                ids.push_back(id);
            }
        }

        const int n = ::poll(fds.data(), fds.size(), pollTimeout());
        if (n < 0 && errno != EINTR) {
            logMessage("poll: %s", errnoText(errno).c_str());
            ::usleep(10000);
        }
        if (n > 0) {
            if (fds[0].revents != 0)
                handleSignalPipe();
            for (std::size_t i = 1; i < fds.size() && !m_quit; ++i) {
                if (fds[i].revents == 0)
                    continue;
                const auto it = m_watches.find(ids[i]);
                // Skip watches removed, or re-armed to other events, by an
                // earlier callback of this pass.
                if (it == m_watches.end() || !it->second.alive || it->second.fd != fds[i].fd)
                    continue;
                const short relevant = static_cast<short>(fds[i].revents & (it->second.events | POLLHUP | POLLERR | POLLNVAL));
                if (relevant == 0 || it->second.events == 0)
                    continue;
                it->second.callback(relevant);
            }
        }
        if (!m_quit)
            fireTimers();

        if (m_hasDeadWatches) {
            for (auto it = m_watches.begin(); it != m_watches.end();) {
                if (it->second.alive)
                    ++it;
                else
                    it = m_watches.erase(it);
            }
            m_hasDeadWatches = false;
        }
    }
    return m_exitCode;
}

} // namespace GuestAgent
