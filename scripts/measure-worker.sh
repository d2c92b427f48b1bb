#!/usr/bin/env bash
# Per-point cost of the REAL vLLM 0.33 benchmark client, process vs worker, side by side:
#   process: a new `vllm bench serve ...` process per point (today's path);
#   worker:  agent/vbench_worker.py, started once, one protocol-v1 request per point.
# Each point is 1 prompt, 1 output token (random dataset, input 32) against the CPU stand-in
# server on a loopback port, result file saved (--save-result) and, for the worker, sent back
# over the channel (R). Per point = wall time from start to result (process: exec to exit;
# worker: RUN sent to D received). Reports the median (and min/max) over N points each.
#
#   scripts/measure-worker.sh [N]          N points per mode (default 10, at least 1)
#
# Needs: the real client (scripts/setup-real-client.sh; VBENCH_VLLM_VENV), the static stand-in
# (VBENCH_STANDIN_BIN, else scripts/build-standin.sh). Last lines on stdout, machine-readable:
#   process n=N median_s=… min_s=… max_s=…
#   worker n=N median_s=… min_s=… max_s=… startup_s=…
#   speedup=…
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
n="${1:-10}"

venv="${VBENCH_VLLM_VENV:-/var/cache/vbench/vllm-0.33.0-venv}"
if [ ! -f "$venv/.vbench-real-client-ok" ]; then
  echo "measure-worker: no real client at $venv; run scripts/setup-real-client.sh first" >&2
  exit 1
fi
bin="${VBENCH_STANDIN_BIN:-}"
[ -n "$bin" ] || bin="$(scripts/build-standin.sh)"

work="$(mktemp -d /tmp/vbench-measure-worker.XXXXXX)"
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

VLLM_STANDIN_LOAD_SECONDS=0.2 VLLM_STANDIN_STATE="$work/state.json" NO_COLOR=1 \
  "$bin" serve facebook/opt-125m --host 127.0.0.1 --port 0 >"$work/server.log" 2>&1 &
server_pid=$!

export VLLM_TARGET_DEVICE=cpu HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 NO_COLOR=1 PYTHONDONTWRITEBYTECODE=1
unset SAVE_TO_PYTORCH_BENCHMARK_FORMAT VLLM_USE_RUST_BENCH
"$venv/bin/python" - "$n" "$venv" "$repo" "$work" <<'PY'
import os, re, statistics, subprocess, sys, time, urllib.request

n, venv, repo, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
sys.path.insert(0, os.path.join(repo, "agent"))
from vbench_worker import encode_value  # the protocol's escaping

deadline = time.time() + 30
port = None
while port is None:
    m = re.search(r"Starting vLLM server on http://[^:]+:(\d+)", open(os.path.join(work, "server.log")).read())
    if m:
        port = int(m.group(1))
    elif time.time() > deadline:
        sys.exit("measure-worker: the stand-in did not start:\n" + open(os.path.join(work, "server.log")).read())
    else:
        time.sleep(0.05)
base = "http://127.0.0.1:%d" % port
while True:
    try:
        if urllib.request.urlopen(base + "/health", timeout=2).status == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("measure-worker: /health never answered 200")
    time.sleep(0.05)

def argv(name):
    return ["vllm", "bench", "serve", "--backend", "openai", "--base-url", base,
            "--model", "facebook/opt-125m",
            "--tokenizer", os.path.join(repo, "tests/fixtures/real-client/tiny-tokenizer"),
            "--dataset-name", "random", "--random-input-len", "32", "--random-output-len", "1",
            "--num-prompts", "1", "--seed", "0", "--disable-tqdm",
            "--save-result", "--result-dir", os.path.join(work, "results"), "--result-filename", name]

def summary(ts):
    return "median_s=%.4f min_s=%.4f max_s=%.4f" % (statistics.median(ts), min(ts), max(ts))

proc = []
for i in range(n):
    t = time.perf_counter()
    r = subprocess.run([os.path.join(venv, "bin/vllm")] + argv("p%d.json" % i)[1:],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    proc.append(time.perf_counter() - t)
    if r.returncode != 0 or not os.path.isfile(os.path.join(work, "results", "p%d.json" % i)):
        sys.exit("measure-worker: process point failed:\n" + r.stdout.decode(errors="replace"))
    print("process point %d: %.3f s" % (i + 1, proc[-1]), file=sys.stderr)

t = time.perf_counter()
w = subprocess.Popen([os.path.join(venv, "bin/python"), os.path.join(repo, "agent/vbench_worker.py")],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=work)
hello = w.stdout.readline()
startup = time.perf_counter() - t
if not hello.startswith(b"HELLO "):
    sys.exit("measure-worker: worker said %r" % hello)
work_ts = []
for i in range(1, n + 1):
    name = "w%d.json" % i
    req = [b"RUN %d" % i] + [b"A " + encode_value(a.encode()) for a in argv(name)]
    req += [b"R " + encode_value(os.path.join(work, "results", name).encode()), b"GO"]
    t = time.perf_counter()
    w.stdin.write(b"".join(l + b"\n" for l in req))
    w.stdin.flush()
    code = got_file = None
    while True:
        line = w.stdout.readline()
        if not line:
            sys.exit("measure-worker: the worker ended")
        if line.startswith(b"F "):
            w.stdout.read(int(line.split()[2]) + 1)
            got_file = True
        elif line.startswith(b"X "):
            code = int(line.split()[2])
        elif line.startswith(b"D "):
            break
    work_ts.append(time.perf_counter() - t)
    if code != 0 or not got_file:
        sys.exit("measure-worker: worker point %d: exit %s, file %s" % (i, code, got_file))
    print("worker point %d: %.3f s" % (i, work_ts[-1]), file=sys.stderr)
w.stdin.write(b"QUIT\n")
w.stdin.flush()
w.wait(30)

print("process n=%d %s" % (n, summary(proc)))
print("worker n=%d %s startup_s=%.2f" % (n, summary(work_ts), startup))
print("speedup=%.0f" % (statistics.median(proc) / statistics.median(work_ts)))
PY
