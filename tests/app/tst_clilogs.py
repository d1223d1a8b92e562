#!/usr/bin/python3
"""tst_clilogs: `microvm-sandbox vm logs NAME PID` against a test double of
the service (an HTTP server here that hands out a process's output a few
bytes per reply, as the guest does a MiB per reply): without --follow the
CLI reads on while the offsets advance and prints all of it; with --follow
it stops once the process ended and said everything. Usage: tst_clilogs.py BINARY."""

import http.server
import json
import subprocess
import sys
import threading
import urllib.parse

CHUNK = 4
STDOUT = "0123456789abcdefghij"
STDERR = "warn\n"


class FakeService(http.server.BaseHTTPRequestHandler):
    running = True
    requests = []

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        out, err = int(query["stdout_offset"][0]), int(query["stderr_offset"][0])
        FakeService.requests.append((url.path, out, err))
        o, e = STDOUT[out:out + CHUNK], STDERR[err:err + CHUNK]
        body = json.dumps({"stdout": o, "stderr": e, "stdout_offset": out + len(o), "stderr_offset": err + len(e),
                           "truncated": False, "running": FakeService.running, "exit_code": None if FakeService.running else 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def logs(binary, port, *extra):
    return subprocess.run([binary, "vm", "--url", f"http://127.0.0.1:{port}", "--token", "t", "logs", "box", "7", *extra],
                          capture_output=True, text=True, timeout=60)


def main():
    binary = sys.argv[1]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        # Without --follow, while the process still runs: all of it, then stop.
        r = logs(binary, port)
        assert r.returncode == 0, r
        assert r.stdout == STDOUT and r.stderr == STDERR, r
        assert len(FakeService.requests) == len(STDOUT) // CHUNK + 1, FakeService.requests
        assert all(path == "/api/v1/vms/box/processes/7/output" for path, _, _ in FakeService.requests)
        # With --follow, an ended process: all of it, then stop.
        FakeService.requests.clear()
        FakeService.running = False
        r = logs(binary, port, "--follow")
        assert r.returncode == 0 and r.stdout == STDOUT and r.stderr == STDERR, r
    finally:
        server.shutdown()
    print("tst_clilogs: passed")


if __name__ == "__main__":
    main()
