#pragma once
// Single-threaded poll(2) loop: fd watches, one-shot timers, posted tasks and
// child-exit notifications (SIGCHLD through a self-pipe). Everything the
// agent does runs from here.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace GuestAgent {

class EventLoop {
public:
    using IoCallback = std::function<void(short revents)>;
    using Task = std::function<void()>;
    using ChildCallback = std::function<void(int status)>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop &) = delete;
    EventLoop &operator=(const EventLoop &) = delete;

    // Installs the SIGCHLD/SIGTERM/SIGINT handlers. False if the self-pipe
    // cannot be created.
    bool init();

    // A watch with events == 0 is not polled at all (not even for POLLHUP).
    std::uint64_t addWatch(int fd, short events, IoCallback callback);
    void setWatchEvents(std::uint64_t id, short events);
    // Safe from inside callbacks: the callback is not called again.
    void removeWatch(std::uint64_t id);

    std::uint64_t addTimer(std::uint64_t delayMs, Task callback);
    void removeTimer(std::uint64_t id);

    // Runs the task from the loop after the current callback returns.
    void post(Task task);

    // Calls back once when the child is reaped. Unwatched children are still
    // reaped, silently.
    void watchChild(pid_t pid, ChildCallback callback);
    void unwatchChild(pid_t pid);

    // Called on SIGTERM/SIGINT; the default quits the loop with status 0.
    void setTerminateHandler(Task handler) { m_terminateHandler = std::move(handler); }

    int run();
    void quit(int exitCode);

private:
    struct Watch {
        int fd = -1;
        short events = 0;
        bool alive = true;
        IoCallback callback;
    };
    struct Timer {
        std::uint64_t deadlineMs = 0;
        Task callback;
    };

    void handleSignalPipe();
    void reapChildren();
    void runPosted();
    void fireTimers();
    int pollTimeout() const;

    std::map<std::uint64_t, Watch> m_watches;
    std::map<std::uint64_t, Timer> m_timers;
    std::vector<Task> m_posted;
    std::map<pid_t, ChildCallback> m_children;
    std::uint64_t m_nextId = 1;
    bool m_hasDeadWatches = false;
    bool m_quit = false;
    int m_exitCode = 0;
    int m_signalPipe[2] = {-1, -1};
    Task m_terminateHandler;
};

// RAII handle for a watch: removes it on destruction or reset().
class WatchHandle {
public:
    WatchHandle() = default;
    WatchHandle(EventLoop *loop, std::uint64_t id)
        : m_loop(loop)
        , m_id(id)
    {
    }
    ~WatchHandle() { reset(); }
    WatchHandle(WatchHandle &&other) noexcept
        : m_loop(other.m_loop)
        , m_id(other.m_id)
    {
        other.m_id = 0;
    }
    WatchHandle &operator=(WatchHandle &&other) noexcept
    {
        if (this != &other) {
            reset();
            m_loop = other.m_loop;
            m_id = other.m_id;
            other.m_id = 0;
        }
        return *this;
    }
    WatchHandle(const WatchHandle &) = delete;
    WatchHandle &operator=(const WatchHandle &) = delete;

    bool active() const { return m_id != 0; }
    void setEvents(short events)
    {
        if (m_id != 0 && events != m_events) {
            m_events = events;
            m_loop->setWatchEvents(m_id, events);
        }
    }
    void reset()
    {
        if (m_id != 0)
            m_loop->removeWatch(m_id);
        m_id = 0;
        m_events = -1;
    }

private:
    EventLoop *m_loop = nullptr;
    std::uint64_t m_id = 0;
    short m_events = -1;
};

// RAII handle for a one-shot timer.
class TimerHandle {
public:
    TimerHandle() = default;
    ~TimerHandle() { stop(); }
    TimerHandle(const TimerHandle &) = delete;
    TimerHandle &operator=(const TimerHandle &) = delete;

    void start(EventLoop &loop, std::uint64_t delayMs, EventLoop::Task callback)
    {
        stop();
        m_loop = &loop;
        m_id = loop.addTimer(delayMs, [this, cb = std::move(callback)] {
            m_id = 0; // fired: nothing left to remove
            cb();
        });
    }
    void stop()
    {
        if (m_id != 0)
            m_loop->removeTimer(m_id);
        m_id = 0;
    }
    bool active() const { return m_id != 0; }

private:
    EventLoop *m_loop = nullptr;
    std::uint64_t m_id = 0;
};

} // namespace GuestAgent
