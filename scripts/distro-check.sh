#!/usr/bin/env bash
# Builds this tree and runs its unit suites on another distribution, in a
# root made with debootstrap (run as root):
#   scripts/distro-check.sh debian-13|ubuntu-24.04 [ctest arguments...]
# Steps: a base root (debootstrap --variant=minbase, cached as a tarball),
# the packages of `scripts/setup.sh build-deps` installed in it (cached as a
# second tarball, keyed by setup.sh's contents), the source tree bind-mounted
# read-only at /src, the dev preset configured and built into /build inside
# the root (ccache in a cache directory bind-mounted at /ccache), then
# `ctest -L unit`, each command in a mount namespace whose root is the root
# (pivot_root, see in_root). Whatever it mounts it unmounts on exit (a trap), also on
# failure or Ctrl-C. Exit status: ctest's.
#
# MVS_DISTRO_CACHE  tarballs and ccache (default ~/.cache/microvm-sandbox-distro)
# MVS_DISTRO_WORK   the unpacked roots (default /var/tmp/microvm-sandbox-distro)
# MVS_DEBIAN_MIRROR the Debian mirror (default: the host's, from /etc/apt)
# MVS_UBUNTU_MIRROR the Ubuntu mirror (default http://archive.ubuntu.com/ubuntu)
# MVS_DISTRO_TARGETS build only these targets (default: all), e.g. with
#                   `-R tst_httpadapter` as ctest arguments for a quick check
set -euo pipefail

DIST=${1:-}
shift || true
SRC=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${MVS_DISTRO_CACHE:-$HOME/.cache/microvm-sandbox-distro}
WORK=${MVS_DISTRO_WORK:-/var/tmp/microvm-sandbox-distro}/$DIST
ROOT=$WORK/root
CTEST_ARGS=("$@")
[ ${#CTEST_ARGS[@]} -gt 0 ] || CTEST_ARGS=(-L unit)
# Per suite, as everywhere else in the project's tests.
CTEST_TIMEOUT_S=1200

die() {
    echo "distro-check: $*" >&2
    exit 2
}

# The Debian mirror this machine's apt uses (deb822 or one-line sources).
host_debian_mirror() {
    local uri
    uri=$( (grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'
        grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}') |
        grep -v -e security -e '^$' | grep -m1 '/debian/\?$' || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

DEBOOTSTRAP_ARGS=(--variant=minbase --include=ca-certificates)
case "$DIST" in
debian-13)
    SUITE=trixie
    MIRROR=${MVS_DEBIAN_MIRROR:-$(host_debian_mirror)}
    SCRIPT=/usr/share/debootstrap/scripts/trixie
    DEBOOTSTRAP_ARGS+=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
    ;;
ubuntu-24.04)
    SUITE=noble
    MIRROR=${MVS_UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}
    # bookworm's debootstrap has no "noble" script; every Ubuntu suite since
    # gutsy uses the same one.
    SCRIPT=/usr/share/debootstrap/scripts/noble
    [ -e "$SCRIPT" ] || SCRIPT=/usr/share/debootstrap/scripts/gutsy
    # shellcheck disable=SC2054 # one argument
    DEBOOTSTRAP_ARGS+=(--components=main,universe)
    if [ -r /usr/share/keyrings/ubuntu-archive-keyring.gpg ]; then
        DEBOOTSTRAP_ARGS+=(--keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg)
    else
        # Debian 12 does not package Ubuntu's archive keyring.
        echo "distro-check: no Ubuntu archive keyring on this host: not checking the signatures of $SUITE's Release file" >&2
        DEBOOTSTRAP_ARGS+=(--no-check-gpg)
    fi
    ;;
*) die "usage: $0 debian-13|ubuntu-24.04 [ctest arguments...]" ;;
esac
[ "$(id -u)" -eq 0 ] || die "debootstrap, namespaces and mount need root"
command -v debootstrap >/dev/null || die "needs debootstrap (apt-get install debootstrap)"

mkdir -p "$CACHE/ccache-$DIST" "$WORK"
exec 9>"$WORK.lock"
flock -n 9 || die "another distro-check of $DIST is running ($WORK.lock)"

# Mounts under the root (deepest first): a killed run's, or ones a test
# made inside the root (ip netns binds /run/netns).
stale_mounts() { awk -v root="$ROOT/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r; }

MOUNTS=()
cleanup() {
    local i m
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" || echo "distro-check: could not unmount ${MOUNTS[i]}" >&2
    done
    MOUNTS=()
    for m in $(stale_mounts); do
        umount "$m" 2>/dev/null || umount -l "$m" || echo "distro-check: could not unmount $m" >&2
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# What a killed run left under the root (this one holds the lock): gone
# before anything unpacks over or removes the root.
for m in $(stale_mounts); do
    echo "distro-check: unmounting $m, left by an earlier run" >&2
    umount "$m" 2>/dev/null || umount -l "$m"
done
[ -z "$(stale_mounts)" ] || die "cannot unmount what an earlier run left under $ROOT"

bind() { # bind SOURCE TARGET [ro]
    mkdir -p "$2"
    mount --bind "$1" "$2"
    MOUNTS+=("$2")
    [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"
}

mount_root() {
    mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
    # A sysfs of its own, writable like a machine's: a user namespace in
    # the root (the rootless network helper's) may mount its own sysfs only
    # where one is fully visible, and a read-only one is not.
    mount -t sysfs sysfs "$ROOT/sys" && MOUNTS+=("$ROOT/sys")
    bind /dev "$ROOT/dev"
    bind /dev/pts "$ROOT/dev/pts"
    bind /dev/shm "$ROOT/dev/shm"
    mount -t tmpfs -o mode=1777 tmpfs "$ROOT/tmp" && MOUNTS+=("$ROOT/tmp")
    bind "$SRC" "$ROOT/src" ro
    bind "$CACHE/ccache-$DIST" "$ROOT/ccache"
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
}

# A command in the root as in a container rather than a chroot: its own
# mount namespace whose root the work root becomes (pivot_root), with the old
# root detached. The kernel refuses user namespaces to a chrooted process
# (tst_rootlessnetwork's helper needs one) and `ip netns` wants a mount
# namespace of its own (tst_testinternet); here both work as on a machine,
# and what the command mounts ends with its namespace.
in_root() {
    unshare --mount --propagation private -- /bin/sh -c '
        root=$1
        shift
        mount --rbind "$root" "$root" && cd "$root" && mkdir -p .mvs-oldroot &&
            pivot_root . .mvs-oldroot &&
            exec /bin/sh -c "cd / && umount -l /.mvs-oldroot && rmdir /.mvs-oldroot && exec \"\$@\"" sh "$@"' sh "$ROOT" \
        /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        CCACHE_DIR=/ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache "$@"
}

# The VMM user and its subordinate ids, as `setup.sh deps` makes them on a
# real machine: the unit suites that run as root (tst_chapiclient's VMM
# cases) start VMMs as that user and refuse to without it.
vmm_user() {
    in_root sh -c 'getent passwd microvm-sandbox-vmm >/dev/null ||
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin --user-group microvm-sandbox-vmm'
    in_root sh -c 'grep -q "^microvm-sandbox-vmm:" /etc/subuid 2>/dev/null || echo microvm-sandbox-vmm:131072:65536 >>/etc/subuid
        grep -q "^microvm-sandbox-vmm:" /etc/subgid 2>/dev/null || echo microvm-sandbox-vmm:131072:65536 >>/etc/subgid'
}

# Unpack a tarball as the work root, replacing what was there.
unpack() {
    rm -rf --one-file-system "$ROOT"
    mkdir -p "$ROOT"
    tar --zstd -xpf "$1" -C "$ROOT"
}

pack() { # pack TARBALL: the root as it is now (nothing mounted)
    tar --zstd -cpf "$1.part" -C "$ROOT" --one-file-system . && mv "$1.part" "$1"
}

# The root with the build packages: from the work root when it is the one
# for this setup.sh, else from the cache, else made (and cached).
prepare_root() {
    local key base prepared
    key=$(sha256sum <"$SRC/scripts/setup.sh" | cut -c1-16)
    base=$CACHE/$DIST-base.tar.zst
    prepared=$CACHE/$DIST-deps-$key.tar.zst
    if [ "$(cat "$ROOT/.mvs-distro-key" 2>/dev/null)" = "$key" ]; then
        echo "== $DIST: the prepared root in $ROOT"
        return
    fi
    if [ -e "$prepared" ]; then
        echo "== $DIST: unpacking $prepared"
        unpack "$prepared"
        return
    fi
    if [ -e "$base" ]; then
        echo "== $DIST: unpacking $base"
        unpack "$base"
    else
        echo "== $DIST: debootstrap $SUITE from $MIRROR"
        rm -rf --one-file-system "$ROOT"
        debootstrap "${DEBOOTSTRAP_ARGS[@]}" "$SUITE" "$ROOT" "$MIRROR" "$SCRIPT"
        in_root apt-get clean
        pack "$base"
    fi
    echo "== $DIST: installing the build packages (scripts/setup.sh build-deps)"
    mount_root
    in_root /src/scripts/setup.sh build-deps
    in_root apt-get clean
    cleanup
    echo "$key" >"$ROOT/.mvs-distro-key"
    rm -f "$CACHE/$DIST"-deps-*.tar.zst
    pack "$prepared"
}

phase() { # phase NAME COMMAND...: runs it, prints its duration
    local start=$SECONDS status=0
    "${@:2}" || status=$?
    echo "== $DIST: $1 took $((SECONDS - start)) s (exit $status)"
    return $status
}

phase prepare prepare_root
mount_root
echo "== $DIST: $(in_root sh -c '. /etc/os-release; echo $PRETTY_NAME'), Qt $(in_root sh -c 'dpkg-query -W -f "\${Version}" qt6-base-dev'), QEMU $(in_root sh -c 'dpkg-query -W -f "\${Version}" qemu-system-x86'), libvncclient $(in_root pkg-config --modversion libvncclient)"
vmm_user
phase configure in_root cmake -S /src -B /build --preset dev >/dev/null
# -k 0: every compile error at once.
TARGETS=()
[ -z "${MVS_DISTRO_TARGETS:-}" ] || read -r -a TARGETS <<<"--target $MVS_DISTRO_TARGETS"
phase build in_root cmake --build /build -j"$(nproc)" "${TARGETS[@]}" -- -k 0
status=0
phase ctest in_root ctest --test-dir /build --output-on-failure --timeout "$CTEST_TIMEOUT_S" -j2 "${CTEST_ARGS[@]}" || status=$?
exit $status
