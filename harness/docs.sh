#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The LUO documentation of one variant's tree must build without a warning.
#
#   harness/docs.sh [c|rust]     (default LUO_IMPL, else rust)
#
# The LUO rst files are the fixed list below plus every rst file of the tree
# whose kernel-doc directives name a LUO or KHO source.  Two checks:
#
#  1. kernel-doc: every source those directives name exists, each ":doc:"
#     section they ask for exists in it, and "scripts/kernel-doc -none" over
#     all of them prints nothing.  Same warning set as "make htmldocs", which
#     runs kernel-doc in-process without -W flags (LUO_DOCS_KDOC_FLAGS=-Wall
#     adds kernel-doc's extra warnings; the pristine tree has some there).
#  2. Sphinx, when sphinx-build is installed: the LUO rst files, with the
#     tree's Documentation/conf.py, extensions and kernel-doc, built as one
#     project in $LUO_CACHE/docs-<impl> (sphinx-build -E, no saved state), so
#     links between them resolve (a "make SPHINXDIRS=core-api htmldocs" warns
#     about every link to userspace-api/ or mm/, and takes minutes).  Any
#     warning or error fails, except the environment's "dot(1) not found".
#     Skipped when its inputs have the checksum of the last clean build.
#
# One "ok"/"not ok" line per check, "#" lines with the details; exit status
# 1 on any failure.  LUO_DOCS_TREE=<dir> checks that tree instead (as is: the
# overlay is not applied); otherwise the rust tree gets the overlay first.
. "$(dirname "$0")/common.sh"

impl=${1:-${LUO_IMPL:-rust}}
impl_check "$impl"
tree=${LUO_DOCS_TREE:-$(impl_src "$impl")}
out=$LUO_CACHE/docs-$impl
[ -d "$tree/Documentation" ] || die "no kernel tree at $tree (run 'make kernel' first)"
tree=$(cd "$tree" && pwd -P)
if [ -z "${LUO_DOCS_TREE:-}" ] && [ "$impl" = rust ]; then
	"$ROOT/harness/overlay.sh" > /dev/null
fi

fail=0
ok() { echo "ok - docs ($impl): $*"; }
notok() { echo "not ok - docs ($impl): $*"; fail=1; }
detail() { sed 's/^/#   /'; }

# --- the LUO rst files -------------------------------------------------------------
# The rst files of LUO and KHO (and the one KHO document they link to), plus
# any other rst file that pulls kernel-doc from their sources.
docs=(core-api/liveupdate.rst core-api/liveupdate-rust.rst
      userspace-api/liveupdate.rst mm/memfd_preservation.rst
      core-api/kho/index.rst core-api/kho/abi.rst admin-guide/mm/kho.rst)
luo_src='kernel/liveupdate/|mm/memfd_luo|include/linux/liveupdate\.h|include/uapi/linux/liveupdate\.h|include/linux/kho'
mapfile -t found < <(cd "$tree/Documentation" &&
	grep -rlE --include='*.rst' "^\.\. kernel-doc:: +($luo_src)" . | sed 's|^\./||' | sort)
mapfile -t docs < <(printf '%s\n' "${docs[@]}" "${found[@]}" | awk '!seen[$0]++')
present=()
for d in "${docs[@]}"; do
	[ -f "$tree/Documentation/$d" ] && present+=("$d")
done
# core-api/liveupdate-rust.rst is the rust tree's only; the others must exist.
for d in "${docs[@]}"; do
	[ -f "$tree/Documentation/$d" ] || [ "$d" = core-api/liveupdate-rust.rst ] ||
		notok "Documentation/$d is missing"
done

# --- 1. kernel-doc -----------------------------------------------------------------
# Each directive as "rst<TAB>source<TAB>option<TAB>value" (option: doc, export,
# internal, identifiers, functions, or none).
directives=$(cd "$tree/Documentation" && awk '
	function flush() { if (src != "") print rst "\t" src "\t" opt "\t" val; src = "" }
	FNR == 1 { flush() }
	/^\.\. kernel-doc::/ {
		flush(); rst = FILENAME; src = $3; opt = "none"; val = ""; next }
	src != "" && /^[ \t]+:[a-z-]+:/ {
		o = $0; sub(/^[ \t]+:/, "", o); v = o; sub(/:.*/, "", o); sub(/^[a-z-]+:[ \t]*/, "", v)
		if (opt == "none" || o != "no-identifiers") { opt = o; val = v }
		next }
	{ flush() }
	END { flush() }' "${present[@]}")
mapfile -t sources < <(cut -f2 <<<"$directives" | sed '/^$/d' | sort -u)
declare -A missing=()
nodoc=()
while IFS=$'\t' read -r rst src opt val; do
	[ -n "$src" ] || continue
	if [ ! -f "$tree/$src" ]; then
		[[ "${missing[$src]:-}" == *"Documentation/$rst"* ]] ||
			missing[$src]="${missing[$src]:+${missing[$src]}, }Documentation/$rst"
	elif [ "$opt" = doc ] &&
	     ! grep -qE "^[[:space:]]*\*[[:space:]]*DOC:[[:space:]]*$(sed 's/[][\.*^$()+?{}|/]/\\&/g' <<<"$val")[[:space:]]*\$" "$tree/$src"; then
		nodoc+=("$src has no 'DOC: $val' (Documentation/$rst)")
	fi
done <<<"$directives"
existing=()
for s in "${sources[@]}"; do [ -f "$tree/$s" ] && existing+=("$s"); done
kdoc_out=""
if [ ${#existing[@]} -gt 0 ]; then
	# shellcheck disable=SC2086
	kdoc_out=$(cd "$tree" && PYTHONDONTWRITEBYTECODE=1 ${PYTHON3:-python3} scripts/kernel-doc \
		-none ${LUO_DOCS_KDOC_FLAGS:-} "${existing[@]}" 2>&1 | awk '!seen[$0]++') ||
		kdoc_out="kernel-doc failed: $kdoc_out"
fi
if [ ${#missing[@]} = 0 ] && [ ${#nodoc[@]} = 0 ] && [ -z "$kdoc_out" ]; then
	ok "kernel-doc: the ${#sources[@]} sources named by ${#present[@]} rst files exist and give no warning"
else
	notok "kernel-doc: ${#missing[@]} missing source(s), ${#nodoc[@]} missing DOC section(s), $(grep -c . <<<"$kdoc_out" || true) warning(s)"
	for m in "${!missing[@]}"; do echo "no such file: $m (named by ${missing[$m]})"; done | sort | detail
	for m in "${nodoc[@]}"; do echo "$m"; done | detail
	[ -z "$kdoc_out" ] || head -40 <<<"$kdoc_out" | detail
fi

# --- 2. Sphinx -----------------------------------------------------------------------
sphinx=$(command -v "${SPHINXBUILD:-sphinx-build}" || true)
if [ -z "$sphinx" ]; then
	ok "sphinx # SKIP sphinx-build is not installed (make deps installs it)"
	exit $fail
fi
sver=$("$sphinx" --version 2>&1)
# Inputs: the rst files, the sources they name, the tree's Sphinx set-up and
# kernel-doc, the Sphinx version and this script.
inputs=$( {
	echo "$sver"
	sha256sum < "$0"
	cd "$tree"
	{
		for d in "${present[@]}"; do echo "Documentation/$d"; done
		printf '%s\n' "${existing[@]}" Documentation/conf.py tools/docs/kernel-doc
		find Documentation/sphinx tools/lib/python/kdoc -type f -name '*.py'
	} | sort -u | xargs -d '\n' sha256sum
	} | sha256sum | cut -d' ' -f1)
if [ "$(cat "$out/clean.stamp" 2>/dev/null)" = "$inputs" ]; then
	ok "sphinx: the ${#present[@]} LUO rst files build without warning (inputs unchanged since the last clean build, $sver)"
	exit $fail
fi
rm -rf "$out"
mkdir -p "$out/src/Documentation"
# The tree's maintainers_include extension wants a Documentation directory
# with MAINTAINERS beside it.
ln -s "$tree/MAINTAINERS" "$out/src/MAINTAINERS"
(cd "$tree/Documentation" && cp --parents "${present[@]}" "$out/src/Documentation/")
# The root document lists those the tree's own index files list; any other
# must be reached by a toctree of the set, or Sphinx says it is in none, as
# the full build would.
rooted() {
	local d=${1%.rst} p
	p=$(dirname "$d")
	[ "$(basename "$d")" != index ] || p=$(dirname "$p")
	while [ "$p" != . ]; do
		grep -qE "^[[:space:]]+${d#"$p"/}(\.rst)?[[:space:]]*\$" \
			"$tree/Documentation/$p/index.rst" 2>/dev/null && return 0
		p=$(dirname "$p")
	done
	return 1
}
{
	echo "LUO documentation"
	echo "================="
	echo
	echo ".. toctree::"
	echo "   :maxdepth: 1"
	echo
	for d in "${present[@]}"; do ! rooted "$d" || echo "   ${d%.rst}"; done
} > "$out/src/Documentation/index.rst"
t0=$(date +%s)
st=0
srctree=$tree PYTHONDONTWRITEBYTECODE=1 "$sphinx" -q -E -j 1 -b html \
	-c "$tree/Documentation" -d "$out/doctrees" \
	-D kerneldoc_srctree="$tree" -D version=luo-rs -D release=luo-rs \
	"$out/src/Documentation" "$out/html" > "$out/build.log" 2>&1 || st=$?
dt=$(( $(date +%s) - t0 ))
# Report paths as in the tree.
sed -i -e "s|$out/src/Documentation/|Documentation/|g" -e "s|$tree/||g" "$out/build.log"
# With -q, Sphinx prints only warnings and errors (and conf.py its theme).
warnings=$(grep -v -e '^Using [a-z_]* theme$' -e '^WARNING: dot(1) not found' "$out/build.log" |
	awk '!seen[$0]++' || true)
if [ "$st" = 0 ] && [ -z "$warnings" ]; then
	ok "sphinx: the ${#present[@]} LUO rst files build without warning (${dt}s, $sver, $out/html)"
	echo "$inputs" > "$out/clean.stamp"
else
	notok "sphinx: status $st, $(grep -c . <<<"$warnings" || true) warning(s)/error(s) ($out/build.log)"
	head -40 <<<"${warnings:-$(tail -20 "$out/build.log")}" | detail
fi
exit $fail
