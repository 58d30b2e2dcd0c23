# SPDX-License-Identifier: GPL-2.0
# The plot of make bench (harness/bench.sh): guest time of PRESERVE_FD and
# RETRIEVE_FD against memfd size, C and Rust, 4 KiB folios and THP, and the
# sparse memfds as single points.
#
#   gnuplot -e "data='build/bench-plot.dat'; out='bench/guest-time.svg'; when='DATE'" \
#           harness/bench_plot.gp
#
# data: three blocks (4 KiB, THP, sparse) of lines
# "MiB c-preserve rust-preserve c-retrieve rust-retrieve", in ms, "-" where
# a kernel did not run.

set terminal svg size 1100,480 dynamic noenhanced font "sans,12" background "white"
set output out
set datafile missing "-"

title = sprintf("make bench %s: guest time (QEMU -icount shift=0, ", when) . \
	"1 ns per instruction), lockdep kernels"
set multiplot layout 1,2 title title
set logscale xy 2
set logscale y 10
set xrange [40:1600]
set xtics ("64 MiB" 64, "256 MiB" 256, "1 GiB" 1024)
set xlabel "memfd size"
set ylabel "guest time (ms)"
set format y "%g"
set grid xtics ytics mytics
set key top left box opaque Left reverse font ",10"

# C blue, Rust orange; 4 KiB solid with circles, THP dashed with triangles.
set style line 1 lc rgb "#1f77b4" lw 2 dt 1 pt 7 ps 0.8
set style line 2 lc rgb "#ff7f0e" lw 2 dt 1 pt 7 ps 0.8
set style line 3 lc rgb "#1f77b4" lw 2 dt 2 pt 9 ps 1
set style line 4 lc rgb "#ff7f0e" lw 2 dt 2 pt 9 ps 1
set style line 5 lc rgb "#1f77b4" pt 4 ps 1.3 lw 2
set style line 6 lc rgb "#ff7f0e" pt 4 ps 1.3 lw 2

do for [op in "PRESERVE_FD RETRIEVE_FD"] {
	c = (op eq "PRESERVE_FD") ? 2 : 4
	set title op
	plot data index 0 using 1:c with linespoints ls 1 title "C, 4 KiB folios", \
	     data index 0 using 1:c+1 with linespoints ls 2 title "Rust, 4 KiB folios", \
	     data index 1 using 1:c with linespoints ls 3 title "C, THP (2 MiB folios)", \
	     data index 1 using 1:c+1 with linespoints ls 4 title "Rust, THP (2 MiB folios)", \
	     data index 2 using 1:c with points ls 5 title "C, sparse (mostly holes)", \
	     data index 2 using 1:c+1 with points ls 6 title "Rust, sparse (mostly holes)"
}
unset multiplot
