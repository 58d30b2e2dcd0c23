#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Apply this repository to the rust variant's tree: the files named in
# harness/overlay.map are placed at their in-tree paths (or, for "-", deleted
# from the tree) and patches/series is applied on top of the pristine
# versions of the files it touches.
#
# The result is computed in a staging directory and synced into the tree
# with checksums, so a file whose content did not change keeps its mtime and
# re-applying the overlay never triggers a rebuild of untouched objects.
# Files placed by an earlier run but no longer produced are restored from the
# pristine tree (or removed when pristine has no such file).
. "$(dirname "$0")/common.sh"

stage=$LUO_CACHE/overlay-stage
manifest=$LUO_CACHE/overlay.manifest
rm -rf "$stage"
mkdir -p "$stage"

# 1. Patches, each applied to the pristine versions of the files it touches.
series=$ROOT/patches/series
if [ -f "$series" ]; then
	while read -r p; do
		case "$p" in ''|'#'*) continue ;; esac
		[ -f "$ROOT/patches/$p" ] || die "patches/series names $p, which does not exist"
		grep -E '^\+\+\+ b/' "$ROOT/patches/$p" | sed -e 's|^+++ b/||' -e 's|\t.*||' |
		while read -r f; do
			if [ ! -e "$stage/$f" ] && [ -e "$PRISTINE/$f" ]; then
				mkdir -p "$stage/$(dirname "$f")"
				cp -p "$PRISTINE/$f" "$stage/$f"
			fi
		done
		patch -s -p1 -d "$stage" --no-backup-if-mismatch -r - < "$ROOT/patches/$p" ||
			die "patch $p does not apply to the pristine 7.3.4 tree"
	done < "$series"
fi

# 2. The component's own files ("-" as source: a tree file to delete).
removed=$LUO_CACHE/overlay.removed
: > "$removed.new"
while read -r src dst; do
	case "$src" in ''|'#'*) continue ;; esac
	if [ "$src" = - ]; then
		echo "$dst" >> "$removed.new"
		continue
	fi
	[ -e "$ROOT/$src" ] || continue
	mkdir -p "$stage/$(dirname "$dst")"
	cp -p "$ROOT/$src" "$stage/$dst"
done < "$ROOT/harness/overlay.map"

# 3. Sync into the tree; only changed content gets a new mtime.
(cd "$stage" && find . -type f | sed 's|^\./||' | sort) > "$manifest.new"
rsync -rc "$stage/" "$RUST_TREE/"
if [ -f "$manifest" ]; then
	comm -23 "$manifest" "$manifest.new" | while read -r f; do
		if [ -e "$PRISTINE/$f" ]; then
			rsync -c "$PRISTINE/$f" "$RUST_TREE/$f"
		else
			rm -f "$RUST_TREE/$f"
		fi
	done
fi
mv "$manifest.new" "$manifest"
# Deletions: apply the new ones, restore what is no longer deleted.
sort -o "$removed.new" "$removed.new"
if [ -f "$removed" ]; then
	comm -23 "$removed" "$removed.new" | while read -r f; do
		[ -e "$PRISTINE/$f" ] && cp -p "$PRISTINE/$f" "$RUST_TREE/$f"
	done
fi
while read -r f; do rm -f "$RUST_TREE/$f"; done < "$removed.new"
mv "$removed.new" "$removed"
n=$(wc -l < "$manifest")
r=$(wc -l < "$removed")
note "overlay: $n file(s) of this repository placed in $RUST_TREE, $r removed"

