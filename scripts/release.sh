#!/usr/bin/env bash
# Build the release into dist/: for each target (the host's, or the triples in
# $VBENCH_RELEASE_TARGETS, which need their rustup target and linker), a static vbench
# (glibc linked in with `crt-static`: no INTERP header, so it runs on any Linux of that
# architecture whatever its glibc) carrying the CPU stand-in and busybox, plus its man pages
# and shell completions, as dist/vbench-<version>-<triple>/ and a .tar.gz of it. Prints each
# file's path and size.
set -euo pipefail
cd "$(dirname "$0")/.."
host="$(rustc -vV | sed -n 's/^host: //p')"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
targets="${VBENCH_RELEASE_TARGETS:-$host}"
fail() {
  echo "release: $*" >&2
  exit 1
}
command -v readelf >/dev/null || fail "readelf (binutils) is needed to check the binaries are static"
mkdir -p dist
made=()
for triple in $targets; do
  echo "release: building vbench $version for $triple" >&2
  # `--target` keeps crt-static off build scripts and proc-macros (they run on this machine).
  RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked --quiet --release --target "$triple" --bin vbench
  bin="${CARGO_TARGET_DIR:-target}/$triple/release/vbench"
  if readelf -lW "$bin" | grep -q INTERP; then
    fail "$bin is dynamically linked"
  fi
  name="vbench-$version-$triple"
  stage="dist/$name"
  rm -rf "$stage" "dist/$name.tar.gz"
  mkdir -p "$stage/bin" "$stage/share/man/man1" "$stage/share/bash-completion/completions" \
    "$stage/share/zsh/site-functions" "$stage/share/fish/vendor_completions.d"
  cp "$bin" "$stage/bin/vbench"
  # Pages and completions come from the binary itself; a build for another architecture
  # takes them from the host's build of the same source.
  gen="$stage/bin/vbench"
  if [ "$triple" != "$host" ]; then
    cargo build --locked --quiet --release --bin vbench
    gen="${CARGO_TARGET_DIR:-target}/release/vbench"
  fi
  "$gen" --version | grep -qx "vbench $version" || fail "$gen --version does not say $version"
  "$gen" man --out-dir "$stage/share/man/man1" >/dev/null
  "$gen" completions bash >"$stage/share/bash-completion/completions/vbench"
  "$gen" completions zsh >"$stage/share/zsh/site-functions/_vbench"
  "$gen" completions fish >"$stage/share/fish/vendor_completions.d/vbench.fish"
  cp README.md "$stage/"
  busybox="${VBENCH_BUSYBOX:-/bin/busybox}"
  origin="$( ("$busybox" 2>/dev/null || true) | head -n 1)"
  [ -n "$origin" ] || origin="the build machine's static busybox"
  pkg="$(dpkg-query -W -f '${Package} ${Version}' busybox-static 2>/dev/null || true)"
  [ -z "$pkg" ] || origin="$origin (Debian package $pkg; its source: apt-get source busybox)"
  cat >"$stage/THIRD-PARTY.md" <<EOF
# Third-party software in bin/vbench

- BusyBox (GPL-2.0-only), unmodified: the shell of the CPU stand-in images vbench builds
  (vbench demo, --standin). Embedded: $origin.
- The GNU C Library (LGPL-2.1-or-later), linked in statically; vbench's own source
  (Apache-2.0) is what relinking it needs.
- The Rust crates listed in vbench's Cargo.lock, each under its own licence.
EOF
  tar -C dist -czf "dist/$name.tar.gz" "$name"
  made+=("$stage/bin/vbench" "dist/$name.tar.gz")
done
for f in "${made[@]}"; do
  printf '%s\t%s bytes\t%s\n' "$f" "$(stat -c %s "$f")" "$(du -h "$f" | cut -f1)"
done
