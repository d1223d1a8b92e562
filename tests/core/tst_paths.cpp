// Core::Paths::ensureOwnedPrivateDir: a missing directory is made 0700, a loose
// one of ours tightened, and a link, a file or another user's directory in
// its place refused with a clear error (a shared /tmp is where the runtime
// directory falls back to). The installed data directory relative to the
// executable, and noVNC's lookup order.

#include "core/paths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>
#include <unistd.h>

namespace {

int modeOf(const QString &path)
{
    struct stat st { };
    return ::lstat(QFile::encodeName(path).constData(), &st) == 0 ? int(st.st_mode & 07777) : -1;
}

} // namespace

class TestPaths : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void missingDirectoryIsMadePrivate()
    {
        const QString path = m_dir.filePath(QStringLiteral("a/b/c"));
        const auto r = Core::Paths::ensureOwnedPrivateDir(path);
        QVERIFY2(r.hasValue(), r ? "" : qPrintable(r.error().message));
        QVERIFY(QFileInfo(path).isDir());
        QCOMPARE(modeOf(path), 0700);
    }

    void looseDirectoryOfOursIsTightened()
    {
        const QString path = m_dir.filePath(QStringLiteral("loose"));
        QVERIFY(QDir().mkpath(path));
        QCOMPARE(::chmod(QFile::encodeName(path).constData(), 0777), 0);
        QVERIFY(Core::Paths::ensureOwnedPrivateDir(path).hasValue());
        QCOMPARE(modeOf(path), 0700);
    }

    void linkIsRefused()
    {
        const QString target = m_dir.filePath(QStringLiteral("elsewhere"));
        QVERIFY(QDir().mkpath(target));
        const QString link = m_dir.filePath(QStringLiteral("link"));
        QVERIFY(QFile::link(target, link));
        const auto r = Core::Paths::ensureOwnedPrivateDir(link);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::PermissionDenied);
        QVERIFY2(r.error().message.contains(QStringLiteral("link")), qPrintable(r.error().message));
        // A dangling link is refused too, never followed to create its target.
        const QString dangling = m_dir.filePath(QStringLiteral("dangling"));
        QVERIFY(QFile::link(m_dir.filePath(QStringLiteral("nothing-here")), dangling));
        QCOMPARE(Core::Paths::ensureOwnedPrivateDir(dangling).error().code, Core::ErrorCode::PermissionDenied);
        QVERIFY(!QFileInfo::exists(m_dir.filePath(QStringLiteral("nothing-here"))));
    }

    void fileIsRefused()
    {
        const QString path = m_dir.filePath(QStringLiteral("file"));
        QFile f(path);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        QCOMPARE(Core::Paths::ensureOwnedPrivateDir(path).error().code, Core::ErrorCode::PermissionDenied);
    }

    void anotherUsersDirectoryIsRefused()
    {
        if (::geteuid() != 0)
            QSKIP("making a directory of another user's needs root");
        const QString path = m_dir.filePath(QStringLiteral("theirs"));
        QVERIFY(QDir().mkpath(path));
        QCOMPARE(::chown(QFile::encodeName(path).constData(), 65534, 65534), 0); // nobody
        QCOMPARE(::chmod(QFile::encodeName(path).constData(), 0777), 0);
        const auto r = Core::Paths::ensureOwnedPrivateDir(path);
        QVERIFY(!r);
        QCOMPARE(r.error().code, Core::ErrorCode::PermissionDenied);
        QVERIFY2(r.error().message.contains(QStringLiteral("another user (uid 65534)")), qPrintable(r.error().message));
        QCOMPARE(modeOf(path), 0777); // untouched
    }

    // The runtime directory itself goes through the same check.
    void runtimeDirectoryIsChecked()
    {
        const QString link = m_dir.filePath(QStringLiteral("runtime-link"));
        QVERIFY(QFile::link(m_dir.path(), link));
        qputenv("MVS_RUNTIME_DIR", link.toUtf8());
        QCOMPARE(Core::Paths::ensureRuntimeDir().error().code, Core::ErrorCode::PermissionDenied);
        qputenv("MVS_RUNTIME_DIR", m_dir.filePath(QStringLiteral("runtime")).toUtf8());
        const auto made = Core::Paths::ensureRuntimeDir();
        QVERIFY2(made.hasValue(), made ? "" : qPrintable(made.error().message));
        QCOMPARE(*made, m_dir.filePath(QStringLiteral("runtime")));
        QCOMPARE(modeOf(*made), 0700);
    }

    // An installed tree is found relative to the executable, whatever the
    // prefix: <prefix>/bin/x reads <prefix>/share/microvm-sandbox.
    void installedDataDirIsBesideTheExecutable()
    {
        const QString share = QDir::cleanPath(QCoreApplication::applicationDirPath() + QStringLiteral("/../share/microvm-sandbox"));
        QCOMPARE(Core::Paths::installedDataDir(), share);
        QVERIFY(Core::Paths::templateSearchPath().contains(share + QStringLiteral("/templates")));
    }

    // noVNC: MVS_NOVNC_DIR, else a copy installed with the app (one that has
    // core/rfb.js), else Debian's package.
    void novncDirOrder()
    {
        // <build>/tests/share: beside this test's directory, nothing else uses it.
        const QString share = Core::Paths::installedDataDir();
        QDir shareRoot(QDir::cleanPath(share + QStringLiteral("/..")));
        QVERIFY(shareRoot.removeRecursively());
        qunsetenv("MVS_NOVNC_DIR");
        QCOMPARE(Core::Paths::novncDir(), QStringLiteral("/usr/share/novnc"));
        QVERIFY(QDir().mkpath(share + QStringLiteral("/novnc/core")));
        QCOMPARE(Core::Paths::novncDir(), QStringLiteral("/usr/share/novnc")); // no rfb.js: not a noVNC tree
        QFile rfb(share + QStringLiteral("/novnc/core/rfb.js"));
        QVERIFY(rfb.open(QIODevice::WriteOnly));
        rfb.close();
        QCOMPARE(Core::Paths::novncDir(), share + QStringLiteral("/novnc"));
        qputenv("MVS_NOVNC_DIR", m_dir.path().toUtf8());
        QCOMPARE(Core::Paths::novncDir(), m_dir.path());
        qunsetenv("MVS_NOVNC_DIR");
        QVERIFY(shareRoot.removeRecursively());
    }
};

QTEST_GUILESS_MAIN(TestPaths)
#include "tst_paths.moc"
