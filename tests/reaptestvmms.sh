#!/bin/sh
# reaptestvmms.sh TEST: a ctest cleanup step. Ends the VMMs (QEMU,
# cloud-hypervisor) that TEST left running when it crashed or was killed
# before its own cleanup: those that belong to TEST's temporary directories
# ($TMPDIR/TEST-XXXXXX, QTemporaryDir's default), which only its VMs do. A VMM
# belongs to them when its command line names them, or when it holds a
# descriptor to a file under them or a Unix socket bound under them: a root
# service's VMM runs as the VMM user and gets its sockets, disks and kernel
# as descriptors, so its command line may name no path at all. The same rules
# as tests/vmmprocesses.h. Then removes those directories. Prints what it
# reaped; exit 0.
set -u
test_name=$1
prefix="${TMPDIR:-/tmp}/${test_name}-"

# Whether process $1 belongs to TEST's directories (see above).
belongs() {
    pid=$1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$prefix" && return 0
    sockets=
    for fd in "/proc/$pid/fd/"*; do
        target=$(readlink "$fd" 2>/dev/null) || continue
        case "$target" in
        "$prefix"*)
            return 0
            ;;
        socket:\[*\])
            # The inodes of the Unix sockets bound under the prefix, read once:
            # /proc/<pid>/net/unix lists "... Inode Path" per socket.
            [ -n "$sockets" ] || sockets=" $(awk -v p="$prefix" 'NR > 1 && index($8, p) == 1 { printf "%s ", $7 }' "/proc/$pid/net/unix" 2>/dev/null)"
            inode=${target#socket:\[}
            inode=${inode%\]}
            case "$sockets" in
            *" $inode "*) return 0 ;;
            esac
            ;;
        esac
    done
    return 1
}

for dir in /proc/[0-9]*; do
    pid=${dir#/proc/}
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    case "$comm" in
    qemu-system*|cloud-hyperviso*)
        belongs "$pid" && kill -KILL "$pid" 2>/dev/null && echo "reaped $comm (pid $pid) left by $test_name"
        ;;
    esac
done
for dir in "$prefix"??????; do
    [ -d "$dir" ] && rm -rf -- "$dir" && echo "removed $dir left by $test_name"
done
exit 0
