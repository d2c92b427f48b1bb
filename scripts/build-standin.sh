#!/usr/bin/env bash
# Build the CPU stand-in for vLLM as one static binary (no INTERP header), so it runs in
# FROM-scratch images. Prints the binary's path. Own target dir: no lock clash with the
# workspace build, and crt-static never leaks into vbench's own artifacts. vbench's build.rs
# runs the same build (same flags, same directory) to embed the stand-in, so whichever runs
# second finds it fresh.
set -euo pipefail
cd "$(dirname "$0")/.."
triple="$(rustc -vV | sed -n 's/^host: //p')"
dir="${CARGO_TARGET_DIR:-target}/standin"
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --quiet -p vllm-standin --profile standin --target "$triple" --target-dir "$dir"
bin="$dir/$triple/standin/vllm"
if readelf -lW "$bin" | grep -q INTERP; then
  echo "build-standin: $bin is dynamically linked" >&2
  exit 1
fi
case "$bin" in /*) echo "$bin" ;; *) echo "$PWD/$bin" ;; esac
