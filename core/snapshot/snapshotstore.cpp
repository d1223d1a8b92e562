#include "core/snapshot/snapshotstore.h"

#include "core/paths.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QSaveFile>

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace Snapshot {
namespace {

constexpr int kManifestVersion = 1;
constexpr qint64 kHashChunk = 4 * 1024 * 1024;

Core::Error ioError(const QString &what, int err)
{
    return Core::Error(err == ENOSPC || err == EDQUOT ? Core::ErrorCode::NoSpace : Core::ErrorCode::Io,
                       QStringLiteral("%1: %2").arg(what, QString::fromLocal8Bit(std::strerror(err))));
}

// fsync a file or directory by path.
Core::Result syncPath(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ioError(QStringLiteral("cannot open %1").arg(path), errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0)
        return ioError(QStringLiteral("cannot sync %1").arg(path), err);
    return {};
}

QJsonValue timeToJson(const QDateTime &t)
{
    return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue(QJsonValue::Null);
}

} // namespace

qint64 SnapshotInfo::sizeBytes() const
{
    qint64 total = 0;
    for (const SnapshotFile &f : files)
        total += f.size;
    return total;
}

QJsonObject SnapshotInfo::toJson() const
{
    QJsonArray fileList;
    for (const SnapshotFile &f : files)
        fileList.append(QJsonObject{{QStringLiteral("name"), f.name}, {QStringLiteral("size"), f.size}, {QStringLiteral("sha256"), f.sha256}});
    QJsonObject o{
        {QStringLiteral("version"), kManifestVersion},
        {QStringLiteral("name"), name},
        {QStringLiteral("vm"), vm},
        {QStringLiteral("created_at"), timeToJson(createdAt)},
        {QStringLiteral("parent"), parent.isEmpty() ? QJsonValue(QJsonValue::Null) : QJsonValue(parent)},
        {QStringLiteral("driver"), driver},
        {QStringLiteral("vmm_version"), vmmVersion},
        {QStringLiteral("template"), templateName},
        {QStringLiteral("vcpus"), vcpus},
        {QStringLiteral("memory_mb"), memoryMiB},
        {QStringLiteral("accel"), accel},
        {QStringLiteral("kernel"), kernelPath},
        {QStringLiteral("initramfs"), initramfsPath},
        {QStringLiteral("base_disk"), baseDiskPath},
        {QStringLiteral("disk_file"), diskFile},
        {QStringLiteral("disk_format"), diskFormat},
        {QStringLiteral("state_files"), QJsonArray::fromStringList(stateFiles)},
        {QStringLiteral("paused_ms"), pausedMs},
        {QStringLiteral("files"), fileList},
    };
    if (maxVcpus > 0)
        o.insert(QStringLiteral("max_vcpus"), maxVcpus);
    return o;
}

namespace {

// A name inside the snapshot's directory: no separator, not "." or "..".
bool isPlainFileName(const QString &name)
{
    return !name.isEmpty() && !name.contains(QLatin1Char('/')) && name != QLatin1String(".") && name != QLatin1String("..");
}

// A host path the manifest names (the image it was taken from): absolute
// and clean, so it means what it says (ImageBuilder's directory is checked
// at restore, SnapshotStore::checkImagePaths).
bool isCleanAbsolutePath(const QString &path)
{
    return path.startsWith(QLatin1Char('/')) && QDir::cleanPath(path) == path && !path.contains(QLatin1String("/../"));
}

// What is wrong with the paths of a manifest read back, or empty.
QString pathProblem(const SnapshotInfo &s)
{
    for (const QString &path : {s.kernelPath, s.initramfsPath, s.baseDiskPath})
        if (!path.isEmpty() && !isCleanAbsolutePath(path))
            return QStringLiteral("image path %1 is not a clean absolute path").arg(path);
    if (s.diskFile.isEmpty())
        return {};
    if (!isPlainFileName(s.diskFile))
        return QStringLiteral("disk file %1 is not a file of the snapshot").arg(s.diskFile);
    if (std::none_of(s.files.begin(), s.files.end(), [&s](const SnapshotFile &x) { return x.name == s.diskFile; }))
        return QStringLiteral("disk file %1 has no checksum").arg(s.diskFile);
    return {};
}

} // namespace

Core::Expected<SnapshotInfo> SnapshotInfo::fromJson(const QJsonObject &o)
{
    auto bad = [](const QString &why) { return Core::Error(Core::ErrorCode::Corrupted, QStringLiteral("bad snapshot manifest: %1").arg(why)); };
    if (o.value(QStringLiteral("version")).toInt() != kManifestVersion)
        return bad(QStringLiteral("unsupported version"));
    SnapshotInfo s;
    s.name = o.value(QStringLiteral("name")).toString();
    s.vm = o.value(QStringLiteral("vm")).toString();
    s.createdAt = QDateTime::fromString(o.value(QStringLiteral("created_at")).toString(), Qt::ISODateWithMs);
    s.parent = o.value(QStringLiteral("parent")).toString();
    s.driver = o.value(QStringLiteral("driver")).toString();
    s.vmmVersion = o.value(QStringLiteral("vmm_version")).toString();
    s.templateName = o.value(QStringLiteral("template")).toString();
    s.vcpus = o.value(QStringLiteral("vcpus")).toInt();
    s.maxVcpus = o.value(QStringLiteral("max_vcpus")).toInt(0);
    s.memoryMiB = o.value(QStringLiteral("memory_mb")).toInt();
    s.accel = o.value(QStringLiteral("accel")).toString();
    s.kernelPath = o.value(QStringLiteral("kernel")).toString();
    s.initramfsPath = o.value(QStringLiteral("initramfs")).toString();
    s.baseDiskPath = o.value(QStringLiteral("base_disk")).toString();
    s.diskFile = o.value(QStringLiteral("disk_file")).toString();
    s.diskFormat = o.value(QStringLiteral("disk_format")).toString();
    for (const QJsonValue &v : o.value(QStringLiteral("state_files")).toArray())
        s.stateFiles << v.toString();
    s.pausedMs = o.value(QStringLiteral("paused_ms")).toInteger();
    for (const QJsonValue &v : o.value(QStringLiteral("files")).toArray()) {
        const QJsonObject f = v.toObject();
        SnapshotFile file{f.value(QStringLiteral("name")).toString(), f.value(QStringLiteral("size")).toInteger(-1),
                          f.value(QStringLiteral("sha256")).toString()};
        if (!isPlainFileName(file.name) || file.size < 0 || file.sha256.size() != 64)
            return bad(QStringLiteral("a file entry is incomplete"));
        s.files << file;
    }
    if (!SnapshotStore::validateName(s.name) || s.vm.isEmpty() || !s.createdAt.isValid() || s.driver.isEmpty() || s.vcpus < 1 || s.memoryMiB < 1
        || s.kernelPath.isEmpty() || s.stateFiles.isEmpty() || s.files.isEmpty())
        return bad(QStringLiteral("a required field is missing"));
    for (const QString &f : std::as_const(s.stateFiles))
        if (std::none_of(s.files.begin(), s.files.end(), [&f](const SnapshotFile &x) { return x.name == f; }))
            return bad(QStringLiteral("state file %1 has no checksum").arg(f));
    if (const QString why = pathProblem(s); !why.isEmpty())
        return bad(why);
    return s;
}

// OpenSSL's SHA-256 (SHA-NI where the CPU has it: about 1.5 GB/s, where
// QCryptographicHash manages about 100 MB/s), over plain read()s.
Core::Expected<QString> sha256File(const QString &path)
{
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ioError(QStringLiteral("cannot read %1").arg(path), errno);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
        ::close(fd);
        return Core::Error(Core::ErrorCode::Internal, QStringLiteral("OpenSSL cannot hash (SHA-256)"));
    }
    std::vector<unsigned char> buf(kHashChunk);
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return ioError(QStringLiteral("cannot read %1").arg(path), err);
        }
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    }
    ::close(fd);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx.get(), digest, &length);
    return QString::fromLatin1(QByteArray(reinterpret_cast<const char *>(digest), int(length)).toHex());
}

struct GrowingFileHasher::State {
    std::atomic<bool> writerDone{false};
    std::atomic<bool> stop{false};
    std::thread thread;
    Core::Expected<SnapshotFile> result = Core::Error(Core::ErrorCode::Internal, QStringLiteral("not hashed"));
};

GrowingFileHasher::GrowingFileHasher(QString path)
    : m_path(std::move(path))
    , m_state(std::make_shared<State>())
{
    m_state->thread = std::thread([state = m_state, path = m_path]() {
        // Below the VMM writing the state: while the VM is paused, its save
        // comes first; the hash catches up (the file is in the page cache).
        ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kNice);
        const QByteArray file = QFile::encodeName(path);
        int fd = -1;
        // The writer creates the file a moment after it is asked to save.
        while (fd < 0 && !state->stop) {
            const bool done = state->writerDone; // read before trying: a file made just before "done" is seen
            fd = ::open(file.constData(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                if (done) {
                    state->result = ioError(QStringLiteral("cannot read %1").arg(path), errno);
                    return;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
            }
        }
        if (fd < 0)
            return;
        std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
        EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
        std::vector<unsigned char> buf(kHashChunk);
        qint64 size = 0;
        while (!state->stop) {
            const bool done = state->writerDone; // before the read: after "done", an empty read is the end
            const ssize_t n = ::read(fd, buf.data(), buf.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                state->result = ioError(QStringLiteral("cannot read %1").arg(path), errno);
                break;
            }
            if (n > 0) {
                EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
                size += n;
                continue;
            }
            if (done) {
                unsigned char digest[EVP_MAX_MD_SIZE];
                unsigned int length = 0;
                EVP_DigestFinal_ex(ctx.get(), digest, &length);
                state->result = SnapshotFile{QFileInfo(path).fileName(), size,
                                             QString::fromLatin1(QByteArray(reinterpret_cast<const char *>(digest), int(length)).toHex())};
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
        }
        ::close(fd);
    });
}

GrowingFileHasher::~GrowingFileHasher()
{
    m_state->stop = true;
    if (m_state->thread.joinable())
        m_state->thread.join();
}

Core::Expected<SnapshotFile> GrowingFileHasher::finish()
{
    m_state->writerDone = true;
    if (m_state->thread.joinable())
        m_state->thread.join();
    return m_state->result;
}

SnapshotStore::SnapshotStore(QString root)
    : m_root(std::move(root))
{
}

Core::Result SnapshotStore::validateName(const QString &name)
{
    static const QRegularExpression re(QRegularExpression::anchoredPattern(QStringLiteral("[a-z0-9][a-z0-9-]{0,62}")));
    if (!re.match(name).hasMatch())
        return Core::Error(
            Core::ErrorCode::InvalidArgument,
            QStringLiteral("bad snapshot name '%1': 1 to 63 lowercase letters, digits or '-', starting with a letter or digit").arg(name.left(80)));
    return {};
}

QString SnapshotStore::directoryOf(const QString &name) const
{
    return m_root + QLatin1Char('/') + name;
}

QStringList SnapshotStore::recover() const
{
    QStringList removed;
    const QDir root(m_root);
    const QStringList stale = root.entryList({QString::fromLatin1(kStagingPrefix) + QLatin1Char('*')}, QDir::Dirs | QDir::Hidden | QDir::NoDotAndDotDot);
    for (const QString &dir : stale) {
        QDir(root.filePath(dir)).removeRecursively();
        removed << root.filePath(dir);
    }
    return removed;
}

QList<SnapshotInfo> SnapshotStore::list(QStringList *warnings) const
{
    QList<SnapshotInfo> out;
    const QDir root(m_root);
    for (const QString &dir : root.entryList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::Name)) {
        if (dir.startsWith(QLatin1Char('.')))
            continue;
        auto info = get(dir);
        if (!info) {
            if (warnings)
                *warnings << QStringLiteral("%1: %2").arg(root.filePath(dir), info.error().message);
            continue;
        }
        out << *info;
    }
    std::sort(out.begin(), out.end(),
              [](const SnapshotInfo &a, const SnapshotInfo &b) { return a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.name < b.name; });
    return out;
}

Core::Expected<SnapshotInfo> SnapshotStore::get(const QString &name) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    const QString dir = directoryOf(name);
    QFile f(dir + QLatin1Char('/') + QString::fromLatin1(kManifest));
    if (!f.open(QIODevice::ReadOnly)) {
        if (!QFileInfo(dir).isDir())
            return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no snapshot named '%1'").arg(name));
        return Core::Error(Core::ErrorCode::Corrupted, QStringLiteral("snapshot '%1' has no readable manifest: %2").arg(name, f.errorString()));
    }
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &pe);
    if (!doc.isObject())
        return Core::Error(Core::ErrorCode::Corrupted, QStringLiteral("snapshot '%1': its manifest is not JSON (%2)").arg(name, pe.errorString()));
    auto info = SnapshotInfo::fromJson(doc.object());
    if (!info)
        return info.error();
    if (info->name != name)
        return Core::Error(Core::ErrorCode::Corrupted, QStringLiteral("snapshot '%1': its manifest names '%2'").arg(name, info->name));
    info->directory = dir;
    return info;
}

bool SnapshotStore::contains(const QString &name) const
{
    return bool(validateName(name)) && QFileInfo(directoryOf(name)).isDir();
}

QString SnapshotStore::uniqueName() const
{
    const QString base = QStringLiteral("snap-") + QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss"));
    QString name = base;
    for (int n = 2; contains(name); ++n)
        name = base + QStringLiteral("-%1").arg(n);
    return name;
}

Core::Expected<QString> SnapshotStore::beginStaging(const QString &name) const
{
    if (auto ok = validateName(name); !ok)
        return ok.error();
    if (auto ok = Core::Paths::ensurePrivateDir(m_root); !ok)
        return ok.error();
    QByteArray templ = QFile::encodeName(m_root + QLatin1Char('/') + QString::fromLatin1(kStagingPrefix) + name + QStringLiteral("-XXXXXX"));
    if (!::mkdtemp(templ.data()))
        return ioError(QStringLiteral("cannot create a snapshot directory in %1").arg(m_root), errno);
    return QFile::decodeName(templ);
}

void SnapshotStore::discard(const QString &stagingDir) const
{
    if (!stagingDir.isEmpty() && QFileInfo(stagingDir).fileName().startsWith(QString::fromLatin1(kStagingPrefix)))
        QDir(stagingDir).removeRecursively();
}

Core::Result SnapshotStore::writeManifest(const QString &dir, const SnapshotInfo &info) const
{
    QSaveFile f(dir + QLatin1Char('/') + QString::fromLatin1(kManifest));
    if (!f.open(QIODevice::WriteOnly))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(f.fileName(), f.errorString()));
    f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    const QByteArray json = QJsonDocument(info.toJson()).toJson(QJsonDocument::Indented);
    if (f.write(json) != json.size() || !f.flush()) {
        const int err = errno;
        f.cancelWriting();
        return ioError(QStringLiteral("cannot write %1").arg(f.fileName()), err ? err : EIO);
    }
    if (::fsync(f.handle()) != 0) {
        const int err = errno;
        f.cancelWriting();
        return ioError(QStringLiteral("cannot sync %1").arg(f.fileName()), err);
    }
    if (!f.commit())
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot write %1: %2").arg(f.fileName(), f.errorString()));
    return {};
}

Core::Expected<SnapshotInfo> SnapshotStore::commit(const QString &stagingDir, SnapshotInfo info, const QStringList &files,
                                                   const QList<SnapshotFile> &hashed) const
{
    auto fail = [this, &stagingDir](const Core::Error &e) -> Core::Expected<SnapshotInfo> {
        discard(stagingDir);
        return e;
    };
    const QDir staging(stagingDir);
    info.files.clear();
    for (const QString &name : files) {
        const QString path = staging.filePath(name);
        const QFileInfo fi(path);
        if (!fi.isFile())
            return fail(Core::Error(Core::ErrorCode::Io, QStringLiteral("the snapshot's file %1 was not written").arg(name)));
        const auto known = std::find_if(hashed.begin(), hashed.end(), [&](const SnapshotFile &h) { return h.name == name; });
        if (known != hashed.end() && known->size == fi.size()) {
            info.files << *known;
            continue;
        }
        auto sum = sha256File(path);
        if (!sum)
            return fail(sum.error());
        info.files << SnapshotFile{name, fi.size(), *sum};
    }
    if (auto ok = writeManifest(stagingDir, info); !ok)
        return fail(ok.error());
    if (auto ok = syncPath(stagingDir); !ok)
        return fail(ok.error());
    const QString target = directoryOf(info.name);
    if (QFileInfo::exists(target))
        return fail(Core::Error(Core::ErrorCode::AlreadyExists, QStringLiteral("a snapshot named '%1' already exists").arg(info.name)));
    if (::rename(QFile::encodeName(stagingDir).constData(), QFile::encodeName(target).constData()) != 0)
        return fail(ioError(QStringLiteral("cannot move the snapshot into place at %1").arg(target), errno));
    if (auto ok = syncPath(m_root); !ok)
        return ok.error(); // it is in place; only its durability across a power cut is in doubt
    info.directory = target;
    return info;
}

Core::Result SnapshotStore::syncFiles(const SnapshotInfo &info)
{
    const QDir dir(info.directory);
    for (const SnapshotFile &f : info.files)
        if (auto ok = syncPath(dir.filePath(f.name)); !ok)
            return ok;
    return {};
}

Core::Result SnapshotStore::checkImagePaths(const SnapshotInfo &info, const QString &imagesDir)
{
    const QString root = QFileInfo(imagesDir).canonicalFilePath();
    for (const QString &path : {info.kernelPath, info.initramfsPath, info.baseDiskPath}) {
        if (path.isEmpty())
            continue;
        const QString real = QFileInfo(path).canonicalFilePath();
        if (real.isEmpty())
            return Core::Error(Core::ErrorCode::NotFound,
                               QStringLiteral("snapshot %1: its image file %2 is gone (rebuild the template's image)").arg(info.name, path));
        if (root.isEmpty() || !real.startsWith(root + QLatin1Char('/')))
            return Core::Error(Core::ErrorCode::Corrupted,
                               QStringLiteral("snapshot %1: its image file %2 is outside the image cache %3").arg(info.name, path, imagesDir));
    }
    return {};
}

Core::Result SnapshotStore::verify(const SnapshotInfo &info)
{
    const QDir dir(info.directory);
    // Sizes first: cheap, and they catch truncation before any hashing.
    for (const SnapshotFile &f : info.files) {
        const QFileInfo fi(dir.filePath(f.name));
        if (!fi.isFile())
            return Core::Error(Core::ErrorCode::Corrupted, QStringLiteral("snapshot '%1' is damaged: its file %2 is missing").arg(info.name, f.name));
        if (fi.size() != f.size)
            return Core::Error(Core::ErrorCode::Corrupted,
                               QStringLiteral("snapshot '%1' is damaged: %2 is %3 bytes, %4 were written").arg(info.name, f.name).arg(fi.size()).arg(f.size));
    }
    for (const SnapshotFile &f : info.files) {
        auto sum = sha256File(dir.filePath(f.name));
        if (!sum)
            return sum.error();
        if (*sum != f.sha256)
            return Core::Error(
                Core::ErrorCode::Corrupted,
                QStringLiteral("snapshot '%1' is damaged: %2 does not match its checksum (it changed after it was written)").arg(info.name, f.name));
    }
    return {};
}

Core::Result SnapshotStore::remove(const QString &name) const
{
    if (auto ok = validateName(name); !ok)
        return ok;
    const QString dir = directoryOf(name);
    if (!QFileInfo(dir).isDir())
        return Core::Error(Core::ErrorCode::NotFound, QStringLiteral("no snapshot named '%1'").arg(name));
    auto gone = get(name);
    const QString grandparent = gone ? gone->parent : QString();
    // Children first: a crash between the two steps leaves a child pointing
    // at its grandparent while the snapshot still exists, never a dangling one.
    for (SnapshotInfo child : list()) {
        if (child.parent != name)
            continue;
        child.parent = grandparent;
        if (auto ok = writeManifest(child.directory, child); !ok)
            return ok;
    }
    // Out of sight in one rename, then deleted.
    const QString doomed = m_root + QLatin1Char('/') + QString::fromLatin1(kStagingPrefix) + QStringLiteral("deleted-") + name;
    QDir(doomed).removeRecursively();
    if (::rename(QFile::encodeName(dir).constData(), QFile::encodeName(doomed).constData()) != 0)
        return ioError(QStringLiteral("cannot delete %1").arg(dir), errno);
    QDir(doomed).removeRecursively();
    return {};
}

Core::Result SnapshotStore::removeAll() const
{
    if (!QDir(m_root).removeRecursively() || QFileInfo::exists(m_root))
        return Core::Error(Core::ErrorCode::Io, QStringLiteral("cannot delete the snapshots in %1").arg(m_root));
    return {};
}

} // namespace Snapshot
