#pragma once

#include <QMetaType>
#include <QString>

namespace Core {

// What went wrong, as a value. The code is for programs (the service maps it
// to an HTTP status, the CLI to an exit code); the message is one line for a
// person and says what to do where there is something to do.
enum class ErrorCode {
    Internal,
    InvalidArgument, // the caller's input is wrong
    NotFound, // a VM, template, file or path does not exist
    AlreadyExists,
    InvalidState, // the operation does not fit the VM's current state
    Timeout,
    Cancelled,
    BinaryMissing, // a VMM or tool binary is not installed
    KvmUnavailable, // /dev/kvm missing or unusable where KVM is required
    VmmFailed, // the VMM process failed to start or died
    VmmApi, // the VMM answered an API call with an error
    AgentUnavailable, // the guest agent cannot be reached
    Agent, // the guest agent reported an error for an operation
    Protocol, // a peer broke the wire protocol
    Io,
    NoSpace,
    PermissionDenied,
    ImageBuild,
    Template,
    Unsupported,
    Corrupted, // stored data failed its integrity check (a snapshot's checksums)
    TooLarge, // a request is larger than its peer takes (the guest agent's frame limit)
    QuotaExceeded, // the host's limits (VMs, vCPUs, memory, disk) do not allow it
};

QString errorCodeName(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    QString message;
    // The guest agent's own code when code == Agent (Protocol::ErrorCode), else 0.
    int detail = 0;

    Error() = default;
    Error(ErrorCode c, QString m, int d = 0)
        : code(c)
        , message(std::move(m))
        , detail(d)
    {
    }

    // "not_found: no such file /x" style one-liner for logs.
    QString toString() const;
};

} // namespace Core

Q_DECLARE_METATYPE(Core::Error)
