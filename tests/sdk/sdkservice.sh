#!/bin/sh
# sdkservice.sh start BINARY STATEFILE | stop STATEFILE
# The ctest fixture of the Python SDK's suites: `start` runs the real
# `microvm-sandbox --serve` on a free port of 127.0.0.1 with a fresh state
# directory ($TMPDIR/tst_sdk-XXXXXX: data, config, runtime) and a fresh
# token, waits until it answers /api/v1/health, and writes MVS_URL,
# MVS_TOKEN, the directory and the pid to STATEFILE (sourced by the suites'
# conftest). `stop` (the cleanup step, run also after a crash) sends SIGTERM
# (the service stops its VMs), SIGKILL after a grace, then ends any VMM
# left under the directory (reaptestvmms.sh), the service's host network
# (vmnetcleanup.sh: its table and resolvers) and removes the directory.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")" && pwd)
tests=$(dirname "$here")
START_TIMEOUT_S=60
STOP_TIMEOUT_S=60

# Whether pid $1 is the service of state directory $2 (its environment names it).
is_ours() {
    { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "MVS_DATA_DIR=$2/data"
}

# Removes state directory $1 of service $2, only when it is one `start`
# made (mktemp's $TMPDIR/tst_sdk-XXXXXX) and the service is gone.
remove_state_dir() {
    case "$1" in
    "${TMPDIR:-/tmp}"/tst_sdk-??????) ;;
    *)
        echo "not removing '$1': not a state directory of this fixture"
        return 0
        ;;
    esac
    [ -d "$1" ] && [ ! -L "$1" ] || return 0
    if is_ours "$2" "$1"; then
        echo "not removing $1: the service (pid $2) still runs"
        return 0
    fi
    rm -rf -- "$1"
}

stop() {
    state=$1
    [ -f "$state" ] || exit 0
    . "$state"
    if is_ours "$SDK_SERVICE_PID" "$SDK_STATE_DIR"; then
        kill -TERM "$SDK_SERVICE_PID" 2>/dev/null
        i=0
        while is_ours "$SDK_SERVICE_PID" "$SDK_STATE_DIR" && [ $i -lt $((STOP_TIMEOUT_S * 5)) ]; do
            sleep 0.2
            i=$((i + 1))
        done
        if is_ours "$SDK_SERVICE_PID" "$SDK_STATE_DIR"; then
            kill -KILL "$SDK_SERVICE_PID" 2>/dev/null && echo "killed the service (pid $SDK_SERVICE_PID): it did not stop in ${STOP_TIMEOUT_S} s"
        fi
    fi
    instance=$(printf '%s' "$SDK_STATE_DIR/data/vms" | sha256sum | cut -c1-12)
    "$tests/e2e/vmnetcleanup.sh" "$instance" mvs_sdk_noguard
    if [ -f "$SDK_STATE_DIR/serve.log" ]; then
        echo "== the service's log (end)"
        tail -n 40 "$SDK_STATE_DIR/serve.log"
    fi
    "$tests/reaptestvmms.sh" tst_sdk
    remove_state_dir "$SDK_STATE_DIR" "$SDK_SERVICE_PID"
    rm -f "$state"
    exit 0
}

start() {
    binary=$1
    state=$2
    [ -f "$state" ] && (stop "$state")
    dir=$(mktemp -d "${TMPDIR:-/tmp}/tst_sdk-XXXXXX") || exit 1
    mkdir -p "$dir/data" "$dir/config" "$dir/run"
    chmod 700 "$dir/run"
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    # A VM with a NIC (a template asking for one) resolves through nothing:
    # no query leaves the machine.
    MVS_DATA_DIR="$dir/data" MVS_CONFIG_DIR="$dir/config" MVS_RUNTIME_DIR="$dir/run" MVS_TOKEN="$token" MVS_NET_UPSTREAMS="127.0.0.1#9" \
        setsid "$binary" --serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 </dev/null &
    pid=$!
    cat >"$state" <<EOS
SDK_STATE_DIR='$dir'
SDK_SERVICE_PID=$pid
MVS_URL='http://127.0.0.1:$port'
MVS_TOKEN='$token'
EOS
    i=0
    while [ $i -lt $((START_TIMEOUT_S * 5)) ]; do
        if /usr/bin/python3 -c "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/api/v1/health', timeout=2).status == 200 else 1)" 2>/dev/null; then
            echo "the service (pid $pid) answers on http://127.0.0.1:$port, state in $dir"
            exit 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
        i=$((i + 1))
    done
    echo "the service did not come up; its log:"
    cat "$dir/serve.log"
    (stop "$state")
    exit 1
}

case "${1:-}" in
start) start "$2" "$3" ;;
stop) stop "$2" ;;
*)
    echo "usage: $0 start BINARY STATEFILE | stop STATEFILE" >&2
    exit 2
    ;;
esac
