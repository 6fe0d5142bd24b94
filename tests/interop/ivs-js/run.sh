#!/usr/bin/env bash
# Installs @aws-sdk/client-ivs-realtime (npm ci, exact versions from
# package-lock.json) under target/interop/ivs-js and runs ivs.test.mjs there
# against EMULATOR_URL. Only the test's lines go to stdout; npm's go to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
WORK="$REPO/target/interop/ivs-js"
mkdir -p "$WORK"

command -v node >/dev/null || "$REPO/tests/debian.sh" nodejs
command -v npm >/dev/null || "$REPO/tests/debian.sh" npm

cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/ivs.test.mjs" "$WORK/"
cd "$WORK"
export npm_config_cache="$WORK/npm-cache" npm_config_update_notifier=false \
  npm_config_fund=false npm_config_audit=false

# npm ci only when the lock file or node changed since the last install.
stamp="$(cat package-lock.json <(node --version) | sha256sum | cut -d' ' -f1)"
if [ "$(cat node_modules/.ci-stamp 2>/dev/null || true)" != "$stamp" ]; then
  npm ci --prefer-offline --loglevel=error >&2
  echo "$stamp" > node_modules/.ci-stamp
fi

exec node ivs.test.mjs
