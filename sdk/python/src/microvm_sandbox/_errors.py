"""Typed exceptions carrying the API's error code ({"error": {"code",
"message"}}, server/httpmapping.cpp)."""

from __future__ import annotations

import json
from typing import Dict, Optional, Type


class MicroVMError(Exception):
    """Any failure talking to the service. ``code`` is the API's error code
    (``not_found``, ``invalid_state``, ...), ``status`` the HTTP status (0
    when there was no answer)."""

    def __init__(self, message: str, code: str = "internal", status: int = 0, retry_after: Optional[float] = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.status == 0 else f"{self.status} {self.code}: {self.message}"


class ConnectionError(MicroVMError):  # noqa: A001 (the SDK's own, a MicroVMError)
    """The service cannot be reached (not running, wrong URL)."""


class InvalidArgumentError(MicroVMError):
    """400: invalid_json, invalid_argument."""


class AuthenticationError(MicroVMError):
    """401: no token, or not the service's."""


class PermissionDeniedError(MicroVMError):
    """403: refused (in the guest, or the host address)."""


class NotFoundError(MicroVMError):
    """404: no such VM, template, snapshot, process, session or guest path."""


class ConflictError(MicroVMError):
    """409: the VM's state does not allow it, or it exists already."""


class AlreadyExistsError(ConflictError):
    """409 already_exists."""


class InvalidStateError(ConflictError):
    """409 invalid_state."""


class ControlHeldError(ConflictError):
    """409 control_held: a human holds the display."""


class PayloadTooLargeError(MicroVMError):
    """413."""


class CorruptedError(MicroVMError):
    """422: a snapshot fails its checksums."""


class InternalError(MicroVMError):
    """500 internal (and unknown codes)."""


class VmFailedError(MicroVMError):
    """500 vm_failed: the VM could not start, or its VMM failed."""


class UnsupportedError(MicroVMError):
    """501."""


class GuestError(MicroVMError):
    """502: the guest agent failed the operation."""


class AgentUnavailableError(MicroVMError):
    """503 agent_unavailable: the guest agent cannot be reached."""


class DisplayNotReadyError(MicroVMError):
    """503 display_not_ready: the desktop is not ready yet (``retry_after``
    seconds)."""


class ApiTimeoutError(MicroVMError):
    """504 timeout (or the client's own timeout)."""


class NoSpaceError(MicroVMError):
    """507: the host's disk is full."""


class QuotaExceededError(MicroVMError):
    """429 quota_exceeded: the host's quota of VMs, vCPUs, memory or disk
    does not allow it; the message names the limit and by how much."""


_BY_CODE: Dict[str, Type[MicroVMError]] = {
    "invalid_json": InvalidArgumentError,
    "invalid_argument": InvalidArgumentError,
    "unauthorized": AuthenticationError,
    "permission_denied": PermissionDeniedError,
    "not_found": NotFoundError,
    "method_not_allowed": InvalidArgumentError,
    "already_exists": AlreadyExistsError,
    "invalid_state": InvalidStateError,
    "control_held": ControlHeldError,
    "payload_too_large": PayloadTooLargeError,
    "timeout": ApiTimeoutError,
    "agent_unavailable": AgentUnavailableError,
    "display_not_ready": DisplayNotReadyError,
    "guest_error": GuestError,
    "vm_failed": VmFailedError,
    "no_space": NoSpaceError,
    "quota_exceeded": QuotaExceededError,
    "unsupported": UnsupportedError,
    "corrupted": CorruptedError,
    "internal": InternalError,
}

_BY_STATUS: Dict[int, Type[MicroVMError]] = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: InvalidArgumentError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: CorruptedError,
    501: UnsupportedError,
    502: GuestError,
    503: AgentUnavailableError,
    504: ApiTimeoutError,
    507: NoSpaceError,
}

ERROR_BODY_MAX_BYTES = 64 * 1024


def error_for(status: int, code: Optional[str], message: str, retry_after: Optional[float] = None) -> MicroVMError:
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status) or InternalError
    return cls(message, code or f"http_{status}", status, retry_after)


def error_from_response(status: int, body: bytes, headers: Optional[Dict[str, str]] = None) -> MicroVMError:
    """The exception for a non-2xx answer: its error body's code and
    message, else the status alone."""
    code: Optional[str] = None
    message = body[:512].decode("utf-8", "replace").strip() or f"HTTP {status}"
    try:
        parsed = json.loads(body[:ERROR_BODY_MAX_BYTES])
        err = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(err, dict):
            code = str(err.get("code")) if err.get("code") is not None else None
            message = str(err.get("message", message))
    except ValueError:
        pass
    retry_after: Optional[float] = None
    raw = (headers or {}).get("retry-after")
    if raw:
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    return error_for(status, code, message, retry_after)
