#pragma once
// Golden files under tests/core/data: compare text line by line (the first
// differing line is reported). Regenerate with MVS_UPDATE_GOLDEN=1 after an
// intended change and review the diff.

#include <QFile>
#include <QTest>

namespace Golden {

inline QString path(const QString &name)
{
    return QStringLiteral(MVS_TEST_DATA_DIR "/") + name;
}

// Fails the current test on a difference; callers that go on afterwards
// check QTest::currentTestFailed().
inline void compare(const QByteArray &actual, const QString &name)
{
    const QString p = path(name);
    if (qEnvironmentVariableIsSet("MVS_UPDATE_GOLDEN")) {
        QFile out(p);
        QVERIFY2(out.open(QIODevice::WriteOnly), qPrintable(p));
        out.write(actual);
    }
    QFile f(p);
    QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(p));
    const QList<QByteArray> expected = f.readAll().split('\n');
    const QList<QByteArray> got = actual.split('\n');
    for (int i = 0; i < qMin(expected.size(), got.size()); ++i)
        QCOMPARE(got.at(i), expected.at(i));
    QCOMPARE(got.size(), expected.size());
}

} // namespace Golden
