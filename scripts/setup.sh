#!/usr/bin/env bash
# Make this machine able to build and run vbench and its CPU stand-in:
#  - busybox-static (the stand-in images' shell), docker-compose and chromium (headless, for
#    the report.html tests), docker-registry and apache2-utils (a local registry and its
#    bcrypt htpasswd, for the image pull tests) and debootstrap (a Debian client image for the
#    real-client tests), zsh and fish (the completion tests load vbench's scripts in each
#    shell), from Debian's packages;
#  - a Docker Engine: use the one that answers, else install Debian's docker.io and start
#    dockerd (its PID goes to $VBENCH_DOCKERD_PIDFILE so the caller can stop it by PID).
# Idempotent; prints what it did. Needs root only when something must be installed.
set -euo pipefail

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

if [ ! -x "${VBENCH_BUSYBOX:-/bin/busybox}" ]; then
  echo "setup: installing busybox-static"
  apt_install busybox-static
fi

if ! command -v docker-compose >/dev/null 2>&1; then
  # The compose-attach tests bring the stand-in containers up the way users' compose files do.
  echo "setup: installing docker-compose"
  apt_install docker-compose
fi

if ! command -v chromium >/dev/null 2>&1; then
  # tests/report_html.rs loads report.html in headless Chromium: console, network, screenshot,
  # sorting. Without recommends it still runs headless (fonts come with its fontconfig).
  echo "setup: installing chromium"
  apt_install chromium
fi

if ! command -v docker-registry >/dev/null 2>&1; then
  # tests/registry_pull.rs starts its own registry (Docker's distribution, `docker-registry
  # serve CONFIG`) on 127.0.0.1, anonymous and with htpasswd basic auth. The package's own
  # service is not wanted: policy-rc.d or the lack of systemd keeps it from starting here.
  echo "setup: installing docker-registry"
  apt_install docker-registry
  # Where systemd runs, the package starts a registry on :5000 for all interfaces: stop what
  # the install just started; the tests start their own.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

if ! command -v htpasswd >/dev/null 2>&1; then
  # The bcrypt htpasswd entry for the registry's basic auth (`htpasswd -Bbn user password`).
  echo "setup: installing apache2-utils"
  apt_install apache2-utils
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  # scripts/build-debian-image.sh: a Debian base image without a registry, the client
  # container of the tests that run the real vLLM client in a container.
  echo "setup: installing debootstrap"
  apt_install debootstrap
fi

for sh in zsh fish; do
  if ! command -v "$sh" >/dev/null 2>&1; then
    # tests/cli_completions.rs loads `vbench completions <shell>` in the real shell and asks
    # it to complete.
    echo "setup: installing $sh"
    apt_install "$sh"
  fi
done

if ! docker version >/dev/null 2>&1; then
  if ! command -v dockerd >/dev/null 2>&1; then
    echo "setup: no Docker Engine answers; installing Debian's docker.io"
    apt_install docker.io
  fi
  if ! docker version >/dev/null 2>&1; then
    pidfile="${VBENCH_DOCKERD_PIDFILE:-/tmp/vbench-dockerd.pid}"
    echo "setup: starting dockerd (pid file $pidfile)"
    nohup dockerd --pidfile "$pidfile" >/tmp/vbench-dockerd.log 2>&1 &
    for _ in $(seq 1 60); do
      docker version >/dev/null 2>&1 && break
      sleep 0.5
    done
    docker version >/dev/null 2>&1 || { echo "setup: dockerd did not come up; see /tmp/vbench-dockerd.log" >&2; exit 1; }
  fi
fi
echo "setup: docker engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
