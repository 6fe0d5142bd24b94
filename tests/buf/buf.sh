#!/usr/bin/env bash
# Runs buf (https://buf.build) at the version pinned here, from the npm
# package @bufbuild/buf, installed once under target/tools/ (its binary
# arrives as an npm dependency pinned to the same version). Arguments are
# buf's; install noise goes to stderr. Used by tests/buf/check.sh and
# clients/go/generate.sh.
set -euo pipefail

BUF_VERSION=1.75.0

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
prefix="$repo/target/tools/buf-$BUF_VERSION"
buf="$prefix/node_modules/.bin/buf"
if [[ ! -x "$buf" || "$("$buf" --version 2>/dev/null)" != "$BUF_VERSION" ]]; then
    command -v npm >/dev/null || "$repo/tests/debian.sh" npm
    echo "installing @bufbuild/buf@$BUF_VERSION" >&2
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error --save-exact "@bufbuild/buf@$BUF_VERSION" >&2
fi
export BUF_CACHE_DIR="$repo/target/tools/buf-cache"
exec "$buf" "$@"
