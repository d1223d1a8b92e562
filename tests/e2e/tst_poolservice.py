#!/usr/bin/python3
"""tst_poolservice (e2e, minimal guests, QEMU): the paused pool through the
real `microvm-sandbox --serve`, as a user sets it up: warm starts on and
MVS_POOL=minimal=1 (the config's pool key). The pool fills (making the
template's warm snapshot first when there is none) and GET /api/v1/pool and
GET /api/v1/system say so; a create is a resume of the pooled VM (boot
"pool") that runs as itself; the pool refills; PUT /api/v1/pool refuses a
template with a NIC (501) and a count over 8 (400) and empties the pool;
/metrics and the VM list never show pooled VMs; a malformed pool setting
stops the service at start, naming it. It runs on an empty image cache of
its own (MVS_CACHE_DIR), as a new machine's first service: the pool builds
the template's image and its warm snapshot itself.
Usage: tst_poolservice.py BINARY."""

import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tst_observability as obs  # noqa: E402 (its Service: the real --serve over HTTP)

FILL_TIMEOUT_S = 600


def pool_of(service, template="minimal"):
    for t in service.json_call("GET", "/api/v1/pool")["templates"]:
        if t["template"] == template:
            return t
    return None


def wait_ready(service, ready):
    deadline = time.monotonic() + FILL_TIMEOUT_S
    while time.monotonic() < deadline:
        t = pool_of(service)
        if t and t["ready"] == ready and t["filling"] == 0:
            return t
        time.sleep(0.25)
    raise AssertionError(f"the pool never had {ready} ready: {service.json_call('GET', '/api/v1/pool')}")


def pool_serves_creates(service):
    pool = service.json_call("GET", "/api/v1/pool")
    assert pool["warm_start"] is True, pool
    t = wait_ready(service, 1)
    assert (t["target"], t["vcpus"], t["memory_mb"], t["last_error"]) == (1, 1, 256, None), t
    system = service.json_call("GET", "/api/v1/system")
    assert system["pool"] == [t], system["pool"]
    # Pooled VMs are no one's VMs: not listed, no series.
    assert service.json_call("GET", "/api/v1/vms")["vms"] == []
    assert b"mvs-pool-" not in service.call("GET", "/metrics")[2]

    t0 = time.monotonic()
    vm = service.json_call("POST", "/api/v1/vms", {"name": "pooled1", "template": "minimal", "network": {"mode": "none"}})
    print(f"  create answered in {time.monotonic() - t0:.3f} s, boot {vm.get('boot')}")
    assert vm["state"] == "running" and vm["boot"] == "pool", vm
    out = service.json_call("POST", "/api/v1/vms/pooled1/exec", {"cmd": ["hostname"]})
    assert out["stdout"].strip() == "pooled1", out
    wait_ready(service, 1)  # refilled
    assert [v["name"] for v in service.json_call("GET", "/api/v1/vms")["vms"]] == ["pooled1"]


def targets_change_and_refusals(service):
    nic = service.json_call("PUT", "/api/v1/pool", {"targets": {"agent": 1}}, expect=(501,))
    assert nic["error"]["code"] == "unsupported" and "NIC" in nic["error"]["message"], nic
    many = service.json_call("PUT", "/api/v1/pool", {"targets": {"minimal": 9}}, expect=(400,))
    assert many["error"]["code"] == "invalid_argument", many
    unknown = service.json_call("PUT", "/api/v1/pool", {"targets": {"no-such-template": 1}}, expect=(404,))
    assert unknown["error"]["code"] == "not_found", unknown
    assert pool_of(service)["target"] == 1  # refusals changed nothing
    emptied = service.json_call("PUT", "/api/v1/pool", {"targets": {}})
    assert emptied["templates"] == [], emptied
    log = open(service.log_path).read()
    assert "pool: mvs-pool-" in log and "is ready (paused)" in log, log[-2000:]


def bad_setting_stops_the_service(binary):
    env = dict(os.environ, MVS_POOL="minimal=lots", MVS_TOKEN=obs.TOKEN)
    d = obs.tempfile.mkdtemp(prefix="tst_poolservice-")
    try:
        env.update(MVS_CONFIG_DIR=f"{d}/config", MVS_DATA_DIR=f"{d}/data", MVS_RUNTIME_DIR=f"{d}/run")
        r = subprocess.run([binary, "--serve", "--listen", f"127.0.0.1:{obs.free_port()}"], env=env, capture_output=True, timeout=60)
        assert r.returncode != 0, r
        assert b"pool: 'minimal=lots' is not <template>=<count>" in r.stderr, r.stderr[-2000:]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    binary = sys.argv[1]
    os.environ["MVS_WARM_START"] = "on"
    os.environ["MVS_POOL"] = "minimal=1"
    cache = obs.tempfile.mkdtemp(prefix="tst_poolservice-cache-")
    os.environ["MVS_CACHE_DIR"] = cache
    service = obs.Service(binary, "tst_poolservice-")
    try:
        pool_serves_creates(service)
        targets_change_and_refusals(service)
    finally:
        service.stop()
        shutil.rmtree(service.dir, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    bad_setting_stops_the_service(binary)
    print("PASS")


if __name__ == "__main__":
    main()
