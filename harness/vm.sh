# SPDX-License-Identifier: GPL-2.0
# Test programs, initramfs images and QEMU runs.  Sourced after common.sh.

CMDLINE_BASE="console=ttyS0 liveupdate=on panic=-1"
VM_TIMEOUT=${LUO_VM_TIMEOUT:-240}

# gcc for the guest programs: static, against the variant's uapi headers.
# $1 impl, $2 output, rest: sources and flags.
guest_cc() {
	local impl=$1 out=$2; shift 2
	local hdr
	hdr=$(impl_out "$impl")/headers/include
	gcc -static -O2 -Wall -I "$hdr" -o "$out" "$@"
}

# Build the guest programs of one variant into build/tests/<impl>/.
build_guest_programs() {
	local impl=$1 src sel d
	src=$(impl_src "$impl")
	sel=$src/tools/testing/selftests/liveupdate
	d=$ROOT/build/tests/$impl
	mkdir -p "$d"
	# Our own programs (glibc, static); the tests with the upstream selftest
	# library (kselftest.h, lu_utils.c), as the upstream kselftest below.
	guest_cc "$impl" "$d/luo_init" "$ROOT/selftests/luo_init.c"
	local p
	for p in luo_chain luo_errno luo_leak luo_probe luo_bench luo_scale luo_edge luo_harden luo_fuzz luo_fault luo_corrupt; do
		guest_cc "$impl" "$d/$p" -D_GNU_SOURCE= -Wno-unused-function \
			-I "$sel/lib/include" -I "$src/tools/testing/selftests" \
			"$ROOT/selftests/$p.c" "$sel/lib/lu_utils.c"
	done
	printf 'int main(void) { return 0; }\n' > "$d/true.c"
	guest_cc "$impl" "$d/true" "$d/true.c"
	# The upstream in-VM kselftest, unmodified (glibc, static).
	guest_cc "$impl" "$d/liveupdate" -D_GNU_SOURCE= -Wno-unused-function \
		-I "$sel/lib/include" -I "$src/tools/testing/selftests" \
		"$sel/liveupdate.c" "$sel/lib/lu_utils.c"
	# The upstream kexec tests and their init, built exactly as vmtest.sh does.
	local hdr
	hdr=$(impl_out "$impl")/headers/include
	for t in $UPSTREAM_KEXEC_TESTS; do
		gcc -static -O2 -nostdinc -nostdlib -I "$hdr" \
			-I "$src/tools/include/nolibc" -I "$sel/lib/include" \
			-o "$d/$t" "$sel/$t.c" "$sel/lib/lu_utils.c"
	done
	gcc -s -static -Os -nostdinc -nostdlib -fno-asynchronous-unwind-tables \
		-fno-ident -fno-stack-protector -I "$hdr" \
		-I "$src/tools/include/nolibc" -o "$d/upstream_init" "$sel/init.c"
}

UPSTREAM_KEXEC_TESTS="luo_kexec_simple luo_multi_session luo_stress_files luo_stress_sessions"

# mkcpio IMPL OUT LINE...: an initramfs from gen_init_cpio lines.
mkcpio() {
	local impl=$1 out=$2; shift 2
	local list=$out.list
	{
		echo "dir /dev 0755 0 0"
		echo "dir /proc 0755 0 0"
		echo "dir /sys 0755 0 0"
		echo "dir /debugfs 0755 0 0"
		echo "nod /dev/console 0600 0 0 c 5 1"
		printf '%s\n' "$@"
	} > "$list"
	"$(impl_out "$impl")/gen_init_cpio" "$list" > "$out"
}

# Initramfs of a chain of stages with luo_init as PID 1.
# mk_chain_initrd OUT TEST_BINARY TEST_ARGS IMPL...  (IMPL of stage 2, 3, ...)
# Stage k's image carries stage k+1's kernel and image under /next.
mk_chain_initrd() {
	local out=$1 bin=$2 args=$3; shift 3
	local d=$ROOT/build/tests/${cur_impl}
	local next_lines=()
	if [ $# -gt 0 ]; then
		local next_impl=$1; shift
		mk_chain_initrd "$out.next" "$bin" "$args" "$@"
		next_lines=("dir /next 0755 0 0"
			    "file /next/kernel $(impl_out "$next_impl")/bzImage 0644 0 0"
			    "file /next/initrd.img $out.next 0644 0 0")
	fi
	printf '%s\n' "$args" > "$out.args"
	mkcpio "$cur_impl" "$out" \
		"file /init $d/luo_init 0755 0 0" \
		"file /test_binary $bin 0755 0 0" \
		"file /test_args $out.args 0644 0 0" \
		"${next_lines[@]}"
}

# Decide once per host boot whether KVM works: a short probe boot must reach
# luo_init.  Otherwise (the usual case here) TCG.
pick_accel() {
	if [ -n "${LUO_ACCEL:-}" ]; then
		ACCEL=$LUO_ACCEL
		return
	fi
	ACCEL=tcg
	[ -w /dev/kvm ] || return 0
	local boot probe=$LUO_CACHE/kvm-probe
	boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
	if [ -f "$probe" ] && [ "$(head -1 "$probe")" = "$boot" ]; then
		ACCEL=$(sed -n 2p "$probe")
		return
	fi
	local d=$ROOT/build/tests/$cur_impl log=$ROOT/build/logs/kvm-probe.log
	mk_chain_initrd "$d/probe.cpio" "$d/true" ""
	timeout 20 qemu-system-x86_64 -m 512M -smp 1 -no-reboot -nographic \
		-nodefaults -accel kvm -serial "file:$log" \
		-append "$CMDLINE_BASE" -kernel "$(impl_out "$cur_impl")/bzImage" \
		-initrd "$d/probe.cpio" >/dev/null 2>&1 || true
	if grep -q "LUO-INIT: END OK" "$log" 2>/dev/null; then ACCEL=kvm; fi
	printf '%s\n%s\n' "$boot" "$ACCEL" > "$probe"
}

# run_vm LOG KERNEL INITRD [TIMEOUT]: boot, serial console into LOG.
# LUO_EXTRA_CMDLINE is appended to the kernel command line.
# Returns QEMU's status (124 on timeout).
run_vm() {
	local log=$1 kernel=$2 initrd=$3 tmo=${4:-$VM_TIMEOUT}
	local st=0
	rm -f "$log"
	# LUO_VM_MEM and LUO_QEMU_ARGS (words) are for make bench.  A DEBUG=1
	# kernel needs more: KHO sizes its scratch areas (where the next kernel
	# boots) at twice the memory the kernel reserved, KASAN's shadow
	# included, which 1 GiB cannot hold, and KHO (so LUO) turns itself off.
	# Fixed sizes instead (low, global, per node), room for the next
	# kernel's shadow.
	local mem=${LUO_VM_MEM:-1G} extra=""
	if [ -n "$DEBUG" ]; then
		[ -z "${LUO_VM_MEM:-}" ] && mem=3G
		extra="kho_scratch=64M,512M,256M"
	fi
	# shellcheck disable=SC2086
	timeout --foreground -k 5 "$tmo" qemu-system-x86_64 -m "$mem" -smp 2 \
		-no-reboot ${LUO_QEMU_ARGS:-} \
		-nographic -nodefaults -accel "$ACCEL" -serial "file:$log" \
		-append "$CMDLINE_BASE $extra ${LUO_EXTRA_CMDLINE:-}" -kernel "$kernel" \
		-initrd "$initrd" </dev/null >"$log.qemu" 2>&1 || st=$?
	sed -i 's/\r$//' "$log" 2>/dev/null || true
	user_view "$log" > "$log.user"
	return $st
}

# What userspace printed: the serial log without the kernel's messages.
# printk records reach the console whole, but may land in the middle of a
# line userspace is writing ("INIT: Stage [ 0.71] ...\n2 completed"), so
# every "[ timestamp] ...\n" record is cut out wherever it starts.
user_view() {
	perl -0pe 's/\[ *\d+\.\d+\] [^\n]*\n//g' "$1" 2>/dev/null || true
}

# The userspace agent (tools/luo-agent: luod, luoctl, luo-kvcache), static,
# for the guest, into build/agent/.  Its own target directory in the cache.
build_agent() {
	local out=$ROOT/build/agent t=$LUO_CACHE/cargo-target b
	mkdir -p "$out"
	CARGO_TARGET_DIR=$t RUSTFLAGS="-C target-feature=+crt-static" \
		cargo build -q --release --locked --target x86_64-unknown-linux-gnu \
		--manifest-path "$ROOT/tools/luo-agent/Cargo.toml" >&2 ||
		die "cargo build of tools/luo-agent failed"
	for b in luod luoctl luo-kvcache; do
		cp "$t/x86_64-unknown-linux-gnu/release/$b" "$out/$b"
	done
}

# An initramfs with busybox and the agent, /init = $3 (a script of
# tools/luo-agent/demo/); with $4 and $5, the next stage's kernel and
# initramfs in /next.
mk_agent_initrd() {
	local impl=$1 out=$2 init=$3 next_kernel=${4:-} next_initrd=${5:-} a=$ROOT/build/agent
	local next=()
	[ -n "$next_kernel" ] && next=("dir /next 0755 0 0"
		"file /next/kernel $next_kernel 0644 0 0"
		"file /next/initrd.img $next_initrd 0644 0 0")
	mkcpio "$impl" "$out" \
		"file /init $init 0755 0 0" \
		"dir /bin 0755 0 0" \
		"file /bin/busybox $(command -v busybox) 0755 0 0" \
		"dir /usr 0755 0 0" "dir /usr/bin 0755 0 0" "dir /usr/sbin 0755 0 0" \
		"file /usr/sbin/luod $a/luod 0755 0 0" \
		"file /usr/bin/luoctl $a/luoctl 0755 0 0" \
		"file /usr/bin/luo-kvcache $a/luo-kvcache 0755 0 0" \
		"${next[@]}"
}
