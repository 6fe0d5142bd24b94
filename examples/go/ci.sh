#!/usr/bin/env bash
# Builds and runs the Go example against the gateway named by
# GLS_GATEWAY_ADDRESS (and GLS_GATEWAY_TOKEN, ...), as examples/README.md
# describes. First proves the checked-in client (clients/go) is what the
# protos generate. Go's caches live under target/examples/go/; stdout carries
# only the example's own lines, everything else goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$repo/target/examples/go"
mkdir -p "$cache"

# Installs Go itself when the machine lacks it (Debian's may be older than
# go.mod asks for: GOTOOLCHAIN=auto then fetches the pinned toolchain from
# the module proxy).
command -v go >/dev/null || "$repo/tests/debian.sh" golang-go

export GOPATH="$cache/gopath"
export GOMODCACHE="$cache/gopath/pkg/mod"
export GOCACHE="$cache/gocache"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"

# The generated code must match the protos (fails with a diff otherwise).
"$repo/clients/go/generate.sh" --check >&2

# go.mod and go.sum pin every module; -mod=readonly refuses to change them.
bin="$cache/bin/example"
(cd "$here" && go build -mod=readonly -o "$bin" .) >&2

exec "$bin"
