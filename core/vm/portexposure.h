#pragma once

#include "core/expected.h"

#include <QHostAddress>
#include <QJsonObject>

#include <optional>

namespace Vm {

// A guest TCP port exposed on this host, as a VM's record keeps it: the
// exposure belongs to the VM (it survives stop/start and a restart of the
// service) until it is removed or the VM is deleted.
struct PortExposure {
    quint16 guestPort = 0; // on the guest's 127.0.0.1
    QHostAddress hostAddress = QHostAddress(QHostAddress::LocalHost);
    // The host port asked for; 0: any free one (ephemeral).
    quint16 hostPort = 0;
    // The port it was last bound to: an ephemeral exposure asks for it
    // again first, so its address stays the same across service restarts
    // while the port is free. 0: never bound.
    quint16 lastHostPort = 0;

    bool fixedHostPort() const { return hostPort != 0; }

    QJsonObject toJson() const;
    // Nothing (the entry is skipped) when malformed.
    static std::optional<PortExposure> fromJson(const QJsonObject &json);

    // What an exposure may ask for: a guest port 1-65535, and a host address
    // that is this host's (a loopback, the unspecified address for all of
    // them, or an address of one of its interfaces). The errors name what
    // is wrong (InvalidArgument).
    Core::Result validate() const;
};

// Whether `address` is one this host can listen on: loopback, unspecified,
// or an address of one of its interfaces.
bool isLocalAddress(const QHostAddress &address);

} // namespace Vm
