#include "sysinfo.h"

#include "netconfig.h"
#include "util.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace GuestAgent {

namespace {

std::string trimmed(std::string s)
{
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r'))
        s.pop_back();
    return s;
}

// "MemTotal:  123 kB" -> 123
std::uint64_t meminfoField(const std::string &meminfo, const char *key)
{
    const std::size_t keyLen = std::strlen(key);
    std::size_t pos = 0;
    while (pos < meminfo.size()) {
        if (meminfo.compare(pos, keyLen, key) == 0 && pos + keyLen < meminfo.size() && meminfo[pos + keyLen] == ':')
            return std::strtoull(meminfo.c_str() + pos + keyLen + 1, nullptr, 10);
        pos = meminfo.find('\n', pos);
        if (pos == std::string::npos)
            break;
        ++pos;
    }
    return 0;
}

Protocol::FileType fileType(mode_t mode)
{
    using Protocol::FileType;
    if (S_ISREG(mode))
        return FileType::Regular;
    if (S_ISDIR(mode))
        return FileType::Directory;
    if (S_ISLNK(mode))
        return FileType::Symlink;
    if (S_ISCHR(mode))
        return FileType::CharDevice;
    if (S_ISBLK(mode))
        return FileType::BlockDevice;
    if (S_ISFIFO(mode))
        return FileType::Fifo;
    if (S_ISSOCK(mode))
        return FileType::Socket;
    return FileType::Other;
}

void fillInfo(const struct stat &st, Protocol::FileInfo *info)
{
    info->type = fileType(st.st_mode);
    info->mode = st.st_mode & 07777;
    info->size = static_cast<std::uint64_t>(st.st_size);
    info->mtimeSec = static_cast<std::int64_t>(st.st_mtim.tv_sec);
    info->uid = st.st_uid;
    info->gid = st.st_gid;
}

std::string readLinkAt(int dirFd, const char *path, std::size_t sizeHint)
{
    std::string target(std::max<std::size_t>(sizeHint, 255) + 1, '\0');
    for (int attempt = 0; attempt < 4; ++attempt) {
        const ssize_t n = ::readlinkat(dirFd, path, target.data(), target.size());
        if (n < 0)
            return {};
        if (static_cast<std::size_t>(n) < target.size()) {
            target.resize(static_cast<std::size_t>(n));
            return target;
        }
        target.resize(target.size() * 2);
    }
    return {};
}

} // namespace

std::string bootId()
{
    return trimmed(readSmallFile("/proc/sys/kernel/random/boot_id"));
}

Protocol::HealthResult collectHealth(std::uint32_t activeStreams)
{
    Protocol::HealthResult h;
    h.agentVersion = MVS_AGENT_VERSION;
    h.agentUptimeMs = agentUptimeMs();
    h.systemUptimeMs = static_cast<std::uint64_t>(std::strtod(readSmallFile("/proc/uptime").c_str(), nullptr) * 1000.0);
    const std::string meminfo = readSmallFile("/proc/meminfo");
    h.memTotalKiB = meminfoField(meminfo, "MemTotal");
    h.memAvailableKiB = meminfoField(meminfo, "MemAvailable");
    h.load1Milli = static_cast<std::uint32_t>(std::strtod(readSmallFile("/proc/loadavg").c_str(), nullptr) * 1000.0);
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    h.cpus = cpus > 0 ? static_cast<std::uint32_t>(cpus) : 0;
    h.activeStreams = activeStreams;
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) == 0)
        h.hostname = host;
    utsname uts{};
    if (::uname(&uts) == 0)
        h.kernel = std::string(uts.sysname) + " " + uts.release;
    h.interfaces = NetConfig::interfaces();
    return h;
}

int statPath(const std::string &path, Protocol::FileInfo *info)
{
    struct stat st { };
    if (::lstat(path.c_str(), &st) != 0)
        return errno;
    info->name = path;
    fillInfo(st, info);
    if (S_ISLNK(st.st_mode))
        info->linkTarget = readLinkAt(AT_FDCWD, path.c_str(), static_cast<std::size_t>(st.st_size));
    return 0;
}

int listDirectory(const std::string &path, std::vector<Protocol::FileInfo> *entries)
{
    const int dirFd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirFd < 0)
        return errno;
    DIR *dir = ::fdopendir(dirFd);
    if (!dir) {
        const int err = errno;
        ::close(dirFd);
        return err;
    }
    entries->clear();
    int err = 0;
    for (;;) {
        errno = 0;
        const dirent *entry = ::readdir(dir);
        if (!entry) {
            err = errno;
            break;
        }
        const char *name = entry->d_name;
        if (std::strcmp(name, ".") == 0 || std::strcmp(name, "..") == 0)
            continue;
        struct stat st { };
        if (::fstatat(dirFd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; // vanished in between
        Protocol::FileInfo info;
        info.name = name;
        fillInfo(st, &info);
        if (S_ISLNK(st.st_mode))
            info.linkTarget = readLinkAt(dirFd, name, static_cast<std::size_t>(st.st_size));
        entries->push_back(std::move(info));
    }
    ::closedir(dir); // closes dirFd
    if (err != 0)
        return err;
    std::sort(entries->begin(), entries->end(), [](const Protocol::FileInfo &a, const Protocol::FileInfo &b) { return a.name < b.name; });
    return 0;
}

} // namespace GuestAgent
