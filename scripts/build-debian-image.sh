#!/usr/bin/env bash
# A Debian 12 (bookworm) base image, built locally with debootstrap (no registry is needed or
# reachable): the client container of the tests that run the REAL vLLM client in a container,
# with the cached venv (scripts/setup-real-client.sh) and its Python mounted in read-only.
# Idempotent: an existing image is kept. Prints the image's reference as its last line.
set -euo pipefail
image="${VBENCH_DEBIAN_IMAGE:-vbench-test/debian:bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "build-debian-image: debootstrap is missing: run scripts/setup.sh" >&2
  exit 1
}
root="$(mktemp -d /var/tmp/vbench-debian.XXXXXX)"
trap 'rm -rf "$root"' EXIT
# minbase plus the shared libraries CPython's extension modules and vLLM's wheels load.
echo "build-debian-image: debootstrap bookworm into $root (a few minutes)" >&2
debootstrap --variant=minbase \
  --include=libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,libreadline8,libuuid1,zlib1g,libstdc++6,procps \
  bookworm "$root" http://deb.debian.org/debian >&2
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import --change 'CMD ["/bin/sh"]' - "$image" >&2
echo "$image"
