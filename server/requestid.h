#pragma once
// The id of one API request: the client's X-Request-Id when it is sane
// (1 to kMaxLength characters of [A-Za-z0-9._:-]), otherwise a new random
// one. The adapter takes it when a request arrives, runs the request's
// handler in its log context (core/logcontext.h) and sends it back on the
// answer (HttpAnswer::requestId; httpmapping writes the header).

#include <QByteArray>

namespace Server::RequestId {

inline constexpr char kHeader[] = "X-Request-Id";
inline constexpr char kHeaderLower[] = "x-request-id";
inline constexpr int kMaxLength = 128;
inline constexpr int kGeneratedBytes = 16; // 32 hex characters

bool isSane(const QByteArray &id);
QByteArray generate();
// incoming (the header's value, possibly empty) if sane, else a new id.
QByteArray accept(const QByteArray &incoming);

} // namespace Server::RequestId
