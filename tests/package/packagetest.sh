#!/usr/bin/env bash
# tst_package: build the .deb from this tree and prove it installs and works
# on a fresh Debian bookworm.
#   packagetest.sh <build dir> <project version>
# 1. cpack -G DEB on the build; lintian (errors and warnings fail; the
#    package's overrides apply), desktop-file-validate, appstreamcli validate.
# 2. A bookworm root: debootstrap --variant=minbase from this machine's
#    mirror, plus the package's Depends and Recommends and the test's tools
#    (systemd for systemd-analyze, man-db for its man page check), installed
#    with apt. Kept as a tarball in ~/.cache/microvm-sandbox-test, keyed by
#    the ISO week and that package list, so a re-run only unpacks it; the
#    downloaded packages are kept there too (debs/, apt-archives/), so the
#    next week's root downloads only what changed.
# 3. In a copy of it (a chroot with /proc, /sys and /dev mounted, all
#    unmounted on exit, failure included): dpkg -i + apt-get -f install,
#    then microvm-sandbox --version, systemd-analyze verify of the unit, and
#    --serve (in a network namespace of its own, so that a root service's
#    host network never touches this machine's) answering /api/v1/health,
#    template list, noVNC's files and the agent found (image path), all with
#    no MVS_* variable set.
#   packagetest.sh --reap <build dir>
# The ctest cleanup step after it (a run killed past its trap, by SIGKILL or
# ctest's timeout): ends the processes chrooted in a run's root, deletes the
# network namespace of a run that is gone, unmounts and removes its work
# directory.
set -euo pipefail

reap() {
    local build=$1 dir pid ns
    for dir in "$build"/tst_package.*; do
        [ -d "$dir" ] || continue
        dir=$(realpath "$dir")
        for pid in $(ls /proc | grep -E '^[0-9]+$'); do
            case $(readlink "/proc/$pid/root" 2>/dev/null) in "$dir"/*) kill -KILL "$pid" 2>/dev/null || true ;; esac
        done
        grep " $dir/" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" || true; done
        if grep -q " $dir/" /proc/mounts; then
            echo "tst_package: mounts left under $dir, not removing it" >&2
            continue
        fi
        rm -rf --one-file-system "$dir"
    done
    for ns in $(ip netns list | awk '$1 ~ /^mvspkg[0-9]+$/ {print $1}'); do
        kill -0 "${ns#mvspkg}" 2>/dev/null || ip netns del "$ns" || true
    done
}
if [ "${1:-}" = --reap ]; then
    reap "$(realpath "$2")"
    exit 0
fi

build=$(realpath "$1")
version=$2
suite=bookworm
cache=${MVS_PACKAGE_TEST_CACHE:-$HOME/.cache/microvm-sandbox-test}
readonly kStepTimeout=600      # s: any one step (cold debootstrap included)
readonly kServeTimeout=60      # s: --serve answering /api/v1/health
readonly kStopTimeout=30       # s: SIGTERM to exit
readonly kRootRecipe=2         # bump when the root's recipe below changes

t0=$(date +%s)
step() { echo "== [$(($(date +%s) - t0)) s] $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "tst_package needs root (debootstrap, chroot, network namespaces)"
for tool in cpack lintian desktop-file-validate appstreamcli debootstrap zstd curl ip; do
    command -v "$tool" >/dev/null || fail "$tool is missing: scripts/setup.sh test installs it"
done

work=$(mktemp -d "$build/tst_package.XXXXXX")
root=$work/root
netns=mvspkg$$
serve_pid=
mounted=()

mount_in() { # mount_in <args...> <target under root>
    mount "$@"
    mounted+=("${*: -1}")
}

unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
    done
    mounted=()
}

# Removes a root only when nothing is mounted below it any more (rm must
# never reach the host's /dev or /proc through a bind mount).
remove_root() {
    local dir=$1
    [ -d "$dir" ] || return 0
    if grep -q " $(realpath "$dir")/" /proc/mounts; then
        echo "tst_package: mounts left under $dir, not removing it:" >&2
        grep " $(realpath "$dir")/" /proc/mounts >&2
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

cleanup() {
    local rc=$?
    trap - EXIT
    if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
        kill -KILL "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    ip netns del "$netns" 2>/dev/null || true
    unmount_all
    remove_root "$work/root" && remove_root "$work/newroot" && rm -rf --one-file-system "$work" || rc=1
    step "done, exit $rc"
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_system() { # mount_system <root>
    mount_in -t proc proc "$1/proc"
    mount_in --bind /sys "$1/sys"
    mount_in --bind /dev "$1/dev"
    mount_in -t devpts -o newinstance,ptmxmode=0666 devpts "$1/dev/pts"
}

in_root() { # in_root <root> <command...>: a clean environment, as a new login would have
    local r=$1
    shift
    timeout "$kStepTimeout" chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "$@"
}

# The first deb URI of the suite in this machine's apt sources (deb822 or
# one-line), as the image builder picks it (core/image/rootfsbuilder.cpp).
host_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v suite="$suite" '
        function flush() { if (!found && types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && enabled != "no" && uris != "") { split(uris, u, " "); print u[1]; found = 1 } types = suites = uris = enabled = "" }
        /^[[:space:]]*$/ { flush(); next }
        /^#/ { next }
        { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
          if (key == "types") types = $0; else if (key == "suites") suites = $0; else if (key == "uris") uris = $0; else if (key == "enabled") enabled = $0 }
        END { flush() }')
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
            awk -v suite="$suite" '$1 == "deb" && $3 == suite && $2 ~ /^(https?|file):/ { print $2; exit }')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

# --- 1. the package ---------------------------------------------------------
step "cpack -G DEB on $build"
timeout "$kStepTimeout" cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/cpack" >"$work/cpack.log" 2>&1 ||
    { cat "$work/cpack.log"; fail "cpack failed"; }
deb=$(ls "$work"/cpack/microvm-sandbox_"$version"_*.deb)
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -Ev '/$' | sort

step "lintian"
timeout "$kStepTimeout" lintian --fail-on error,warning --display-info "$deb" || fail "lintian found errors or warnings (above)"

step "desktop-file-validate, appstreamcli validate"
dpkg-deb -x "$deb" "$work/contents"
desktop-file-validate "$work/contents/usr/share/applications/microvm-sandbox.desktop"
appstreamcli validate --no-net --pedantic "$work"/contents/usr/share/metainfo/*.metainfo.xml

# --- 2. the bookworm root -----------------------------------------------------
# First alternatives of Depends and Recommends, versions dropped.
deps() {
    dpkg-deb -f "$deb" Depends Recommends | sed -e 's/^[A-Za-z]*: //' | tr ',' '\n' |
        sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u
}
packages=$( (deps; echo systemd; echo man-db) | sort -u | tr '\n' ' ')
mirror=$(host_mirror)
key=$(date -u +%G-w%V)-$(echo "$kRootRecipe $suite $mirror $packages" | sha256sum | cut -c1-16)
tarball=$cache/root-$suite-$key.tar.zst
mkdir -p "$cache/debs"
# Debian packages of versions no longer in the mirror's index go after a month.
find "$cache/debs" "$cache/apt-archives" -name "*.deb" -mtime +30 -delete 2>/dev/null || true
exec 9>"$cache/lock"
flock 9
if [ ! -f "$tarball" ]; then
    step "making the $suite root $key: debootstrap from $mirror, then apt-get install $packages"
    newroot=$work/newroot
    timeout "$kStepTimeout" debootstrap --variant=minbase --arch=amd64 --cache-dir="$cache/debs" "$suite" "$newroot" "$mirror" \
        >"$work/debootstrap.log" 2>&1 || { tail -40 "$work/debootstrap.log"; fail "debootstrap failed"; }
    cp /etc/resolv.conf "$newroot/etc/resolv.conf"
    mount_system "$newroot"
    # apt's downloads stay in the cache (not in the tarball) for the next week's root.
    mkdir -p "$cache/apt-archives/partial"
    mount_in --bind "$cache/apt-archives" "$newroot/var/cache/apt/archives"
    # shellcheck disable=SC2086 # a list of package names
    in_root "$newroot" apt-get install -y -q --no-install-recommends $packages >"$work/apt.log" 2>&1 ||
        { tail -40 "$work/apt.log"; fail "the package's dependencies do not install from apt"; }
    unmount_all
    rm -f "$newroot"/var/cache/apt/*.bin # apt's own caches, remade when needed
    tar --zstd -C "$newroot" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    remove_root "$newroot"
    find "$cache" -maxdepth 1 -name "root-*.tar.zst" ! -name "$(basename "$tarball")" -delete
    step "root cached: $(du -h "$tarball" | cut -f1)"
fi
flock -u 9

# --- 3. install and run -------------------------------------------------------
step "unpacking the root"
mkdir "$root"
tar --zstd -C "$root" -xf "$tarball"
mount_system "$root"
cp "$deb" "$root/tmp/"

step "dpkg -i, apt-get -f install"
in_root "$root" dpkg -i "/tmp/$(basename "$deb")" || true
in_root "$root" apt-get -f install -y -q --no-install-recommends
in_root "$root" dpkg-query -W -f='${Status}\n' microvm-sandbox | grep -q "install ok installed" || fail "microvm-sandbox is not installed"
in_root "$root" id microvm-sandbox-vmm || fail "postinst did not create the VMM user"
grep -q '^microvm-sandbox-vmm:[0-9]*:65536$' "$root/etc/subuid" || fail "postinst gave the VMM user no subordinate uids"

step "microvm-sandbox --version"
got=$(in_root "$root" microvm-sandbox --version)
echo "$got"
[ "$got" = "microvm-sandbox $version" ] || fail "--version said '$got'"

step "systemd-analyze verify"
in_root "$root" systemd-analyze verify /lib/systemd/system/microvm-sandbox.service || fail "systemd-analyze verify failed"

step "the agent and the templates are found (image path)"
out=$(in_root "$root" microvm-sandbox image path --template minimal 2>&1 || true)
echo "$out"
echo "$out" | grep -q "is not built" || fail "image path did not get as far as the image cache: '$out'"

step "--serve in network namespace $netns"
ip netns add "$netns"
ip netns exec "$netns" ip link set lo up
port=$(ip netns exec "$netns" /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ip netns exec "$netns" chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    microvm-sandbox --serve --listen "127.0.0.1:$port" --token-file /root/token >"$work/serve.log" 2>&1 &
serve_pid=$!
url=http://127.0.0.1:$port
for ((i = 0; i < kServeTimeout * 2; i++)); do
    ip netns exec "$netns" curl -sf "$url/api/v1/health" >"$work/health.json" 2>/dev/null && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.log"; fail "--serve exited"; }
    sleep 0.5
done
[ -s "$work/health.json" ] || { cat "$work/serve.log"; fail "--serve did not answer /api/v1/health within $kServeTimeout s"; }
cat "$work/health.json"
echo
token=$(cat "$root/root/token")

step "template list"
list=$(ip netns exec "$netns" chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
    microvm-sandbox template list --url "$url" --token "$token")
echo "$list"
for t in minimal agent desktop computer-use; do
    echo "$list" | grep -q "^$t " || fail "template list lacks $t"
done

step "noVNC for the viewer"
code=$(ip netns exec "$netns" curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$url/novnc/core/rfb.js")
[ "$code" = 200 ] || fail "GET /novnc/core/rfb.js answered $code"

step "SIGTERM"
kill -TERM "$serve_pid"
for ((i = 0; i < kStopTimeout * 2; i++)); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.5
done
kill -0 "$serve_pid" 2>/dev/null && fail "--serve still runs $kStopTimeout s after SIGTERM"
wait "$serve_pid" || fail "--serve exited with $? after SIGTERM"
serve_pid=
echo "PASS tst_package in $(($(date +%s) - t0)) s"
