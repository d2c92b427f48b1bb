#!/usr/bin/env bash
# What vbench itself costs, measured on the CPU stand-in, every figure printed side by side
# in one run (issue 10 item 5; figures and machine in BENCHMARKS.md):
#
#   1. per point: vbench against the manual loop (`docker exec <client> vllm bench serve …`
#      then `docker cp` of the result file), median and p95, their ratio, and what vbench
#      spends beyond the benchmark itself. Points are 1 prompt of 32 tokens in, 1 token out,
#      so the benchmark is tiny and the orchestration shows. vbench's per-point figure is the
#      gap between consecutive `point_finished` events: everything between two points
#      (health check, samplers, journal, result write) is in it, as a user pays it.
#   2. readiness: from the stand-in's first 200 on GET /health to vbench's "ready" event.
#      An independent poller on the host (bash /dev/tcp, no fork per probe, every ~5 ms)
#      records when /health first answers 200; the event's `ts` is vbench's own clock (same
#      host). vbench's own probes may get a 200 up to one poll period before the poller
#      does, so the figure errs short by at most that period.
#   3. peak RSS of vbench (`/usr/bin/time -v`, "Maximum resident set size") over the N-point
#      sweep of (1), and its RSS early and late in the sweep (growth per point).
#   4. the REAL vLLM client's per-point cost, process against worker
#      (scripts/measure-worker.sh), when its cached venv exists (scripts/setup-real-client.sh).
#
# vbench is built with `cargo build --release` (what users run). Every container and network
# made here carries the label vbench.bench=<this run's tag> (and vbench.test) and is removed on
# exit, whatever happens.
#
#   scripts/bench-overhead.sh [--points N] [--manual-points M] [--ready-rounds R]
#                             [--worker-points W] [--quick] [--keep DIR]
#
#   --points N          points of the vbench sweep (default 1000; the RSS figure is over these)
#   --manual-points M   points of the manual loop (default 200)
#   --ready-rounds R    readiness measurements (default 5; each restarts vllm serve)
#   --worker-points W   points per mode for the real client (default 5; 0 skips it)
#   --quick             N=60, M=30, R=2, W=3: a couple of minutes, for iterating
#   --keep DIR          keep the work directory (events, logs, results) in DIR
#   --vbench PATH       measure this vbench binary instead of building one (before/after)
#
# Last lines on stdout: the figures, one `key=value` line each (see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

points=1000
manual_points=200
ready_rounds=5
worker_points=5
keep=""
vb=""
while [ $# -gt 0 ]; do
  case "$1" in
    --points) points="$2"; shift ;;
    --manual-points) manual_points="$2"; shift ;;
    --ready-rounds) ready_rounds="$2"; shift ;;
    --worker-points) worker_points="$2"; shift ;;
    --quick) points=60; manual_points=30; ready_rounds=2; worker_points=3 ;;
    --keep) keep="$2"; shift ;;
    --vbench) vb="$2"; shift ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) echo "bench-overhead: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
for v in "$points" "$manual_points" "$ready_rounds" "$worker_points"; do
  case "$v" in ''|*[!0-9]*) echo "bench-overhead: counts are whole numbers, got '$v'" >&2; exit 2 ;; esac
done
[ "$points" -ge 3 ] && [ "$manual_points" -ge 3 ] && [ "$ready_rounds" -ge 1 ] ||
  { echo "bench-overhead: --points and --manual-points need at least 3, --ready-rounds 1" >&2; exit 2; }

say() { echo "bench-overhead: $*" >&2; }

# ---- set-up: what scripts/test.sh does, plus a release build ---------------------------
scripts/setup.sh >&2
if [ ! -x /usr/bin/time ]; then
  say "installing GNU time (peak RSS)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >&2 ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >&2; }
fi
export VBENCH_STANDIN_BIN="${VBENCH_STANDIN_BIN:-$(scripts/build-standin.sh)}"
if [ -z "$vb" ]; then
  say "building vbench (release)"
  cargo build --release --quiet --bin vbench
  vb="$repo/target/release/vbench"
fi

tag="vbt-ovh-$$"
server="$tag-server"
client="$tag-client"
net="$tag-net"
work="$(mktemp -d "/tmp/$tag.XXXXXX")"
export VBENCH_LABELS="vbench.test=1,vbench.bench=$tag"
export NO_COLOR=1
bg_pids=()

cleanup() {
  local rc=$?
  for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  local c n
  c=$(docker ps -aq --filter "label=vbench.bench=$tag")
  [ -z "$c" ] || docker rm -f $c >/dev/null 2>&1 || true
  # Containers are looked up by name too: one created but not yet labelled (or by the manual
  # loop) must not outlive the run.
  for name in "$server" "$client"; do docker rm -f "$name" >/dev/null 2>&1 || true; done
  n=$(docker network ls -q --filter "label=vbench.bench=$tag")
  [ -z "$n" ] || docker network rm $n >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  if [ -n "$keep" ]; then
    mkdir -p "$keep" && cp -a "$work/." "$keep/" && say "work directory kept in $keep"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# A free loopback port for the server (published on 127.0.0.1 only).
port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 30000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
done
[ -n "$port" ] || { say "no free port found"; exit 1; }

# More than 1000 points: several input lengths (repeats is at most 1000 per sweep).
lens=$(( (points + 999) / 1000 ))
repeats=$(( (points + lens - 1) / lens ))
points=$((lens * repeats))
input_lens=$(seq -s, 32 $((32 + lens - 1)))

cat >"$work/vbench.yaml" <<EOF
server:
  container: $server
  port: 8000
  publish_port: $port
  env:
    VLLM_STANDIN_LOAD_SECONDS: "0.5"
client:
  container: $client
network: $net
results_dir: $work/results
sweeps:
  warm:
    input_lens: [32]
    output_len: 1
    concurrency: [1]
    repeats: 3
  ovh:
    input_lens: [$input_lens]
    output_len: 1
    concurrency: [1]
    repeats: $repeats
run:
  sweeps: [ovh]
EOF
export VBENCH_CONFIG="$work/vbench.yaml"

# ---- helpers ---------------------------------------------------------------------------
# RFC 3339 (UTC, any fraction) to epoch seconds, for the events' `ts`.
awk_ts='
function days(y, m, d) { y -= (m <= 2); era = int(y / 400); yoe = y - era * 400;
  doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy; return era * 146097 + doe - 719468 }
function epoch(ts,   a) { split(ts, a, /[-T:Z]/);
  return days(a[1] + 0, a[2] + 0, a[3] + 0) * 86400 + a[4] * 3600 + a[5] * 60 + a[6] }
function field(line, key,   s) { if (!match(line, "\"" key "\":\"[^\"]*\"")) return "";
  s = substr(line, RSTART, RLENGTH); sub("^\"" key "\":\"", "", s); sub("\"$", "", s); return s }
function num(line, key,   s) { if (!match(line, "\"" key "\":[-0-9.eE+]+")) return "";
  s = substr(line, RSTART, RLENGTH); sub("^\"" key "\":", "", s); return s + 0 }
'
# Median and p95 (nearest rank) of the numbers on stdin, in ms with one decimal.
stats() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "n=0 median_ms=nan p95_ms=nan mean_ms=nan"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    r = int(0.95 * NR + 0.999999); if (r < 1) r = 1; s = 0; for (i = 1; i <= NR; i++) s += v[i]
    printf "n=%d median_ms=%.1f p95_ms=%.1f mean_ms=%.1f\n", NR, m * 1000, v[r] * 1000, s / NR * 1000 }'
}
get() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ms() { awk -v a="$1" 'BEGIN { printf "%.1f", a * 1000 }'; }

# ---- 1. readiness ----------------------------------------------------------------------
mkfifo "$work/tick" && exec 4<>"$work/tick"   # `read -t` on it: a sleep without a fork
poll_health() { # $1: file for the epoch of the first 200
  local status
  # docker-proxy accepts and then drops connections while nothing listens in the container:
  # a write to such a socket must fail, not kill this poller with SIGPIPE.
  trap '' PIPE
  while :; do
    status=""
    # A redirection on a compound command: a refused connection fails the command, not the
    # shell (a failing `exec 3<>…` would end it).
    { printf 'GET /health HTTP/1.0\r\nHost: x\r\n\r\n' >&3 && IFS= read -r -t 2 status <&3; } \
      2>/dev/null 3<>"/dev/tcp/127.0.0.1/$port" || true
    case "$status" in "HTTP/1."?" 200"*) echo "$EPOCHREALTIME" >"$1"; return 0 ;; esac
    read -r -t 0.005 -u 4 _ || true
  done
}
say "readiness: $ready_rounds round(s) of vbench up on the stand-in (port $port)"
ready_ms=()
for r in $(seq 1 "$ready_rounds"); do
  if [ "$r" -gt 1 ]; then "$vb" down >/dev/null 2>"$work/down-$r.log"; fi
  rm -f "$work/first200-$r"
  poll_health "$work/first200-$r" &
  poller=$!
  bg_pids+=("$poller")
  "$vb" --json up --standin >"$work/up-$r.jsonl" 2>"$work/up-$r.err" ||
    { say "vbench up failed:"; cat "$work/up-$r.err" >&2; exit 1; }
  wait "$poller" || true
  ready_ts=$(awk "$awk_ts"'/"event":"stage_finished"/ && field($0, "detail") ~ /^ready: / { printf "%.6f\n", epoch(field($0, "ts")) }' "$work/up-$r.jsonl" | tail -n1)
  first=$(cat "$work/first200-$r" 2>/dev/null || true)
  if [ -z "$ready_ts" ] || [ -z "$first" ]; then
    say "readiness round $r: no ready event or no first 200 seen"; cat "$work/up-$r.jsonl" >&2; exit 1
  fi
  d=$(awk -v a="$ready_ts" -v b="$first" 'BEGIN { printf "%.6f", a - b }')
  ready_ms+=("$d")
  say "readiness round $r: ready event $(ms "$d") ms after the first 200 on /health"
done
ready=$(printf '%s\n' "${ready_ms[@]}" | stats)

# ---- 2. the benchmark alone, inside the client ----------------------------------------
# A 3-point vbench run first: it creates the client container (up makes only the server),
# and warms both sides up.
"$vb" --json run warm --standin >"$work/warm.jsonl" 2>"$work/warm.err" ||
  { say "vbench run (warm-up) failed:"; tail -n 20 "$work/warm.err" >&2; exit 1; }
model="facebook/opt-125m"
base="http://$server:8000"
bench_args() { # the argv vbench sends (src/sweep/argv.rs), for a result file named $1 in $2
  printf '%s\n' vllm bench serve --backend openai --base-url "$base" --endpoint /v1/completions \
    --model "$model" --dataset-name random --random-input-len 32 --random-output-len 1 \
    --random-range-ratio 0 --ignore-eos --temperature 0 --num-prompts 1 --max-concurrency 1 \
    --request-rate inf --seed 0 --percentile-metrics ttft,tpot,itl,e2el --metric-percentiles 50,90,99 \
    --save-result --result-dir "$2" --result-filename "$1" --disable-tqdm
}
k=$(( manual_points < 50 ? manual_points : 50 ))
say "the benchmark alone: $k runs in one exec, minus an empty exec"
empty=()
for _ in $(seq 1 10); do
  t0=$EPOCHREALTIME; docker exec "$client" sh -c 'exit 0'; t1=$EPOCHREALTIME
  empty+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
done
empty_med=$(printf '%s\n' "${empty[@]}" | stats)
# The result file name differs per run: the loop rewrites the one placeholder argument.
script='n=$1; shift; i=0
while [ "$i" -lt "$n" ]; do
  for a in "$@"; do shift; if [ "$a" = "@NAME@" ]; then set -- "$@" "b$i.json"; else set -- "$@" "$a"; fi; done
  "$@" >/dev/null 2>&1 || { echo "run $i failed" >&2; exit 1; }
  for a in "$@"; do shift; if [ "$a" = "b$i.json" ]; then set -- "$@" "@NAME@"; else set -- "$@" "$a"; fi; done
  i=$((i + 1))
done'
mapfile -t bargv < <(bench_args '@NAME@' /root/bench_results/alone)
t0=$EPOCHREALTIME
docker exec "$client" sh -c "$script" sh "$k" "${bargv[@]}"
t1=$EPOCHREALTIME
alone=$(awk -v a="$t0" -v b="$t1" -v e="$(get "$empty_med" median_ms)" -v k="$k" \
  'BEGIN { printf "%.6f", ((b - a) - e / 1000) / k }')
say "the benchmark alone: $(ms "$alone") ms per run (empty exec $(get "$empty_med" median_ms) ms)"

# ---- 3. the manual loop ----------------------------------------------------------------
say "manual loop: $manual_points points (docker exec … vllm bench serve, then docker cp)"
mkdir -p "$work/manual"
manual=()
for i in $(seq 0 $((manual_points + 2))); do
  mapfile -t margv < <(bench_args "m$i.json" /root/bench_results/manual)
  t0=$EPOCHREALTIME
  docker exec "$client" "${margv[@]}" >>"$work/manual/console.log" 2>&1
  docker cp -q "$client:/root/bench_results/manual/m$i.json" "$work/manual/" 2>/dev/null ||
    docker cp "$client:/root/bench_results/manual/m$i.json" "$work/manual/" >/dev/null
  t1=$EPOCHREALTIME
  # The first three warm caches up and are not counted.
  [ "$i" -lt 3 ] || manual+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
done
man=$(printf '%s\n' "${manual[@]}" | stats)
say "manual loop: $man"

# ---- 4. vbench: N points, peak RSS ------------------------------------------------------
say "vbench run: $points points (release build, --json), under /usr/bin/time -v"
/usr/bin/time -v -o "$work/time.txt" "$vb" --json run ovh --standin >"$work/run.jsonl" 2>"$work/run.err" &
tpid=$!
bg_pids+=("$tpid")
# RSS of vbench itself (the child of time) as the sweep goes: early and late.
vpid=""
for _ in $(seq 1 100); do
  vpid=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null | awk '{ print $1 }')
  [ -n "$vpid" ] && break
  read -r -t 0.05 -u 4 _ || true
done
: >"$work/rss.txt"
while kill -0 "$tpid" 2>/dev/null; do
  done_pts=$(grep -c '"event":"point_finished"' "$work/run.jsonl" 2>/dev/null || true)
  rss=$(awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r) print r, h }' "/proc/$vpid/status" 2>/dev/null || true)
  [ -z "$rss" ] || echo "$done_pts $rss" >>"$work/rss.txt"
  read -r -t 0.5 -u 4 _ || true
done
wait "$tpid" || { say "vbench run failed:"; tail -n 20 "$work/run.err" >&2; exit 1; }
peak_kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt")
ok=$(grep -c '"event":"point_finished".*"status":"ok"' "$work/run.jsonl" || true)
[ "$ok" -eq "$points" ] || { say "only $ok of $points points ok"; exit 1; }
# Per point: the gap between consecutive point_finished events; also each point's own
# elapsed_s (start of the point to its record), and start-up / finish around the points.
awk "$awk_ts"'/"event":"point_finished"/ { t = epoch(field($0, "ts")); if (p) print t - p; p = t }' \
  "$work/run.jsonl" >"$work/gaps.txt"
awk "$awk_ts"'/"event":"point_finished"/ { print num($0, "elapsed_s") }' "$work/run.jsonl" >"$work/elapsed.txt"
vb_gap=$(stats <"$work/gaps.txt")
vb_in=$(stats <"$work/elapsed.txt")
# From the sampler (every 0.5 s): RSS at 10 % of the points and at the last point, and the
# peak (VmHWM) reached before the first point finished (start-up) and by the last one.
rss_early=$(awk -v n="$points" '$1 >= n / 10 { print $2; exit }' "$work/rss.txt")
rss_late=$(awk -v n="$points" '$1 < n { r = $2 } END { print r }' "$work/rss.txt")
hwm_start=$(awk '$1 >= 1 { print h; exit } { h = $3 }' "$work/rss.txt")
hwm_points=$(awk -v n="$points" '$1 < n { h = $3 } END { print h }' "$work/rss.txt")
# vbench's start (process start to the first point_started) and finish (last point to exit).
first_start=$(awk "$awk_ts"'/"event":"point_started"/ { printf "%.6f\n", epoch(field($0, "ts")); exit }' "$work/run.jsonl")
last_fin=$(awk "$awk_ts"'/"event":"point_finished"/ { t = epoch(field($0, "ts")) } END { printf "%.6f\n", t }' "$work/run.jsonl")
run_started=$(awk "$awk_ts"'/"event":"run_started"/ { printf "%.6f\n", epoch(field($0, "ts")); exit }' "$work/run.jsonl")

# ---- 5. the real vLLM client: process against worker ----------------------------------
real=""
venv="${VBENCH_VLLM_VENV:-/var/cache/vbench/vllm-0.33.0-venv}"
if [ "$worker_points" -gt 0 ] && [ -f "$venv/.vbench-real-client-ok" ]; then
  say "real vLLM client: $worker_points point(s) per mode (scripts/measure-worker.sh)"
  real=$(VBENCH_VLLM_VENV="$venv" scripts/measure-worker.sh "$worker_points" 2>"$work/worker.err" | tail -n 3) ||
    { say "measure-worker failed:"; tail -n 20 "$work/worker.err" >&2; real=""; }
elif [ "$worker_points" -eq 0 ]; then
  say "real vLLM client: skipped (--worker-points 0)"
else
  say "real vLLM client: skipped (no cached venv at $venv; scripts/setup-real-client.sh makes it)"
fi

# ---- the figures -----------------------------------------------------------------------
alone_ms=$(ms "$alone")
vb_med=$(get "$vb_gap" median_ms); vb_p95=$(get "$vb_gap" p95_ms)
m_med=$(get "$man" median_ms); m_p95=$(get "$man" p95_ms)
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
over=$(calc %.1f "$vb_med - $alone_ms")
m_over=$(calc %.1f "$m_med - $alone_ms")
echo
echo "== vbench overhead on the CPU stand-in ($(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) cores; docker $(docker version --format '{{.Server.Version}}'); release build) =="
printf '%-44s %12s %12s\n' "per point (1 prompt, 32 in, 1 out)" "median ms" "p95 ms"
printf '%-44s %12s %12s\n' "manual loop (docker exec + docker cp)" "$m_med" "$m_p95"
printf '%-44s %12s %12s\n' "vbench (gap between point_finished events)" "$vb_med" "$vb_p95"
printf '%-44s %12s %12s\n' "  of which inside the point (elapsed_s)" "$(get "$vb_in" median_ms)" "$(get "$vb_in" p95_ms)"
printf '%-44s %12s\n' "the benchmark alone (in the client)" "$alone_ms"
printf '%-44s %12s\n' "vbench beyond the benchmark" "$over"
printf '%-44s %12s\n' "manual loop beyond the benchmark" "$m_over"
echo "ratio vbench/manual (median): $(calc %.3f "$vb_med / $m_med")   (p95: $(calc %.3f "$vb_p95 / $m_p95"))"
echo "vbench beyond the benchmark / manual loop: $(calc %.3f "$over / $m_med")   (target <= 0.05)"
echo "vbench start-up (process start to first point): $(calc %.2f "$first_start - $run_started") s after run_started; finish after the last point: wall $wall total"
echo "readiness after the first 200 on /health: $ready   (target median <= 100 ms)"
echo "peak RSS over $points points: $((peak_kb / 1024)) MiB ($peak_kb kB; target <= 30 MB)"
echo "  RSS at 10% of the points ${rss_early:-?} kB, at the last point ${rss_late:-?} kB; peak by the first point ${hwm_start:-?} kB, by the last point ${hwm_points:-?} kB (the rest: the reports)"
if [ -n "$real" ]; then
  pm=$(echo "$real" | sed -n 's/^process .*median_s=\([0-9.]*\).*/\1/p')
  wm=$(echo "$real" | sed -n 's/^worker .*median_s=\([0-9.]*\).*/\1/p')
  echo "real vLLM client per point: process $(calc %.1f "$pm * 1000") ms, worker $(calc %.1f "$wm * 1000") ms, worker/process $(calc %.4f "$wm / $pm")   (target <= 0.02)"
else
  echo "real vLLM client per point: not measured (no cached venv, or --worker-points 0)"
fi
echo
echo "manual_median_ms=$m_med"
echo "manual_p95_ms=$m_p95"
echo "vbench_median_ms=$vb_med"
echo "vbench_p95_ms=$vb_p95"
echo "bench_alone_ms=$alone_ms"
echo "vbench_beyond_bench_ms=$over"
echo "ratio_total=$(calc %.3f "$vb_med / $m_med")"
echo "ratio_beyond_bench=$(calc %.3f "$over / $m_med")"
echo "ready_median_ms=$(get "$ready" median_ms)"
echo "ready_max_ms=$(printf '%s\n' "${ready_ms[@]}" | sort -g | tail -n1 | awk '{ printf "%.1f", $1 * 1000 }')"
echo "peak_rss_kb=$peak_kb"
echo "rss_growth_kb=$(( ${rss_late:-0} - ${rss_early:-0} ))"
if [ -n "$real" ]; then
  echo "real_process_median_ms=$(calc %.1f "$pm * 1000")"
  echo "real_worker_median_ms=$(calc %.1f "$wm * 1000")"
  echo "real_worker_ratio=$(calc %.4f "$wm / $pm")"
fi
