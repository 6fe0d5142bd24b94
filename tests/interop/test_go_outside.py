"""A Go backend outside this repository uses the Go client (clients/go) the
two ways docs/clients/go.md gives, with its exact commands: a `replace` to a
checkout, and a vendored copy. Each builds a program in a new directory
outside the repository and runs it against the gateway: it reads the reason
of a NOT_FOUND through the generated ErrorReason enum."""

import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO

MODULE = "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go"

PROGRAM = """package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	streamsv1 "github.com/gamelift-streams-gateway/gamelift-streams-gateway/clients/go/gamelift/streams/v1"
)

func main() {
	conn, err := grpc.NewClient(os.Args[1], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println("connect:", err)
		os.Exit(1)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := streamsv1.NewStreamSessionsClient(conn)
	_, err = client.GetStreamSession(ctx, &streamsv1.GetStreamSessionRequest{
		StreamGroupIdentifier:   "sg-000000001",
		StreamSessionIdentifier: "ss-999999999",
	})
	for _, detail := range status.Convert(err).Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok {
			fmt.Println(streamsv1.ErrorReason(streamsv1.ErrorReason_value[info.Reason]))
		}
	}
}
"""


def go_env():
    """Go with the examples' caches under target/ (modules come from the proxy once)."""
    cache = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "examples", "go")
    env = dict(os.environ)
    env.update(
        GOPATH=os.path.join(cache, "gopath"),
        GOMODCACHE=os.path.join(cache, "gopath", "pkg", "mod"),
        GOCACHE=os.path.join(cache, "gocache"),
        GOTOOLCHAIN=os.environ.get("GOTOOLCHAIN", "auto"),
        GOFLAGS="-modcacherw",
    )
    return env


@pytest.fixture(scope="module")
def go():
    if shutil.which("go") is None:
        subprocess.run(["bash", os.path.join(REPO, "tests", "debian.sh"), "golang-go"], check=True)
    return go_env()


def run(args, cwd, env):
    out = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, f"{args}: {out.stdout}{out.stderr}"
    return out.stdout


@pytest.mark.parametrize("way", ["checkout", "vendored"])
def test_a_backend_outside_the_repository_builds_with_the_go_client(go, gateway, way):
    target, _ = gateway
    backend = tempfile.mkdtemp(prefix="backend-")
    try:
        assert not os.path.realpath(backend).startswith(os.path.realpath(REPO) + os.sep)
        with open(os.path.join(backend, "main.go"), "w") as f:
            f.write(PROGRAM)
        run(["go", "mod", "init", "example.com/backend"], backend, go)
        if way == "checkout":
            client = os.path.join(REPO, "clients", "go")
        else:
            shutil.copytree(os.path.join(REPO, "clients", "go"), os.path.join(backend, "third_party", "gamelift-streams-client"))
            client = "./third_party/gamelift-streams-client"
        run(["go", "mod", "edit", f"-require={MODULE}@v0.0.0", f"-replace={MODULE}={client}"], backend, go)
        run(["go", "mod", "tidy"], backend, go)
        run(["go", "build", "-o", "backend", "."], backend, go)
        assert run([os.path.join(backend, "backend"), target], backend, go).split() == ["NOT_FOUND"]
    finally:
        shutil.rmtree(backend, ignore_errors=True)
