"""The sync client: Client and Sandbox (the same operations as the async
one, see _async.py; a streamed exec runs the WebSocket on a private event
loop)."""

from __future__ import annotations

import asyncio
import io
import os
from typing import Any, AsyncIterator, BinaryIO, Callable, Dict, Iterator, List, Optional, Sequence, Union

import httpx

from . import _ops as ops
from ._config import resolve_token, resolve_url
from ._errors import ApiTimeoutError, ConnectionError, MicroVMError, error_from_response
from ._models import (CodeResult, CodeSession, Display, ExecEvent, ExecResult, FileEntry, NetworkPolicy, NetworkStatus, PoolTemplate, Port, Process,
                      ProcessOutput, Screenshot, Snapshot, Template, VmInfo, VncInfo)
from ._transfer import CHUNK_BYTES, Source, exec_events, source_chunks, ws_url

DEFAULT_TIMEOUT_S = 300.0
CONNECT_TIMEOUT_S = 10.0
ERROR_READ_MAX_BYTES = 64 * 1024


class Client:
    """The MicroVM Sandbox service, sync. ``url`` and ``token`` default as
    the CLI's do (MVS_URL, MVS_TOKEN, the token file)."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT_S):
        self.url = resolve_url(url)
        self.token, self.token_source = resolve_token(token)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._timeout = timeout
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S))

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------

    def _timeout_for(self, seconds: Optional[float]) -> httpx.Timeout:
        return httpx.Timeout(max(self._timeout, seconds or 0), connect=CONNECT_TIMEOUT_S)

    def _send(self, method: str, path: str, stream: bool = False, timeout: Optional[float] = None, **kw: Any) -> httpx.Response:
        try:
            request = self._http.build_request(method, path, timeout=self._timeout_for(timeout), **kw)
            response = self._http.send(request, stream=stream)
        except httpx.TimeoutException as e:
            raise ApiTimeoutError(f"{method} {path}: no answer in time ({e})", "timeout") from e
        except httpx.TransportError as e:
            raise ConnectionError(f"cannot reach the service at {self.url}: {e} (is `microvm-sandbox --serve` running? set MVS_URL)",
                                  "unreachable") from e
        if response.status_code >= 400:
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) >= ERROR_READ_MAX_BYTES:
                    break
            response.close()
            raise error_from_response(response.status_code, body, dict(response.headers))
        return response

    def _run(self, call: ops.Call) -> Any:
        params = {k: str(v) for k, v in (call.params or {}).items()}
        response = self._send(call.method, call.path, timeout=call.timeout, json=call.json, params=params or None)
        if response.status_code == 204 or not response.content:
            return None
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response.content
        return call.parse(response.json())

    # -- the service -----------------------------------------------------------

    def health(self) -> Dict[str, Any]:
        return self._run(ops.health())

    def templates(self) -> List[Template]:
        return self._run(ops.templates())

    def pool(self) -> List[PoolTemplate]:
        """The paused pool, per template (see PoolTemplate)."""
        return self._run(ops.pool())

    def set_pool(self, targets: Dict[str, int]) -> List[PoolTemplate]:
        """Replace the pool's targets until the service stops (admin
        token): ``{"minimal": 2}``; templates left out are not pooled."""
        return self._run(ops.set_pool(targets))

    def create(self, name: Optional[str] = None, template: str = "minimal", *, vcpus: Optional[int] = None, memory_mb: Optional[int] = None, max_vcpus: Optional[int] = None,
               start: bool = True, network: Optional[Dict[str, Any]] = None, keep: bool = False) -> "Sandbox":
        """Create (and start) a VM. ``with client.create(...) as sb:``
        destroys it on exit (unless ``keep`` or ``sb.keep()``)."""
        sb = Sandbox(self, self._run(ops.create(name or ops.new_name(), template, vcpus, memory_mb, start, network, max_vcpus)))
        return sb.keep() if keep else sb

    def get(self, name: str) -> "Sandbox":
        return Sandbox(self, self._run(ops.get(name)))

    def list(self) -> List["Sandbox"]:
        return [Sandbox(self, info) for info in self._run(ops.list_vms())]

    def delete(self, name: str) -> None:
        self._run(ops.delete(name))


class Sandbox:
    """One VM. ``with`` destroys it on exit unless ``keep()`` was
    called."""

    def __init__(self, client: Client, info: VmInfo):
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
        return f"Sandbox({self.name!r}, template={self.info.template!r}, state={self.info.state!r})"

    def keep(self, keep: bool = True) -> "Sandbox":
        """Leave the VM running when the ``with`` block ends."""
        self._keep = keep
        return self

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._keep:
            self.destroy()

    def _run(self, call: ops.Call) -> Any:
        return self.client._run(call)

    def _vm(self, call: ops.Call) -> VmInfo:
        self.info = self._run(call)
        return self.info

    # -- lifecycle -------------------------------------------------------------

    def refresh(self) -> VmInfo:
        return self._vm(ops.get(self.name))

    def start(self) -> VmInfo:
        return self._vm(ops.lifecycle(self.name, "start"))

    def stop(self) -> VmInfo:
        return self._vm(ops.lifecycle(self.name, "stop"))

    def pause(self) -> VmInfo:
        return self._vm(ops.lifecycle(self.name, "pause"))

    def resume(self) -> VmInfo:
        return self._vm(ops.lifecycle(self.name, "resume"))

    def restart(self) -> VmInfo:
        return self._vm(ops.lifecycle(self.name, "restart"))

    def resize(self, *, vcpus: Optional[int] = None, memory_mb: Optional[int] = None, max_vcpus: Optional[int] = None) -> VmInfo:
        """Resize the VM. Stopped: vCPUs, memory and max_vcpus from its next start.
        Running: vCPUs hot-plugged at once, up to the max_vcpus it was started with
        (UnsupportedError without room) and down to 1; memory through its balloon
        (down to what the guest can spare, back up to memory_mb)."""
        return self._vm(ops.resize(self.name, vcpus, memory_mb, max_vcpus))

    def destroy(self) -> None:
        """Stop and delete the VM (nothing when it is gone already)."""
        from ._errors import NotFoundError
        try:
            self._run(ops.delete(self.name))
        except NotFoundError:
            pass

    # -- commands --------------------------------------------------------------

    def exec(self, cmd: ops.Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None, stdin: Optional[str] = None,
                   timeout_s: Optional[float] = None, on_stdout: Optional[Callable[[bytes], Any]] = None,
                   on_stderr: Optional[Callable[[bytes], Any]] = None) -> ExecResult:
        """Run a command (a shell string, or argv) and wait for it. With
        ``on_stdout``/``on_stderr`` the output streams to them as it comes
        (through the exec WebSocket)."""
        if on_stdout is None and on_stderr is None:
            return self._run(ops.exec_(self.name, ops.exec_request(cmd, env, cwd, stdin, timeout_s)))
        result: Optional[ExecResult] = None
        for ev in self.exec_stream(cmd, env=env, cwd=cwd, stdin=stdin, timeout_s=timeout_s):
            callback = on_stdout if ev.type == "stdout" else on_stderr if ev.type == "stderr" else None
            if callback is not None:
                callback(ev.data)
            if ev.type == "exit":
                result = ev.result
        assert result is not None
        return result

    def exec_stream(self, cmd: ops.Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                          stdin: Union[str, bytes, None] = None, timeout_s: Optional[float] = None) -> Iterator[ExecEvent]:
        """Run a command and yield its output as it comes (ExecEvent
        ``stdout``/``stderr``), then one ``exit`` event with the result."""
        request = ops.exec_request(cmd, env, cwd, None, timeout_s)
        data = stdin.encode() if isinstance(stdin, str) else stdin
        url = ws_url(self.client.url, ops.vm_path(self.name, "exec/ws"))
        yield from _sync_iter(exec_events(url, self.client.token, request, data))

    def start_process(self, cmd: ops.Command, *, env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
                            stdin: Optional[str] = None) -> Process:
        """Start a command in the background: its pid at once."""
        return self._run(ops.start_process(self.name, ops.exec_request(cmd, env, cwd, stdin, None)))

    def processes(self) -> List[Process]:
        return self._run(ops.processes(self.name))

    def process(self, pid: int) -> Process:
        return self._run(ops.process(self.name, pid))

    def process_output(self, pid: int, stdout_offset: int = 0, stderr_offset: int = 0) -> ProcessOutput:
        return self._run(ops.process_output(self.name, pid, stdout_offset, stderr_offset))

    def write_stdin(self, pid: int, data: str, eof: bool = False) -> None:
        self._run(ops.write_stdin(self.name, pid, data, eof))

    def kill_process(self, pid: int, signal: Union[int, str, None] = None) -> Process:
        return self._run(ops.kill_process(self.name, pid, signal))

    def remove_process(self, pid: int) -> None:
        self._run(ops.remove_process(self.name, pid))

    def run_code(self, code: str, language: str = "python", *, session: Optional[str] = None, timeout_s: Optional[float] = None) -> CodeResult:
        """Run code (python, javascript or bash); with ``session`` its state
        lives on between calls."""
        return self._run(ops.run_code(self.name, code, language, session, timeout_s))

    def code_sessions(self) -> List[CodeSession]:
        return self._run(ops.code_sessions(self.name))

    def restart_code_session(self, session: str) -> CodeSession:
        return self._run(ops.restart_code_session(self.name, session))

    def close_code_session(self, session: str) -> None:
        self._run(ops.close_code_session(self.name, session))

    # -- files -----------------------------------------------------------------

    def upload(self, source: Source, guest_path: str, *, size: Optional[int] = None) -> Dict[str, Any]:
        """Write a guest file from a local path, bytes, a binary file or an
        iterable of bytes, streamed (any size, constant memory)."""
        chunks, length = source_chunks(source, size)
        headers = {"Content-Type": "application/octet-stream"}
        if length is not None:
            headers["Content-Length"] = str(length)
        response = self.client._send("PUT", ops.files_path(self.name), params={"path": guest_path}, content=chunks,
                                           headers=headers, timeout=ops.CREATE_TIMEOUT_S)
        return response.json()

    def download(self, guest_path: str, dest: Union[str, "os.PathLike[str]", BinaryIO, None] = None) -> Union[bytes, int]:
        """Read a guest file, streamed: into ``dest`` (a path or a binary
        file; returns the byte count), or as bytes when no ``dest``."""
        response = self.client._send("GET", ops.files_path(self.name), params={"path": guest_path}, stream=True, timeout=ops.CREATE_TIMEOUT_S)
        is_path = isinstance(dest, (str, os.PathLike))
        f: Any = io.BytesIO() if dest is None else open(dest, "wb") if is_path else dest
        count = 0
        try:
            for chunk in response.iter_bytes(CHUNK_BYTES):
                f.write(chunk)
                count += len(chunk)
        except httpx.HTTPError as e:
            if is_path:
                f.close()
                os.unlink(dest)  # type: ignore[arg-type]  # no partial file left
            raise MicroVMError(f"the download of {guest_path} broke off after {count} bytes: {e}", "incomplete") from e
        finally:
            response.close()
            if is_path:
                f.close()
        return f.getvalue() if dest is None else count

    def read_file(self, guest_path: str) -> bytes:
        data = self.download(guest_path)
        assert isinstance(data, bytes)
        return data

    def write_file(self, guest_path: str, content: Union[str, bytes]) -> Dict[str, Any]:
        return self.upload(content.encode() if isinstance(content, str) else content, guest_path)

    def list_files(self, guest_path: str) -> List[FileEntry]:
        return self._run(ops.list_files(self.name, guest_path))

    def console(self, size: Optional[int] = None) -> str:
        data = self._run(ops.console(self.name, size))
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data or "")

    # -- snapshots -------------------------------------------------------------

    def snapshot(self, name: Optional[str] = None, *, leave_paused: bool = False) -> Snapshot:
        return self._run(ops.snapshot(self.name, name, leave_paused))

    def snapshots(self) -> List[Snapshot]:
        return self._run(ops.snapshots(self.name))

    def get_snapshot(self, name: str) -> Snapshot:
        return self._run(ops.get_snapshot(self.name, name))

    def delete_snapshot(self, name: str) -> None:
        self._run(ops.delete_snapshot(self.name, name))

    def restore(self, snapshot: str) -> VmInfo:
        """Run the VM from a snapshot, in place."""
        return self._vm(ops.restore(self.name, snapshot))

    def fork(self, snapshot: str, count: int = 1, *, name_prefix: Optional[str] = None) -> List["Sandbox"]:
        """New VMs started from a snapshot (each a Sandbox of its own)."""
        return [Sandbox(self.client, info) for info in self._run(ops.fork(self.name, snapshot, count, name_prefix))]

    # -- display and input -----------------------------------------------------

    def display(self) -> Display:
        return self._run(ops.display(self.name))

    def vnc_info(self) -> VncInfo:
        d = self.display()
        return VncInfo(self.name, self.client.url + (d.viewer or f"/vnc/{self.name}"),
                       ws_url(self.client.url, d.websocket or ops.vm_path(self.name, "vnc")), d.width, d.height, d.connected, self.client.token)

    def set_display_controller(self, controller: str) -> Display:
        """``human`` takes the display (agent input refused), ``agent`` gives it back."""
        return self._run(ops.display_control(self.name, controller))

    def screenshot(self, *, scale: Union[float, str, None] = None, wait_s: Optional[float] = None) -> Screenshot:
        """The screen as PNG; ``wait_s`` waits (bounded) for the desktop to be ready."""
        response = self.client._send("GET", ops.vm_path(self.name, "screenshot"), params=ops.screenshot_params(scale, wait_s),
                                           timeout=None if wait_s is None else wait_s + ops.EXEC_TIMEOUT_MARGIN_S)
        h = response.headers
        return Screenshot(response.content, _int(h.get("x-screen-width")), _int(h.get("x-screen-height")), float(h.get("x-scale", "1") or 1))

    def input(self, actions: Sequence[Dict[str, Any]], *, scale: Optional[float] = None, wait_s: Optional[float] = None) -> Display:
        """Input actions in order (see ``ops.action``); coordinates taken on a
        screenshot of ``scale``."""
        return self._run(ops.input_(self.name, list(actions), scale, wait_s))

    def click(self, x: Optional[int] = None, y: Optional[int] = None, *, button: str = "left", count: int = 1) -> Display:
        return self.input([ops.action("click", x=x, y=y, button=button, count=count)])

    def move(self, x: int, y: int) -> Display:
        return self.input([ops.action("move", x=x, y=y)])

    def drag(self, x: int, y: int, to_x: int, to_y: int, *, button: str = "left") -> Display:
        return self.input([ops.action("drag", x=x, y=y, to_x=to_x, to_y=to_y, button=button)])

    def scroll(self, dy: int = 0, dx: int = 0, *, x: Optional[int] = None, y: Optional[int] = None) -> Display:
        return self.input([ops.action("scroll", dx=dx, dy=dy, x=x, y=y)])

    def type_text(self, text: str) -> Display:
        return self.input([ops.action("type", text=text)])

    def key(self, keys: str) -> Display:
        """A key combination: ``Return``, ``ctrl+alt+t``, ``shift+Tab``."""
        return self.input([ops.action("key", keys=keys)])

    # -- network and ports -----------------------------------------------------

    def network(self) -> NetworkStatus:
        return self._run(ops.network(self.name))

    def network_policy(self) -> NetworkPolicy:
        return self._run(ops.network_policy(self.name))

    def set_network_policy(self, policy: Union[NetworkPolicy, Dict[str, Any]]) -> NetworkPolicy:
        return self._run(ops.set_network_policy(self.name, policy))

    def expose_port(self, guest_port: int, *, host_address: Optional[str] = None, host_port: Optional[int] = None) -> Port:
        return self._run(ops.expose_port(self.name, guest_port, host_address, host_port))

    def ports(self) -> List[Port]:
        return self._run(ops.ports(self.name))

    def unexpose_port(self, guest_port: int) -> None:
        self._run(ops.unexpose_port(self.name, guest_port))


def _sync_iter(agen: AsyncIterator[ExecEvent]) -> Iterator[ExecEvent]:
    """An async generator driven from sync code, on a private event loop
    (so not from inside a running loop: use AsyncSandbox there)."""
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                yield loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        loop.run_until_complete(agen.aclose())
        loop.close()


def _int(v: Optional[str]) -> Optional[int]:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


__all__ = ["Client", "Sandbox", "MicroVMError"]
