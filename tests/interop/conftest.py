"""Shared fixtures: the gateway binary started as a real process (the emulator
alone, or the gateway with its embedded emulator), clients for both, and the
emulator's admin API. Nothing here is mocked.

The emulator fixtures run a clock that real time barely moves (one simulated
millisecond per real second): every state change a test sees is one it caused
with `POST /_emulator/clock/advance`, so no test depends on how fast this
machine is. `emulator_with("--time-scale", "50")` gives a clock that runs on
its own, for the tests that are about real time."""

import json
import os
import pathlib
import queue
import re
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("GATEWAY_BIN", str(REPO / "target" / "debug" / "gamelift-streams-gateway"))
GROUP = "sg-000000001"
APP = "a-000000001"
REGION = "us-west-2"
ACCOUNT = "111122223333"
ARN_PREFIX = f"arn:aws:gameliftstreams:{REGION}:{ACCOUNT}:"
# Simulated seconds per real second of the default fixtures: time moves only
# when a test advances it (the emulator requires a scale > 0).
STILL_CLOCK = "0.001"
STARTUP_SECONDS = 30


class Process:
    """A child process of the gateway binary and the first lines it printed.

    A thread drains stdout, so the child never blocks on a full pipe and a
    child that prints nothing fails the test after STARTUP_SECONDS instead of
    hanging it. stderr (the logs) goes to a file shown when startup fails."""

    def __init__(self, args, lines):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [BINARY, *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )
        self._lines = queue.Queue()
        threading.Thread(target=self._drain, daemon=True).start()
        try:
            self.lines = [self._next_line() for _ in range(lines)]
        except BaseException:
            self.stop()
            raise

    def _drain(self):
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _next_line(self):
        try:
            line = self._lines.get(timeout=STARTUP_SECONDS)
        except queue.Empty:
            line = None
        if line is None:
            raise AssertionError(
                f"{BINARY} {' '.join(self.proc.args[1:])}: no line on stdout within "
                f"{STARTUP_SECONDS}s or it exited first (exit status {self.proc.poll()}); "
                f"stderr:\n{self.logs()}"
            )
        return line

    def logs(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    def stop(self):
        """Ends the child (SIGTERM, then SIGKILL after 10 s); its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode


class Admin:
    """The emulator's admin API under /_emulator, called with urllib."""

    def __init__(self, url):
        self.url = url

    def request(self, method, path, body=None):
        """(HTTP status, headers with lower-case names, decoded JSON body)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, headers, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            status, headers, raw = err.code, err.headers, err.read()
        return status, {k.lower(): v for k, v in headers.items()}, json.loads(raw or b"null")

    def call(self, method, path, body=None):
        """(HTTP status, decoded JSON body)."""
        status, _, value = self.request(method, path, body)
        return status, value

    def advance(self, seconds):
        """Moves the simulated clock forward; the new time (epoch seconds)."""
        status, value = self.call("POST", "clock/advance", {"seconds": seconds})
        assert status == 200, value
        return value["now"]

    def calls(self):
        status, value = self.call("GET", "calls")
        assert status == 200, value
        return value

    def reset_calls(self):
        assert self.call("DELETE", "calls")[0] == 200

    def fault(self, **rule):
        """Adds a fault rule; its id."""
        status, value = self.call("POST", "faults", rule)
        assert status == 201, value
        return value["id"]

    def rate_limits(self, limits):
        status, value = self.call("PUT", "rate-limits", limits)
        assert status == 200, value

    def session(self, session, action):
        """The simulated WebRTC client of a session: action is connect or disconnect."""
        return self.call("POST", f"sessions/{urllib.parse.quote(session, safe='')}/{action}")


def boto3_client(url, validate=True):
    """boto3's gameliftstreams client for the emulator, making exactly one HTTP
    attempt per call (total_max_attempts counts the first attempt;
    max_attempts would count retries only and allow one).

    validate=False turns boto3's own parameter checks off, so that values it
    rejects before sending (below a minimum) reach the emulator."""
    return boto3.client(
        "gameliftstreams",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="AKIDEMULATOR",
        aws_secret_access_key="emulator-secret",
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,
            connect_timeout=10,
            read_timeout=30,
        ),
    )


def start_emulator(*extra):
    """The emulator as a process: (Process, endpoint URL). `extra` may set
    --time-scale, which otherwise is the still clock."""
    scale = [] if "--time-scale" in extra else ["--time-scale", STILL_CLOCK]
    args = ["emulator", "--listen", "127.0.0.1:0", "--seed", "7", *scale, *extra]
    p = Process(args, 1)
    match = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:(\d+))", p.lines[0])
    if not match or match.group(2) == "0":
        p.stop()
        raise AssertionError(f"unexpected first line {p.lines[0]!r}")
    return p, match.group(1)


def _stop_all(procs):
    statuses = [p.stop() for p in procs]
    assert statuses == [0] * len(procs), f"exit statuses on SIGTERM: {statuses}"


@pytest.fixture
def emulator():
    """A fresh emulator process with a still clock: (boto3 client, admin API)."""
    proc, url = start_emulator()
    try:
        yield boto3_client(url), Admin(url)
    finally:
        _stop_all([proc])


@pytest.fixture
def emulator_with():
    """A factory of emulators started with extra flags: (boto3 client, admin API)."""
    procs = []

    def start(*flags):
        proc, url = start_emulator(*flags)
        procs.append(proc)
        return boto3_client(url), Admin(url)

    try:
        yield start
    finally:
        _stop_all(procs)


@pytest.fixture(scope="session")
def stubs():
    """Python stubs generated now from the proto by grpcio-tools."""
    from grpc_tools import protoc
    import grpc_tools

    out = tempfile.mkdtemp(prefix="glsgw-stubs-")
    well_known = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main([
        "grpc_tools.protoc",
        f"-I{REPO / 'proto'}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        str(REPO / "proto" / "gamelift" / "streams" / "v1" / "stream_sessions.proto"),
    ])
    assert rc == 0, "protoc failed"
    sys.path.insert(0, out)
    from gamelift.streams.v1 import stream_sessions_pb2, stream_sessions_pb2_grpc

    return stream_sessions_pb2, stream_sessions_pb2_grpc


def serving_gateway(*flags):
    """`serve --emulator` with `flags`, as a process, stopped (and its exit
    status checked) when the generator closes: yields (gRPC target, emulator
    URL) from the two lines it announces."""
    p = Process(["serve", "--emulator", "--listen", "127.0.0.1:0", *flags], 2)
    try:
        first = re.fullmatch(r"gateway listening on (127\.0\.0\.1:\d+)", p.lines[0])
        second = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:\d+)", p.lines[1])
        assert first and second, f"unexpected announcement {p.lines!r}"
        yield first.group(1), second.group(1)
    finally:
        _stop_all([p])


@pytest.fixture
def gateway():
    """`serve --emulator` as a process: (gRPC target, admin API of its emulator).
    Watches poll every 0.1 s so watch tests follow the admin clock quickly."""
    quick_watches = [
        "--watch-fast-interval-seconds=0.1",
        "--watch-normal-interval-seconds=0.1",
        "--watch-slow-interval-seconds=0.1",
    ]
    for target, url in serving_gateway(*quick_watches):
        yield target, Admin(url)
