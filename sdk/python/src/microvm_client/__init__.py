"""The seeds' client API (py-microvm's ``microvm_client``) on top of
``microvm_sandbox``, so code written against it runs unchanged:

    from microvm_client import MicroVMClient

    async with MicroVMClient("http://localhost:8000") as client:
        vm = await client.start_vm("my-vm", {"template": "linux-default"})
        result = await client.exec_command(vm.id, "python --version")
        print(result.output)
        await client.upload_file(vm.id, "script.py", "/tmp/script.py")
        await client.destroy_vm(vm.id)

The token is found as the CLI finds it (``api_token``, else MVS_TOKEN, else
the token file). Errors are microvm_sandbox's typed exceptions (also under
the seeds' names: VMNotFoundError, AuthenticationError, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from microvm_sandbox import AsyncClient, AsyncSandbox, ExecResult, VmInfo
from microvm_sandbox import AuthenticationError, InvalidArgumentError, MicroVMError, NotFoundError
from microvm_sandbox import ConnectionError as _ConnectionError
from microvm_sandbox._ops import new_name

# The seeds' exception names.
VMNotFoundError = NotFoundError
ValidationError = InvalidArgumentError
NetworkError = _ConnectionError

DEFAULT_TEMPLATE = "linux-default"


@dataclass
class VMInfo:
    id: str
    name: str
    template: str
    state: str
    vcpus: Optional[int] = None
    memory_mb: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str:
        return self.state

    @classmethod
    def of(cls, info: VmInfo) -> "VMInfo":
        return cls(info.name, info.name, info.template, info.state, info.vcpus, info.memory_mb, info.raw)


@dataclass
class CommandResult:
    exit_code: Optional[int]
    stdout: str
    stderr: str
    execution_time: float
    timed_out: bool = False

    @property
    def output(self) -> str:
        """stdout, then stderr."""
        return self.stdout + self.stderr

    @property
    def success(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @classmethod
    def of(cls, r: ExecResult) -> "CommandResult":
        return cls(r.exit_code, r.stdout, r.stderr, r.duration_ms / 1000.0, r.timed_out)


@dataclass
class FileTransferResult:
    success: bool
    path: str
    size: int


class MicroVMClient:
    """Async; ``api_url`` and ``api_token`` default as the CLI's do."""

    def __init__(self, api_url: Optional[str] = None, api_token: Optional[str] = None, timeout: float = 300.0, verify_ssl: bool = True,
                 token: Optional[str] = None):
        self._client = AsyncClient(api_url, api_token or token, timeout=timeout)

    @property
    def sdk(self) -> AsyncClient:
        """The full SDK client underneath."""
        return self._client

    async def __aenter__(self) -> "MicroVMClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        await self._client.aclose()

    def _vm(self, vm_id: str) -> AsyncSandbox:
        return AsyncSandbox(self._client, VmInfo(vm_id, "", ""))

    async def start_vm(self, name: str, config: Optional[Dict[str, Any]] = None) -> VMInfo:
        """Create and start a VM. ``config``: template, vcpus, memory_mb,
        network. Without a template in ``config``, ``name`` is the template
        (as in py-microvm's ``start_vm("ai-agent", {...})``) and the VM gets a
        generated name."""
        cfg = dict(config or {})
        template = cfg.pop("template", None)
        if template is None:
            template, name = name, new_name("vm")
        sb = await self._client.create(name, str(template), vcpus=cfg.get("vcpus"), memory_mb=cfg.get("memory_mb"), network=cfg.get("network"))
        return VMInfo.of(sb.info)

    async def get_vm(self, vm_id: str) -> VMInfo:
        return VMInfo.of((await self._client.get(vm_id)).info)

    async def list_vms(self) -> List[VMInfo]:
        return [VMInfo.of(sb.info) for sb in await self._client.list()]

    async def stop_vm(self, vm_id: str) -> VMInfo:
        return VMInfo.of(await self._vm(vm_id).stop())

    async def destroy_vm(self, vm_id: str) -> bool:
        await self._client.delete(vm_id)
        return True

    async def exec_command(self, vm_id: str, command: str, timeout: Optional[float] = None) -> CommandResult:
        return CommandResult.of(await self._vm(vm_id).exec(command, timeout_s=timeout))

    async def upload_file(self, vm_id: str, local_path: str, remote_path: str) -> FileTransferResult:
        answer = await self._vm(vm_id).upload(local_path, remote_path)
        return FileTransferResult(True, str(answer.get("path", remote_path)), int(answer.get("size", 0)))

    async def download_file(self, vm_id: str, remote_path: str, local_path: str) -> FileTransferResult:
        size = await self._vm(vm_id).download(remote_path, local_path)
        return FileTransferResult(True, local_path, int(size) if isinstance(size, int) else len(size))

    async def get_vnc_info(self, vm_id: str) -> Dict[str, Any]:
        """The desktop's viewer page and RFB WebSocket addresses, and its size."""
        return (await self._vm(vm_id).vnc_info()).as_dict()

    async def health_check(self) -> Dict[str, Any]:
        return await self._client.health()


__all__ = ["MicroVMClient", "VMInfo", "CommandResult", "FileTransferResult", "MicroVMError", "AuthenticationError", "VMNotFoundError",
           "ValidationError", "NetworkError"]
