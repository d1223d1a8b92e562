#include "server/requestid.h"

#include <QRandomGenerator>

#include <array>

namespace Server::RequestId {
namespace {

bool safeChar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
}

} // namespace

bool isSane(const QByteArray &id)
{
    if (id.isEmpty() || id.size() > kMaxLength)
        return false;
    for (const char c : id) {
        if (!safeChar(c))
            return false;
    }
    return true;
}

QByteArray generate()
{
    std::array<quint32, kGeneratedBytes / sizeof(quint32)> words{};
    QRandomGenerator::system()->fillRange(words.data(), words.size());
    return QByteArray(reinterpret_cast<const char *>(words.data()), kGeneratedBytes).toHex();
}

QByteArray accept(const QByteArray &incoming)
{
    const QByteArray trimmed = incoming.trimmed();
    return isSane(trimmed) ? trimmed : generate();
}

} // namespace Server::RequestId
