#!/usr/bin/python3
"""The test internet's hosts (see testinternet.sh), run in its namespace.

testhosts.py STATE_DIR: binds every server below, writes its pid to
STATE_DIR/testhosts.pid, then STATE_DIR/testhosts.ready, and serves until
killed.

HTTP on port 80 of each host: GET / answers the host's name and a newline;
GET /zero/N answers N zero bytes (N up to kMaxZeroBytes); anything else 404.
The package hosts (kPackageHosts) also serve a Python package index and an
npm registry with one tiny package each (packageindex.py).
On 198.51.100.10, for the benchmark:
  5001 sink: discards what it gets; when the client ends its side, answers
       the number of bytes received in decimal and a newline, and closes.
  5002 source: streams zeros until the client leaves.
  5003 echo: sends back what it gets (connect latency, round trips).
"""

import http.server
import os
import socket
import socketserver
import sys
import threading

import packageindex

kHttpHosts = {
    "198.51.100.10": "allowed.test",
    "198.51.100.20": "denied.test",
    "203.0.113.10": "other.test",
}
# The real index names answer only the guests (through their resolvers, whose
# upstream is this test internet's DNS), for the agent template's own policy.
kPackageHosts = {
    "198.51.100.30": "pypi.test",
    "198.51.100.31": "pypi.org",
    "198.51.100.40": "npm.test",
    "198.51.100.41": "registry.npmjs.org",
}
kBenchAddress = "198.51.100.10"
kSinkPort = 5001
kSourcePort = 5002
kEchoPort = 5003
kChunk = 256 * 1024
kMaxZeroBytes = 1 << 40
kZeros = bytes(kChunk)


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


class HttpServer(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


def http_handler(name, packages=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "testhosts"

        def do_GET(self):
            if self.path == "/":
                return self.answer(200, (name + "\n").encode())
            if self.path.startswith("/zero/"):
                count = self.path[len("/zero/"):]
                if count.isdigit() and int(count) <= kMaxZeroBytes:
                    return self.zeros(int(count))
            if packages:
                found = packages.answer(self.path, self.headers.get("Host") or name)
                if found:
                    return self.answer(200, found[1], found[0])
            return self.answer(404, b"not found\n")

        def do_POST(self):
            # npm's audit: no such service here.
            length = self.headers.get("Content-Length", "0")
            self.rfile.read(int(length) if length.isdigit() else 0)
            return self.answer(404, b"not found\n")

        def answer(self, status, body, content_type="text/plain"):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def zeros(self, count):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(count))
            self.end_headers()
            while count > 0:
                n = min(count, kChunk)
                self.wfile.write(kZeros[:n])
                count -= n

        def log_message(self, format, *args):
            sys.stderr.write("%s %s %s\n" % (name, self.client_address[0], format % args))

    return Handler


class Sink(socketserver.BaseRequestHandler):
    def handle(self):
        buf = bytearray(kChunk)
        total = 0
        while True:
            n = self.request.recv_into(buf)
            if n == 0:
                break
            total += n
        self.request.sendall(b"%d\n" % total)


class Source(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                self.request.sendall(kZeros)
        except OSError:
            pass


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(kChunk)
            if not data:
                break
            self.request.sendall(data)


def main():
    state = sys.argv[1]
    servers = [HttpServer((address, 80), http_handler(name)) for address, name in kHttpHosts.items()]
    packages = packageindex.Packages()
    servers += [HttpServer((address, 80), http_handler(name, packages)) for address, name in kPackageHosts.items()]
    servers += [
        Server((kBenchAddress, kSinkPort), Sink),
        Server((kBenchAddress, kSourcePort), Source),
        Server((kBenchAddress, kEchoPort), Echo),
    ]
    for server in servers:
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(os.path.join(state, "testhosts.pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    with open(os.path.join(state, "testhosts.ready"), "w") as f:
        f.write("ready\n")
    threading.Event().wait()


if __name__ == "__main__":
    main()
