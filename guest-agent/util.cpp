#include "util.h"

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace GuestAgent {

namespace {
std::uint64_t g_startMs = 0;
}

void logMessage(const char *format, ...)
{
    char buf[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buf, sizeof buf, format, args);
    va_end(args);
    std::fprintf(stderr, "microvm-agent: %s\n", buf);
    std::fflush(stderr);
}

std::uint64_t monotonicUs()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000u + static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
}

std::uint64_t monotonicMs()
{
    return monotonicUs() / 1000u;
}

void markAgentStart()
{
    g_startMs = monotonicMs();
}

std::uint64_t agentUptimeMs()
{
    return monotonicMs() - g_startMs;
}

bool setNonBlocking(int fd, bool on)
{
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return false;
    const int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
    return wanted == flags || fcntl(fd, F_SETFL, wanted) == 0;
}

bool setCloseOnExec(int fd)
{
    const int flags = fcntl(fd, F_GETFD);
    return flags >= 0 && fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0;
}

std::string errnoText(int err)
{
    char buf[256];
    // GNU strerror_r returns a pointer that may or may not be buf.
    const char *s = strerror_r(err, buf, sizeof buf);
    return s ? std::string(s) : std::string("error ") + std::to_string(err);
}

Protocol::ErrorCode errorCodeFromErrno(int err)
{
    using Protocol::ErrorCode;
    switch (err) {
    case ENOENT: return ErrorCode::NotFound;
    case EACCES:
    case EPERM:
    case EROFS: return ErrorCode::PermissionDenied;
    case ENOSPC:
    case EDQUOT: return ErrorCode::NoSpace;
    case EISDIR: return ErrorCode::IsDirectory;
    case ENOTDIR: return ErrorCode::NotDirectory;
    case EEXIST: return ErrorCode::Exists;
    case EINVAL:
    case ENAMETOOLONG: return ErrorCode::InvalidArgument;
    case ECONNREFUSED: return ErrorCode::ConnectionRefused;
    case EFBIG: return ErrorCode::TooLarge;
    default: return ErrorCode::Io;
    }
}

std::string errnoMessage(std::string_view op, std::string_view subject, int err)
{
    std::string msg(op);
    if (!subject.empty()) {
        msg += ' ';
        msg += subject;
    }
    msg += ": ";
    msg += errnoText(err);
    return msg;
}

std::string readSmallFile(const char *path)
{
    std::string out;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || out.size() > (1u << 20))
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

bool hasNul(std::string_view s)
{
    return s.find('\0') != std::string_view::npos;
}

} // namespace GuestAgent
