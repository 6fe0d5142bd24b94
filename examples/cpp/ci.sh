#!/usr/bin/env bash
# Builds and runs the C++ example (examples/cpp) against GLS_GATEWAY_ADDRESS.
# Installs Debian's gRPC for C++ and libcurl when missing, builds into
# target/examples/cpp (kept between runs), and runs the binary. Only the
# example's own lines go to stdout; build output goes to stderr.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="$repo/target/examples/cpp"

# Debian bookworm packages (gRPC 1.51, protobuf 3.21, libcurl 7.88): the
# versions are the distribution's, pinned by the release.
"$repo/tests/debian.sh" cmake g++ make pkg-config protobuf-compiler libprotobuf-dev protobuf-compiler-grpc libgrpc++-dev \
    libcurl4-openssl-dev

# A configured build directory is reused: later runs only rebuild what changed.
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
cmake --build "$build" -j "$(nproc)" >&2

exec "$build/gls_example"
