#include "filestreams.h"

#include "session.h"
#include "util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace GuestAgent {

using Protocol::ErrorCode;
using Protocol::MsgType;

namespace {

// mkdir -p; 0 or an errno value.
int makeDirectories(const std::string &dir)
{
    std::size_t pos = 0;
    for (;;) {
        pos = dir.find('/', pos + 1);
        const std::string part = dir.substr(0, pos);
        if (!part.empty() && ::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
            return errno;
        if (pos == std::string::npos)
            break;
    }
    struct stat st { };
    if (::stat(dir.c_str(), &st) != 0)
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

void syncDirectory(const std::string &dir)
{
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

} // namespace

// ================================================================ FilePutStream

FilePutStream::FilePutStream(Session &session, std::uint32_t id)
    : Stream(session, id)
{
}

FilePutStream::~FilePutStream()
{
    release();
}

void FilePutStream::fail(ErrorCode code, const std::string &message)
{
    release(); // unlink the temp file before the host hears about it
    m_session.sendError(m_id, code, message);
    m_session.finishStream(m_id);
}

void FilePutStream::start(const Protocol::FilePut &request)
{
    m_path = request.path;
    m_mode = request.mode & 07777;
    m_flags = request.flags;
    m_expected = request.size;

    if (m_path.empty() || hasNul(m_path))
        return fail(ErrorCode::InvalidArgument, "invalid path");
    if (m_path.back() == '/')
        return fail(ErrorCode::IsDirectory, errnoMessage("open", m_path, EISDIR));
    const std::size_t slash = m_path.rfind('/');
    const std::string name = slash == std::string::npos ? m_path : m_path.substr(slash + 1);
    m_dir = slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : m_path.substr(0, slash);
    if (name == "." || name == "..")
        return fail(ErrorCode::InvalidArgument, "invalid file name in " + m_path);

    if (m_flags & Protocol::FilePut::MakeParents) {
        if (const int err = makeDirectories(m_dir); err != 0)
            return fail(errorCodeFromErrno(err), errnoMessage("mkdir", m_dir, err));
    }

    struct stat st { };
    if (::lstat(m_path.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return fail(ErrorCode::IsDirectory, errnoMessage("open", m_path, EISDIR));
        if (m_flags & Protocol::FilePut::NoOverwrite)
            return fail(ErrorCode::Exists, errnoMessage("open", m_path, EEXIST));
    } else if (errno != ENOENT) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("open", m_path, err));
    }

    std::string temp = m_dir + "/." + name + ".mvs-XXXXXX";
    const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("open", m_path, err));
    }
    m_file.reset(fd);
    m_tempPath = std::move(temp);
}

void FilePutStream::handleFrame(MsgType type, std::string_view payload)
{
    switch (type) {
    case MsgType::FileData: writeData(payload); return;
    case MsgType::FileEnd: commit(); return;
    default: fail(ErrorCode::Protocol, "unexpected message type " + std::to_string(static_cast<int>(type)) + " on a put stream"); return;
    }
}

void FilePutStream::writeData(std::string_view data)
{
    if (!m_file.valid())
        return;
    if (data.size() > m_expected - m_written) {
        return fail(ErrorCode::InvalidArgument, "put " + m_path + ": more data than the announced " + std::to_string(m_expected) + " bytes");
    }
    while (!data.empty()) {
        const ssize_t n = ::write(m_file.get(), data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            const int err = errno;
            return fail(errorCodeFromErrno(err), errnoMessage("write", m_path, err));
        }
        data.remove_prefix(static_cast<std::size_t>(n));
        m_written += static_cast<std::uint64_t>(n);
    }
}

void FilePutStream::commit()
{
    if (!m_file.valid())
        return;
    if (m_written != m_expected) {
        return fail(ErrorCode::InvalidArgument, "put " + m_path + ": received " + std::to_string(m_written) + " bytes, expected " + std::to_string(m_expected));
    }
    if (::fchmod(m_file.get(), m_mode) != 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("chmod", m_path, err));
    }
    if (::fsync(m_file.get()) != 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("fsync", m_path, err));
    }
    if (::close(m_file.release()) != 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("close", m_path, err));
    }

    int rc = 0;
    if (m_flags & Protocol::FilePut::NoOverwrite) {
        rc = ::renameat2(AT_FDCWD, m_tempPath.c_str(), AT_FDCWD, m_path.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
            // No RENAME_NOREPLACE on this filesystem: link() fails on an existing name too.
            rc = ::link(m_tempPath.c_str(), m_path.c_str());
            if (rc == 0)
                ::unlink(m_tempPath.c_str());
        }
    } else {
        rc = ::rename(m_tempPath.c_str(), m_path.c_str());
    }
    if (rc != 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("rename", m_path, err));
    }
    m_tempPath.clear();
    syncDirectory(m_dir);

    Protocol::FilePutDone done;
    done.bytesWritten = m_written;
    m_session.send(MsgType::FilePutDone, m_id, done.encode());
    m_session.finishStream(m_id);
}

void FilePutStream::cancel()
{
    fail(ErrorCode::Cancelled, "put " + m_path + ": cancelled");
}

void FilePutStream::release()
{
    if (m_released)
        return;
    m_released = true;
    m_file.reset();
    if (!m_tempPath.empty()) {
        ::unlink(m_tempPath.c_str());
        m_tempPath.clear();
    }
}

// ================================================================ FileGetStream

FileGetStream::FileGetStream(Session &session, std::uint32_t id)
    : Stream(session, id)
{
}

FileGetStream::~FileGetStream()
{
    release();
}

void FileGetStream::fail(ErrorCode code, const std::string &message)
{
    release(); // clean up before the host hears about it
    m_session.sendError(m_id, code, message);
    m_session.finishStream(m_id);
}

void FileGetStream::start(const std::string &path)
{
    m_path = path;
    if (m_path.empty() || hasNul(m_path))
        return fail(ErrorCode::InvalidArgument, "invalid path");
    // O_NONBLOCK so that a FIFO cannot hang the open; cleared below.
    const int fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("open", m_path, err));
    }
    m_file.reset(fd);
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        return fail(errorCodeFromErrno(err), errnoMessage("stat", m_path, err));
    }
    if (S_ISDIR(st.st_mode))
        return fail(ErrorCode::IsDirectory, errnoMessage("read", m_path, EISDIR));
    if (!S_ISREG(st.st_mode))
        return fail(ErrorCode::InvalidArgument, "read " + m_path + ": not a regular file");
    setNonBlocking(fd, false);

    Protocol::FileGetInfo info;
    info.size = static_cast<std::uint64_t>(st.st_size);
    info.mode = st.st_mode & 07777;
    m_session.send(MsgType::FileGetInfo, m_id, info.encode());
    schedulePump();
}

void FileGetStream::schedulePump()
{
    if (m_pumpPosted || m_released)
        return;
    m_pumpPosted = true;
    // One chunk per loop pass, so other streams and the socket keep moving.
    m_session.loop().post([weak = weak_from_this()] {
        if (const auto self = weak.lock())
            static_cast<FileGetStream *>(self.get())->pump();
    });
}

void FileGetStream::pump()
{
    m_pumpPosted = false;
    if (m_released || !m_file.valid())
        return;
    static char buf[Protocol::kDataChunk];
    const std::size_t max = sendable(std::min(sizeof buf, m_session.chunkSize()));
    if (m_session.congested() || max == 0) {
        m_waiting = true; // until the channel drains or credit arrives
        return;
    }
    const ssize_t n = ::read(m_file.get(), buf, max);
    if (n > 0) {
        spendCredit(static_cast<std::size_t>(n));
        m_session.send(MsgType::FileData, m_id, std::string_view(buf, static_cast<std::size_t>(n)));
        schedulePump();
        return;
    }
    if (n == 0) {
        m_session.send(MsgType::FileEnd, m_id, {});
        m_session.finishStream(m_id);
        return;
    }
    if (errno == EINTR) {
        schedulePump();
        return;
    }
    const int err = errno;
    fail(errorCodeFromErrno(err), errnoMessage("read", m_path, err));
}

void FileGetStream::outputResumed()
{
    if (m_waiting) {
        m_waiting = false;
        schedulePump();
    }
}

void FileGetStream::handleFrame(MsgType type, std::string_view)
{
    fail(ErrorCode::Protocol, "unexpected message type " + std::to_string(static_cast<int>(type)) + " on a get stream");
}

void FileGetStream::cancel()
{
    fail(ErrorCode::Cancelled, "get " + m_path + ": cancelled");
}

void FileGetStream::release()
{
    if (m_released)
        return;
    m_released = true;
    m_file.reset();
}

} // namespace GuestAgent
