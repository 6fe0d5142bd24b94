"""The client examples of examples/ (Go, C++, Java, TypeScript, Python), each
built and run by its ci.sh against `serve --emulator` with a bearer token, and
what it prints checked line by line against the script in examples/README.md:
the stream-session part, then the stage part (IVS Real-Time), whose simulated
clients the example drives through the emulator's admin API
(GLS_EMULATOR_URL).

The emulator drops the response of the first StartStreamSession (the session
is created, the gateway cannot tell), and the gateway makes one attempt per
call: the example sees UNAVAILABLE with RetryInfo, retries with the same
request_id, and the emulator still holds exactly one session. The stage the
example creates is deleted at its end."""

import json
import os
import re
import subprocess
import tempfile
import urllib.request

import pytest

from conftest import REPO, Admin, boto3_client, serving_gateway, GROUP

LANGUAGES = ["go", "cpp", "java", "typescript", "python"]
# The languages whose example has the stage part: all of them.
WITH_STAGES = {"go", "cpp", "java", "typescript", "python"}
# The first build of a language downloads its packages (grpc-java, grpc-go,
# @grpc/grpc-js) and compiles the generated code; a cached one is quick.
BUILD_AND_RUN_SECONDS = 900
TOKEN = "example-token-7f3a"


@pytest.fixture
def token_gateway():
    """`serve --emulator` requiring TOKEN, making one attempt per upstream
    call: (gRPC target, emulator URL)."""
    with tempfile.NamedTemporaryFile("w", suffix=".token", delete=False) as f:
        f.write(TOKEN)
    flags = [
        "--auth-token-file", f.name, "--retry-max-attempts", "1", "--watch-fast-interval-seconds=0.2",
        "--stage-watch-interval-seconds=0.2", "--stage-watch-idle-interval-seconds=0.2",
    ]
    try:
        yield from serving_gateway(*flags)
    finally:
        os.unlink(f.name)


# The stage part with simulated clients (GLS_EMULATOR_URL set), after
# `stage watch: SYNCED`: every line exactly.
STAGE_CLIENTS = [
    "stage client: player joins",
    "stage watch: CHANGE PARTICIPANT_EVENT_NAME_JOINED player",
    "stage client: player publishes",
    "stage watch: CHANGE PARTICIPANT_EVENT_NAME_PUBLISH_STARTED player",
    "stage client: spectator joins",
    "stage watch: CHANGE PARTICIPANT_EVENT_NAME_JOINED spectator",
    "stage: disconnected spectator",
    "stage watch: CHANGE PARTICIPANT_EVENT_NAME_LEFT spectator",
    "stage client: player leaves",
    "stage watch: CHANGE PARTICIPANT_EVENT_NAME_PUBLISH_STOPPED player",
    "stage watch: CHANGE PARTICIPANT_EVENT_NAME_LEFT player",
]
# ... and without it (a real deployment).
STAGE_NO_CLIENTS = ["stage: GLS_EMULATOR_URL unset; skipping the simulated clients"]


def expect_script(lines, stage_clients=STAGE_CLIENTS, with_stages=True):
    """Fails unless `lines` follow examples/README.md's script (without its
    stage part unless `with_stages`); answers the session's ARN and the
    stage's (None without the stage part)."""
    it = iter(lines)

    def take(pattern):
        line = next(it, None)
        assert line is not None and re.fullmatch(pattern, line), f"expected /{pattern}/, got {line!r} in:\n" + "\n".join(lines)
        return re.fullmatch(pattern, line)

    take(r"rejected: code=INVALID_ARGUMENT reason=INVALID_FIELD field=stream_group_identifier")
    take(r"start: attempt 1 failed: code=UNAVAILABLE reason=UPSTREAM_UNREACHABLE retry_delay_ms=[1-9]\d*")
    started = take(r"started: (arn:aws:gameliftstreams:\S+/\S+) status=STREAM_SESSION_STATUS_ACTIVE attempts=2")
    take(r"signal response: [1-9]\d* bytes handed to the client")
    take(r"reconnected: status=STREAM_SESSION_STATUS_ACTIVE signal response [1-9]\d* bytes")
    take(r"watch: SNAPSHOT STREAM_SESSION_STATUS_ACTIVE")
    take(r"watch: stream ended with DEADLINE_EXCEEDED; resuming from the last token")
    take(r"terminated: status=STREAM_SESSION_STATUS_TERMINATING")
    rest = list(it)
    assert rest and rest[-1] == "done", rest
    session_part = [line for line in rest if line.startswith("watch: ")]
    stage_part = rest[len(session_part):-1]
    assert rest[:len(session_part)] == session_part, rest
    watched = [line for line in session_part if not line.startswith("watch: stream ended with")]
    assert watched and watched[-1] == "watch: CHANGE STREAM_SESSION_STATUS_TERMINATED", rest
    assert set(watched[:-1]) <= {"watch: CHANGE STREAM_SESSION_STATUS_TERMINATING"}, rest

    if not with_stages:
        assert stage_part == [], rest
        return started.group(1), None
    it = iter(stage_part)
    stage = take(r"stage: created (arn:aws:ivs:[a-z0-9-]+:\d{12}:stage/[A-Za-z0-9]+)").group(1)
    take(r"stage: token for player capabilities=PUBLISH,SUBSCRIBE")
    take(r"stage: token for spectator capabilities=SUBSCRIBE")
    take(r"stage watch: SYNCED")
    for line in stage_clients:
        take(re.escape(line))
    take(r"stage: deleted")
    take(r"stage: get after delete: code=NOT_FOUND reason=NOT_FOUND")
    assert next(it, None) is None, stage_part
    return started.group(1), stage


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_example_runs_its_whole_script(language, token_gateway):
    target, emulator_url = token_gateway
    admin = Admin(emulator_url)
    admin.fault(operation="StartStreamSession", drop_response=1.0, count=1)
    printed = run_example(language, target, emulator_url)
    arn, stage = expect_script(printed, with_stages=language in WITH_STAGES)

    calls = admin.calls()
    assert calls["StartStreamSession"] == {"ResponseDropped": 1, "Success": 1}
    sessions = boto3_client(emulator_url).list_stream_sessions(Identifier=GROUP)["Items"]
    assert [s["Arn"] for s in sessions] == [arn], "the retry with the same request_id made no second session"
    if language not in WITH_STAGES:
        return
    assert calls["CreateStage"] == {"Success": 1}
    assert calls["CreateParticipantToken"] == {"Success": 2}
    assert calls["DisconnectParticipant"] == {"Success": 1}
    assert calls["DeleteStage"] == {"Success": 1}
    assert stage not in [s["arn"] for s in ivs_stages(emulator_url)], "the example deleted its stage"


def test_the_example_without_the_emulator_skips_the_simulated_clients(token_gateway):
    """Against a real deployment (GLS_EMULATOR_URL unset) there is no one to
    play the stage's clients: the example says so, and still watches (SYNCED)
    and deletes its stage. Go stands for every language (one branch each)."""
    target, emulator_url = token_gateway
    Admin(emulator_url).fault(operation="StartStreamSession", drop_response=1.0, count=1)
    printed = run_example("go", target, None)
    expect_script(printed, stage_clients=STAGE_NO_CLIENTS)
    assert ivs_stages(emulator_url) == []


def run_example(language, target, emulator_url):
    """Builds and runs examples/LANGUAGE against the gateway at `target`,
    with the simulated clients of the emulator at `emulator_url` (None: no
    GLS_EMULATOR_URL); answers the non-blank lines it printed."""
    env = dict(os.environ, GLS_GATEWAY_ADDRESS=target, GLS_GATEWAY_TOKEN=TOKEN)
    env.pop("GLS_EMULATOR_URL", None)
    if emulator_url:
        env["GLS_EMULATOR_URL"] = emulator_url
    run = subprocess.run(
        ["bash", str(REPO / "examples" / language / "ci.sh")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=BUILD_AND_RUN_SECONDS,
    )
    assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr[-6000:]}"
    return [line for line in run.stdout.splitlines() if line.strip()]


def ivs_stages(emulator_url):
    """The emulator's stages, as ListStages answers them (one page: the
    examples make one each)."""
    request = urllib.request.Request(emulator_url + "/ListStages", data=b"{}", method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["stages"]


def test_an_example_without_the_token_is_refused(token_gateway):
    """The examples' token is what lets them in: the same script without it
    stops at its first call with UNAUTHENTICATED."""
    target, _ = token_gateway
    env = {k: v for k, v in os.environ.items() if k != "GLS_GATEWAY_TOKEN"}
    env["GLS_GATEWAY_ADDRESS"] = target
    run = subprocess.run(
        ["bash", str(REPO / "examples" / "python" / "ci.sh")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=BUILD_AND_RUN_SECONDS,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("failed: "), run.stdout
    assert "UNAUTHENTICATED" in run.stdout, run.stdout
