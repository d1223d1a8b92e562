/* netprobe: bench_net's measuring client, run inside the guest (copied in by
 * the agent; static, so the busybox initramfs runs it). Busybox has no
 * client that times a single connect (a shell loop pays a fork and exec per
 * sample, milliseconds under TCG), and its nc copies in small pieces: `head -c
 * N /dev/zero | nc` moved 1.6-2.6 MB/s under TCG where this moves 50-120, so it
 * measured busybox, not the network. This one times with the guest's
 * monotonic clock and writes kChunk at a time.
 *
 *   netprobe send ADDRESS PORT BYTES SECONDS
 *     Connects, writes zeros in kChunk pieces until BYTES are written or
 *     SECONDS have passed, ends its side, reads the sink's answer (the count
 *     it received). Prints "<bytes sent> <ns from connected to answer> <answer>".
 *     Exit 0 when the answer equals the bytes sent.
 *   netprobe connect ADDRESS PORT COUNT
 *     COUNT times: connect (timed), one byte to the echo and back (timed),
 *     close. Prints "<connect ns> <echo ns>" per connection. Exit 0 when
 *     every one succeeded.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum {
    kChunk = 256 * 1024,
    kAnswerMax = 64,
    kIoTimeoutS = 10,
    kMaxCount = 100000,
};

static long long nowNs(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int fail(const char *what)
{
    fprintf(stderr, "netprobe: %s: %s\n", what, strerror(errno));
    return 1;
}

/* A blocking TCP socket to address:port with kIoTimeoutS on every call; -1 on failure. */
static int connectTo(const struct sockaddr_in *to)
{
    const struct timeval tv = {kIoTimeoutS, 0};
    const int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) != 0) {
        const int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int sendAll(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        const ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static int runSend(const struct sockaddr_in *to, long long bytes, double seconds)
{
    static char buf[kChunk];
    char answer[kAnswerMax + 1];
    size_t got = 0;
    long long sent = 0;
    const int fd = connectTo(to);
    if (fd < 0)
        return fail("connect");
    const long long start = nowNs();
    const long long stopAt = start + (long long)(seconds * 1e9);
    while (sent < bytes && nowNs() < stopAt) {
        const long long left = bytes - sent;
        const size_t n = left < kChunk ? (size_t)left : kChunk;
        if (sendAll(fd, buf, n) != 0)
            return fail("write");
        sent += (long long)n;
    }
    if (shutdown(fd, SHUT_WR) != 0)
        return fail("shutdown");
    while (got < kAnswerMax) {
        const ssize_t r = read(fd, answer + got, kAnswerMax - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fail("read the sink's answer");
        if (r == 0)
            break;
        got += (size_t)r;
    }
    const long long elapsed = nowNs() - start;
    close(fd);
    answer[got] = '\0';
    const long long counted = strtoll(answer, NULL, 10);
    printf("%lld %lld %lld\n", sent, elapsed, counted);
    return counted == sent ? 0 : 1;
}

static int runConnect(const struct sockaddr_in *to, long count)
{
    for (long i = 0; i < count; ++i) {
        char byte = 'x';
        const long long t0 = nowNs();
        const int fd = connectTo(to);
        if (fd < 0)
            return fail("connect");
        const long long t1 = nowNs();
        if (sendAll(fd, &byte, 1) != 0 || read(fd, &byte, 1) != 1)
            return fail("echo");
        const long long t2 = nowNs();
        close(fd);
        printf("%lld %lld\n", t1 - t0, t2 - t1);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    if (argc != 6 && argc != 5)
        goto usage;
    if (inet_pton(AF_INET, argv[2], &to.sin_addr) != 1)
        goto usage;
    to.sin_port = htons((unsigned short)atoi(argv[3]));
    if (strcmp(argv[1], "send") == 0 && argc == 6)
        return runSend(&to, atoll(argv[4]), atof(argv[5]));
    if (strcmp(argv[1], "connect") == 0 && argc == 5) {
        const long count = atol(argv[4]);
        if (count > 0 && count <= kMaxCount)
            return runConnect(&to, count);
    }
usage:
    fprintf(stderr, "usage: netprobe send ADDRESS PORT BYTES SECONDS | netprobe connect ADDRESS PORT COUNT\n");
    return 2;
}
