"""The async client: AsyncClient and AsyncSandbox."""

from __future__ import annotations

import io
import os
from typing import Any, AsyncIterator, BinaryIO, Callable, Dict, Generator, List, Optional, Sequence, Union

import httpx

from . import _ops as ops
from ._config import resolve_token, resolve_url
from ._errors import ApiTimeoutError, ConnectionError, MicroVMError, error_from_response
from ._models import (CodeResult, CodeSession, Display, ExecEvent, ExecResult, FileEntry, NetworkPolicy, NetworkStatus, PoolTemplate, Port, Process,
                      ProcessOutput, Screenshot, Snapshot, Template, VmInfo, VncInfo)
from ._transfer import CHUNK_BYTES, Source, async_chunks, exec_events, source_chunks, ws_url

DEFAULT_TIMEOUT_S = 300.0
CONNECT_TIMEOUT_S = 10.0
ERROR_READ_MAX_BYTES = 64 * 1024


class AsyncClient:
    """The MicroVM Sandbox service, async. ``url`` and ``token`` default as
    the CLI's do (MVS_URL, MVS_TOKEN, the token file)."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S):
        self.url = resolve_url(url)
        self.token, self.token_source = resolve_token(token)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._timeout = timeout
        self._http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S))

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing --------------------------------------------------------------

    def _timeout_for(self, seconds: Optional[float]) -> httpx.Timeout:
        return httpx.Timeout(max(self._timeout, seconds or 0), connect=CONNECT_TIMEOUT_S)

    async def _send(self, method: str, path: str, stream: bool = False, timeout: Optional[float] = None, **kw: Any) -> httpx.Response:
        try:
            request = self._http.build_request(method, path, timeout=self._timeout_for(timeout), **kw)
            response = await self._http.send(request, stream=stream)
        except httpx.TimeoutException as e:
            raise ApiTimeoutError(f"{method} {path}: no answer in time ({e})", "timeout") from e
        except httpx.TransportError as e:
            raise ConnectionError(f"cannot reach the service at {self.url}: {e} (is `microvm-sandbox --serve` running? set MVS_URL)",
                                  "unreachable") from e
        if response.status_code >= 400:
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= ERROR_READ_MAX_BYTES:
                    break
            await response.aclose()
            raise error_from_response(response.status_code, body, dict(response.headers))
        return response

    async def _run(self, call: ops.Call) -> Any:
        params = {k: str(v) for k, v in (call.params or {}).items()}
        response = await self._send(call.method, call.path, timeout=call.timeout, json=call.json, params=params or None)
        if response.status_code == 204 or not response.content:
            return None
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response.content
        return call.parse(response.json())

    # -- the service -----------------------------------------------------------

    async def health(self) -> Dict[str, Any]:
        return await self._run(ops.health())

    async def templates(self) -> List[Template]:
        return await self._run(ops.templates())

    async def pool(self) -> List[PoolTemplate]:
        """The paused pool, per template (see PoolTemplate)."""
        return await self._run(ops.pool())

    async def set_pool(self, targets: Dict[str, int]) -> List[PoolTemplate]:
        """Replace the pool's targets until the service stops (admin
        token): ``{"minimal": 2}``; templates left out are not pooled."""
        return await self._run(ops.set_pool(targets))

    def create(self, name: Optional[str] = None, template: str = "minimal", *, vcpus: Optional[int] = None, memory_mb: Optional[int] = None, max_vcpus: Optional[int] = None,
               start: bool = True, network: Optional[Dict[str, Any]] = None, keep: bool = False) -> "_Creating":
        """Create (and start) a VM. Await it for an AsyncSandbox, or use it
        as ``async with client.create(...) as sb:`` to destroy it on exit
        (unless ``keep`` or ``sb.keep()``)."""
        call = ops.create(name or ops.new_name(), template, vcpus, memory_mb, start, network, max_vcpus)
        return _Creating(self, call, keep)

    async def get(self, name: str) -> "AsyncSandbox":
        return AsyncSandbox(self, await self._run(ops.get(name)))

    async def list(self) -> List["AsyncSandbox"]:
        return [AsyncSandbox(self, info) for info in await self._run(ops.list_vms())]

    async def delete(self, name: str) -> None:
        await self._run(ops.delete(name))


class _Creating:
    """``client.create(...)``: awaitable, and an async context manager."""

    def __init__(self, client: AsyncClient, call: ops.Call, keep: bool):
        self._client, self._call, self._keep = client, call, keep
        self._sandbox: Optional[AsyncSandbox] = None

    async def _create(self) -> "AsyncSandbox":
        sb = AsyncSandbox(self._client, await self._client._run(self._call))
        if self._keep:
            sb.keep()
        return sb

    def __await__(self) -> Generator[Any, None, "AsyncSandbox"]:
        return self._create().__await__()

    async def __aenter__(self) -> "AsyncSandbox":
        self._sandbox = await self._create()
        return self._sandbox

    async def __aexit__(self, *exc: Any) -> None:
        if self._sandbox is not None:
            await self._sandbox.__aexit__(*exc)


class AsyncSandbox:
    """One VM. ``async with`` destroys it on exit unless ``keep()`` was
    called."""

    def __init__(self, client: AsyncClient, info: VmInfo):
        self.client = client
        self.info = info
        self._keep = False

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def id(self) -> str:
        return self.info.name

    @property
    def state(self) -> str:
        return self.info.state

    def __repr__(self) -> str:
        return f"AsyncSandbox({self.name!r}, template={self.info.template!r}, state={self.info.state!r})"

    def keep(self, keep: bool = True) -> "AsyncSandbox":
        """Leave the VM running when the ``async with`` block ends."""
        self._keep = keep
        return self

    async def __aenter__(self) -> "AsyncSandbox":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if not self._keep:
            await self.destroy()

    async def _run(self, call: ops.Call) -> Any:
        return await self.client._run(call)

    async def _vm(self, call: ops.Call) -> VmInfo:
        self.info = await self._run(call)
        return self.info

    # -- lifecycle -------------------------------------------------------------

    async def refresh(self) -> VmInfo:
        return await self._vm(ops.get(self.name))

    async def start(self) -> VmInfo:
        return await self._vm(ops.lifecycle(self.name, "start"))

    async def stop(self) -> VmInfo:
        return await self._vm(ops.lifecycle(self.name, "stop"))

    async def pause(self) -> VmInfo:
        return await self._vm(ops.lifecycle(self.name, "pause"))

    async def resume(self) -> VmInfo:
        return await self._vm(ops.lifecycle(self.name, "resume"))

    async def restart(self) -> VmInfo:
        return await self._vm(ops.lifecycle(self.name, "restart"))

    async def resize(self, *, vcpus: Optional[int] = None, memory_mb: Optional[int] = None, max_vcpus: Optional[int] = None) -> VmInfo:
        """Resize the VM. Stopped: vCPUs, memory and max_vcpus from its next start.
        Running: vCPUs hot-plugged at once, up to the max_vcpus it was started with
        (UnsupportedError without room) and down to 1; memory through its balloon
        (down to what the guest can spare, back up to memory_mb)."""
        return await self._vm(ops.resize(self.name, vcpus, memory_mb, max_vcpus))

    async def destroy(self) -> None:
        """Stop and delete the VM (nothing when it is gone already)."""
        from ._errors import NotFoundError
        try:
            await self._run(ops.delete(self.name))
        except NotFoundError:
            pass

    # -- commands --------------------------------------------------------------

    async def exec(self, cmd: ops.Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None, stdin: Optional[str] = None,
                   timeout_s: Optional[float] = None, on_stdout: Optional[Callable[[bytes], Any]] = None,
                   on_stderr: Optional[Callable[[bytes], Any]] = None) -> ExecResult:
        """Run a command (a shell string, or argv) and wait for it. With
        ``on_stdout``/``on_stderr`` the output streams to them as it comes
        (through the exec WebSocket)."""
        if on_stdout is None and on_stderr is None:
            return await self._run(ops.exec_(self.name, ops.exec_request(cmd, env, cwd, stdin, timeout_s)))
        result: Optional[ExecResult] = None
        async for ev in self.exec_stream(cmd, env=env, cwd=cwd, stdin=stdin, timeout_s=timeout_s):
            callback = on_stdout if ev.type == "stdout" else on_stderr if ev.type == "stderr" else None
            if callback is not None:
                callback(ev.data)
            if ev.type == "exit":
                result = ev.result
        assert result is not None
        return result

    async def exec_stream(self, cmd: ops.Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                          stdin: Union[str, bytes, None] = None, timeout_s: Optional[float] = None) -> AsyncIterator[ExecEvent]:
        """Run a command and yield its output as it comes (ExecEvent
        ``stdout``/``stderr``), then one ``exit`` event with the result."""
        request = ops.exec_request(cmd, env, cwd, None, timeout_s)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        url = ws_url(self.client.url, ops.vm_path(self.name, "exec/ws"))
        async for ev in exec_events(url, self.client.token, request, data):
            yield ev

    async def start_process(self, cmd: ops.Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                            stdin: Optional[str] = None) -> Process:
        """Start a command in the background: its pid at once."""
        return await self._run(ops.start_process(self.name, ops.exec_request(cmd, env, cwd, stdin, None)))

    async def processes(self) -> List[Process]:
        return await self._run(ops.processes(self.name))

    async def process(self, pid: int) -> Process:
        return await self._run(ops.process(self.name, pid))

    async def process_output(self, pid: int, stdout_offset: int = 0, stderr_offset: int = 0) -> ProcessOutput:
        return await self._run(ops.process_output(self.name, pid, stdout_offset, stderr_offset))

    async def write_stdin(self, pid: int, data: str, eof: bool = False) -> None:
        await self._run(ops.write_stdin(self.name, pid, data, eof))

    async def kill_process(self, pid: int, signal: Union[int, str, None] = None) -> Process:
        return await self._run(ops.kill_process(self.name, pid, signal))

    async def remove_process(self, pid: int) -> None:
        await self._run(ops.remove_process(self.name, pid))

    async def run_code(self, code: str, language: str = "python", *, session: Optional[str] = None, timeout_s: Optional[float] = None) -> CodeResult:
        """Run code (python, javascript or bash); with ``session`` its state
        lives on between calls."""
        return await self._run(ops.run_code(self.name, code, language, session, timeout_s))

    async def code_sessions(self) -> List[CodeSession]:
        return await self._run(ops.code_sessions(self.name))

    async def restart_code_session(self, session: str) -> CodeSession:
        return await self._run(ops.restart_code_session(self.name, session))

    async def close_code_session(self, session: str) -> None:
        await self._run(ops.close_code_session(self.name, session))

    # -- files -----------------------------------------------------------------

    async def upload(self, source: Source, guest_path: str, *, size: Optional[int] = None) -> Dict[str, Any]:
        """Write a guest file from a local path, bytes, a binary file or an
        iterable of bytes, streamed (any size, constant memory)."""
        chunks, length = source_chunks(source, size)
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        response = await self.client._send("PUT", ops.files_path(self.name), params={"path": guest_path}, content=async_chunks(chunks),
                                           headers=headers, timeout=ops.CREATE_TIMEOUT_S)
        return response.json()

    async def download(self, guest_path: str, dest: Union[str, "os.PathLike[str]", BinaryIO, None] = None) -> Union[bytes, int]:
        """Read a guest file, streamed: into ``dest`` (a path or a binary
        file; returns the byte count), or as bytes when no ``dest``."""
        response = await self.client._send("GET", ops.files_path(self.name), params={"path": guest_path}, stream=True, timeout=ops.CREATE_TIMEOUT_S)
        is_path = isinstance(dest, (str, os.PathLike))
        f: Any = io.BytesIO() if dest is None else open(dest, "wb") if is_path else dest
        count = 0
        try:
            async for chunk in response.aiter_bytes(CHUNK_BYTES):
                f.write(chunk)
                count += len(chunk)
        except httpx.HTTPError as e:
            if is_path:
                f.close()
                os.unlink(dest)  # type: ignore[arg-type]  # no partial file left
            raise MicroVMError(f"the download of {guest_path} broke off after {count} bytes: {e}", "incomplete") from e
        finally:
            await response.aclose()
            if is_path:
                f.close()
        return f.getvalue() if dest is None else count

    async def read_file(self, guest_path: str) -> bytes:
        data = await self.download(guest_path)
        assert isinstance(data, bytes)
        return data

    async def write_file(self, guest_path: str, content: Union[str, bytes]) -> Dict[str, Any]:
        return await self.upload(content.encode() if isinstance(content, str) else content, guest_path)

    async def list_files(self, guest_path: str) -> List[FileEntry]:
        return await self._run(ops.list_files(self.name, guest_path))

    async def console(self, size: Optional[int] = None) -> str:
        data = await self._run(ops.console(self.name, size))
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")

    # -- snapshots -------------------------------------------------------------

    async def snapshot(self, name: Optional[str] = None, *, leave_paused: bool = False) -> Snapshot:
        return await self._run(ops.snapshot(self.name, name, leave_paused))

    async def snapshots(self) -> List[Snapshot]:
        return await self._run(ops.snapshots(self.name))

    async def get_snapshot(self, name: str) -> Snapshot:
        return await self._run(ops.get_snapshot(self.name, name))

    async def delete_snapshot(self, name: str) -> None:
        await self._run(ops.delete_snapshot(self.name, name))

    async def restore(self, snapshot: str) -> VmInfo:
        """Run the VM from a snapshot, in place."""
        return await self._vm(ops.restore(self.name, snapshot))

    async def fork(self, snapshot: str, count: int = 1, *, name_prefix: Optional[str] = None) -> List["AsyncSandbox"]:
        """New VMs started from a snapshot (each an AsyncSandbox of its own)."""
        return [AsyncSandbox(self.client, info) for info in await self._run(ops.fork(self.name, snapshot, count, name_prefix))]

    # -- display and input -----------------------------------------------------

    async def display(self) -> Display:
        return await self._run(ops.display(self.name))

    async def vnc_info(self) -> VncInfo:
        d = await self.display()
        return VncInfo(self.name, self.client.url + (d.viewer or f"/vnc/{self.name}"),
                       ws_url(self.client.url, d.websocket or ops.vm_path(self.name, "vnc")), d.width, d.height, d.connected, self.client.token)

    async def set_display_controller(self, controller: str) -> Display:
        """``human`` takes the display (agent input refused), ``agent`` gives it back."""
        return await self._run(ops.display_control(self.name, controller))

    async def screenshot(self, *, scale: Union[float, str, None] = None, wait_s: Optional[float] = None) -> Screenshot:
        """The screen as PNG; ``wait_s`` waits (bounded) for the desktop to be ready."""
        response = await self.client._send("GET", ops.vm_path(self.name, "screenshot"), params=ops.screenshot_params(scale, wait_s),
                                           timeout=None if wait_s is None else wait_s + ops.EXEC_TIMEOUT_MARGIN_S)
        h = response.headers
        return Screenshot(response.content, _int(h.get("x-screen-width")), _int(h.get("x-screen-height")), float(h.get("x-scale", "1") or 1))

    async def input(self, actions: Sequence[Dict[str, Any]], *, scale: Optional[float] = None, wait_s: Optional[float] = None) -> Display:
        """Input actions in order (see ``ops.action``); coordinates taken on a
        screenshot of ``scale``."""
        return await self._run(ops.input_(self.name, list(actions), scale, wait_s))

    async def click(self, x: Optional[int] = None, y: Optional[int] = None, *, button: str = "left", count: int = 1) -> Display:
        return await self.input([ops.action("click", x=x, y=y, button=button, count=count)])

    async def move(self, x: int, y: int) -> Display:
        return await self.input([ops.action("move", x=x, y=y)])

    async def drag(self, x: int, y: int, to_x: int, to_y: int, *, button: str = "left") -> Display:
        return await self.input([ops.action("drag", x=x, y=y, to_x=to_x, to_y=to_y, button=button)])

    async def scroll(self, dy: int = 0, dx: int = 0, *, x: Optional[int] = None, y: Optional[int] = None) -> Display:
        return await self.input([ops.action("scroll", dx=dx, dy=dy, x=x, y=y)])

    async def type_text(self, text: str) -> Display:
        return await self.input([ops.action("type", text=text)])

    async def key(self, keys: str) -> Display:
        """A key combination: ``Return``, ``ctrl+alt+t``, ``shift+Tab``."""
        return await self.input([ops.action("key", keys=keys)])

    # -- network and ports -----------------------------------------------------

    async def network(self) -> NetworkStatus:
        return await self._run(ops.network(self.name))

    async def network_policy(self) -> NetworkPolicy:
        return await self._run(ops.network_policy(self.name))

    async def set_network_policy(self, policy: Union[NetworkPolicy, Dict[str, Any]]) -> NetworkPolicy:
        return await self._run(ops.set_network_policy(self.name, policy))

    async def expose_port(self, guest_port: int, *, host_address: Optional[str] = None, host_port: Optional[int] = None) -> Port:
        return await self._run(ops.expose_port(self.name, guest_port, host_address, host_port))

    async def ports(self) -> List[Port]:
        return await self._run(ops.ports(self.name))

    async def unexpose_port(self, guest_port: int) -> None:
        await self._run(ops.unexpose_port(self.name, guest_port))


def _int(v: Optional[str]) -> Optional[int]:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


__all__ = ["AsyncClient", "AsyncSandbox", "MicroVMError"]
