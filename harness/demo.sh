#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make demo:  boot LUO_IMPL (default rust) under QEMU and perform a live
#             update on the console: memfds preserved in sessions, kexec into
#             the same kernel, every byte checked after the update.
# make shell: boot LUO_IMPL into an interactive busybox shell (exit ends it);
#             /luo_chain is there to try by hand.
. "$(dirname "$0")/common.sh"
. "$ROOT/harness/vm.sh"

mode=${1:-demo}
impl=${LUO_IMPL:-rust}
impl_check "$impl"
cur_impl=$impl
mkdir -p "$ROOT/build"
"$ROOT/harness/kernel.sh" "$impl" > "$ROOT/build/kernel-$impl.log" 2>&1 ||
	{ tail -30 "$ROOT/build/kernel-$impl.log"; die "kernel build failed (log: build/kernel-$impl.log)"; }
build_guest_programs "$impl"
pick_accel
d=$ROOT/build/tests/$impl
kernel=$(impl_out "$impl")/bzImage

if [ "$mode" = shell ]; then
	mkcpio "$impl" "$d/shell.cpio" \
		"file /init $d/luo_init 0755 0 0" \
		"dir /bin 0755 0 0" \
		"file /bin/busybox $(command -v busybox) 0755 0 0" \
		"file /luo_chain $d/luo_chain 0755 0 0"
	exec qemu-system-x86_64 -m 1G -smp 2 -no-reboot -nographic -nodefaults \
		-accel "$ACCEL" -serial stdio -append "$CMDLINE_BASE quiet" \
		-kernel "$kernel" -initrd "$d/shell.cpio"
fi

# The demo: a key-value cache keeps LUO_DEMO_MIB (default 256) MiB in a memfd
# and serves it on a socket; luod, luoctl and the cache (tools/luo-agent)
# live-update it into a new kernel, where the cache claims its session from
# luod and serves every key from the memfd it preserved, without reloading.
# Guest time: QEMU -icount shift=0,sleep=off (1 ns per instruction).
mib=${LUO_DEMO_MIB:-256}
echo "==> live update demo on the $impl kernel (QEMU, $ACCEL): a $mib MiB key-value cache through luod"
build_agent
init=$ROOT/tools/luo-agent/demo/init.sh
mk_agent_initrd "$impl" "$d/demo-2.cpio" "$init"
mk_agent_initrd "$impl" "$d/demo-1.cpio" "$init" "$kernel" "$d/demo-2.cpio"
log=$ROOT/build/demo.log
timeout -k 5 "${LUO_DEMO_TIMEOUT:-900}" qemu-system-x86_64 -m 2G -smp 2 -no-reboot -nographic \
	-nodefaults -accel "$ACCEL" -icount shift=0,sleep=off -serial stdio \
	-append "$CMDLINE_BASE DEMO_MIB=$mib" -kernel "$kernel" -initrd "$d/demo-1.cpio" \
	</dev/null | tr -d '\r' | sed -E 's/\x1b(\[[0-9;?]*[a-zA-Z]|c)//g; s/^Booting from ROM\.*//' |
	tee "$log" |
	grep --line-buffered -E '^DEMO|Linux version|kexec_core: Starting new kernel|luo: Retrieved|TIMELINE' || true
grep -q "^DEMO: PASSED" "$log" ||
	die "the demo live update failed: $(grep -m1 '^DEMO-FAILED' "$log" || echo 'no result') (console: build/demo.log)"

# The timeline, in guest seconds: each kernel's clock starts at its boot.
# The steps are kernel log lines ("TIMELINE: ..."), which reach the console
# even when a reboot follows at once.
split=$(grep -n "kexec_core: Starting new kernel" "$log" | head -1 | cut -d: -f1)
t_of() {	# $1: 1 (old kernel) or 2 (new), $2: pattern; its kernel timestamp
	if [ "$1" = 1 ]; then head -n "$split" "$log"; else tail -n "+$split" "$log"; fi |
		grep -E "$2" | head -1 | sed -E 's/^\[ *([0-9.]+)\].*/\1/'
}
req=$(t_of 1 'TIMELINE: init: update requested')
ready=$(t_of 1 'TIMELINE: kvcache: ready')
kexec=$(t_of 1 'TIMELINE: luod: every client ready')
jump=$(t_of 1 'kexec_core: Starting new kernel')
user=$(t_of 2 'TIMELINE: init: at userspace')
claimed=$(t_of 2 'TIMELINE: kvcache: session claimed')
retrieved=$(t_of 2 'TIMELINE: kvcache: memfd retrieved')
served=$(t_of 2 'TIMELINE: kvcache: first request served')
echo "==> timeline (guest seconds; the old kernel's clock, then the new kernel's from its boot)"
printf '    old %10s  update requested (luoctl kexec)\n' "$req"
printf '    old %10s  client ready (memfd preserved in its session)\n' "$ready"
printf '    old %10s  kexec started (luod: every client ready, its records preserved)\n' "$kexec"
printf '    old %10s  jump to the new kernel\n' "$jump"
printf '    new %10s  new kernel at userspace\n' "$user"
printf '    new %10s  session claimed from luod\n' "$claimed"
printf '    new %10s  memfd retrieved (%s MiB)\n' "$retrieved" "$mib"
printf '    new %10s  first request served\n' "$served"
awk -v a="$kexec" -v b="$jump" -v c="$served" 'BEGIN {
	printf "==> service downtime: %.3f s of guest time (%.3f s from kexec start to the jump, %.3f s from the new kernel'"'"'s start to the first request)\n", b - a + c, b - a, c }'
grep -E "^DEMO: cache (loaded|after)" "$log" | sed 's/^DEMO: /==> /'
echo "==> live update done: every key served from the retrieved memfd, checksum verified"
