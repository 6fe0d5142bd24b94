#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, every Rust test (the
# fleet tests with a real redis-server, which their harness installs), the
# container image check, buf lint and buf breaking on the v1 contract, and the
# Python tests (boto3 against the emulator, grpcio against the gateway, the
# client examples in Go, C++, Java, TypeScript and Python built and run against
# the gateway, C# generated, the Helm chart rendered, linted and validated) in
# a virtual environment with pinned versions.
# Runs from any directory; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
step "cargo test"
cargo test
step "container image: the release binary, built as the Dockerfile builds it, fits its runtime base"
bash tests/image/check.sh
step "buf lint, buf breaking against the v1 baseline"
bash tests/buf/check.sh

# tests/interop includes the client examples (examples/*/ci.sh build and run
# each one, installing its toolchain's packages when missing).
step "pytest tests/interop tests/chart (the gateway built, in the virtual environment target/interop-venv)"
bash tests/pytest.sh tests/interop tests/chart
