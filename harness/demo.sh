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

echo "==> live update demo on the $impl kernel (QEMU, $ACCEL)"
echo "==> stage 1 preserves memfds into sessions and kexecs; stage 2 retrieves and checks them"
mk_chain_initrd "$d/demo.cpio" "$d/luo_chain" "-s @STAGE@ -n 2" "$impl"
timeout -k 5 "$VM_TIMEOUT" qemu-system-x86_64 -m 1G -smp 2 -no-reboot -nographic \
	-nodefaults -accel "$ACCEL" -serial stdio \
	-append "$CMDLINE_BASE" -kernel "$kernel" -initrd "$d/demo.cpio" \
	</dev/null | tr -d '\r' | sed -E 's/\x1b(\[[0-9;?]*[a-zA-Z]|c)//g; s/^Booting from ROM\.*//' |
	tee "$ROOT/build/demo.log" |
	grep --line-buffered -E 'LUO-|luo:|Linux version|^(not )?ok [0-9]|^# |^Bail out' |
	grep --line-buffered -v 'luo-kunit' || true	# the boot-time KUnit cases' fakes
user_view "$ROOT/build/demo.log" > "$ROOT/build/demo.log.user"
grep -q "LUO-INIT: stage 2 passed, all stages passed" "$ROOT/build/demo.log.user" ||
	die "the demo live update failed (full console log: build/demo.log)"
echo "==> live update done: every preserved byte survived the kexec"
