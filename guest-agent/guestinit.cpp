#include "guestinit.h"

#include "netconfig.h"
#include "util.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <linux/random.h>
#include <fcntl.h>
#include <fstream>
#include <net/if.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace GuestAgent::GuestInit {

int reseedRandom()
{
    constexpr std::size_t kMinSeed = 16;
    constexpr std::size_t kMaxSeed = 256;
    struct {
        int entropyCount; // bits
        int bufSize; // bytes
        std::uint32_t buf[kMaxSeed / 4];
    } pool{};
    auto *seed = reinterpret_cast<unsigned char *>(pool.buf);
    std::size_t n = 0;
    while (n < kMaxSeed) {
        const ssize_t r = ::read(0, seed + n, kMaxSeed - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += static_cast<std::size_t>(r);
    }
    if (n < kMinSeed) {
        std::fprintf(stderr, "microvm-agent: --reseed-rng wants %zu to %zu bytes of seed on stdin, got %zu\n", kMinSeed, kMaxSeed, n);
        return 2;
    }
    pool.entropyCount = static_cast<int>(n * 8);
    pool.bufSize = static_cast<int>(n);
    const int fd = ::open("/dev/urandom", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        std::fprintf(stderr, "microvm-agent: /dev/urandom: %s\n", std::strerror(errno));
        return 1;
    }
    int rc = 0;
    if (::ioctl(fd, RNDADDENTROPY, &pool) != 0) {
        std::fprintf(stderr, "microvm-agent: RNDADDENTROPY: %s\n", std::strerror(errno));
        rc = 1;
    } else if (::ioctl(fd, RNDRESEEDCRNG) != 0) {
        std::fprintf(stderr, "microvm-agent: RNDRESEEDCRNG: %s\n", std::strerror(errno));
        rc = 1;
    }
    ::close(fd);
    return rc;
}
namespace {

void say(const std::string &message)
{
    std::fprintf(stdout, "mvs-init: %s\n", message.c_str());
    std::fflush(stdout);
}

// A directory is a mount point when it is on another device than its parent.
bool isMountPoint(const char *target)
{
    struct stat self {
    }, parent{};
    const std::string up = std::string(target) + "/..";
    return ::stat(target, &self) == 0 && ::stat(up.c_str(), &parent) == 0 && self.st_dev != parent.st_dev;
}

// Idempotent: a root disk's init runs this again after the initramfs moved
// its mounts into the new root.
void mountFs(const char *source, const char *target, const char *type, const char *options)
{
    ::mkdir(target, 0755);
    if (isMountPoint(target))
        return;
    if (::mount(source, target, type, MS_NOSUID, options) != 0 && errno != EBUSY)
        say(std::string("mount ") + target + " failed: " + std::strerror(errno));
}

std::string readFile(const char *path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool hasArg(const std::string &cmdline, const std::string &arg)
{
    return (" " + cmdline + " ").find(" " + arg + " ") != std::string::npos;
}

std::string argValue(const std::string &cmdline, const std::string &key)
{
    std::istringstream in(cmdline);
    std::string word;
    while (in >> word)
        if (word.rfind(key + "=", 0) == 0)
            return word.substr(key.size() + 1);
    return {};
}

void loadModules()
{
    std::ifstream list("/etc/modules");
    std::string rel;
    while (std::getline(list, rel)) {
        if (rel.empty() || rel[0] == '#')
            continue;
        const std::string path = "/lib/modules/" + rel;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            say("cannot open module " + path + ": " + std::strerror(errno));
            continue;
        }
        if (::syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            say("loading " + rel + " failed: " + std::strerror(errno));
        ::close(fd);
    }
}

void loopbackUp()
{
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
        ::ioctl(s, SIOCSIFFLAGS, &ifr);
    }
    ::close(s);
}

// mvs.net=<spec> (protocol/netspec.h): the NIC is configured before the
// agent starts, so the guest has its address by the time it answers. A
// failure is reported on the console and boot goes on: the host sees the
// missing address in health.
void configureNetwork(const std::string &cmdline)
{
    const std::string text = argValue(cmdline, std::string(Protocol::kNetSpecKernelArg));
    if (text.empty())
        return;
    const auto spec = Protocol::NetSpec::parse(text);
    if (!spec) {
        say("bad " + std::string(Protocol::kNetSpecKernelArg) + "=" + text);
        return;
    }
    if (const std::string error = NetConfig::apply(*spec); !error.empty())
        say("network: " + error);
}

bool dirHasEntryWithPrefix(const char *dir, const char *prefix)
{
    DIR *d = ::opendir(dir);
    if (!d)
        return false;
    bool found = false;
    while (dirent *e = ::readdir(d))
        if (std::strncmp(e->d_name, prefix, std::strlen(prefix)) == 0)
            found = true;
    ::closedir(d);
    return found;
}

} // namespace

int runSetup()
{
    mountFs("proc", "/proc", "proc", "");
    const std::string cmdline = readFile("/proc/cmdline");
    if (hasArg(cmdline, "mvs.floor=1")) {
        ::sync();
        ::reboot(RB_AUTOBOOT); // reboot=t + -no-reboot: QEMU exits
    }
    mountFs("sysfs", "/sys", "sysfs", "");
    mountFs("devtmpfs", "/dev", "devtmpfs", "");
    mountFs("devpts", "/dev/pts", "devpts", "");
    mountFs("tmpfs", "/dev/shm", "tmpfs", "");
    mountFs("tmpfs", "/tmp", "tmpfs", "mode=1777");
    mountFs("tmpfs", "/run", "tmpfs", "mode=0755");
    loadModules();
    loopbackUp();
    configureNetwork(cmdline);
    std::string host = argValue(cmdline, "mvs.hostname");
    if (host.empty())
        host = "microvm";
    if (::sethostname(host.c_str(), host.size()) != 0)
        say(std::string("sethostname failed: ") + std::strerror(errno));
    say("modules loaded");
    return 0;
}

Channels detectChannels(const std::string &portName)
{
    Channels c;
    if (DIR *d = ::opendir("/sys/class/virtio-ports")) {
        while (dirent *e = ::readdir(d)) {
            if (e->d_name[0] == '.')
                continue;
            std::string name = readFile(("/sys/class/virtio-ports/" + std::string(e->d_name) + "/name").c_str());
            while (!name.empty() && (name.back() == '\n' || name.back() == '\0'))
                name.pop_back();
            if (name == portName)
                c.serial = true;
        }
        ::closedir(d);
    }
    c.vsock = dirHasEntryWithPrefix("/sys/bus/virtio/drivers/vmw_vsock_virtio_transport", "virtio");
    if (!c.serial && !c.vsock)
        c.serial = c.vsock = true;
    return c;
}

} // namespace GuestAgent::GuestInit
