// The guest agent's OutputRing (a background process's kept output), pure:
// offsets into the whole stream, the oldest bytes dropped past the capacity,
// reads from before what is kept flagged truncated, wrap-around.

#include "guest-agent/outputring.h"

#include <QtTest>

#include <string>

using GuestAgent::OutputRing;

class TestOutputRing : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void empty()
    {
        const OutputRing ring(8);
        const auto s = ring.read(0, 100);
        QVERIFY(s.data.empty());
        QCOMPARE(s.next, std::uint64_t(0));
        QVERIFY(!s.truncated);
        QCOMPARE(ring.read(5, 100).next, std::uint64_t(0)); // past the end: the end
    }

    void readsByOffset()
    {
        OutputRing ring(16);
        ring.append("hello ");
        ring.append("world");
        QCOMPARE(ring.read(0, 100).data, std::string("hello world"));
        auto s = ring.read(6, 3);
        QCOMPARE(s.data, std::string("wor"));
        QCOMPARE(s.next, std::uint64_t(9));
        s = ring.read(s.next, 100);
        QCOMPARE(s.data, std::string("ld"));
        QCOMPARE(s.next, std::uint64_t(11));
        QVERIFY(!s.truncated);
        QVERIFY(ring.read(11, 100).data.empty());
    }

    void dropsTheOldest()
    {
        OutputRing ring(8);
        ring.append("abcdef");
        ring.append("ghij"); // wraps: keeps cdefghij
        QCOMPARE(ring.size(), std::size_t(8));
        QCOMPARE(ring.begin(), std::uint64_t(2));
        QCOMPARE(ring.end(), std::uint64_t(10));
        auto s = ring.read(0, 100);
        QVERIFY(s.truncated);
        QCOMPARE(s.data, std::string("cdefghij"));
        QCOMPARE(s.next, std::uint64_t(10));
        s = ring.read(4, 3);
        QVERIFY(!s.truncated);
        QCOMPARE(s.data, std::string("efg"));
        ring.append("klmnopq"); // wraps again
        QCOMPARE(ring.read(ring.begin(), 100).data, std::string("jklmnopq"));
        QCOMPARE(ring.read(15, 100).data, std::string("pq"));
    }

    void chunkLargerThanTheCapacity()
    {
        OutputRing ring(4);
        ring.append("ab");
        ring.append("0123456789");
        QCOMPARE(ring.read(0, 100).data, std::string("6789"));
        QCOMPARE(ring.begin(), std::uint64_t(8));
        ring.append("x");
        QCOMPARE(ring.read(8, 100).data, std::string("789x"));
    }

    // Byte for byte against the whole stream, in many small appends.
    void matchesTheStream()
    {
        OutputRing ring(1000);
        std::string all;
        for (int i = 0; i < 5000; ++i) {
            const std::string piece = std::to_string(i * 7919) + (i % 3 ? "," : "\n");
            ring.append(piece);
            all += piece;
        }
        QCOMPARE(ring.end(), std::uint64_t(all.size()));
        std::uint64_t offset = ring.begin();
        std::string kept;
        while (offset < ring.end()) {
            const auto s = ring.read(offset, 77);
            kept += s.data;
            offset = s.next;
        }
        QCOMPARE(kept, all.substr(all.size() - 1000));
    }
};

QTEST_GUILESS_MAIN(TestOutputRing)
#include "tst_outputring.moc"
