#!/usr/bin/env bash
# CI check: an installed vbench works without the source tree (scripts/test.sh runs it after
# the cargo tests).
#  1. copies the tree (tracked and new files; no target/, nothing git ignores) to a temporary
#     directory;
#  2. `cargo install --locked --path <copy> --root <temporary root>` (release profile, as a
#     user installs it), then deletes the copy;
#  3. makes sure the stand-in images of its own tag (VBENCH_STANDIN_TAG=check-install-<pid>)
#     are absent, so nothing built earlier can stand in for what the binary carries, and other
#     runs' images (`latest`) are never touched;
#  4. runs `<root>/bin/vbench demo --down` from an empty directory, with no VBENCH_STANDIN_BIN /
#     VBENCH_BUSYBOX and, where it may (root, unshare), the host's busybox hidden;
#  5. checks exit 0, that the images were built from the embedded stand-in and busybox, and
#     the run's report files.
# Containers, network and images it creates are labelled vbench.test and removed on exit.
# The build cache is $VBENCH_CHECK_INSTALL_TARGET (default target/check-install), so a second
# run on the same machine recompiles only vbench. Prints each phase's time.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work="$(mktemp -d "${TMPDIR:-/tmp}/vbench-check-install.XXXXXX")"
id="$$"
tag="check-install-$id"
srv="vbci-srv-$id" cli="vbci-cli-$id" net="vbci-net-$id"
images=("vbench/vllm-standin-server:$tag" "vbench/vllm-standin-client:$tag")

cleanup() {
  docker rm -f "$srv" "$cli" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  docker rmi -f "${images[@]}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf 'check-install: %s\n' "$*"; }
fail() {
  say "FAILED: $*" >&2
  exit 1
}
t0=$SECONDS

# 1. The copy.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
  tar --null -T - -cf - | tar -xf - -C "$work/src"
[ -e "$work/src/target" ] && fail "the copy has a target/ directory"
say "copied the tree to $work/src ($(du -sh "$work/src" | cut -f1))"

# 2. Install, then delete the copy.
t=$SECONDS
root="$work/root"
CARGO_TARGET_DIR="${VBENCH_CHECK_INSTALL_TARGET:-$repo/target/check-install}" \
  cargo install --locked --quiet --path "$work/src" --root "$root"
rm -rf "$work/src"
bin="$root/bin/vbench"
[ -x "$bin" ] || fail "no $bin after cargo install"
install_s=$((SECONDS - t))
say "installed $bin ($(du -h "$bin" | cut -f1)) in ${install_s}s; the copy is deleted"

# 3. No stand-in images under this run's tag.
docker rmi -f "${images[@]}" >/dev/null 2>&1 || true
for i in "${images[@]}"; do
  docker image inspect "$i" >/dev/null 2>&1 && fail "$i still exists"
done

# 4. The demo from an empty directory. Its names and port are its own (a configuration file
# outside the directory), so it never meets another demo on the same engine.
mkdir "$work/empty" "$work/etc"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$work/etc/vbench.yaml" <<EOF
server:
  container: $srv
  publish_port: $port
client:
  container: $cli
network: $net
EOF
run_demo=(env -u VBENCH_STANDIN_BIN -u VBENCH_BUSYBOX -u VBENCH_CONFIG
  VBENCH_LABELS=vbench.test=1 VBENCH_STANDIN_TAG="$tag"
  timeout 900 "$bin" --output plain -c "$work/etc/vbench.yaml" demo --down)
hidden="" busybox_note="visible: not root, or no unshare"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
  unshare -m --propagation private true 2>/dev/null; then
  # A private mount namespace where every host busybox reads as empty: the images' shell
  # can only come from the binary.
  busybox_note="none on this host"
  for p in $(readlink -f /bin/busybox /usr/bin/busybox 2>/dev/null | sort -u); do
    [ -e "$p" ] || continue
    hidden="$hidden mount --bind /dev/null $p &&"
    busybox_note="hidden"
  done
fi
t=$SECONDS
set +e
(
  cd "$work/empty"
  if [ -n "$hidden" ]; then
    unshare -m --propagation private sh -c "$hidden exec \"\$@\"" sh "${run_demo[@]}"
  else
    "${run_demo[@]}"
  fi
) >"$work/demo.out" 2>"$work/demo.err"
code=$?
set -e
demo_s=$((SECONDS - t))
if [ "$code" != 0 ]; then
  cat "$work/demo.out" "$work/demo.err" >&2
  fail "vbench demo exited $code"
fi
say "vbench demo passed in ${demo_s}s (host busybox: $busybox_note)"

# 5. What it built from, and what it wrote.
grep -q "building vbench/vllm-standin-server:$tag (CPU stand-in for vLLM; stand-in embedded in this vbench, busybox embedded in this vbench)" "$work/demo.err" ||
  { cat "$work/demo.err" >&2; fail "the images were not built from the embedded stand-in and busybox"; }
grep -q "not a GPU measurement" "$work/demo.out" || fail "no stand-in notice on stdout"
runs=("$work"/empty/bench_results/runs/*/)
[ "${#runs[@]}" = 1 ] && [ -d "${runs[0]}" ] || fail "expected one run in bench_results/runs: ${runs[*]}"
for f in manifest.json summary.md summary.csv summary.json report.html; do
  [ -s "${runs[0]}$f" ] || fail "the run has no $f"
done
ls "${runs[0]}"charts/*.svg >/dev/null 2>&1 || fail "the run has no charts"
ok=$(grep -c '"status": *"ok"' "${runs[0]}manifest.json" || true)
[ "$ok" -ge 1 ] || fail "no point passed in the manifest"
say "report files present in ${runs[0]#"$work"/empty/} ($ok point(s) ok)"
say "total $((SECONDS - t0))s: install ${install_s}s, demo ${demo_s}s"
