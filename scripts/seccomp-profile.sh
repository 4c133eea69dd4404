#!/usr/bin/env bash
# Fetches Docker's default seccomp profile of the installed engine (container.seccomp_profile derives the sandboxes' from it).
# Usage: scripts/seccomp-profile.sh [DEST]   (default /usr/share/anweddol/docker-seccomp-default.json; idempotent)
# The file comes out of Debian's golang-github-docker-docker-dev of docker.io's source version (both are built from
# the docker.io source package): only that one file is extracted, the package and its ~250 dependencies are not installed.
set -euo pipefail

dest=${1:-/usr/share/anweddol/docker-seccomp-default.json}
member=./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
log() { echo "seccomp-profile.sh: $*" >&2; }

version=$(dpkg-query -W -f='${source:Version}' docker.io 2>/dev/null) || { log "docker.io is not installed (scripts/setup.sh installs it)"; exit 1; }
stamp=$dest.version
if [ -s "$dest" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then exit 0; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# apt's download sandbox user must be able to write there.
chmod 755 "$tmp"
download() { (cd "$tmp" && apt-get download -qq "golang-github-docker-docker-dev=$version" >/dev/null 2>&1); }
if ! download; then
  # No package lists yet (a fresh machine or container): fetch them once and retry.
  apt-get update -qq >&2
  download || { log "cannot download golang-github-docker-docker-dev=$version (the source version of docker.io) from the configured apt sources"; exit 1; }
fi
dpkg-deb --fsys-tarfile "$tmp"/golang-github-docker-docker-dev_*.deb | tar -xO "$member" >"$tmp/default.json"
# A truncated or foreign file would make every start fail later; refuse it here.
python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); sys.exit(0 if isinstance(p.get("syscalls"), list) else 1)' "$tmp/default.json" \
  || { log "the package's $member is not a seccomp profile"; exit 1; }
mkdir -p "$(dirname "$dest")"
install -m 0644 "$tmp/default.json" "$dest"
echo "$version" >"$stamp"
log "Docker $version default seccomp profile written to $dest"
