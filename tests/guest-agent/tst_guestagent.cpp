// Drives the real microvm-agent binary over its wire protocol.

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <QByteArray>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QNetworkInterface>
#include <QProcess>
#include <QRandomGenerator>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QtTest>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <fcntl.h>
#include <map>
#include <memory>
#include <optional>
#include <poll.h>
#include <set>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

using namespace Protocol;

namespace {

constexpr int kTimeoutMs = 15000;

class Deadline {
public:
    explicit Deadline(int ms)
        : m_end(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms))
    {
    }
    int remaining() const
    {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(m_end - std::chrono::steady_clock::now());
        return left.count() > 0 ? static_cast<int>(left.count()) : 0;
    }

private:
    std::chrono::steady_clock::time_point m_end;
};

std::string asString(const QByteArray &b)
{
    return std::string(b.constData(), static_cast<std::size_t>(b.size()));
}

std::string randomBytes(std::size_t n)
{
    std::string out(n, '\0');
    auto *gen = QRandomGenerator::global();
    for (std::size_t i = 0; i < n; i += 4) {
        const quint32 v = gen->generate();
        for (std::size_t k = 0; k < 4 && i + k < n; ++k)
            out[i + k] = static_cast<char>((v >> (8 * k)) & 0xff);
    }
    return out;
}

// Blocking protocol client with deadlines: never waits forever.
class Connection {
public:
    explicit Connection(int fd)
        : m_fd(fd)
    {
        const int flags = ::fcntl(m_fd, F_GETFL);
        ::fcntl(m_fd, F_SETFL, flags | O_NONBLOCK);
    }
    ~Connection() { close(); }
    Connection(const Connection &) = delete;
    Connection &operator=(const Connection &) = delete;

    void close()
    {
        if (m_fd >= 0)
            ::close(m_fd);
        m_fd = -1;
    }
    bool eof() const { return m_eof; }

    // Writes everything, reading whatever arrives meanwhile so that neither
    // side can block the other.
    bool sendRaw(std::string_view bytes, int timeoutMs = kTimeoutMs)
    {
        const Deadline deadline(timeoutMs);
        std::size_t off = 0;
        while (off < bytes.size()) {
            pollfd p{m_fd, static_cast<short>(POLLOUT | (m_eof ? 0 : POLLIN)), 0};
            const int r = ::poll(&p, 1, deadline.remaining());
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return false;
            if ((p.revents & POLLIN) && !m_eof)
                readAvailable();
            if (p.revents & POLLOUT) {
                const ssize_t n = ::write(m_fd, bytes.data() + off, bytes.size() - off);
                if (n > 0)
                    off += static_cast<std::size_t>(n);
                else if (n < 0 && errno != EAGAIN && errno != EINTR)
                    return false;
            } else if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
                return false;
            }
        }
        return true;
    }

    bool send(MsgType type, std::uint32_t stream, std::string_view payload = {})
    {
        return sendRaw(encodeFrame(static_cast<std::uint8_t>(type), stream, payload));
    }

    // Next frame of `stream` (or of any stream), frames of other streams stay
    // queued. A data frame taken counts as consumed: its bytes go back to
    // the agent as credit, a kCreditBatch at a time, as the host does,
    // unless the stream's credit is withheld.
    std::optional<Frame> next(std::optional<std::uint32_t> stream, int timeoutMs = kTimeoutMs)
    {
        const Deadline deadline(timeoutMs);
        for (;;) {
            for (auto it = m_queue.begin(); it != m_queue.end(); ++it) {
                if (!stream || it->header.stream == *stream) {
                    Frame f = std::move(*it);
                    m_queue.erase(it);
                    consumed(f);
                    return f;
                }
            }
            if (m_eof || !waitReadable(deadline))
                return std::nullopt;
        }
    }

    // Next frame of the stream that is not of the given type (e.g. skip Announce).
    std::optional<Frame> nextSkipping(std::uint32_t stream, MsgType skip, int timeoutMs = kTimeoutMs)
    {
        const Deadline deadline(timeoutMs);
        for (;;) {
            auto f = next(stream, deadline.remaining());
            if (!f || f->header.type != static_cast<std::uint8_t>(skip))
                return f;
        }
    }

    // Reads (and keeps) frames until the agent closes the connection.
    bool waitForClose(int timeoutMs = kTimeoutMs)
    {
        const Deadline deadline(timeoutMs);
        while (!m_eof) {
            if (!waitReadable(deadline))
                return m_eof;
        }
        return true;
    }

    // No credit goes back for the stream until released (then what was
    // consumed meanwhile goes back at once).
    void withholdCredit(std::uint32_t stream, bool withhold)
    {
        if (withhold) {
            m_withheld.insert(stream);
            return;
        }
        m_withheld.erase(stream);
        grant(stream, 0);
    }

    // Data bytes of the stream that arrived (until the agent is quiet for
    // quietMs) and wait in the queue.
    std::size_t queuedData(std::uint32_t stream, int quietMs = 300)
    {
        pollfd p{m_fd, POLLIN, 0};
        while (::poll(&p, 1, quietMs) > 0 && (p.revents & POLLIN) && !m_eof)
            readAvailable();
        std::size_t bytes = 0;
        for (const auto &f : m_queue) {
            if (f.header.stream == stream && isData(f))
                bytes += f.payload.size();
        }
        return bytes;
    }

    bool hasQueued(std::uint32_t stream) const
    {
        for (const auto &f : m_queue) {
            if (f.header.stream == stream)
                return true;
        }
        return false;
    }

private:
    static bool isData(const Frame &f)
    {
        const auto type = static_cast<MsgType>(f.header.type);
        return type == MsgType::ExecStdout || type == MsgType::ExecStderr || type == MsgType::FileData || type == MsgType::StreamData;
    }

    void consumed(const Frame &f)
    {
        if (isData(f))
            grant(f.header.stream, f.payload.size());
    }

    void grant(std::uint32_t stream, std::size_t bytes)
    {
        std::size_t &unacked = m_unacked[stream];
        unacked += bytes;
        if (m_withheld.count(stream) != 0 || unacked == 0 || (bytes != 0 && unacked < kCreditBatch))
            return;
        const StreamCredit credit{static_cast<std::uint32_t>(std::exchange(unacked, 0))};
        send(MsgType::StreamCredit, stream, credit.encode());
    }

    bool waitReadable(const Deadline &deadline)
    {
        pollfd p{m_fd, POLLIN, 0};
        int r = 0;
        do {
            r = ::poll(&p, 1, deadline.remaining());
        } while (r < 0 && errno == EINTR);
        if (r <= 0)
            return false;
        readAvailable();
        return true;
    }

    void readAvailable()
    {
        char buf[65536];
        const ssize_t n = ::read(m_fd, buf, sizeof buf);
        if (n > 0) {
            m_reader.feed(buf, static_cast<std::size_t>(n));
            Frame f;
            for (;;) {
                const auto st = m_reader.next(&f);
                if (st == FrameReader::Status::Frame) {
                    m_queue.push_back(std::move(f));
                    continue;
                }
                if (st == FrameReader::Status::Oversize)
                    m_eof = true;
                break;
            }
            return;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
            m_eof = true;
    }

    int m_fd;
    bool m_eof = false;
    FrameReader m_reader;
    std::deque<Frame> m_queue;
    std::map<std::uint32_t, std::size_t> m_unacked; // consumed, not yet granted back
    std::set<std::uint32_t> m_withheld;
};

// The agent process; stopped (and if need be killed) on destruction.
class Agent {
public:
    ~Agent() { stop(); }

    // Runs the agent with `--fd 3` on one end of a socketpair.
    bool startOnSocketPair(const std::vector<std::string> &extra = {})
    {
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
            return false;
        const int high = ::fcntl(sv[1], F_DUPFD_CLOEXEC, 100);
        ::close(sv[1]);
        std::vector<std::string> args = {"--fd", "3", "--no-shutdown"};
        args.insert(args.end(), extra.begin(), extra.end());
        const bool ok = spawn(args, high);
        ::close(high);
        if (!ok) {
            ::close(sv[0]);
            return false;
        }
        conn = std::make_unique<Connection>(sv[0]);
        return true;
    }

    bool spawn(const std::vector<std::string> &args, int passFd = -1)
    {
        std::vector<std::string> all = {MVS_AGENT_BINARY};
        all.insert(all.end(), args.begin(), args.end());
        std::vector<char *> argv;
        for (auto &a : all)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (passFd >= 0)
            posix_spawn_file_actions_adddup2(&actions, passFd, 3);
        const int rc = ::posix_spawn(&m_pid, MVS_AGENT_BINARY, &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0)
            m_pid = -1;
        return rc == 0;
    }

    // Exit status once the agent has exited, or -1 on timeout.
    int waitExit(int timeoutMs)
    {
        if (m_pid <= 0)
            return m_status;
        const Deadline deadline(timeoutMs);
        for (;;) {
            int status = 0;
            const pid_t r = ::waitpid(m_pid, &status, WNOHANG);
            if (r == m_pid) {
                m_pid = -1;
                m_status = status;
                return status;
            }
            if (deadline.remaining() == 0)
                return -1;
            ::usleep(10000);
        }
    }

    void signal(int sig)
    {
        if (m_pid > 0)
            ::kill(m_pid, sig);
    }

    void stop()
    {
        conn.reset();
        if (m_pid > 0 && waitExit(5000) == -1) {
            ::kill(m_pid, SIGKILL);
            waitExit(5000);
        }
    }

    pid_t pid() const { return m_pid; }

    std::unique_ptr<Connection> conn;

private:
    pid_t m_pid = -1;
    int m_status = -1;
};

bool handshake(Connection &c, HelloAck *ackOut = nullptr, Announce *announceOut = nullptr)
{
    const auto announce = c.next(0);
    if (!announce || announce->header.type != static_cast<std::uint8_t>(MsgType::Announce))
        return false;
    if (announceOut && !Announce::decode(announce->payload, announceOut))
        return false;
    Hello hello;
    hello.client = "tst_guestagent";
    hello.nonce = QRandomGenerator::global()->generate64();
    if (!c.send(MsgType::Hello, 0, hello.encode()))
        return false;
    const auto ack = c.next(0);
    if (!ack || ack->header.type != static_cast<std::uint8_t>(MsgType::HelloAck))
        return false;
    HelloAck decoded;
    if (!HelloAck::decode(ack->payload, &decoded) || decoded.nonce != hello.nonce)
        return false;
    if (ackOut)
        *ackOut = decoded;
    return true;
}

struct ExecOutcome {
    bool exited = false;
    bool failed = false;
    bool timedOutWaiting = false;
    ErrorMsg error;
    ExecExit exit;
    std::int32_t pid = 0;
    std::string out;
    std::string err;
};

// Feeds one frame into an exec outcome; true once the stream has ended.
bool absorbExecFrame(const Frame &f, ExecOutcome *o)
{
    switch (static_cast<MsgType>(f.header.type)) {
    case MsgType::ExecStarted: {
        ExecStarted s;
        ExecStarted::decode(f.payload, &s);
        o->pid = s.pid;
        return false;
    }
    case MsgType::ExecStdout: o->out += f.payload; return false;
    case MsgType::ExecStderr: o->err += f.payload; return false;
    case MsgType::ExecExit: o->exited = ExecExit::decode(f.payload, &o->exit); return true;
    case MsgType::Error:
        o->failed = true;
        ErrorMsg::decode(f.payload, &o->error);
        return true;
    default: return false;
    }
}

ExecOutcome collectExec(Connection &c, std::uint32_t id, int timeoutMs = 20000)
{
    ExecOutcome o;
    const Deadline deadline(timeoutMs);
    for (;;) {
        const auto f = c.next(id, deadline.remaining());
        if (!f) {
            o.timedOutWaiting = true;
            return o;
        }
        if (absorbExecFrame(*f, &o))
            return o;
    }
}

ExecStart shellCommand(const std::string &script, std::uint32_t timeoutMs = 0)
{
    ExecStart req;
    req.shell = script;
    req.timeoutMs = timeoutMs;
    return req;
}

ExecOutcome runExec(Connection &c, std::uint32_t id, const ExecStart &req, std::optional<std::string> stdinData = {})
{
    ExecStart r = req;
    if (stdinData)
        r.flags |= ExecStart::StdinPipe;
    if (!c.send(MsgType::ExecStart, id, r.encode()))
        return ExecOutcome{};
    if (stdinData) {
        const std::string &data = *stdinData;
        for (std::size_t off = 0; off < data.size(); off += 100000)
            c.send(MsgType::ExecStdin, id, std::string_view(data).substr(off, 100000));
        c.send(MsgType::ExecStdinEof, id);
    }
    return collectExec(c, id);
}

std::optional<ErrorMsg> expectError(Connection &c, std::uint32_t id)
{
    const auto f = c.next(id);
    if (!f || f->header.type != static_cast<std::uint8_t>(MsgType::Error))
        return std::nullopt;
    ErrorMsg e;
    if (!ErrorMsg::decode(f->payload, &e))
        return std::nullopt;
    return e;
}

struct PutOutcome {
    bool done = false;
    FilePutDone result;
    std::optional<ErrorMsg> error;
};

PutOutcome putFile(Connection &c, std::uint32_t id, const FilePut &req, std::string_view data)
{
    PutOutcome o;
    c.send(MsgType::FilePut, id, req.encode());
    for (std::size_t off = 0; off < data.size(); off += kDataChunk)
        c.send(MsgType::FileData, id, data.substr(off, kDataChunk));
    c.send(MsgType::FileEnd, id);
    const auto f = c.next(id);
    if (!f)
        return o;
    if (f->header.type == static_cast<std::uint8_t>(MsgType::FilePutDone))
        o.done = FilePutDone::decode(f->payload, &o.result);
    else if (f->header.type == static_cast<std::uint8_t>(MsgType::Error)) {
        ErrorMsg e;
        ErrorMsg::decode(f->payload, &e);
        o.error = e;
    }
    return o;
}

struct GetOutcome {
    bool complete = false;
    FileGetInfo info;
    std::string data;
    std::optional<ErrorMsg> error;
};

// Feeds one frame of a get stream; true once it has ended.
bool absorbGetFrame(const Frame &f, GetOutcome *o)
{
    switch (static_cast<MsgType>(f.header.type)) {
    case MsgType::FileGetInfo: FileGetInfo::decode(f.payload, &o->info); return false;
    case MsgType::FileData: o->data += f.payload; return false;
    case MsgType::FileEnd: o->complete = true; return true;
    case MsgType::Error: {
        ErrorMsg e;
        ErrorMsg::decode(f.payload, &e);
        o->error = e;
        return true;
    }
    default: return true;
    }
}

GetOutcome getFile(Connection &c, std::uint32_t id, const std::string &path)
{
    GetOutcome o;
    c.send(MsgType::FileGet, id, PathRequest{path}.encode());
    for (;;) {
        const auto f = c.next(id, 30000);
        if (!f || absorbGetFrame(*f, &o))
            return o;
    }
}

// True once the process is gone (or a zombie nobody has reaped yet).
bool processGone(int pid, int timeoutMs = 5000)
{
    const Deadline deadline(timeoutMs);
    for (;;) {
        QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
        if (!stat.open(QIODevice::ReadOnly))
            return true;
        const QByteArray line = stat.readAll();
        const int paren = line.lastIndexOf(')');
        if (paren > 0 && paren + 2 < line.size() && line.at(paren + 2) == 'Z')
            return true;
        if (deadline.remaining() == 0)
            return false;
        ::usleep(20000);
    }
}

// One request with one reply (the background process requests).
std::optional<Frame> request(Connection &c, std::uint32_t id, MsgType type, const std::string &payload)
{
    if (!c.send(type, id, payload))
        return std::nullopt;
    return c.next(id);
}

std::optional<ProcessState> processRequest(Connection &c, std::uint32_t id, MsgType type, const std::string &payload)
{
    const auto f = request(c, id, type, payload);
    ProcessState state;
    if (!f || f->header.type != static_cast<std::uint8_t>(MsgType::ProcessInfo) || !ProcessState::decode(f->payload, &state))
        return std::nullopt;
    return state;
}

std::optional<ProcessOutput> readProcess(Connection &c, std::uint32_t id, std::int32_t pid, std::uint64_t outOffset, std::uint64_t errOffset)
{
    const auto f = request(c, id, MsgType::ProcessRead, ProcessRead{pid, outOffset, errOffset, 0}.encode());
    ProcessOutput output;
    if (!f || f->header.type != static_cast<std::uint8_t>(MsgType::ProcessOutput) || !ProcessOutput::decode(f->payload, &output))
        return std::nullopt;
    return output;
}

// The process has ended and nobody has reaped it yet (state Z).
bool isZombie(int pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray text = stat.readAll();
    const qsizetype paren = text.lastIndexOf(')');
    return paren > 0 && text.mid(paren + 2, 1) == "Z";
}

bool processAlive(int pid)
{
    return !processGone(pid, 0);
}

std::string tempPath(const QTemporaryDir &dir, const char *name)
{
    return dir.filePath(QLatin1String(name)).toStdString();
}

} // namespace

class TestGuestAgent : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void version();
    void handshake();
    void requestBeforeHello();
    void execEcho();
    void execStderrSeparate();
    void execExitCode();
    void execSignal();
    void execTimeoutKillsGroup();
    void execAnswersWhenMainProcessEnds();
    void execCancelAfterMainEndsKeepsChildren();
    void backgroundProcess();
    void backgroundProcessOutputRing();
    void backgroundProcessEndsAfterItsOutput();
    void backgroundProcessLimit();
    void execStdin();
    void execMissingBinary();
    void execCwdAndEnv();
    void execCancel();
    void concurrentExecs();
    void backpressure();
    void creditHoldsOneStreamOnly();
    void malformedCredit();
    void putGetLarge();
    void putWrongSize();
    void putFlags();
    void getMissing();
    void getDirectory();
    void statAndList();
    void health();
    void unknownTypeBusyAndStrayData();
    void oversizeFrame();
    void garbageBeforeHello();
    void helloCancelsRunningExec();
    void streamForward();
    void streamRefused();
    void shutdownRefused();
    void unixTransport();
    void serialPty();
};

void TestGuestAgent::initTestCase()
{
    ::signal(SIGPIPE, SIG_IGN);
    QVERIFY2(QFileInfo::exists(QStringLiteral(MVS_AGENT_BINARY)), MVS_AGENT_BINARY);
}

void TestGuestAgent::version()
{
    QProcess p;
    p.start(QStringLiteral(MVS_AGENT_BINARY), {QStringLiteral("--version")});
    QVERIFY(p.waitForFinished(5000));
    QCOMPARE(p.exitCode(), 0);
    QVERIFY(p.readAllStandardOutput().startsWith("microvm-agent "));
}

void TestGuestAgent::handshake()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    HelloAck ack;
    Announce announce;
    QVERIFY(::handshake(*agent.conn, &ack, &announce));
    QCOMPARE(announce.version, kVersion);
    QVERIFY(!announce.agentVersion.empty());
    QCOMPARE(ack.version, kVersion);
    QCOMPARE(ack.maxPayload, kDefaultMaxPayload);
    QCOMPARE(ack.agentVersion, announce.agentVersion);
    QVERIFY(!ack.bootId.empty());
    QFile bootId(QStringLiteral("/proc/sys/kernel/random/boot_id"));
    QVERIFY(bootId.open(QIODevice::ReadOnly));
    QCOMPARE(ack.bootId, asString(bootId.readAll().trimmed()));

    // A Hello with an unknown version is refused.
    Hello bad;
    bad.version = 99;
    QVERIFY(agent.conn->send(MsgType::Hello, 0, bad.encode()));
    const auto err = expectError(*agent.conn, 0);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Protocol);
    QVERIFY2(err->message.rfind(std::string(kVersionRefusal), 0) == 0, err->message.c_str()); // how the host recognises it
}

void TestGuestAgent::requestBeforeHello()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(c.next(0)); // Announce
    QVERIFY(c.send(MsgType::ExecStart, 1, shellCommand("echo no").encode()));
    const auto err = expectError(c, 1);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Protocol);
    Hello hello;
    QVERIFY(c.send(MsgType::Hello, 0, hello.encode()));
    const auto ack = c.next(0);
    QVERIFY(ack && ack->header.type == static_cast<std::uint8_t>(MsgType::HelloAck));
}

void TestGuestAgent::execEcho()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    ExecStart req;
    req.argv = {"echo", "hi"};
    const auto o = runExec(*agent.conn, 1, req);
    QVERIFY(o.exited);
    QVERIFY(o.pid > 0);
    QCOMPARE(o.out, std::string("hi\n"));
    QCOMPARE(o.err, std::string());
    QCOMPARE(o.exit.exitCode, 0);
    QCOMPARE(o.exit.signal, 0);
    QVERIFY(!o.exit.timedOut);
    QVERIFY(o.exit.durationUs > 0);
}

void TestGuestAgent::execStderrSeparate()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    const auto o = runExec(*agent.conn, 7, shellCommand("echo out; echo err >&2; echo out2"));
    QVERIFY(o.exited);
    QCOMPARE(o.out, std::string("out\nout2\n"));
    QCOMPARE(o.err, std::string("err\n"));
}

void TestGuestAgent::execExitCode()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    const auto o = runExec(*agent.conn, 1, shellCommand("exit 3"));
    QVERIFY(o.exited);
    QCOMPARE(o.exit.exitCode, 3);
    QCOMPARE(o.exit.signal, 0);
}

void TestGuestAgent::execSignal()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    const auto o = runExec(*agent.conn, 1, shellCommand("kill -TERM $$"));
    QVERIFY(o.exited);
    QCOMPARE(o.exit.signal, SIGTERM);
    QVERIFY(!o.exit.timedOut);
}

void TestGuestAgent::execTimeoutKillsGroup()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    QElapsedTimer timer;
    timer.start();
    const auto o = runExec(*agent.conn, 1, shellCommand("sleep 30 & echo $!; sleep 30", 500));
    QVERIFY(o.exited);
    QVERIFY2(timer.elapsed() < 5000, qPrintable(QString::number(timer.elapsed())));
    QVERIFY(o.exit.timedOut);
    QCOMPARE(o.exit.signal, SIGKILL);
    const int background = std::atoi(o.out.c_str());
    QVERIFY(background > 0);
    QVERIFY(processGone(background));
}

// The answer comes when the main process ends; a background child that
// holds the pipes keeps running, writing into the drained pipes unharmed.
void TestGuestAgent::execAnswersWhenMainProcessEnds()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    QElapsedTimer timer;
    timer.start();
    auto o = runExec(*agent.conn, 1, shellCommand("sleep 300 & echo $!; echo started", 60000));
    QVERIFY(o.exited);
    QVERIFY2(timer.elapsed() < 3000, qPrintable(QString::number(timer.elapsed())));
    QCOMPARE(o.exit.exitCode, 0);
    QVERIFY(!o.exit.timedOut);
    const int sleeper = std::atoi(o.out.c_str());
    QVERIFY(o.out.find("started\n") != std::string::npos);
    QVERIFY(sleeper > 0);

    // A child that keeps writing after the answer is not killed by SIGPIPE.
    o = runExec(*agent.conn, 2, shellCommand("(while :; do echo tick; echo tock >&2; sleep 0.05; done) & echo pid $!"));
    QVERIFY(o.exited);
    // (Its first tick may come before the pid: the pid's own line.)
    const std::size_t pidLine = o.out.find("pid ");
    QVERIFY2(pidLine != std::string::npos, o.out.c_str());
    const int writer = std::atoi(o.out.c_str() + pidLine + 4);
    QVERIFY(writer > 0);
    QTest::qWait(1000);
    QVERIFY(processAlive(sleeper));
    QVERIFY(processAlive(writer));
    // The agent still answers while it drains them.
    o = runExec(*agent.conn, 3, shellCommand("echo still here"));
    QCOMPARE(o.out, std::string("still here\n"));
    ::kill(writer, SIGKILL);
    ::kill(sleeper, SIGKILL);
    QVERIFY(processGone(writer));
    QVERIFY(processGone(sleeper));
}

// A cancel after the main process ended answers at once and leaves the
// background children alone; a timeout before it ends still kills the group
// (execTimeoutKillsGroup).
void TestGuestAgent::execCancelAfterMainEndsKeepsChildren()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QVERIFY(c.send(MsgType::ExecStart, 4, shellCommand("sleep 300 & echo $!").encode()));
    std::optional<Frame> f = c.next(4);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::ExecStarted));
    ExecStarted s;
    QVERIFY(ExecStarted::decode(f->payload, &s));
    f = c.next(4);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::ExecStdout));
    const int sleeper = std::atoi(f->payload.c_str());
    QVERIFY(sleeper > 0);
    QTRY_VERIFY(!QFile::exists(QStringLiteral("/proc/%1").arg(s.pid))); // reaped: the answer is in its grace
    QVERIFY(c.send(MsgType::Cancel, 4));
    const auto o = collectExec(c, 4, 5000);
    QVERIFY(o.exited);
    QCOMPARE(o.exit.exitCode, 0);
    QVERIFY(processAlive(sleeper));
    ::kill(sleeper, SIGKILL);
    QVERIFY(processGone(sleeper));
}

void TestGuestAgent::backgroundProcess()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    ExecStart start = shellCommand("echo ready; read line; echo \"got $line\"; echo oops >&2; exec sleep 300");
    const auto started = processRequest(c, 1, MsgType::ProcessStart, start.encode());
    QVERIFY(started);
    QVERIFY(started->running);
    QVERIFY(started->pid > 0);
    QCOMPARE(started->command, (std::vector<std::string>{"sh", "-c", start.shell}));
    const std::int32_t pid = started->pid;

    const auto f = request(c, 2, MsgType::ProcessList, {});
    ProcessListResult list;
    QVERIFY(f && ProcessListResult::decode(f->payload, &list));
    QCOMPARE(list.processes.size(), std::size_t(1));
    QCOMPARE(list.processes.front().pid, pid);

    // Output by offset: "ready\n" first, then what stdin brought.
    std::optional<ProcessOutput> out;
    QTRY_VERIFY((out = readProcess(c, 3, pid, 0, 0)) && out->stdoutData == "ready\n");
    QCOMPARE(out->stdoutOffset, std::uint64_t(6));
    QVERIFY(!out->truncated);
    QVERIFY(processRequest(c, 4, MsgType::ProcessWrite, ProcessWrite{pid, false, "hi\n"}.encode()));
    QTRY_VERIFY((out = readProcess(c, 5, pid, 6, 0)) && out->stdoutData == "got hi\n" && out->stderrData == "oops\n");
    QCOMPARE(out->stdoutOffset, std::uint64_t(13));
    QCOMPARE(out->stderrOffset, std::uint64_t(5));
    QVERIFY(out->state.running);
    out = readProcess(c, 6, pid, 13, 5);
    QVERIFY(out && out->stdoutData.empty() && out->stderrData.empty());

    // A Hello (a host that came back) leaves it running.
    QVERIFY(c.send(MsgType::Hello, 0, Hello{}.encode()));
    QVERIFY(c.next(0));
    QVERIFY(processAlive(pid));

    auto state = processRequest(c, 7, MsgType::ProcessSignal, ProcessSignal{pid, SIGTERM}.encode());
    QVERIFY(state);
    QTRY_VERIFY((state = processRequest(c, 8, MsgType::ProcessStatus, ProcessRef{pid}.encode())) && !state->running);
    QCOMPARE(state->signal, SIGTERM);
    QVERIFY(state->endedMs >= state->startedMs);

    QVERIFY(processRequest(c, 9, MsgType::ProcessRemove, ProcessRef{pid}.encode()));
    for (MsgType type : {MsgType::ProcessStatus, MsgType::ProcessRemove}) {
        QVERIFY(c.send(type, 10, ProcessRef{pid}.encode()));
        const auto e = expectError(c, 10);
        QVERIFY(e);
        QCOMPARE(e->code, ErrorCode::NotFound);
    }
    QVERIFY(c.send(MsgType::ProcessWrite, 11, ProcessWrite{pid, true, "x"}.encode()));
    QVERIFY(expectError(c, 11));
}

// A process seen ended has all it wrote readable: its exit is not reported
// before its pipes are read (tst_mcp once read '' from one just ended in a
// TCG guest). Made certain here: the agent is stopped while the process
// writes and ends and a read is sent, so that when it goes on, the child's
// exit, the read and the output are all pending in one pass of its loop
// (which takes exits first, then the connection, then the pipes).
void TestGuestAgent::backgroundProcessEndsAfterItsOutput()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    for (std::uint32_t i = 0; i < 5; ++i) {
        const std::uint32_t id = 10 + 4 * i;
        const auto started = processRequest(c, id, MsgType::ProcessStart, shellCommand("sleep 0.2; echo got hi; echo err >&2").encode());
        QVERIFY(started);
        ::kill(agent.pid(), SIGSTOP);
        QTRY_VERIFY_WITH_TIMEOUT(isZombie(started->pid), 10000); // ended, not reaped by the stopped agent
        QVERIFY(c.send(MsgType::ProcessRead, id + 1, ProcessRead{started->pid, 0, 0, 0}.encode()));
        ::kill(agent.pid(), SIGCONT);
        const std::optional<Frame> f = c.next(id + 1);
        ProcessOutput out;
        QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::ProcessOutput) && ProcessOutput::decode(f->payload, &out));
        QVERIFY(!out.state.running);
        QCOMPARE(out.stdoutData, std::string("got hi\n"));
        QCOMPARE(out.stderrData, std::string("err\n"));
        std::optional<ProcessState> state;
        QTRY_VERIFY_WITH_TIMEOUT((state = processRequest(c, id + 2, MsgType::ProcessStatus, ProcessRef{started->pid}.encode())) && !state->running, 10000);
        QVERIFY(processRequest(c, id + 3, MsgType::ProcessRemove, ProcessRef{started->pid}.encode()));
    }
}

// A flood keeps only the last ring's worth; a read from before it says
// truncated and starts at the oldest byte kept.
void TestGuestAgent::backgroundProcessOutputRing()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    const auto started = processRequest(c, 1, MsgType::ProcessStart, shellCommand("head -c 3000000 /dev/zero; echo end").encode());
    QVERIFY(started);
    std::optional<ProcessState> state;
    QTRY_VERIFY((state = processRequest(c, 2, MsgType::ProcessStatus, ProcessRef{started->pid}.encode())) && !state->running);
    QCOMPARE(state->exitCode, 0);
    std::uint64_t offset = 0;
    std::string tail;
    bool truncated = false;
    for (int i = 0; i < 100 && offset < 3000004; ++i) {
        const auto out = readProcess(c, 3, started->pid, offset, 0);
        QVERIFY(out);
        truncated = truncated || out->truncated;
        QVERIFY(out->stdoutOffset > offset);
        offset = out->stdoutOffset;
        tail = out->stdoutData;
    }
    QVERIFY(truncated);
    QCOMPARE(offset, std::uint64_t(3000004));
    QVERIFY(tail.size() >= 4 && tail.substr(tail.size() - 4) == "end\n");
}

void TestGuestAgent::backgroundProcessLimit()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    constexpr int kMax = 32; // ProcessTable::kMaxProcesses
    std::vector<std::int32_t> pids;
    for (int i = 0; i < kMax; ++i) {
        const auto s = processRequest(c, 1 + i, MsgType::ProcessStart, shellCommand("exec sleep 300").encode());
        QVERIFY(s);
        pids.push_back(s->pid);
    }
    QVERIFY(c.send(MsgType::ProcessStart, 100, shellCommand("true").encode()));
    const auto e = expectError(c, 100);
    QVERIFY(e);
    QCOMPARE(e->code, ErrorCode::Busy);
    QVERIFY2(e->message.find("too many background processes") != std::string::npos, e->message.c_str());

    // An ended one makes room (it is forgotten for the new one).
    QVERIFY(processRequest(c, 101, MsgType::ProcessSignal, ProcessSignal{pids.front(), SIGKILL}.encode()));
    QTRY_VERIFY(processGone(pids.front(), 0));
    std::optional<ProcessState> next;
    QTRY_VERIFY((next = processRequest(c, 102, MsgType::ProcessStatus, ProcessRef{pids.front()}.encode())) && !next->running);
    next = processRequest(c, 102, MsgType::ProcessStart, shellCommand("exec sleep 300").encode());
    QVERIFY(next);
    QVERIFY(c.send(MsgType::ProcessStatus, 103, ProcessRef{pids.front()}.encode()));
    QVERIFY(expectError(c, 103));

    // The agent ending kills the rest.
    agent.stop();
    for (std::size_t i = 1; i < pids.size(); ++i)
        QVERIFY(processGone(pids[i]));
    QVERIFY(processGone(next->pid));
}

void TestGuestAgent::execStdin()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    ExecStart req;
    req.argv = {"cat"};
    const std::string small = "hello world\n";
    auto o = runExec(*agent.conn, 1, req, small);
    QVERIFY(o.exited);
    QCOMPARE(o.out, small);

    const std::string big = randomBytes(3u << 20);
    o = runExec(*agent.conn, 2, req, big);
    QVERIFY(o.exited);
    QCOMPARE(o.exit.exitCode, 0);
    QVERIFY(o.out == big);
}

void TestGuestAgent::execMissingBinary()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    ExecStart req;
    req.argv = {"/nonexistent/microvm-test-binary", "x"};
    const auto o = runExec(*agent.conn, 1, req);
    QVERIFY(o.failed);
    QCOMPARE(o.error.code, ErrorCode::NotFound);
    QVERIFY2(o.error.message.find("No such file or directory") != std::string::npos, o.error.message.c_str());

    req.argv = {"no-such-command-anywhere-xyz"};
    const auto o2 = runExec(*agent.conn, 2, req);
    QVERIFY(o2.failed);
    QCOMPARE(o2.error.code, ErrorCode::NotFound);

    ExecStart bad;
    const auto o3 = runExec(*agent.conn, 3, bad); // neither argv nor shell
    QVERIFY(o3.failed);
    QCOMPARE(o3.error.code, ErrorCode::InvalidArgument);
}

void TestGuestAgent::execCwdAndEnv()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    ExecStart req = shellCommand("pwd; echo \"$MVS_TEST_VAR\"");
    req.cwd = QFileInfo(dir.path()).canonicalFilePath().toStdString();
    req.env = {"MVS_TEST_VAR=hello there"};
    auto o = runExec(*agent.conn, 1, req);
    QVERIFY(o.exited);
    QCOMPARE(o.out, req.cwd + "\nhello there\n");

    req = shellCommand("echo \"$PATH|$HOME\"");
    req.flags = ExecStart::ClearEnv;
    o = runExec(*agent.conn, 2, req);
    QVERIFY(o.exited);
    QCOMPARE(o.out, std::string("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|\n"));

    req = shellCommand("true");
    req.cwd = "/nonexistent-dir-for-test";
    o = runExec(*agent.conn, 3, req);
    QVERIFY(o.failed);
    QCOMPARE(o.error.code, ErrorCode::NotFound);
}

void TestGuestAgent::execCancel()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QVERIFY(c.send(MsgType::ExecStart, 4, shellCommand("sleep 30").encode()));
    const auto started = c.next(4);
    QVERIFY(started && started->header.type == static_cast<std::uint8_t>(MsgType::ExecStarted));
    QVERIFY(c.send(MsgType::Cancel, 4));
    const auto o = collectExec(c, 4, 5000);
    QVERIFY(o.exited);
    QCOMPARE(o.exit.signal, SIGKILL);
    QVERIFY(!o.exit.timedOut);
}

void TestGuestAgent::concurrentExecs()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    constexpr int kCount = 8;
    std::map<std::uint32_t, ExecOutcome> outcomes;
    std::map<std::uint32_t, std::string> expected;
    for (int i = 0; i < kCount; ++i) {
        const std::uint32_t id = 100 + static_cast<std::uint32_t>(i);
        const int first = i * 1000000;
        const int last = first + 30000;
        std::string want;
        for (int n = first; n <= last; ++n)
            want += std::to_string(n) + "\n";
        expected[id] = want;
        outcomes[id];
        QVERIFY(c.send(MsgType::ExecStart, id,
                       shellCommand("seq " + std::to_string(first) + " " + std::to_string(last) + "; echo e" + std::to_string(i) + " >&2").encode()));
    }
    int finished = 0;
    const Deadline deadline(30000);
    while (finished < kCount) {
        const auto f = c.next(std::nullopt, deadline.remaining());
        QVERIFY(f);
        const auto it = outcomes.find(f->header.stream);
        QVERIFY(it != outcomes.end());
        if (absorbExecFrame(*f, &it->second))
            ++finished;
    }
    for (const auto &[id, o] : outcomes) {
        QVERIFY(o.exited);
        QCOMPARE(o.exit.exitCode, 0);
        QVERIFY(o.out == expected[id]);
        QCOMPARE(o.err, "e" + std::to_string(id - 100) + "\n");
    }
}

void TestGuestAgent::backpressure()
{
    // While the host does not read, the agent stops reading the child's pipe
    // instead of buffering: its memory stays bounded and the writer blocks.
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    constexpr std::size_t kTotal = 96u << 20;
    QVERIFY(c.send(MsgType::ExecStart, 1, shellCommand("head -c " + std::to_string(kTotal) + " /dev/zero").encode()));
    ::usleep(1500000);
    QFile status(QStringLiteral("/proc/%1/status").arg(agent.pid()));
    QVERIFY(status.open(QIODevice::ReadOnly));
    qint64 rssKiB = -1;
    for (const QByteArray &line : status.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            rssKiB = line.mid(6).trimmed().split(' ').value(0).toLongLong();
    }
    QVERIFY(rssKiB > 0);
    qInfo("agent RSS with the host not reading: %lld KiB", rssKiB);
    QVERIFY2(rssKiB < 32 * 1024, qPrintable(QString::number(rssKiB)));

    const auto o = collectExec(c, 1, 60000);
    QVERIFY(o.exited);
    QCOMPARE(o.exit.exitCode, 0);
    QCOMPARE(o.out.size(), kTotal);
}

// A stream whose credit the host withholds gets exactly its window and
// stops (the agent stops reading that pipe); another exec, a stat, a put
// and a get on the same session go on. Credit back, the rest comes.
void TestGuestAgent::creditHoldsOneStreamOnly()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    constexpr std::size_t kTotal = 8u << 20;
    c.withholdCredit(1, true);
    QVERIFY(c.send(MsgType::ExecStart, 1, shellCommand("head -c " + std::to_string(kTotal) + " /dev/zero").encode()));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = tempPath(dir, "side.txt");
    FilePut put;
    put.path = path;
    put.size = 5;
    QVERIFY(putFile(c, 2, put, "side\n").done);
    const auto other = runExec(c, 3, shellCommand("echo other"));
    QVERIFY(other.exited);
    QCOMPARE(other.out, std::string("other\n"));
    QVERIFY(c.send(MsgType::Stat, 4, PathRequest{path}.encode()));
    const auto stat = c.next(4);
    QVERIFY(stat && stat->header.type == static_cast<std::uint8_t>(MsgType::StatResult));
    const auto got = getFile(c, 5, path);
    QVERIFY(got.complete);
    QCOMPARE(got.data, std::string("side\n"));

    ::usleep(500000);
    QCOMPARE(c.queuedData(1), std::size_t(kStreamWindow)); // the window, not a byte more
    c.withholdCredit(1, false);
    const auto held = collectExec(c, 1, 60000);
    QVERIFY(held.exited);
    QCOMPARE(held.out.size(), kTotal);
}

// A StreamCredit the agent cannot decode fails that stream, nothing else.
void TestGuestAgent::malformedCredit()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QVERIFY(c.send(MsgType::ExecStart, 1, shellCommand("sleep 30").encode()));
    QVERIFY(c.nextSkipping(1, MsgType::Announce)); // ExecStarted
    QVERIFY(c.send(MsgType::StreamCredit, 1, "x"));
    const auto err = expectError(c, 1);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Protocol);
    const auto echo = runExec(c, 2, shellCommand("echo still"));
    QCOMPARE(echo.out, std::string("still\n"));
}

void TestGuestAgent::putGetLarge()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = tempPath(dir, "big.bin");
    const std::string data = randomBytes(32u << 20);

    FilePut put;
    put.path = path;
    put.mode = 0640;
    put.size = data.size();
    const auto p = putFile(c, 1, put, data);
    QVERIFY(p.done);
    QCOMPARE(p.result.bytesWritten, static_cast<std::uint64_t>(data.size()));
    struct stat st { };
    QCOMPARE(::stat(path.c_str(), &st), 0);
    QCOMPARE(static_cast<int>(st.st_mode & 07777), 0640);
    QCOMPARE(static_cast<std::uint64_t>(st.st_size), static_cast<std::uint64_t>(data.size()));
    // Only the file itself: no temp file left behind.
    QCOMPARE(QDir(dir.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).size(), 1);

    // Get it back while an exec runs on the same session: both make progress.
    QVERIFY(c.send(MsgType::FileGet, 2, PathRequest{path}.encode()));
    QVERIFY(c.send(MsgType::ExecStart, 3, shellCommand("echo concurrent").encode()));
    GetOutcome g;
    ExecOutcome e;
    bool getDone = false;
    bool execDone = false;
    const Deadline deadline(60000);
    while (!getDone || !execDone) {
        const auto f = c.next(std::nullopt, deadline.remaining());
        QVERIFY(f);
        if (f->header.stream == 2)
            getDone = absorbGetFrame(*f, &g);
        else if (f->header.stream == 3)
            execDone = absorbExecFrame(*f, &e);
    }
    QVERIFY(!g.error);
    QVERIFY(g.complete);
    QCOMPARE(g.info.size, static_cast<std::uint64_t>(data.size()));
    QCOMPARE(g.info.mode, 0640u);
    QVERIFY(g.data == data);
    QVERIFY(e.exited);
    QCOMPARE(e.out, std::string("concurrent\n"));
}

void TestGuestAgent::putWrongSize()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    FilePut put;
    put.path = tempPath(dir, "short.bin");
    put.size = 10;
    auto p = putFile(c, 1, put, "12345");
    QVERIFY(!p.done);
    QVERIFY(p.error);
    QCOMPARE(p.error->code, ErrorCode::InvalidArgument);

    put.size = 3; // more data than announced
    p = putFile(c, 2, put, "12345");
    QVERIFY(p.error);
    QCOMPARE(p.error->code, ErrorCode::InvalidArgument);

    QVERIFY(QDir(dir.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty());

    // Cancel in the middle also leaves nothing behind.
    put.size = 100;
    QVERIFY(c.send(MsgType::FilePut, 3, put.encode()));
    QVERIFY(c.send(MsgType::FileData, 3, "abc"));
    QVERIFY(c.send(MsgType::Cancel, 3));
    const auto err = expectError(c, 3);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Cancelled);
    QVERIFY(QDir(dir.path()).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot).isEmpty());
}

void TestGuestAgent::putFlags()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());

    FilePut put;
    put.path = tempPath(dir, "a/b/c/file.txt");
    put.size = 5;
    auto p = putFile(c, 1, put, "hello");
    QVERIFY(p.error);
    QCOMPARE(p.error->code, ErrorCode::NotFound);
    QVERIFY2(p.error->message.find("No such file or directory") != std::string::npos, p.error->message.c_str());

    put.flags = FilePut::MakeParents;
    p = putFile(c, 2, put, "hello");
    QVERIFY(p.done);
    QFile f(QString::fromStdString(put.path));
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), QByteArray("hello"));

    put.flags = FilePut::NoOverwrite;
    p = putFile(c, 3, put, "world");
    QVERIFY(p.error);
    QCOMPARE(p.error->code, ErrorCode::Exists);

    put.flags = 0; // plain overwrite works
    p = putFile(c, 4, put, "world");
    QVERIFY(p.done);

    put.path = tempPath(dir, "a");
    p = putFile(c, 5, put, "world");
    QVERIFY(p.error);
    QCOMPARE(p.error->code, ErrorCode::IsDirectory);
}

void TestGuestAgent::getMissing()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    const auto g = getFile(*agent.conn, 1, "/nonexistent/microvm/file");
    QVERIFY(g.error);
    QCOMPARE(g.error->code, ErrorCode::NotFound);
    QVERIFY2(g.error->message.find("/nonexistent/microvm/file") != std::string::npos, g.error->message.c_str());
}

void TestGuestAgent::getDirectory()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    QVERIFY(::handshake(*agent.conn));
    QTemporaryDir dir;
    const auto g = getFile(*agent.conn, 1, dir.path().toStdString());
    QVERIFY(g.error);
    QCOMPARE(g.error->code, ErrorCode::IsDirectory);
}

void TestGuestAgent::statAndList()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    {
        QFile b(dir.filePath(QStringLiteral("b.txt")));
        QVERIFY(b.open(QIODevice::WriteOnly));
        b.write("12345");
    }
    QVERIFY(::chmod(tempPath(dir, "b.txt").c_str(), 0600) == 0);
    QFile a(dir.filePath(QStringLiteral("a.txt")));
    QVERIFY(a.open(QIODevice::WriteOnly));
    a.close();
    QVERIFY(QDir(dir.path()).mkdir(QStringLiteral("c")));
    QVERIFY(::symlink("a.txt", tempPath(dir, "d").c_str()) == 0);

    QVERIFY(c.send(MsgType::List, 1, PathRequest{dir.path().toStdString()}.encode()));
    auto f = c.next(1);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::ListResult));
    ListResult list;
    QVERIFY(ListResult::decode(f->payload, &list));
    QCOMPARE(list.entries.size(), std::size_t(4));
    QCOMPARE(list.entries[0].name, std::string("a.txt"));
    QCOMPARE(list.entries[1].name, std::string("b.txt"));
    QCOMPARE(list.entries[2].name, std::string("c"));
    QCOMPARE(list.entries[3].name, std::string("d"));
    QCOMPARE(list.entries[1].type, FileType::Regular);
    QCOMPARE(list.entries[1].size, std::uint64_t(5));
    QCOMPARE(list.entries[1].mode, 0600u);
    QCOMPARE(list.entries[2].type, FileType::Directory);
    QCOMPARE(list.entries[3].type, FileType::Symlink);
    QCOMPARE(list.entries[3].linkTarget, std::string("a.txt"));

    const std::string link = tempPath(dir, "d");
    QVERIFY(c.send(MsgType::Stat, 2, PathRequest{link}.encode()));
    f = c.next(2);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::StatResult));
    StatResult st;
    QVERIFY(StatResult::decode(f->payload, &st));
    QCOMPARE(st.info.name, link);
    QCOMPARE(st.info.type, FileType::Symlink);
    QCOMPARE(st.info.linkTarget, std::string("a.txt"));

    QVERIFY(c.send(MsgType::Stat, 3, PathRequest{tempPath(dir, "missing")}.encode()));
    auto err = expectError(c, 3);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::NotFound);

    QVERIFY(c.send(MsgType::List, 4, PathRequest{tempPath(dir, "b.txt")}.encode()));
    err = expectError(c, 4);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::NotDirectory);
}

void TestGuestAgent::health()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    HelloAck ack;
    QVERIFY(::handshake(c, &ack));
    QVERIFY(c.send(MsgType::Health, 3));
    const auto f = c.next(3);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::HealthResult));
    HealthResult h;
    QVERIFY(HealthResult::decode(f->payload, &h));
    QCOMPARE(h.agentVersion, ack.agentVersion);
    QVERIFY(h.agentUptimeMs < 60000);
    QVERIFY(h.systemUptimeMs > 0);
    QVERIFY(h.memTotalKiB > 0);
    QVERIFY(h.memAvailableKiB > 0 && h.memAvailableKiB <= h.memTotalKiB);
    QVERIFY(h.cpus >= 1);
    QCOMPARE(h.activeStreams, 0u);
    QVERIFY(!h.hostname.empty());
    QVERIFY2(h.kernel.rfind("Linux ", 0) == 0, h.kernel.c_str());
    // The interfaces other than lo, with the addresses Qt sees on them.
    QVERIFY(h.interfaces.size() <= HealthResult::kMaxInterfaces);
    for (const InterfaceInfo &i : h.interfaces) {
        const QNetworkInterface qt = QNetworkInterface::interfaceFromName(QString::fromStdString(i.name));
        QVERIFY2(qt.isValid() && !(qt.flags() & QNetworkInterface::IsLoopBack), i.name.c_str());
        for (const std::string &a : i.addresses) {
            const QStringList parts = QString::fromStdString(a).split(QLatin1Char('/')); // parseSubnet would clear the host bits
            const QHostAddress address(parts.value(0));
            const int prefix = parts.value(1).toInt();
            bool seen = false;
            for (const QNetworkAddressEntry &e : qt.addressEntries())
                seen = seen || (e.ip().isEqual(address, QHostAddress::TolerantConversion) && e.prefixLength() == prefix);
            QVERIFY2(seen || address.protocol() == QAbstractSocket::IPv6Protocol, a.c_str());
        }
    }

    // With an exec running, it counts as an active stream.
    QVERIFY(c.send(MsgType::ExecStart, 4, shellCommand("sleep 30").encode()));
    QVERIFY(c.next(4)); // ExecStarted
    QVERIFY(c.send(MsgType::Health, 5));
    const auto f2 = c.next(5);
    QVERIFY(f2 && HealthResult::decode(f2->payload, &h));
    QCOMPARE(h.activeStreams, 1u);
}

void TestGuestAgent::unknownTypeBusyAndStrayData()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));

    QVERIFY(c.sendRaw(encodeFrame(200, 9, "whatever")));
    auto err = expectError(c, 9);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Unsupported);

    QVERIFY(c.send(MsgType::ExecStart, 10, shellCommand("sleep 30").encode()));
    auto f = c.next(10);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::ExecStarted));
    QVERIFY(c.send(MsgType::ExecStart, 10, shellCommand("echo again").encode()));
    err = expectError(c, 10);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Busy);

    // Malformed payload.
    QVERIFY(c.send(MsgType::FilePut, 11, "xx"));
    err = expectError(c, 11);
    QVERIFY(err);
    QVERIFY(err->code == ErrorCode::Protocol || err->code == ErrorCode::InvalidArgument);

    // Data for a stream nobody opened is dropped silently.
    QVERIFY(c.send(MsgType::ExecStdin, 77, "nobody"));
    QVERIFY(c.send(MsgType::FileData, 78, "nobody"));
    QVERIFY(c.send(MsgType::Health, 12));
    f = c.next(12);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::HealthResult));
    QVERIFY(!c.hasQueued(77));
    QVERIFY(!c.hasQueued(78));

    QVERIFY(c.send(MsgType::Cancel, 10));
    const auto o = collectExec(c, 10, 5000);
    QVERIFY(o.exited);
}

void TestGuestAgent::oversizeFrame()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    char header[kHeaderSize];
    encodeHeader(header, FrameHeader{static_cast<std::uint8_t>(MsgType::FileData), 0, 5, kDefaultMaxPayload + 1});
    QVERIFY(c.sendRaw(std::string_view(header, sizeof header)));
    const auto err = expectError(c, 0);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::Protocol);
    QVERIFY(c.waitForClose(5000));
    const int status = agent.waitExit(5000);
    QVERIFY(WIFEXITED(status));
    QCOMPARE(WEXITSTATUS(status), 0);
}

void TestGuestAgent::garbageBeforeHello()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    const auto announce = c.next(0);
    QVERIFY(announce && announce->header.type == static_cast<std::uint8_t>(MsgType::Announce));
    std::string garbage = "left over from an old session\n" + randomBytes(5000);
    for (char &ch : garbage) {
        if (ch == 'V') // no magic ("VM" on the wire) inside the garbage
            ch = 'x';
    }
    QVERIFY(c.sendRaw(garbage));
    Hello hello;
    QVERIFY(c.send(MsgType::Hello, 0, hello.encode()));
    const auto ack = c.next(0);
    QVERIFY(ack && ack->header.type == static_cast<std::uint8_t>(MsgType::HelloAck));
    const auto o = runExec(c, 1, shellCommand("echo ok"));
    QCOMPARE(o.out, std::string("ok\n"));
}

void TestGuestAgent::helloCancelsRunningExec()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QVERIFY(c.send(MsgType::ExecStart, 5, shellCommand("echo started; exec sleep 30").encode()));
    const auto started = c.next(5);
    QVERIFY(started && started->header.type == static_cast<std::uint8_t>(MsgType::ExecStarted));
    ExecStarted s;
    QVERIFY(ExecStarted::decode(started->payload, &s));
    const auto out = c.next(5);
    QVERIFY(out && out->payload == "started\n");

    Hello hello;
    QVERIFY(c.send(MsgType::Hello, 0, hello.encode()));
    const auto ack = c.next(0);
    QVERIFY(ack && ack->header.type == static_cast<std::uint8_t>(MsgType::HelloAck));
    QVERIFY(processGone(s.pid));

    // The old stream id is free again in the new session.
    const auto o = runExec(c, 5, shellCommand("echo fresh"));
    QVERIFY(o.exited);
    QCOMPARE(o.out, std::string("fresh\n"));
}

void TestGuestAgent::streamForward()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QTcpServer server;
    QVERIFY(server.listen(QHostAddress::LocalHost, 0));

    StreamOpen open;
    open.host = "127.0.0.1";
    open.port = server.serverPort();
    QVERIFY(c.send(MsgType::StreamOpen, 20, open.encode()));
    QVERIFY(server.waitForNewConnection(5000));
    std::unique_ptr<QTcpSocket> sock(server.nextPendingConnection());
    QVERIFY(sock);
    auto f = c.next(20);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::StreamOpened));

    // host -> guest TCP
    const std::string ping = "ping from the host";
    QVERIFY(c.send(MsgType::StreamData, 20, ping));
    QByteArray received;
    while (received.size() < static_cast<qsizetype>(ping.size()) && sock->waitForReadyRead(5000))
        received += sock->readAll();
    QCOMPARE(asString(received), ping);

    // guest TCP -> host, a bigger payload split over several frames
    const std::string big = randomBytes(600000);
    sock->write(big.data(), static_cast<qint64>(big.size()));
    std::string relayed;
    while (relayed.size() < big.size()) {
        sock->waitForBytesWritten(10);
        f = c.next(20, 5000);
        QVERIFY(f);
        QCOMPARE(f->header.type, static_cast<std::uint8_t>(MsgType::StreamData));
        relayed += f->payload;
    }
    QVERIFY(relayed == big);

    // The TCP peer closes: the agent sends StreamClose.
    sock->disconnectFromHost();
    f = c.next(20, 5000);
    QVERIFY(f);
    QCOMPARE(f->header.type, static_cast<std::uint8_t>(MsgType::StreamClose));

    // Host-side close: the TCP peer sees the connection end after the data.
    QVERIFY(c.send(MsgType::StreamOpen, 21, open.encode()));
    QVERIFY(server.waitForNewConnection(5000));
    std::unique_ptr<QTcpSocket> sock2(server.nextPendingConnection());
    f = c.next(21);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::StreamOpened));
    QVERIFY(c.send(MsgType::StreamData, 21, "last words"));
    QVERIFY(c.send(MsgType::StreamClose, 21));
    received.clear();
    const Deadline deadline(5000);
    while (sock2->state() == QAbstractSocket::ConnectedState && deadline.remaining() > 0) {
        sock2->waitForReadyRead(100);
        received += sock2->readAll();
    }
    received += sock2->readAll();
    QCOMPARE(received, QByteArray("last words"));
    QVERIFY(sock2->state() != QAbstractSocket::ConnectedState);
}

void TestGuestAgent::streamRefused()
{
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    quint16 port = 0;
    {
        QTcpServer server;
        QVERIFY(server.listen(QHostAddress::LocalHost, 0));
        port = server.serverPort();
    }
    StreamOpen open;
    open.host = "localhost";
    open.port = port;
    QVERIFY(c.send(MsgType::StreamOpen, 1, open.encode()));
    auto err = expectError(c, 1);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::ConnectionRefused);

    open.host = "no-such-host.invalid";
    QVERIFY(c.send(MsgType::StreamOpen, 2, open.encode()));
    err = expectError(c, 2);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::InvalidArgument);
}

void TestGuestAgent::shutdownRefused()
{
    // The tests run as root on a real host: the agent must never power it
    // off, so it runs with --no-shutdown and refuses.
    Agent agent;
    QVERIFY(agent.startOnSocketPair());
    auto &c = *agent.conn;
    QVERIFY(::handshake(c));
    QVERIFY(c.send(MsgType::Shutdown, 1, Shutdown{}.encode()));
    const auto err = expectError(c, 1);
    QVERIFY(err);
    QCOMPARE(err->code, ErrorCode::PermissionDenied);
}

void TestGuestAgent::unixTransport()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const std::string path = tempPath(dir, "agent.sock");
    Agent agent;
    QVERIFY(agent.spawn({"--unix", path, "--no-shutdown"}));

    const auto connectOnce = [&path]() -> int {
        const Deadline deadline(5000);
        while (deadline.remaining() > 0) {
            const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::memcpy(addr.sun_path, path.c_str(), path.size());
            if (::connect(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr) == 0)
                return fd;
            ::close(fd);
            ::usleep(20000);
        }
        return -1;
    };
    const int fd1 = connectOnce();
    QVERIFY(fd1 >= 0);
    const int fd2 = connectOnce();
    QVERIFY(fd2 >= 0);
    Connection c1(fd1);
    auto c2 = std::make_unique<Connection>(fd2);
    QVERIFY(::handshake(c1));
    QVERIFY(::handshake(*c2));

    QVERIFY(c1.send(MsgType::ExecStart, 1, shellCommand("echo started; exec sleep 30").encode()));
    auto f = c1.next(1);
    QVERIFY(f && f->header.type == static_cast<std::uint8_t>(MsgType::ExecStarted));
    ExecStarted started;
    QVERIFY(ExecStarted::decode(f->payload, &started));
    QVERIFY(c1.next(1)); // "started"

    // Sessions are independent: the same stream id is free on the second one,
    // and closing it leaves the first untouched.
    auto o = runExec(*c2, 1, shellCommand("echo second"));
    QCOMPARE(o.out, std::string("second\n"));
    c2.reset();
    o = runExec(c1, 2, shellCommand("echo first"));
    QCOMPARE(o.out, std::string("first\n"));
    QVERIFY(!processGone(started.pid, 100));

    // Closing the first connection kills what it left running.
    c1.close();
    QVERIFY(processGone(started.pid));

    agent.signal(SIGTERM);
    const int status = agent.waitExit(5000);
    QVERIFY(WIFEXITED(status));
    QCOMPARE(WEXITSTATUS(status), 0);
    QVERIFY(!QFileInfo::exists(QString::fromStdString(path)));
}

void TestGuestAgent::serialPty()
{
    // A pty stands in for the virtio-serial port: the agent opens the
    // "device" by path and must survive garbage and the host going away.
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    QVERIFY(master >= 0);
    QVERIFY(::grantpt(master) == 0 && ::unlockpt(master) == 0);
    const std::string slave = ::ptsname(master);
    Agent agent;
    QVERIFY(agent.spawn({"--serial", slave, "--no-shutdown"}));
    {
        Connection c(master);
        const auto announce = c.next(0);
        QVERIFY(announce && announce->header.type == static_cast<std::uint8_t>(MsgType::Announce));
        QVERIFY(c.sendRaw("\x01\x02 stale bytes \xff\xfe"));
        Hello hello;
        QVERIFY(c.send(MsgType::Hello, 0, hello.encode()));
        const auto ack = c.nextSkipping(0, MsgType::Announce);
        QVERIFY(ack && ack->header.type == static_cast<std::uint8_t>(MsgType::HelloAck));
        const auto o = runExec(c, 1, shellCommand("echo over serial"));
        QCOMPARE(o.out, std::string("over serial\n"));
    } // closes the master: the agent waits for a host again instead of exiting
    ::usleep(200000);
    QCOMPARE(agent.waitExit(0), -1);
    agent.signal(SIGTERM);
    const int status = agent.waitExit(5000);
    QVERIFY(WIFEXITED(status));
    QCOMPARE(WEXITSTATUS(status), 0);
}

QTEST_GUILESS_MAIN(TestGuestAgent)
#include "tst_guestagent.moc"
