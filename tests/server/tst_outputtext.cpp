// Server::OutputText (pure): a background process's output bytes cut at
// whole UTF-8 characters, the bytes of a character begun at the end left
// for the next read and the offset moved back by as many.

#include "server/outputtext.h"

#include <QTest>

using namespace Server;

class TestOutputText : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void wholeCharacters_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<int>("whole");
        const QByteArray euro("\xE2\x82\xAC"); // U+20AC, 3 bytes
        const QByteArray smile("\xF0\x9F\x98\x80"); // U+1F600, 4 bytes
        QTest::newRow("empty") << QByteArray() << 0;
        QTest::newRow("ascii") << QByteArray("hello\n") << 6;
        QTest::newRow("whole 2-byte") << QByteArray("caf\xC3\xA9") << 5;
        QTest::newRow("2-byte cut after 1") << QByteArray("caf\xC3") << 3;
        QTest::newRow("whole 3-byte") << QByteArray("a" + euro) << 4;
        QTest::newRow("3-byte cut after 1") << QByteArray("a" + euro.left(1)) << 1;
        QTest::newRow("3-byte cut after 2") << QByteArray("a" + euro.left(2)) << 1;
        QTest::newRow("whole 4-byte") << QByteArray("ab" + smile) << 6;
        QTest::newRow("4-byte cut after 1") << QByteArray("ab" + smile.left(1)) << 2;
        QTest::newRow("4-byte cut after 3") << QByteArray("ab" + smile.left(3)) << 2;
        QTest::newRow("only a begun character") << smile.left(3) << 0;
        QTest::newRow("whole then begun") << QByteArray(euro + euro.left(2)) << 3;
        // Bytes no later byte makes text are not held back.
        QTest::newRow("stray continuation") << QByteArray("a\x80") << 2;
        QTest::newRow("continuations only") << QByteArray("\x80\x80\x80\x80\x80") << 5;
        QTest::newRow("lead never used (0xC0)") << QByteArray("a\xC0") << 2;
        QTest::newRow("lead never used (0xFF)") << QByteArray("a\xFF") << 2;
        QTest::newRow("lead 0xF8") << QByteArray("a\xF8\x80\x80") << 4;
        QTest::newRow("too many continuations") << QByteArray("a\xC3\xA9\xA9") << 4;
        QTest::newRow("binary ending in ascii") << QByteArray("\x00\xFF\xFE\x01", 4) << 4;
    }
    void wholeCharacters()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, whole);
        QCOMPARE(OutputText::wholeCharacters(data), qsizetype(whole));
    }

    // A character split across two reads comes back whole, once.
    void aSplitCharacterComesBackWhole()
    {
        const QByteArray stream = QByteArray("price: 5\xE2\x82\xAC, ok \xF0\x9F\x98\x80!");
        for (qsizetype split = 0; split <= stream.size(); ++split) {
            const OutputText::Chunk first = OutputText::cut(stream.left(split), quint64(split), false);
            const qsizetype next = qsizetype(first.nextOffset);
            QVERIFY(next <= split && next >= split - 3);
            const OutputText::Chunk second = OutputText::cut(stream.mid(next), quint64(stream.size()), true);
            QCOMPARE(second.nextOffset, quint64(stream.size()));
            const QString whole = first.text + second.text;
            QCOMPARE(whole, QString::fromUtf8(stream));
            QVERIFY(!whole.contains(QChar::ReplacementCharacter));
        }
    }

    // Offsets count the guest's bytes: 100 bytes from offset 1000 end at 1100.
    void theOffsetMovesBackByTheBytesHeldBack()
    {
        const OutputText::Chunk c = OutputText::cut(QByteArray("ab\xE2\x82"), 1100, false);
        QCOMPARE(c.text, QStringLiteral("ab"));
        QCOMPARE(c.nextOffset, quint64(1098));
        // A hostile offset smaller than the data does not wrap.
        QCOMPARE(OutputText::cut(QByteArray("ab\xE2\x82"), 1, false).nextOffset, quint64(0));
    }

    // While the process runs a lone begun character waits; once it ended it
    // comes back as it is (nothing will finish it), as U+FFFD.
    void anUnfinishedCharacterAtTheEnd()
    {
        const QByteArray tail("\xE2\x82");
        const OutputText::Chunk running = OutputText::cut(tail, 50, false);
        QVERIFY(running.text.isEmpty());
        QCOMPARE(running.nextOffset, quint64(48));
        const OutputText::Chunk ended = OutputText::cut(tail, 50, true);
        QCOMPARE(ended.nextOffset, quint64(50));
        QVERIFY(!ended.text.isEmpty());
        QVERIFY(ended.text.contains(QChar::ReplacementCharacter));
    }

    // Bytes that are not UTF-8 come back as U+FFFD, the offsets still bytes.
    void binaryOutputIsLossyText()
    {
        const QByteArray binary("\x89PNG\r\n\x1A\n\xD8\xFF", 10);
        const OutputText::Chunk c = OutputText::cut(binary, 10, false);
        QCOMPARE(c.nextOffset, quint64(10));
        QVERIFY(c.text.startsWith(QChar::ReplacementCharacter));
        QVERIFY(c.text.contains(QStringLiteral("PNG\r\n\x1A\n")));
    }
};

QTEST_GUILESS_MAIN(TestOutputText)
#include "tst_outputtext.moc"
