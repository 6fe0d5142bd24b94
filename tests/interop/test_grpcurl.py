"""grpcurl (the real one, pinned, from the Go module proxy: tests/grpcurl/grpcurl.sh)
against `serve --emulator`, with nothing but reflection: every error detail the
gateway sends prints as JSON, and the README's own commands work as written."""

import json
import os
import pathlib
import re
import subprocess

import pytest

from conftest import REPO, Admin, serving_gateway


@pytest.fixture(scope="module")
def grpcurl():
    out = subprocess.run(
        ["bash", os.path.join(REPO, "tests", "grpcurl", "grpcurl.sh")],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return out.stdout.strip()


@pytest.fixture
def plain_gateway():
    """`serve --emulator` making one attempt per upstream call: (target, Admin)."""
    for target, url in serving_gateway("--retry-max-attempts", "1"):
        yield target, Admin(url)


def call(grpcurl, target, method, body):
    """(exit status, the response or the error as JSON) of one grpcurl call
    (with -format-error, an error is printed on stderr)."""
    out = subprocess.run(
        [grpcurl, "-plaintext", "-format-error", "-d", json.dumps(body), target,
         f"gamelift.streams.v1.StreamSessions/{method}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "not recognized" not in out.stdout + out.stderr, out.stdout + out.stderr
    return out.returncode, json.loads(out.stdout if out.returncode == 0 else out.stderr)


def details(error):
    """The error's details by type name (google.rpc.ErrorInfo, ...)."""
    return {d["@type"].rsplit("/", 1)[1]: d for d in error["details"]}


def start(app="a-000000001", **extra):
    return {
        "stream_group_identifier": "sg-000000001",
        "application_identifier": app,
        "signal_request": "offer",
        **extra,
    }


def test_every_error_detail_prints_as_json(grpcurl, plain_gateway):
    target, admin = plain_gateway

    code, error = call(grpcurl, target, "StartStreamSession", start(app="a-999999999"))
    assert (code, error["code"]) == (64 + 5, 5), error
    found = details(error)
    assert found["google.rpc.ErrorInfo"]["reason"] == "NOT_FOUND"
    assert found["google.rpc.ErrorInfo"]["metadata"]["operation"] == "StartStreamSession"
    resource = found["google.rpc.ResourceInfo"]
    assert (resource["resourceType"], resource["resourceName"]) == ("Application", "a-999999999")

    code, error = call(grpcurl, target, "StartStreamSession", {})
    found = details(error)
    assert found["google.rpc.ErrorInfo"]["reason"] == "INVALID_FIELD"
    fields = [v["field"] for v in found["google.rpc.BadRequest"]["fieldViolations"]]
    assert fields == ["stream_group_identifier", "application_identifier", "signal_request"]

    admin.fault(operation="StartStreamSession", throttle=1.0, count=1)
    code, error = call(grpcurl, target, "StartStreamSession", start())
    found = details(error)
    assert found["google.rpc.ErrorInfo"]["reason"] == "THROTTLED", error
    assert re.fullmatch(r"\d+(\.\d+)?s", found["google.rpc.RetryInfo"]["retryDelay"]), found

    admin.fault(operation="StartStreamSession", error="ServiceQuotaExceededException", count=1)
    code, error = call(grpcurl, target, "StartStreamSession", start())
    found = details(error)
    assert found["google.rpc.ErrorInfo"]["reason"] == "QUOTA_EXCEEDED", error
    violations = found["google.rpc.QuotaFailure"]["violations"]
    assert violations[0]["subject"] == "StartStreamSession", violations


def readme_commands():
    """The README's grpcurl block: each `$ ` command, continuation lines joined."""
    readme = pathlib.Path(REPO, "README.md").read_text()
    block = re.search(r"```\n(\$ grpcurl -plaintext 127\.0\.0\.1:50051 list\n.*?)```", readme, re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [line[2:] for line in joined.splitlines() if line.startswith("$ ")]


def test_the_readme_commands_start_a_new_session_each_time_and_read_it(grpcurl, plain_gateway):
    target, _ = plain_gateway
    commands = readme_commands()
    assert len(commands) == 4 and "StartStreamSession" in commands[2], commands
    listing, new_id, start_command, get_command = (
        re.sub(r"\bgrpcurl\b", grpcurl, c).replace("127.0.0.1:50051", target) for c in commands
    )
    listed = subprocess.run(["bash", "-c", listing], capture_output=True, text=True, check=True)
    assert "gamelift.streams.v1.StreamSessions" in listed.stdout.split()

    arns = []
    for _ in range(2):
        script = f"set -e\n{new_id}\n{start_command}"
        started = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
        arns.append(json.loads(started.stdout)["streamSession"]["arn"])
    assert arns[0] != arns[1], "each run's new request_id starts a new session"

    get = get_command.replace("ARN-FROM-ABOVE", arns[1])
    read = subprocess.run(["bash", "-c", get], capture_output=True, text=True, check=True)
    session = json.loads(read.stdout)["streamSession"]
    assert session["arn"] == arns[1]
    assert session["status"].startswith("STREAM_SESSION_STATUS_")
