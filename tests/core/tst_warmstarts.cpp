// WarmStarts::makeRoom (no guests): before another shape's warm snapshot is
// made, the least recently used shape directories of that image go until
// fewer than the limit are left; the one about to be made stays; a shape
// used lately (its directory's time renewed) outlives older ones.

#include "core/vm/warmstarts.h"

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QTest>

#include <sys/stat.h>
#include <utime.h>

class TestWarmStarts : public QObject {
    Q_OBJECT

    // A shape directory with a file in it, last modified `age` seconds ago.
    static bool makeShape(const QDir &root, const QString &name, int age)
    {
        if (!root.mkpath(name + QStringLiteral("/warm")))
            return false;
        QFile f(root.filePath(name + QStringLiteral("/warm/memory.state")));
        if (!f.open(QIODevice::WriteOnly) || f.write("state") != 5)
            return false;
        f.close();
        const time_t when = time(nullptr) - age;
        const struct utimbuf times {
            when, when
        };
        return ::utime(QFile::encodeName(root.filePath(name)).constData(), &times) == 0;
    }

private Q_SLOTS:
    void leastRecentlyUsedGo()
    {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QDir root(tmp.path());
        for (int i = 0; i < 10; ++i)
            QVERIFY(makeShape(root, QStringLiteral("shape%1").arg(i), 100 * (i + 1))); // shape0 newest
        const QStringList removed = Vm::WarmStarts::makeRoom(root.path(), 8, root.filePath(QStringLiteral("new")));
        QCOMPARE(removed.size(), 3); // 10 -> 7, room for the new one
        QStringList left = root.entryList(QDir::Dirs | QDir::NoDotAndDotDot);
        left.sort();
        QCOMPARE(left,
                 QStringList({QStringLiteral("shape0"), QStringLiteral("shape1"), QStringLiteral("shape2"), QStringLiteral("shape3"), QStringLiteral("shape4"),
                              QStringLiteral("shape5"), QStringLiteral("shape6")}));
    }

    void theOneToBeMadeAndTheRecentlyUsedStay()
    {
        QTemporaryDir tmp;
        const QDir root(tmp.path());
        QVERIFY(makeShape(root, QStringLiteral("old"), 5000));
        QVERIFY(makeShape(root, QStringLiteral("used"), 4000));
        QVERIFY(makeShape(root, QStringLiteral("mid"), 3000));
        QVERIFY(makeShape(root, QStringLiteral("building"), 9000)); // oldest, but it is the one being made
        QVERIFY(::utime(QFile::encodeName(root.filePath(QStringLiteral("used"))).constData(), nullptr) == 0); // used just now
        const QStringList removed = Vm::WarmStarts::makeRoom(root.path(), 2, root.filePath(QStringLiteral("building")));
        QCOMPARE(removed.size(), 2);
        QVERIFY(QFileInfo::exists(root.filePath(QStringLiteral("building"))));
        QVERIFY(QFileInfo::exists(root.filePath(QStringLiteral("used"))));
        QVERIFY(!QFileInfo::exists(root.filePath(QStringLiteral("old"))));
        QVERIFY(!QFileInfo::exists(root.filePath(QStringLiteral("mid"))));
        // Nothing there: nothing to do.
        QCOMPARE(Vm::WarmStarts::makeRoom(root.filePath(QStringLiteral("none")), 8).size(), 0);
    }
};

QTEST_GUILESS_MAIN(TestWarmStarts)
#include "tst_warmstarts.moc"
