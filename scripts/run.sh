#!/usr/bin/env bash
# The main job (README): set the machine up, build vbench, then run the benchmark end to end.
# On a GPU host (NVIDIA runtime in `docker info`, or /dev/kfd for ROCm) this is `vbench run`
# with ./vbench.yaml (or the built-in defaults: the production sweep). Without a GPU it is
# `vbench demo`: the same pipeline on the CPU stand-in for vLLM, which is a rehearsal and
# never a GPU measurement. Extra arguments go to vbench.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --bin vbench
if docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q nvidia || [ -e /dev/kfd ]; then
  exec target/debug/vbench run "$@"
fi
echo "run: no GPU runtime here: running the pipeline on the CPU stand-in (vbench demo)"
export VBENCH_STANDIN_BIN="$(scripts/build-standin.sh)"
exec target/debug/vbench demo "$@"
