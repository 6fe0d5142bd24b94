#!/usr/bin/env bash
# Builds and runs the TypeScript example (examples/README.md) with the
# environment it is given (GLS_GATEWAY_ADDRESS, GLS_GATEWAY_TOKEN, ...).
# Only the example's own lines go to stdout; build output goes to stderr.
# npm's download cache lives under target/examples/typescript/.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="$REPO/target/examples/typescript"
mkdir -p "$CACHE"

command -v node >/dev/null || "$REPO/tests/debian.sh" nodejs
command -v npm >/dev/null || "$REPO/tests/debian.sh" npm

cd "$HERE"
export npm_config_cache="$CACHE/npm-cache" npm_config_update_notifier=false \
  npm_config_fund=false npm_config_audit=false

# npm ci (exact versions from package-lock.json) only when the lock file or
# node changed since the last install.
stamp="$(cat package-lock.json <(node --version) | sha256sum | cut -d' ' -f1)"
if [ "$(cat node_modules/.ci-stamp 2>/dev/null || true)" != "$stamp" ]; then
  npm ci --prefer-offline --loglevel=error >&2
  echo "$stamp" > node_modules/.ci-stamp
fi

# Types from the protos (proto-loader-gen-types), then tsc.
rm -rf src/generated dist
npm run --silent generate >&2
npm run --silent build >&2

exec node dist/example.js
