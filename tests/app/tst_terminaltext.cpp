// App::printableTerminalText: what `vm console` prints of a guest's serial
// log. Escape sequences, C1 controls and stray carriage returns arrive as
// visible text; newlines, tabs and UTF-8 text stay as they are.

#include "app/terminaltext.h"

#include <QTest>

class TestTerminalText : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cases_data()
    {
        QTest::addColumn<QByteArray>("in");
        QTest::addColumn<QByteArray>("out");
        QTest::newRow("plain") << QByteArray("hello\tworld\n") << QByteArray("hello\tworld\n");
        QTest::newRow("crlf") << QByteArray("line\r\nnext\r\n") << QByteArray("line\nnext\n");
        QTest::newRow("lone cr") << QByteArray("safe\rEVIL") << QByteArray("safe^MEVIL");
        QTest::newRow("csi clear") << QByteArray("\x1b[2J\x1b[H") << QByteArray("^[[2J^[[H");
        QTest::newRow("osc title") << QByteArray("\x1b]0;pwned\x07") << QByteArray("^[]0;pwned^G");
        QTest::newRow("nul del") << QByteArray("a\0b\x7f", 4) << QByteArray("a^@b^?");
        QTest::newRow("c1 csi") << QByteArray("\xc2\x9b"
                                              "31m")
                                << QByteArray("<U+009B>31m");
        QTest::newRow("utf8") << QByteArray("caf\xc3\xa9 \xe2\x9c\x93") << QByteArray("caf\xc3\xa9 \xe2\x9c\x93");
        QTest::newRow("invalid utf8") << QByteArray("\xff") << QByteArray("\xef\xbf\xbd");
    }

    void cases()
    {
        QFETCH(QByteArray, in);
        QFETCH(QByteArray, out);
        QCOMPARE(App::printableTerminalText(in), out);
    }

    void noControlByteSurvives()
    {
        QByteArray all;
        for (int b = 0; b < 256; ++b)
            all.append(char(b));
        const QByteArray shown = App::printableTerminalText(all);
        for (const char c : shown) {
            const auto u = static_cast<unsigned char>(c);
            QVERIFY2(u == '\n' || u == '\t' || u >= 0x20, qPrintable(QStringLiteral("control byte %1 reached the terminal").arg(u)));
            QVERIFY(u != 0x7f);
        }
    }
};

QTEST_GUILESS_MAIN(TestTerminalText)
#include "tst_terminaltext.moc"
