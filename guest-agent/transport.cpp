#include "transport.h"

#include "util.h"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include <cstring>

namespace GuestAgent {

namespace {

constexpr std::uint64_t kRetryLogIntervalMs = 30000;
constexpr const char *kVirtioPortsDir = "/sys/class/virtio-ports";

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

} // namespace

// ================================================================ Transport

void Transport::logRetry(const std::string &error)
{
    const std::uint64_t now = monotonicMs();
    if (error == m_lastError && now - m_lastLogMs < kRetryLogIntervalMs)
        return;
    m_lastError = error;
    m_lastLogMs = now;
    logMessage("%s: %s (retrying every %llu ms)", describe().c_str(), error.c_str(), static_cast<unsigned long long>(kRetryMs));
}

void Transport::logOpened(const std::string &what)
{
    m_lastError.clear();
    logMessage("%s: %s", describe().c_str(), what.c_str());
}

// ================================================================ FdTransport

void FdTransport::start()
{
    if (m_fd < 0 || ::fcntl(m_fd, F_GETFL) < 0) {
        logMessage("%s: not an open file descriptor", describe().c_str());
        m_loop.quit(1);
        return;
    }
    setNonBlocking(m_fd, true);
    setCloseOnExec(m_fd);
    m_session = std::make_unique<Session>(m_loop, UniqueFd(m_fd), Session::Mode::Socket, describe(), m_config, [this] {
        logMessage("%s: closed, exiting", describe().c_str());
        m_loop.quit(0);
    });
    m_session->start();
}

// ================================================================ ListenTransport

void ListenTransport::start()
{
    tryOpen();
}

void ListenTransport::tryOpen()
{
    std::string error;
    m_listener = openListener(&error);
    if (!m_listener.valid()) {
        logRetry(error);
        m_timer.start(m_loop, kRetryMs, [this] { tryOpen(); });
        return;
    }
    logOpened("listening");
    m_watch = WatchHandle(&m_loop, m_loop.addWatch(m_listener.get(), POLLIN, [this](short) { onAcceptable(); }));
}

void ListenTransport::onAcceptable()
{
    for (int i = 0; i < 16; ++i) {
        const int fd = ::accept4(m_listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            logMessage("%s: accept: %s", describe().c_str(), errnoText(errno).c_str());
            // Out of fds or memory: back off instead of spinning on POLLIN.
            m_watch.setEvents(0);
            m_timer.start(m_loop, kRetryMs, [this] { m_watch.setEvents(POLLIN); });
            return;
        }
        const std::uint64_t key = m_nextSession++;
        const std::string name = describe() + "#" + std::to_string(key);
        auto session = std::make_unique<Session>(m_loop, UniqueFd(fd), Session::Mode::Socket, name, m_config, [this, key] { m_sessions.erase(key); });
        Session *raw = session.get();
        m_sessions.emplace(key, std::move(session));
        raw->start();
    }
}

// ================================================================ UnixTransport

UnixTransport::~UnixTransport()
{
    if (m_bound)
        ::unlink(m_path.c_str());
}

UniqueFd UnixTransport::openListener(std::string *error)
{
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (m_path.empty() || m_path.size() >= sizeof addr.sun_path) {
        *error = "socket path is empty or too long";
        return {};
    }
    std::memcpy(addr.sun_path, m_path.c_str(), m_path.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
        *error = errnoMessage("socket", {}, errno);
        return {};
    }
    ::unlink(m_path.c_str()); // a stale socket from an earlier run
    if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0) {
        *error = errnoMessage("bind", m_path, errno);
        return {};
    }
    m_bound = true;
    if (::listen(fd.get(), 16) != 0) {
        *error = errnoMessage("listen", m_path, errno);
        return {};
    }
    return fd;
}

// ================================================================ VsockTransport

UniqueFd VsockTransport::openListener(std::string *error)
{
    UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
        *error = errnoMessage("socket(AF_VSOCK)", {}, errno);
        return {};
    }
    sockaddr_vm addr{};
    addr.svm_family = AF_VSOCK;
    addr.svm_cid = VMADDR_CID_ANY;
    addr.svm_port = m_port;
    if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0) {
        *error = errnoMessage("bind", {}, errno);
        return {};
    }
    if (::listen(fd.get(), 16) != 0) {
        *error = errnoMessage("listen", {}, errno);
        return {};
    }
    return fd;
}

// ================================================================ SerialTransport

std::string SerialTransport::describe() const
{
    return m_path == "auto" ? "serial:" + m_portName : "serial:" + m_path;
}

void SerialTransport::start()
{
    tryOpen();
}

std::string SerialTransport::findPort(std::string *error) const
{
    DIR *dir = ::opendir(kVirtioPortsDir);
    if (!dir) {
        *error = errnoMessage("open", kVirtioPortsDir, errno);
        return {};
    }
    std::string found;
    while (const dirent *entry = ::readdir(dir)) {
        const std::string port = entry->d_name;
        if (port == "." || port == "..")
            continue;
        const std::string base = std::string(kVirtioPortsDir) + "/" + port;
        if (trimmed(readSmallFile((base + "/name").c_str())) == m_portName) {
            found = port;
            break;
        }
    }
    ::closedir(dir);
    if (found.empty()) {
        *error = "no virtio-serial port named " + m_portName;
        return {};
    }

    const std::string device = "/dev/" + found;
    struct stat st { };
    if (::stat(device.c_str(), &st) == 0)
        return device;
    // No udev in the initramfs: create the node from sysfs "major:minor".
    const std::string dev = trimmed(readSmallFile((std::string(kVirtioPortsDir) + "/" + found + "/dev").c_str()));
    unsigned major = 0;
    unsigned minor = 0;
    if (std::sscanf(dev.c_str(), "%u:%u", &major, &minor) != 2) {
        *error = "cannot read the device number of " + found;
        return {};
    }
    if (::mknod(device.c_str(), S_IFCHR | 0600, makedev(major, minor)) != 0 && errno != EEXIST) {
        *error = errnoMessage("mknod", device, errno);
        return {};
    }
    return device;
}

void SerialTransport::tryOpen()
{
    std::string error;
    const std::string device = m_path == "auto" ? findPort(&error) : m_path;
    UniqueFd fd;
    if (!device.empty()) {
        fd.reset(::open(device.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        if (!fd.valid())
            error = errnoMessage("open", device, errno);
    }
    if (!fd.valid()) {
        logRetry(error);
        m_timer.start(m_loop, kRetryMs, [this] { tryOpen(); });
        return;
    }
    if (::isatty(fd.get())) {
        // A tty (e.g. a console port or a pty in tests) must pass bytes raw.
        termios tio{};
        if (::tcgetattr(fd.get(), &tio) == 0) {
            ::cfmakeraw(&tio);
            ::tcsetattr(fd.get(), TCSANOW, &tio);
        }
    }
    logOpened("opened " + device);
    m_session = std::make_unique<Session>(m_loop, std::move(fd), Session::Mode::Serial, describe(), m_config, [this] {
        // The port went away (hot-unplug, I/O error): reopen it.
        m_session.reset();
        m_timer.start(m_loop, kRetryMs, [this] { tryOpen(); });
    });
    m_session->start();
}

} // namespace GuestAgent
