#!/usr/bin/env bash
# A private dockerd for development, tests and CI: its own state, socket and address pool, beside any system engine.
# Usage: scripts/dockerd.sh up|down|status
#   up      install docker.io if needed, start (or reuse) the daemon, print `DOCKER_HOST=unix://…` on stdout
#   down    stop it (SIGTERM, bounded wait, then leftover shims/containerd/mounts); safe when nothing runs
#   status  print `DOCKER_HOST=…` and exit 0 when it answers, exit 1 otherwise
#   mount   btrfs mode: only mount the data root (scripts/swarm.sh does it from the host side for a worker in a netns)
# Environment: ANWEDDOL_DOCKERD_DIR (state folder, default <repo>/.cache/dockerd),
#              ANWEDDOL_DOCKERD_POOL (default address pool, default base=10.231.0.0/16,size=24),
#              ANWEDDOL_DOCKERD_TIMEOUT (seconds to wait for the daemon, default 60),
#              ANWEDDOL_DOCKERD_STORAGE (overlay2, the default, or btrfs: the data root is a loop-mounted btrfs
#                image with quotas on, so `--storage-opt size=` (container.disk_limit) is enforced),
#              ANWEDDOL_DOCKERD_BTRFS_SIZE (size of that sparse image, default 20G),
#              ANWEDDOL_DOCKERD_ARGS (extra dockerd flags, split on spaces; scripts/swarm.sh passes --insecure-registry).
# Only the line `DOCKER_HOST=…` goes to stdout, so `eval "$(bash scripts/dockerd.sh up)"` works.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state=${ANWEDDOL_DOCKERD_DIR:-$repo/.cache/dockerd}
pool=${ANWEDDOL_DOCKERD_POOL:-base=10.231.0.0/16,size=24}
timeout=${ANWEDDOL_DOCKERD_TIMEOUT:-60}
storage=${ANWEDDOL_DOCKERD_STORAGE:-overlay2}
btrfs_size=${ANWEDDOL_DOCKERD_BTRFS_SIZE:-20G}
read -r -a extra_args <<<"${ANWEDDOL_DOCKERD_ARGS:-}"
case "$storage" in overlay2 | btrfs) ;; *) echo "dockerd.sh: ANWEDDOL_DOCKERD_STORAGE must be overlay2 or btrfs, got $storage" >&2; exit 2 ;; esac

log() { echo "dockerd.sh: $*" >&2; }

mkdir -p "$state"
state=$(cd "$state" && pwd)
data_root=$state/data
# btrfs mode: a separate mount point, so an overlay2 data root in the same folder is never hidden or mixed in.
btrfs_image=$state/btrfs.img
btrfs_root=$state/btrfs
[ "$storage" = btrfs ] && data_root=$btrfs_root
exec_root=$state/exec
sock=$state/docker.sock
pidfile=$state/dockerd.pid
logfile=$state/dockerd.log
host=unix://$sock
# A name derived from the folder keeps containerd namespaces of two private daemons apart
# even if they ever share a system containerd.
ns=anweddol-$(printf '%s' "$state" | sha256sum | cut -c1-12)

if [ "${#sock}" -gt 100 ]; then
  log "socket path too long for a unix socket (${#sock} chars): $sock; set ANWEDDOL_DOCKERD_DIR to a shorter folder"
  exit 1
fi

# The CLI on PATH may be newer than Debian's dockerd (API 1.41): retry with the version pinned.
answers() {
  [ -S "$sock" ] || return 1
  DOCKER_HOST=$host timeout 10 docker info --format '{{.ID}}' >/dev/null 2>&1 \
    || DOCKER_HOST=$host DOCKER_API_VERSION=1.41 timeout 10 docker info --format '{{.ID}}' >/dev/null 2>&1
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -d "/proc/$pid" ] || return 1
  grep -qa dockerd "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# Processes whose command line mentions our exec-root: the managed containerd and its shims.
owned_pids() {
  local f pid comm
  # One grep over every command line (a fork per process would take seconds on a busy machine);
  # only containerd, its shims and docker-proxy count (grep itself matches its own pattern).
  grep -laF -- "$exec_root/" /proc/[0-9]*/cmdline 2>/dev/null | while read -r f; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || continue
    case "$comm" in containerd* | docker-proxy | dockerd) echo "$pid" ;; esac
  done || true
}

# The storage driver of the daemon answering on our socket.
running_driver() {
  DOCKER_HOST=$host DOCKER_API_VERSION=1.41 timeout 10 docker info --format '{{.Driver}}' 2>/dev/null
}

# A sparse image file, formatted once (kept across down/up like the overlay2 data root), loop-mounted with quotas on.
mount_btrfs() {
  mountpoint -q "$btrfs_root" 2>/dev/null && return 0
  if [ ! -f "$btrfs_image" ]; then
    log "creating btrfs image $btrfs_image ($btrfs_size, sparse)"
    truncate -s "$btrfs_size" "$btrfs_image.tmp"
    mkfs.btrfs -q "$btrfs_image.tmp" >&2
    mv "$btrfs_image.tmp" "$btrfs_image"
  fi
  mkdir -p "$btrfs_root"
  local dev
  # A loop device left attached to our image (a crash before `down`) is reused: two would show one filesystem twice.
  dev=$(losetup -j "$btrfs_image" -O NAME -n 2>/dev/null | head -n 1)
  [ -n "$dev" ] || dev=$(losetup --find --show "$btrfs_image")
  if ! mount -t btrfs "$dev" "$btrfs_root"; then
    losetup -d "$dev" || true
    log "cannot mount $btrfs_image on $btrfs_root"
    exit 1
  fi
  btrfs quota enable "$btrfs_root"
  # Quota groups of subvolumes removed without their group (a few per run) would pile up across runs.
  btrfs qgroup clear-stale "$btrfs_root" >/dev/null 2>&1 || true
  log "btrfs $btrfs_image mounted on $btrfs_root ($dev, quotas on)"
}

# Unmounts the btrfs data root and detaches every loop device backed by our image. Right after dockerd exits
# the filesystem can still be busy for a moment: retry for a few seconds before falling back to a lazy unmount.
unmount_btrfs() {
  local i dev
  for i in $(seq 20); do
    mountpoint -q "$btrfs_root" 2>/dev/null || break
    umount "$btrfs_root" 2>/dev/null || sleep 0.25
  done
  if mountpoint -q "$btrfs_root" 2>/dev/null; then
    log "$btrfs_root still busy; lazy unmount"
    umount -l "$btrfs_root" || true
  fi
  [ -f "$btrfs_image" ] || return 0
  for dev in $(losetup -j "$btrfs_image" -O NAME -n 2>/dev/null); do
    for i in $(seq 20); do
      losetup -d "$dev" 2>/dev/null && break
      sleep 0.25
    done
    # A device still busy is marked autoclear by the kernel: it detaches once its last user is gone.
    losetup "$dev" >/dev/null 2>&1 && log "cannot detach $dev yet (busy); it detaches once freed"
  done
  return 0
}

ensure_installed() {
  if [ "$storage" = btrfs ] && ! command -v mkfs.btrfs >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { log "mkfs.btrfs is missing; run as root to install btrfs-progs"; exit 1; }
    log "installing btrfs-progs"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends btrfs-progs >&2
  fi
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ]; then
    log "dockerd is missing; run as root to install docker.io"
    exit 1
  fi
  log "installing docker.io"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io iptables >&2
}

up() {
  ensure_installed
  exec 9>"$state/.lock"
  flock -w "$timeout" 9 || { log "timed out waiting for another dockerd.sh in $state"; exit 1; }
  if running_pid >/dev/null && answers; then
    local driver
    driver=$(running_driver || true)
    if [ -n "$driver" ] && [ "$driver" != "$storage" ]; then
      log "the dockerd in $state uses storage driver $driver, not $storage; run \`scripts/dockerd.sh down\` first or use another ANWEDDOL_DOCKERD_DIR"
      exit 1
    fi
    log "reusing dockerd (pid $(running_pid)) at $host"
    echo "DOCKER_HOST=$host"
    return 0
  fi
  local started=
  if pid=$(running_pid); then
    log "dockerd pid $pid is not answering; waiting for it"
  else
    rm -f "$pidfile" "$sock"
    [ "$storage" = btrfs ] && mount_btrfs
    mkdir -p "$data_root" "$exec_root"
    log "starting dockerd (state in $state, log $logfile)"
    # setsid: the daemon must outlive the caller's shell and not receive its terminal signals.
    setsid dockerd \
      --data-root "$data_root" \
      --exec-root "$exec_root" \
      -H "$host" \
      --pidfile "$pidfile" \
      --bridge=none \
      --default-address-pool "$pool" \
      --iptables=true \
      --containerd-namespace "$ns" \
      --containerd-plugins-namespace "$ns-plugins" \
      --storage-driver "$storage" \
      --log-level warn \
      "${extra_args[@]}" \
      >>"$logfile" 2>&1 </dev/null 9>&- &
    started=$!
    disown || true
  fi
  local deadline=$((SECONDS + timeout))
  until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "dockerd did not answer within ${timeout}s; last log lines:"
      tail -n 20 "$logfile" >&2 || true
      exit 1
    fi
    if [ -n "$started" ] && [ ! -d "/proc/$started" ]; then
      log "dockerd exited; last log lines:"
      tail -n 20 "$logfile" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
  log "dockerd answers at $host"
  echo "DOCKER_HOST=$host"
}

down() {
  exec 9>"$state/.lock"
  flock -w "$timeout" 9 || { log "timed out waiting for another dockerd.sh in $state"; exit 1; }
  local pid
  if pid=$(running_pid); then
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while [ -d "/proc/$pid" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    if [ -d "/proc/$pid" ]; then
      log "dockerd did not stop in 30 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  else
    log "no dockerd running in $state"
  fi
  # Leftover containerd / shims of this daemon only (matched by our exec-root).
  local leftovers
  leftovers=$(owned_pids | tr '\n' ' ')
  if [ -n "${leftovers// /}" ]; then
    log "stopping leftover processes: $leftovers"
    # shellcheck disable=SC2086
    kill -TERM $leftovers 2>/dev/null || true
    sleep 1
    leftovers=$(owned_pids | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -z "${leftovers// /}" ] || kill -KILL $leftovers 2>/dev/null || true
  fi
  # Mounts left under our folders (overlay layers, network namespaces), deepest first.
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v a="$data_root/" -v b="$exec_root/" -v c="$btrfs_root/" 'index($2, a) == 1 || index($2, b) == 1 || index($2, c) == 1 { print $2 }' /proc/self/mounts | sort -r)
  # Whatever mode it was started in: a btrfs data root left mounted would keep its loop device busy.
  unmount_btrfs
  rm -f "$pidfile" "$sock"
}

status() {
  if running_pid >/dev/null && answers; then
    log "dockerd running (pid $(running_pid))"
    echo "DOCKER_HOST=$host"
    return 0
  fi
  log "dockerd not running in $state"
  return 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  mount) if [ "$storage" = btrfs ]; then ensure_installed; mount_btrfs; fi ;;
  *) echo "usage: $0 up|down|status|mount" >&2; exit 2 ;;
esac
