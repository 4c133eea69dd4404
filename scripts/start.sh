#!/usr/bin/env bash
# One command from a fresh Debian machine (as root) to a running server: setup, private dockerd, sandbox image, start.
# Usage: scripts/start.sh [extra `anweddol-server start` options, e.g. --web]
# Everything local lives under ${ANWEDDOL_HOME:-<repo>/.cache/local}: config, RSA keys, database, logs, pid, admin socket.
# An existing config there is used as is (edit it freely); delete it to get the generated one back.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
home=${ANWEDDOL_HOME:-$repo/.cache/local}

bash scripts/setup.sh
# btrfs data root: the default container.disk_limit is enforced (overlay2 on ext4 cannot).
export ANWEDDOL_DOCKERD_STORAGE=${ANWEDDOL_DOCKERD_STORAGE:-btrfs}
eval "$(bash scripts/dockerd.sh up)"
export DOCKER_HOST
bash iso/build.sh >/dev/null

mkdir -p "$home"
home=$(cd "$home" && pwd)
config=$home/anweddol.conf.yaml
if [ ! -f "$config" ]; then
  echo "start.sh: writing $config" >&2
  cat > "$config" <<YAML
# Local anweddol-server configuration written by scripts/start.sh (defaults: anweddol.conf.yaml).
server:
  public_rsa_key_file_path: $home/rsa/public.pem
  private_rsa_key_file_path: $home/rsa/private.pem
  log_file_path: $home/server.log
  pid_file_path: $home/server.pid
  admin_socket_path: $home/admin.sock
web_server:
  ssl_pem_private_key_file_path: $home/ssl/private_key.pem
  ssl_pem_certificate_file_path: $home/ssl/certificate.pem
docker:
  # The project's private dockerd (scripts/dockerd.sh).
  host: $DOCKER_HOST
container:
  image: anweddol/sandbox:latest
database:
  file_path: $home/anweddol.db
log_rotation:
  log_archive_folder_path: $home/archives
fl:
  data_dir: $home/fl
YAML
fi

echo "start.sh: starting the server (config $config; Ctrl-C stops it)" >&2
exec node --max-semi-space-size=1 dist/src/cli/main.js start --foreground --config "$config" "$@"
