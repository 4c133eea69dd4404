#!/usr/bin/env bash
# A local two-node Docker Swarm for development, tests and benches: manager = a private dockerd, worker = a dockerd in a network namespace, plus a registry.
# Usage: scripts/swarm.sh up|down|status
#   up      start (or reuse) both engines, the swarm, and the registry; print the manager's `DOCKER_HOST=unix://…` on stdout
#   down    leave the swarm and stop everything: registry, worker (its state removed), namespace, veth pair, manager, mounts
#   status  print `DOCKER_HOST=…` and exit 0 when the swarm has both nodes ready, exit 1 otherwise
# Layout (under ANWEDDOL_SWARM_DIR, default <repo>/.cache/swarm, or .cache/swarm-<id> for ANWEDDOL_SWARM_ID=<id>):
#   manager/docker.sock  the manager's engine; it advertises 10.240.0.1 (host side of the veth pair)
#   worker/docker.sock   the worker's engine (hostname anweddol-swarm-worker, namespace anweddol-swarm, 10.240.0.2)
#   registry/            Debian's docker-registry, listening on 10.240.0.1:5000 (both engines trust it over plain HTTP)
#   sandbox-seccomp.json both engines' --seccomp-profile (`anweddol-server seccomp-profile`); engines already running keep
#                        theirs (`down` then `up` applies it)
# ANWEDDOL_SWARM_ID (0-3, default 0) picks a second, independent swarm on the same machine (its own namespace, veth pair,
# 10.240.<id>.0/24 link and address pools): id 0 is the layout above; give each id its own ANWEDDOL_SWARM_DIR.
# Never touches the shared private dockerd (scripts/dockerd.sh's default folder): the manager has its own state.
# Traffic stays on this machine: the veth pair, loopback and the engines' own containers.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
timeout=${ANWEDDOL_DOCKERD_TIMEOUT:-60}
id=${ANWEDDOL_SWARM_ID:-0}
[[ "$id" =~ ^[0-3]$ ]] || { echo "swarm.sh: ANWEDDOL_SWARM_ID must be 0, 1, 2 or 3, got $id" >&2; exit 2; }
suffix=$([ "$id" = 0 ] && echo "" || echo "-$id")
state=${ANWEDDOL_SWARM_DIR:-$repo/.cache/swarm$suffix}
ns=${ANWEDDOL_SWARM_NETNS:-anweddol-swarm$suffix}
veth_host=anwswarm$((id * 2))
veth_ns=anwswarm$((id * 2 + 1))
manager_ip=10.240.$id.1
worker_ip=10.240.$id.2
registry_addr=$manager_ip:5000
worker_hostname=anweddol-swarm-worker
# Pools that clash neither with the shared dockerd (10.231/16), other test engines (10.232, 10.233) nor each other:
# id 0 takes 10.241-10.243, id N 10.(241+3N)-10.(243+3N).
manager_pool=base=10.$((241 + id * 3)).0.0/16,size=24
worker_pool=base=10.$((242 + id * 3)).0.0/16,size=24
overlay_pool=10.$((243 + id * 3)).0.0/16
# Heartbeat 2 s: the manager marks a silent node down after ≈ 3 heartbeats, so the daemon reports node_lost within ≈ 10 s.
heartbeat=2s
# Both engines: never pull from a public registry before using the local image (≈ 20 s of DNS timeouts otherwise).
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
export DOCKER_API_VERSION=1.41

log() { echo "swarm.sh: $*" >&2; }

mkdir -p "$state"
state=$(cd "$state" && pwd)
# One folder, one id: the same folder under another id would start a second worker on this one's state, and its
# `down` would remove another swarm's namespace and link.
if [ -f "$state/swarm-id" ] && [ "$(cat "$state/swarm-id")" != "$id" ]; then
  echo "swarm.sh: $state belongs to ANWEDDOL_SWARM_ID=$(cat "$state/swarm-id"), not $id" >&2
  exit 2
fi
echo "$id" >"$state/swarm-id"
manager_dir=$state/manager
worker_dir=$state/worker
registry_dir=$state/registry
manager_host=unix://$manager_dir/docker.sock
worker_host=unix://$worker_dir/docker.sock
registry_pidfile=$registry_dir/registry.pid

# Both engines run every container under the sandboxes' seccomp profile (no btrfs ioctls: a subvolume would escape
# container.disk_limit); a service cannot carry one, and the daemon checks each new sandbox against it.
seccomp_profile=$state/sandbox-seccomp.json
engine_args="--insecure-registry $registry_addr --seccomp-profile $seccomp_profile"

ensure_seccomp_profile() {
  bash "$repo/scripts/seccomp-profile.sh"
  (cd "$repo" && node --import tsx src/cli/main.ts seccomp-profile --base /usr/share/anweddol/docker-seccomp-default.json --out "$seccomp_profile" >/dev/null)
}

dockerd_sh() {
  # $1 = node folder, $2 = pool, rest = dockerd.sh arguments
  local dir=$1 pool=$2
  shift 2
  ANWEDDOL_DOCKERD_DIR=$dir ANWEDDOL_DOCKERD_POOL=$pool ANWEDDOL_DOCKERD_STORAGE=btrfs \
    ANWEDDOL_DOCKERD_ARGS="$engine_args" bash "$repo/scripts/dockerd.sh" "$@" 8>&-
}

on_manager() { DOCKER_HOST=$manager_host docker "$@"; }
on_worker() { DOCKER_HOST=$worker_host docker "$@"; }

swarm_state() { "$@" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || echo unknown; }

ensure_link() {
  ip netns list | cut -d" " -f1 | grep -qx "$ns" || ip netns add "$ns"
  if ! ip link show "$veth_host" >/dev/null 2>&1; then
    ip link add "$veth_host" type veth peer name "$veth_ns"
    ip link set "$veth_ns" netns "$ns"
  fi
  ip addr replace "$manager_ip/24" dev "$veth_host"
  ip link set "$veth_host" up
  ip netns exec "$ns" ip addr replace "$worker_ip/24" dev "$veth_ns"
  ip netns exec "$ns" ip link set "$veth_ns" up
  ip netns exec "$ns" ip link set lo up
}

ensure_manager() {
  dockerd_sh "$manager_dir" "$manager_pool" up >/dev/null
  local current
  current=$(swarm_state on_manager)
  if [ "$current" != active ]; then
    # A swarm state left by an engine that died before `down` could leave: start afresh.
    [ "$current" = inactive ] || on_manager swarm leave --force >/dev/null 2>&1 || true
    log "initialising the swarm on the manager ($manager_ip)"
    on_manager swarm init --advertise-addr "$manager_ip" --listen-addr "$manager_ip:2377" \
      --dispatcher-heartbeat "$heartbeat" --default-addr-pool "$overlay_pool" >/dev/null
  fi
}

ensure_worker() {
  # The btrfs data root is mounted from the host side, so `down` can unmount it and free its loop device.
  dockerd_sh "$worker_dir" "$worker_pool" mount
  if ! dockerd_sh "$worker_dir" "$worker_pool" status >/dev/null 2>&1; then
    log "starting the worker engine in namespace $ns"
    # `ip netns exec` remounts /sys: remount the cgroup v1 controllers; its own UTS namespace gives the node its own hostname.
    # Its mounts are made private and other engines' btrfs filesystems (other swarms, the shared dockerd) dropped from
    # them: another `swarm.sh down` looking for holders of its own loop device must not find (and kill) this engine.
    ip netns exec "$ns" unshare --uts sh -c '
      set -e
      hostname "$1"
      mount --make-rprivate /
      sed -n "s/^[^ ]* [^ ]* [^ ]* [^ ]* \([^ ]*\) .* - btrfs .*/\1/p" /proc/self/mountinfo | sort -r | while read -r m; do
        case "$m" in "$2"/*) ;; *) umount -l "$m" 2>/dev/null || true ;; esac
      done
      mount -t tmpfs cgroup /sys/fs/cgroup
      for ctl in cpu cpuacct cpuset memory devices freezer blkio pids; do
        mkdir -p /sys/fs/cgroup/$ctl
        mount -t cgroup -o $ctl cgroup /sys/fs/cgroup/$ctl
      done
      mkdir -p /sys/fs/cgroup/systemd
      mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
      shift 2
      exec "$@"' sh "$worker_hostname" "$worker_dir" env ANWEDDOL_DOCKERD_DIR="$worker_dir" ANWEDDOL_DOCKERD_POOL="$worker_pool" ANWEDDOL_DOCKERD_STORAGE=btrfs \
      ANWEDDOL_DOCKERD_ARGS="$engine_args" bash "$repo/scripts/dockerd.sh" up >/dev/null 8>&-
  fi
  local current
  current=$(swarm_state on_worker)
  if [ "$current" != active ]; then
    # It may still belong to a swarm that is gone (killed before `down`): leave it first.
    [ "$current" = inactive ] || on_worker swarm leave --force >/dev/null 2>&1 || true
    log "joining the worker ($worker_ip) to the swarm"
    local token
    token=$(on_manager swarm join-token -q worker)
    on_worker swarm join --token "$token" --advertise-addr "$worker_ip" --listen-addr "$worker_ip:2377" "$manager_ip:2377" >/dev/null
  fi
}

registry_pid() {
  [ -f "$registry_pidfile" ] || return 1
  local pid
  pid=$(cat "$registry_pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] && grep -qa docker-registry "/proc/$pid/cmdline" && echo "$pid"
}

ensure_registry() {
  registry_pid >/dev/null && return 0
  command -v docker-registry >/dev/null 2>&1 || { log "docker-registry is missing (apt-get install docker-registry)"; exit 1; }
  mkdir -p "$registry_dir/data"
  cat >"$registry_dir/config.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $registry_dir/data
  delete:
    enabled: true
http:
  addr: $registry_addr
CONF
  log "starting the registry on $registry_addr"
  # 8>&-: the registry must not hold our lock for its whole life.
  setsid docker-registry serve "$registry_dir/config.yml" >>"$registry_dir/registry.log" 2>&1 </dev/null 8>&- &
  echo $! >"$registry_pidfile"
  disown || true
  local deadline=$((SECONDS + 15))
  until curl -fsS --max-time 1 "http://$registry_addr/v2/" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { log "the registry did not answer; see $registry_dir/registry.log"; exit 1; }
    sleep 0.2
  done
}

# Containers an engine was killed under (a node-loss test) keep their published ports reserved until removed:
# on our private engines nothing stopped is worth keeping.
prune_stopped() {
  local ids
  ids=$("$@" ps -aq --filter status=exited --filter status=dead --filter status=created 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$ids" ] || "$@" rm -f $ids >/dev/null 2>&1 || true
}

wait_for_nodes() {
  local deadline=$((SECONDS + timeout))
  until [ "$(on_manager node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready)" -ge 2 ]; do
    [ "$SECONDS" -lt "$deadline" ] || { log "the worker did not become ready"; exit 1; }
    sleep 0.2
  done
}

# Of the processes that see a loop device mounted, those of this node: its containers (their root is on it) and its
# engine's processes (their command line names its folder). Others only see it in a copy of the host's mounts.
ours() {
  local dir=$1 dev=$2 pid
  shift 2
  for pid in "$@"; do
    if grep -q "^[^ ]* [^ ]* [^ ]* [^ ]* / .* - btrfs $dev " "/proc/$pid/mountinfo" 2>/dev/null \
      || { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "$dir/"; then
      printf '%s ' "$pid"
    fi
  done
}

# Container processes whose engine died (SIGKILL, a crashed node) outlive their shims: they are found by the
# filesystem they run on (our btrfs image's loop device) and killed, so that device can detach.
kill_stragglers() {
  local dev pids
  for dev in $(losetup -j "$1/btrfs.img" -O NAME -n 2>/dev/null); do
    # grep exits 2 for processes that vanish while it reads: not a failure here.
    pids=$({ grep -l " $dev " /proc/[0-9]*/mountinfo 2>/dev/null || true; } | cut -d/ -f3 | sort -u | tr '\n' ' ')
    # shellcheck disable=SC2086
    pids=$(ours "$1" "$dev" $pids)
    [ -z "${pids// /}" ] && continue
    log "killing processes left on $dev: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
    losetup -d "$dev" 2>/dev/null || true
  done
}

up() {
  # fd 8: dockerd.sh takes fd 9 for its own lock.
  exec 8>"$state/.lock"
  flock -w "$timeout" 8 || { log "timed out waiting for another swarm.sh in $state"; exit 1; }
  ensure_seccomp_profile
  ensure_link
  ensure_manager
  ensure_registry
  ensure_worker
  wait_for_nodes
  prune_stopped on_manager
  prune_stopped on_worker
  log "swarm ready: manager $manager_host, worker $worker_host ($worker_hostname), registry $registry_addr"
  echo "DOCKER_HOST=$manager_host"
}

down() {
  # fd 8: dockerd.sh takes fd 9 for its own lock.
  exec 8>"$state/.lock"
  flock -w "$timeout" 8 || { log "timed out waiting for another swarm.sh in $state"; exit 1; }
  local pid
  if pid=$(registry_pid); then
    log "stopping the registry (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  fi
  rm -f "$registry_pidfile"
  # Each engine leaves the swarm first, so a later `up` starts a fresh one (a stale raft state would wait for the old nodes).
  [ "$(swarm_state on_worker)" = inactive ] || on_worker swarm leave --force >/dev/null 2>&1 || true
  dockerd_sh "$worker_dir" "$worker_pool" down
  kill_stragglers "$worker_dir"
  # The worker is disposable: a dockerd killed under running tasks (the node-loss test) leaves network endpoints in
  # its store that keep their host ports "allocated" after a restart. Its next `up` starts empty and pulls the image.
  if mountpoint -q "$worker_dir/btrfs" 2>/dev/null; then
    log "$worker_dir/btrfs is still mounted; worker state kept"
  else
    rm -rf "$worker_dir"
  fi
  [ "$(swarm_state on_manager)" = inactive ] || on_manager swarm leave --force >/dev/null 2>&1 || true
  dockerd_sh "$manager_dir" "$manager_pool" down
  kill_stragglers "$manager_dir"
  ip link del "$veth_host" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  log "swarm down"
}

status() {
  if [ "$(on_manager node ls --format '{{.Status}}' 2>/dev/null | grep -c Ready)" -ge 2 ] && registry_pid >/dev/null; then
    echo "DOCKER_HOST=$manager_host"
    return 0
  fi
  log "swarm not running in $state"
  return 1
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
