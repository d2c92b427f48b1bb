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
# What was labelled vbench.test before this run (an earlier, killed run's leftovers) is not
# this run's to judge; only what these tests leave behind fails the run.
before_c=$(docker ps -aq --no-trunc --filter label=vbench.test | sort)
before_n=$(docker network ls -q --no-trunc --filter label=vbench.test | sort)
cargo test --workspace --no-fail-fast "$@"
# After the tests, so the images it builds and removes (a tag of its own) meet no test.
scripts/check-install.sh
new_c=$(comm -13 <(echo "$before_c") <(docker ps -aq --no-trunc --filter label=vbench.test | sort) | sed '/^$/d')
new_n=$(comm -13 <(echo "$before_n") <(docker network ls -q --no-trunc --filter label=vbench.test | sort) | sed '/^$/d')
if [ -n "$new_c" ] || [ -n "$new_n" ]; then
  echo "test: $(echo "$new_c" | sed '/^$/d' | wc -l) container(s) and $(echo "$new_n" | sed '/^$/d' | wc -l) network(s) labelled vbench.test left behind by these tests" >&2
  for c in $new_c; do docker ps -a --no-trunc --filter "id=$c" --format '{{.Names}} {{.Status}}' >&2; done
  exit 1
fi
if [ -n "$before_c$before_n" ]; then
  echo "test: note: vbench.test resources from before this run are still there (not this run's)" >&2
fi
echo "test: no vbench.test containers or networks left behind"
