"""Python SDK for MicroVM Sandbox: run commands, code, files, snapshots and
desktops in QEMU microVMs through the REST service (``microvm-sandbox
--serve``).

    from microvm_sandbox import AsyncClient

    async with AsyncClient() as client:                # MVS_URL / MVS_TOKEN / the token file
        async with client.create(template="minimal") as sb:   # destroyed on exit
            r = await sb.exec("uname -a")
            print(r.stdout)

``Client``/``Sandbox`` are the same, synchronous.
"""

from ._async import AsyncClient, AsyncSandbox
from ._config import resolve_token, resolve_url, token_file
from ._errors import (AgentUnavailableError, AlreadyExistsError, ApiTimeoutError, AuthenticationError, ConflictError, ConnectionError,
                      ControlHeldError, CorruptedError, DisplayNotReadyError, GuestError, InternalError, InvalidArgumentError, InvalidStateError,
                      MicroVMError, NoSpaceError, NotFoundError, PayloadTooLargeError, PermissionDeniedError, QuotaExceededError, UnsupportedError,
                      VmFailedError)
from ._models import (CodeError, CodeOutput, CodeResult, CodeSession, Display, ExecEvent, ExecResult, FileEntry, NetworkPolicy, NetworkStatus, Port,
                      PoolTemplate, Process, ProcessOutput, Screenshot, Snapshot, Template, VmInfo, VncInfo)
from ._ops import action
from ._sync import Client, Sandbox

__version__ = "0.1.0"

__all__ = [
    "AsyncClient", "AsyncSandbox", "Client", "Sandbox", "action", "resolve_url", "resolve_token", "token_file",
    "MicroVMError", "ConnectionError", "InvalidArgumentError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
    "ConflictError", "AlreadyExistsError", "InvalidStateError", "ControlHeldError", "PayloadTooLargeError", "CorruptedError",
    "InternalError", "VmFailedError", "UnsupportedError", "GuestError", "AgentUnavailableError", "DisplayNotReadyError",
    "ApiTimeoutError", "NoSpaceError", "QuotaExceededError",
    "VmInfo", "Template", "PoolTemplate", "ExecResult", "ExecEvent", "Process", "ProcessOutput", "CodeResult", "CodeOutput", "CodeError",
    "CodeSession", "FileEntry", "Snapshot", "Display", "VncInfo", "Screenshot", "Port", "NetworkPolicy", "NetworkStatus",
]
