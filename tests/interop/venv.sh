#!/usr/bin/env bash
# Makes the Python virtual environment of the tests (target/interop-venv,
# the pinned packages of tests/interop/requirements.txt) and prints its
# interpreter's path. Rebuilt when requirements.txt changed (its hash is the
# stamp), when it is missing, or when it no longer imports its packages.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$repo/target/interop-venv"
requirements="$repo/tests/interop/requirements.txt"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
imports='import boto3, botocore, grpc, grpc_tools, grpc_status, pytest, helm_python, kubernetes_validate, yaml'
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]] || ! "$venv/bin/python" -c "$imports" 2>/dev/null; then
    echo "virtual environment $venv" >&2
    python3 -m venv --help >/dev/null 2>&1 || "$repo/tests/debian.sh" python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    PIP_NO_INPUT=1 "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
    echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
