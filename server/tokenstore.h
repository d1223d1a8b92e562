#pragma once

#include "core/expected.h"

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

namespace Server {

// The service's bearer token: 32 random bytes from the system generator,
// hex encoded, kept in a file only its owner can read (0600, in a 0700
// directory). Made on first start, reused afterwards.
class TokenStore {
public:
    static constexpr int kTokenBytes = 32;

    // path empty: defaultPath().
    explicit TokenStore(QString path = QString());

    static QString defaultPath(); // Core::Paths::configDir() + "/token"
    QString path() const { return m_path; }

    // The stored token; NotFound when there is no file yet.
    Core::Expected<QByteArray> load() const;
    // The stored token, or a new one written to the file when there is none
    // (*created then says so, for printing it once).
    Core::Expected<QByteArray> loadOrCreate(bool *created = nullptr) const;

    static QByteArray generate();
    // Compares in time that depends on the lengths only.
    static bool equals(QByteArrayView a, QByteArrayView b);

private:
    QString m_path;
};

} // namespace Server
