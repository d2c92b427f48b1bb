#!/usr/bin/env bash
# One night of benchmarking, for cron or a systemd timer:
#   1. `vbench run --baseline last-good`: the run is judged against the newest earlier good
#      run of the same configuration (the first night has none and is not judged);
#   2. a log per night: <log dir>/nightly-<YYYYmmdd_HHMMSS>.log (plain, timestamped lines);
#   3. `vbench prune --keep N`: old runs go (their directories and result files);
#   4. vbench's exit code is passed through: 0 pass, 8 regressed, 9 cannot judge (a point
#      failed or the set-up changed), 4 the server died, 130 interrupted, … (README).
#
# Environment: VBENCH (the binary; default `vbench` on PATH), VBENCH_NIGHTLY_LOGS (default
# ./nightly-logs), VBENCH_KEEP (runs to keep; default 30). Extra arguments go to `vbench run`
# (e.g. `--config /srv/bench/vbench.yaml`, a sweep name, `--threshold 5%`).
set -uo pipefail

vbench="${VBENCH:-vbench}"
logs="${VBENCH_NIGHTLY_LOGS:-./nightly-logs}"
keep="${VBENCH_KEEP:-30}"
mkdir -p "$logs" || exit 3
log="$logs/nightly-$(date +%Y%m%d_%H%M%S).log"

# `--config` (and other global flags) must reach prune too: pass the same arguments, minus
# what only `run` understands, by letting the user put global flags in VBENCH_GLOBAL.
read -r -a global <<<"${VBENCH_GLOBAL:-}"

"$vbench" "${global[@]}" --output plain run --baseline last-good "$@" >>"$log" 2>&1
code=$?
echo "nightly: vbench run exited $code" >>"$log"
if ! "$vbench" "${global[@]}" --output plain prune --keep "$keep" >>"$log" 2>&1; then
  echo "nightly: prune failed (the run's exit code is kept)" >>"$log"
fi
exit "$code"
