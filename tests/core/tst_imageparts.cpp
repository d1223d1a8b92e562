// Image builder parts that need no network: the cpio writer (checked by
// unpacking with the real cpio tool when present) and module dependencies.

#include "core/image/cpiowriter.h"
#include "core/image/kernelmodules.h"
#include "core/image/rootfsbuilder.h"

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <sys/mount.h>
#include <unistd.h>

class TestImageParts : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cpioUnpacksWithTheRealTool()
    {
        if (QStandardPaths::findExecutable(QStringLiteral("cpio")).isEmpty())
            QSKIP("cpio is not installed (apt-get install cpio)");
        QTemporaryDir dir;
        const QString archive = dir.filePath(QStringLiteral("a.cpio"));
        Image::CpioWriter w(archive);
        QVERIFY(w.open());
        QVERIFY(w.addFile(QStringLiteral("etc/deep/file.txt"), "hello\n", 0640));
        QVERIFY(w.addFile(QStringLiteral("odd"), "123", 0755)); // unaligned size
        QVERIFY(w.addSymlink(QStringLiteral("bin/sh"), QStringLiteral("/bin/busybox")));
        QVERIFY(w.addDirectory(QStringLiteral("empty")));
        QVERIFY(w.finish());

        QProcess list;
        list.setStandardInputFile(archive);
        list.start(QStringLiteral("cpio"), {QStringLiteral("-itv")});
        QVERIFY(list.waitForFinished());
        const QString listing = QString::fromLocal8Bit(list.readAllStandardOutput());
        QVERIFY2(listing.contains(QLatin1String("etc/deep/file.txt")), qPrintable(listing));
        QVERIFY(listing.contains(QLatin1String("-rw-r-----")));
        QVERIFY(listing.contains(QLatin1String("bin/sh -> /bin/busybox")));

        const QString out = dir.filePath(QStringLiteral("out"));
        QDir().mkpath(out);
        QProcess x;
        x.setWorkingDirectory(out);
        x.setStandardInputFile(archive);
        x.start(QStringLiteral("cpio"), {QStringLiteral("-idm"), QStringLiteral("--no-absolute-filenames")});
        QVERIFY(x.waitForFinished());
        QCOMPARE(x.exitCode(), 0);
        QFile f(out + QStringLiteral("/etc/deep/file.txt"));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("hello\n"));
        QFile o(out + QStringLiteral("/odd"));
        QVERIFY(o.open(QIODevice::ReadOnly));
        QCOMPARE(o.readAll(), QByteArray("123"));
    }

    void moduleDependenciesComeFirst()
    {
        QTemporaryDir dir;
        auto ko = [&](const QString &rel, const QByteArray &depends) {
            QDir().mkpath(QFileInfo(dir.filePath(rel)).absolutePath());
            QFile f(dir.filePath(rel));
            QVERIFY(f.open(QIODevice::WriteOnly));
            // What a .modinfo section looks like inside the ELF file.
            f.write(QByteArray("\x7f"
                               "ELF junk\0license=GPL\0depends=",
                               30)
                    + depends + QByteArray("\0retpoline=Y\0name=x\0", 20));
        };
        ko(QStringLiteral("kernel/drivers/virtio/virtio_pci.ko"), "virtio_ring,virtio,virtio_pci_modern_dev");
        ko(QStringLiteral("kernel/drivers/virtio/virtio_ring.ko"), "virtio");
        ko(QStringLiteral("kernel/drivers/virtio/virtio.ko"), "");
        ko(QStringLiteral("kernel/drivers/virtio/virtio_pci_modern_dev.ko"), "");
        ko(QStringLiteral("kernel/drivers/char/virtio_console.ko"), "virtio,virtio_ring");
        ko(QStringLiteral("kernel/net/broken.ko"), "missing_module");
        auto km = Image::KernelModules::scan(dir.path());
        QVERIFY(km);
        auto order = km->loadOrder({QStringLiteral("virtio_pci"), QStringLiteral("virtio-console")});
        QVERIFY2(order, qPrintable(order ? QString() : order.error().message));
        QCOMPARE(*order,
                 QStringList({QStringLiteral("kernel/drivers/virtio/virtio.ko"), QStringLiteral("kernel/drivers/virtio/virtio_ring.ko"),
                              QStringLiteral("kernel/drivers/virtio/virtio_pci_modern_dev.ko"), QStringLiteral("kernel/drivers/virtio/virtio_pci.ko"),
                              QStringLiteral("kernel/drivers/char/virtio_console.ko")}));
        auto bad = km->loadOrder({QStringLiteral("broken")});
        QVERIFY(!bad);
        QVERIFY(bad.error().message.contains(QLatin1String("missing_module")));
        auto unknown = km->loadOrder({QStringLiteral("nope")});
        QVERIFY(!unknown);
        QVERIFY(unknown.error().message.contains(QLatin1String("nope")));
    }

    void builtinModulesNeedNoLoading()
    {
        QTemporaryDir dir;
        QDir().mkpath(dir.filePath(QStringLiteral("kernel/drivers/block")));
        QFile ko(dir.filePath(QStringLiteral("kernel/drivers/block/virtio_blk.ko")));
        QVERIFY(ko.open(QIODevice::WriteOnly));
        ko.write(QByteArray("\0depends=\0", 11));
        ko.close();
        QFile builtin(dir.filePath(QStringLiteral("modules.builtin")));
        QVERIFY(builtin.open(QIODevice::WriteOnly));
        builtin.write("kernel/fs/ext4/ext4.ko\nkernel/fs/jbd2/jbd2.ko\n");
        builtin.close();
        auto km = Image::KernelModules::scan(dir.path());
        QVERIFY(km);
        auto order = km->loadOrder({QStringLiteral("virtio_blk"), QStringLiteral("ext4")});
        QVERIFY2(order, qPrintable(order ? QString() : order.error().message));
        QCOMPARE(*order, QStringList{QStringLiteral("kernel/drivers/block/virtio_blk.ko")});
    }

    void hostMirrorFromAptSources()
    {
        QTemporaryDir apt;
        QDir().mkpath(apt.filePath(QStringLiteral("sources.list.d")));
        auto write = [&](const QString &rel, const QByteArray &text) {
            QFile f(apt.filePath(rel));
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(text);
        };
        // Nothing configured: the default mirror.
        QCOMPARE(Image::RootfsBuilder::hostMirror(QStringLiteral("bookworm"), apt.path()), QStringLiteral("http://deb.debian.org/debian"));
        // One-line format, options and comments.
        write(QStringLiteral("sources.list"), "# deb http://wrong/ bookworm main\ndeb [arch=amd64] http://mirror.one/debian bookworm main\n");
        QCOMPARE(Image::RootfsBuilder::hostMirror(QStringLiteral("bookworm"), apt.path()), QStringLiteral("http://mirror.one/debian"));
        // deb822 wins; disabled paragraphs, other suites and deb-src are skipped.
        write(QStringLiteral("sources.list.d/debian.sources"),
              "Types: deb\nURIs: http://off/debian\nSuites: bookworm\nEnabled: no\n\n"
              "Types: deb-src\nURIs: http://src/debian\nSuites: bookworm\n\n"
              "Types: deb\nURIs: http://security/debian-security\nSuites: bookworm-security\n\n"
              "Types: deb\nURIs: http://mirror.two/debian\nSuites: bookworm bookworm-updates\nComponents: main\n");
        QCOMPARE(Image::RootfsBuilder::hostMirror(QStringLiteral("bookworm"), apt.path()), QStringLiteral("http://mirror.two/debian"));
        QCOMPARE(Image::RootfsBuilder::hostMirror(QStringLiteral("trixie"), apt.path()), QStringLiteral("http://deb.debian.org/debian"));
    }

    // An interrupted debootstrap leaves /proc, /sys (or a bind-mounted /dev)
    // mounted in its tree: removing the tree must never reach through them.
    void scratchTreeRemovalStopsAtMounts()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to mount");
        QTemporaryDir outside, scratch;
        QFile keep(outside.filePath(QStringLiteral("keep")));
        QVERIFY(keep.open(QIODevice::WriteOnly));
        keep.write("precious");
        keep.close();
        const QString tree = scratch.filePath(QStringLiteral("tree"));
        QVERIFY(QDir().mkpath(tree + QStringLiteral("/dev")));
        QVERIFY(QDir().mkpath(tree + QStringLiteral("/etc")));
        QVERIFY(::mount(outside.path().toLocal8Bit().constData(), (tree + QStringLiteral("/dev")).toLocal8Bit().constData(), nullptr, MS_BIND, nullptr) == 0);
        Image::RootfsBuilder::removeTree(tree);
        QVERIFY(!QFileInfo::exists(tree));
        QVERIFY(QFileInfo::exists(outside.filePath(QStringLiteral("keep"))));
    }
};

QTEST_GUILESS_MAIN(TestImageParts)
#include "tst_imageparts.moc"
