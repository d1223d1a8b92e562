"""Background processes (issue16-api.md, helper "procs"): started at once,
listed, read from offsets, written to, killed and forgotten."""

from __future__ import annotations

import time

import pytest

import microvm_sandbox as m

OUTPUT_WAIT_S = 30


def _wait_for(sb, pid, text, offset=0):
    deadline = time.monotonic() + OUTPUT_WAIT_S
    seen = ""
    while time.monotonic() < deadline:
        out = sb.process_output(pid, stdout_offset=offset)
        seen += out.stdout
        offset = out.stdout_offset
        if text in seen:
            return seen, out
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never came; got {seen!r}")


def test_background_process(api, shared_vm):
    sb = api.get(shared_vm)
    started = time.monotonic()
    p = sb.start_process("echo started; read line; echo got $line; echo warn >&2; sleep 300")
    assert time.monotonic() - started < 10
    assert p.running and p.pid > 0 and p.exit_code is None
    assert p.pid in [x.pid for x in sb.processes()]
    assert sb.process(p.pid).running

    seen, out = _wait_for(sb, p.pid, "started\n")
    assert out.running and not out.truncated
    sb.write_stdin(p.pid, "abc\n")
    seen, out = _wait_for(sb, p.pid, "got abc\n", offset=len("started\n"))
    again = sb.process_output(p.pid, stdout_offset=out.stdout_offset, stderr_offset=0)
    assert again.stdout == "" and "warn" in again.stderr

    sb.kill_process(p.pid, "KILL")
    deadline = time.monotonic() + OUTPUT_WAIT_S
    while sb.process(p.pid).running:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    ended = sb.process(p.pid)
    assert ended.signal == 9 and ended.exit_code is None and ended.ended_at
    sb.remove_process(p.pid)
    with pytest.raises(m.NotFoundError):
        sb.process(p.pid)


def test_stdin_eof_and_default_kill(api, shared_vm):
    sb = api.get(shared_vm)
    p = sb.start_process(["sh", "-c", "cat; echo eof"])
    sb.write_stdin(p.pid, "line\n", eof=True)
    _wait_for(sb, p.pid, "line\neof\n")
    deadline = time.monotonic() + OUTPUT_WAIT_S
    while sb.process(p.pid).running:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert sb.process(p.pid).exit_code == 0
    sb.remove_process(p.pid)

    q = sb.start_process("sleep 300")
    assert sb.kill_process(q.pid).pid == q.pid  # TERM
    sb.remove_process(q.pid)
    with pytest.raises(m.NotFoundError):
        sb.process_output(999999)
