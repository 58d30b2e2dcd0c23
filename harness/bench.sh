#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make bench: guest time of the paths of a live update, C reference kernel
# against the Rust one, on the same workload in the same VM.
#
# Each kernel K boots under QEMU with "-icount shift=0,sleep=off" (guest
# time advances one nanosecond per guest instruction, so the numbers are
# instruction counts and repeat to within 0.01%), runs selftests/luo_bench.c
# stage 1 (memfds written, PRESERVE_FD timed), kexecs into K again and runs
# stage 2 (RETRIEVE_SESSION, RETRIEVE_FD, SESSION_FINISH timed, every written
# byte checked).  Each kernel boots once per group, so that one workload's
# memory and sessions do not weigh on another's figures (and once more for
# each scale count):
#
#   4k     the memfds filled with pwrite() (4 KiB folios), each in session
#          "bench-4k", shmem THP off (the kernels' default);
#   thp    the ":thp" memfds, filled through a MADV_HUGEPAGE mapping with
#          shmem_enabled "advise" (2 MiB folios), in session "bench-thp";
#          luo_bench fails unless every written byte is in huge pages;
#   scale  for each N: N sessions created (kept across the kexec) and N
#          others closed, N one-page memfds preserved into one session;
#          after the kexec the N sessions and the N memfds retrieved, and
#          the memfds' session finished, each loop timed as a whole.
#
# The table (with the Rust/C ratios and what preserving cost in memory) goes
# to stdout, build/bench.md and $LUO_BENCH_OUT/results.md, and a plot of
# guest time against memfd size (gnuplot, harness/bench_plot.gp) to
# $LUO_BENCH_OUT/guest-time.svg; LUO_BENCH_OUT is the repository's bench/
# unless set.  The raw lines stay in build/logs/bench/.
#
# LUO_BENCH_WORK="NAME:SIZE:WRITTEN[:thp] ..." sets the memfds (default: 64
# MiB, 256 MiB and 1 GiB dense, each with 4 KiB folios and THP, and a 1 GiB
# one with 4 MiB written; empty: no memfd boots); LUO_BENCH_N="N ..." the counts of the scale boots
# (default "1000 8000"; empty: no scale boot); LUO_BENCH_IMPLS the kernels
# (default "c rust"); LUO_VM_MEM the guest memory (default 6G: a C kernel
# fills the holes of the sparse memfd, so the 4k boot preserves 2.3 GiB).
#
# LUO_BENCH_PROFILE=1 also counts each timed ioctl's (or loop's) guest
# instructions by kernel function (harness/tbprof.c, a QEMU plugin;
# build/logs/bench/<impl>.profile.<op>-<name>.txt).
. "$(dirname "$0")/common.sh"
. "$ROOT/harness/vm.sh"

default_work="4k64M:64M:64M 4k256M:256M:256M 4k1G:1G:1G sparse1G:1G:4M"
default_work+=" thp64M:64M:64M:thp thp256M:256M:256M:thp thp1G:1G:1G:thp"
work=${LUO_BENCH_WORK-$default_work}
counts=${LUO_BENCH_N-1000 8000}
# The timed loops of the scale boot, in the order luo_bench reports them.
scale_ops="create_sessions close_sessions preserve_memfds retrieve_sessions retrieve_memfds finish_memfds"
impls=${LUO_BENCH_IMPLS:-c rust}
out=${LUO_BENCH_OUT:-$ROOT/bench}
export LUO_VM_MEM=${LUO_VM_MEM:-6G}
export LUO_QEMU_ARGS="-icount shift=0,sleep=off ${LUO_BENCH_QEMU_ARGS:-}"
# The local APIC timer calibration loop of x86 sometimes never ends under
# -icount (seen in both kernels, at random, before any LUO code runs):
# the PIT/HPET tick does the job instead, the same in both kernels.
export LUO_EXTRA_CMDLINE="noapictimer ${LUO_EXTRA_CMDLINE:-}"
logs=$ROOT/build/logs/bench
mkdir -p "$logs" "$out"
start=$SECONDS
status=0

# The boots of each kernel: "NAME ARGS...", ARGS those of luo_bench after
# "-s STAGE -n 2".
runs=()
w4k="" wthp=""
for w in $work; do
	case "$w" in
	*:*:*:thp) wthp+=" -w $w" ;;
	*:*:*:*) die "LUO_BENCH_WORK: '$w' is not NAME:SIZE:WRITTEN[:thp]" ;;
	*:*:*) w4k+=" -w $w" ;;
	*) die "LUO_BENCH_WORK: '$w' is not NAME:SIZE:WRITTEN[:thp]" ;;
	esac
done
[ -n "$w4k" ] && runs+=("4k -S bench-4k$w4k")
[ -n "$wthp" ] && runs+=("thp -S bench-thp$wthp")
# One scale boot per N, so that the sessions, names and slabs of one count
# do not weigh on the figures of the next.
for n in $counts; do runs+=("scale$n -N $n"); done
[ ${#runs[@]} -gt 0 ] || die "nothing to run: LUO_BENCH_WORK and LUO_BENCH_N are both empty"
for r in "${runs[@]}"; do
	# luo_init passes at most 31 words of /test_args: "-s @STAGE@ -n 2" and the
	# words of the run but its name.
	[ $(( $(wc -w <<< "$r") + 3 )) -le 31 ] || die "too many memfds in one boot: ${r%% *}"
done

for k in $impls; do impl_check "$k"; done
# Build the kernels, boot each kernel once per run, collect the results.
run_all() {
	for k in $impls; do
		"$ROOT/harness/kernel.sh" "$k" > "$ROOT/build/kernel-$k.log" 2>&1 ||
			{ tail -20 "$ROOT/build/kernel-$k.log" >&2; die "the $k kernel did not build"; }
	done
	if [ -n "${LUO_BENCH_PROFILE:-}" ]; then
		cc -O2 -Wall -shared -fPIC "$ROOT/harness/tbprof.c" -o "$ROOT/build/tbprof.so" -lpthread ||
			die "harness/tbprof.c did not build"
	fi
	# -icount is TCG only.
	ACCEL=tcg
	for k in $impls; do
		cur_impl=$k
		build_guest_programs "$k"
		tdir=$ROOT/build/tests/$k
		rm -f "$logs/$k".*
		for r in "${runs[@]}"; do
			run=${r%% *} args="-s @STAGE@ -n 2 ${r#* }"
			note "bench: $k -> $k, $run boot (luo_bench $args)"
			mk_chain_initrd "$tdir/bench-$run.cpio" "$tdir/luo_bench" "$args" "$k"
			log=$logs/$k.$run.log
			prof=""
			if [ -n "${LUO_BENCH_PROFILE:-}" ]; then
				mark() { nm "$tdir/luo_bench" | awk -v s="luo_bench_mark_$1" '$3 == s { print "0x" $1 }'; }
				prof="-plugin $ROOT/build/tbprof.so,begin=$(mark begin),end=$(mark end),out=$log.prof"
			fi
			t=$SECONDS st=0
			LUO_QEMU_ARGS="$LUO_QEMU_ARGS $prof" \
				run_vm "$log" "$(impl_out "$k")/bzImage" "$tdir/bench-$run.cpio" \
				"${LUO_BENCH_TIMEOUT:-1800}" || st=$?
			note "bench: $k $run boot: $((SECONDS - t)) s"
			if ! grep -q "LUO-INIT: stage 2 passed, all stages passed" "$log.user"; then
				echo "not ok - bench ($run boot) on $k did not complete" \
					"(QEMU status $st; build/logs/bench/$k.$run.log)"
				grep -E '^(not ok|Bail out|# .*fail)' "$log.user" | head -5 | sed 's/^/#   /'
				status=1
			fi
			sed -n 's/^# LUO-BENCH: //p' "$log.user" > "$log.results"
			cat "$log.results" >> "$logs/$k.results"
			if [ -n "$prof" ]; then
				# Window i is the i-th timed ioctl or loop: the i-th "ns" line.
				i=0
				awk '$4 == "ns" { print $1 "-" $2 }' "$log.results" | while read -r op; do
					i=$((i + 1))
					if [ -f "$log.prof.$i" ]; then
						"$ROOT/harness/tbprof.py" "$(impl_out "$k")/vmlinux" "$log.prof.$i" 40 \
							> "$logs/$k.profile.$op.txt"
					fi
				done
			fi
		done
		if [ -n "${LUO_BENCH_PROFILE:-}" ]; then
			note "bench: instructions by kernel function: build/logs/bench/$k.profile.*.txt"
		fi
	done
}
# LUO_BENCH_REPORT_ONLY=1: no build and no VM, only the table and the plot
# made again from the results in build/logs/bench/ (after editing them).
if [ -z "${LUO_BENCH_REPORT_ONLY:-}" ]; then
	run_all
fi

# value IMPL OP NAME: the measurement, or "-".
value() {
	awk -v op="$2" -v n="$3" '$1 == op && $2 == n { print $3; f = 1 } END { if (!f) print "-" }' \
		"$logs/$1.results" 2>/dev/null || echo -
}
fmt_ms() { [ "$1" = - ] && echo - || awk -v v="$1" 'BEGIN { printf "%.3f", v / 1e6 }'; }
ratio() {
	local c r
	c=$(value c "$1" "$2") r=$(value rust "$1" "$2")
	if [ "$c" != - ] && [ "$r" != - ] && [ "$c" != 0 ]; then
		awk -v c="$c" -v r="$r" 'BEGIN { f = r / c < 0.1 ? "%.3f" : "%.2f"; printf f, r / c }'
	else
		echo -
	fi
}
both() { [ "$impls" = "c rust" ]; }
names=() sessions=()
for w in $work; do names+=("${w%%:*}"); done
[ -n "$w4k" ] && sessions+=(bench-4k)
[ -n "$wthp" ] && sessions+=(bench-thp)
# Bytes of a SIZE with a K, M or G suffix, as luo_bench reads it.
bytes() { awk -v s="$1" 'BEGIN { v = s + 0; u = substr(s, length(s));
	if (u == "K") v *= 2^10; if (u == "M") v *= 2^20; if (u == "G") v *= 2^30; printf "%d", v }'; }
describe() {
	local n s wr f
	IFS=: read -r n s wr f <<< "$1"
	if [ "$f" = thp ]; then
		echo "$n: $s, $wr written through a MADV_HUGEPAGE mapping (2 MiB folios), session bench-thp"
	elif [ "$(bytes "$s")" != "$(bytes "$wr")" ]; then
		echo "$n: $s, $wr written with pwrite in 1 MiB chunks spread over it, session bench-4k"
	else
		echo "$n: $s, every byte written with pwrite (4 KiB folios), session bench-4k"
	fi
}

table() {
	echo "# make bench"
	echo
	echo "Guest time (QEMU -icount shift=0,sleep=off: 1 ns per guest instruction) of"
	echo "\`make bench\` on $(date -u +%Y-%m-%d), repository $(git -C "$ROOT" rev-parse --short HEAD),"
	echo "lockdep kernels, guest memory $LUO_VM_MEM; C is the upstream LUO and"
	echo "\`mm/memfd_luo.c\`, Rust is this repository's LUO and \`mm/memfd_luo.rs\`."
	if [ -z "${LUO_BENCH_REPORT_ONLY:-}" ]; then
		t=$((SECONDS - start))
		echo "The run took $((t / 60)) min $((t % 60)) s of host time."
	else
		echo "(Table remade from the results of an earlier run: LUO_BENCH_REPORT_ONLY.)"
	fi
	echo
	echo "Workload (one boot per group, each a stage 1, a kexec and a stage 2):"
	echo
	for w in $work; do echo "- $(describe "$w")"; done
	for n in $counts; do
		echo "- n$n: create_sessions creates $n sessions (kept open across the kexec),"
		echo "  close_sessions closes $n others, preserve_memfds preserves $n one-page"
		echo "  memfds into one session; after the kexec retrieve_sessions retrieves the"
		echo "  $n sessions, retrieve_memfds the $n memfds, finish_memfds finishes their"
		echo "  session (each a loop of $n ioctls, timed as a whole)"
	done
	echo
	printf '| step | what |'; for k in $impls; do printf ' %s (ms) |' "$k"; done
	both && printf ' rust / c |'
	echo
	printf '| --- | --- |'; for k in $impls; do printf ' ---: |'; done
	both && printf ' ---: |'
	echo
	rows=""
	for n in "${names[@]}"; do rows+=" preserve_fd:$n"; done
	for s in "${sessions[@]}"; do rows+=" retrieve_session:$s"; done
	for n in "${names[@]}"; do rows+=" retrieve_fd:$n"; done
	for s in "${sessions[@]}"; do rows+=" finish:$s"; done
	for n in $counts; do
		for op in $scale_ops; do
			rows+=" $op:n$n"
		done
	done
	for r in $rows; do
		op=${r%%:*} n=${r#*:}
		printf '| %s | %s |' "$op" "$n"
		for k in $impls; do printf ' %s |' "$(fmt_ms "$(value "$k" "$op" "$n")")"; done
		both && printf ' %s |' "$(ratio "$op" "$n")"
		echo
	done
	set -- $counts
	if [ $# -ge 2 ]; then
		lo=$1 hi=${!#}
		echo
		echo "Growth of each scale loop from n$lo to n$hi (time at n$hi / time at n$lo,"
		echo "for $((hi / lo)) times the work; linear is $((hi / lo)), the goal at most $((hi * 3 / lo / 2))):"
		echo
		printf '| loop |'; for k in $impls; do printf ' %s |' "$k"; done; echo
		printf '| --- |'; for k in $impls; do printf ' ---: |'; done; echo
		for op in $scale_ops; do
			printf '| %s |' "$op"
			for k in $impls; do
				printf ' %s |' "$(awk -v a="$(value "$k" "$op" "n$lo")" -v b="$(value "$k" "$op" "n$hi")" \
					'BEGIN { if (a == "-" || b == "-" || a == 0) print "-"; else printf "%.1f", b / a }')"
			done
			echo
		done
	fi
	if both; then
		echo
		echo "Goals (rust / c): memfd RETRIEVE_FD at most 0.5, PRESERVE_FD at most 1.0;"
		echo "every scale loop at most 1.0:"
		echo
		for r in $rows; do
			op=${r%%:*} n=${r#*:} q=$(ratio "$op" "$n")
			case " preserve_fd retrieve_fd $scale_ops " in
			*" $op "*) ;;
			*) continue ;;
			esac
			lim=1.0
			[ "$op" = retrieve_fd ] && lim=0.5
			[ "$q" = - ] && continue
			awk -v q="$q" -v l="$lim" 'BEGIN { exit !(q <= l) }' && v=met || v="NOT met"
			echo "- $op $n: $q (goal <= $lim): $v"
		done
	fi
	echo
	echo "Memory: growth of Shmem (/proc/meminfo) across PRESERVE_FD, the memfd's blocks"
	echo "before and after it, and growth of ShmemHugePages across the fill and across"
	echo "RETRIEVE_FD (what of the memfd is in huge pages before and after the kexec):"
	echo
	printf '| memfd |'
	for k in $impls; do
		printf ' %s Shmem growth | %s blocks | %s huge filled | %s huge retrieved |' "$k" "$k" "$k" "$k"
	done
	echo
	printf '| --- |'; for k in $impls; do printf ' ---: | ---: | ---: | ---: |'; done
	echo
	for n in "${names[@]}"; do
		printf '| %s |' "$n"
		for k in $impls; do
			printf ' %s KiB | %s -> %s KiB | %s KiB | %s KiB |' "$(value "$k" shmem_growth "$n")" \
				"$(value "$k" blocks_before "$n")" "$(value "$k" blocks_after "$n")" \
				"$(value "$k" thp_filled "$n")" "$(value "$k" thp_retrieved "$n")"
		done
		echo
	done
	echo
	echo "![guest time of PRESERVE_FD and RETRIEVE_FD against memfd size](guest-time.svg)"
}
table | tee "$ROOT/build/bench.md" > "$out/results.md"
cat "$out/results.md"

# The plot's data: blocks of "MiB c-preserve rust-preserve c-retrieve
# rust-retrieve" (ms), by size: the dense 4 KiB memfds, the dense THP ones,
# the sparse ones ("-" where a kernel did not run).
dat=$ROOT/build/bench-plot.dat
for kind in 4k thp sparse; do
	echo "# $kind"
	for w in $work; do
		IFS=: read -r n s wr f <<< "$w"
		if [ "$(bytes "$s")" != "$(bytes "$wr")" ]; then this=sparse
		elif [ "$f" = thp ]; then this=thp
		else this=4k
		fi
		[ "$this" = "$kind" ] || continue
		printf '%s' "$(awk -v b="$(bytes "$s")" 'BEGIN { print b / 2^20 }')"
		for op in preserve_fd retrieve_fd; do
			for k in c rust; do printf ' %s' "$(fmt_ms "$(value "$k" "$op" "$n")")"; done
		done
		echo
	done | sort -n
	printf 'NaN - - - -\n\n\n'   # so that no block is empty
done > "$dat"
if command -v gnuplot >/dev/null; then
	gnuplot -e "data='$dat'; out='$out/guest-time.svg'; when='$(date -u +%Y-%m-%d)'" \
		"$ROOT/harness/bench_plot.gp" || { echo "not ok - gnuplot failed"; status=1; }
	note "bench: table in ${out#"$ROOT"/}/results.md, plot in ${out#"$ROOT"/}/guest-time.svg"
else
	echo "not ok - no gnuplot (make deps installs gnuplot-nox): no plot"
	status=1
fi
exit $status
