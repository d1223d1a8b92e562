#!/usr/bin/python3
"""tst_observability (e2e, a minimal guest, QEMU): the real `microvm-sandbox
--serve --log-format json` (MVS_LOG=info), driven over HTTP with our own
X-Request-Id on each call. Every answer returns the id; the service's JSON
log lines of the work each call started (create, the boot that ends after
the answer, exec, snapshot, restore, stop) carry it and the VM's name; the
per-VM series of /metrics move when the VM works (exec count and output,
upload and download, snapshot count and bytes, boot and restore
histograms, the VMM's CPU time, resident memory, the guest's memory) and
go when it is deleted; GET /api/v1/system says which accelerator the
running VM uses. Usage: tst_observability.py BINARY."""

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

TOKEN = "observability-test-token-0123456789"
VM = "obs1"


def die_with_parent():
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, binary, prefix="tst_observability-", directory=None):
        # Under $TMPDIR/<test>-*: reaptestvmms.sh ends a VMM left by a crash.
        # directory: an earlier service's, to run on its state.
        self.dir = directory or tempfile.mkdtemp(prefix=prefix)
        self.port = free_port()
        self.log_path = os.path.join(self.dir, "service.log")
        env = dict(os.environ, MVS_TOKEN=TOKEN, MVS_LOG="info", MVS_CONFIG_DIR=f"{self.dir}/config", MVS_DATA_DIR=f"{self.dir}/data",
                   MVS_RUNTIME_DIR=f"{self.dir}/run")
        self.log = open(self.log_path, "ab")
        # The service ends with this process, also when it is killed (ctest's timeout): PR_SET_PDEATHSIG.
        self.proc = subprocess.Popen([binary, "--serve", "--listen", f"127.0.0.1:{self.port}", "--log-format", "json"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=die_with_parent)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.call("GET", "/api/v1/health")
                return
            except OSError:
                assert self.proc.poll() is None and time.monotonic() < deadline, open(self.log_path).read()
                time.sleep(0.2)

    def call(self, method, path, body=None, request_id=None, raw=None, timeout=300):
        headers = {"Authorization": f"Bearer {TOKEN}"}
        if request_id:
            headers["X-Request-Id"] = request_id
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers.get("X-Request-Id"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("X-Request-Id"), e.read()

    def json_call(self, method, path, body=None, request_id=None, expect=(200, 201)):
        status, rid, data = self.call(method, path, body, request_id)
        assert status in expect, f"{method} {path}: {status} {data[:500]!r}"
        if request_id:
            assert rid == request_id, f"{method} {path} answered X-Request-Id {rid!r}, not {request_id!r}"
        return json.loads(data) if data else None

    def metrics(self):
        status, _, data = self.call("GET", "/metrics")
        assert status == 200
        samples = {}
        for line in data.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def log_lines(self):
        self.log.flush()
        lines = []
        for raw in open(self.log_path, "rb").read().decode(errors="replace").splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))  # every JSON-looking line must parse
        return lines

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def lines_of(service, request_id, pattern, timeout=30):
    """The log lines of one request whose message matches, waiting for work that logs after the answer."""
    deadline = time.monotonic() + timeout
    while True:
        found = [l for l in service.log_lines() if l.get("request_id") == request_id and re.search(pattern, l["message"])]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def expect_logged(service, request_id, pattern, category=None):
    found = lines_of(service, request_id, pattern)
    assert found, f"no log line of request {request_id} matches {pattern!r}; its lines: " + \
        json.dumps([l for l in service.log_lines() if l.get("request_id") == request_id], indent=1)
    line = found[0]
    for key in ("time", "level", "category", "message"):
        assert key in line, line
    if category:
        assert line["category"] == category, line
    print(f"  {request_id}: {line['category']} {line['level']} {line.get('vm')!r}: {line['message']}")
    return line


def vm_sample(samples, name, **labels):
    label = ",".join([f'vm="{VM}"'] + [f'{k}="{v}"' for k, v in labels.items()])
    return samples.get(f"{name}{{{label}}}")


def main():
    binary = sys.argv[1]
    service = Service(binary)
    try:
        # Create and boot: the answer, then the boot's own lines (after the handler returned) carry the id.
        vm = service.json_call("POST", "/api/v1/vms", {"name": VM, "template": "minimal", "network": {"mode": "none"}}, "obs-create-1")
        assert vm["state"] == "running", vm
        expect_logged(service, "obs-create-1", rf"^{VM}: created from template minimal", "core")
        expect_logged(service, "obs-create-1", rf"^{VM}: starting")
        ready = expect_logged(service, "obs-create-1", rf"^{VM}: agent .* ready after \d+ ms")
        assert ready.get("vm") == VM, ready
        expect_logged(service, "obs-create-1", r"^POST /api/v1/vms 201 ", "api")

        before = service.metrics()
        assert vm_sample(before, "mvs_vm_boot_duration_seconds_count") == 1, vm_sample(before, "mvs_vm_boot_duration_seconds_count")
        assert (vm_sample(before, "mvs_vm_vmm_resident_memory_bytes") or 0) > 10 << 20, before
        assert (vm_sample(before, "mvs_vm_guest_memory_total_bytes") or 0) > 16 << 20, "no guest memory from the agent"
        cpu_before = vm_sample(before, "mvs_vm_vmm_cpu_seconds_total")
        assert cpu_before is not None and cpu_before > 0

        # Exec: 200 000 bytes of output and a busy second in the guest.
        r = service.json_call("POST", f"/api/v1/vms/{VM}/exec",
                              {"cmd": ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; head -c 200000 /dev/zero | tr '\\0' x"]},
                              "obs-exec-1")
        assert r["exit_code"] == 0 and len(r["stdout"]) == 200000, r.get("stderr")
        line = expect_logged(service, "obs-exec-1", rf"^{VM}: exec ended: exit 0", "agent")
        assert line.get("vm") == VM, line

        # Files both ways.
        status, rid, _ = service.call("PUT", f"/api/v1/vms/{VM}/files?path=/tmp/f", raw=b"y" * 4096, request_id="obs-put-1")
        assert status == 200 and rid == "obs-put-1", (status, rid)
        status, rid, data = service.call("GET", f"/api/v1/vms/{VM}/files?path=/tmp/f", request_id="obs-get-1")
        assert status == 200 and rid == "obs-get-1" and data == b"y" * 4096, (status, rid, len(data))

        after = service.metrics()
        assert vm_sample(after, "mvs_vm_exec_total") == 1, vm_sample(after, "mvs_vm_exec_total")
        assert vm_sample(after, "mvs_vm_exec_output_bytes_total") >= 200000
        assert vm_sample(after, "mvs_vm_transfers_total", direction="upload") == 1
        assert vm_sample(after, "mvs_vm_transfer_bytes_total", direction="upload") == 4096
        assert vm_sample(after, "mvs_vm_transfer_bytes_total", direction="download") == 4096
        assert vm_sample(after, "mvs_vm_vmm_cpu_seconds_total") > cpu_before, (cpu_before, vm_sample(after, "mvs_vm_vmm_cpu_seconds_total"))
        print(f"  VMM CPU {cpu_before:.2f} s -> {vm_sample(after, 'mvs_vm_vmm_cpu_seconds_total'):.2f} s, "
              f"RSS {vm_sample(after, 'mvs_vm_vmm_resident_memory_bytes') / 2**20:.0f} MiB")

        system = service.json_call("GET", "/api/v1/system", request_id="obs-system-1")
        assert system["accelerator"]["in_use"] in ("kvm", "tcg"), system["accelerator"]
        assert system["accelerator"]["in_use"] == "kvm" or system["accelerator"]["reason"], system["accelerator"]
        assert system["vms"]["total"] == 1 and system["vms"]["by_state"]["running"] == 1, system["vms"]
        assert system["driver"] in ("qemu", "cloud-hypervisor"), system
        assert system["versions"]["vmm"], system["versions"]
        print(f"  system: {system['driver']}, {system['accelerator']}, {system['versions']}")

        # The usage history: a sample every 5 s while the VM runs; a busy guest shows in cpu_percent.
        busy_s = 12
        service.json_call("POST", f"/api/v1/vms/{VM}/exec",
                          {"cmd": ["sh", "-c", f"end=$(( $(date +%s) + {busy_s} )); while [ $(date +%s) -lt $end ]; do :; done"]}, "obs-busy-1")
        stats = service.json_call("GET", f"/api/v1/vms/{VM}/stats")
        samples = stats["samples"]
        assert stats["interval_ms"] == 5000 and len(samples) >= 2, stats
        cpu = [s["cpu_percent"] for s in samples if s["cpu_percent"] is not None]
        assert cpu and max(cpu) > 30, samples
        assert all(s["vmm_resident_bytes"] > 10 << 20 for s in samples), samples
        assert any(s["guest_memory_total_bytes"] for s in samples), samples
        newest = samples[-1]["time_ms"]
        later = service.json_call("GET", f"/api/v1/vms/{VM}/stats?since={newest}")
        assert all(s["time_ms"] > newest for s in later["samples"]), later
        print(f"  usage history: {len(samples)} samples, CPU up to {max(cpu):.0f} % while busy")

        # Snapshot and restore.
        snap = service.json_call("POST", f"/api/v1/vms/{VM}/snapshots", {"name": "s1"}, "obs-snap-1")
        expect_logged(service, "obs-snap-1", rf"^{VM}: snapshot s1 taken")
        service.json_call("POST", f"/api/v1/vms/{VM}/snapshots/s1/restore", None, "obs-restore-1")
        expect_logged(service, "obs-restore-1", rf"^{VM}: restored snapshot s1")
        m = service.metrics()
        assert vm_sample(m, "mvs_vm_snapshots_total") == 1
        assert vm_sample(m, "mvs_vm_snapshot_bytes_total") == snap["size_bytes"], (vm_sample(m, "mvs_vm_snapshot_bytes_total"), snap["size_bytes"])
        assert vm_sample(m, "mvs_vm_restore_duration_seconds_count") == 1

        # Stop: the stop's lines, the one after the VMM ended too.
        service.json_call("POST", f"/api/v1/vms/{VM}/stop", None, "obs-stop-1")
        expect_logged(service, "obs-stop-1", rf"^{VM}: stopping")
        expect_logged(service, "obs-stop-1", rf"^{VM}: stopped")

        # A 404 and a 401 carry a made id; a delete takes the VM's series.
        status, rid, _ = service.call("GET", "/api/v1/vms/nope")
        assert status == 404 and re.fullmatch(r"[0-9a-f]{32}", rid or ""), (status, rid)
        service.json_call("DELETE", f"/api/v1/vms/{VM}", None, "obs-delete-1")
        gone = service.metrics()
        left = [k for k in gone if f'vm="{VM}"' in k]
        assert not left, left
        # No line of one request carries another's id.
        for l in service.log_lines():
            if l.get("request_id") == "obs-exec-1":
                assert "snapshot" not in l["message"], l
    finally:
        service.stop()
        shutil.rmtree(service.dir, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
