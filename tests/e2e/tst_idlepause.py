#!/usr/bin/python3
"""tst_idlepause (e2e, a minimal guest, QEMU): the real `microvm-sandbox
--serve` with MVS_IDLE_PAUSE_AFTER_S=3. A VM nobody uses is paused after
that long (seen in the list, which, like a viewer's read of the VM, does not
count as use), though not during an exec that lasts longer than that; the
next exec resumes it on its own and finds the file
written just before the pause whole, and the background process started
before it alive and counting; a VM a person paused stays paused (409) until
they resume it; idle_pause_after_s off (the default) never pauses. With
idle_action snapshot (MVS_IDLE_ACTION) an idle VM is snapshotted and
stopped (its VMM gone), and the next exec restores it with the file written
just before (not synced) whole and the background process counting on, the
idle snapshot then gone; a VM stopped so by a service that then stopped is
restored the same way by the next service on its state.
Usage: tst_idlepause.py BINARY."""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tst_observability as obs  # noqa: E402 (its Service: the real --serve over HTTP)

VM = "idle1"
IDLE_S = 3


def state_in_list(service, name):
    for vm in service.json_call("GET", "/api/v1/vms")["vms"]:
        if vm["name"] == name:
            return vm["state"]
    return None


def wait_state(service, name, want, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = state_in_list(service, name)
        if state == want:
            return
        time.sleep(0.25)
    raise AssertionError(f"{name} is {state_in_list(service, name)}, not {want}, after {timeout} s")


def sh(service, cmd, expect=(200,)):
    return service.json_call("POST", f"/api/v1/vms/{VM}/exec", {"cmd": ["sh", "-c", cmd]}, expect=expect)


def idle_vm_pauses_and_resumes_on_use(service):
    vm = service.json_call("POST", "/api/v1/vms", {"name": VM, "template": "minimal", "network": {"mode": "none"}})
    assert vm["state"] == "running", vm
    # A request that takes longer than the idle time is use all along.
    assert sh(service, f"sleep {IDLE_S + 3}; echo awake")["stdout"].strip() == "awake"
    assert state_in_list(service, VM) == "running"
    sh(service, "setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done' </dev/null >/dev/null 2>&1 &")
    # Written just before the idle time begins: 1 MiB of random bytes and its checksum.
    wrote = sh(service, "head -c 1048576 /dev/urandom > /root/data && sync && md5sum /root/data")
    digest = wrote["stdout"].split()[0]
    counter_before = int(sh(service, "cat /tmp/counter")["stdout"])
    t0 = time.monotonic()
    wait_state(service, VM, "paused", IDLE_S + 20)
    print(f"  paused after {time.monotonic() - t0:.1f} s idle")
    # A viewer's read and the usage history do not wake it.
    assert service.json_call("GET", f"/api/v1/vms/{VM}")["state"] == "paused"
    service.json_call("GET", f"/api/v1/vms/{VM}/stats")
    time.sleep(1)
    assert state_in_list(service, VM) == "paused"
    # The next exec resumes it and finds everything as it was.
    t1 = time.monotonic()
    again = sh(service, "md5sum /root/data && cat /tmp/counter")
    print(f"  exec on the paused VM answered in {time.monotonic() - t1:.2f} s")
    lines = again["stdout"].split("\n")
    assert lines[0].split()[0] == digest, (lines, digest)
    assert state_in_list(service, VM) == "running"
    time.sleep(1)
    counter_after = int(sh(service, "cat /tmp/counter")["stdout"])
    assert counter_after > counter_before, (counter_before, counter_after)
    log = open(service.log_path).read()
    assert f"{VM}: idle for {IDLE_S} s: pausing it until it is used" in log, log[-2000:]
    assert f"{VM}: used again: resuming it" in log, log[-2000:]


def a_persons_pause_is_theirs(service):
    service.json_call("POST", f"/api/v1/vms/{VM}/pause")
    time.sleep(IDLE_S + 2)
    refused = sh(service, "true", expect=(409,))
    assert refused["error"]["code"] == "invalid_state", refused
    assert state_in_list(service, VM) == "paused"
    service.json_call("POST", f"/api/v1/vms/{VM}/resume")
    assert sh(service, "echo ok")["stdout"].strip() == "ok"


def snapshot_and_stop(binary):
    os.environ["MVS_IDLE_ACTION"] = "snapshot"
    service = obs.Service(binary, "tst_idlepause-")
    try:
        vm = service.json_call("POST", "/api/v1/vms", {"name": VM, "template": "minimal", "network": {"mode": "none"}})
        assert vm["state"] == "running", vm
        sh(service, "setsid sh -c 'i=0; while true; do i=$((i+1)); echo $i > /tmp/counter; sleep 0.2; done' </dev/null >/dev/null 2>&1 &")
        # Not synced: the guest's memory is in the snapshot too.
        digest = sh(service, "head -c 1048576 /dev/urandom > /root/data && md5sum /root/data")["stdout"].split()[0]
        counter_before = int(sh(service, "cat /tmp/counter")["stdout"])
        wait_state(service, VM, "stopped", IDLE_S + 60)
        names = [s["name"] for s in service.json_call("GET", f"/api/v1/vms/{VM}/snapshots")["snapshots"]]
        assert "idle-stop" in names, names
        t1 = time.monotonic()
        again = sh(service, "md5sum /root/data && cat /tmp/counter")
        print(f"  exec on the idle-stopped VM answered in {time.monotonic() - t1:.2f} s")
        assert again["stdout"].split("\n")[0].split()[0] == digest, (again, digest)
        assert state_in_list(service, VM) == "running"
        time.sleep(1)
        assert int(sh(service, "cat /tmp/counter")["stdout"]) > counter_before
        names = [s["name"] for s in service.json_call("GET", f"/api/v1/vms/{VM}/snapshots")["snapshots"]]
        assert "idle-stop" not in names, names
        log = open(service.log_path).read()
        assert f"{VM}: idle for {IDLE_S} s: snapshotting and stopping it until it is used" in log, log[-2000:]
        assert f"{VM}: used again: restoring it from its idle snapshot" in log, log[-2000:]
        # Stopped so, then the service stops: the next one restores it on use.
        sh(service, "echo second > /root/second")
        wait_state(service, VM, "stopped", IDLE_S + 60)
        service.stop()
        service = obs.Service(binary, directory=service.dir)
        assert state_in_list(service, VM) == "stopped"
        assert sh(service, "cat /root/second")["stdout"].strip() == "second"
        assert state_in_list(service, VM) == "running"
    finally:
        service.stop()
        shutil.rmtree(service.dir, ignore_errors=True)
        os.environ.pop("MVS_IDLE_ACTION", None)


def off_by_default(binary):
    os.environ.pop("MVS_IDLE_PAUSE_AFTER_S", None)
    service = obs.Service(binary, "tst_idlepause-")
    try:
        service.json_call("POST", "/api/v1/vms", {"name": "busyless", "template": "minimal", "network": {"mode": "none"}})
        time.sleep(IDLE_S + 3)
        assert state_in_list(service, "busyless") == "running"
    finally:
        service.stop()
        shutil.rmtree(service.dir, ignore_errors=True)


def main():
    binary = sys.argv[1]
    os.environ["MVS_IDLE_PAUSE_AFTER_S"] = str(IDLE_S)
    service = obs.Service(binary, "tst_idlepause-")
    try:
        idle_vm_pauses_and_resumes_on_use(service)
        a_persons_pause_is_theirs(service)
    finally:
        service.stop()
        shutil.rmtree(service.dir, ignore_errors=True)
    snapshot_and_stop(binary)
    off_by_default(binary)
    print("PASS")


if __name__ == "__main__":
    main()
