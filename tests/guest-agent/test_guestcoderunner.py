"""mvs-code-runner on the host: real ipykernel kernels, real node and bash.

Run by ctest (tst_guestcoderunner) with Debian's /usr/bin/python3, which has
python3-ipykernel and python3-jupyter-client like the agent template's guest.
Each test gets its own run directory; every kernel started under it is
killed afterwards.
"""

import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

RUNNER = os.environ.get(
    "MVS_CODE_RUNNER",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "guest-agent", "coderunner", "mvs-code-runner"),
)


def kernels_under(directory):
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if b"ipykernel" in cmdline and directory.encode() in cmdline:
            pids.append(int(entry))
    return pids


class CodeRunnerTest(unittest.TestCase):
    def setUp(self):
        self.run_dir = tempfile.mkdtemp(prefix="mvs-code-test-")

    def tearDown(self):
        for pid in kernels_under(self.run_dir):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def call(self, request, timeout=240):
        env = dict(os.environ, MVS_CODE_RUN_DIR=self.run_dir)
        proc = subprocess.run(
            [sys.executable, RUNNER], input=json.dumps(request).encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=timeout
        )
        self.assertEqual(proc.returncode, 0, proc.stderr.decode(errors="replace"))
        return json.loads(proc.stdout)

    def run_code(self, language, code, **extra):
        answer = self.call(dict({"op": "execute", "language": language, "code": code}, **extra))
        self.assertNotIn("failure", answer)
        for key in ("stdout", "stderr", "result", "outputs", "error", "timed_out", "session", "execution_count", "duration_ms"):
            self.assertIn(key, answer)
        return answer

    def test_session_keeps_state(self):
        first = self.run_code("python", "x = 41", session="s1")
        self.assertIsNone(first["error"])
        self.assertIsNone(first["result"])
        self.assertEqual(first["session"], "s1")
        second = self.run_code("python", "print('hello')\nx + 1", session="s1")
        self.assertEqual(second["result"], "42")
        self.assertEqual(second["stdout"], "hello\n")
        self.assertEqual(second["execution_count"], first["execution_count"] + 1)
        sessions = self.call({"op": "sessions"})["sessions"]
        self.assertEqual([s["id"] for s in sessions], ["s1"])
        self.assertEqual(sessions[0]["language"], "python")
        self.assertEqual(sessions[0]["executions"], 2)
        self.assertFalse(sessions[0]["busy"])

    def test_one_shot_python_uses_a_transient_kernel(self):
        answer = self.run_code("python", "import sys\nprint('out')\nprint('err', file=sys.stderr)\n6 * 7")
        self.assertEqual(answer["result"], "42")
        self.assertEqual(answer["stdout"], "out\n")
        self.assertEqual(answer["stderr"], "err\n")
        self.assertIsNone(answer["session"])
        self.assertEqual(kernels_under(self.run_dir), [])

    def test_matplotlib_figure_comes_back_as_png_of_its_size(self):
        answer = self.run_code(
            "python",
            "import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(4, 3), dpi=100)\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.show()",
            session="plots",
        )
        self.assertIsNone(answer["error"])
        pngs = [o for o in answer["outputs"] if o["type"] == "image/png"]
        self.assertEqual(len(pngs), 1, answer["outputs"])
        data = base64.b64decode(pngs[0]["data"])
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertEqual(struct.unpack(">II", data[16:24]), (400, 300))
        self.assertEqual((pngs[0]["width"], pngs[0]["height"]), (400, 300))

    def test_html_display(self):
        answer = self.run_code("python", "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))")
        self.assertEqual(answer["outputs"], [{"type": "text/html", "data": "<b>bold</b>"}])

    def test_syntax_error_comes_back_with_its_traceback(self):
        answer = self.run_code("python", "def f(:\n    pass", session="s1")
        self.assertEqual(answer["error"]["name"], "SyntaxError")
        self.assertTrue(answer["error"]["traceback"])
        self.assertNotIn("\x1b", "".join(answer["error"]["traceback"]))

    def test_exception_traceback_without_ansi(self):
        answer = self.run_code("python", "def boom():\n    raise ValueError('bad value')\nboom()")
        self.assertEqual(answer["error"]["name"], "ValueError")
        self.assertEqual(answer["error"]["value"], "bad value")
        text = "\n".join(answer["error"]["traceback"])
        self.assertIn("boom()", text)
        self.assertNotIn("\x1b", text)

    def test_runaway_loop_is_interrupted_and_the_session_survives(self):
        self.run_code("python", "x = 41", session="s1")
        answer = self.run_code("python", "while True:\n    pass", session="s1", timeout_s=2)
        self.assertTrue(answer["timed_out"])
        self.assertEqual(answer["error"]["name"], "TimeoutError")
        self.assertIn("session 's1' is still running with its state", answer["error"]["value"])
        self.assertIn("KeyboardInterrupt", "\n".join(answer["error"]["traceback"]))
        self.assertLess(answer["duration_ms"], 15000)
        after = self.run_code("python", "x + 1", session="s1")
        self.assertEqual(after["result"], "42")

    def test_loop_ignoring_the_interrupt_restarts_the_kernel(self):
        self.run_code("python", "x = 41", session="s1")
        answer = self.run_code("python", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass", session="s1", timeout_s=1)
        self.assertTrue(answer["timed_out"])
        self.assertIn("restarted", answer["error"]["value"])
        after = self.run_code("python", "'x' in globals()", session="s1")
        self.assertEqual(after["result"], "False")

    def test_restart_and_close(self):
        self.run_code("python", "x = 41", session="s1")
        restarted = self.call({"op": "restart", "session": "s1"})
        self.assertEqual(restarted["id"], "s1")
        self.assertEqual(restarted["executions"], 0)
        after = self.run_code("python", "x", session="s1")
        self.assertEqual(after["error"]["name"], "NameError")
        self.assertEqual(self.call({"op": "close", "session": "s1"}), {})
        self.assertEqual(self.call({"op": "sessions"}), {"sessions": []})
        self.assertEqual(kernels_under(self.run_dir), [])
        self.assertEqual(self.call({"op": "close", "session": "s1"})["failure"]["code"], "not_found")

    def test_output_is_bounded_and_marked(self):
        answer = self.run_code("python", "print('y' * 3000000)")
        self.assertLess(len(answer["stdout"].encode()), 1100000)
        self.assertIn("[mvs-code-runner: stdout truncated", answer["stdout"])

    def test_javascript_one_shot(self):
        answer = self.run_code("javascript", "console.log('from node'); [1, 2].map(x => x * 21)")
        self.assertEqual(answer["stdout"], "from node\n")
        self.assertEqual(answer["result"], "[ 21, 42 ]")
        self.assertIsNone(answer["error"])
        failed = self.run_code("javascript", "null.x")
        self.assertEqual(failed["error"]["name"], "TypeError")
        self.assertTrue(failed["error"]["traceback"])

    def test_javascript_session_is_unsupported(self):
        answer = self.call({"op": "execute", "language": "javascript", "code": "1", "session": "js"})
        self.assertEqual(answer["failure"]["code"], "unsupported")

    def test_bash_one_shot(self):
        answer = self.run_code("bash", "echo out; echo err >&2; [[ 1 -eq 1 ]] && echo bash")
        self.assertEqual(answer["stdout"], "out\nbash\n")
        self.assertEqual(answer["stderr"], "err\n")
        self.assertIsNone(answer["error"])
        failed = self.run_code("bash", "exit 3")
        self.assertEqual(failed["error"], {"name": "ExitError", "value": "exit status 3", "traceback": []})

    def test_bash_answers_when_its_main_process_ends(self):
        answer = self.run_code("bash", "sleep 100 & echo started", timeout_s=30)
        self.assertFalse(answer["timed_out"])
        self.assertEqual(answer["stdout"], "started\n")
        self.assertLess(answer["duration_ms"], 5000)

    def test_bash_timeout_kills_the_process_group(self):
        answer = self.run_code("bash", "sleep 100 & sleep 100", timeout_s=1)
        self.assertTrue(answer["timed_out"])
        self.assertLess(answer["duration_ms"], 5000)

    def test_bad_requests_are_failures(self):
        self.assertEqual(self.call({"op": "execute", "language": "cobol", "code": ""})["failure"]["code"], "invalid_argument")
        self.assertEqual(self.call({"op": "execute", "language": "python", "code": "1", "session": "../x"})["failure"]["code"], "invalid_argument")
        self.assertEqual(self.call({"op": "nope"})["failure"]["code"], "invalid_argument")


if __name__ == "__main__":
    unittest.main(verbosity=2)
