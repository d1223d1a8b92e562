"""Runs the seeds' README example verbatim, inside a network namespace of
its own (unshare --net) where `http://localhost:8000` is free: it brings up
loopback, relays 127.0.0.1:8000 and [::1]:8000 to the Unix socket argv[1]
(relayed in turn by the test to the service), and runs the example's text
as it is written (top-level `async with`/`await`), from the current
directory (where the test put script.py)."""

from __future__ import annotations

import ast
import asyncio
import socket
import subprocess
import sys
import threading

EXAMPLE_PORT = 8000


def pump(a: socket.socket, b: socket.socket) -> None:
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(listener: socket.socket, target: str) -> None:
    while True:
        conn, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(target)
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main() -> None:
    target, example_file = sys.argv[1], sys.argv[2]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        listener = socket.socket(family)
        listener.bind((host, EXAMPLE_PORT))
        listener.listen(16)
        threading.Thread(target=serve, args=(listener, target), daemon=True).start()
    with open(example_file) as f:
        code = compile(f.read(), "seeds-readme-example", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    coro = eval(code, {"__name__": "__main__"})
    if coro is not None:
        asyncio.run(coro)


if __name__ == "__main__":
    main()
