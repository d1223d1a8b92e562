"""The API's objects as plain dataclasses (no pydantic needed). Each keeps
the JSON it came from in ``raw``, so fields the service adds later are
there too."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


def _opt_int(v: Any) -> Optional[int]:
    return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


@dataclass
class VmInfo:
    name: str
    template: str
    state: str
    vcpus: Optional[int] = None
    memory_mb: Optional[int] = None
    # the most vCPUs it may have while it runs (Sandbox.resize adds them up to it)
    max_vcpus: Optional[int] = None
    desired_state: Optional[str] = None
    created_at: Optional[str] = None
    last_started_at: Optional[str] = None
    last_error: Optional[Dict[str, Any]] = None
    current_snapshot: Optional[str] = None
    forked_from: Optional[str] = None
    owner: Optional[str] = None  # the id of the token that made it
    boot_ms: Optional[int] = None
    # how it last started: "cold", "warm" (its template's warm snapshot), "restore", "fork"
    boot: Optional[str] = None
    accelerated: Optional[bool] = None
    # while it runs: memory_mb less what its balloon holds (Sandbox.resize)
    memory_current_mb: Optional[int] = None
    network: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "VmInfo":
        return cls(
            name=str(o.get("name", "")),
            template=str(o.get("template", "")),
            state=str(o.get("state", "")),
            vcpus=_opt_int(o.get("vcpus")),
            memory_mb=_opt_int(o.get("memory_mb")),
            max_vcpus=_opt_int(o.get("max_vcpus")),
            desired_state=o.get("desired_state"),
            created_at=o.get("created_at"),
            last_started_at=o.get("last_started_at"),
            last_error=o.get("last_error"),
            current_snapshot=o.get("current_snapshot"),
            forked_from=o.get("forked_from"),
            owner=o.get("owner"),
            boot_ms=_opt_int(o.get("boot_ms")),
            boot=o.get("boot"),
            accelerated=o.get("accelerated"),
            memory_current_mb=_opt_int(o.get("memory_current_mb")),
            network=o.get("network"),
            raw=o,
        )


@dataclass
class Template:
    name: str
    description: str = ""
    vcpus: Optional[int] = None
    memory_mb: Optional[int] = None
    aliases: List[str] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Template":
        return cls(str(o.get("name", "")), str(o.get("description", "")), _opt_int(o.get("vcpus")), _opt_int(o.get("memory_mb")),
                   [str(a) for a in o.get("aliases", []) or []], o)


@dataclass
class PoolTemplate:
    """One template of the paused pool: how many VMs of it the service
    keeps restored and paused (a create of it is then a resume, boot
    "pool"), how many are ready and filling, and why it is short."""
    template: str
    target: int = 0
    ready: int = 0
    filling: int = 0
    vcpus: Optional[int] = None
    memory_mb: Optional[int] = None
    last_error: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "PoolTemplate":
        return cls(str(o.get("template", "")), int(o.get("target", 0)), int(o.get("ready", 0)), int(o.get("filling", 0)), _opt_int(o.get("vcpus")),
                   _opt_int(o.get("memory_mb")), o.get("last_error"), o)


@dataclass
class ExecResult:
    exit_code: Optional[int]
    stdout: str = ""
    stderr: str = ""
    signal: Optional[int] = None
    duration_ms: float = 0.0
    timed_out: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def output(self) -> str:
        """stdout, then stderr."""
        return self.stdout + self.stderr

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "ExecResult":
        return cls(
            exit_code=_opt_int(o.get("exit_code")),
            stdout=str(o.get("stdout", "")),
            stderr=str(o.get("stderr", "")),
            signal=_opt_int(o.get("signal")),
            duration_ms=float(o.get("duration_ms", 0) or 0),
            timed_out=bool(o.get("timed_out", False)),
            stdout_truncated=bool(o.get("stdout_truncated", False)),
            stderr_truncated=bool(o.get("stderr_truncated", False)),
            raw=o,
        )


@dataclass
class ExecEvent:
    """One message of a streamed exec: ``type`` is ``stdout`` or ``stderr``
    (``data`` holds the bytes as they came) or ``exit`` (``result`` holds the
    exit status and all the output)."""

    type: str
    data: bytes = b""
    result: Optional[ExecResult] = None


@dataclass
class Process:
    """A background process (``exec(..., background=True)``)."""

    pid: int
    command: List[str] = field(default_factory=list)
    running: bool = False
    exit_code: Optional[int] = None
    signal: Optional[int] = None
    started_at: Optional[str] = None
    ended_at: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Process":
        cmd = o.get("command", [])
        return cls(int(o.get("pid", 0)), [str(c) for c in cmd] if isinstance(cmd, list) else [str(cmd)], bool(o.get("running", False)),
                   _opt_int(o.get("exit_code")), _opt_int(o.get("signal")), o.get("started_at"), o.get("ended_at"), o)


@dataclass
class ProcessOutput:
    stdout: str
    stderr: str
    stdout_offset: int
    stderr_offset: int
    truncated: bool = False
    running: bool = False
    exit_code: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "ProcessOutput":
        return cls(str(o.get("stdout", "")), str(o.get("stderr", "")), int(o.get("stdout_offset", 0)), int(o.get("stderr_offset", 0)),
                   bool(o.get("truncated", False)), bool(o.get("running", False)), _opt_int(o.get("exit_code")), o)


@dataclass
class CodeOutput:
    """A rich output of run_code: ``type`` is a MIME type; ``data`` is text,
    or base64 for binary types (``bytes`` decodes it)."""

    type: str
    data: str
    width: Optional[int] = None
    height: Optional[int] = None

    @property
    def bytes(self) -> bytes:
        return base64.b64decode(self.data)


@dataclass
class CodeError:
    name: str
    value: str
    traceback: List[str] = field(default_factory=list)


@dataclass
class CodeResult:
    stdout: str = ""
    stderr: str = ""
    result: Optional[str] = None
    outputs: List[CodeOutput] = field(default_factory=list)
    error: Optional[CodeError] = None
    timed_out: bool = False
    session: Optional[str] = None
    execution_count: Optional[int] = None
    duration_ms: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "CodeResult":
        outputs = [
            CodeOutput(str(x.get("type", "")), str(x.get("data", "")), _opt_int(x.get("width")), _opt_int(x.get("height")))
            for x in o.get("outputs", []) or []
            if isinstance(x, dict)
        ]
        e = o.get("error")
        error = CodeError(str(e.get("name", "")), str(e.get("value", "")), [str(t) for t in e.get("traceback", []) or []]) if isinstance(e, dict) else None
        result = o.get("result")
        return cls(str(o.get("stdout", "")), str(o.get("stderr", "")), None if result is None else str(result), outputs, error,
                   bool(o.get("timed_out", False)), o.get("session"), _opt_int(o.get("execution_count")), _opt_int(o.get("duration_ms")), o)


@dataclass
class CodeSession:
    id: str
    language: str = ""
    created_at: Optional[str] = None
    executions: int = 0
    busy: bool = False
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "CodeSession":
        return cls(str(o.get("id", "")), str(o.get("language", "")), o.get("created_at"), int(o.get("executions", 0) or 0), bool(o.get("busy", False)), o)


@dataclass
class FileEntry:
    name: str
    type: str = ""
    mode: Optional[int] = None
    size: Optional[int] = None
    mtime: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "FileEntry":
        return cls(str(o.get("name", "")), str(o.get("type", "")), _opt_int(o.get("mode")), _opt_int(o.get("size")), _opt_int(o.get("mtime")), o)


@dataclass
class Snapshot:
    name: str
    vm: str
    created_at: Optional[str] = None
    parent: Optional[str] = None
    size_bytes: Optional[int] = None
    template: Optional[str] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Snapshot":
        return cls(str(o.get("name", "")), str(o.get("vm", "")), o.get("created_at"), o.get("parent"), _opt_int(o.get("size_bytes")), o.get("template"), o)


@dataclass
class Display:
    name: str = ""
    connected: bool = False
    ready: Optional[bool] = None
    width: Optional[int] = None
    height: Optional[int] = None
    controller: Optional[str] = None
    human_in_control: bool = False
    viewer: Optional[str] = None
    websocket: Optional[str] = None
    performed: Optional[int] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Display":
        ready = o.get("ready")
        return cls(str(o.get("name", "")), bool(o.get("connected", False)), None if ready is None else bool(ready), _opt_int(o.get("width")),
                   _opt_int(o.get("height")), o.get("controller"), bool(o.get("human_in_control", False)), o.get("viewer"), o.get("websocket"),
                   _opt_int(o.get("performed")), o)


@dataclass
class VncInfo:
    """Where to watch a VM's desktop: ``viewer_url`` is the noVNC page (open
    it in a browser; it carries the token once and sets a cookie),
    ``websocket_url`` raw RFB over a WebSocket (send ``token`` as a bearer
    header or ?token=)."""

    vm: str
    viewer_url: str
    websocket_url: str
    width: Optional[int] = None
    height: Optional[int] = None
    connected: bool = False
    token: Optional[str] = field(default=None, repr=False)

    def as_dict(self) -> Dict[str, Any]:
        return {"vm": self.vm, "viewer_url": self.viewer_url, "websocket_url": self.websocket_url, "width": self.width, "height": self.height,
                "connected": self.connected, "url": self.viewer_url}


@dataclass
class Screenshot:
    png: bytes
    screen_width: Optional[int] = None
    screen_height: Optional[int] = None
    scale: float = 1.0

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.png)


@dataclass
class Port:
    guest_port: int
    host_address: str = ""
    host_port: Optional[int] = None
    endpoint: Optional[str] = None
    state: str = ""
    connections: int = 0
    error: Optional[Dict[str, Any]] = None
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "Port":
        return cls(int(o.get("guest_port", 0)), str(o.get("host_address", "")), _opt_int(o.get("host_port")), o.get("endpoint"), str(o.get("state", "")),
                   int(o.get("connections", 0) or 0), o.get("error"), o)


@dataclass
class NetworkPolicy:
    """Egress policy: ``default`` ``deny`` or ``allow``; ``allow``/``deny``
    rules are domain patterns or networks (strings) or objects
    ``{"domain"|"cidr": ..., "ports": [...]}``."""

    default: str = "deny"
    allow: List[Any] = field(default_factory=list)
    deny: List[Any] = field(default_factory=list)

    def to_json(self) -> Dict[str, Any]:
        return {"default": self.default, "allow": list(self.allow), "deny": list(self.deny)}

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "NetworkPolicy":
        return cls(str(o.get("default", "deny")), list(o.get("allow", []) or []), list(o.get("deny", []) or []))


@dataclass
class NetworkStatus:
    mode: str
    attached: bool = False
    mac: Optional[str] = None
    address: Optional[str] = None
    gateway: Optional[str] = None
    counters: Dict[str, int] = field(default_factory=dict)
    denials: List[Dict[str, Any]] = field(default_factory=list)
    raw: Dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, o: Dict[str, Any]) -> "NetworkStatus":
        return cls(str(o.get("mode", "")), bool(o.get("attached", False)), o.get("mac"), o.get("address"), o.get("gateway"),
                   dict(o.get("counters", {}) or {}), list(o.get("denials", []) or []), o)
