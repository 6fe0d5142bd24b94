#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every Rust test (the
# fleet tests with a real redis-server, installed from Debian when missing), the
# container image check, and the Python tests (boto3 against the emulator,
# grpcio against the gateway, the Helm chart rendered, linted and validated) in
# a virtual environment this script creates with pinned versions.
# Runs from any directory; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

# The fleet tests start their own redis-server processes (Debian's package),
# one of them with TLS certificates made by openssl.
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null || ! command -v openssl >/dev/null; then
    step "apt-get install redis-server openssl"
    sudo=""
    if [[ "$(id -u)" != 0 ]]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server openssl >/dev/null
fi

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
step "cargo test"
cargo test
step "container image: the release binary, built as the Dockerfile builds it, fits its runtime base"
bash tests/image/check.sh
step "cargo build"
cargo build
binary="${CARGO_TARGET_DIR:-$PWD/target}/debug/gamelift-streams-gateway"
test -x "$binary"

# The venv is rebuilt when requirements.txt changed (its hash is the stamp),
# when it is missing, or when it no longer imports its packages.
venv=target/interop-venv
requirements=tests/interop/requirements.txt
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] \
    || ! "$venv/bin/python" -c 'import boto3, botocore, grpc, grpc_tools, pytest, helm_python, kubernetes_validate, yaml' 2>/dev/null; then
    step "virtual environment $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    PIP_NO_INPUT=1 "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$want" >"$stamp"
fi

step "pytest tests/interop tests/chart"
GATEWAY_BIN="$binary" "$venv/bin/python" -m pytest tests/interop tests/chart -q -p no:cacheprovider
