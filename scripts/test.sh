#!/usr/bin/env bash
# The whole test suite: lint, typecheck, unit, protocol, fuzz and integration tests (real dockerd).
# Usage: scripts/test.sh [test files...]   (npm test and .ci/run call this)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== lint"; npx eslint .
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit

# A private dockerd for the integration tests, stopped on every exit path; on btrfs so that disk limits are real.
export ANWEDDOL_DOCKERD_STORAGE=${ANWEDDOL_DOCKERD_STORAGE:-btrfs}
trap 'bash scripts/dockerd.sh down >/dev/null 2>&1 || true' EXIT
eval "$(bash scripts/dockerd.sh up)"
export DOCKER_HOST
echo "== sandbox image"; bash iso/build.sh

if [ "$#" -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
echo "== tests (${#files[@]} files)"
node --import tsx --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
