#!/usr/bin/env bash
# The sandbox image factory: Debian rootfs by debootstrap (no registry) → `docker import` → the endpoint layer.
# Usage: DOCKER_HOST=unix://… iso/build.sh        (runs as root; prints the image ID last on stdout)
# Environment: ANWEDDOL_CACHE_DIR (rootfs tarball cache, default <repo>/.cache),
#              ANWEDDOL_DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              ANWEDDOL_IMAGE_REPO (default anweddol/sandbox).
# Tags <repo>:<recipe-hash> and <repo>:latest; the recipe hash covers the package list and every file
# copied into the image, so an unchanged recipe reuses the existing image (or the cached rootfs).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
iso=$repo/iso
cache=${ANWEDDOL_CACHE_DIR:-$repo/.cache}
mirror=${ANWEDDOL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
image_repo=${ANWEDDOL_IMAGE_REPO:-anweddol/sandbox}
suite=bookworm
packages=(openssh-server sudo nodejs python3 python3-numpy ca-certificates procps iproute2)
# Bump when the rootfs steps below change in a way the package list does not show.
rootfs_recipe_version=1

log() { echo "iso/build.sh: $*" >&2; }
export DOCKER_BUILDKIT=0

if [ -z "${DOCKER_HOST:-}" ]; then
  log "DOCKER_HOST is not set; run: eval \"\$(bash scripts/dockerd.sh up)\"; export DOCKER_HOST"
  exit 1
fi
export DOCKER_HOST
# The CLI may be newer than Debian's dockerd (API 1.41).
if ! docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then
  export DOCKER_API_VERSION=1.41
  docker version --format '{{.Server.APIVersion}}' >/dev/null || { log "cannot reach dockerd at $DOCKER_HOST"; exit 1; }
fi

# The FL agent bundle goes into the image when it exists; build it first so the hash sees its newest content.
if [ -f "$repo/scripts/build-agent.mjs" ] && [ -d "$repo/node_modules/esbuild" ]; then
  (cd "$repo" && npm run --silent build:agent >&2) || log "warning: npm run build:agent failed; using the agent bundle already in dist/ (if any)"
fi

# Build context: exactly the files that go into the image.
ctx=$(mktemp -d "${TMPDIR:-/tmp}/anweddol-iso.XXXXXX")
work=
cleanup() {
  rm -rf "$ctx"
  if [ -n "$work" ] && [ -d "$work" ]; then
    # debootstrap may leave /proc etc. mounted in the target on failure.
    awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$work"
  fi
}
trap cleanup EXIT
cp "$iso/Dockerfile" "$iso/setup-endpoint.sh" "$iso/entrypoint.sh" "$iso/sshd_config" "$iso/motd" "$ctx/"
mkdir -p "$ctx/fl-agent"
if [ -f "$repo/dist/fl-agent/agent.mjs" ]; then
  cp "$repo/dist/fl-agent/agent.mjs" "$ctx/fl-agent/agent.mjs"
  log "including the FL agent bundle"
else
  # An empty directory still has to exist for COPY; the marker keeps it non-empty.
  echo "no FL agent bundle was built into this image" > "$ctx/fl-agent/README"
fi

rootfs_hash=$(printf 'suite=%s\nvariant=minbase\npackages=%s\nversion=%s\n' "$suite" "${packages[*]}" "$rootfs_recipe_version" | sha256sum | cut -c1-64)
recipe_hash=$(
  {
    echo "rootfs=$rootfs_hash"
    (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
)
tag=$image_repo:$recipe_hash
base_tag=$image_repo-base:${rootfs_hash:0:16}

# Older recipes' tags go, unless a container still uses them (docker rmi refuses then; that is fine).
prune_old_tags() {
  { docker images --format '{{.Repository}}:{{.Tag}}' "$image_repo" | grep -v -e ':latest$' -e ":$recipe_hash\$" || true; } |
    while read -r stale; do
      if docker rmi "$stale" >/dev/null 2>&1; then log "removed old image $stale"; fi
    done
}

if docker image inspect "$tag" >/dev/null 2>&1; then
  log "$tag already built"
  docker tag "$tag" "$image_repo:latest"
  prune_old_tags
  docker image inspect --format '{{.Id}}' "$tag"
  exit 0
fi

if ! docker image inspect "$base_tag" >/dev/null 2>&1; then
  tarball=$cache/rootfs-$rootfs_hash.tar
  if [ ! -s "$tarball" ]; then
    if [ "$(id -u)" != 0 ]; then log "debootstrap needs root"; exit 1; fi
    if ! command -v debootstrap >/dev/null 2>&1; then
      log "installing debootstrap"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
    fi
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/rootfs-build.XXXXXX")
    log "debootstrap $suite (minbase + ${packages[*]}) from $mirror"
    include=$(IFS=,; echo "${packages[*]}")
    debootstrap --variant=minbase --include="$include" "$suite" "$work/root" "$mirror" >&2
    log "stripping apt caches and lists, docs, man pages, host keys"
    r=$work/root
    rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/cache/debconf/*-old \
      "$r"/usr/share/doc/* "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian \
      "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/etc/ssh/ssh_host_* "$r"/tmp/* "$r"/root/.bash_history
    : > "$r/etc/machine-id"
    # Keep dpkg from reinstalling what we stripped if someone runs apt inside a sandbox.
    printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n' \
      > "$r/etc/dpkg/dpkg.cfg.d/01-anweddol-nodoc"
    tar -C "$r" --numeric-owner --xattrs --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -cf "$work/rootfs.tar" .
    mv "$work/rootfs.tar" "$tarball"
    log "cached rootfs: $tarball ($(du -h "$tarball" | cut -f1))"
  else
    log "using cached rootfs $tarball"
  fi
  docker import --message "anweddol sandbox rootfs $rootfs_hash" "$tarball" "$base_tag" >&2
fi

log "building $tag"
docker build --quiet --build-arg "BASE=$base_tag" --label "anweddol.recipe=$recipe_hash" \
  -t "$tag" -t "$image_repo:latest" "$ctx" >&2
prune_old_tags
docker image inspect --format '{{.Id}}' "$tag"
