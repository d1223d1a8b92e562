// Server::RfbFilter, the client -> server RFB parser of the display relay:
// the handshakes it follows, each message passing byte for byte, input
// removed whole while the watcher does not hold control, the same output
// however the stream is split (a seeded property test against a reference
// model), a large ClientCutText streamed with bounded buffering, and every
// error failing closed with nothing forwarded after it.

#include "server/rfbfilter.h"

#include <QRandomGenerator>
#include <QTest>
#include <QtEndian>

#include <optional>

using Server::RfbFilter;

namespace {

constexpr quint32 kRandomSeed = 0x5eed1e55;
constexpr int kRandomMessages = 3000;
constexpr qint32 kExtendedMouseButtons = -316;
constexpr qint32 kExtendedClipboard = qint32(0xc0a1e5ce);

QByteArray u16(quint16 v)
{
    QByteArray b(2, Qt::Uninitialized);
    qToBigEndian(v, b.data());
    return b;
}

QByteArray u32(quint32 v)
{
    QByteArray b(4, Qt::Uninitialized);
    qToBigEndian(v, b.data());
    return b;
}

QByteArray u8(int v)
{
    return QByteArray(1, static_cast<char>(v));
}

// Client messages, laid out as noVNC's RFB.messages writes them.
namespace Msg {

QByteArray setPixelFormat()
{
    return u8(0) + QByteArray(3, 0) + u8(32) + u8(24) + u8(0) + u8(1) + u16(255) + u16(255) + u16(255) + u8(0) + u8(8) + u8(16) + QByteArray(3, 0);
}
QByteArray setEncodings(const QList<qint32> &encodings)
{
    QByteArray b = u8(2) + u8(0) + u16(static_cast<quint16>(encodings.size()));
    for (qint32 e : encodings)
        b += u32(static_cast<quint32>(e));
    return b;
}
QByteArray updateRequest(bool incremental = true)
{
    return u8(3) + u8(incremental) + u16(0) + u16(0) + u16(1024) + u16(768);
}
QByteArray keyEvent(bool down, quint32 keysym)
{
    return u8(4) + u8(down) + u16(0) + u32(keysym);
}
QByteArray pointerEvent(quint8 mask, quint16 x, quint16 y)
{
    return u8(5) + u8(mask) + u16(x) + u16(y);
}
QByteArray extendedPointerEvent(quint8 lowMask, quint16 x, quint16 y, quint8 highMask)
{
    return pointerEvent(lowMask | 0x80, x, y) + u8(highMask);
}
QByteArray cutText(const QByteArray &text)
{
    return u8(6) + QByteArray(3, 0) + u32(static_cast<quint32>(text.size())) + text;
}
QByteArray extendedCutText(const QByteArray &payload)
{
    return u8(6) + QByteArray(3, 0) + u32(0u - static_cast<quint32>(payload.size())) + payload;
}
QByteArray continuousUpdates(bool enable)
{
    return u8(150) + u8(enable) + u16(0) + u16(0) + u16(800) + u16(600);
}
QByteArray fence(const QByteArray &payload)
{
    return u8(248) + QByteArray(3, 0) + u32(0x80000003u) + u8(int(payload.size())) + payload;
}
QByteArray xvp(int code)
{
    return u8(250) + u8(0) + u8(1) + u8(code);
}
QByteArray setDesktopSize(int screens)
{
    QByteArray b = u8(251) + u8(0) + u16(1920) + u16(1080) + u8(screens) + u8(0);
    for (int i = 0; i < screens; ++i)
        b += u32(quint32(i)) + u16(0) + u16(0) + u16(1920) + u16(1080) + u32(0);
    return b;
}
QByteArray qemuKeyEvent(bool down, quint32 keysym, quint32 keycode)
{
    return u8(255) + u8(0) + u16(down) + u32(keysym) + u32(keycode);
}
QByteArray qemuAudio(quint16 operation)
{
    QByteArray b = u8(255) + u8(1) + u16(operation);
    if (operation == 2)
        b += u8(3) + u8(2) + u32(44100);
    return b;
}

} // namespace Msg

const QByteArray kVersion38("RFB 003.008\n");
const QByteArray kVersion37("RFB 003.007\n");
const QByteArray kAuthResponse("0123456789abcdef");
const QByteArray kClientInitShared = u8(1);

QByteArray handshakeNone()
{
    return kVersion38 + u8(1) + kClientInitShared;
}

// One message of a generated stream: its bytes, whether it is input, and
// the allowInput the relay has when its type byte arrives.
struct Item {
    QByteArray bytes;
    bool input = false;
    bool allow = false;
};

// A random valid client message stream (after the handshake) and what the
// filter must do with it; tracks ExtendedMouseButtons like the server does.
class StreamModel {
public:
    StreamModel(quint32 seed, RfbFilter::PointerFraming framing)
        : m_rng(seed)
        , m_framing(framing)
    {
    }

    Item next()
    {
        Item item;
        item.allow = m_rng.bounded(2) == 1;
        switch (m_rng.bounded(13)) {
        case 0: item.bytes = Msg::setPixelFormat(); break;
        case 1: {
            QList<qint32> encs;
            const int n = int(m_rng.bounded(12));
            for (int i = 0; i < n; ++i)
                encs << static_cast<qint32>(m_rng.generate());
            if (m_rng.bounded(2) == 1)
                encs.insert(int(m_rng.bounded(quint32(encs.size() + 1))), kExtendedMouseButtons);
            if (m_rng.bounded(2) == 1)
                encs << kExtendedClipboard;
            m_announced = encs.contains(kExtendedMouseButtons);
            item.bytes = Msg::setEncodings(encs);
            break;
        }
        case 2: item.bytes = Msg::updateRequest(m_rng.bounded(2) == 1); break;
        case 3: {
            const bool down = m_rng.bounded(2) == 1;
            item.input = down; // releases always pass
            item.bytes = Msg::keyEvent(down, m_rng.generate());
            break;
        }
        case 4: {
            item.input = true;
            auto mask = static_cast<quint8>(m_rng.bounded(256));
            const bool extended = m_announced && (mask & 0x80);
            if (extended && m_framing == RfbFilter::PointerFraming::Standard)
                mask &= 0x7f; // a client must not mark it unless the server acked
            if (m_announced && (mask & 0x80))
                item.bytes = Msg::extendedPointerEvent(mask, quint16(m_rng.bounded(2000)), quint16(m_rng.bounded(2000)), 0x03);
            else
                item.bytes = Msg::pointerEvent(mask, quint16(m_rng.bounded(2000)), quint16(m_rng.bounded(2000)));
            break;
        }
        case 5:
            item.input = true;
            item.bytes = Msg::cutText(randomBytes(int(m_rng.bounded(300))));
            break;
        case 6:
            item.input = true;
            item.bytes = Msg::extendedCutText(randomBytes(4 + int(m_rng.bounded(300))));
            break;
        case 7: item.bytes = Msg::continuousUpdates(m_rng.bounded(2) == 1); break;
        case 8: item.bytes = Msg::fence(randomBytes(int(m_rng.bounded(65)))); break;
        case 9: item.bytes = Msg::xvp(2 + int(m_rng.bounded(3))); break;
        case 10: item.bytes = Msg::setDesktopSize(int(m_rng.bounded(4))); break;
        case 11: {
            const bool down = m_rng.bounded(2) == 1;
            item.input = down;
            item.bytes = Msg::qemuKeyEvent(down, m_rng.generate(), 1 + m_rng.bounded(200));
            break;
        }
        default: item.bytes = Msg::qemuAudio(quint16(m_rng.bounded(3))); break;
        }
        return item;
    }

    QRandomGenerator &rng() { return m_rng; }

private:
    QByteArray randomBytes(int n)
    {
        QByteArray b(n, Qt::Uninitialized);
        for (char &c : b)
            c = static_cast<char>(m_rng.bounded(256));
        return b;
    }

    QRandomGenerator m_rng;
    RfbFilter::PointerFraming m_framing;
    bool m_announced = false;
};

struct Expected {
    QByteArray output;
    quint64 passed = 0;
    quint64 dropped = 0;
};

Expected reference(const QList<Item> &items)
{
    Expected e;
    e.output = handshakeNone();
    for (const Item &item : items) {
        if (item.input && !item.allow) {
            ++e.dropped;
        } else {
            e.output += item.bytes;
            ++e.passed;
        }
    }
    return e;
}

} // namespace

class TestRfbFilter : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void handshake_data()
    {
        QTest::addColumn<QByteArray>("stream");
        QTest::newRow("3.8 None") << kVersion38 + u8(1) + kClientInitShared;
        QTest::newRow("3.8 VncAuth") << kVersion38 + u8(2) + kAuthResponse + kClientInitShared;
        QTest::newRow("3.7 None") << kVersion37 + u8(1) + u8(0);
        QTest::newRow("3.7 VncAuth") << kVersion37 + u8(2) + kAuthResponse + u8(0);
    }

    void handshake()
    {
        QFETCH(QByteArray, stream);
        // Whole, and a byte at a time: all of it passes, even without
        // control, and each step advances the phase.
        RfbFilter whole;
        QCOMPARE(whole.phase(), RfbFilter::Phase::ProtocolVersion);
        QCOMPARE(whole.feed(stream, false), RfbFilter::Result::Ok);
        QCOMPARE(whole.takeOutput(), stream);
        QCOMPARE(whole.phase(), RfbFilter::Phase::Messages);
        QCOMPARE(whole.passedMessages(), quint64(0));

        RfbFilter split;
        QByteArray out;
        QList<RfbFilter::Phase> phases;
        for (char c : stream) {
            QCOMPARE(split.feed(QByteArrayView(&c, 1), false), RfbFilter::Result::Ok);
            out += split.takeOutput();
            if (phases.isEmpty() || phases.last() != split.phase())
                phases << split.phase();
        }
        QCOMPARE(out, stream);
        const bool auth = stream[12] == 2;
        QList<RfbFilter::Phase> want{RfbFilter::Phase::ProtocolVersion, RfbFilter::Phase::SecurityType};
        if (auth)
            want << RfbFilter::Phase::VncAuthResponse;
        want << RfbFilter::Phase::ClientInit << RfbFilter::Phase::Messages;
        QCOMPARE(phases, want);

        // The first client message after the handshake is parsed as one.
        QCOMPARE(split.feed(Msg::keyEvent(true, 0x61), false), RfbFilter::Result::Ok);
        QVERIFY(split.takeOutput().isEmpty());
        QCOMPARE(split.droppedInputMessages(), quint64(1));
    }

    void rfb33Rejected()
    {
        RfbFilter f;
        QCOMPARE(f.feed(QByteArray(QByteArray("RFB 003.003\n") + u8(1)), true), RfbFilter::Result::Error);
        QVERIFY(f.output().isEmpty());
        QVERIFY2(f.errorString().contains(QLatin1String("RFB 3.3 is not supported by the relay")), qPrintable(f.errorString()));
    }

    void eachMessagePasses_data()
    {
        QTest::addColumn<QByteArray>("message");
        QTest::addColumn<bool>("input");
        QTest::newRow("SetPixelFormat") << Msg::setPixelFormat() << false;
        QTest::newRow("SetEncodings") << Msg::setEncodings({7, 16, 0, -223, -224, kExtendedClipboard}) << false;
        QTest::newRow("SetEncodings empty") << Msg::setEncodings({}) << false;
        QTest::newRow("FramebufferUpdateRequest") << Msg::updateRequest() << false;
        QTest::newRow("KeyEvent") << Msg::keyEvent(true, 0xff0d) << true;
        QTest::newRow("PointerEvent") << Msg::pointerEvent(0x01, 100, 200) << true;
        QTest::newRow("PointerEvent button 8") << Msg::pointerEvent(0x80, 100, 200) << true;
        QTest::newRow("ClientCutText") << Msg::cutText("hello, clipboard") << true;
        QTest::newRow("ClientCutText empty") << Msg::cutText({}) << true;
        QTest::newRow("ClientCutText extended") << Msg::extendedCutText(u32(0x01000000) + u32(0x1f)) << true;
        QTest::newRow("EnableContinuousUpdates") << Msg::continuousUpdates(true) << false;
        QTest::newRow("ClientFence") << Msg::fence("sync-1") << false;
        QTest::newRow("ClientFence max payload") << Msg::fence(QByteArray(64, 'x')) << false;
        QTest::newRow("xvp") << Msg::xvp(3) << false;
        QTest::newRow("SetDesktopSize 1") << Msg::setDesktopSize(1) << false;
        QTest::newRow("SetDesktopSize 0") << Msg::setDesktopSize(0) << false;
        QTest::newRow("QEMU extended key") << Msg::qemuKeyEvent(true, 0x61, 0x1e) << true;
        QTest::newRow("QEMU audio enable") << Msg::qemuAudio(0) << false;
        QTest::newRow("QEMU audio disable") << Msg::qemuAudio(1) << false;
        QTest::newRow("QEMU audio set format") << Msg::qemuAudio(2) << false;
    }

    void eachMessagePasses()
    {
        QFETCH(QByteArray, message);
        QFETCH(bool, input);
        const QByteArray stream = handshakeNone() + message + Msg::updateRequest();
        for (bool allow : {true, false}) {
            RfbFilter f;
            QCOMPARE(f.feed(stream, allow), RfbFilter::Result::Ok);
            const bool kept = allow || !input;
            QCOMPARE(f.takeOutput(), kept ? stream : handshakeNone() + Msg::updateRequest());
            QCOMPARE(f.passedMessages(), kept ? quint64(2) : quint64(1));
            QCOMPARE(f.droppedInputMessages(), kept ? quint64(0) : quint64(1));
            QCOMPARE(f.heldBytes(), qsizetype(0));
        }
    }

    void inputRemovedNeighboursKept()
    {
        const QByteArray encodings = Msg::setEncodings({16, -239, kExtendedClipboard});
        const QByteArray fence = Msg::fence("abc");
        const QByteArray input = Msg::keyEvent(true, 0x41) + Msg::pointerEvent(1, 5, 5) + Msg::cutText("secret")
            + Msg::extendedCutText(u32(0x10000000) + u32(0)) + Msg::qemuKeyEvent(false, 0x41, 0x1e);
        const QByteArray stream = handshakeNone() + Msg::updateRequest() + input + encodings + Msg::keyEvent(false, 0x41) + fence + Msg::pointerEvent(0, 6, 6)
            + Msg::setDesktopSize(2);
        RfbFilter f;
        QCOMPARE(f.feed(stream, false), RfbFilter::Result::Ok);
        // Key releases pass (a key must not stay down), presses do not.
        QCOMPARE(f.takeOutput(),
                 handshakeNone() + Msg::updateRequest() + Msg::qemuKeyEvent(false, 0x41, 0x1e) + encodings + Msg::keyEvent(false, 0x41) + fence
                     + Msg::setDesktopSize(2));
        QCOMPARE(f.passedMessages(), quint64(6));
        QCOMPARE(f.droppedInputMessages(), quint64(5));
    }

    void allowDecidedAtTypeByte()
    {
        const QByteArray key = Msg::keyEvent(true, 0x41);
        RfbFilter f;
        QCOMPARE(f.feed(handshakeNone(), false), RfbFilter::Result::Ok);
        f.takeOutput();
        // Type byte while allowed: the whole message passes though control
        // is revoked before the rest arrives...
        QCOMPARE(f.feed(key.first(1), true), RfbFilter::Result::Ok);
        QCOMPARE(f.feed(key.sliced(1), false), RfbFilter::Result::Ok);
        QCOMPARE(f.takeOutput(), key);
        // ...and the other way round: it is dropped whole.
        QCOMPARE(f.feed(key.first(3), false), RfbFilter::Result::Ok);
        QCOMPARE(f.feed(key.sliced(3), true), RfbFilter::Result::Ok);
        QVERIFY(f.takeOutput().isEmpty());
        QCOMPARE(f.passedMessages(), quint64(1));
        QCOMPARE(f.droppedInputMessages(), quint64(1));
    }

    void splitAnywhereSameOutput_data()
    {
        QTest::addColumn<bool>("extendedMouse");
        QTest::newRow("standard") << false;
        QTest::newRow("extended mouse buttons") << true;
    }

    void splitAnywhereSameOutput()
    {
        QFETCH(bool, extendedMouse);
        const auto framing = extendedMouse ? RfbFilter::PointerFraming::ExtendedMouseButtons : RfbFilter::PointerFraming::Standard;
        StreamModel model(kRandomSeed, framing);
        QList<Item> items;
        for (int i = 0; i < kRandomMessages; ++i)
            items << model.next();
        const Expected want = reference(items);
        QVERIFY(want.passed > 0 && want.dropped > 0);

        // Byte by byte; allowInput is the message's own on its type byte and
        // random on every other byte (it must not matter there).
        {
            RfbFilter f(framing);
            QByteArray out;
            for (char c : handshakeNone())
                QCOMPARE(f.feed(QByteArrayView(&c, 1), model.rng().bounded(2) == 1), RfbFilter::Result::Ok);
            for (const Item &item : items) {
                for (qsizetype i = 0; i < item.bytes.size(); ++i) {
                    const bool allow = i == 0 ? item.allow : model.rng().bounded(2) == 1;
                    QCOMPARE(f.feed(item.bytes.sliced(i, 1), allow), RfbFilter::Result::Ok);
                    QVERIFY(f.heldBytes() <= RfbFilter::kMaxHeldBytes);
                }
                out += f.takeOutput();
            }
            QCOMPARE(out.size(), want.output.size());
            QCOMPARE(out, want.output);
            QCOMPARE(f.passedMessages(), want.passed);
            QCOMPARE(f.droppedInputMessages(), want.dropped);
        }
        // Whole: one feed per run of messages that share allowInput.
        {
            RfbFilter f(framing);
            QByteArray run = handshakeNone();
            bool runAllow = items.first().allow;
            for (const Item &item : items) {
                if (item.allow != runAllow) {
                    QCOMPARE(f.feed(run, runAllow), RfbFilter::Result::Ok);
                    run.clear();
                    runAllow = item.allow;
                }
                run += item.bytes;
            }
            QCOMPARE(f.feed(run, runAllow), RfbFilter::Result::Ok);
            QCOMPARE(f.output(), want.output);
            QCOMPARE(f.passedMessages(), want.passed);
            QCOMPARE(f.droppedInputMessages(), want.dropped);
        }
        // Random chunks, cut as well wherever allowInput changes between
        // two type bytes.
        {
            RfbFilter f(framing);
            QByteArray stream = handshakeNone();
            QList<qsizetype> typeAt;
            QList<bool> allowAt;
            for (const Item &item : items) {
                typeAt << stream.size();
                allowAt << item.allow;
                stream += item.bytes;
            }
            qsizetype pos = 0;
            qsizetype nextType = 0;
            while (pos < stream.size()) {
                qsizetype end = qMin(stream.size(), pos + 1 + qsizetype(model.rng().bounded(40)));
                std::optional<bool> allow;
                while (nextType < typeAt.size() && typeAt[nextType] < end) {
                    if (allow && *allow != allowAt[nextType]) {
                        end = typeAt[nextType];
                        break;
                    }
                    allow = allowAt[nextType++];
                }
                QCOMPARE(f.feed(QByteArrayView(stream).sliced(pos, end - pos), allow.value_or(model.rng().bounded(2) == 1)), RfbFilter::Result::Ok);
                pos = end;
            }
            QCOMPARE(f.output(), want.output);
            QCOMPARE(f.droppedInputMessages(), want.dropped);
        }
    }

    void largeCutTextStreamed_data()
    {
        QTest::addColumn<bool>("extended");
        QTest::addColumn<bool>("allow");
        QTest::newRow("plain passed") << false << true;
        QTest::newRow("plain dropped") << false << false;
        QTest::newRow("extended passed") << true << true;
        QTest::newRow("extended dropped") << true << false;
    }

    void largeCutTextStreamed()
    {
        QFETCH(bool, extended);
        QFETCH(bool, allow);
        constexpr qsizetype chunk = 4096;
        const QByteArray text(qsizetype(RfbFilter::kMaxCutTextBytes), 'q'); // the largest allowed
        const QByteArray message = extended ? Msg::extendedCutText(text) : Msg::cutText(text);
        const QByteArray after = Msg::updateRequest();
        const QByteArray stream = message + after;

        RfbFilter f;
        QCOMPARE(f.feed(handshakeNone(), false), RfbFilter::Result::Ok);
        f.takeOutput();
        QByteArray out;
        for (qsizetype pos = 0; pos < stream.size(); pos += chunk) {
            const QByteArrayView piece = QByteArrayView(stream).sliced(pos, qMin(chunk, stream.size() - pos));
            QCOMPARE(f.feed(piece, allow), RfbFilter::Result::Ok);
            QVERIFY(f.heldBytes() <= RfbFilter::kMaxHeldBytes);
            const QByteArray forwarded = f.takeOutput();
            // Streamed: every chunk of the text goes out (or not) at once.
            if (allow && pos + chunk <= message.size())
                QCOMPARE(forwarded.size(), piece.size());
            if (!allow && pos + chunk <= message.size())
                QVERIFY(forwarded.isEmpty());
            out += forwarded;
        }
        QCOMPARE(out, allow ? stream : after);
        QCOMPARE(f.passedMessages(), allow ? quint64(2) : quint64(1));
        QCOMPARE(f.droppedInputMessages(), allow ? quint64(0) : quint64(1));
    }

    void pointerFraming()
    {
        const QByteArray announce = Msg::setEncodings({16, kExtendedMouseButtons});
        const QByteArray withdraw = Msg::setEncodings({16});
        const QByteArray ext = Msg::extendedPointerEvent(0x01, 10, 20, 0x02);
        const QByteArray marked = Msg::pointerEvent(0x80, 10, 20); // button 8, 6 bytes
        const QByteArray tail = Msg::updateRequest();

        // Extension-aware server: 7 bytes once announced, 6 again once a
        // later SetEncodings leaves it out; dropped whole either way.
        for (bool allow : {true, false}) {
            RfbFilter f(RfbFilter::PointerFraming::ExtendedMouseButtons);
            const QByteArray stream = handshakeNone() + marked + announce + ext + tail + withdraw + marked + tail;
            QCOMPARE(f.feed(stream, allow), RfbFilter::Result::Ok);
            QCOMPARE(f.takeOutput(), allow ? stream : handshakeNone() + announce + tail + withdraw + tail);
            QCOMPARE(f.droppedInputMessages(), allow ? quint64(0) : quint64(3));
        }
        // Server without the extension: the marker bit is button 8 until
        // the client announces the extension, then it is an error.
        RfbFilter f(RfbFilter::PointerFraming::Standard);
        const QByteArray ok = handshakeNone() + marked + announce + Msg::pointerEvent(0x01, 1, 1);
        QCOMPARE(f.feed(ok, true), RfbFilter::Result::Ok);
        QCOMPARE(f.feed(QByteArray(ext + tail), true), RfbFilter::Result::Error);
        QCOMPARE(f.output(), ok);
        QVERIFY2(f.errorString().contains(QLatin1String("ExtendedMouseButtons")), qPrintable(f.errorString()));
    }

    void errorsFailClosed_data()
    {
        QTest::addColumn<QByteArray>("good");
        QTest::addColumn<QByteArray>("bad");
        QTest::addColumn<QString>("reason");
        const QByteArray ready = handshakeNone() + Msg::updateRequest();
        QTest::newRow("version placeholder") << QByteArray() << QByteArray("RFB 003.00x\n") << QStringLiteral("not an RFB ProtocolVersion");
        QTest::newRow("not RFB") << QByteArray() << QByteArray("GET / HTTP/1.1\r\n") << QStringLiteral("not an RFB ProtocolVersion");
        QTest::newRow("no newline") << QByteArray() << QByteArray("RFB 003.008 ") << QStringLiteral("not an RFB ProtocolVersion");
        QTest::newRow("version 4.0") << QByteArray() << QByteArray("RFB 004.000\n") << QStringLiteral("RFB 4.0 is not supported");
        QTest::newRow("version 3.5") << QByteArray() << QByteArray("RFB 003.005\n") << QStringLiteral("RFB 3.5 is not supported");
        QTest::newRow("version 3.3") << QByteArray() << QByteArray("RFB 003.003\n") << QStringLiteral("RFB 3.3 is not supported by the relay");
        QTest::newRow("security VeNCrypt") << kVersion38 << u8(19) << QStringLiteral("security type 19 (VeNCrypt)");
        QTest::newRow("security Tight") << kVersion38 << u8(16) << QStringLiteral("security type 16 (Tight)");
        QTest::newRow("security Invalid") << kVersion37 << u8(0) << QStringLiteral("security type 0 (Invalid)");
        QTest::newRow("security 200") << kVersion38 << u8(200) << QStringLiteral("security type 200 (unknown)");
        QTest::newRow("message type 7") << ready << u8(7) + QByteArray(20, 0) << QStringLiteral("unknown RFB client message type 7");
        QTest::newRow("message type 1") << ready << u8(1) + QByteArray(20, 0) << QStringLiteral("unknown RFB client message type 1");
        QTest::newRow("message type 249") << ready << u8(249) + QByteArray(20, 0) << QStringLiteral("unknown RFB client message type 249");
        QTest::newRow("QEMU sub-type 2") << ready << u8(255) + u8(2) + QByteArray(10, 0) << QStringLiteral("QEMU client message sub-type 2");
        QTest::newRow("QEMU audio op 3") << ready << u8(255) + u8(1) + u16(3) + QByteArray(6, 0) << QStringLiteral("QEMU audio operation 3");
        QTest::newRow("fence 65") << ready << Msg::fence(QByteArray(65, 'f')) << QStringLiteral("ClientFence payload of 65 bytes");
        QTest::newRow("cut text oversize") << ready << u8(6) + QByteArray(3, 0) + u32(RfbFilter::kMaxCutTextBytes + 1) + QByteArray(100, 'a')
                                           << QStringLiteral("ClientCutText of 1048577 bytes is over the relay's limit of 1048576");
        QTest::newRow("cut text 2 GiB") << ready << u8(6) + QByteArray(3, 0) + u32(0x7fffffffu) << QStringLiteral("ClientCutText of 2147483647");
        QTest::newRow("extended cut text INT_MIN") << ready << u8(6) + QByteArray(3, 0) + u32(0x80000000u)
                                                   << QStringLiteral("ClientCutText (extended clipboard) of 2147483648");
        QTest::newRow("extended cut text oversize") << ready << Msg::extendedCutText(QByteArray(qsizetype(RfbFilter::kMaxCutTextBytes) + 1, 'z'))
                                                    << QStringLiteral("(extended clipboard) of 1048577 bytes");
    }

    void errorsFailClosed()
    {
        QFETCH(QByteArray, good);
        QFETCH(QByteArray, bad);
        QFETCH(QString, reason);
        const QByteArray trailing = Msg::updateRequest() + Msg::keyEvent(true, 0x41);
        // Whole: the good prefix is forwarded, nothing from the bad message on.
        {
            RfbFilter f;
            QCOMPARE(f.feed(QByteArray(good + bad + trailing), true), RfbFilter::Result::Error);
            QCOMPARE(f.output(), good);
            QVERIFY(f.hasError());
            QCOMPARE(f.phase(), RfbFilter::Phase::Failed);
            QVERIFY2(f.errorString().contains(reason), qPrintable(f.errorString()));
            QCOMPARE(f.feed(trailing, true), RfbFilter::Result::Error);
            QCOMPARE(f.output(), good);
        }
        // Byte by byte: the same, and the error does not go away.
        {
            RfbFilter f;
            const QByteArray stream = good + bad + trailing;
            QByteArray out;
            bool failed = false;
            for (char c : stream) {
                const RfbFilter::Result r = f.feed(QByteArrayView(&c, 1), true);
                if (failed)
                    QCOMPARE(r, RfbFilter::Result::Error);
                failed = r == RfbFilter::Result::Error;
                out += f.takeOutput();
            }
            QVERIFY(failed);
            QCOMPARE(out, good);
            QVERIFY2(f.errorString().contains(reason), qPrintable(f.errorString()));
        }
    }
};

QTEST_GUILESS_MAIN(TestRfbFilter)
#include "tst_rfbfilter.moc"
