#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# PID 1 of the make demo VM: a live update of a running key-value cache
# through luod, in two stages (luo_stage=2 on the command line after the
# kexec).  Every line the demo prints starts with "DEMO"; the times are
# guest seconds since the kernel started (/proc/uptime).
/bin/busybox mkdir -p /proc /sys /dev /run /usr/bin /usr/sbin /sbin
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
export PATH=/bin:/usr/bin:/usr/sbin

t() { cut -d' ' -f1 /proc/uptime; }
say() { echo "DEMO: $*"; }
fail() { echo "DEMO-FAILED: $*"; sync; sleep 1; reboot -f; }
stage=1
case " $(cat /proc/cmdline) " in *" luo_stage=2 "*) stage=2 ;; esac
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }

wait_for() {	# a path, up to 600 s of guest time
	i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1)); [ $i -gt 6000 ] && fail "$1 never appeared"
		sleep 0.1
	done
}

say "stage $stage: kernel $(uname -r), at userspace at $(t) s"
echo "TIMELINE: init: at userspace" > /dev/kmsg
luod 2>&1 | sed 's/^/DEMO luod: /' &
wait_for /run/luod/liveupdate.sock
luo-kvcache serve --mib "${DEMO_MIB:-256}" 2>&1 | tee /run/kvcache.log | sed 's/^/DEMO kvcache: /' &
wait_for /run/kvcache.sock
until grep -q "subscribed to luod" /run/kvcache.log; do sleep 0.1; done

if [ $stage = 1 ]; then
	res=$(luo-kvcache check) || fail "the cache is wrong before the update: $res"
	keys=${res#* }; keys=${keys%% *}; sum=${res##* }
	say "cache loaded: $keys keys, checksum $sum; key 12345 = $(luo-kvcache get 12345)"
	luoctl load /next/kernel --initrd /next/initrd.img \
		--cmdline "$(cat /proc/cmdline) luo_stage=2 demo_keys=$keys demo_sum=$sum" ||
		fail "luoctl load"
	luoctl status | sed 's/^/DEMO luoctl status: /'
	echo "TIMELINE: init: update requested" > /dev/kmsg
	say "live update requested: luoctl kexec"
	luoctl kexec 2>&1 | sed 's/^/DEMO luoctl kexec: /'
	fail "still running after luoctl kexec"
fi

# Stage 2: the cache claimed its session and mapped the memfd it preserved.
grep -q "back from the previous kernel, no reload" /run/kvcache.log || fail "the cache reloaded its data"
# The first request: one key (the service is back); then every key checked.
first=$(luo-kvcache get 12345)
res=$(luo-kvcache check) || fail "keys lost: $res"
keys=${res#* }; keys=${keys%% *}; sum=${res##* }
say "cache after the update: $keys keys, checksum $sum; key 12345 = $first"
[ "$keys" = "$(arg demo_keys)" ] && [ "$sum" = "$(arg demo_sum)" ] ||
	fail "before: $(arg demo_keys) keys, checksum $(arg demo_sum); after: $keys, $sum"
luoctl status | sed 's/^/DEMO luoctl status: /'
say "PASSED: every key served from the retrieved memfd, checksum verified"
sync
sleep 1
reboot -f
