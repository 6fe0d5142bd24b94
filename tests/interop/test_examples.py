"""The client examples of examples/ (Go, C++, Java, TypeScript, Python), each
built and run by its ci.sh against `serve --emulator` with a bearer token, and
what it prints checked line by line against the script in examples/README.md.

The emulator drops the response of the first StartStreamSession (the session
is created, the gateway cannot tell), and the gateway makes one attempt per
call: the example sees UNAVAILABLE with RetryInfo, retries with the same
request_id, and the emulator still holds exactly one session."""

import os
import re
import subprocess
import tempfile

import pytest

from conftest import REPO, Admin, boto3_client, serving_gateway, GROUP

LANGUAGES = ["go", "cpp", "java", "typescript", "python"]
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
    flags = ["--auth-token-file", f.name, "--retry-max-attempts", "1", "--watch-fast-interval-seconds=0.2"]
    try:
        yield from serving_gateway(*flags)
    finally:
        os.unlink(f.name)


def expect_script(lines):
    """Fails unless `lines` follow examples/README.md's script."""
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
    assert rest[-1] == "done", rest
    watched = [line for line in rest[:-1] if not line.startswith("watch: stream ended with")]
    assert watched[-1] == "watch: CHANGE STREAM_SESSION_STATUS_TERMINATED", rest
    assert set(watched[:-1]) <= {"watch: CHANGE STREAM_SESSION_STATUS_TERMINATING"}, rest
    return started.group(1)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_example_runs_its_whole_script(language, token_gateway):
    target, emulator_url = token_gateway
    admin = Admin(emulator_url)
    admin.fault(operation="StartStreamSession", drop_response=1.0, count=1)
    env = dict(os.environ, GLS_GATEWAY_ADDRESS=target, GLS_GATEWAY_TOKEN=TOKEN)
    run = subprocess.run(
        ["bash", str(REPO / "examples" / language / "ci.sh")],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=BUILD_AND_RUN_SECONDS,
    )
    assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr[-6000:]}"
    printed = [line for line in run.stdout.splitlines() if line.strip()]
    arn = expect_script(printed)

    assert admin.calls()["StartStreamSession"] == {"ResponseDropped": 1, "Success": 1}
    sessions = boto3_client(emulator_url).list_stream_sessions(Identifier=GROUP)["Items"]
    assert [s["Arn"] for s in sessions] == [arn], "the retry with the same request_id made no second session"


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
