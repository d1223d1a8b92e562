#!/bin/sh
# sdkinstall.sh SDK_DIR: the SDK installs offline, as the README says: in a
# venv that sees Debian's packages (python3-httpx, python3-websockets,
# python3-setuptools), `pip install --no-index --no-build-isolation` of a
# copy of SDK_DIR (the build writes next to its sources), then both modules
# import from the venv with their py.typed. Everything lives in a temporary
# directory removed on exit.
set -eu
sdk=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tst_sdk_install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
cp -r "$sdk" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/src/*.egg-info
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --no-index --no-build-isolation "$tmp/src"
cd "$tmp"
"$tmp/venv/bin/python" - "$tmp/venv" <<'PY'
import os, sys
import microvm_sandbox, microvm_client
venv = sys.argv[1]
for mod in (microvm_sandbox, microvm_client):
    here = os.path.dirname(mod.__file__)
    assert here.startswith(venv), f"{mod.__name__} imported from {here}, not the venv"
    assert os.path.exists(os.path.join(here, "py.typed")), f"{mod.__name__} has no py.typed"
from importlib.metadata import version
assert version("microvm-sandbox") == microvm_sandbox.__version__
print("installed", microvm_sandbox.__version__, "in", venv)
PY
