#!/usr/bin/env bash
# One entry point for a fresh Debian 12 (bookworm), Debian 13 (trixie) or
# Ubuntu 24.04 (noble) machine (run as root, or with sudo):
#   scripts/setup.sh run         install what is needed, build, prepare the default
#                                image and run the main job in a fresh microVM
#   scripts/setup.sh test        install, build and run the whole test suite
#   scripts/setup.sh deps        only install the packages
#   scripts/setup.sh build-deps  only the packages that build the tree and run
#                                its unit suites (scripts/distro-check.sh uses it)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
shift || true

PACKAGES=(
    g++ cmake ninja-build pkg-config git
    qt6-base-dev qt6-httpserver-dev qt6-websockets-dev qt6-tools-dev qt6-l10n-tools qt6-tools-dev-tools
    libqt6svg6   # Qt's SVG icon engine: the app's own icons where the desktop theme lacks them
    libvncserver-dev libyaml-cpp-dev libspdlog-dev libssl-dev
    qemu-system-x86 qemu-utils cpio
    debootstrap e2fsprogs
    novnc   # the service's browser viewer (/vnc/{name}) serves Debian's noVNC
    qemu-guest-agent
    # networking (issue 15): the VMs' filter, their resolvers, the user-mode backend,
    # the taps' addresses (iproute2's ip)
    # (dnsmasq-base: the binary only, no system-wide resolver service)
    nftables dnsmasq-base passt iproute2
    # tests/vncview and bench_vnc: a host Xvnc and X clients to drive it
    tigervnc-standalone-server tigervnc-tools xdotool x11-xserver-utils xterm xclip
)

# Which distribution this is (/etc/os-release): "debian-12", "debian-13",
# "ubuntu-24.04". The package names above are the same on the three; what
# differs is added where it is used (the test packages, below). Another one
# is tried with bookworm's names, with a warning.
distro_id() {
    local ID="" VERSION_ID=""
    # shellcheck disable=SC1091
    [ -r /etc/os-release ] && . /etc/os-release
    echo "${ID:-unknown}-${VERSION_ID:-unknown}"
}
DISTRO=$(distro_id)
case "$DISTRO" in
debian-12 | debian-13 | ubuntu-24.04) ;;
*) echo "warning: $DISTRO is not one of debian-12, debian-13, ubuntu-24.04; trying bookworm's package names" >&2 ;;
esac
# Ubuntu keeps novnc, passt and xdotool in universe.
ensure_ubuntu_universe() {
    [ "${DISTRO%%-*}" = ubuntu ] || return 0
    if ! grep -rqsE '^(deb .* universe|Components:.*universe)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "Ubuntu's universe component is not enabled; enable it (add-apt-repository universe) and run this again" >&2
        exit 1
    fi
}

# The MCP tests run the official TypeScript SDK, LangChain's MCP adapters and
# the OpenAI Agents SDK (tests/mcp): Debian's nodejs and npm, unless a node
# with npm is already installed (e.g. from NodeSource; install_deps adds
# them). The agent frameworks need node 20.10 or later (bookworm's is 18: use
# NodeSource's nodejs 20; trixie's and noble's are 20 or later).

# Extra arguments of every configure (`test` sets some).
CONFIGURE_ARGS=()

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {
    # The node test clients' runtime, unless a node with npm is already there.
    command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)
    install_packages
    ensure_vmm_user
    ensure_tun_mode
}

install_packages() {
    ensure_ubuntu_universe
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "== installing: ${missing[*]}"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    # The image builder downloads Debian packages (kernel, busybox) with
    # apt-get download: it needs package lists.
    if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
        as_root apt-get update -q
    fi
}

# A service that is not root (the desktop app) creates its VMs' taps in a
# user namespace of its own (core/net/rootlessnetwork.h), which needs
# /dev/net/tun open to everyone: Debian's default (udev's 50-udev-default
# rules make it 0666; the kernel alone makes it 0600, as on machines
# without udev). Opening it grants nothing: creating or attaching a tap
# still needs CAP_NET_ADMIN in the tap's network namespace.
ensure_tun_mode() {
    [ "$(id -u)" -eq 0 ] && [ -c /dev/net/tun ] || return 0
    [ "$(stat -c %a /dev/net/tun)" = 666 ] || chmod 0666 /dev/net/tun
}

# A service running as root starts its VMMs (QEMU, cloud-hypervisor) as this
# unprivileged system user (core/vmm/vmmcredentials.h); it owns no files: the
# service passes the VMM what it needs as open descriptors. In the kvm group
# (where there is one) so that it may use /dev/kvm.
VMM_USER=microvm-sandbox-vmm
ensure_vmm_user() {
    [ "$(id -u)" -eq 0 ] || return 0
    if ! getent passwd "$VMM_USER" >/dev/null; then
        echo "== creating the system user $VMM_USER (runs the VMMs of a service started as root)"
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group "$VMM_USER"
    fi
    if getent group kvm >/dev/null && ! id -nG "$VMM_USER" | grep -qw kvm; then
        usermod -a -G kvm "$VMM_USER"
    fi
    ensure_vmm_subids /etc/subuid /etc/subgid
}

# Each VMM runs as a uid and gid of its own (so that one cannot ptrace
# another or open its files through /proc): taken from a range of
# subordinate ids the VMM user owns, SUBID_COUNT of them in each file.
SUBID_COUNT=65536
SUBID_FLOOR=100000

# The first SUBID_COUNT-aligned block of SUBID_COUNT ids at or above
# SUBID_FLOOR that overlaps no range listed in the given files.
free_subid_block() {
    local files=() f
    for f in "$@"; do [ -e "$f" ] && files+=("$f"); done
    awk -F: -v block="$SUBID_COUNT" -v floor="$SUBID_FLOOR" '
        $1 !~ /^[[:space:]]*#/ && NF == 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { n++; lo[n] = $2 + 0; hi[n] = $2 + $3 }
        END {
            c = int((floor + block - 1) / block) * block
            do {
                moved = 0
                for (i = 1; i <= n; i++)
                    if (lo[i] < c + block && hi[i] > c) { c = int((hi[i] + block - 1) / block) * block; moved = 1 }
            } while (moved)
            if (c + block - 1 > 4294967294) exit 1
            print c
        }' "${files[@]}" /dev/null
}

# Whether $1 (a file) gives the user $2 (or its uid $3) a non-empty range.
has_subids() {
    [ -e "$1" ] && awk -F: -v user="$2" -v uid="$3" '($1 == user || $1 == uid) && $3 ~ /^[0-9]+$/ && $3 > 0 { found = 1 } END { exit !found }' "$1"
}

# Adds a range to the VMM user in either file ($1 subuid, $2 subgid) that has
# none; idempotent. On other files than /etc's (a dry run) it appends the line.
ensure_vmm_subids() {
    local subuid=$1 subgid=$2 uid first last
    uid=$(id -u "$VMM_USER")
    if has_subids "$subuid" "$VMM_USER" "$uid" && has_subids "$subgid" "$VMM_USER" "$uid"; then
        return 0
    fi
    first=$(free_subid_block "$subuid" "$subgid") || { echo "no free block of $SUBID_COUNT subordinate ids for $VMM_USER" >&2; return 1; }
    last=$((first + SUBID_COUNT - 1))
    echo "== giving $VMM_USER the subordinate ids $first-$last (one uid and gid per VMM)"
    local options=()
    has_subids "$subuid" "$VMM_USER" "$uid" || options+=(--add-subuids "$first-$last")
    has_subids "$subgid" "$VMM_USER" "$uid" || options+=(--add-subgids "$first-$last")
    if [ "$subuid" = /etc/subuid ] && [ "$subgid" = /etc/subgid ]; then
        usermod "${options[@]}" "$VMM_USER"
    else
        has_subids "$subuid" "$VMM_USER" "$uid" || echo "$VMM_USER:$first:$SUBID_COUNT" >>"$subuid"
        has_subids "$subgid" "$VMM_USER" "$uid" || echo "$VMM_USER:$first:$SUBID_COUNT" >>"$subgid"
    fi
}

build() {
    local preset=$1
    shift
    echo "== building ($preset)"
    cmake --preset "$preset" "${CONFIGURE_ARGS[@]}" >/dev/null
    if [ $# -gt 0 ]; then
        cmake --build --preset "$preset" -j"$(nproc)" --target "$@"
    else
        cmake --build --preset "$preset" -j"$(nproc)"
    fi
}

case "$mode" in
deps)
    install_deps
    ;;
build-deps)
    # No node and no VMM user: what building the tree and `ctest -L unit` need.
    # prometheus: promtool for tst_monitoring (no server runs in a build root);
    # pip and npm: tst_testinternet installs a package with each from its hosts.
    PACKAGES+=(ccache xvfb xauth python3 python3-ipykernel python3-jupyter-client python3-matplotlib prometheus python3-pip)
    # A node from elsewhere (NodeSource) brings its own npm and conflicts with Debian's.
    command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)
    install_packages
    ;;
run)
    install_deps
    build release microvm-sandbox microvm-agent
    bin=build/release/app/microvm-sandbox
    echo "== preparing the default image (built once, then cached)"
    "$bin" image build --template minimal
    echo "== a first microVM from the default template: microvm-sandbox run --template minimal -- uname -a"
    "$bin" run --template minimal -- uname -a
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
        echo "== starting the app (the service runs inside it)"
        exec "$bin"
    fi
    echo "== no display: starting the service headless (Ctrl-C stops it); create a VM with"
    echo "   $bin vm create box --template minimal && $bin vm exec box -- uname -a"
    exec "$bin" --serve
    ;;
test)
    # The browser test drives Debian's Chromium (never a downloaded browser;
    # Ubuntu's chromium is a snap, which the test cannot drive: none there).
    [ "${DISTRO%%-*}" = ubuntu ] || PACKAGES+=(chromium)
    PACKAGES+=(xvfb xauth)  # xvfb: the window's screenshot test runs under a real X server
    PACKAGES+=(clang libclang-rt-dev)  # the fuzz harnesses: clang and its libFuzzer runtime (libclang_rt.fuzzer)
    # The Python SDK (sdk/python) and its pytest suites (tst_sdk*); the venv and pip for tst_sdk_install.
    PACKAGES+=(python3-httpx python3-websockets python3-pytest python3-pytest-asyncio python3-setuptools python3-wheel python3-pip python3-venv)
    # The code runner's unit tests (tst_coderunner, tst_guestcoderunner) run the real mvs-code-runner on the host.
    PACKAGES+=(python3-ipykernel python3-jupyter-client python3-matplotlib)
    # tst_package: the .deb's checks (lintian, desktop-file-validate, appstreamcli,
    # systemd-analyze) and its bookworm root (debootstrap, a zstd tarball; curl asks --serve).
    PACKAGES+=(lintian desktop-file-utils appstream systemd debootstrap zstd curl)
    # promtool for tst_monitoring (packaging/monitoring/); the Prometheus
    # server the package brings is not wanted here: stopped and disabled.
    PACKAGES+=(prometheus)
    install_deps
    if command -v systemctl > /dev/null && systemctl is-enabled prometheus > /dev/null 2>&1; then
        systemctl disable --now prometheus || true
    fi
    echo "== installing the MCP and browser test clients and the OpenAPI linter (tests/mcp, tests/browser, tests/apidocs, exact versions from package-lock.json)"
    npm ci --prefix tests/mcp --no-audit --no-fund
    npm ci --prefix tests/apidocs --no-audit --no-fund
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --no-audit --no-fund
    # Configure fails, naming what is missing, rather than leave the MCP
    # client tests (tst_mcp, tst_mcp_langchain, tst_mcp_openai_agents) out.
    CONFIGURE_ARGS+=(-DMVS_REQUIRE_NODE_TESTS=ON)
    build dev
    echo "== preparing the default image (built once, then cached)"
    build/dev/app/microvm-sandbox image build --template minimal
    # The root disks (debootstrap once, then cached) build in the background
    # while the sanitizer build and the fuzzers use the CPU: much of
    # debootstrap's time is download and disk.
    echo "== preparing the desktop, agent and computer-use images in the background (debootstrap once, then cached)"
    images_log=$(mktemp)
    (for template in desktop agent computer-use; do
        build/dev/app/microvm-sandbox image build --template "$template" || exit 1
    done) > "$images_log" 2>&1 &
    images_pid=$!
    # The suites of code that tears itself down from its own callbacks also
    # run under AddressSanitizer + UBSan (a double free there once crashed
    # every first run).
    build asan tst_kvmbootprobe tst_async tst_workerpool tst_snapshotsavejob tst_bootjob tst_vmmanagerstates tst_vmteardown tst_agentclient tst_forwardedstream tst_vmmanager tst_router tst_requestauth tst_httpmapping
    echo "== running the teardown suites under the asan preset"
    ctest --test-dir build/asan --output-on-failure --timeout 600 -j2 -R '^(tst_kvmbootprobe|tst_async|tst_workerpool|tst_snapshotsavejob|tst_bootjob|tst_vmmanagerstates|tst_vmteardown|tst_agentclient|tst_forwardedstream|tst_vmmanager|tst_router|tst_requestauth|tst_httpmapping)$'
    # Every libFuzzer harness (fuzz/) for a bounded time on a copy of its
    # seeds; any crash, leak or timeout fails. Longer runs: scripts/fuzz.sh 600.
    scripts/fuzz.sh 20
    echo "== waiting for the root disks"
    if ! wait "$images_pid"; then
        cat "$images_log"
        echo "building the images failed" >&2
        exit 1
    fi
    cat "$images_log"
    rm -f "$images_log"
    echo "== running the test suite"
    ctest --test-dir build/dev --output-on-failure --timeout 1200 -j2 "$@"
    ;;
*)
    echo "usage: $0 run|test|deps" >&2
    exit 2
    ;;
esac
