#!/bin/sh
# vmnetcleanup.sh INSTANCE GUARD: the ctest cleanup step of tst_vmnetwork
# and tst_agentpackages, for a run that crashed or was killed before its own
# cleanup. Removes its guard table GUARD, ends the resolvers (dnsmasq) of its
# host network instance INSTANCE and removes that instance's table
# mvs_INSTANCE. Its taps are not persistent: they go with the QEMU processes
# that the test's reap_ step ends.
# Prints what it removed; exit 0. Without root there is nothing to remove.
set -u
PATH=/usr/sbin:/usr/bin:/sbin:/bin
instance=$1
guard=$2
[ "$(id -u)" = 0 ] || exit 0
nft delete table inet "$guard" 2>/dev/null && echo "removed the guard table $guard"
for dir in /proc/[0-9]*; do
    [ "$(cat "$dir/comm" 2>/dev/null)" = dnsmasq ] || continue
    if tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | grep -q "mvs_${instance}_v[0-9]*\.conf"; then
        kill -TERM "${dir#/proc/}" 2>/dev/null && echo "ended dnsmasq ${dir#/proc/} of mvs_$instance"
    fi
done
nft delete table inet "mvs_$instance" 2>/dev/null && echo "removed the table mvs_$instance"
exit 0
