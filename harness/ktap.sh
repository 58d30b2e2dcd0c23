# SPDX-License-Identifier: GPL-2.0
# KTAP output of make check (Documentation/dev-tools/ktap.rst).  Sourced by
# check.sh after common.sh.
#
# The top level is "KTAP version 1", then a plan of one test per selected
# group (ktap_start N).  Each group, when it ends, prints a subtest block
# indented by two spaces (its own version line, "# Subtest: NAME", plan,
# "ok"/"not ok" lines and "# " diagnostics), then its own top-level result
# line, "not ok" when any of its tests failed.  After all groups, ktap_end
# prints the line "N passed, N failed" over the tests of all groups.
#
#   group_begin NAME          start a group: stdout is collected for its block
#   ok "description"          a test that passed
#   notok "description"       a test that failed
#   skip "description" "why"  a test that did not run (or whose result is
#                             not this variant's to judge)
#   echo "# ..."              a diagnostic (any other line becomes one too)
#   group_end                 print the block and the group's result line
#   group_skip NAME "reason"  a selected group that cannot run here
#
# "#" in a description would start a KTAP directive ("# SKIP"), so ok and
# notok drop it.

npass=0 nfail=0 nskip=0 ngroup=0 gname="" gbuf="" gn=0 gfail=0

ktap_start() {
	echo "KTAP version 1"
	echo "1..$1"
}

ok() { gn=$((gn + 1)); npass=$((npass + 1)); echo "ok $gn ${*//\#/}"; }
notok() { gn=$((gn + 1)); gfail=$((gfail + 1)); nfail=$((nfail + 1)); echo "not ok $gn ${*//\#/}"; }
skip() { gn=$((gn + 1)); nskip=$((nskip + 1)); echo "ok $gn ${1//\#/} # SKIP ${2//\#/}"; }

group_begin() {
	gname=$1 gn=0 gfail=0
	gbuf=$(mktemp)
	exec 3>&1 >"$gbuf"
}

group_end() {
	[ "$gn" -gt 0 ] || notok "$gname: no test ran"
	exec 1>&3 3>&-
	ngroup=$((ngroup + 1))
	printf '  KTAP version 1\n  # Subtest: %s\n  1..%s\n' "$gname" "$gn"
	sed -E '/^(ok|not ok) [0-9]+ |^#/!s/^/# /; s/^/  /' "$gbuf"
	echo "$([ "$gfail" = 0 ] || echo "not ")ok $ngroup $gname"
	rm -f "$gbuf"
	gname=""
}

group_skip() {
	ngroup=$((ngroup + 1))
	echo "ok $ngroup $1 # SKIP $2"
}

ktap_end() {
	echo "$npass passed, $nfail failed"
}

# If the script stops inside a group, its collected lines still get out.
ktap_abort() {
	[ -n "$gname" ] || return 0
	exec 1>&3 3>&-
	sed 's/^/# /' "$gbuf"
	echo "Bail out! make check stopped in group $gname"
	rm -f "$gbuf"
}
trap ktap_abort EXIT

# ktap_validate FILE: FILE parses without an error with the kernel's own KTAP
# parser, tools/testing/kunit/kunit.py of the pristine tree; prints its
# summary, and its complaints if any.
ktap_validate() {
	local out
	out=$(python3 "$PRISTINE/tools/testing/kunit/kunit.py" parse < "$1" 2>&1 |
		sed 's/\x1b\[[0-9;]*m//g') || true
	grep -E 'Testing complete' <<<"$out" | sed 's/^\[[0-9:]*\] //'
	if grep -qE '\[ERROR\]|errors: [1-9]|crashed: [1-9]|Could not find' <<<"$out"; then
		grep -E '\[ERROR\]|Could not find' <<<"$out" | head -10
		return 1
	fi
}
