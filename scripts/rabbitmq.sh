#!/usr/bin/env bash
# A private RabbitMQ broker for development and tests: Debian's rabbitmq-server on its own node name, ports and folders.
# Usage: scripts/rabbitmq.sh up|stop|down|status
#   up      start the broker in the state folder (or reuse it), wait until it accepts AMQP, print `ANWEDDOL_RABBITMQ_URL=…`
#   stop    stop it and its epmd, keep the state folder (messages, credentials, ports): `up` starts it again as it was
#   down    stop, then delete the state folder; safe when nothing runs
#   status  print `ANWEDDOL_RABBITMQ_URL=…` and exit 0 when it accepts AMQP, exit 1 otherwise
# Environment: ANWEDDOL_RABBITMQ_DIR (state folder, default <repo>/.cache/rabbitmq; the rabbitmq user must reach it),
#              ANWEDDOL_RABBITMQ_PORT (AMQP port, default a free one chosen on the first `up`),
#              ANWEDDOL_RABBITMQ_EXTRA_BIND (one more address to listen on besides 127.0.0.1, e.g. the sandbox bridge
#                gateway, so sandboxes reach the broker; read on the first `up`),
#              ANWEDDOL_RABBITMQ_TLS (1: also an amqps listener on 127.0.0.1 with a certificate for 127.0.0.1 signed by a
#                CA made for this broker; `up` then also prints `ANWEDDOL_RABBITMQ_TLS_URL=amqps://…` and
#                `ANWEDDOL_RABBITMQ_CA_FILE=…`; read on the first `up`),
#              ANWEDDOL_RABBITMQ_TIMEOUT (seconds to wait for the broker, default 60),
#              ANWEDDOL_RABBITMQ_OWNER_PID (a process: when it ends, a watcher runs `down`, so a killed test leaks nothing).
# Only `ANWEDDOL_RABBITMQ_URL=…` (and the two TLS lines) goes to stdout, so `eval "$(bash scripts/rabbitmq.sh up)"` works. The URL carries a
# user and password generated for this broker (the default guest user is not created).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state=${ANWEDDOL_RABBITMQ_DIR:-$repo/.cache/rabbitmq}
timeout=${ANWEDDOL_RABBITMQ_TIMEOUT:-60}

log() { echo "rabbitmq.sh: $*" >&2; }

mkdir -p "$state"
state=$(cd "$state" && pwd)
settings=$state/broker.env

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Ports, node name and credentials are chosen once and kept, so a restart (stop, up) serves the same URL and data.
init_settings() {
  [ -f "$settings" ] && return 0
  local id extra=${ANWEDDOL_RABBITMQ_EXTRA_BIND:-}
  id=$(printf '%s' "$state" | sha256sum | cut -c1-12)
  {
    echo "node=anweddol-$id@localhost"
    echo "amqp_port=${ANWEDDOL_RABBITMQ_PORT:-$(free_port)}"
    echo "dist_port=$(free_port)"
    echo "epmd_port=$(free_port)"
    echo "user=anweddol-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "extra_bind=$extra"
    [ "${ANWEDDOL_RABBITMQ_TLS:-}" != 1 ] || echo "tls_port=$(free_port)"
  } >"$settings.tmp"
  chmod 600 "$settings.tmp"
  mv "$settings.tmp" "$settings"
}

load_settings() {
  node= amqp_port= dist_port= epmd_port= user= password= extra_bind= tls_port=
  # shellcheck disable=SC1090
  . "$settings"
  url=amqp://$user:$password@127.0.0.1:$amqp_port/
}

# The URL lines `up` and `status` print.
print_urls() {
  echo "ANWEDDOL_RABBITMQ_URL=$url"
  [ -z "$tls_port" ] || {
    echo "ANWEDDOL_RABBITMQ_TLS_URL=amqps://$user:$password@127.0.0.1:$tls_port/"
    echo "ANWEDDOL_RABBITMQ_CA_FILE=$state/tls/ca.pem"
  }
}

# A CA and a server certificate for 127.0.0.1 (IP SAN, so clients verify the host), made once.
make_tls_files() {
  local dir=$state/tls
  [ -f "$dir/server.pem" ] && return 0
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=anweddol test broker CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/san.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/san.ext" -out "$dir/server.pem" 2>/dev/null
}

# What the broker, rabbitmqctl and epmd all need to find each other and stay out of the system's rabbitmq.
broker_env() {
  export RABBITMQ_NODENAME=$node RABBITMQ_NODE_PORT=$amqp_port RABBITMQ_DIST_PORT=$dist_port \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_MNESIA_BASE=$state/mnesia RABBITMQ_LOG_BASE=$state/log \
    RABBITMQ_FEATURE_FLAGS_FILE=$state/feature_flags RABBITMQ_ENABLED_PLUGINS_FILE=$state/enabled_plugins \
    RABBITMQ_CONFIG_FILE=$state/rabbitmq.conf RABBITMQ_CONF_ENV_FILE=$state/rabbitmq-env.conf \
    RABBITMQ_PID_FILE=$state/broker.pid \
    ERL_EPMD_PORT=$epmd_port ERL_EPMD_ADDRESS=127.0.0.1
  # Erlang distribution on loopback only: sandboxes reach the gateway address, and a node port there is a remote shell.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
}

write_files() {
  mkdir -p "$state/mnesia" "$state/log"
  [ -z "$tls_port" ] || make_tls_files
  echo '[].' >"$state/feature_flags"
  echo '[].' >"$state/enabled_plugins"
  : >"$state/rabbitmq-env.conf"
  {
    echo "listeners.tcp.1 = 127.0.0.1:$amqp_port"
    [ -z "$extra_bind" ] || echo "listeners.tcp.2 = $extra_bind:$amqp_port"
    if [ -n "$tls_port" ]; then
      echo "listeners.ssl.1 = 127.0.0.1:$tls_port"
      echo "ssl_options.cacertfile = $state/tls/ca.pem"
      echo "ssl_options.certfile = $state/tls/server.pem"
      echo "ssl_options.keyfile = $state/tls/server.key"
      echo "ssl_options.verify = verify_none"
    fi
    echo "default_user = $user"
    echo "default_pass = $password"
    # Our generated user may log in from the extra address too (guest, loopback-only by default, does not exist).
    echo "loopback_users = none"
  } >"$state/rabbitmq.conf"
  chmod 600 "$state/rabbitmq.conf"
  # Debian's rabbitmq-server drops to the rabbitmq user: everything it writes must be its own.
  chown -R rabbitmq:rabbitmq "$state"
}

pid_of() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] && grep -qa "$2" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

accepts_amqp() {
  # The AMQP greeting: a broker that is up answers it with its Connection.Start (a frame starting with byte 1).
  /usr/bin/python3 - "$amqp_port" <<'EOF' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
s.sendall(b"AMQP\x00\x00\x09\x01")
sys.exit(0 if s.recv(1) == b"\x01" else 1)
EOF
}

start_watcher() {
  local owner=${ANWEDDOL_RABBITMQ_OWNER_PID:-}
  [ -n "$owner" ] || return 0
  [[ "$owner" =~ ^[0-9]+$ ]] || { log "ANWEDDOL_RABBITMQ_OWNER_PID must be a process id, got $owner"; exit 2; }
  # One watcher per folder: a restart (stop, up) keeps the one already watching.
  pid_of "$state/watcher.pid" rabbitmq-watcher >/dev/null && return 0
  local self
  self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
  setsid bash -c 'while [ -d "/proc/$1" ]; do sleep 1; done; [ -f "$3" ] || exit 0; ANWEDDOL_RABBITMQ_DIR=$2 bash "$4" down' \
    rabbitmq-watcher "$owner" "$state" "$settings" "$self" </dev/null >>"$state/watcher.log" 2>&1 9>&- &
  echo $! >"$state/watcher.pid"
  disown || true
}

up() {
  command -v rabbitmq-server >/dev/null 2>&1 || { log "rabbitmq-server is missing (scripts/setup.sh installs it)"; exit 1; }
  [ "$(id -u)" = 0 ] || { log "run as root: Debian's rabbitmq-server must drop to the rabbitmq user itself"; exit 1; }
  exec 9>"$state/.lock"
  flock -w "$timeout" 9 || { log "timed out waiting for another rabbitmq.sh in $state"; exit 1; }
  init_settings
  load_settings
  broker_env
  if pid_of "$state/broker.pid" beam >/dev/null && accepts_amqp; then
    log "reusing broker $node on 127.0.0.1:$amqp_port"
    print_urls
    return 0
  fi
  write_files
  # Our own epmd on a private port, started by us, so `stop` ends exactly it and never another broker's.
  if ! pid_of "$state/epmd.pid" epmd >/dev/null; then
    setsid epmd -port "$epmd_port" </dev/null >>"$state/log/epmd.log" 2>&1 9>&- &
    echo $! >"$state/epmd.pid"
    disown || true
  fi
  log "starting broker $node on 127.0.0.1:$amqp_port${extra_bind:+ and $extra_bind:$amqp_port} (state in $state)"
  setsid rabbitmq-server </dev/null >>"$state/log/server.out" 2>&1 9>&- &
  local started=$! deadline=$((SECONDS + timeout))
  disown || true
  until accepts_amqp; do
    if [ "$SECONDS" -ge "$deadline" ] || { [ ! -d "/proc/$started" ] && ! pid_of "$state/broker.pid" beam >/dev/null; }; then
      log "the broker did not accept AMQP within ${timeout}s; last log lines:"
      tail -n 20 "$state/log/server.out" >&2 || true
      stop_broker
      exit 1
    fi
    sleep 0.25
  done
  start_watcher
  log "broker accepts AMQP on 127.0.0.1:$amqp_port"
  print_urls
}

stop_broker() {
  local pid
  if pid=$(pid_of "$state/broker.pid" beam); then
    # With the pid file, rabbitmqctl waits until the node has halted.
    timeout 30 rabbitmqctl -n "$node" stop "$state/broker.pid" >&2 || true
    wait_gone "$pid"
  fi
  # The broker's own helpers (erl_child_setup, inet_gethost) end with it; epmd outlives it and is ours to end.
  if pid=$(pid_of "$state/epmd.pid" epmd); then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid"
  fi
  rm -f "$state/broker.pid" "$state/epmd.pid"
}

# Bounded wait until a process has exited (a zombie awaiting its reaper counts as gone).
wait_gone() {
  local i
  for i in $(seq 40); do
    [ -d "/proc/$1" ] && [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0
    sleep 0.25
  done
  kill -KILL "$1" 2>/dev/null || true
}

stop() {
  [ -f "$settings" ] || { log "no broker in $state"; return 0; }
  exec 9>"$state/.lock"
  flock -w "$timeout" 9 || { log "timed out waiting for another rabbitmq.sh in $state"; exit 1; }
  load_settings
  broker_env
  stop_broker
}

down() {
  # Only a folder this script set up is deleted (a mistyped ANWEDDOL_RABBITMQ_DIR must not cost its content).
  if [ ! -f "$settings" ]; then
    rmdir "$state" 2>/dev/null || true
    log "no broker in $state"
    return 0
  fi
  stop
  local pid
  # The owner's watcher, unless it is the one running this `down`.
  if pid=$(pid_of "$state/watcher.pid" rabbitmq-watcher) && [ "$pid" != "$PPID" ]; then
    # Its whole process group (setsid made it the leader), so its `sleep` goes with it.
    kill -TERM -- "-$pid" 2>/dev/null || true
  fi
  rm -rf "$state"
}

status() {
  if [ -f "$settings" ]; then
    load_settings
    if pid_of "$state/broker.pid" beam >/dev/null && accepts_amqp; then
      log "broker $node running on 127.0.0.1:$amqp_port"
      print_urls
      return 0
    fi
  fi
  log "no broker running in $state"
  return 1
}

case "${1:-}" in
  up) up ;;
  stop) stop ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|stop|down|status" >&2; exit 2 ;;
esac
