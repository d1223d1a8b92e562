#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>
#include <QtGlobal>

namespace Server {

// The client -> server half of an RFB (VNC) connection, parsed as it streams
// through the WebSocket relay between the browser (noVNC) and the guest's
// Xvnc, so that a watcher who does not hold control of the display cannot
// type, point or paste. Pure: no I/O, no Qt objects, no clocks.
//
// feed() takes the bytes as they arrive, split anywhere, and appends to
// output() the bytes to forward to the server, in order. KeyEvent,
// PointerEvent, ClientCutText and QEMU extended key event messages whose
// first (type) byte arrives in a feed() with allowInput false are removed
// whole; everything else passes byte for byte. Only the few bytes that say
// how long a message is are ever held back (at most kMaxHeldBytes); bodies,
// large ClientCutText included, are forwarded or skipped as they arrive.
//
// Handshake followed (RFC 6143 section 7.1-7.3, client side only):
//   ProtocolVersion "RFB 003.007\n" or "RFB 003.008\n" (12 bytes), then the
//   chosen security type (1 byte): None (1) or VNC authentication (2, then a
//   16-byte response), then ClientInit (1 byte), then client messages.
// Fails closed, naming the reason in errorString():
//   - RFB 3.3: the server, not the client, picks the security type there, so
//     the client side alone cannot be framed; the relay does not support it
//     (Xvnc offers 3.8 and noVNC answers 3.8, so it never arises in practice).
//   - any other version, any other security type (VeNCrypt, Tight, ...);
//   - an unknown message type or QEMU sub-type, a Fence payload over 64
//     bytes, a ClientCutText over kMaxCutTextBytes.
// After an error feed() forwards nothing more; the relay closes both sides.
class RfbFilter {
public:
    enum class Result { Ok, Error };

    // Where the stream is. Failed once an error was found.
    enum class Phase { ProtocolVersion, SecurityType, VncAuthResponse, ClientInit, Messages, Failed };

    // How a PointerEvent with the top button-mask bit set is framed. It must
    // match the server, or the filter and the server disagree on where
    // messages start (and input could be smuggled past the filter).
    enum class PointerFraming {
        // 6 bytes always: servers without the ExtendedMouseButtons extension
        // (TigerVNC before 1.15; bookworm ships 1.12). A PointerEvent with
        // the marker bit set after the client announced the extension is an
        // error, since an extension-aware server would read 7 bytes.
        Standard,
        // 7 bytes when the marker bit is set and the client's latest
        // SetEncodings listed ExtendedMouseButtons (-316): TigerVNC >= 1.15.
        ExtendedMouseButtons,
    };

    static constexpr quint32 kMaxCutTextBytes = 1024 * 1024; // declared ClientCutText length cap
    static constexpr int kMaxFencePayload = 64; // rfbproto ClientFence limit
    static constexpr int kMaxHeldBytes = 12; // the longest header held: ProtocolVersion

    explicit RfbFilter(PointerFraming pointerFraming = PointerFraming::Standard);

    // Parses in and appends what to forward to output(). Error once the
    // stream broke the protocol (now or before): output() then ends with the
    // last byte before the offending message, and nothing is ever added again.
    Result feed(QByteArrayView in, bool allowInput);

    const QByteArray &output() const { return m_output; }
    QByteArray takeOutput();

    Phase phase() const { return m_phase; }
    bool hasError() const { return m_phase == Phase::Failed; }
    QString errorString() const { return m_error; }

    // Complete client messages after ClientInit (handshake not counted).
    quint64 passedMessages() const { return m_passed; }
    quint64 droppedInputMessages() const { return m_dropped; }
    // Bytes currently held back waiting for the rest of a message header.
    qsizetype heldBytes() const { return m_bodyLeft > 0 ? 0 : m_header.size(); }

private:
    enum class Step { NeedMore, Complete, Fail };

    Step examineHeader();
    Step examineMessageHeader();
    Step examinePointerEvent();
    Step examineClientCutText();
    Step examineClientFence();
    Step examineQemuMessage();
    Step fail(const QString &message);
    void startBody();
    void consumeBody(QByteArrayView bytes);
    void finishMessage();

    PointerFraming m_pointerFraming;
    Phase m_phase = Phase::ProtocolVersion;
    QByteArray m_output;
    QString m_error;

    // The message being parsed.
    QByteArray m_header; // its first bytes, held until its length is known
    quint64 m_total = 0; // its full length, once known
    quint64 m_bodyLeft = 0; // bytes after the header still to come
    bool m_allowAtType = false; // allowInput when its type byte arrived
    bool m_isInput = false;
    bool m_forward = true;

    // SetEncodings scanned as it streams, for ExtendedMouseButtons.
    QByteArray m_encodingWord;
    bool m_listsExtendedMouse = false;
    bool m_clientExtendedMouse = false;

    quint64 m_passed = 0;
    quint64 m_dropped = 0;
};

} // namespace Server
