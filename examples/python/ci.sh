#!/usr/bin/env bash
# Runs the Python example (examples/README.md) with the environment it is
# given (GLS_GATEWAY_ADDRESS, GLS_GATEWAY_TOKEN, ...), after generating its
# stubs into target/examples/python/. Only the example's own lines go to
# stdout. The interpreter is $GLS_PYTHON, else target/interop-venv/bin/python,
# the venv the tests build from tests/interop/requirements.txt (grpcio,
# grpcio-tools, grpcio-status, googleapis-common-protos, pinned).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$REPO/target/examples/python"

PYTHON="${GLS_PYTHON:-$("$REPO/tests/interop/venv.sh")}"
if ! "$PYTHON" -c 'import grpc, grpc_tools, grpc_status, google.rpc.error_details_pb2' 2>/dev/null; then
  echo "$PYTHON lacks grpcio, grpcio-tools or grpcio-status: install tests/interop/requirements.txt into it" >&2
  exit 2
fi

# The stubs of the gateway's protos (messages, the StreamSessions and Stages
# clients).
# google/protobuf/*.proto come with grpcio-tools; google.rpc with
# googleapis-common-protos.
rm -rf "$OUT/gen"
mkdir -p "$OUT/gen"
WELL_KNOWN="$("$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
"$PYTHON" -m grpc_tools.protoc -I "$REPO/proto" -I "$WELL_KNOWN" \
  --python_out="$OUT/gen" --grpc_python_out="$OUT/gen" \
  "$REPO/proto/gamelift/streams/v1/stream_sessions.proto" \
  "$REPO/proto/gamelift/streams/v1/error_reason.proto" \
  "$REPO/proto/ivs/realtime/v1/stages.proto" \
  "$REPO/proto/ivs/realtime/v1/error_reason.proto" >&2

PYTHONPATH="$OUT/gen${PYTHONPATH:+:$PYTHONPATH}" exec "$PYTHON" "$HERE/example.py"
