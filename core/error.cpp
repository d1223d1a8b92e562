#include "core/error.h"

namespace Core {

QString errorCodeName(ErrorCode code)
{
    switch (code) {
    case ErrorCode::Internal: return QStringLiteral("internal");
    case ErrorCode::InvalidArgument: return QStringLiteral("invalid_argument");
    case ErrorCode::NotFound: return QStringLiteral("not_found");
    case ErrorCode::AlreadyExists: return QStringLiteral("already_exists");
    case ErrorCode::InvalidState: return QStringLiteral("invalid_state");
    case ErrorCode::Timeout: return QStringLiteral("timeout");
    case ErrorCode::Cancelled: return QStringLiteral("cancelled");
    case ErrorCode::BinaryMissing: return QStringLiteral("binary_missing");
    case ErrorCode::KvmUnavailable: return QStringLiteral("kvm_unavailable");
    case ErrorCode::VmmFailed: return QStringLiteral("vmm_failed");
    case ErrorCode::VmmApi: return QStringLiteral("vmm_api");
    case ErrorCode::AgentUnavailable: return QStringLiteral("agent_unavailable");
    case ErrorCode::Agent: return QStringLiteral("agent");
    case ErrorCode::Protocol: return QStringLiteral("protocol");
    case ErrorCode::Io: return QStringLiteral("io");
    case ErrorCode::NoSpace: return QStringLiteral("no_space");
    case ErrorCode::PermissionDenied: return QStringLiteral("permission_denied");
    case ErrorCode::ImageBuild: return QStringLiteral("image_build");
    case ErrorCode::Template: return QStringLiteral("template");
    case ErrorCode::Unsupported: return QStringLiteral("unsupported");
    case ErrorCode::Corrupted: return QStringLiteral("corrupted");
    case ErrorCode::TooLarge: return QStringLiteral("too_large");
    case ErrorCode::QuotaExceeded: return QStringLiteral("quota_exceeded");
    }
    return QStringLiteral("unknown");
}

QString Error::toString() const
{
    return errorCodeName(code) + QStringLiteral(": ") + message;
}

} // namespace Core
