"""Shared fixtures: the gateway binary started as a real process (the emulator
alone, or the gateway with its embedded emulator), clients for both, and the
emulator's admin API. Nothing here is mocked."""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import urllib.request

import boto3
import pytest
from botocore.config import Config

REPO = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("GATEWAY_BIN", str(REPO / "target" / "debug" / "gamelift-streams-gateway"))
GROUP = "sg-000000001"
APP = "a-000000001"


class Process:
    """A child process of the gateway binary, and the lines it announced."""

    def __init__(self, args, lines):
        self.proc = subprocess.Popen(
            [BINARY, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        self.lines = [self.proc.stdout.readline().rstrip("\n") for _ in range(lines)]

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class Admin:
    """The emulator's admin API under /_emulator."""

    def __init__(self, url):
        self.url = url

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_emulator/{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def advance(self, seconds):
        return self.call("POST", "clock/advance", {"seconds": seconds})

    def calls(self):
        return self.call("GET", "calls")[1]


def boto3_client(url):
    return boto3.client(
        "gameliftstreams",
        endpoint_url=url,
        region_name="us-west-2",
        aws_access_key_id="AKIDEMULATOR",
        aws_secret_access_key="emulator-secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def start_emulator(*extra):
    p = Process(["emulator", "--listen", "127.0.0.1:0", "--seed", "7", *extra], 1)
    match = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:\d+)", p.lines[0])
    assert match, f"unexpected first line {p.lines[0]!r}"
    return p, match.group(1)


@pytest.fixture
def emulator():
    """A fresh emulator process: (boto3 client, admin API)."""
    proc, url = start_emulator()
    yield boto3_client(url), Admin(url)
    assert proc.stop() == 0


@pytest.fixture
def emulator_with():
    """A factory for emulators started with extra flags."""
    procs = []

    def start(*flags):
        proc, url = start_emulator(*flags)
        procs.append(proc)
        return boto3_client(url), Admin(url)

    yield start
    for proc in procs:
        assert proc.stop() == 0


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


@pytest.fixture
def gateway():
    """`serve --emulator` as a process: (gRPC target, admin API of its emulator)."""
    p = Process(["serve", "--emulator", "--listen", "127.0.0.1:0"], 2)
    first = re.fullmatch(r"gateway listening on (127\.0\.0\.1:\d+)", p.lines[0])
    second = re.fullmatch(r"emulator listening on (http://127\.0\.0\.1:\d+)", p.lines[1])
    assert first and second, f"unexpected announcement {p.lines!r}"
    yield first.group(1), Admin(second.group(1))
    assert p.stop() == 0
