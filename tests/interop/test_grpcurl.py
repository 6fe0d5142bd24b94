"""grpcurl (the real one, pinned, from the Go module proxy: tests/grpcurl/grpcurl.sh)
against `serve --emulator`, with nothing but reflection: both services
(StreamSessions and IVS Real-Time's Stages) are listed, described and health
checked, every error detail the gateway sends prints as JSON, and the README's
own commands work as written."""

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


STAGES = "ivs.realtime.v1.Stages"


def call(grpcurl, target, method, body, service="gamelift.streams.v1.StreamSessions"):
    """(exit status, the response or the error as JSON) of one grpcurl call
    (with -format-error, an error is printed on stderr)."""
    out = subprocess.run(
        [grpcurl, "-plaintext", "-format-error", "-d", json.dumps(body), target, f"{service}/{method}"],
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


def readme_commands(first="list"):
    """The README's grpcurl block that opens with `grpcurl ... 127.0.0.1:50051
    FIRST`: each `$ ` command, continuation lines joined."""
    readme = pathlib.Path(REPO, "README.md").read_text()
    opening = re.escape(f"$ grpcurl -plaintext 127.0.0.1:50051 {first}")
    block = re.search(rf"```\n({opening}\n.*?)```", readme, re.S).group(1)
    joined = block.replace("\\\n", " ")
    return [line[2:] for line in joined.splitlines() if line.startswith("$ ")]


def as_run(grpcurl, target, command):
    """A README command run against this test's grpcurl and gateway."""
    return re.sub(r"\bgrpcurl\b", grpcurl, command).replace("127.0.0.1:50051", target)


def test_the_readme_commands_start_a_new_session_each_time_and_read_it(grpcurl, plain_gateway):
    target, _ = plain_gateway
    commands = readme_commands()
    assert len(commands) == 4 and "StartStreamSession" in commands[2], commands
    listing, new_id, start_command, get_command = (as_run(grpcurl, target, c) for c in commands)
    listed = subprocess.run(["bash", "-c", listing], capture_output=True, text=True, check=True)
    assert {"gamelift.streams.v1.StreamSessions", STAGES} <= set(listed.stdout.split()), listed.stdout

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


def grpcurl_out(grpcurl, target, *verb, body=None):
    """What `grpcurl -plaintext [-d BODY] TARGET VERB...` prints; it must succeed."""
    data = [] if body is None else ["-d", json.dumps(body)]
    out = subprocess.run([grpcurl, "-plaintext", *data, target, *verb], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_reflection_lists_and_describes_stages_and_health_serves_it(grpcurl, plain_gateway):
    target, _ = plain_gateway
    assert STAGES in grpcurl_out(grpcurl, target, "list").split()
    methods = grpcurl_out(grpcurl, target, "list", STAGES).split()
    assert {m.rsplit(".", 1)[1] for m in methods} >= {"CreateStage", "CreateParticipantToken", "WatchStageParticipants"}
    described = grpcurl_out(grpcurl, target, "describe", STAGES)
    assert f"{STAGES} is a service:" in described
    assert "rpc CreateStage ( .ivs.realtime.v1.CreateStageRequest ) returns ( .ivs.realtime.v1.CreateStageResponse );" in described
    assert "returns ( stream .ivs.realtime.v1.WatchStageParticipantsResponse )" in described
    for service in (STAGES, "gamelift.streams.v1.StreamSessions", ""):
        health = grpcurl_out(grpcurl, target, "grpc.health.v1.Health/Check", body={"service": service})
        assert json.loads(health) == {"status": "SERVING"}, (service, health)


def test_a_stages_error_prints_its_details(grpcurl, plain_gateway):
    target, _ = plain_gateway
    unknown = "arn:aws:ivs:us-west-2:111122223333:stage/nOtThErE1234"
    code, error = call(grpcurl, target, "GetStage", {"stage_arn": unknown}, service=STAGES)
    assert (code, error["code"]) == (64 + 5, 5), error
    found = details(error)
    info = found["google.rpc.ErrorInfo"]
    assert (info["domain"], info["reason"]) == ("ivsrealtime.amazonaws.com", "NOT_FOUND"), info
    assert info["metadata"]["operation"] == "GetStage" and info["metadata"]["awsRequestId"], info
    resource = found["google.rpc.ResourceInfo"]
    assert (resource["resourceType"], resource["resourceName"]) == ("Stage", unknown), resource

    code, error = call(grpcurl, target, "GetStage", {}, service=STAGES)
    found = details(error)
    assert (error["code"], found["google.rpc.ErrorInfo"]["reason"]) == (3, "INVALID_FIELD"), error
    assert found["google.rpc.ErrorInfo"]["domain"] == "ivsrealtime.amazonaws.com"
    assert [v["field"] for v in found["google.rpc.BadRequest"]["fieldViolations"]] == ["stage_arn"]


def test_the_readme_stages_commands_create_a_stage_and_a_token_for_it(grpcurl, plain_gateway):
    target, _ = plain_gateway
    commands = readme_commands(first=f"describe {STAGES}")
    assert len(commands) == 3 and "CreateStage" in commands[1] and "CreateParticipantToken" in commands[2], commands
    describe, create, token = (as_run(grpcurl, target, c) for c in commands)
    described = subprocess.run(["bash", "-c", describe], capture_output=True, text=True, check=True)
    assert "rpc CreateParticipantToken" in described.stdout

    stages = []
    for _ in range(2):
        created = subprocess.run(["bash", "-c", create], capture_output=True, text=True, check=True)
        stages.append(json.loads(created.stdout)["stage"])
    assert stages[0]["arn"] != stages[1]["arn"], "each run's new request_id creates a new stage"
    assert stages[1]["name"] == "match-42" and stages[1]["arn"].startswith("arn:aws:ivs:us-west-2:")

    issued = subprocess.run(
        ["bash", "-c", token.replace("STAGE-ARN-FROM-ABOVE", stages[1]["arn"])], capture_output=True, text=True, check=True
    )
    participant = json.loads(issued.stdout)["participantToken"]
    assert participant["userId"] == "player-1" and participant["token"] and participant["participantId"]
    got = subprocess.run(
        [grpcurl, "-plaintext", "-d", json.dumps({"stage_arn": stages[1]["arn"]}), target, f"{STAGES}/GetStage"],
        capture_output=True, text=True, check=True,
    )
    assert json.loads(got.stdout)["stage"]["arn"] == stages[1]["arn"]
