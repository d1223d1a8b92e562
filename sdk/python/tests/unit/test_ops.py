"""The operations' descriptions: how long the client waits for an answer."""

from __future__ import annotations

from microvm_sandbox import _ops as ops


def test_code_run_waits_as_long_as_the_service():
    # The service's bound: 2 x timeout + the runner's overhead (420 s),
    # with the default timeout (60 s) when none is given.
    assert ops.run_code("box", "1", "python", None, None).timeout == 2 * 60 + 420
    assert ops.run_code("box", "1", "python", "s1", 10).timeout == 2 * 10 + 420
    assert ops.run_code("box", "1", "python", None, 3600).timeout == 2 * 3600 + 420


def test_exec_waits_its_timeout_and_a_margin():
    assert ops.exec_("box", {"cmd": ["true"], "timeout_s": 5}).timeout == 5 + ops.EXEC_TIMEOUT_MARGIN_S
    assert ops.exec_("box", {"cmd": ["true"]}).timeout is None
