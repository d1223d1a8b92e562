"""run_code on the agent template (issue16-api.md, helpers "code" and
"agenttpl"): sessions keep state, rich outputs, errors as values, the
timeout, javascript and bash. One agent guest for the module."""

from __future__ import annotations


import pytest


from conftest import NO_NETWORK, unique

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def agent_vm(client):
    with client.create(unique("code"), "linux-default", network=NO_NETWORK) as sb:
        yield sb.name


def test_python_session(api, agent_vm):
    sb = api.get(agent_vm)
    session = unique("s")
    first = sb.run_code("x = 41\nprint('set')", session=session)
    assert first.error is None and first.stdout == "set\n" and first.session == session
    second = sb.run_code("x + 1", session=session)
    assert second.result == "42" and second.execution_count and second.execution_count >= 2
    assert session in [s.id for s in sb.code_sessions()]
    assert sb.restart_code_session(session).id == session
    after = sb.run_code("x", session=session)
    assert after.error is not None and after.error.name == "NameError"
    sb.close_code_session(session)
    assert session not in [s.id for s in sb.code_sessions()]


def test_python_plot_and_error(api, agent_vm):
    sb = api.get(agent_vm)
    # The kernel's inline backend returns the figure (matplotlib.use('Agg')
    # would switch it off, as in Jupyter).
    plot = sb.run_code("import matplotlib.pyplot as plt\n"
                       "fig = plt.figure(figsize=(4, 3), dpi=100)\nplt.plot([1, 2, 3])\nplt.show()")
    pngs = [o for o in plot.outputs if o.type == "image/png"]
    assert pngs and pngs[0].bytes.startswith(PNG_MAGIC) and (pngs[0].width, pngs[0].height) == (400, 300)
    bad = sb.run_code("def broken(:\n  pass")
    assert bad.error is not None and bad.error.name == "SyntaxError" and bad.error.traceback
    slow = sb.run_code("while True: pass", timeout_s=3)
    assert slow.timed_out


def test_javascript_and_bash(api, agent_vm):
    sb = api.get(agent_vm)
    js = sb.run_code("console.log(6 * 7)", language="javascript")
    assert js.error is None and "42" in js.stdout
    sh = sb.run_code("echo $((6 * 7))", language="bash")
    assert sh.error is None and sh.stdout.strip() == "42"


def test_python_is_there(api, agent_vm):
    r = api.get(agent_vm).exec("python --version && python3 -c 'import numpy, pandas, matplotlib' && node -e 'process.exit(0)' && git --version")
    assert r.ok, r.output
