#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the agent's end-to-end test (make check, group agent): luod with
# two clients (kv-a, kv-b) and three sessions (theirs and luod's own) across
# a live update.  Stage 1: a third client (slow) never says READY, so the
# first luoctl kexec must not happen and must leave everything as it was;
# then slow goes away and the live update goes through.  Stage 2: kv-a comes
# back and claims its session, every key intact; kv-b never reconnects, so
# its session is reported, blocks the next live update, and is released by
# luoctl.  Each check prints "E2E: ok ..." or "E2E: FAILED ..."; the last
# line is "E2E: PASSED" when all held.
/bin/busybox mkdir -p /proc /sys /dev /run /usr/bin /usr/sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
export PATH=/bin:/usr/bin:/usr/sbin
echo	# the console's "Booting from ROM.." has no newline
bad=0
check() {	# description, then a command
	d=$1; shift
	if "$@" > /run/out 2>&1; then echo "E2E: ok $d"
	else echo "E2E: FAILED $d: $(head -c 300 /run/out | tr '\n' ' ')"; bad=1; fi
}
end() {
	[ $bad = 0 ] && echo "E2E: PASSED" || echo "E2E: FAILED (see above)"
	sync; sleep 1; reboot -f
}
wait_for() { i=0; while [ ! -e "$1" ]; do i=$((i + 1)); [ $i -gt 3000 ] && return 1; sleep 0.1; done; }
stage=1
case " $(cat /proc/cmdline) " in *" luo_stage=2 "*) stage=2 ;; esac
serve() {	# id, MiB, extra arguments
	luo-kvcache --socket "/run/$1.sock" serve --id "$1" --mib "$2" $3 > "/run/$1.log" 2>&1 &
	echo $! > "/run/$1.pid"
	wait_for "/run/$1.sock" && until grep -q "subscribed to luod" "/run/$1.log"; do sleep 0.1; done
}
status_has() { luoctl status > /run/st 2>&1; grep -qE "$1" /run/st; }
refused() {	# exit code 2 and the reason, from a luoctl command
	"$@" > /run/r 2>&1; rc=$?
	cat /run/r
	[ $rc = 2 ]
}

luod 2> /run/luod.log &
wait_for /run/luod/liveupdate.sock || { echo "E2E: FAILED luod did not start"; end; }
if [ $stage = 1 ]; then
	serve kv-a 16
	serve kv-b 8
	serve slow 1 --never-ready
	check "three clients subscribed" status_has "slow +luod.slow +subscribed"
	check "luoctl kexec refused while no kernel is loaded" refused luoctl kexec --timeout 2
	luoctl load /next/kernel --initrd /next/initrd.img --cmdline "$(cat /proc/cmdline) luo_stage=2"
	check "a client not READY in time: no live update" refused luoctl kexec --timeout 3
	grep -q "not READY after 3000 ms: slow" /run/r || { echo "E2E: FAILED reason: $(cat /run/r)"; bad=1; }
	check "after it: luod idle, every client subscribed again" status_has "phase: +idle"
	check "kv-a still serves every key" luo-kvcache --socket /run/kv-a.sock check
	check "kv-b still serves every key" luo-kvcache --socket /run/kv-b.sock check
	kill "$(cat /run/slow.pid)"
	i=0; while status_has "slow"; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1; done
	check "the client that left is forgotten" sh -c 'luoctl status; ! luoctl status | grep -q slow'
	[ $bad = 0 ] || end
	echo "E2E: live update with kv-a and kv-b"
	luoctl kexec --timeout 30
	echo "E2E: FAILED still running after luoctl kexec"; bad=1; end
fi
# Stage 2: kv-a comes back, kv-b does not.
check "kv-a's session came back, with the token it preserved (and luod's own and kv-b's)" status_has "kv-a +luod.kv-a +incoming +not connected +tokens 1$"
check "kv-b's session came back" status_has "kv-b +luod.kv-b +incoming"
check "generation 1" status_has "generation: +1"
serve kv-a 16
check "kv-a claimed its session and did not reload" grep -q "back from the previous kernel, no reload" /run/kv-a.log
check "kv-a serves every key" luo-kvcache --socket /run/kv-a.sock check
check "kv-b's session is kept, reported" status_has "not claimed: kv-b"
check "no live update while kv-b's session is unclaimed" refused luoctl kexec --timeout 2
check "luoctl release kv-b" luoctl release kv-b
check "nothing left to claim" sh -c '! luoctl status | grep -q incoming'
end
