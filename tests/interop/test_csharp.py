"""The C# client (examples/csharp): generate.sh generates the C# code of the
gateway's protos with protoc and grpc_csharp_plugin, and Example.cs, which
our CI cannot compile (no NuGet here), uses only types and members the
generated code declares.

The check of Example.cs is textual but strict: every capitalised identifier
in its code (comments and string text left out) must be declared by the
generated code, by Example.cs itself, or be one of the library names listed
in LIBRARY; the client methods and enum values it names must be declared in
the generated client class and enums themselves. A test feeds the check a
misspelt copy of Example.cs to show it fails then."""

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

CSHARP = REPO / "examples" / "csharp"
GENERATED = REPO / "target" / "examples" / "csharp" / "generated"
NAMESPACE = "GameLift.Streams.V1"
# Building grpc_csharp_plugin the first time downloads gRPC's sources from
# PyPI and compiles it; later runs only run protoc.
GENERATE_SECONDS = 900

# What Example.cs takes from .NET, Grpc.Net.Client, Grpc.Core.Api,
# Grpc.StatusProto, Google.Protobuf and Google.Api.CommonProtos (Google.Rpc)
# rather than from the generated code.
LIBRARY = {
    # .NET
    "Add", "Concat", "Console", "DateTime", "Delay", "Enum", "Environment", "Exception", "FromSeconds",
    "GetCustomAttribute", "GetEnvironmentVariable", "GetField", "Guid", "IReadOnlyList", "IsNullOrEmpty", "Length", "List",
    "Message", "Name", "NewGuid", "Select", "Task", "TimeSpan", "ToList", "ToString", "TotalMilliseconds",
    "UtcNow", "WriteLine", "Zero",
    # Grpc.Net.Client, Grpc.Core.Api, Grpc.StatusProto
    "CallOptions", "DeadlineExceeded", "Detail", "ForAddress", "GetDetail", "GetRpcStatus", "GrpcChannel",
    "InvalidArgument", "Metadata", "ReadAllAsync", "ResponseStream", "RpcException", "StatusCode", "Unavailable",
    # Google.Protobuf, Google.Api.CommonProtos
    "BadRequest", "Code", "EnumDescriptor", "ErrorInfo", "Field", "FieldViolations", "FindTypeByName",
    "FindValueByName", "Google", "Number", "OriginalNameAttribute", "Reason", "RetryDelay", "RetryInfo", "Rpc",
    "Status", "ToTimeSpan",
}


@pytest.fixture(scope="module")
def generated():
    """Runs generate.sh; the generated C# sources of the gateway's protos, by file name."""
    env = dict(os.environ, PYTHON=sys.executable)
    run = subprocess.run(["bash", str(CSHARP / "generate.sh")], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=GENERATE_SECONDS)
    assert run.returncode == 0, f"generate.sh exited {run.returncode}:\n{run.stderr[-6000:]}"
    files = {p.name: p.read_text() for p in (GENERATED / NAMESPACE).glob("*.cs")}
    assert set(files) == {"StreamSessions.cs", "StreamSessionsGrpc.cs", "ErrorReason.cs"}, sorted(files)
    return files


def code_of(src, i=0, in_hole=False):
    """C# source without comments and string text, keeping the code of
    interpolation holes ($"...{code}..."); (code, index after)."""
    out, depth = [], 0
    while i < len(src):
        c = src[i]
        if src.startswith("//", i):
            i = src.find("\n", i) if "\n" in src[i:] else len(src)
        elif src.startswith("/*", i):
            i = src.index("*/", i) + 2
        elif src.startswith('$"', i):
            i += 2
            while src[i] != '"':
                if src[i] == "\\" or src.startswith("{{", i) or src.startswith("}}", i):
                    i += 2
                elif src[i] == "{":
                    hole, i = code_of(src, i + 1, in_hole=True)
                    out.append(f" ({hole}) ")
                else:
                    i += 1
            i += 1
            out.append(' "" ')
        elif src.startswith('@"', i):
            i = re.compile(r'@"(?:""|[^"])*"').match(src, i).end()
            out.append(' "" ')
        elif c == '"':
            i = re.compile(r'"(?:\\.|[^"\\])*"').match(src, i).end()
            out.append(' "" ')
        elif c == "'":
            i = re.compile(r"'(?:\\.|[^'\\])*'").match(src, i).end()
            out.append(" '' ")
        else:
            if in_hole and c == "{":
                depth += 1
            elif in_hole and c == "}":
                if depth == 0:
                    return "".join(out), i + 1
                depth -= 1
            out.append(c)
            i += 1
    return "".join(out), i


def declared_in_generated(sources):
    """Type, member and enum value names the generated C# declares."""
    names = set()
    for src in sources:
        code, _ = code_of(src)
        names |= set(re.findall(r"\b(?:class|enum|struct|interface)\s+(\w+)", code))
        names |= set(re.findall(
            r"\bpublic\s+(?:(?:static|virtual|override|partial|readonly|const|sealed|abstract)\s+)*"
            r"[\w.:<>\[\],?]+\s+(\w+)\s*[({=;]", code))
        names |= set(re.findall(r'OriginalName\("[^"]+"\)\]\s*(\w+)\s*=', src))
    return names


def enum_values(source, enum):
    body = re.search(r"\benum\s+" + enum + r"\s*\{(.*?)\}", source, re.S)
    assert body, f"no enum {enum}"
    return set(re.findall(r'OriginalName\("[^"]+"\)\]\s*(\w+)\s*=', body.group(1)))


def client_methods(grpc_source):
    client = grpc_source[grpc_source.index("class StreamSessionsClient"):]
    return set(re.findall(r"public virtual [\w.:<>]+ (\w+)\(", client))


def problems(example, files):
    """What Example.cs uses that neither the generated code, Example.cs nor
    LIBRARY declares."""
    code, _ = code_of(example)
    code = re.sub(r"^using [\w.=\s]+;$", "", code, flags=re.M)
    own = set(re.findall(r"\b(?:class|record|struct|enum|interface)\s+(\w+)", code))
    own |= set(re.findall(
        r"\b(?:public|private|internal|protected)\s+(?:(?:static|readonly|async|sealed|const|override|virtual)\s+)*"
        r"[\w.<>\[\],?]+\s+(\w+)", code))
    for params in re.findall(r"\brecord\s+\w+\s*\(([^)]*)\)", code):
        own |= set(re.findall(r"(\w+)\s*(?:,|$)", params))
    own |= set(re.findall(r"\bwhere\s+(\w+)\s*:", code))
    generated = declared_in_generated(files.values())

    found = []
    for name in sorted(set(re.findall(r"\b[A-Z]\w*\b", code)) - own - LIBRARY - generated):
        found.append(f"{name}: declared nowhere")
    methods = client_methods(files["StreamSessionsGrpc.cs"])
    for name in sorted(set(re.findall(r"\b_client\.(\w+)\(", code)) - methods):
        found.append(f"StreamSessionsClient.{name}: no such method")
    for enum, file in (("StreamSessionStatus", "StreamSessions.cs"), ("StreamSessionEventKind", "StreamSessions.cs"),
                       ("ErrorReason", "ErrorReason.cs")):
        for name in sorted(set(re.findall(r"\b" + enum + r"\.(\w+)", code)) - enum_values(files[file], enum)):
            found.append(f"{enum}.{name}: no such value")
    return found


def test_generated_code_has_the_namespace_the_client_and_error_reason(generated):
    for name, src in generated.items():
        assert f"namespace {NAMESPACE} {{" in src, f"{name} is not in namespace {NAMESPACE}"
    grpc = generated["StreamSessionsGrpc.cs"]
    assert re.search(r"public static partial class StreamSessions\b", grpc)
    assert "public partial class StreamSessionsClient : grpc::ClientBase<StreamSessionsClient>" in grpc
    for rpc in ("StartStreamSession", "CreateStreamSessionConnection", "TerminateStreamSession"):
        assert f"{rpc}Async" in client_methods(grpc), rpc
    assert "WatchStreamSession" in client_methods(grpc)
    # Every ErrorReason of the proto, under its proto name.
    proto = (REPO / "proto" / "gamelift" / "streams" / "v1" / "error_reason.proto").read_text()
    reasons = re.findall(r"^\s*([A-Z_]+) = \d+;", proto, re.M)
    assert "public enum ErrorReason {" in generated["ErrorReason.cs"]
    for reason in reasons:
        assert f'[pbr::OriginalName("{reason}")]' in generated["ErrorReason.cs"], reason
    # The vendored google.rpc types, for projects that do not take them from NuGet.
    rpc_code = "".join(p.read_text() for p in (GENERATED / "Google.Rpc").glob("*.cs"))
    assert "namespace Google.Rpc {" in rpc_code
    for message in ("Status", "ErrorInfo", "RetryInfo", "BadRequest"):
        assert f"public sealed partial class {message} " in rpc_code, message


def test_the_stages_code_is_generated_in_its_own_namespace(generated):
    """ivs.realtime.v1 has an error_reason.proto too: generate.sh writes each
    package to its own directory, so neither ErrorReason.cs overwrites the
    other, and the Stages client has every RPC of stages.proto."""
    files = {p.name: p.read_text() for p in (GENERATED / "Ivs.Realtime.V1").glob("*.cs")}
    assert set(files) == {"Stages.cs", "StagesGrpc.cs", "ErrorReason.cs"}, sorted(files)
    for name, src in files.items():
        assert "namespace Ivs.Realtime.V1 {" in src, f"{name} is not in namespace Ivs.Realtime.V1"
    grpc = files["StagesGrpc.cs"]
    assert "public partial class StagesClient : grpc::ClientBase<StagesClient>" in grpc
    client = grpc[grpc.index("class StagesClient"):]
    methods = set(re.findall(r"public virtual [\w.:<>]+ (\w+)\(", client))
    proto = (REPO / "proto" / "ivs" / "realtime" / "v1" / "stages.proto").read_text()
    rpcs = re.findall(r"^\s*rpc (\w+)\(", proto, re.M)
    assert len(rpcs) == 17, rpcs
    for rpc in rpcs:
        assert rpc in methods, rpc
    reasons = re.findall(r"^\s*([A-Z_]+) = \d+;", (REPO / "proto" / "ivs" / "realtime" / "v1" / "error_reason.proto").read_text(), re.M)
    for reason in reasons:
        assert f'[pbr::OriginalName("{reason}")]' in files["ErrorReason.cs"], reason


def test_the_example_uses_only_what_the_generated_code_declares(generated):
    example = (CSHARP / "Example.cs").read_text()
    assert "NOT COMPILED BY OUR CI" in example
    assert problems(example, generated) == []
    code, _ = code_of(example)
    assert LIBRARY - set(re.findall(r"\b[A-Z]\w*\b", code)) == set(), "LIBRARY names Example.cs no longer uses"


def test_the_check_fails_on_a_misspelt_example(generated):
    example = (CSHARP / "Example.cs").read_text()
    for right, wrong, expected in [
        ("StartStreamSessionAsync(", "StartStreamSessionsAsync(", "StreamSessionsClient.StartStreamSessionsAsync: no such method"),
        (".ResumeToken", ".ResumeTokens", "ResumeTokens: declared nowhere"),
        ("new WatchStreamSessionRequest", "new WatchSessionRequest", "WatchSessionRequest: declared nowhere"),
        ("StreamSessionStatus.Terminated", "StreamSessionStatus.Ended", "StreamSessionStatus.Ended: no such value"),
        ("{ProtoNames.Of(session.Status)}", "{ProtoNames.Of(session.State)}", "State: declared nowhere"),
    ]:
        assert right in example, right
        assert expected in problems(example.replace(right, wrong), generated), wrong


def test_the_project_pins_its_packages_and_compiles_the_generated_code():
    project = (CSHARP / "Example.csproj").read_text()
    packages = dict(re.findall(r'<PackageReference Include="([\w.]+)" Version="([^"]+)"', project))
    assert set(packages) >= {"Grpc.Net.Client", "Google.Protobuf", "Google.Api.CommonProtos", "Grpc.StatusProto"}, packages
    for name, version in packages.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
    assert "target/examples/csharp/generated/GameLift.Streams.V1/" in project
