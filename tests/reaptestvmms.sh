#!/bin/sh
# reaptestvmms.sh TEST: a ctest cleanup step. Ends the VMMs (QEMU,
# cloud-hypervisor) that TEST left running when it crashed or was killed
# before its own cleanup: those whose command line names TEST's temporary
# directories ($TMPDIR/TEST-XXXXXX, QTemporaryDir's default), which only its
# VMs do. Then removes those directories. Prints what it reaped; exit 0.
set -u
test_name=$1
prefix="${TMPDIR:-/tmp}/${test_name}-"
for pid in $(pgrep -f -- "$prefix"); do
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    case "$comm" in
    qemu-system*|cloud-hyperviso*)
        kill -KILL "$pid" 2>/dev/null && echo "reaped $comm (pid $pid) left by $test_name"
        ;;
    esac
done
for dir in "$prefix"??????; do
    [ -d "$dir" ] && rm -rf -- "$dir" && echo "removed $dir left by $test_name"
done
exit 0
