"""Streamed file transfer and the exec WebSocket, shared by both clients.
Uploads and downloads move CHUNK_BYTES at a time: constant memory at any
size."""

from __future__ import annotations

import base64
import io
import json
import os
from typing import Any, AsyncIterator, BinaryIO, Dict, Iterable, Iterator, Optional, Tuple, Union

import websockets
import websockets.exceptions

from ._errors import MicroVMError, error_for
from ._models import ExecEvent, ExecResult

CHUNK_BYTES = 1024 * 1024
# What a streamed exec keeps of each stream for its final ExecResult; the
# events carry all of it.
STREAM_KEEP_BYTES = 16 * 1024 * 1024
# The largest WebSocket message accepted (an output chunk, base64).
WS_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO, Iterable[bytes]]


def source_chunks(source: Source, size: Optional[int] = None) -> Tuple[Iterator[bytes], Optional[int]]:
    """The bytes of `source` in chunks, and its size when known (sent as
    Content-Length, which lets the service stream it to the guest; without
    one the body is chunked and capped by the service)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        return iter([data[i:i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]), len(data)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        return _file_chunks(open(path, "rb"), close=True), os.path.getsize(path)
    if hasattr(source, "read"):
        f: Any = source
        if size is None:
            try:
                size = os.fstat(f.fileno()).st_size - f.tell()
            except (AttributeError, OSError, io.UnsupportedOperation):
                size = None
        return _file_chunks(f, close=False), size
    return (bytes(c) for c in source), size  # type: ignore[union-attr]


def _file_chunks(f: BinaryIO, close: bool) -> Iterator[bytes]:
    try:
        while True:
            chunk = f.read(CHUNK_BYTES)
            if not chunk:
                return
            yield chunk
    finally:
        if close:
            f.close()


async def async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def ws_url(base_url: str, path: str) -> str:
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://"):] + path
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://"):] + path
    return base_url + path


class _Collected:
    """The output kept for the final ExecResult, bounded."""

    def __init__(self) -> None:
        self.data = {"stdout": bytearray(), "stderr": bytearray()}
        self.truncated = {"stdout": False, "stderr": False}

    def add(self, stream: str, chunk: bytes) -> None:
        buf = self.data[stream]
        room = STREAM_KEEP_BYTES - len(buf)
        if len(chunk) > room:
            self.truncated[stream] = True
        buf += chunk[:max(room, 0)]

    def result(self, o: Dict[str, Any]) -> ExecResult:
        r = ExecResult.from_json(dict(o, stdout="", stderr=""))
        r.stdout = self.data["stdout"].decode("utf-8", "replace")
        r.stderr = self.data["stderr"].decode("utf-8", "replace")
        r.stdout_truncated = self.truncated["stdout"]
        r.stderr_truncated = self.truncated["stderr"]
        return r


def _event(message: Any, kept: _Collected) -> ExecEvent:
    try:
        o = json.loads(message)
    except ValueError as e:
        raise MicroVMError(f"the exec WebSocket sent a message that is not JSON: {e}") from e
    kind = o.get("type") if isinstance(o, dict) else None
    if kind in ("stdout", "stderr"):
        chunk = base64.b64decode(o.get("data", ""))
        kept.add(kind, chunk)
        return ExecEvent(kind, chunk)
    if kind == "exit":
        return ExecEvent("exit", result=kept.result(o))
    if kind == "error":
        err = o.get("error") or {}
        raise error_for(0, str(err.get("code", "internal")), str(err.get("message", "the exec failed")))
    raise MicroVMError(f"the exec WebSocket sent an unknown message type {kind!r}")


async def exec_events(url: str, token: Optional[str], request: Dict[str, Any], stdin: Optional[bytes],
                      open_timeout: float = 60.0) -> AsyncIterator[ExecEvent]:
    """Streamed exec: the request, its stdin (then end of input), then the
    output events as they come, ending with one ``exit`` event."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kept = _Collected()
    try:
        ws = await websockets.connect(url, extra_headers=headers, max_size=WS_MAX_MESSAGE_BYTES, open_timeout=open_timeout, ping_interval=None)
    except websockets.exceptions.InvalidStatusCode as e:
        raise error_for(e.status_code, None, f"the exec WebSocket was refused with HTTP {e.status_code}") from e
    except OSError as e:
        from ._errors import ConnectionError as ServiceConnectionError
        raise ServiceConnectionError(f"cannot reach the service at {url}: {e}", "unreachable") from e
    try:
        await ws.send(json.dumps(request))
        if stdin:
            for i in range(0, len(stdin), CHUNK_BYTES):
                await ws.send(json.dumps({"type": "stdin", "data": base64.b64encode(stdin[i:i + CHUNK_BYTES]).decode("ascii")}))
        await ws.send(json.dumps({"type": "stdin_eof"}))
        async for message in ws:
            ev = _event(message, kept)
            yield ev
            if ev.type == "exit":
                return
        raise MicroVMError(f"the exec WebSocket closed before the command ended ({ws.close_code} {ws.close_reason})", "internal")
    finally:
        await ws.close()
