#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz harnesses: a few small valid inputs each,
in fuzz/corpus/<harness>/<name>. Run it again after changing an input format:
    python3 fuzz/makecorpus.py
Layouts follow the harnesses: libFuzzer's FuzzedDataProvider takes integers,
booleans and floats from the end of the input and strings from the front."""

import json
import os
import struct
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def s(b): b = b if isinstance(b, bytes) else b.encode(); return u32(len(b)) + b
def slist(items): return u32(len(items)) + b"".join(s(i) for i in items)


def frame(type_, stream, payload):
    return u16(0x4D56) + u8(type_) + u8(0) + u32(stream) + u32(len(payload)) + payload


HELLO = u16(2) + u32(1 << 20) + u64(42) + s("microvm-sandbox 0.1.0")
HELLO_ACK = u16(2) + u32(1 << 20) + u64(42) + s("0.1.0") + s("0c8f6a4e-1d2b-4c3a-9e8f-7a6b5c4d3e2f")
EXEC_START = slist(["/bin/echo", "hi"]) + s("") + slist(["A=1"]) + s("/tmp") + u32(5000) + u32(1)
FILE_INFO_A = s("a.txt") + u8(1) + u32(0o644) + u64(12) + u64(1700000000) + u32(0) + u32(0) + s("")
FILE_INFO_B = s("link") + u8(3) + u32(0o777) + u64(0) + u64(1700000001) + u32(1000) + u32(1000) + s("a.txt")
HEALTH = s("0.1.0") + u64(1000) + u64(2000) + u64(4096) + u64(2048) + u32(150) + u32(2) + u32(1) + s("box") + s("Linux 6.1")

PROCESS_STATE = u32(4242) + slist(["sh", "-c", "sleep 300 & echo started"]) + u8(1) + u32(0xFFFFFFFF) + u32(0) + u64(1700000000000) + u64(0)

# Message selectors: the order of kDecoders in fuzz_messages.cpp.
MESSAGES = {
    "hello": (0, HELLO),
    "helloack": (1, HELLO_ACK),
    "announce": (2, u16(2) + s("0.1.0")),
    "error": (3, u32(1) + s("no such file")),
    "execstart": (4, EXEC_START),
    "execexit": (6, u32(0) + u32(0) + u8(0) + u64(1234)),
    "fileput": (7, s("/tmp/x") + u32(0o644) + u64(3) + u32(1)),
    "statresult": (11, FILE_INFO_A),
    "listresult": (12, u32(2) + FILE_INFO_A + FILE_INFO_B),
    "healthresult": (13, HEALTH),
    "streamopen": (15, s("127.0.0.1") + u16(8080)),
    "streamcredit": (16, u32(1 << 18)),
    "processstate": (17, PROCESS_STATE),
    "processlist": (18, u32(2) + PROCESS_STATE + PROCESS_STATE),
    "processread": (20, u32(4242) + u64(10) + u64(0) + u32(65536)),
    "processoutput": (21, PROCESS_STATE + u64(12) + u64(0) + u8(1) + s("hello world\n") + s("")),
    "processwrite": (22, u32(4242) + u8(1) + s("line\n")),
    "processsignal": (23, u32(4242) + u32(9)),
}

FRAMES = {
    "handshake": frame(1, 0, HELLO) + frame(2, 0, HELLO_ACK) + b"\x40\x00",
    "exec": frame(16, 7, EXEC_START) + frame(19, 7, b"hi\n") + frame(21, 7, u32(0) * 2 + u8(0) + u64(9)) + b"\x03\x05\x00\x10",
    "garbage-then-frame": b"login: \x56\x4d\x01\x07junk" + frame(64, 3, b"") + b"\x01\x00\x01",
    "oversize": frame(33, 9, b"x" * 64) + b"\x20\x00",
}

RFB_CLIENT = (
    b"RFB 003.008\n" + b"\x01" + b"\x01"  # version, security None, ClientInit (shared)
    + b"\x00\x00\x00\x00" + b"\x20\x18\x00\x01\x00\xff\x00\xff\x00\xff\x10\x08\x00\x00\x00\x00"  # SetPixelFormat
    + b"\x02\x00\x00\x03" + struct.pack(">iii", 0, 7, -316)  # SetEncodings with ExtendedMouseButtons
    + b"\x03\x00\x00\x00\x00\x00\x04\x00\x03\x00"  # FramebufferUpdateRequest
    + b"\x04\x01\x00\x00\x00\x00\x00\x61" + b"\x04\x00\x00\x00\x00\x00\x00\x61"  # KeyEvent a down, up
    + b"\x05\x01\x00\x10\x00\x20"  # PointerEvent
    + b"\x06\x00\x00\x00\x00\x00\x00\x05hello"  # ClientCutText
    + b"\xff\x00\x00\x01\x00\x00\x00\x61\x00\x00\x00\x1e"  # QEMU extended key event
    + b"\xf8\x00\x00\x00\x00\x00\x00\x00\x02ab"  # ClientFence
)
VNC_AUTH = b"RFB 003.008\n" + b"\x02" + bytes(range(16)) + b"\x00" + b"\x05\x00\x00\x01\x00\x01"


def strings(pieces):
    """Strings for ConsumeRandomLengthString, in a row: a backslash then
    another byte ends one, a doubled backslash is one backslash."""
    return b"\\x".join(p.replace(b"\\", b"\\\\") for p in pieces)


def rfb_pieces(stream, allow, framing, cut):
    """The client stream cut every `cut` bytes; allowInput and the framing
    as booleans from the end."""
    pieces = [stream[i:i + cut] for i in range(0, len(stream), cut)]
    front = strings(pieces)
    tail = bytes(allow[i % len(allow)] for i in reversed(range(len(pieces))))
    return front + tail + u8(framing)


RFB = {
    "watcher": rfb_pieces(RFB_CLIENT, [0], 0, 1000),
    "controller": rfb_pieces(RFB_CLIENT, [1], 1, 1000),
    "toggling": rfb_pieces(RFB_CLIENT, [1, 0], 1, 7),
    "vncauth": rfb_pieces(VNC_AUTH, [0], 0, 5),
}

NOW = "2026-12-01T10:00:00.000Z"
VM_RECORD = {"version": 1, "name": "box", "template": "minimal", "vcpus": 2, "memory_mb": 1024, "desired_state": "running",
             "created_at": NOW, "last_started_at": NOW, "last_error": {"code": "timeout", "message": "boot timed out"},
             "current_snapshot": "s1", "forked_from": "base/s0",
             "running_vmm": {"driver": "qemu", "pid": 1234, "pid_start_time": "5678", "runtime_dir": "/run/x", "qmp_socket": "/run/x/qmp",
                             "agent_socket": "/run/x/agent", "accel": "kvm", "manager_pid": 99, "manager_start_time": "42"}}
SHA = "ab" * 32
MANIFEST = {"version": 1, "name": "snap", "vm": "box", "created_at": NOW, "parent": None, "driver": "qemu", "vmm_version": "7.2",
            "template": "minimal", "vcpus": 1, "memory_mb": 512, "accel": "tcg", "kernel": "/k", "initramfs": "/i", "base_disk": "",
            "disk_file": "disk.qcow2", "disk_format": "qcow2", "state_files": ["memory.state"], "paused_ms": 30,
            "files": [{"name": "memory.state", "size": 10, "sha256": SHA}, {"name": "disk.qcow2", "size": 20, "sha256": SHA}]}
RECORDS = {
    "vmrecord": b"\x00" + json.dumps(VM_RECORD).encode(),
    "vmrecord-minimal": b"\x00" + json.dumps({"version": 1, "name": "a", "template": "t", "vcpus": 1, "memory_mb": 256}).encode(),
    "vmrecord-ports": b"\x00" + json.dumps({"version": 1, "name": "web", "template": "minimal", "vcpus": 1, "memory_mb": 256,
                                            "ports": [{"guest_port": 8000, "host_address": "127.0.0.1", "host_port": 0, "last_host_port": 41877},
                                                      {"guest_port": 22, "host_address": "::1", "host_port": 2222},
                                                      {"guest_port": 8000, "host_address": "0.0.0.0", "host_port": 1},
                                                      {"guest_port": 0, "host_address": "x", "host_port": 70000}]}).encode(),
    "manifest": b"\x01" + json.dumps(MANIFEST).encode(),
    "token": b"\x02" + b"3f" * 32 + b"\n",
}

INPUT = {
    "click": b"\x00" + json.dumps({"action": "click", "x": 10, "y": 20, "button": "right", "count": 2}).encode(),
    "drag": b"\x00" + json.dumps({"action": "drag", "x": 1, "y": 2, "to_x": 300, "to_y": 400, "scale": 0.5}).encode(),
    "actions": b"\x00" + json.dumps({"actions": [{"action": "move", "x": 5, "y": 6}, {"action": "key", "keys": "Return"}], "scale": 0.25}).encode(),
    "scroll": b"\x00" + json.dumps({"action": "scroll", "dx": 0, "dy": -3}).encode(),
    "type": b"\x00" + json.dumps({"action": "type", "text": "héllo\n"}).encode(),
    "key": b"\x00" + json.dumps({"action": "key", "keys": "ctrl+alt+t"}).encode(),
    "scale-factor": b"\x010.5",
    "scale-size": b"\x011024x768" + b"\x00\x04\x00\x03",
    "combo": b"\x02shift+Tab",
    "combo-plus": b"\x02ctrl++",
    "name": b"\x03PageUp",
    "name-hex": b"\x030xff0d",
}


# fuzz_agentclient: frames of (type, stream, pause) from the end, payloads
# from the front. Streams of the operations it starts, in order: run 1,
# putData 2, getData 3, stat 4, list 5, health 6, openStream 7, shutdown 8,
# the streaming exec 9. Type 0: the payload goes out raw, unframed.
def agent_frames(frames):
    front = strings([p for (_, _, p) in frames])
    tail = b"".join(bytes([0, stream, type_]) for (type_, stream, _) in reversed(frames))
    return front + tail


EXEC_EXIT = u32(0) + u32(0) + u8(0) + u64(1234)
AGENT = {
    "exec": agent_frames([(22, 1, u32(42)), (19, 1, b"out"), (20, 1, b"err"), (21, 1, EXEC_EXIT)]),
    "files": agent_frames([(35, 2, u64(100)), (37, 3, u64(4) + u32(0o644)), (33, 3, b"abcd"), (34, 3, b"")]),
    "requests": agent_frames([(49, 4, FILE_INFO_A), (51, 5, u32(2) + FILE_INFO_A + FILE_INFO_B), (65, 6, HEALTH)]),
    "stream": agent_frames([(97, 7, b""), (98, 7, b"GET / HTTP/1.0\r\n\r\n"), (99, 7, b"")]),
    "raw": agent_frames([(0, 0, b"login: \x56\x4d\x13"), (0, 0, u16(0x4D56) + u8(65) + u8(0) + u32(6) + u32(0xffffff))]),
    "errors": agent_frames([(4, 9, u32(1) + s("nope")), (4, 3, u32(9) + s("too large")), (3, 0, u16(1) + s("0.1.0"))]),
}


def http(status, body=b""):
    head = b"HTTP/1.1 %d \r\nServer: Cloud Hypervisor API\r\nConnection: keep-alive\r\n" % status
    if body:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


QMP_GREETING = b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\n'
# fuzz_vmmapi: a selector byte, then for QMP what QEMU says before the
# command and after it; the last byte is the count of write pieces (0: whole).
VMMAPI = {
    "qmp": b"\x00" + strings([QMP_GREETING + b'{"return": {}, "id": "1"}\n',
                               b'{"return": {"status": "running", "running": true}, "id": "2"}\n'
                               b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}\n']) + b"\x00",
    "qmp-error": b"\x00" + strings([QMP_GREETING + b'{"return": {}, "id": "1"}\n',
                                     b'{"error": {"class": "GenericError", "desc": "no"}, "id": "2"}\n']) + b"\x00",
    "ch": b"\x01" + http(200, b'{"version": "v38.0", "build_version": "v38.0", "pid": 7, "features": []}')
    + http(200, b'{"config": {}, "state": "Running", "memory_actual_size": 0}') + http(204) + b"\x00",
    "ch-error": b"\x01" + http(500, b'["Error from API", "The VM could not be paused"]') + b"\x00",
}


# fuzz_httpadapter: byte 0 the count of split points, then u16 offsets
# (little-endian), then the bytes a client writes. The token is the
# harness's; routes are its StubController's.
def http_input(raw, splits=()):
    return u8(len(splits)) + b"".join(u16(o) for o in splits) + raw


def req(head, body=b"", token=True):
    auth = b"Authorization: Bearer fuzz-token\r\n" if token else b""
    length = b"Content-Length: %d\r\n" % len(body) if body else b""
    return head + b"\r\nHost: 127.0.0.1\r\n" + auth + length + b"\r\n" + body


PIPELINED = (req(b"GET /api/v1/health HTTP/1.1", token=False) + req(b"GET /api/v1/vms/a HTTP/1.1")
             + req(b"DELETE /api/v1/vms/a HTTP/1.1") + req(b"GET /api/v1/vms/a/missing HTTP/1.1")
             + req(b"GET /api/v1/vms/a/files/etc/hosts HTTP/1.1"))
WS_KEY = b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13"
HTTPADAPTER = {
    "health": http_input(req(b"GET /api/v1/health HTTP/1.1", token=False)),
    "authed": http_input(req(b"GET /api/v1/vms/a HTTP/1.1")),
    "post": http_input(req(b"POST /api/v1/vms HTTP/1.1\r\nContent-Type: application/json", b'{"name": "a"}')),
    "echo-unauthed": http_input(req(b"POST /api/v1/echo HTTP/1.1", b"x" * 100, token=False)),
    "too-large-unauthed": http_input(req(b"POST /api/v1/echo HTTP/1.1", b"y" * 5000, token=False)),
    "chunked": http_input(req(b"POST /api/v1/vms HTTP/1.1\r\nTransfer-Encoding: chunked") + b"5\r\nhello\r\n0\r\n\r\n"),
    "chunked-unauthed": http_input(req(b"POST /api/v1/echo HTTP/1.1\r\nTransfer-Encoding: chunked", token=False) + b"5\r\nhello\r\n0\r\n\r\n"),
    "upload": http_input(req(b"PUT /api/v1/vms/a/files/tmp/x HTTP/1.1\r\nExpect: 100-continue", b"0123456789"), [60, 140]),
    "pipelined": http_input(PIPELINED, [30, 97, 200]),
    "websocket": http_input(req(b"GET /api/v1/vms/a/vnc HTTP/1.1\r\n" + WS_KEY)),
    "websocket-unauthed": http_input(req(b"GET /api/v1/vms/a/vnc HTTP/1.1\r\n" + WS_KEY, token=False)),
    "page-token": http_input(req(b"GET /vnc/a?token=fuzz-token HTTP/1.1", token=False)),
    "slow-head": http_input(b"GET /api/v1/vms/a HTTP/1.1\r\nAuthorization: Bearer fuzz-token\r\nX-Slow: 1\r\n"),
    "garbage": http_input(b"\x16\x03\x01\x02\x00NOT HTTP\r\n\r\n", [3]),
}


# fuzz_vncconnection: read from the front. Version, security, ServerInit
# (u16 width, u16 height, pixel format, u32 name length, name), then
# messages: a kind byte (0 update, 1 colour map, 2 bell, 3 cut text, 4 raw,
# 5 pause, 6 hang up, 7 any type byte); an update is a rect count then per
# rectangle x, y, w, h (u16), an encoding index into the harness's table
# (0 raw, 1 copyrect, 2 RRE, 3 CoRRE, 4 hextile, 5 zlib, 6 tight, 7 ZRLE,
# 8 TRLE, 9 ultra, 10 desktop size, 11 ExtendedDesktopSize, 12 rich cursor,
# 13 X cursor, 14 pointer position, 15 last rect), its payload (exact for
# raw, copyrect, cursors; else a u16 length and bytes).
def be16(v): return struct.pack(">H", v)
def be32(v): return struct.pack(">I", v)


PIXEL_FORMAT = bytes.fromhex("2018000100ff00ff00ff100800000000")


def vnc(w=320, h=240, version=0, security=b"\x00", messages=b""):
    return u8(version) + security + be16(w) + be16(h) + PIXEL_FORMAT + be32(4) + b"fuzz" + messages


def update(*rects):
    return b"\x00" + u8(len(rects)) + b"".join(rects)


def rect(x, y, w, h, encoding, payload=b""):
    return be16(x) + be16(y) + be16(w) + be16(h) + u8(encoding) + payload


def blob(data):
    return be16(len(data)) + data


# ZRLE's zlib stream runs across rectangles: flushed, never finished.
_zrle = zlib.compressobj()
ZRLE_SOLID = _zrle.compress(b"\x01\x00\x00\xff") + _zrle.flush(zlib.Z_SYNC_FLUSH)
VNC = {
    "raw": vnc(messages=update(rect(0, 0, 4, 4, 0, b"\x80" * 64)) + b"\x06"),
    "copyrect-bell": vnc(messages=update(rect(0, 0, 8, 8, 0), rect(8, 8, 8, 8, 1, be16(0) + be16(0))) + b"\x02\x05" + b"\x06"),
    "rre-hextile": vnc(messages=update(rect(0, 0, 16, 16, 2, blob(be32(1) + b"\x00" * 4 + b"\xff" * 4 + be16(1) + be16(1) + be16(2) + be16(2))),
                                       rect(16, 0, 4, 4, 4, blob(b"\x01" + b"\x40" * 64)))),
    "zrle": vnc(messages=update(rect(0, 0, 4, 4, 7, blob(be32(len(ZRLE_SOLID)) + ZRLE_SOLID)))),
    "tight-fill": vnc(messages=update(rect(0, 0, 32, 32, 6, blob(b"\x80\xff\x00\x00")))),
    "resize": vnc(messages=update(rect(0, 0, 200, 100, 10)) + b"\x05" + update(rect(0, 0, 200, 100, 0)) + b"\x06"),
    "resize-over-cap": vnc(messages=update(rect(0, 0, 321, 240, 10)) + update(rect(0, 0, 2, 2, 0))),
    "extdesktop": vnc(messages=update(rect(0, 0, 300, 200, 11, b"\x01" + b"\x00" * 3 + be32(1) + be16(0) + be16(0) + be16(300) + be16(200) + be32(0)))),
    "cursors": vnc(messages=update(rect(1, 1, 4, 4, 12, b"\xff" * 64 + b"\xf0" * 4), rect(0, 0, 8, 2, 13, b"\x00" * 6 + b"\xff" * 4), rect(5, 5, 0, 0, 14))),
    "lastrect": vnc(messages=b"\x00\x82" + rect(0, 0, 2, 2, 0, b"\x01" * 16) + rect(0, 0, 0, 0, 15)),
    "huge-init": vnc(w=65535, h=65535),
    "cuttext-colourmap": vnc(messages=b"\x03" + be32(5) + b"hello" + b"\x01" + be16(0) + b"\x02" + b"\x00" * 12),
    "vncauth-33": vnc(version=1, security=b"\x01" + bytes(range(16))),
    "refused": u8(0) + b"\x02" + u8(7) + b"go away",
}


def write(harness, seeds):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


write("fuzz_framereader", FRAMES)
write("fuzz_messages", {k: u8(sel) + p for k, (sel, p) in MESSAGES.items()})
write("fuzz_rfbfilter", RFB)
write("fuzz_records", RECORDS)
write("fuzz_inputparsers", INPUT)
write("fuzz_agentclient", AGENT)
write("fuzz_vmmapi", VMMAPI)
write("fuzz_httpadapter", HTTPADAPTER)
write("fuzz_vncconnection", VNC)
