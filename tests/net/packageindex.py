"""The test internet's package hosts (see testinternet.sh): a PEP 503
"simple" Python package index and a static npm registry, each holding one
tiny package built here at start, from the standard library alone.

Python: the distribution mvs-tiny 1.0.0 (module mvs_tiny, ANSWER = 42) as a
pure wheel, mvs_tiny-1.0.0-py3-none-any.whl, with METADATA, WHEEL and a
RECORD of sha256 digests and sizes.
  GET /simple/            the project list
  GET /simple/mvs-tiny/   the project's page: a relative link to the wheel
                          with its #sha256= (so the files come from the same host)
  GET /files/<wheel>      the wheel
npm: the package mvs-tiny 1.0.0 (module.exports = {answer: 42}) as a gzipped
tarball of package/package.json and package/index.js.
  GET /mvs-tiny                     its metadata (the packument): dist-tags,
                                    the version with dist.tarball (an absolute
                                    URL on the Host the client asked),
                                    dist.shasum (sha1) and dist.integrity (sha512)
  GET /mvs-tiny/-/mvs-tiny-1.0.0.tgz  the tarball
Anything else is None (the caller answers 404).
"""

import base64
import gzip
import hashlib
import io
import json
import tarfile
import zipfile

kName = "mvs-tiny"
kModule = "mvs_tiny"
kVersion = "1.0.0"
kAnswer = 42
kWheel = "%s-%s-py3-none-any.whl" % (kModule, kVersion)
kTarball = "%s-%s.tgz" % (kName, kVersion)
kFixedTime = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: the same bytes every start


def _record_digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel():
    dist_info = "%s-%s.dist-info" % (kModule, kVersion)
    files = [
        ("%s/__init__.py" % kModule, b'"""A tiny package of the test internet."""\nANSWER = %d\n' % kAnswer),
        ("%s/METADATA" % dist_info,
         ("Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: A tiny package of the test internet\n" % (kName, kVersion)).encode()),
        ("%s/WHEEL" % dist_info, b"Wheel-Version: 1.0\nGenerator: mvs-testhosts\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = "".join("%s,%s,%d\n" % (path, _record_digest(data), len(data)) for path, data in files)
    record += "%s/RECORD,,\n" % dist_info
    files.append(("%s/RECORD" % dist_info, record.encode()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files:
            info = zipfile.ZipInfo(path, date_time=kFixedTime)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    return out.getvalue()


def build_tarball():
    files = [
        ("package/package.json",
         json.dumps({"name": kName, "version": kVersion, "main": "index.js", "license": "MIT"}, indent=2).encode() + b"\n"),
        ("package/index.js", b"module.exports = { answer: %d };\n" % kAnswer),
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            t.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as z:
        z.write(raw.getvalue())
    return out.getvalue()


class Packages:
    def __init__(self):
        self.wheel = build_wheel()
        self.tarball = build_tarball()

    def _packument(self, host):
        dist = {
            "tarball": "http://%s/%s/-/%s" % (host, kName, kTarball),
            "shasum": hashlib.sha1(self.tarball).hexdigest(),
            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(self.tarball).digest()).decode(),
        }
        version = {"name": kName, "version": kVersion, "main": "index.js", "license": "MIT", "dist": dist}
        return {"name": kName, "dist-tags": {"latest": kVersion}, "versions": {kVersion: version}}

    def answer(self, path, host):
        """(content type, body) for GET path on the host the client named, or None."""
        path = path.split("?", 1)[0]
        if path == "/simple/":
            return "text/html", ('<!DOCTYPE html>\n<html><body><a href="%s/">%s</a></body></html>\n' % (kName, kName)).encode()
        if path in ("/simple/%s/" % kName, "/simple/%s" % kName):
            link = "../../files/%s#sha256=%s" % (kWheel, hashlib.sha256(self.wheel).hexdigest())
            if not path.endswith("/"):
                link = link[len("../"):]
            return "text/html", ('<!DOCTYPE html>\n<html><body><a href="%s">%s</a></body></html>\n' % (link, kWheel)).encode()
        if path == "/files/" + kWheel:
            return "application/octet-stream", self.wheel
        if path == "/" + kName:
            return "application/json", json.dumps(self._packument(host)).encode()
        if path == "/%s/-/%s" % (kName, kTarball):
            return "application/octet-stream", self.tarball
        return None
