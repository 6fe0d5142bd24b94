"""The emulator's IVS Real-Time part driven by the AWS SDK for JavaScript v3
(@aws-sdk/client-ivs-realtime, pinned in tests/interop/ivs-js/package-lock.json):
tests/interop/ivs-js/run.sh installs it with `npm ci` under target/interop/ivs-js
and runs ivs.test.mjs against a fresh emulator. The script runs all 16
implemented operations, checks typed errors with instanceof and a throttle by
name, and prints one `ok <test>` line per test."""

import os
import subprocess

from conftest import REPO, _stop_all, start_emulator

# The first run downloads the SDK's packages; a cached one is quick.
INSTALL_AND_RUN_SECONDS = 600


def test_the_js_sdk_runs_every_implemented_operation():
    proc, url = start_emulator()
    try:
        run = subprocess.run(
            ["bash", str(REPO / "tests" / "interop" / "ivs-js" / "run.sh")],
            env={**os.environ, "EMULATOR_URL": url},
            cwd=REPO, capture_output=True, text=True, timeout=INSTALL_AND_RUN_SECONDS,
        )
    finally:
        _stop_all([proc])
    assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr[-6000:]}"
    assert run.stdout.split() == ["ok", "every_operation", "ok", "typed_errors", "ok", "throttled"], run.stdout
