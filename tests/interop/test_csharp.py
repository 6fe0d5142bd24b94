"""The C# client (examples/csharp): generate.sh generates the C# code of the
gateway's protos with protoc and grpc_csharp_plugin, and the example
(Example.cs, and Stage.cs, its stage part), which our CI cannot compile (no
NuGet here), uses only types and members the generated code declares.

The check of the example is textual but strict: every capitalised identifier
in its code (comments and string text left out) must be declared by the
generated code (either package's), by the example itself, or be one of the
library names listed in LIBRARY; the client methods and enum values it names
must be declared in the generated client classes and enums themselves, each
file's ErrorReason in the package that file imports. A test feeds the check
misspelt copies of the example to show it fails then."""

import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

CSHARP = REPO / "examples" / "csharp"
GENERATED = REPO / "target" / "examples" / "csharp" / "generated"
NAMESPACE = "GameLift.Streams.V1"
STAGES_NAMESPACE = "Ivs.Realtime.V1"
# The example's files: the stream session part, then the stage part.
EXAMPLE_FILES = ("Example.cs", "Stage.cs")
# Building grpc_csharp_plugin the first time downloads gRPC's sources from
# PyPI and compiles it; later runs only run protoc.
GENERATE_SECONDS = 900

# What the example takes from .NET, Grpc.Net.Client, Grpc.Core.Api,
# Grpc.StatusProto, Google.Protobuf and Google.Api.CommonProtos (Google.Rpc)
# rather than from the generated code.
LIBRARY = {
    # .NET
    "Add", "CancellationToken", "Concat", "Console", "Content", "DateTime", "Delay", "Encoding",
    "EscapeDataString", "Enum", "Environment", "Exception", "FromSeconds", "Func", "GetCustomAttribute",
    "GetEnvironmentVariable", "GetField", "Guid", "HttpClient", "IReadOnlyList", "IsNullOrEmpty",
    "IsSuccessStatusCode", "Join", "JsonSerializer", "Length", "List", "Message", "Name", "NewGuid", "None",
    "PostAsync", "ReadAsStringAsync", "Select", "Serialize", "StringContent", "Task", "TimeSpan", "Timeout", "ToList",
    "ToString", "TotalMilliseconds", "UTF8", "Uri", "UtcNow", "WriteLine", "Zero",
    # Grpc.Net.Client, Grpc.Core.Api, Grpc.StatusProto
    "CallOptions", "Current", "DeadlineExceeded", "Detail", "ForAddress", "GetDetail", "GetRpcStatus", "GrpcChannel",
    "IAsyncStreamReader", "InvalidArgument", "Metadata", "MoveNext", "NotFound", "ReadAllAsync", "ResponseStream",
    "RpcException", "StatusCode", "Unavailable",
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


@pytest.fixture(scope="module")
def generated_stages(generated):
    """The generated C# sources of ivs.realtime.v1 (after generate.sh), by file name."""
    return {p.name: p.read_text() for p in (GENERATED / STAGES_NAMESPACE).glob("*.cs")}


def example_sources():
    """The example's C# files, by name."""
    return {name: (CSHARP / name).read_text() for name in EXAMPLE_FILES}


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


def client_methods(grpc_source, client_class="StreamSessionsClient"):
    client = grpc_source[grpc_source.index(f"class {client_class}"):]
    return set(re.findall(r"public virtual [\w.:<>]+ (\w+)\(", client))


def problems(sources, files, stage_files):
    """What the example (its files' sources, by name) uses that neither the
    generated code (`files`: GameLift.Streams.V1's, `stage_files`:
    Ivs.Realtime.V1's), the example nor LIBRARY declares."""
    found = []
    for name, source in sources.items():
        # Each file's ErrorReason is that of the one package it imports.
        imported = set(re.findall(r"^using ([\w.]+);$", source, re.M)) & {NAMESPACE, STAGES_NAMESPACE}
        assert len(imported) == 1, f"{name} imports {sorted(imported)}: one of the two packages, not both"
        reasons = (files if imported == {NAMESPACE} else stage_files)["ErrorReason.cs"]
        code, _ = code_of(source)
        for value in sorted(set(re.findall(r"\bErrorReason\.(\w+)", code)) - enum_values(reasons, "ErrorReason")):
            found.append(f"{name}: ErrorReason.{value}: no such value")
    code = "\n".join(code_of(source)[0] for source in sources.values())
    code = re.sub(r"^using [\w.=\s]+;$", "", code, flags=re.M)
    own = set(re.findall(r"\b(?:class|record|struct|enum|interface)\s+(\w+)", code))
    own |= set(re.findall(
        r"\b(?:public|private|internal|protected)\s+(?:(?:static|readonly|async|sealed|const|override|virtual)\s+)*"
        r"[\w.<>\[\],?]+\s+(\w+)", code))
    for params in re.findall(r"\brecord\s+\w+\s*\(([^)]*)\)", code):
        own |= set(re.findall(r"(\w+)\s*(?:,|$)", params))
    own |= set(re.findall(r"\bwhere\s+(\w+)\s*:", code))
    generated = declared_in_generated([*files.values(), *stage_files.values()])

    for name in sorted(set(re.findall(r"\b[A-Z]\w*\b", code)) - own - LIBRARY - generated):
        found.append(f"{name}: declared nowhere")
    for field, grpc, client in (("_client", files["StreamSessionsGrpc.cs"], "StreamSessionsClient"),
                                ("_stages", stage_files["StagesGrpc.cs"], "StagesClient")):
        for name in sorted(set(re.findall(r"\b" + field + r"\.(\w+)\(", code)) - client_methods(grpc, client)):
            found.append(f"{client}.{name}: no such method")
    for enum, source in (("StreamSessionStatus", files["StreamSessions.cs"]),
                         ("StreamSessionEventKind", files["StreamSessions.cs"]),
                         ("StageParticipantEventKind", stage_files["Stages.cs"]),
                         ("ParticipantEventName", stage_files["Stages.cs"]),
                         ("ParticipantTokenCapability", stage_files["Stages.cs"])):
        for name in sorted(set(re.findall(r"\b" + enum + r"\.(\w+)", code)) - enum_values(source, enum)):
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


def test_the_example_uses_only_what_the_generated_code_declares(generated, generated_stages):
    sources = example_sources()
    for source in sources.values():
        assert "NOT COMPILED BY OUR CI" in source
    assert problems(sources, generated, generated_stages) == []
    code = "\n".join(code_of(source)[0] for source in sources.values())
    assert LIBRARY - set(re.findall(r"\b[A-Z]\w*\b", code)) == set(), "LIBRARY names the example no longer uses"


def test_the_example_runs_the_stage_part_on_the_same_channel():
    """Stage.cs is the script's steps 8 to 13, run at the end of Example.cs
    with its channel, and prints each line examples/README.md gives."""
    sources = example_sources()
    assert "await new StagePart(_channel, Call).RunAsync();" in sources["Example.cs"]
    stage, _ = code_of(sources["Stage.cs"], 0)
    assert "new Stages.StagesClient(channel)" in stage
    for text in ("stage: created ", "stage: token for ", "stage watch: ", "stage client: ", " joins",
                 "stage: GLS_EMULATOR_URL unset; skipping the simulated clients", "stage: disconnected ",
                 "spectating ended", "stage: deleted", "stage: get after delete: ", "GLS_EMULATOR_URL",
                 "/_emulator/ivs/participants"):
        assert text in sources["Stage.cs"], text


def test_the_check_fails_on_a_misspelt_example(generated, generated_stages):
    for file, right, wrong, expected in [
        ("Example.cs", "StartStreamSessionAsync(", "StartStreamSessionsAsync(",
         "StreamSessionsClient.StartStreamSessionsAsync: no such method"),
        ("Example.cs", ".ResumeToken", ".ResumeTokens", "ResumeTokens: declared nowhere"),
        ("Example.cs", "new WatchStreamSessionRequest", "new WatchSessionRequest", "WatchSessionRequest: declared nowhere"),
        ("Example.cs", "StreamSessionStatus.Terminated", "StreamSessionStatus.Ended", "StreamSessionStatus.Ended: no such value"),
        ("Example.cs", "{ProtoNames.Of(session.Status)}", "{ProtoNames.Of(session.SessionStatus)}",
         "SessionStatus: declared nowhere"),
        ("Stage.cs", "_stages.CreateParticipantTokenAsync(", "_stages.CreateTokenAsync(",
         "StagesClient.CreateTokenAsync: no such method"),
        ("Stage.cs", "new WatchStageParticipantsRequest", "new WatchParticipantsRequest",
         "WatchParticipantsRequest: declared nowhere"),
        ("Stage.cs", "ParticipantEventName.PublishStarted", "ParticipantEventName.Published",
         "ParticipantEventName.Published: no such value"),
        ("Stage.cs", "StageParticipantEventKind.Synced", "StageParticipantEventKind.InSync",
         "StageParticipantEventKind.InSync: no such value"),
        # A value only the other package's ErrorReason has.
        ("Stage.cs", "ErrorReason.NotFound", "ErrorReason.SessionNotReady",
         "Stage.cs: ErrorReason.SessionNotReady: no such value"),
    ]:
        sources = example_sources()
        assert right in sources[file], right
        sources[file] = sources[file].replace(right, wrong)
        assert expected in problems(sources, generated, generated_stages), wrong


def test_the_project_pins_its_packages_and_compiles_the_generated_code():
    project = (CSHARP / "Example.csproj").read_text()
    packages = dict(re.findall(r'<PackageReference Include="([\w.]+)" Version="([^"]+)"', project))
    assert set(packages) >= {"Grpc.Net.Client", "Google.Protobuf", "Google.Api.CommonProtos", "Grpc.StatusProto"}, packages
    for name, version in packages.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
    assert "target/examples/csharp/generated/GameLift.Streams.V1/" in project
    assert "target/examples/csharp/generated/Ivs.Realtime.V1/" in project
