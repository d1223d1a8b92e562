// Keysym mapping and key-combo parsing (pure).

#include "vncview/keysyms.h"

#include <QTest>

using namespace Vnc;

using KeyList = QList<quint32>;

class TestKeysyms : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void codepoints_data()
    {
        QTest::addColumn<uint>("cp");
        QTest::addColumn<quint32>("keysym");
        QTest::newRow("a") << uint('a') << quint32(0x61);
        QTest::newRow("A") << uint('A') << quint32(0x41);
        QTest::newRow("space") << uint(' ') << quint32(0x20);
        QTest::newRow("tilde") << uint('~') << quint32(0x7e);
        QTest::newRow("e-acute (Latin-1)") << 0xe9u << quint32(0xe9);
        QTest::newRow("y-diaeresis (Latin-1 end)") << 0xffu << quint32(0xff);
        QTest::newRow("euro") << 0x20acu << quint32(0x010020ac);
        QTest::newRow("cyrillic zhe") << 0x0436u << quint32(0x01000436);
        QTest::newRow("emoji (astral)") << 0x1f600u << quint32(0x0101f600);
        QTest::newRow("newline") << uint('\n') << Keysyms::Return;
        QTest::newRow("cr") << uint('\r') << Keysyms::Return;
        QTest::newRow("tab") << uint('\t') << Keysyms::Tab;
        QTest::newRow("backspace") << uint('\b') << Keysyms::BackSpace;
        QTest::newRow("escape") << 0x1bu << Keysyms::Escape;
        QTest::newRow("NUL: none") << 0u << quint32(0);
        QTest::newRow("C1 control: none") << 0x85u << quint32(0);
        QTest::newRow("beyond Unicode: none") << 0x110000u << quint32(0);
    }
    void codepoints()
    {
        QFETCH(uint, cp);
        QFETCH(quint32, keysym);
        QCOMPARE(Keysyms::fromCodepoint(char32_t(cp)), keysym);
    }

    void names_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<quint32>("keysym");
        QTest::newRow("Return") << QStringLiteral("Return") << quint32(0xff0d);
        QTest::newRow("enter") << QStringLiteral("enter") << quint32(0xff0d);
        QTest::newRow("TAB") << QStringLiteral("TAB") << quint32(0xff09);
        QTest::newRow("esc") << QStringLiteral("esc") << quint32(0xff1b);
        QTest::newRow("BackSpace") << QStringLiteral("BackSpace") << quint32(0xff08);
        QTest::newRow("Delete") << QStringLiteral("Delete") << quint32(0xffff);
        QTest::newRow("Page_Up") << QStringLiteral("Page_Up") << quint32(0xff55);
        QTest::newRow("pagedown") << QStringLiteral("pagedown") << quint32(0xff56);
        QTest::newRow("Left") << QStringLiteral("Left") << quint32(0xff51);
        QTest::newRow("F1") << QStringLiteral("F1") << quint32(0xffbe);
        QTest::newRow("f12") << QStringLiteral("f12") << quint32(0xffc9);
        QTest::newRow("ctrl") << QStringLiteral("ctrl") << quint32(0xffe3);
        QTest::newRow("Control") << QStringLiteral("Control") << quint32(0xffe3);
        QTest::newRow("alt") << QStringLiteral("alt") << quint32(0xffe9);
        QTest::newRow("shift") << QStringLiteral("shift") << quint32(0xffe1);
        QTest::newRow("super") << QStringLiteral("super") << quint32(0xffeb);
        QTest::newRow("space") << QStringLiteral("space") << quint32(0x20);
        QTest::newRow("single letter") << QStringLiteral("t") << quint32(0x74);
        QTest::newRow("single upper") << QStringLiteral("T") << quint32(0x54);
        QTest::newRow("single digit") << QStringLiteral("1") << quint32(0x31);
        QTest::newRow("single non-Latin-1") << QStringLiteral("\u20ac") << quint32(0x010020ac);
        QTest::newRow("hex keysym") << QStringLiteral("0xff0d") << quint32(0xff0d);
    }
    void names()
    {
        QFETCH(QString, name);
        QFETCH(quint32, keysym);
        const auto k = Keysyms::fromName(name);
        QVERIFY(k.has_value());
        QCOMPARE(*k, keysym);
    }

    void unknownNames()
    {
        QVERIFY(!Keysyms::fromName(u"").has_value());
        QVERIFY(!Keysyms::fromName(u"notakey").has_value());
        QVERIFY(!Keysyms::fromName(u"F0").has_value());
        QVERIFY(!Keysyms::fromName(u"F36").has_value());
        QVERIFY(!Keysyms::fromName(u"0x").has_value());
        QVERIFY(!Keysyms::fromName(u"0xzz").has_value());
    }

    void combos_data()
    {
        QTest::addColumn<QString>("combo");
        QTest::addColumn<KeyList>("keys");
        QTest::newRow("ctrl+alt+t") << QStringLiteral("ctrl+alt+t") << KeyList{0xffe3, 0xffe9, 0x74};
        QTest::newRow("Return") << QStringLiteral("Return") << KeyList{0xff0d};
        QTest::newRow("shift+Tab") << QStringLiteral("shift+Tab") << KeyList{0xffe1, 0xff09};
        QTest::newRow("spaces") << QStringLiteral(" ctrl + c ") << KeyList{0xffe3, 0x63};
        QTest::newRow("ctrl++") << QStringLiteral("ctrl++") << KeyList{0xffe3, 0x2b};
        QTest::newRow("plus alone") << QStringLiteral("+") << KeyList{0x2b};
        QTest::newRow("ctrl+plus") << QStringLiteral("ctrl+plus") << KeyList{0xffe3, 0x2b};
        QTest::newRow("super+F4") << QStringLiteral("Super+F4") << KeyList{0xffeb, 0xffc1};
        QTest::newRow("shift+w: upper") << QStringLiteral("shift+w") << KeyList{0xffe1, 0x57};
        QTest::newRow("ctrl+T: lower") << QStringLiteral("ctrl+T") << KeyList{0xffe3, 0x74};
        QTest::newRow("shift+1 untouched") << QStringLiteral("shift+1") << KeyList{0xffe1, 0x31};
        QTest::newRow("shift+e-acute") << QStringLiteral("shift+\u00e9") << KeyList{0xffe1, 0xc9};
        QTest::newRow("ctrl+shift+Escape") << QStringLiteral("ctrl+shift+Escape") << KeyList{0xffe3, 0xffe1, 0xff1b};
    }
    void combos()
    {
        QFETCH(QString, combo);
        QFETCH(KeyList, keys);
        const auto parsed = Keysyms::parseCombo(combo);
        QVERIFY2(parsed.has_value(), qPrintable(combo));
        QCOMPARE(*parsed, keys);
    }

    void badCombos_data()
    {
        QTest::addColumn<QString>("combo");
        QTest::newRow("empty") << QString();
        QTest::newRow("blank") << QStringLiteral("   ");
        QTest::newRow("unknown key") << QStringLiteral("ctrl+nosuchkey");
        QTest::newRow("empty part") << QStringLiteral("ctrl++alt");
        QTest::newRow("trailing plus") << QStringLiteral("ctrl+");
    }
    void badCombos()
    {
        QFETCH(QString, combo);
        QVERIFY(!Keysyms::parseCombo(combo).has_value());
    }

    void qtKeys_data()
    {
        QTest::addColumn<int>("key");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("shift");
        QTest::addColumn<quint32>("keysym");
        QTest::newRow("a") << int(Qt::Key_A) << QStringLiteral("a") << false << quint32('a');
        QTest::newRow("shift+a") << int(Qt::Key_A) << QStringLiteral("A") << true << quint32('A');
        QTest::newRow("ctrl+a (control char text)") << int(Qt::Key_A) << QStringLiteral("\x01") << false << quint32('a');
        QTest::newRow("ctrl+shift+a") << int(Qt::Key_A) << QString() << true << quint32('A');
        QTest::newRow("exclam") << int(Qt::Key_Exclam) << QStringLiteral("!") << true << quint32('!');
        QTest::newRow("e-acute") << int(Qt::Key_Eacute) << QStringLiteral("\u00e9") << false << quint32(0xe9);
        QTest::newRow("euro") << int(Qt::Key_unknown) << QStringLiteral("\u20ac") << false << quint32(0x010020ac);
        QTest::newRow("Return") << int(Qt::Key_Return) << QStringLiteral("\r") << false << quint32(0xff0d);
        QTest::newRow("Enter (keypad)") << int(Qt::Key_Enter) << QStringLiteral("\r") << false << quint32(0xff8d);
        QTest::newRow("Backtab") << int(Qt::Key_Backtab) << QString() << true << quint32(0xff09);
        QTest::newRow("Escape") << int(Qt::Key_Escape) << QStringLiteral("\x1b") << false << quint32(0xff1b);
        QTest::newRow("F5") << int(Qt::Key_F5) << QString() << false << quint32(0xffc2);
        QTest::newRow("Control") << int(Qt::Key_Control) << QString() << false << quint32(0xffe3);
        QTest::newRow("Meta -> Super_L") << int(Qt::Key_Meta) << QString() << false << quint32(0xffeb);
        QTest::newRow("Left") << int(Qt::Key_Left) << QString() << false << quint32(0xff51);
        QTest::newRow("Space") << int(Qt::Key_Space) << QStringLiteral(" ") << false << quint32(0x20);
        QTest::newRow("unknown, no text") << int(Qt::Key_unknown) << QString() << false << quint32(0);
    }
    void qtKeys()
    {
        QFETCH(int, key);
        QFETCH(QString, text);
        QFETCH(bool, shift);
        QFETCH(quint32, keysym);
        QCOMPARE(Keysyms::fromQtKey(key, text, shift), keysym);
    }
};

QTEST_APPLESS_MAIN(TestKeysyms)
#include "tst_keysyms.moc"
