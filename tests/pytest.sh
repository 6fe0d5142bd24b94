#!/usr/bin/env bash
# Runs pytest on the Python tests named as arguments (default: all of them,
# tests/interop tests/chart) as the test command does: builds the gateway
# (`cargo build`, the binary the tests start), makes the virtual environment
# target/interop-venv (tests/interop/venv.sh), and runs pytest in it.
# Whatever a test needs beyond that (Debian's packages, an example's
# toolchain) the test's own script installs, so any one file runs alone:
#   bash tests/pytest.sh tests/interop/test_csharp.py
#   bash tests/pytest.sh tests/interop/test_examples.py -k cpp
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build
binary="${CARGO_TARGET_DIR:-$PWD/target}/debug/gamelift-streams-gateway"
test -x "$binary"
python="$(tests/interop/venv.sh)"
(($#)) || set -- tests/interop tests/chart
GATEWAY_BIN="$binary" exec "$python" -m pytest -q -p no:cacheprovider "$@"
