#!/bin/sh
# testinternet.sh up|down|cleanup|status TAG: the test internet of the end-to-end
# tests and the benchmark, built on this machine. No packet of it ever leaves
# the machine: its hosts live in a network namespace at documentation
# addresses (TEST-NET-2 198.51.100.0/24, TEST-NET-3 203.0.113.0/24); it never
# touches 192.0.2.0/24 (the machine's own network) or the host's default route.
#
#   host                                namespace mvsti-TAG
#   mvsti-TAG 198.51.100.1/24  <-veth->  eth0 198.51.100.2  DNS (dnsmasq, zone test)
#   route 203.0.113.0/28                      198.51.100.10 allowed.test: HTTP 80,
#         via 198.51.100.2                          sink 5001, source 5002, echo 5003
#                                             198.51.100.20 denied.test: HTTP 80
#                                             198.51.100.30 pypi.test, .31 pypi.org,
#                                             198.51.100.40 npm.test, .41 registry.npmjs.org:
#                                                   HTTP 80, package hosts
#                                         lo  203.0.113.10  other.test: HTTP 80
#
# DNS (198.51.100.2:53 UDP and TCP, no upstream, NXDOMAIN for every name it
# does not hold, a TTL of 60 s on its answers as on the real internet):
#   allowed.test A 198.51.100.10   denied.test A 198.51.100.20   other.test A 203.0.113.10
#   www.allowed.test CNAME allowed.test   alias.test CNAME denied.test
#   pypi.test A 198.51.100.30   pypi.org A 198.51.100.31
#   npm.test A 198.51.100.40    registry.npmjs.org A 198.51.100.41
# pypi.org and registry.npmjs.org are the agent template's own allowed names:
# only the VMs' resolvers (whose upstream is this server) ever ask it; the
# host's resolver and its mirrors are untouched.
# HTTP (testhosts.py): GET / answers the host's name and a newline ("allowed.test\n");
#   GET /zero/N answers N zero bytes. The package hosts also serve a PEP 503
#   index (/simple/) and an npm registry with one tiny package each, mvs-tiny
#   (packageindex.py).
# TCP on 198.51.100.10: 5001 discards what it gets and, when the client ends
#   its side, answers the count in decimal; 5002 streams zeros until the
#   client leaves; 5003 echoes what it gets.
# The namespace has no default route: it answers the host link only, so a
# VM's traffic must reach it masqueraded to 198.51.100.1 (as the product's NAT does).
#
# Documentation addresses are not always unused: on these machines the
# package mirrors (deb.debian.org, registry.npmjs.org) resolve to
# 203.0.113.80, so routing all of 203.0.113.0/24 into the namespace cut the
# machine off its mirrors mid-CI. The host is routed only 203.0.113.0/28, and
# `up` refuses when an address the host depends on (its resolvers, the hosts
# of its apt sources and of npm's registry) falls in either test network.
#
# Only one test internet may be up at a time (the addresses would clash); the
# tag only names the namespace and the host's veth (mvsti-TAG, at most 9
# characters a-z 0-9), so that a run cleans up only its own. `up` fails with a
# message when 198.51.100.1 is already on the host. `up` first does `down`,
# and `down` removes whatever part of TAG's internet exists (processes,
# namespace, veth, state in /run/mvsti-TAG), so both are idempotent and safe as
# a ctest cleanup after a crash. `status` exits 0 when TAG is up.
#
# A test holds the in-use lock (flock on /run/mvsti.inuse.lock, see
# testinternet.h) from before its `up` to after its `down`, so that runs wait
# for each other rather than fail. `cleanup` (the ctest cleanup step) takes
# that lock, then does `down`: it never ends a run that is still using TAG.
# Needs root, iproute2, /usr/sbin/dnsmasq and /usr/bin/python3; without root,
# `down` and `cleanup` succeed when nothing of TAG exists.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin

readonly kHostAddress=198.51.100.1
readonly kNsAddress=198.51.100.2
readonly kPrefixLen=24
readonly kServerAddresses="198.51.100.10 198.51.100.20 198.51.100.30 198.51.100.31 198.51.100.40 198.51.100.41"
readonly kLoopbackAddress=203.0.113.10
readonly kRoutedNet=203.0.113.0/28
readonly kHostNet=198.51.100.0/24
readonly kReadySeconds=10
readonly kGoneSeconds=10
readonly kDnsTtlSeconds=60
readonly kLock=/run/mvsti.lock
readonly kInUseLock=/run/mvsti.inuse.lock
readonly kInUseWaitSeconds=900

die() {
    echo "testinternet: $*" >&2
    exit 1
}

usage() {
    die "usage: $0 up|down|cleanup|status TAG (TAG: 1 to 9 of a-z 0-9)"
}

[ $# -eq 2 ] || usage
action=$1
tag=$2
case "$tag" in
'' | *[!a-z0-9]*) usage ;;
esac
[ ${#tag} -le 9 ] || usage

readonly ns="mvsti-$tag"
readonly dev="mvsti-$tag"
readonly state="/run/mvsti-$tag"
readonly here=$(cd "$(dirname "$0")" && pwd)

has_namespace() {
    ip netns list 2>/dev/null | grep -qx "$ns\( (id: [0-9]*)\)\?"
}

has_anything() {
    has_namespace || ip link show dev "$dev" >/dev/null 2>&1 || [ -e "$state" ]
}

if [ "$(id -u)" != 0 ]; then
    case "$action" in
    down | cleanup) has_anything || exit 0 ;;
    status) has_anything || exit 1 ;;
    esac
    die "needs root"
fi

nsexec() {
    ip netns exec "$ns" "$@"
}

# Kills the process of pid file $1, if it is one of the namespace's (not a
# process that got a dead one's pid), and removes the file.
kill_pidfile() {
    [ -f "$1" ] || return 0
    pid=$(cat "$1" 2>/dev/null)
    case "$pid" in
    '' | *[!0-9]*) ;;
    *) [ "$(ip netns identify "$pid" 2>/dev/null)" = "$ns" ] && kill -KILL "$pid" 2>/dev/null ;;
    esac
    rm -f "$1"
}

down() {
    # Processes: by pid file, then whatever else still runs in the namespace.
    kill_pidfile "$state/dnsmasq.pid"
    kill_pidfile "$state/testhosts.pid"
    # The host's end first: that removes the pair at once, where a deleted
    # namespace's devices go later (the kernel cleans up namespaces in the
    # background).
    gone_link
    if has_namespace; then
        for attempt in 1 2 3 4 5 6 7 8 9 10; do
            pids=$(ip netns pids "$ns" 2>/dev/null)
            [ -n "$pids" ] || break
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null
            sleep 0.1
        done
        ip netns delete "$ns" || die "cannot delete namespace $ns"
    fi
    gone_link
    rm -rf "$state"
}

# Deletes the host's veth, waiting for it to go if the kernel is already
# removing it.
gone_link() {
    i=0
    while ip link show dev "$dev" >/dev/null 2>&1; do
        ip link delete dev "$dev" 2>/dev/null
        i=$((i + 1))
        [ $i -le $((kGoneSeconds * 10)) ] || die "cannot delete $dev"
        sleep 0.1
    done
}

# The IPv4 address a.b.c.d as an integer.
ipv4_int() {
    saved_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086
    set -- $1
    IFS=$saved_ifs
    echo $(((($1 * 256 + $2) * 256 + $3) * 256 + $4))
}

# Whether IPv4 address $1 lies in network $2 (a.b.c.d/len). sh has no local
# variables: the in_ names are this function's alone.
ipv4_in() {
    in_len=${2#*/}
    in_size=1
    in_i=$in_len
    while [ "$in_i" -lt 32 ]; do
        in_size=$((in_size * 2))
        in_i=$((in_i + 1))
    done
    in_addr=$(ipv4_int "$1")
    in_net=$(ipv4_int "${2%/*}")
    [ "$in_addr" -ge "$in_net" ] && [ "$in_addr" -lt $((in_net + in_size)) ]
}

# The IPv4 addresses this machine depends on: its resolvers and the
# addresses of its package mirrors (apt's sources, npm's registry).
host_dependencies() {
    awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf 2>/dev/null
    hosts=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -o 'https\?://[^/ ]*' | sed 's,.*://,,' | sort -u)
    for h in $hosts registry.npmjs.org; do
        getent ahostsv4 "$h" 2>/dev/null | awk '{ print $1 }'
    done | sort -u
}

# Fails when an address the host depends on lies in a test network: routing
# it into the namespace would cut the machine off it.
check_dependencies() {
    for dep in $(host_dependencies); do
        case "$dep" in *[!0-9.]*) continue ;; esac
        for test_net in "$kHostNet" "$kRoutedNet"; do
            if ipv4_in "$dep" "$test_net"; then
                die "the host depends on $dep (a resolver or package mirror), which lies in the test network $test_net: refusing to route it into the namespace"
            fi
        done
    done
}

# Fails when another test internet (or anything) holds the host address.
check_free() {
    check_dependencies
    holder=$(ip -o -4 addr show to "$kHostAddress/32" | awk '{ print $2; exit }')
    [ -z "$holder" ] || die "$kHostAddress is already assigned on the host (to $holder): only one test internet may be up at a time; end it with: $0 down ${holder#mvsti-}"
    if ip -4 route show exact "$kRoutedNet" | grep -q .; then
        die "the host already has a route to $kRoutedNet: $(ip -4 route show exact "$kRoutedNet")"
    fi
}

link() {
    ip netns add "$ns" || die "cannot add namespace $ns"
    ip link add "$dev" type veth peer name eth0 netns "$ns" || die "cannot add veth $dev"
    # No IPv6 on either end: nothing but the addresses below on the link.
    sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" 2>/dev/null
    nsexec sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
    ip addr add "$kHostAddress/$kPrefixLen" dev "$dev" || die "cannot address $dev"
    ip link set "$dev" up || die "cannot bring $dev up"
    nsexec ip link set lo up || die "cannot bring lo up in $ns"
    nsexec ip addr add "$kNsAddress/$kPrefixLen" dev eth0 || die "cannot address eth0 in $ns"
    for a in $kServerAddresses; do
        nsexec ip addr add "$a/$kPrefixLen" dev eth0 || die "cannot add $a in $ns"
    done
    nsexec ip addr add "$kLoopbackAddress/32" dev lo || die "cannot add $kLoopbackAddress in $ns"
    nsexec ip link set eth0 up || die "cannot bring eth0 up in $ns"
    ip route add "$kRoutedNet" via "$kNsAddress" dev "$dev" || die "cannot route $kRoutedNet"
}

dns() {
    # No upstream, no hosts file; names under test are answered from the
    # records below, every other name gets NXDOMAIN (local=/#/).
    nsexec /usr/sbin/dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
        --listen-address="$kNsAddress" --bind-interfaces --port=53 --no-dhcp-interface=eth0 \
        --pid-file="$state/dnsmasq.pid" --log-facility="$state/dnsmasq.log" --log-queries \
        --local=/#/ --local-ttl="$kDnsTtlSeconds" \
        --host-record=allowed.test,198.51.100.10 \
        --host-record=denied.test,198.51.100.20 \
        --host-record=other.test,203.0.113.10 \
        --cname=www.allowed.test,allowed.test \
        --cname=alias.test,denied.test \
        --host-record=pypi.test,198.51.100.30 \
        --host-record=pypi.org,198.51.100.31 \
        --host-record=npm.test,198.51.100.40 \
        --host-record=registry.npmjs.org,198.51.100.41 \
        </dev/null >"$state/dnsmasq.out" 2>&1 9>&- || die "dnsmasq did not start: $(cat "$state/dnsmasq.out")"
}

hosts() {
    # Detached from the caller (ctest waits for its output pipes to close).
    ip netns exec "$ns" /usr/bin/python3 "$here/testhosts.py" "$state" \
        </dev/null >"$state/testhosts.log" 2>&1 9>&- &
    i=0
    while [ ! -f "$state/testhosts.ready" ]; do
        i=$((i + 1))
        [ $i -le $((kReadySeconds * 10)) ] || die "the test hosts did not start: $(cat "$state/testhosts.log")"
        sleep 0.1
    done
}

up() {
    down
    check_free
    mkdir -p "$state" || die "cannot create $state"
    link
    dns
    hosts
    echo "testinternet: $ns up (DNS $kNsAddress)"
}

status() {
    [ -f "$state/testhosts.ready" ] && has_namespace && ip link show dev "$dev" >/dev/null 2>&1
}

if [ "$action" = cleanup ]; then
    exec 8>"$kInUseLock" || die "cannot open $kInUseLock"
    flock -w "$kInUseWaitSeconds" 8 || die "a run still holds $kInUseLock after ${kInUseWaitSeconds} s"
    action=down
fi

# One change at a time on this host (two runs' up and down).
exec 9>"$kLock" || die "cannot open $kLock"
flock -w 60 9 || die "another testinternet.sh holds $kLock"

case "$action" in
up)
    # A failed up leaves nothing.
    (up) || {
        down
        exit 1
    }
    ;;
down) down ;;
status) status ;;
*) usage ;;
esac
