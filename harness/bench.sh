#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: guest time of the memfd paths of a live update, C reference
# kernel against the Rust one, on the same workload in the same VM.
#
# Each kernel K boots under QEMU with "-icount shift=0,sleep=off" (guest
# time advances one nanosecond per guest instruction, so the numbers are
# instruction counts and repeat to within 0.01%), runs selftests/luo_bench.c
# stage 1 (memfds written, PRESERVE_FD timed), kexecs into K again and runs
# stage 2 (RETRIEVE_SESSION, RETRIEVE_FD, SESSION_FINISH timed, every written
# byte checked).  The table goes to stdout and build/bench.md; the raw lines
# stay in build/logs/bench/.
#
# LUO_BENCH_PROFILE=1 also counts each timed ioctl's guest instructions by
# kernel function (harness/tbprof.c, a QEMU plugin; build/logs/bench/
# <impl>.profile.<op>-<memfd>.txt).
# LUO_BENCH_WORK="NAME:SIZE:WRITTEN ..." sets the memfds (default: a dense
# 64 MiB one and a 256 MiB one with 4 MiB written); LUO_BENCH_IMPLS the
# kernels (default "c rust"); LUO_VM_MEM the guest memory (default 3G).
. "$(dirname "$0")/common.sh"
. "$ROOT/harness/vm.sh"

work=${LUO_BENCH_WORK:-dense:64M:64M sparse:256M:4M}
impls=${LUO_BENCH_IMPLS:-c rust}
export LUO_VM_MEM=${LUO_VM_MEM:-3G}
export LUO_QEMU_ARGS="-icount shift=0,sleep=off ${LUO_BENCH_QEMU_ARGS:-}"
# The local APIC timer calibration loop of x86 sometimes never ends under
# -icount (seen in both kernels, at random, before any LUO code runs):
# the PIT/HPET tick does the job instead, the same in both kernels.
export LUO_EXTRA_CMDLINE="noapictimer ${LUO_EXTRA_CMDLINE:-}"
logs=$ROOT/build/logs/bench
mkdir -p "$logs"
args="-s @STAGE@ -n 2"
for w in $work; do args+=" -w $w"; done

for k in $impls; do
	impl_check "$k"
	"$ROOT/harness/kernel.sh" "$k" > "$ROOT/build/kernel-$k.log" 2>&1 ||
		{ tail -20 "$ROOT/build/kernel-$k.log" >&2; die "the $k kernel did not build"; }
done
# -icount is TCG only.
ACCEL=tcg
status=0
for k in $impls; do
	cur_impl=$k
	build_guest_programs "$k"
	tdir=$ROOT/build/tests/$k
	note "bench: $k -> $k ($work)"
	mk_chain_initrd "$tdir/bench.cpio" "$tdir/luo_bench" "$args" "$k"
	log=$logs/$k.log
	prof=""
	if [ -n "${LUO_BENCH_PROFILE:-}" ]; then
		cc -O2 -Wall -shared -fPIC "$ROOT/harness/tbprof.c" -o "$ROOT/build/tbprof.so" -lpthread ||
			die "harness/tbprof.c did not build"
		mark() { nm "$tdir/luo_bench" | awk -v s="luo_bench_mark_$1" '$3 == s { print "0x" $1 }'; }
		rm -f "$log.prof".*
		prof="-plugin $ROOT/build/tbprof.so,begin=$(mark begin),end=$(mark end),out=$log.prof"
	fi
	st=0; LUO_QEMU_ARGS="$LUO_QEMU_ARGS $prof" \
		run_vm "$log" "$(impl_out "$k")/bzImage" "$tdir/bench.cpio" "${LUO_BENCH_TIMEOUT:-1800}" || st=$?
	if ! grep -q "LUO-INIT: stage 2 passed, all stages passed" "$log.user"; then
		echo "not ok - bench on $k did not complete (QEMU status $st; build/logs/bench/$k.log)"
		grep -E '^(not ok|Bail out|# .*fail)' "$log.user" | head -5 | sed 's/^/#   /'
		status=1
	fi
	sed -n 's/^# LUO-BENCH: //p' "$log.user" > "$log.results"
	if [ -n "$prof" ]; then
		# Window i is the i-th timed ioctl, in the order luo_bench reports them.
		i=0
		awk '$1 ~ /^(preserve_fd|retrieve_session|retrieve_fd|finish)$/ { print $1 "-" $2 }' \
			"$log.results" | while read -r op; do
			i=$((i + 1))
			[ -f "$log.prof.$i" ] &&
				"$ROOT/harness/tbprof.py" "$(impl_out "$k")/vmlinux" "$log.prof.$i" 40 \
					> "$logs/$k.profile.$op.txt"
		done
		note "bench: instructions by kernel function: build/logs/bench/$k.profile.*.txt"
	fi
done

# value IMPL OP NAME: the measurement, or "-".
value() { awk -v op="$2" -v n="$3" '$1 == op && $2 == n { print $3; f = 1 } END { if (!f) print "-" }' \
	"$logs/$1.log.results"; }
fmt_ms() { [ "$1" = - ] && echo - || awk -v v="$1" 'BEGIN { printf "%.3f", v / 1e6 }'; }
{
	echo "Guest time (QEMU -icount shift=0, 1 ns per instruction), $(date -u +%Y-%m-%d)."
	echo "Workload: $work."
	echo
	printf '| step | memfd |'; for k in $impls; do printf ' %s (ms) |' "$k"; done
	[ "$impls" = "c rust" ] && printf ' rust / c |'
	echo
	printf '| --- | --- |'; for k in $impls; do printf ' --- |'; done
	[ "$impls" = "c rust" ] && printf ' --- |'
	echo
	rows=""
	for w in $work; do rows+=" preserve_fd:${w%%:*}"; done
	rows+=" retrieve_session:bench"
	for w in $work; do rows+=" retrieve_fd:${w%%:*}"; done
	rows+=" finish:bench"
	for r in $rows; do
		op=${r%%:*} n=${r#*:}
		printf '| %s | %s |' "$op" "$n"
		for k in $impls; do printf ' %s |' "$(fmt_ms "$(value "$k" "$op" "$n")")"; done
		if [ "$impls" = "c rust" ]; then
			c=$(value c "$op" "$n") r=$(value rust "$op" "$n")
			if [ "$c" != - ] && [ "$r" != - ] && [ "$c" != 0 ]; then
				awk -v c="$c" -v r="$r" 'BEGIN { printf " %.2f |", r / c }'
			else
				printf ' - |'
			fi
		fi
		echo
	done
	echo
	echo "Memory a preservation cost (growth of Shmem in /proc/meminfo across PRESERVE_FD; the memfd's blocks before and after):"
	echo
	printf '| memfd |'; for k in $impls; do printf ' %s Shmem growth | %s blocks before -> after |' "$k" "$k"; done
	echo
	printf '| --- |'; for k in $impls; do printf ' --- | --- |'; done
	echo
	for w in $work; do
		n=${w%%:*}
		printf '| %s |' "$n"
		for k in $impls; do
			printf ' %s KiB | %s -> %s KiB |' "$(value "$k" shmem_growth "$n")" \
				"$(value "$k" blocks_before "$n")" "$(value "$k" blocks_after "$n")"
		done
		echo
	done
} | tee "$ROOT/build/bench.md"
exit $status
