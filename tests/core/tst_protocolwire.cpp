// The wire protocol shared with the guest agent: encoding round trips, frame
// parsing across arbitrary splits, resync after garbage, the size limit,
// and hostile lengths that must not allocate or crash.

#include "protocol/framereader.h"
#include "protocol/messages.h"

#include <QRandomGenerator>
#include <QTest>

using namespace Protocol;

class TestProtocolWire : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void messageRoundTrips()
    {
        ExecStart e;
        e.argv = {"sh", "-c", std::string("a\0b", 3)};
        e.env = {"A=1", "B="};
        e.cwd = "/tmp";
        e.timeoutMs = 1500;
        e.flags = ExecStart::StdinPipe;
        ExecStart d;
        QVERIFY(ExecStart::decode(e.encode(), &d));
        QCOMPARE(d.argv.size(), size_t(3));
        QCOMPARE(d.argv[2], std::string("a\0b", 3));
        QCOMPARE(d.env, e.env);
        QCOMPARE(d.cwd, e.cwd);
        QCOMPARE(d.timeoutMs, 1500u);
        QCOMPARE(d.flags, std::uint32_t(ExecStart::StdinPipe));

        Hello h;
        h.nonce = 0x1122334455667788ull;
        h.client = "test";
        Hello hd;
        QVERIFY(Hello::decode(h.encode(), &hd));
        QCOMPARE(hd.nonce, h.nonce);
        QCOMPARE(hd.version, kVersion);

        ListResult l;
        FileInfo fi;
        fi.name = "x";
        fi.type = FileType::Symlink;
        fi.linkTarget = "y";
        fi.mtimeSec = -5;
        l.entries = {fi, fi};
        ListResult ld;
        QVERIFY(ListResult::decode(l.encode(), &ld));
        QCOMPARE(ld.entries.size(), size_t(2));
        QCOMPARE(ld.entries[1].linkTarget, std::string("y"));
        QCOMPARE(ld.entries[1].mtimeSec, std::int64_t(-5));

        ExecExit x{-1, 9, true, 123};
        ExecExit xd;
        QVERIFY(ExecExit::decode(x.encode(), &xd));
        QCOMPARE(xd.signal, 9);
        QVERIFY(xd.timedOut);

        const StreamCredit c{kCreditBatch};
        StreamCredit cd;
        QVERIFY(StreamCredit::decode(c.encode(), &cd));
        QVERIFY(cd == c);
        QCOMPARE(c.encode().size(), size_t(4));
        QVERIFY(!StreamCredit::decode("abc", &cd));
    }

    // The guest's interfaces ride at the end of HealthResult, within
    // version 2: an agent that predates them sends none, a host that
    // predates them reads what it knows and ignores the rest.
    void healthCarriesInterfacesCompatibly()
    {
        HealthResult h;
        h.agentVersion = "0.1.0";
        h.hostname = "vm1";
        h.kernel = "Linux 6.1";
        h.interfaces = {{"eth0", "0a:1b:2c:3d:4e:5f", true, {"10.213.0.2/30", "fe80::81b:2cff:fe3d:4e5f/64"}}, {"eth1", "", false, {}}};
        HealthResult d;
        QVERIFY(HealthResult::decode(h.encode(), &d));
        QVERIFY(d == h);

        // An older agent's answer: everything up to the kernel.
        Writer old;
        old.str(h.agentVersion);
        old.u64(0);
        old.u64(0);
        old.u64(0);
        old.u64(0);
        old.u32(0);
        old.u32(0);
        old.u32(0);
        old.str(h.hostname);
        old.str(h.kernel);
        HealthResult fromOld;
        fromOld.interfaces = h.interfaces;
        QVERIFY(HealthResult::decode(old.data(), &fromOld));
        QVERIFY(fromOld.interfaces.empty());
        QVERIFY(fromOld.encode() == old.data()); // none: the old bytes exactly
        QCOMPARE(fromOld.kernel, h.kernel);
        // An older host's decoder reads the same prefix of a new answer.
        QVERIFY(h.encode().substr(0, old.data().size()) == old.data());

        // Hostile counts and truncations are refused.
        Writer tooMany(old);
        tooMany.u32(HealthResult::kMaxInterfaces + 1);
        QVERIFY(!HealthResult::decode(tooMany.data(), &d));
        const std::string full = h.encode();
        for (size_t n = old.data().size() + 1; n < full.size(); ++n)
            QVERIFY2(!HealthResult::decode(std::string_view(full).substr(0, n), &d), qPrintable(QString::number(n)));
    }

    void truncatedPayloadsAreRejected()
    {
        ExecStart e;
        e.argv = {"echo", "hello"};
        const std::string full = e.encode();
        for (size_t n = 0; n < full.size(); ++n) {
            ExecStart d;
            QVERIFY2(!ExecStart::decode(std::string_view(full).substr(0, n), &d), qPrintable(QString::number(n)));
        }
    }

    void hostileCountsDoNotAllocate()
    {
        Writer w;
        w.u32(0xffffffffu); // a list of 4 billion strings, with no bytes behind it
        ExecStart d;
        QVERIFY(!ExecStart::decode(w.data(), &d));
        ListResult l;
        QVERIFY(!ListResult::decode(w.data(), &l));
    }

    void listCountsAreBoundByTheSmallestEntry()
    {
        Writer empty;
        FileInfo{}.write(empty);
        QCOMPARE(empty.data().size(), FileInfo::kMinEncodedSize);
        // 8 bytes per claimed entry: more than the bytes can hold, refused
        // before any entry is made (the bound was once 8 bytes an entry).
        constexpr std::uint32_t kClaimed = 1000;
        Writer w;
        w.u32(kClaimed);
        w.raw(std::string(kClaimed * 8, '\0'));
        ListResult l;
        QVERIFY(!ListResult::decode(w.data(), &l));
        QVERIFY(l.entries.empty());
    }

    void framesSurviveAnySplit()
    {
        std::string stream;
        for (int i = 0; i < 50; ++i)
            stream += encodeFrame(static_cast<std::uint8_t>(MsgType::ExecStdout), std::uint32_t(i + 1), std::string(size_t(i * 37), char('a' + i % 26)));
        QRandomGenerator gen(7);
        FrameReader r;
        size_t pos = 0;
        int got = 0;
        while (pos < stream.size()) {
            const size_t n = std::min<size_t>(stream.size() - pos, gen.bounded(1, 300));
            r.feed(stream.data() + pos, n);
            pos += n;
            Frame f;
            while (r.next(&f) == FrameReader::Status::Frame) {
                QCOMPARE(f.header.stream, std::uint32_t(got + 1));
                QCOMPARE(f.payload.size(), size_t(got * 37));
                ++got;
            }
        }
        QCOMPARE(got, 50);
        QCOMPARE(r.skippedBytes(), std::uint64_t(0));
    }

    void resyncsAfterGarbage()
    {
        FrameReader r;
        r.feed(std::string("garbage from an earlier session\x56", 32));
        r.feed(encodeFrame(static_cast<std::uint8_t>(MsgType::Hello), 0, Hello{}.encode()));
        Frame f;
        QCOMPARE(r.next(&f), FrameReader::Status::Frame);
        QCOMPARE(f.header.type, std::uint8_t(MsgType::Hello));
        QVERIFY(r.skippedBytes() >= 31);
    }

    void magicWithNonZeroFlagsIsNotAFrameStart()
    {
        FrameReader r;
        // Stale bytes: the magic, then a header with flags set and a huge length.
        std::string stale("\x56\x4d\x01\x7f\x01\x00\x00\x00\xff\xff\xff\x00", 12);
        r.feed(stale);
        r.feed(encodeFrame(static_cast<std::uint8_t>(MsgType::Health), 9, {}));
        Frame f;
        QCOMPARE(r.next(&f), FrameReader::Status::Frame);
        QCOMPARE(f.header.stream, 9u);
        QCOMPARE(r.skippedBytes(), std::uint64_t(12));
    }

    void oversizeFramesAreRefused()
    {
        FrameReader r(1024);
        char header[kHeaderSize];
        encodeHeader(header, FrameHeader{std::uint8_t(MsgType::FileData), 0, 3, 1025});
        r.feed(header, kHeaderSize);
        Frame f;
        QCOMPARE(r.next(&f), FrameReader::Status::Oversize);
        QCOMPARE(r.lastHeader().length, 1025u);
        r.reset();
        r.feed(encodeFrame(std::uint8_t(MsgType::FileData), 3, std::string(1024, 'x')));
        QCOMPARE(r.next(&f), FrameReader::Status::Frame);
        // The ceiling holds whatever a peer announces.
        r.setMaxPayload(0xffffffffu);
        QCOMPARE(r.maxPayload(), kMaxPayloadCeiling);
    }
};

QTEST_APPLESS_MAIN(TestProtocolWire)
#include "tst_protocolwire.moc"
