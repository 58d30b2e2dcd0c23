# SPDX-License-Identifier: GPL-2.0
# luo-rs: build and test harness.  See README.md.
#
#   make deps     install everything the build and the tests need
#   make kernel   build LUO_IMPL (rust or c) into build/<impl>/
#   make check    build what is missing, run the suite under QEMU
#   make demo     boot LUO_IMPL and show a live update on the console
#   make bench    guest time of the memfd paths, C kernel against Rust
#   make shell    boot LUO_IMPL into an interactive shell
#
# LUO_IMPL=rust (default) is the tree with this repository applied;
# LUO_IMPL=c is the pristine 7.3.4 tree, the upstream C reference.

LUO_IMPL ?= rust
export LUO_IMPL

.PHONY: all deps kernel check demo bench shell clean help

all: kernel

help:
	@sed -n '2,13p' Makefile | sed 's/^# \{0,1\}//'

deps:
	@harness/deps.sh

kernel: deps
	@harness/kernel.sh $(LUO_IMPL)

# make check prints KTAP on stdout: what deps prints goes to stderr.
check:
	@harness/deps.sh >&2
	@harness/check.sh

demo: deps
	@harness/demo.sh demo

bench: deps
	@harness/bench.sh

shell: deps
	@harness/demo.sh shell

# Removes the results in the clone; the caches outside it stay.
clean:
	rm -rf build
