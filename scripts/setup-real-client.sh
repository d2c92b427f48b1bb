#!/usr/bin/env bash
# Install the REAL vLLM 0.33.0 benchmark client (CPU build, `vllm bench serve`) into a cached venv,
# for the tests that check vbench's worker and result parsing against vLLM's own code.
#
#   location: ${VBENCH_VLLM_VENV:-/var/cache/vbench/vllm-0.33.0-venv}
#   cost:     2-7 min and ~9.4 GB the first time (mostly CUDA wheels that stay unused);
#             well under a second once installed.
#
# A marker file inside the venv is written only after a successful install AND a smoke check
# (`import vllm.benchmarks.serve` with VLLM_TARGET_DEVICE=cpu), so an interrupted or broken install
# is thrown away and redone on the next call. Concurrent callers are serialised with flock.
# Progress goes to stderr; the venv path is the last line on stdout.
set -euo pipefail

version=0.33.0
venv="${VBENCH_VLLM_VENV:-/var/cache/vbench/vllm-$version-venv}"
marker="$venv/.vbench-real-client-ok"
python="${PYTHON:-python3}"

installed() {
  [ -f "$marker" ] && [ "$(cat "$marker" 2>/dev/null | head -n1)" = "vllm==$version" ] &&
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("vllm"))' 2>/dev/null)" = "$version" ]
}

if installed; then
  echo "$venv"
  exit 0
fi

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "setup-real-client: another install holds $venv.lock; waiting for it" >&2
  flock 9
fi
if installed; then # someone else finished it while we waited
  echo "$venv"
  exit 0
fi

start=$(date +%s)
if [ -e "$venv" ]; then
  echo "setup-real-client: $venv exists without a valid marker (interrupted or broken install); redoing it" >&2
  rm -rf "$venv"
fi
echo "setup-real-client: creating $venv and installing vllm==$version (CPU; 2-7 min, ~9.4 GB)" >&2
"$python" -m venv "$venv"
"$venv/bin/pip" install --upgrade --quiet pip >&2 || true
VLLM_TARGET_DEVICE=cpu "$venv/bin/pip" install --progress-bar off "vllm==$version" >&2

echo "setup-real-client: smoke check: import vllm.benchmarks.serve" >&2
VLLM_TARGET_DEVICE=cpu HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$venv/bin/python" - >&2 <<'PY'
import importlib.metadata as m
import vllm.benchmarks.serve  # noqa: F401  (what `vllm bench serve` and agent/vbench_worker.py import)
from vllm.entrypoints.cli.main import main  # noqa: F401  (the `vllm` console script)
print("setup-real-client: vllm", m.version("vllm"), "imports fine")
PY
"$venv/bin/vllm" bench serve --help >/dev/null

printf 'vllm==%s\ninstalled %s in %ss\n' "$version" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(($(date +%s) - start))" >"$marker.tmp"
mv "$marker.tmp" "$marker"
echo "setup-real-client: done in $(($(date +%s) - start))s" >&2
echo "$venv"
