#!/usr/bin/env bash
# Idempotent machine setup: Debian packages (docker.io, debootstrap, btrfs-progs), Docker's seccomp profile, npm dependencies, build.
# Called by scripts/start.sh and scripts/test.sh so that each is a single command on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
# scripts/dockerd.sh's btrfs mode (tests, start.sh): a data root that enforces container.disk_limit.
command -v mkfs.btrfs >/dev/null 2>&1 || need+=(btrfs-progs)
# The dashboard's browser test (playwright-core drives Debian's chromium; no browser download).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The RabbitMQ interface's tests run a private broker; python3-pika is their independent client.
command -v rabbitmq-server >/dev/null 2>&1 || need+=(rabbitmq-server)
python3 -c 'import pika' >/dev/null 2>&1 || need+=(python3-pika)
# The swarm backend's image distribution: a registry on the manager.
command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

# Docker's default seccomp profile of that engine, at container.seccomp_profile's default path (blocks the btrfs
# subvolume escape from container.disk_limit).
bash scripts/seccomp-profile.sh

# Reinstall npm packages when the lock file changed since the last install.
stamp=node_modules/.anweddol-lock-sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi

npm run --silent build >&2
