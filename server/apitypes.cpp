#include "server/apitypes.h"

namespace Server {

Response Response::ofJson(QJsonValue json, bool created)
{
    Response r;
    r.kind = Kind::Json;
    r.json = std::move(json);
    r.created = created;
    return r;
}

Response Response::empty()
{
    Response r;
    r.kind = Kind::Empty;
    return r;
}

Response Response::ofBytes(QByteArray bytes, QByteArray contentType)
{
    Response r;
    r.kind = Kind::Bytes;
    r.bytes = std::move(bytes);
    r.contentType = std::move(contentType);
    return r;
}

Response Response::ofStream(std::shared_ptr<QIODevice> body, qint64 size, QByteArray contentType)
{
    Response r;
    r.kind = Kind::Stream;
    r.stream = std::move(body);
    r.streamSize = size;
    r.contentType = std::move(contentType);
    return r;
}

ApiError ApiError::fromCore(const Core::Error &error)
{
    using C = Core::ErrorCode;
    Code code = Code::Internal;
    switch (error.code) {
    case C::InvalidArgument: code = Code::InvalidArgument; break;
    case C::NotFound: code = Code::NotFound; break;
    case C::AlreadyExists: code = Code::AlreadyExists; break;
    case C::InvalidState:
    case C::Cancelled: code = Code::InvalidState; break;
    case C::Timeout: code = Code::Timeout; break;
    case C::BinaryMissing:
    case C::KvmUnavailable:
    case C::VmmFailed:
    case C::VmmApi:
    case C::ImageBuild:
    case C::Template: code = Code::VmFailed; break;
    case C::AgentUnavailable: code = Code::AgentUnavailable; break;
    case C::Agent:
    case C::Protocol: code = Code::GuestError; break;
    case C::NoSpace: code = Code::NoSpace; break;
    case C::PermissionDenied: code = Code::PermissionDenied; break;
    case C::Unsupported: code = Code::Unsupported; break;
    case C::Corrupted: code = Code::Corrupted; break;
    case C::TooLarge: code = Code::PayloadTooLarge; break;
    case C::QuotaExceeded: code = Code::QuotaExceeded; break;
    case C::Io:
    case C::Internal: code = Code::Internal; break;
    }
    return ApiError(code, error.message);
}

QString apiErrorCodeName(ApiError::Code code)
{
    switch (code) {
    case ApiError::Code::InvalidJson: return QStringLiteral("invalid_json");
    case ApiError::Code::InvalidArgument: return QStringLiteral("invalid_argument");
    case ApiError::Code::Unauthorized: return QStringLiteral("unauthorized");
    case ApiError::Code::Forbidden: return QStringLiteral("forbidden");
    case ApiError::Code::TooManyRequests: return QStringLiteral("too_many_requests");
    case ApiError::Code::QuotaExceeded: return QStringLiteral("quota_exceeded");
    case ApiError::Code::PermissionDenied: return QStringLiteral("permission_denied");
    case ApiError::Code::NotFound: return QStringLiteral("not_found");
    case ApiError::Code::MethodNotAllowed: return QStringLiteral("method_not_allowed");
    case ApiError::Code::AlreadyExists: return QStringLiteral("already_exists");
    case ApiError::Code::InvalidState: return QStringLiteral("invalid_state");
    case ApiError::Code::PayloadTooLarge: return QStringLiteral("payload_too_large");
    case ApiError::Code::Timeout: return QStringLiteral("timeout");
    case ApiError::Code::AgentUnavailable: return QStringLiteral("agent_unavailable");
    case ApiError::Code::GuestError: return QStringLiteral("guest_error");
    case ApiError::Code::VmFailed: return QStringLiteral("vm_failed");
    case ApiError::Code::NoSpace: return QStringLiteral("no_space");
    case ApiError::Code::Unsupported: return QStringLiteral("unsupported");
    case ApiError::Code::ControlHeld: return QStringLiteral("control_held");
    case ApiError::Code::DisplayNotReady: return QStringLiteral("display_not_ready");
    case ApiError::Code::Corrupted: return QStringLiteral("corrupted");
    case ApiError::Code::Internal: return QStringLiteral("internal");
    }
    return QStringLiteral("internal");
}

} // namespace Server
