#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make deps: install, idempotently and from nothing, what the build and the
# tests need.  Debian packages with apt, bindgen-cli from crates.io, and the
# two pinned Debian source packages (from ../shared/cache when present,
# otherwise downloaded with a private apt configuration).
. "$(dirname "$0")/common.sh"

PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev
      libssl-dev cpio rsync qemu-system-x86 busybox-static gcc libc6-dev make
      patch xz-utils ca-certificates debian-archive-keyring
      python3-sphinx python3-yaml    # the docs group: Sphinx 5.3, and yaml for conf.py
      gnuplot-nox)                   # make bench: the plot of guest time against memfd size

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages --------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] ||
		missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	note "installing Debian packages: ${missing[*]}"
	as_root apt-get update -q || die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" ||
		die "apt-get could not install: ${missing[*]}"
fi

# --- Rust toolchain -----------------------------------------------------------
command -v rustc >/dev/null || die "rustc not found: the machine's rustup toolchain ($RUSTC_VER) is required"
[[ "$(rustc --version)" == "rustc $RUSTC_VER "* ]] ||
	note "warning: rustc is '$(rustc --version)', the recipe was checked with $RUSTC_VER"
if [ "$(bindgen --version 2>/dev/null || true)" != "bindgen $BINDGEN_VER" ]; then
	note "installing bindgen-cli $BINDGEN_VER from crates.io"
	cargo install bindgen-cli --version "$BINDGEN_VER" --locked ||
		die "cargo install bindgen-cli $BINDGEN_VER failed"
fi

# --- pinned source packages ---------------------------------------------------
debdir=$LUO_CACHE/debs
mkdir -p "$debdir"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Download PKG=VER into $debdir with a private sources list: the machine's
# own apt configuration is neither used nor modified.  Output goes to stderr
# (fetch_deb's stdout is the path of the package).
apt_download() {
	exec 3>&1 1>&2
	local pkg=$1 ver=$2 a=$LUO_CACHE/apt
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
	cat > "$a/sources.list" <<-SRC
	deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie-backports main
	SRC
	local opts=(-o Dir::Etc::sourcelist="$a/sources.list" -o Dir::Etc::sourceparts=-
		    -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache"
		    -o APT::Sandbox::User=root)
	note "downloading $pkg=$ver with apt (private sources list in $a)"
	apt-get "${opts[@]}" update -q || die "apt-get update of the private trixie-backports list failed"
	(cd "$debdir" && apt-get "${opts[@]}" download "$pkg=$ver") ||
		die "apt-get download $pkg=$ver failed: is that version still in trixie-backports?"
	exec 1>&3 3>&-
}

# Find FILE in ../shared/cache (checked against its SHA256SUMS) or in
# $debdir, else download it; in all cases check it against the pinned sha256.
fetch_deb() {
	local pkg=$1 ver=$2 file=$3 sha=$4 f=""
	if [ -f "$SHARED_CACHE/$file" ]; then
		f=$SHARED_CACHE/$file
		if [ -f "$SHARED_CACHE/SHA256SUMS" ]; then
			grep -F " $file" "$SHARED_CACHE/SHA256SUMS" | (cd "$SHARED_CACHE" && sha256sum -c --quiet -) ||
				die "$f does not match $SHARED_CACHE/SHA256SUMS"
		fi
	elif [ -f "$debdir/$file" ]; then
		f=$debdir/$file
	else
		apt_download "$pkg" "$ver"
		f=$debdir/$file
		[ -f "$f" ] || die "apt did not produce $file"
	fi
	local got
	got=$(sha_of "$f")
	[ "$got" = "$sha" ] || die "checksum mismatch for $f: expected $sha (pinned), got $got"
	echo "$f"
}

linux_deb=$(fetch_deb "$LINUX_PKG" "$LINUX_VER" "$LINUX_DEB" "$LINUX_SHA")
rustsrc_deb=$(fetch_deb "$RUSTSRC_PKG" "$RUSTSRC_VER" "$RUSTSRC_DEB" "$RUSTSRC_SHA")

# rust-src: the kernel needs only library/ (RUST_LIB_SRC).
if [ "$(cat "$LUO_CACHE/rust-src.stamp" 2>/dev/null)" != "$RUSTSRC_SHA" ]; then
	note "unpacking $RUSTSRC_DEB"
	rm -rf "$LUO_CACHE/rust-src"
	dpkg -x "$rustsrc_deb" "$LUO_CACHE/rust-src"
	[ -d "$RUST_LIB_SRC/core" ] || die "rust-src has no library/core at $RUST_LIB_SRC"
	echo "$RUSTSRC_SHA" > "$LUO_CACHE/rust-src.stamp"
fi
echo "$linux_deb" > "$LUO_CACHE/linux-deb.path"

note "deps ready (cache: $LUO_CACHE)"
