#!/usr/bin/env bash
# Build the CPU stand-in for vLLM as one static binary (no INTERP header), so it runs in
# FROM-scratch images. Prints the binary's path. Own target dir: no lock clash with the
# workspace build, and crt-static never leaks into vbench's own artifacts.
set -euo pipefail
cd "$(dirname "$0")/.."
triple="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --quiet -p vllm-standin --profile standin --target "$triple" --target-dir target/standin
bin="target/standin/$triple/standin/vllm"
if readelf -lW "$bin" | grep -q INTERP; then
  echo "build-standin: $bin is dynamically linked" >&2
  exit 1
fi
echo "$PWD/$bin"
