#include "server/rfbfilter.h"

#include <QtEndian>

#include <utility>

// Where the layouts come from:
//   [RFC]   RFC 6143 "The Remote Framebuffer Protocol", sections 7.1-7.3
//           (handshake) and 7.5 (client messages 0-6).
//   [PROTO] The community RFB specification, github rfbproto/rfbproto
//           rfbproto.rst @ d1d7091 (2025-01): the extension messages,
//           ExtendedMouseButtons and the Extended Clipboard.
//   [TIGER] TigerVNC common/rfb/SMsgReader.cxx (v1.12.0 and master @ ff59f40):
//           how the server at the other end actually frames each message.
//   [NOVNC] noVNC core/rfb.js, RFB.messages (master @ ac861f9): what the
//           browser actually sends.

namespace Server {

namespace {

constexpr qsizetype kVersionLength = 12; // [RFC] 7.1.1 "RFB xxx.yyy\n"
constexpr quint8 kSecurityNone = 1; // [RFC] 7.1.2
constexpr quint8 kSecurityVncAuth = 2; // [RFC] 7.1.2
constexpr quint64 kVncAuthResponseLength = 16; // [RFC] 7.2.2 DES(challenge)
constexpr quint64 kClientInitLength = 1; // [RFC] 7.3.1 shared-flag

// Client message types and their lengths.
constexpr quint8 kSetPixelFormat = 0; // [RFC] 7.5.1: type, 3 pad, PIXEL_FORMAT(16)
constexpr quint64 kSetPixelFormatLength = 20;
constexpr quint8 kSetEncodings = 2; // [RFC] 7.5.2: type, pad, u16 n, n * s32
constexpr qsizetype kSetEncodingsHeader = 4;
constexpr quint64 kEncodingLength = 4;
constexpr quint8 kFramebufferUpdateRequest = 3; // [RFC] 7.5.3: type, incremental, x, y, w, h
constexpr quint64 kFramebufferUpdateRequestLength = 10;
constexpr quint8 kKeyEvent = 4; // [RFC] 7.5.4: type, down, 2 pad, u32 keysym
constexpr quint64 kKeyEventLength = 8;
constexpr quint8 kPointerEvent = 5; // [RFC] 7.5.5: type, mask, u16 x, u16 y
constexpr quint64 kPointerEventLength = 6;
constexpr quint64 kExtendedPointerEventLength = 7; // [PROTO] ExtendedMouseButtons: + u8 high mask
constexpr quint8 kPointerMarkerBit = 0x80; // [PROTO] top bit of button-mask; [TIGER] 1.15
constexpr qint32 kExtendedMouseButtonsEncoding = -316; // [PROTO], [NOVNC] encodings.js
constexpr quint8 kClientCutText = 6; // [RFC] 7.5.6: type, 3 pad, u32 length, text
constexpr qsizetype kClientCutTextHeader = 8; // [PROTO] Extended Clipboard: length is s32,
    // negative = abs(length) bytes follow ([TIGER], [NOVNC])
constexpr quint8 kEnableContinuousUpdates = 150; // [PROTO]: type, enable, x, y, w, h
constexpr quint64 kEnableContinuousUpdatesLength = 10;
constexpr quint8 kClientFence = 248; // [PROTO]: type, 3 pad, u32 flags, u8 length, payload
constexpr qsizetype kClientFenceHeader = 9;
constexpr quint8 kXvp = 250; // [PROTO]: type, pad, u8 version, u8 code
constexpr quint64 kXvpLength = 4;
constexpr quint8 kSetDesktopSize = 251; // [PROTO]: type, pad, u16 w, u16 h, u8 n, pad, n * SCREEN
constexpr qsizetype kSetDesktopSizeHeader = 8;
constexpr quint64 kScreenLength = 16; // [PROTO] SCREEN: u32 id, 4 * u16, u32 flags
constexpr quint8 kQemuClientMessage = 255; // [PROTO]: type, u8 sub-type, ...
constexpr quint8 kQemuExtendedKeyEvent = 0; // [PROTO]: + u16 down, u32 keysym, u32 keycode
constexpr quint64 kQemuExtendedKeyEventLength = 12;
constexpr quint8 kQemuAudio = 1; // [PROTO]: + u16 operation [, u8 format, u8 channels, u32 Hz]
constexpr qsizetype kQemuAudioHeader = 4;
constexpr quint16 kQemuAudioEnable = 0;
constexpr quint16 kQemuAudioDisable = 1;
constexpr quint16 kQemuAudioSetFormat = 2;
constexpr quint64 kQemuAudioLength = 4;
constexpr quint64 kQemuAudioSetFormatLength = 10;

const uchar *bytes(const QByteArray &a)
{
    return reinterpret_cast<const uchar *>(a.constData());
}

// The bytes as they would be written in C, for error messages.
QString quoted(QByteArrayView raw)
{
    QString s;
    for (const char c : raw) {
        if (c == '\n')
            s += QStringLiteral("\\n");
        else if (c >= ' ' && c <= '~' && c != '\\' && c != '"')
            s += QLatin1Char(c);
        else
            s += QStringLiteral("\\x%1").arg(int(static_cast<uchar>(c)), 2, 16, QLatin1Char('0'));
    }
    return QLatin1Char('"') + s + QLatin1Char('"');
}

QString securityTypeName(quint8 type)
{
    // IANA "RFB Security Types" registry, the common ones.
    switch (type) {
    case 0: return QStringLiteral("Invalid");
    case 5: return QStringLiteral("RA2");
    case 6: return QStringLiteral("RA2ne");
    case 16: return QStringLiteral("Tight");
    case 17: return QStringLiteral("Ultra");
    case 18: return QStringLiteral("TLS");
    case 19: return QStringLiteral("VeNCrypt");
    case 20: return QStringLiteral("GTK-VNC SASL");
    case 21: return QStringLiteral("MD5 hash");
    case 22: return QStringLiteral("xvp");
    case 30: return QStringLiteral("Apple Remote Desktop");
    case 113: return QStringLiteral("MSLogonII");
    case 129: return QStringLiteral("Unix Logon");
    default: return QStringLiteral("unknown");
    }
}

} // namespace

RfbFilter::RfbFilter(PointerFraming pointerFraming)
    : m_pointerFraming(pointerFraming)
{
}

QByteArray RfbFilter::takeOutput()
{
    return std::exchange(m_output, QByteArray());
}

RfbFilter::Result RfbFilter::feed(QByteArrayView in, bool allowInput)
{
    qsizetype pos = 0;
    while (pos < in.size() && m_phase != Phase::Failed) {
        if (m_bodyLeft > 0) {
            const qsizetype n = static_cast<qsizetype>(qMin<quint64>(m_bodyLeft, static_cast<quint64>(in.size() - pos)));
            consumeBody(in.sliced(pos, n));
            pos += n;
            m_bodyLeft -= static_cast<quint64>(n);
            if (m_bodyLeft == 0)
                finishMessage();
            continue;
        }
        // A header grows one byte at a time: it is a few bytes at most, and
        // each byte may change how many more are needed.
        if (m_header.isEmpty())
            m_allowAtType = allowInput;
        m_header.append(in[pos++]);
        switch (examineHeader()) {
        case Step::NeedMore: break;
        case Step::Fail: break;
        case Step::Complete: startBody(); break;
        }
    }
    return m_phase == Phase::Failed ? Result::Error : Result::Ok;
}

RfbFilter::Step RfbFilter::fail(const QString &message)
{
    m_phase = Phase::Failed;
    m_error = message;
    m_header.clear();
    m_bodyLeft = 0;
    return Step::Fail;
}

RfbFilter::Step RfbFilter::examineHeader()
{
    m_isInput = false;
    switch (m_phase) {
    case Phase::ProtocolVersion: {
        // [RFC] 7.1.1; [TIGER] SConnection::processVersionMsg.
        if (m_header.size() < kVersionLength)
            return Step::NeedMore;
        const QByteArray &v = m_header;
        const auto digit = [&v](qsizetype i) { return v[i] >= '0' && v[i] <= '9'; };
        const bool wellFormed = v.startsWith("RFB ") && digit(4) && digit(5) && digit(6) && v[7] == '.' && digit(8) && digit(9) && digit(10) && v[11] == '\n';
        if (!wellFormed)
            return fail(QStringLiteral("not an RFB ProtocolVersion message: %1").arg(quoted(v)));
        const int major = v.mid(4, 3).toInt();
        const int minor = v.mid(8, 3).toInt();
        if (major == 3 && minor == 3)
            return fail(QStringLiteral("RFB 3.3 is not supported by the relay (the server picks the security type there)"));
        if (major != 3 || (minor != 7 && minor != 8))
            return fail(QStringLiteral("RFB %1.%2 is not supported by the relay (only 3.7 and 3.8)").arg(major).arg(minor));
        m_total = kVersionLength;
        return Step::Complete;
    }
    case Phase::SecurityType: {
        // [RFC] 7.1.2, for 3.7 and 3.8: the client's choice, one byte.
        const auto type = static_cast<quint8>(m_header[0]);
        if (type != kSecurityNone && type != kSecurityVncAuth)
            return fail(QStringLiteral("RFB security type %1 (%2) is not supported by the relay (only None and VNC authentication)")
                            .arg(int(type))
                            .arg(securityTypeName(type)));
        m_total = 1;
        return Step::Complete;
    }
    case Phase::VncAuthResponse: m_total = kVncAuthResponseLength; return Step::Complete;
    case Phase::ClientInit: m_total = kClientInitLength; return Step::Complete;
    case Phase::Messages: return examineMessageHeader();
    case Phase::Failed: break;
    }
    return Step::Fail;
}

RfbFilter::Step RfbFilter::examineMessageHeader()
{
    const QByteArray &h = m_header;
    const auto type = static_cast<quint8>(h[0]);
    switch (type) {
    case kSetPixelFormat: m_total = kSetPixelFormatLength; return Step::Complete;
    case kSetEncodings:
        if (h.size() < kSetEncodingsHeader)
            return Step::NeedMore;
        m_total = kSetEncodingsHeader + kEncodingLength * qFromBigEndian<quint16>(bytes(h) + 2);
        return Step::Complete;
    case kFramebufferUpdateRequest: m_total = kFramebufferUpdateRequestLength; return Step::Complete;
    case kKeyEvent:
        // A release always passes: a key pressed while a person held control
        // must not stay down once they give it back (releasing a key that is
        // not down does nothing).
        if (h.size() < 2)
            return Step::NeedMore;
        m_isInput = h[1] != 0;
        m_total = kKeyEventLength;
        return Step::Complete;
    case kPointerEvent: return examinePointerEvent();
    case kClientCutText: return examineClientCutText();
    case kEnableContinuousUpdates: m_total = kEnableContinuousUpdatesLength; return Step::Complete;
    case kClientFence: return examineClientFence();
    case kXvp: m_total = kXvpLength; return Step::Complete;
    case kSetDesktopSize:
        if (h.size() < kSetDesktopSizeHeader)
            return Step::NeedMore;
        m_total = kSetDesktopSizeHeader + kScreenLength * static_cast<quint8>(h[6]);
        return Step::Complete;
    case kQemuClientMessage: return examineQemuMessage();
    default: return fail(QStringLiteral("unknown RFB client message type %1").arg(int(type)));
    }
}

// PointerEvent: the length hangs on the button mask, see PointerFraming.
RfbFilter::Step RfbFilter::examinePointerEvent()
{
    const QByteArray &h = m_header;
    m_isInput = true;
    if (h.size() < 2)
        return Step::NeedMore;
    const bool marked = (static_cast<quint8>(h[1]) & kPointerMarkerBit) != 0;
    const bool extended = marked && m_clientExtendedMouse;
    if (extended && m_pointerFraming == PointerFraming::Standard)
        return fail(QStringLiteral("extended PointerEvent (marker bit set after the client announced "
                                   "ExtendedMouseButtons) but the relay frames for a server without that extension"));
    m_total = extended ? kExtendedPointerEventLength : kPointerEventLength;
    return Step::Complete;
}

// ClientCutText, plain or in the Extended Clipboard format, up to kMaxCutTextBytes.
RfbFilter::Step RfbFilter::examineClientCutText()
{
    const QByteArray &h = m_header;
    m_isInput = true;
    if (h.size() < kClientCutTextHeader)
        return Step::NeedMore;
    const quint32 raw = qFromBigEndian<quint32>(bytes(h) + 4);
    // Negative as s32: the Extended Clipboard format, abs(length) bytes
    // follow. 0u - raw is abs() without the overflow at INT32_MIN.
    const bool extended = (raw & 0x80000000u) != 0;
    const quint32 length = extended ? 0u - raw : raw;
    if (length > kMaxCutTextBytes)
        return fail(QStringLiteral("ClientCutText%1 of %2 bytes is over the relay's limit of %3")
                        .arg(extended ? QStringLiteral(" (extended clipboard)") : QString())
                        .arg(length)
                        .arg(kMaxCutTextBytes));
    m_total = kClientCutTextHeader + quint64(length);
    return Step::Complete;
}

// ClientFence, with its payload of at most kMaxFencePayload bytes.
RfbFilter::Step RfbFilter::examineClientFence()
{
    const QByteArray &h = m_header;
    if (h.size() < kClientFenceHeader)
        return Step::NeedMore;
    const auto length = static_cast<quint8>(h[8]);
    if (length > kMaxFencePayload)
        return fail(QStringLiteral("ClientFence payload of %1 bytes is over the protocol's limit of %2").arg(int(length)).arg(kMaxFencePayload));
    m_total = kClientFenceHeader + quint64(length);
    return Step::Complete;
}

// QEMU's client messages: the extended key event and audio.
RfbFilter::Step RfbFilter::examineQemuMessage()
{
    const QByteArray &h = m_header;
    if (h.size() < 2)
        return Step::NeedMore;
    const auto subType = static_cast<quint8>(h[1]);
    if (subType == kQemuExtendedKeyEvent) {
        if (h.size() < 4)
            return Step::NeedMore;
        m_isInput = qFromBigEndian<quint16>(bytes(h) + 2) != 0; // releases pass, as for KeyEvent
        m_total = kQemuExtendedKeyEventLength;
        return Step::Complete;
    }
    if (subType != kQemuAudio)
        return fail(QStringLiteral("unknown QEMU client message sub-type %1").arg(int(subType)));
    if (h.size() < kQemuAudioHeader)
        return Step::NeedMore;
    const quint16 operation = qFromBigEndian<quint16>(bytes(h) + 2);
    if (operation == kQemuAudioEnable || operation == kQemuAudioDisable) {
        m_total = kQemuAudioLength;
        return Step::Complete;
    }
    if (operation == kQemuAudioSetFormat) {
        m_total = kQemuAudioSetFormatLength;
        return Step::Complete;
    }
    return fail(QStringLiteral("unknown QEMU audio operation %1").arg(int(operation)));
}

void RfbFilter::startBody()
{
    m_forward = !(m_isInput && !m_allowAtType);
    if (m_forward)
        m_output.append(m_header);
    if (m_phase == Phase::Messages && static_cast<quint8>(m_header[0]) == kSetEncodings) {
        m_listsExtendedMouse = false;
        m_encodingWord.clear();
    }
    m_bodyLeft = m_total - static_cast<quint64>(m_header.size());
    if (m_bodyLeft == 0)
        finishMessage();
}

void RfbFilter::consumeBody(QByteArrayView body)
{
    if (m_forward)
        m_output.append(body);
    if (m_phase != Phase::Messages || static_cast<quint8>(m_header[0]) != kSetEncodings)
        return;
    // The encodings go by 4 bytes at a time, possibly split across feeds.
    for (const char c : body) {
        m_encodingWord.append(c);
        if (m_encodingWord.size() < qsizetype(kEncodingLength))
            continue;
        if (qFromBigEndian<qint32>(bytes(m_encodingWord)) == kExtendedMouseButtonsEncoding)
            m_listsExtendedMouse = true;
        m_encodingWord.clear();
    }
}

void RfbFilter::finishMessage()
{
    switch (m_phase) {
    case Phase::ProtocolVersion: m_phase = Phase::SecurityType; break;
    case Phase::SecurityType: m_phase = static_cast<quint8>(m_header[0]) == kSecurityVncAuth ? Phase::VncAuthResponse : Phase::ClientInit; break;
    case Phase::VncAuthResponse: m_phase = Phase::ClientInit; break;
    case Phase::ClientInit: m_phase = Phase::Messages; break;
    case Phase::Messages:
        if (static_cast<quint8>(m_header[0]) == kSetEncodings)
            m_clientExtendedMouse = m_listsExtendedMouse; // [TIGER] the latest SetEncodings replaces the set
        if (m_forward)
            ++m_passed;
        else
            ++m_dropped;
        break;
    case Phase::Failed: break;
    }
    m_header.clear();
}

} // namespace Server
