#!/usr/bin/env bash
# Generates the C# code of the gateway's protos with protoc and
# grpc_csharp_plugin:
#   OUT/GameLift.Streams.V1/  StreamSessions.cs, StreamSessionsGrpc.cs, ErrorReason.cs
#   OUT/Ivs.Realtime.V1/      Stages.cs, StagesGrpc.cs, ErrorReason.cs
#   OUT/Google.Rpc/           Status.cs, ErrorDetails.cs, Code.cs (from the vendored
#                             googleapis protos; only for a project that does not take
#                             them from the Google.Api.CommonProtos NuGet package, as
#                             Example.csproj does: never compile both)
# Usage: examples/csharp/generate.sh [OUT]   (default: target/examples/csharp/generated)
#
# protoc is Debian's (protobuf-compiler). grpc_csharp_plugin is taken from
# $GRPC_CSHARP_PLUGIN or the PATH (the Grpc.Tools NuGet package ships one, in
# tools/linux_x64/); else, as Debian does not package it, it is built once
# into target/examples/csharp/ from gRPC 1.51.1's sources (the version Debian
# bookworm packages), which PyPI's grpcio-tools source release carries,
# against Debian's libprotoc, with the gRPC C++ headers of Debian's
# libgrpc++-dev (the plugin's sources include grpcpp/impl/codegen/). Build
# output goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="$repo/target/examples/csharp"
out="${1:-$cache/generated}"

GRPC_VERSION=1.51.1
GRPCIO_TOOLS_SHA256=8e62d23d3fed9d4f81738f98dd193dbd2e21aed4a8f0dd715e75b5439e649727

apt_install() { "$repo/tests/debian.sh" "$@"; }

# protoc, the well-known .proto files (google/protobuf/*.proto), and the
# libraries a built plugin links against (libprotoc, libprotobuf).
apt_install protobuf-compiler libprotobuf-dev libprotoc-dev

plugin="${GRPC_CSHARP_PLUGIN:-$(command -v grpc_csharp_plugin || true)}"
if [ -z "$plugin" ]; then
  plugin="$cache/grpc_csharp_plugin-$GRPC_VERSION"
  if [ ! -x "$plugin" ]; then
    apt_install g++ libgrpc++-dev
    python="${PYTHON:-python3}"
    if ! "$python" -m pip --version >/dev/null 2>&1; then
      apt_install python3-pip
      python=python3
    fi
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "grpcio-tools==$GRPC_VERSION --hash=sha256:$GRPCIO_TOOLS_SHA256" >"$work/requirements.txt"
    # pip reads the source release's metadata with its setup.py, which needs
    # a setuptools that still has pkg_resources.
    printf 'setuptools==69.5.1\nwheel==0.43.0\n' >"$work/constraints.txt"
    PIP_CONSTRAINT="$work/constraints.txt" "$python" -m pip download -q --no-deps --no-binary :all: \
      --require-hashes -r "$work/requirements.txt" -d "$work" >&2
    tar -xzf "$work/grpcio-tools-$GRPC_VERSION.tar.gz" -C "$work"
    src="$work/grpcio-tools-$GRPC_VERSION/grpc_root"
    mkdir -p "$cache"
    g++ -O2 -std=c++17 -I "$src" "$src/src/compiler/csharp_generator.cc" "$src/src/compiler/csharp_plugin.cc" \
      -o "$plugin.tmp" -lprotoc -lprotobuf >&2
    mv "$plugin.tmp" "$plugin"
  fi
fi

rm -rf "$out/GameLift.Streams.V1" "$out/Ivs.Realtime.V1" "$out/Google.Rpc"
mkdir -p "$out/GameLift.Streams.V1" "$out/Ivs.Realtime.V1" "$out/Google.Rpc"
# One directory per package: both have an error_reason.proto, and protoc's C#
# files are named after the .proto file.
protoc -I "$repo/proto" \
  --csharp_out="$out/GameLift.Streams.V1" \
  --grpc_out=no_server:"$out/GameLift.Streams.V1" --plugin=protoc-gen-grpc="$plugin" \
  "$repo/proto/gamelift/streams/v1/stream_sessions.proto" "$repo/proto/gamelift/streams/v1/error_reason.proto"
protoc -I "$repo/proto" \
  --csharp_out="$out/Ivs.Realtime.V1" \
  --grpc_out=no_server:"$out/Ivs.Realtime.V1" --plugin=protoc-gen-grpc="$plugin" \
  "$repo/proto/ivs/realtime/v1/stages.proto" "$repo/proto/ivs/realtime/v1/error_reason.proto"
protoc -I "$repo/third_party/googleapis" --csharp_out="$out/Google.Rpc" \
  "$repo/third_party/googleapis/google/rpc/status.proto" \
  "$repo/third_party/googleapis/google/rpc/error_details.proto" \
  "$repo/third_party/googleapis/google/rpc/code.proto"
echo "generated C# in $out" >&2
