#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every Rust test, and the
# Python interop tests (boto3 against the emulator, grpcio against the gateway)
# in a virtual environment this script creates with pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
cargo build

venv=target/interop-venv
stamp="$venv/.requirements"
if ! cmp -s tests/interop/requirements.txt "$stamp" 2>/dev/null; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
    cp tests/interop/requirements.txt "$stamp"
fi
GATEWAY_BIN="$PWD/target/debug/gamelift-streams-gateway" "$venv/bin/python" -m pytest tests/interop -q
