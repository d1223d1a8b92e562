// The loaders of what the service keeps on disk, on arbitrary file
// contents; the first byte picks the loader:
//   0  a VM record (Vm::VmRecord::fromJson on the parsed JSON);
//   1  a snapshot manifest, through Snapshot::SnapshotStore::get;
//   2  the bearer token file, through Server::TokenStore::load.
// Properties: no crash, and what loads is stable: saving it and loading
// that gives the same thing again (a record or manifest the service wrote
// loads back), and a token is one printable word.

#include "fuzz/fuzzcheck.h"

#include "core/snapshot/snapshotstore.h"
#include "core/vm/vmrecord.h"
#include "server/tokenstore.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QTemporaryDir>

namespace {

const QTemporaryDir &scratch()
{
    static const QTemporaryDir dir;
    return dir;
}

void writeFile(const QString &path, QByteArrayView bytes)
{
    QFile f(path);
    MVS_FUZZ_CHECK(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
    MVS_FUZZ_CHECK(f.write(bytes.data(), bytes.size()) == bytes.size());
}

void vmRecord(QByteArrayView bytes)
{
    const QJsonDocument doc = QJsonDocument::fromJson(bytes.toByteArray());
    const auto record = Vm::VmRecord::fromJson(doc.object());
    if (!record)
        return;
    const QJsonObject saved = record->toJson();
    const auto again = Vm::VmRecord::fromJson(saved);
    MVS_FUZZ_CHECK(again.hasValue());
    MVS_FUZZ_CHECK(again->toJson() == saved);
}

void snapshotManifest(QByteArrayView bytes)
{
    static const QString kName = QStringLiteral("snap");
    const Snapshot::SnapshotStore store(scratch().path());
    QDir().mkpath(store.directoryOf(kName));
    writeFile(store.directoryOf(kName) + QLatin1Char('/') + QString::fromLatin1(Snapshot::SnapshotStore::kManifest), bytes);
    const auto info = store.get(kName);
    if (!info)
        return;
    MVS_FUZZ_CHECK(info->name == kName);
    const QJsonObject saved = info->toJson();
    const auto again = Snapshot::SnapshotInfo::fromJson(saved);
    MVS_FUZZ_CHECK(again.hasValue());
    MVS_FUZZ_CHECK(again->toJson() == saved);
}

void tokenFile(QByteArrayView bytes)
{
    const QString path = scratch().filePath(QStringLiteral("token"));
    writeFile(path, bytes);
    const auto token = Server::TokenStore(path).load();
    if (!token)
        return;
    MVS_FUZZ_CHECK(!token->isEmpty());
    for (const char c : *token)
        MVS_FUZZ_CHECK(c > ' ' && c <= '~');
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    if (size == 0)
        return 0;
    const QByteArrayView bytes(reinterpret_cast<const char *>(data) + 1, qsizetype(size - 1));
    switch (data[0] % 3) {
    case 0: vmRecord(bytes); break;
    case 1: snapshotManifest(bytes); break;
    default: tokenFile(bytes); break;
    }
    return 0;
}
