# SPDX-License-Identifier: GPL-2.0
# Shared settings of the luo-rs harness.  Sourced by the other scripts.
#
# Everything big lives in $LUO_CACHE, outside the clone, so that a fresh clone
# (CI, the next session) reuses an unpacked tree and warm build directories.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LUO_CACHE=${LUO_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/luo-rs}
SHARED_CACHE=${SHARED_CACHE:-$ROOT/../shared/cache}
export PATH="${CARGO_HOME:-${HOME:-/root}/.cargo}/bin:$PATH"

# Pinned inputs (sha256 as in Debian's archive).
LINUX_PKG=linux-source-7.3
LINUX_VER=7.3.4-1~bpo13+1
LINUX_DEB=linux-source-7.3_7.3.4-1~bpo13+1_all.deb
LINUX_SHA=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
RUSTSRC_PKG=rust-src
RUSTSRC_VER=1.95.0+dfsg1-2~bpo13+1
RUSTSRC_DEB=rust-src_1.95.0+dfsg1-2~bpo13+1_all.deb
RUSTSRC_SHA=7b76db5b880a77f9e52975d2baa6209d2f76d2c9c2789515c3088cb960e2c83b
BINDGEN_VER=0.72.1
RUSTC_VER=1.95.0
LLVM_SUFFIX=-19

PRISTINE=$LUO_CACHE/linux-7.3.4          # LUO_IMPL=c: never modified
RUST_TREE=$LUO_CACHE/linux-7.3.4-rust    # LUO_IMPL=rust: pristine + this repo
RUST_LIB_SRC=$LUO_CACHE/rust-src/usr/src/rustc-1.95.0/library
export RUST_LIB_SRC

JOBS=${JOBS:-$(( $(nproc) + 1 ))}

die() { echo "error: $*" >&2; exit 1; }
note() { echo "==> $*" >&2; }

# Source tree, object directory and result directory of one variant.
impl_check() {
	case "$1" in
	c|rust) ;;
	*) die "LUO_IMPL must be 'c' or 'rust', not '$1'" ;;
	esac
}
impl_src() { if [ "$1" = c ]; then echo "$PRISTINE"; else echo "$RUST_TREE"; fi; }
# DEBUG=1: the debug variant of either kernel (config/debug.config: KASAN,
# kmemleak, DEBUG_LIST, fault injection), in directories of its own.
DEBUG=${DEBUG:-}
case "$DEBUG" in ''|0) DEBUG= ;; 1) ;; *) die "DEBUG must be 1 or unset, not '$DEBUG'" ;; esac
impl_obj() { echo "$LUO_CACHE/obj-$1${DEBUG:+-debug}"; }
impl_out() { echo "$ROOT/build/$1${DEBUG:+-debug}"; }

# True when this repository carries the Rust LUO (otherwise the rust variant
# is the C LUO built from the overlaid tree).
have_rust_luo() { [ -f "$ROOT/luo_core.rs" ]; }

kmake() {
	local impl=$1; shift
	make -C "$(impl_src "$impl")" O="$(impl_obj "$impl")" LLVM=$LLVM_SUFFIX \
		RUST_LIB_SRC="$RUST_LIB_SRC" LOCALVERSION=-luo-"$impl${DEBUG:+-debug}" "$@"
}
