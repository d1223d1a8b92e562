"""The API's operations as plain descriptions (method, path, body, how to
read the answer), shared by the async and the sync client so both speak
exactly the same protocol."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union
from urllib.parse import quote

from ._models import (CodeResult, CodeSession, Display, ExecResult, FileEntry, NetworkPolicy, NetworkStatus, PoolTemplate, Port, Process,
                      ProcessOutput, Snapshot, Template, VmInfo)

Command = Union[str, Sequence[str]]

# Seconds an answer may take beyond the command's own timeout (the guest
# drains output, the service maps the result).
EXEC_TIMEOUT_MARGIN_S = 30.0
# A code run: the service waits up to twice the code's timeout (the run may
# wait for a busy session first) plus the runner's overhead (starting a
# kernel, the interrupt's grace); the CLI and the MCP server wait as long
# (Code::CodeRunner::kRunnerOverheadMs, kDefaultTimeoutS).
CODE_DEFAULT_TIMEOUT_S = 60.0
CODE_RUNNER_OVERHEAD_S = 420.0
# Creating may build the template's image first (minutes, once).
CREATE_TIMEOUT_S = 1200.0
# Longest wait for the desktop the service accepts (issue16-api.md).
DISPLAY_WAIT_MAX_S = 60


def _identity(o: Any) -> Any:
    return o


@dataclass
class Call:
    method: str
    path: str
    json: Any = None
    params: Optional[Dict[str, Any]] = None
    parse: Callable[[Any], Any] = _identity
    timeout: Optional[float] = None


def new_name(prefix: str = "sbx") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def vm_path(name: str, rest: str = "") -> str:
    p = "/api/v1/vms/" + quote(name, safe="")
    return p + "/" + rest if rest else p


def _cmd(cmd: Command) -> Any:
    return cmd if isinstance(cmd, str) else [str(c) for c in cmd]


# --- service -----------------------------------------------------------------

def health() -> Call:
    return Call("GET", "/api/v1/health")


def templates() -> Call:
    return Call("GET", "/api/v1/templates", parse=lambda o: [Template.from_json(t) for t in o.get("templates", [])])


def _pool(o: Any) -> List[PoolTemplate]:
    return [PoolTemplate.from_json(t) for t in o.get("templates", [])]


def pool() -> Call:
    return Call("GET", "/api/v1/pool", parse=_pool)


def set_pool(targets: Dict[str, int]) -> Call:
    return Call("PUT", "/api/v1/pool", json={"targets": {str(k): int(v) for k, v in targets.items()}}, parse=_pool)


def _shape(body: Dict[str, Any], vcpus: Optional[int], memory_mb: Optional[int], max_vcpus: Optional[int]) -> Dict[str, Any]:
    for key, value in (("vcpus", vcpus), ("memory_mb", memory_mb), ("max_vcpus", max_vcpus)):
        if value is not None:
            body[key] = value
    return body


def create(name: str, template: str, vcpus: Optional[int], memory_mb: Optional[int], start: bool, network: Optional[Dict[str, Any]],
           max_vcpus: Optional[int] = None) -> Call:
    body = _shape({"name": name, "template": template, "start": start}, vcpus, memory_mb, max_vcpus)
    if network is not None:
        body["network"] = network
    return Call("POST", "/api/v1/vms", json=body, parse=VmInfo.from_json, timeout=CREATE_TIMEOUT_S)


def get(name: str) -> Call:
    return Call("GET", vm_path(name), parse=VmInfo.from_json)


def list_vms() -> Call:
    return Call("GET", "/api/v1/vms", parse=lambda o: [VmInfo.from_json(v) for v in o.get("vms", [])])


def delete(name: str) -> Call:
    return Call("DELETE", vm_path(name), timeout=CREATE_TIMEOUT_S)


def lifecycle(name: str, action: str) -> Call:
    return Call("POST", vm_path(name, action), parse=VmInfo.from_json, timeout=CREATE_TIMEOUT_S)


def resize(name: str, vcpus: Optional[int], memory_mb: Optional[int], max_vcpus: Optional[int] = None) -> Call:
    body = _shape({}, vcpus, memory_mb, max_vcpus)
    return Call("PATCH", vm_path(name, "resources"), json=body, parse=VmInfo.from_json, timeout=CREATE_TIMEOUT_S)


# --- exec, processes, code ----------------------------------------------------

def exec_request(cmd: Command, env: Optional[Dict[str, str]], cwd: Optional[str], stdin: Optional[str], timeout_s: Optional[float]) -> Dict[str, Any]:
    body: Dict[str, Any] = {"cmd": _cmd(cmd)}
    if env:
        body["env"] = dict(env)
    if cwd:
        body["cwd"] = cwd
    if stdin is not None:
        body["stdin"] = stdin
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    return body


def exec_timeout(timeout_s: Optional[float]) -> Optional[float]:
    return None if timeout_s is None else timeout_s + EXEC_TIMEOUT_MARGIN_S


def code_timeout(timeout_s: Optional[float]) -> float:
    """How long a code run's answer may take: the service's own bound."""
    return 2 * (CODE_DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s) + CODE_RUNNER_OVERHEAD_S


def exec_(name: str, body: Dict[str, Any]) -> Call:
    return Call("POST", vm_path(name, "exec"), json=body, parse=ExecResult.from_json, timeout=exec_timeout(body.get("timeout_s")))


def start_process(name: str, body: Dict[str, Any]) -> Call:
    return Call("POST", vm_path(name, "exec"), json=dict(body, background=True), parse=Process.from_json)


def processes(name: str) -> Call:
    return Call("GET", vm_path(name, "processes"), parse=lambda o: [Process.from_json(p) for p in o.get("processes", [])])


def process(name: str, pid: int) -> Call:
    return Call("GET", vm_path(name, f"processes/{int(pid)}"), parse=Process.from_json)


def process_output(name: str, pid: int, stdout_offset: int, stderr_offset: int) -> Call:
    return Call("GET", vm_path(name, f"processes/{int(pid)}/output"), params={"stdout_offset": stdout_offset, "stderr_offset": stderr_offset},
                parse=ProcessOutput.from_json)


def write_stdin(name: str, pid: int, data: str, eof: bool) -> Call:
    body: Dict[str, Any] = {"data": data}
    if eof:
        body["eof"] = True
    return Call("POST", vm_path(name, f"processes/{int(pid)}/stdin"), json=body)


def kill_process(name: str, pid: int, signal: Union[int, str, None]) -> Call:
    return Call("POST", vm_path(name, f"processes/{int(pid)}/kill"), json={} if signal is None else {"signal": signal}, parse=Process.from_json)


def remove_process(name: str, pid: int) -> Call:
    return Call("DELETE", vm_path(name, f"processes/{int(pid)}"))


def run_code(name: str, code: str, language: str, session: Optional[str], timeout_s: Optional[float]) -> Call:
    body: Dict[str, Any] = {"language": language, "code": code}
    if session is not None:
        body["session"] = session
    if timeout_s is not None:
        body["timeout_s"] = timeout_s
    return Call("POST", vm_path(name, "code"), json=body, parse=CodeResult.from_json, timeout=code_timeout(timeout_s))


def code_sessions(name: str) -> Call:
    return Call("GET", vm_path(name, "code/sessions"), parse=lambda o: [CodeSession.from_json(s) for s in o.get("sessions", [])])


def restart_code_session(name: str, session: str) -> Call:
    return Call("POST", vm_path(name, "code/sessions/" + quote(session, safe="") + "/restart"), parse=CodeSession.from_json)


def close_code_session(name: str, session: str) -> Call:
    return Call("DELETE", vm_path(name, "code/sessions/" + quote(session, safe="")))


# --- files, console -----------------------------------------------------------

def files_path(name: str) -> str:
    return vm_path(name, "files")


def list_files(name: str, path: str) -> Call:
    return Call("GET", vm_path(name, "files/list"), params={"path": path}, parse=lambda o: [FileEntry.from_json(e) for e in o.get("entries", [])])


def console(name: str, size: Optional[int]) -> Call:
    return Call("GET", vm_path(name, "console"), params=None if size is None else {"bytes": size})


# --- snapshots ----------------------------------------------------------------

def snapshot(name: str, snap: Optional[str], leave_paused: bool) -> Call:
    body: Dict[str, Any] = {}
    if snap:
        body["name"] = snap
    if leave_paused:
        body["leave_paused"] = True
    return Call("POST", vm_path(name, "snapshots"), json=body, parse=Snapshot.from_json, timeout=CREATE_TIMEOUT_S)


def snapshots(name: str) -> Call:
    return Call("GET", vm_path(name, "snapshots"), parse=lambda o: [Snapshot.from_json(s) for s in o.get("snapshots", [])])


def get_snapshot(name: str, snap: str) -> Call:
    return Call("GET", vm_path(name, "snapshots/" + quote(snap, safe="")), parse=Snapshot.from_json)


def delete_snapshot(name: str, snap: str) -> Call:
    return Call("DELETE", vm_path(name, "snapshots/" + quote(snap, safe="")))


def restore(name: str, snap: str) -> Call:
    return Call("POST", vm_path(name, "snapshots/" + quote(snap, safe="") + "/restore"), parse=VmInfo.from_json, timeout=CREATE_TIMEOUT_S)


def fork(name: str, snap: str, count: int, name_prefix: Optional[str]) -> Call:
    body: Dict[str, Any] = {"count": count}
    if name_prefix:
        body["name_prefix"] = name_prefix
    return Call("POST", vm_path(name, "snapshots/" + quote(snap, safe="") + "/fork"), json=body,
                parse=lambda o: [VmInfo.from_json(v) for v in o.get("vms", [])], timeout=CREATE_TIMEOUT_S)


# --- display and input --------------------------------------------------------

def _wait_param(wait_s: Optional[float]) -> Dict[str, Any]:
    return {} if wait_s is None else {"wait_s": max(0, min(int(wait_s), DISPLAY_WAIT_MAX_S))}


def display(name: str) -> Call:
    return Call("GET", vm_path(name, "display"), parse=Display.from_json)


def display_control(name: str, controller: str) -> Call:
    return Call("POST", vm_path(name, "display/control"), json={"controller": controller}, parse=Display.from_json)


def screenshot_params(scale: Union[float, str, None], wait_s: Optional[float]) -> Dict[str, Any]:
    params = _wait_param(wait_s)
    if scale is not None:
        params["scale"] = str(scale)
    return params


def input_(name: str, actions: List[Dict[str, Any]], scale: Optional[float], wait_s: Optional[float]) -> Call:
    body: Dict[str, Any] = {"actions": actions}
    if scale is not None:
        body["scale"] = scale
    return Call("POST", vm_path(name, "input"), json=body, params=_wait_param(wait_s) or None, parse=Display.from_json,
                timeout=None if wait_s is None else wait_s + EXEC_TIMEOUT_MARGIN_S)


def action(kind: str, **fields: Any) -> Dict[str, Any]:
    """One input action ({"action": kind, ...}), fields left out when None."""
    return dict({"action": kind}, **{k: v for k, v in fields.items() if v is not None})


# --- network and ports ---------------------------------------------------------

def network(name: str) -> Call:
    return Call("GET", vm_path(name, "network"), parse=NetworkStatus.from_json)


def network_policy(name: str) -> Call:
    return Call("GET", vm_path(name, "network/policy"), parse=NetworkPolicy.from_json)


def set_network_policy(name: str, policy: Union[NetworkPolicy, Dict[str, Any]]) -> Call:
    body = policy.to_json() if isinstance(policy, NetworkPolicy) else dict(policy)
    return Call("PUT", vm_path(name, "network/policy"), json=body, parse=NetworkPolicy.from_json)


def expose_port(name: str, guest_port: int, host_address: Optional[str], host_port: Optional[int]) -> Call:
    body: Dict[str, Any] = {"guest_port": int(guest_port)}
    if host_address:
        body["host_address"] = host_address
    if host_port is not None:
        body["host_port"] = int(host_port)
    return Call("POST", vm_path(name, "ports"), json=body, parse=Port.from_json)


def ports(name: str) -> Call:
    return Call("GET", vm_path(name, "ports"), parse=lambda o: [Port.from_json(p) for p in o.get("ports", [])])


def unexpose_port(name: str, guest_port: int) -> Call:
    return Call("DELETE", vm_path(name, f"ports/{int(guest_port)}"))
