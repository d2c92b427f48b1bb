#!/usr/bin/env bash
# The test command (README): set the machine up, build the static stand-in, run every test
# against the real Docker Engine, check that an installed vbench runs the demo without the
# source tree, then check nothing labelled vbench.test is left behind.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export VBENCH_STANDIN_BIN="$(scripts/build-standin.sh)"
# The real vLLM 0.33 benchmark client (CPU, offline) in a cached venv: the worker and
# real-client tests run it. Installed once per machine (minutes, ~9 GB); fast afterwards.
export VBENCH_VLLM_VENV="$(scripts/setup-real-client.sh | tail -n1)"
# A Debian base image (debootstrap, no registry) for the client container that runs that venv.
export VBENCH_DEBIAN_IMAGE="$(scripts/build-debian-image.sh | tail -n1)"
cargo test --workspace --no-fail-fast "$@"
# After the tests, so the images it builds and removes (a tag of its own) meet no test.
scripts/check-install.sh
left_c=$(docker ps -aq --filter label=vbench.test | wc -l)
left_n=$(docker network ls -q --filter label=vbench.test | wc -l)
if [ "$left_c" != 0 ] || [ "$left_n" != 0 ]; then
  echo "test: $left_c container(s) and $left_n network(s) labelled vbench.test left behind" >&2
  docker ps -a --filter label=vbench.test >&2
  exit 1
fi
echo "test: no vbench.test containers or networks left behind"
