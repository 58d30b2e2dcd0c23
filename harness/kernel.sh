#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make kernel: build one variant (LUO_IMPL=c or rust) out of tree.
#
#   c     the pristine 7.3.4 tree with the upstream C LUO: the reference
#         (plus one test-only file, lib/tests/luo_test_handler.c, below)
#   rust  a copy of the tree with this repository applied (harness/overlay.sh)
#
# Results (symlinks into $LUO_CACHE): build/<impl>/{bzImage,vmlinux,.config,
# gen_init_cpio,headers/include}.
. "$(dirname "$0")/common.sh"

impl=${1:-${LUO_IMPL:-rust}}
impl_check "$impl"

[ -f "$LUO_CACHE/linux-deb.path" ] && [ -d "$RUST_LIB_SRC/core" ] ||
	die "dependencies missing: run 'make deps' first"

# --- the pristine tree, unpacked once ------------------------------------------
if [ "$(cat "$PRISTINE.stamp" 2>/dev/null)" != "$LINUX_SHA" ]; then
	note "unpacking $LINUX_DEB into $PRISTINE"
	rm -rf "$PRISTINE" "$PRISTINE.tmp" "$RUST_TREE" "$RUST_TREE.stamp"
	mkdir -p "$PRISTINE.tmp"
	dpkg -x "$(cat "$LUO_CACHE/linux-deb.path")" "$PRISTINE.tmp/deb"
	tar -C "$PRISTINE.tmp" -xf "$PRISTINE.tmp/deb/usr/src/linux-source-7.3.tar.xz"
	mv "$PRISTINE.tmp/linux-source-7.3" "$PRISTINE"
	rm -rf "$PRISTINE.tmp"
	echo "$LINUX_SHA" > "$PRISTINE.stamp"
fi

src=$(impl_src "$impl")
obj=$(impl_obj "$impl")
out=$(impl_out "$impl")

# --- the rust variant's tree: a copy, then the overlay -------------------------
if [ "$impl" = rust ]; then
	if [ "$(cat "$RUST_TREE.stamp" 2>/dev/null)" != "$LINUX_SHA" ]; then
		note "copying the pristine tree to $RUST_TREE"
		rm -rf "$RUST_TREE" "$LUO_CACHE/overlay.manifest"
		cp -a "$PRISTINE" "$RUST_TREE"
		echo "$LINUX_SHA" > "$RUST_TREE.stamp"
	fi
	"$ROOT/harness/overlay.sh"
	if have_rust_luo; then
		note "LUO_IMPL=rust: building the Rust LUO of this repository"
	else
		note "LUO_IMPL=rust: NOTE: this repository has no Rust LUO yet (no luo_core.rs);"
		note "               the rust variant still builds the upstream C LUO"
	fi
else
	note "LUO_IMPL=c: building the pristine tree (upstream C LUO, the reference)"
fi

# --- the test file handler, in both trees -----------------------------------------
# selftests/luo_test_handler.c is built into either kernel as
# lib/tests/luo_test_handler.c with CONFIG_LIVEUPDATE_TEST (7.3's LUO exports
# nothing to modules); it registers only with "luo_test_handler" on the
# command line.  The one addition to the reference tree: no LUO file changes.
for f in luo_test_handler.c luo_test_handler.h; do
	cmp -s "$ROOT/selftests/$f" "$src/lib/tests/$f" || cp "$ROOT/selftests/$f" "$src/lib/tests/$f"
done
line='obj-$(CONFIG_LIVEUPDATE_TEST) += luo_test_handler.o'
grep -qxF "$line" "$src/lib/tests/Makefile" || echo "$line" >> "$src/lib/tests/Makefile"

# --- configuration: allnoconfig + config/luo.config + upstream selftest config --
mkdir -p "$obj"
frag=$obj/luo-fragment.config
sel=$src/tools/testing/selftests/liveupdate
extra=()
[ "$impl" = rust ] && extra=("$ROOT/config/luo-rust.config")
[ -n "$DEBUG" ] && extra+=("$ROOT/config/debug.config")
cat "$ROOT/config/luo.config" "${extra[@]}" "$sel/config.x86_64" "$sel/config" > "$frag.new"
if ! cmp -s "$frag.new" "$frag" || [ ! -f "$obj/.config" ]; then
	note "configuring $obj (allnoconfig + fragment)"
	mv "$frag.new" "$frag"
	kmake "$impl" -s KCONFIG_ALLCONFIG="$frag" allnoconfig 2>&1 |
		grep -v 'override: reassigning' || true
else
	rm -f "$frag.new"
fi
bad=0
while read -r l; do
	case "$l" in CONFIG_*) grep -qxF "$l" "$obj/.config" || { echo "missing from .config: $l" >&2; bad=1; } ;; esac
done < "$frag"
[ $bad = 0 ] || die "the kernel configuration lacks options the tests need (see above)"

# --- build ------------------------------------------------------------------------
note "building bzImage ($impl, -j$JOBS)"
start=$(date +%s)
kmake "$impl" -j"$JOBS" bzImage
kmake "$impl" -s headers_install INSTALL_HDR_PATH="$obj/hdr"
note "built $impl in $(( $(date +%s) - start )) s"

mkdir -p "$out"
ln -sfn "$obj/arch/x86/boot/bzImage" "$out/bzImage"
ln -sfn "$obj/vmlinux" "$out/vmlinux"
ln -sfn "$obj/.config" "$out/.config"
ln -sfn "$obj/usr/gen_init_cpio" "$out/gen_init_cpio"
ln -sfn "$obj/hdr" "$out/headers"
for f in bzImage vmlinux .config gen_init_cpio headers/include; do
	[ -e "$out/$f" ] || die "build of $impl produced no $f"
done
