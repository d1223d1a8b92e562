// hostile-rfb: a VNC server a guest could run, for tst_hostileguest. It
// speaks just enough RFB 3.8 to bring a client up (no security), like
// tests/vncview/hostilerfbserver.h, and announces a screen of
// kHugeSide x kHugeSide: at once in ServerInit (mode "init"), or after a
// sane ServerInit as a DesktopSize resize once the client asked for its
// first frame (mode "resize"). One client at a time, on 127.0.0.1:PORT, for
// ever. Static, like the guest agent.
//
// Usage: hostile-rfb PORT init|resize

#include "hostilelimits.h"

#include <arpa/inet.h>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

constexpr int kSaneWidth = 1280;
constexpr int kSaneHeight = 800;

bool writeAll(int fd, const std::string &data)
{
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n <= 0)
            return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool readExactly(int fd, std::size_t n)
{
    char buf[64];
    while (n > 0) {
        const ssize_t got = ::read(fd, buf, n < sizeof buf ? n : sizeof buf);
        if (got <= 0)
            return false;
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

std::string u16(unsigned v)
{
    return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

std::string serverInit(unsigned width, unsigned height)
{
    // 32 bpp, depth 24, little-endian true colour, 255 per channel, shifts 16/8/0.
    static const unsigned char pixelFormat[16] = {32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0};
    return u16(width) + u16(height) + std::string(reinterpret_cast<const char *>(pixelFormat), 16) + std::string("\0\0\0\4evil", 8);
}

std::string desktopSize(unsigned width, unsigned height)
{
    // FramebufferUpdate, one rectangle, the DesktopSize pseudo-encoding (-223).
    return std::string("\0\0\0\1", 4) + u16(0) + u16(0) + u16(width) + u16(height) + std::string("\xff\xff\xff\x21", 4);
}

void serve(int client, bool resize)
{
    const unsigned side = Hostile::kHugeRfbSide;
    if (!writeAll(client, "RFB 003.008\n") || !readExactly(client, 12) || !writeAll(client, std::string("\1\1", 2)) || !readExactly(client, 1)
        || !writeAll(client, std::string(4, '\0')) || !readExactly(client, 1))
        return;
    if (!writeAll(client, resize ? serverInit(kSaneWidth, kSaneHeight) : serverInit(side, side)))
        return;
    std::fprintf(stderr, "hostile-rfb: announced %ux%u\n", resize ? kSaneWidth : side, resize ? kSaneHeight : side);
    char buf[4096];
    bool resized = !resize;
    while (::read(client, buf, sizeof buf) > 0) {
        if (!resized) {
            resized = writeAll(client, desktopSize(side, side));
            std::fprintf(stderr, "hostile-rfb: resized to %ux%u\n", side, side);
        }
    }
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 3) {
        std::fprintf(stderr, "usage: hostile-rfb PORT init|resize\n");
        return 2;
    }
    const int port = std::atoi(argv[1]);
    const bool resize = std::strcmp(argv[2], "resize") == 0;
    const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int one = 1;
    ::setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (server < 0 || ::bind(server, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) != 0 || ::listen(server, 4) != 0) {
        std::perror("hostile-rfb: listen");
        return 1;
    }
    std::fprintf(stderr, "hostile-rfb: listening on %d (%s)\n", port, argv[2]);
    for (;;) {
        const int client = ::accept4(server, nullptr, nullptr, SOCK_CLOEXEC);
        if (client < 0)
            continue;
        serve(client, resize);
        ::close(client);
    }
}
