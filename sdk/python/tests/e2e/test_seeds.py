"""The seeds' client API (microvm_client): its README example verbatim
(seeds_example.py.txt, the text of their README's "Python SDK" section),
and each of its methods."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

import microvm_sandbox as m
from microvm_client import MicroVMClient, VMNotFoundError

from conftest import NO_NETWORK, unique

HERE = Path(__file__).resolve().parent
SRC = HERE.parent.parent / "src"
EXAMPLE_TIMEOUT_S = 900


class UnixRelay:
    """A Unix socket whose connections are relayed to a TCP address."""

    def __init__(self, path: str, host: str, port: int):
        self.path, self.host, self.port = path, host, port
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(16)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        from seeds_runner import pump
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.host, self.port))
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def test_readme_example_verbatim(client, tmp_path):
    """`http://localhost:8000` as written: run in a network namespace where
    that port relays to the service under test."""
    assert shutil.which("unshare") and os.geteuid() == 0, "the example's fixed address needs a network namespace (root, unshare)"
    templates = {a for t in client.templates() for a in [t.name, *t.aliases]}
    assert "linux-default" in templates, "the example's template alias linux-default is missing (helper agenttpl's agent template)"
    (tmp_path / "script.py").write_text("print('hello from script.py')\n")
    url = urlparse(os.environ["MVS_URL"])
    relay = UnixRelay(str(tmp_path / "service.sock"), url.hostname, url.port)
    env = {k: v for k, v in os.environ.items() if k != "MVS_URL"}  # the example names its URL; the token comes from MVS_TOKEN
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(HERE)])
    try:
        run = subprocess.run(["unshare", "--net", sys.executable, str(HERE / "seeds_runner.py"), relay.path, str(HERE / "seeds_example.py.txt")],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=EXAMPLE_TIMEOUT_S)
    finally:
        relay.close()
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("Python 3."), run.stdout
    assert "my-vm" not in [s.name for s in client.list()]


async def test_client_methods(tmp_path):
    name = unique("shim")
    async with MicroVMClient(os.environ["MVS_URL"]) as c:
        assert (await c.health_check())["status"] == "ok"
        vm = await c.start_vm(name, {"template": "minimal", "network": NO_NETWORK})
        try:
            assert (vm.id, vm.name, vm.template, vm.status) == (name, name, "minimal", "running")
            assert (await c.get_vm(vm.id)).state == "running"
            assert vm.id in [v.id for v in await c.list_vms()]
            result = await c.exec_command(vm.id, "sh -c 'echo out; echo err >&2'")
            assert (result.output, result.exit_code, result.success) == ("out\nerr\n", 0, True)
            (tmp_path / "up.txt").write_text("up ✓\n")
            sent = await c.upload_file(vm.id, str(tmp_path / "up.txt"), "/tmp/shim/up.txt")
            assert sent.success and sent.size == len("up ✓\n".encode())
            got = await c.download_file(vm.id, "/tmp/shim/up.txt", str(tmp_path / "down.txt"))
            assert got.success and (tmp_path / "down.txt").read_text() == "up ✓\n"
            with pytest.raises(m.UnsupportedError):
                await c.get_vnc_info(vm.id)  # minimal has no desktop
            assert (await c.stop_vm(vm.id)).status == "stopped"
        finally:
            assert await c.destroy_vm(vm.id)
        with pytest.raises(VMNotFoundError):
            await c.get_vm(vm.id)


async def test_template_as_first_argument_and_vnc_info():
    """py-microvm's own form: start_vm(template, config) names the VM itself."""
    async with MicroVMClient() as c:
        vm = await c.start_vm("desktop", {"network": NO_NETWORK})
        try:
            assert vm.template == "desktop" and vm.id.startswith("vm-")
            info = await c.get_vnc_info(vm.id)
            assert info["url"].endswith(f"/vnc/{vm.id}") and info["websocket_url"].endswith(f"/api/v1/vms/{vm.id}/vnc")
            assert info["width"] and info["height"]
        finally:
            await c.destroy_vm(vm.id)
