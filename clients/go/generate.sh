#!/usr/bin/env bash
# Regenerates the Go client of the gateway's two services from proto/:
#   gamelift.streams.v1 (package streamsv1, under clients/go/gamelift/streams/v1/)
#   ivs.realtime.v1     (package realtimev1, under clients/go/ivs/realtime/v1/)
#
#   clients/go/generate.sh          rewrite the checked-in code
#   clients/go/generate.sh --check  generate into a temp dir and fail, with a
#                                   diff, if the checked-in code is not current
#
# Everything is pinned and installed under target/examples/go/ (git-ignored):
#   - buf (the version tests/buf/buf.sh pins, from npm), the compiler. buf parses the
#     protos with its own built-in compiler and bundles the well-known types,
#     so the output depends on nothing else on the machine; protoc-gen-go
#     stamps the compiler version into every file, and with buf that stamp is
#     the constant "(unknown)", whereas Debian's protoc stamps whatever
#     version the machine's Debian release ships. buf runs only local plugins
#     here (no remote plugins, no BSR dependencies: no network at generation).
#   - protoc-gen-go v1.36.12 (google.golang.org/protobuf) and
#     protoc-gen-go-grpc v1.6.2, built with `go install` from the Go module
#     proxy.
# Build noise goes to stderr; stdout stays empty unless --check finds a diff.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GO_MODULE=github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$repo/target/examples/go"
mkdir -p "$cache"

export GOPATH="$cache/gopath"
export GOMODCACHE="$cache/gopath/pkg/mod"
export GOCACHE="$cache/gocache"
export GOBIN="$cache/bin"
export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOFLAGS="${GOFLAGS:-}"

command -v go >/dev/null || "$repo/tests/debian.sh" golang-go

# The plugins, each built once per version (the version is in the file name).
install_plugin() { # name package version
  local bin="$GOBIN/$1-$3"
  if [ ! -x "$bin" ]; then
    echo "installing $2@$3" >&2
    (cd "$cache" && go install "$2@$3") >&2
    mv "$GOBIN/$1" "$bin"
  fi
  echo "$bin"
}
protoc_gen_go="$(install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION")"
protoc_gen_go_grpc="$(install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION")"

buf="$repo/tests/buf/buf.sh"

# One directory per proto package, each the Go package its go_package names.
packages=(gamelift/streams/v1 ivs/realtime/v1)

generate() { # out_dir: writes OUT/<package>/*.go for each of $packages
  local out="$1"
  # module= strips the go_package's module path, so the files land in
  # OUT/gamelift/streams/v1 (and so on) whatever OUT is.
  local template
  template=$(cat <<EOF
{"version":"v2","clean":false,"plugins":[
 {"local":"$protoc_gen_go","out":"$out","opt":["module=$GO_MODULE"]},
 {"local":"$protoc_gen_go_grpc","out":"$out","opt":["module=$GO_MODULE"]}
]}
EOF
)
  local paths=() package
  for package in "${packages[@]}"; do
    paths+=(--path "proto/$package")
  done
  (cd "$repo" && "$buf" generate proto --template "$template" "${paths[@]}") >&2
}

if $check; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  generate "$tmp"
  status=0
  for package in "${packages[@]}"; do
    diff -ru "$here/$package" "$tmp/$package" || status=$?
  done
  if [ "$status" -ne 0 ]; then
    echo "clients/go is not current: run clients/go/generate.sh and commit the result" >&2
    exit 1
  fi
  echo "clients/go: generated code is current" >&2
else
  for package in "${packages[@]}"; do
    rm -f "$here/$package"/*.pb.go
  done
  generate "$here"
  echo "clients/go: regenerated ${packages[*]}" >&2
fi
