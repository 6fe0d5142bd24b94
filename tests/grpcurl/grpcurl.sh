#!/usr/bin/env bash
# Installs grpcurl (pinned, from the Go module proxy) under
# target/tools/grpcurl-VERSION/ unless it is there, and prints its path.
# Installs Go from Debian when the machine lacks it; Go's caches live beside
# the binary, so nothing outside target/ is needed or changed.
set -euo pipefail

VERSION=v1.9.4
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="${CARGO_TARGET_DIR:-$repo/target}/tools/grpcurl-$VERSION"
bin="$dir/bin/grpcurl"
if [[ ! -x "$bin" ]]; then
    command -v go >/dev/null || "$repo/tests/debian.sh" golang-go >&2
    mkdir -p "$dir"
    GOBIN="$dir/bin" GOPATH="$dir/gopath" GOMODCACHE="$dir/gopath/pkg/mod" GOCACHE="$dir/gocache" \
        GOTOOLCHAIN="${GOTOOLCHAIN:-auto}" GOFLAGS=-modcacherw \
        go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$VERSION" >&2
fi
echo "$bin"
