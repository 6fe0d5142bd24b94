"""The Helm chart, linted and rendered by Helm's own library (helm-python-sdk),
every manifest validated against the Kubernetes schemas (kubernetes-validate),
and the rendered gateway environment accepted by the real binary."""

import copy
import json
import os
import pathlib
import re
import subprocess
import tempfile

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

CHART = pathlib.Path(__file__).resolve().parents[2] / "helm" / "gamelift-streams-gateway"
KUBERNETES = "1.30.0"  # native sidecars are on by default from 1.29
GATEWAY = "gamelift-streams-gateway"
ROLE = "arn:aws:iam::111122223333:role/game-backend-gamelift-streams"

BASE = {"aws": {"region": "us-west-2"}}
ELASTICACHE = "rediss://master.game-fleet.abc123.usw2.cache.amazonaws.com:6379"
SCENARIOS = {
    "native": BASE,
    "classic": {**BASE, "sidecarMode": "classic"},
    "token": {**BASE, "auth": {"enabled": True, "existingSecret": "gateway-token"}},
    "classic-token": {**BASE, "sidecarMode": "classic", "auth": {"enabled": True, "existingSecret": "gateway-token"}},
    "irsa": {**BASE, "serviceAccount": {"roleArn": ROLE}},
    "emulator": {"emulator": {"enabled": True, "timeScale": 10}},
    "fleet-elasticache": {**BASE, "fleet": {"enabled": True, "redisUrl": ELASTICACHE, "passwordSecret": {"name": "redis-auth"}}},
    "fleet-in-cluster": {**BASE, "fleet": {"enabled": True, "redisUrl": "redis://redis.games:6379"}},
    "fleet-token": {
        **BASE,
        "auth": {"enabled": True, "existingSecret": "gateway-token"},
        "fleet": {"enabled": True, "redisUrl": ELASTICACHE, "passwordSecret": {"name": "redis-auth"}},
    },
}

# Every setting of the gateway, away from its default.
FULL = {
    "aws": {"region": "eu-central-1"},
    "gateway": {
        "awsAttemptTimeoutSeconds": 7.5,
        "retry": {"maxAttempts": 4, "baseDelayMs": 50, "maxDelayMs": 2000, "budgetTokens": 300},
        "rateLimits": {"GetStreamSession": 10, "StartStreamSession": 15},
        "idempotency": {"namespace": "studio-a", "retentionSeconds": 1800, "maxEntries": 250000},
        "watch": {
            "fastIntervalSeconds": 0.5,
            "normalIntervalSeconds": 3,
            "slowIntervalSeconds": 20,
            "heartbeatSeconds": 30,
            "pollShare": 0.25,
        },
        "stageWatch": {"intervalSeconds": 0.5, "idleIntervalSeconds": 3},
        "limits": {
            "maxRequestBytes": 131072,
            "maxConnections": 64,
            "handshakeTimeoutSeconds": 5,
            "keepaliveIntervalSeconds": 60,
            "keepaliveTimeoutSeconds": 20,
        },
        "logWireUnsafe": True,
        "logFormat": "text",
        "logLevel": "debug",
    },
    "auth": {"enabled": True, "existingSecret": "gateway-token"},
    "fleet": {
        "enabled": True,
        "redisUrl": ELASTICACHE,
        "passwordSecret": {"name": "redis-auth", "key": "auth-token"},
        "keyPrefix": "studio-a",
        "timeoutMs": 100,
        "heartbeatSeconds": 2,
        "getMaxAgeMs": 1500,
        "cluster": True,
        "expectedMembers": 6,
    },
    "otel": {
        "endpoint": "http://otel-collector.observability:4317",
        "serviceName": "game-backend-gateway",
        "tracesSampler": "parentbased_traceidratio",
        "resourceAttributes": "deployment.environment=prod",
    },
}


def merged(base, extra):
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def render(values):
    with helm.Chart.load(str(CHART)) as chart:
        return chart.render(values, name="demo", namespace="games")


def manifests(values):
    docs = []
    for path, text in render(values).items():
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def deployment(values):
    (found,) = [d for d in manifests(values) if d["kind"] == "Deployment"]
    return found["spec"]["template"]["spec"]


def gateway_container(pod):
    found = [c for c in pod.get("initContainers", []) + pod["containers"] if c["name"] == GATEWAY]
    assert len(found) == 1, pod
    return found[0]


def env_of(container):
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lint_is_clean(scenario):
    report = helm.lint(str(CHART), SCENARIOS[scenario], strict=True, kube_version="v" + KUBERNETES)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_manifest_validates_against_the_kubernetes_schemas(scenario):
    docs = manifests(SCENARIOS[scenario])
    assert {d["kind"] for d in docs} == {"Deployment", "ServiceAccount"}
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_defaults_render_and_validate():
    for doc in manifests({}):
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_classic_mode_suits_clusters_without_native_sidecars_and_native_mode_refuses_them():
    for doc in manifests(SCENARIOS["classic"]):
        kubernetes_validate.validate(doc, "1.27.0", strict=True)
    native = [d for d in manifests(SCENARIOS["native"]) if d["kind"] == "Deployment"][0]
    with pytest.raises(kubernetes_validate.ValidationError, match="restartPolicy"):
        kubernetes_validate.validate(native, "1.27.0", strict=True)
    assert helm.lint(str(CHART), SCENARIOS["classic"], kube_version="v1.27.0", strict=True)["errors"] == []


def test_native_mode_runs_the_gateway_as_an_init_container_that_always_restarts():
    pod = deployment(SCENARIOS["native"])
    (sidecar,) = pod["initContainers"]
    assert sidecar["name"] == GATEWAY
    assert sidecar["restartPolicy"] == "Always"
    assert [c["name"] for c in pod["containers"]] == ["game-backend"]
    assert env_of(sidecar)["GLS_GATEWAY_SHUTDOWN_DELAY_SECONDS"] == "0"


def test_classic_mode_runs_the_gateway_beside_the_app_with_a_shutdown_delay():
    pod = deployment(SCENARIOS["classic"])
    assert "initContainers" not in pod
    assert [c["name"] for c in pod["containers"]] == ["game-backend", GATEWAY]
    sidecar = gateway_container(pod)
    assert "restartPolicy" not in sidecar
    assert env_of(sidecar)["GLS_GATEWAY_SHUTDOWN_DELAY_SECONDS"] == "5"


@pytest.mark.parametrize("scenario", ["native", "classic"])
def test_probes_are_grpc_health_on_the_health_port(scenario):
    sidecar = gateway_container(deployment(SCENARIOS[scenario]))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert sidecar[probe]["grpc"] == {"port": 50052}, probe
        assert set(sidecar[probe]) - {"grpc", "periodSeconds", "failureThreshold"} == set()
    env = env_of(sidecar)
    assert env["GLS_GATEWAY_LISTEN"] == "127.0.0.1:50051", "the API stays on loopback"
    assert env["GLS_GATEWAY_HEALTH_LISTEN"] == "0.0.0.0:50052"
    assert {p["name"]: p["containerPort"] for p in sidecar["ports"]} == {"gls-health": 50052, "gls-metrics": 9464}


def test_the_gateway_runs_locked_down_with_resources():
    sidecar = gateway_container(deployment(SCENARIOS["native"]))
    security = sidecar["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == 65532
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sidecar["resources"]["requests"] == {"cpu": "50m", "memory": "32Mi"}
    assert sidecar["resources"]["limits"] == {"memory": "128Mi"}


def declared_env_vars():
    """The environment variables the gateway's `serve` reads, from its own --help."""
    out = subprocess.run([os.environ["GATEWAY_BIN"], "serve", "--help"], capture_output=True, text=True, check=True)
    names = set()
    for part in out.stdout.split("[env: ")[1:]:
        names.add(part.split("=")[0].split("]")[0])
    assert "GLS_GATEWAY_LISTEN" in names and "AWS_REGION" in names, out.stdout
    return names


def test_every_gateway_setting_maps_to_its_environment_variable():
    aws = env_of(gateway_container(deployment(merged(FULL, {"aws": {"endpointUrl": "https://vpce.example"}}))))
    emulator = {"enabled": True, "timeScale": 5, "activationSeconds": 1.5, "capacity": {"us-west-2": 2, "us-east-2": 1}}
    emulated = env_of(gateway_container(deployment(merged(FULL, {"aws": {"region": ""}, "emulator": emulator}))))
    rendered = set(aws) | set(emulated)
    # The token reaches the gateway as a mounted file, never as an environment variable.
    missing = declared_env_vars() - {"GLS_GATEWAY_AUTH_TOKEN"} - rendered
    assert missing == set(), f"settings the chart cannot set: {sorted(missing)}"
    assert aws["GLS_GATEWAY_RETRY_MAX_ATTEMPTS"] == "4"
    assert aws["GLS_GATEWAY_RATE_LIMITS"] == "GetStreamSession=10,StartStreamSession=15"
    assert aws["GLS_GATEWAY_IDEMPOTENCY_MAX_ENTRIES"] == "250000"
    assert aws["GLS_GATEWAY_WATCH_POLL_SHARE"] == "0.25"
    assert aws["GLS_GATEWAY_STAGE_WATCH_INTERVAL_SECONDS"] == "0.5"
    assert aws["GLS_GATEWAY_STAGE_WATCH_IDLE_INTERVAL_SECONDS"] == "3"
    assert aws["GLS_GATEWAY_MAX_REQUEST_BYTES"] == "131072"
    assert aws["GLS_GATEWAY_LOG_WIRE_UNSAFE"] == "true"
    assert emulated["GLS_GATEWAY_EMULATOR_CAPACITY"] == "us-east-2=1,us-west-2=2"
    assert emulated["GLS_GATEWAY_EMULATOR_ACTIVATION_SECONDS"] == "1.5"
    assert aws["AWS_ENDPOINT_URL"] == "https://vpce.example"
    assert aws["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4317"
    assert emulated["GLS_GATEWAY_EMULATOR"] == "true" and emulated["GLS_GATEWAY_EMULATOR_TIME_SCALE"] == "5"
    assert aws["GLS_GATEWAY_REDIS_URL"] == ELASTICACHE and aws["GLS_GATEWAY_REDIS_KEY_PREFIX"] == "studio-a"
    assert aws["GLS_GATEWAY_FLEET_GET_MAX_AGE_MS"] == "1500"
    assert aws["GLS_GATEWAY_REDIS_CLUSTER"] == "true" and aws["GLS_GATEWAY_FLEET_EXPECTED_MEMBERS"] == "6"
    assert aws["GLS_GATEWAY_REDIS_PASSWORD_FILE"] == "/var/run/secrets/gamelift-streams-gateway-redis/auth-token"
    assert "AWS_REGION" not in emulated


def test_the_gateway_binary_accepts_the_rendered_environment():
    emulator = {"enabled": True, "activationSeconds": 2, "capacity": {"us-west-2": 2}}
    values = merged(FULL, {"aws": {"region": ""}, "emulator": emulator, "otel": {"endpoint": ""}})
    env = env_of(gateway_container(deployment(values)))
    with tempfile.TemporaryDirectory() as tmp:
        token = pathlib.Path(tmp) / "token"
        token.write_text("a-token-from-the-secret-volume\n")
        redis_password = pathlib.Path(tmp) / "auth-token"
        redis_password.write_text("the-elasticache-auth-token\n")
        env.update(
            GLS_GATEWAY_LISTEN="127.0.0.1:0",
            GLS_GATEWAY_HEALTH_LISTEN="127.0.0.1:0",
            GLS_GATEWAY_METRICS_LISTEN="127.0.0.1:0",
            GLS_GATEWAY_AUTH_TOKEN_FILE=str(token),
            # Nothing listens there: the gateway starts in fleet mode, serving locally.
            GLS_GATEWAY_REDIS_URL="redis://127.0.0.1:1",
            GLS_GATEWAY_REDIS_PASSWORD_FILE=str(redis_password),
        )
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("GLS_", "AWS_", "OTEL_"))}
        proc = subprocess.Popen(
            [os.environ["GATEWAY_BIN"], "serve"],
            env={**clean, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            announced = [proc.stdout.readline().strip() for _ in range(4)]
        finally:
            proc.terminate()
            _, stderr = proc.communicate(timeout=30)
    assert announced[0].startswith("gateway listening on 127.0.0.1:"), (announced, stderr)
    assert announced[1].startswith("emulator listening on http://127.0.0.1:"), announced
    assert announced[2].startswith("metrics listening on http://127.0.0.1:"), announced
    assert announced[3].startswith("health listening on 127.0.0.1:"), announced
    assert proc.returncode == 0, stderr


def test_token_mode_mounts_the_secret_for_the_gateway_and_hands_it_to_the_app():
    pod = deployment(SCENARIOS["token"])
    sidecar = gateway_container(pod)
    assert env_of(sidecar)["GLS_GATEWAY_AUTH_TOKEN_FILE"] == "/var/run/secrets/gamelift-streams-gateway/token"
    assert sidecar["volumeMounts"] == [
        {"name": "gamelift-streams-gateway-token", "mountPath": "/var/run/secrets/gamelift-streams-gateway", "readOnly": True}
    ]
    assert pod["volumes"] == [
        {
            "name": "gamelift-streams-gateway-token",
            "secret": {"secretName": "gateway-token", "items": [{"key": "token", "path": "token"}]},
        }
    ]
    app = env_of(pod["containers"][0])
    assert app["GLS_GATEWAY_ADDR"] == "127.0.0.1:50051"
    assert app["GLS_GATEWAY_TOKEN"] == {"secretKeyRef": {"name": "gateway-token", "key": "token"}}
    assert "volumes" not in deployment(SCENARIOS["native"])


def test_fleet_mode_hands_the_redis_url_and_mounts_the_password_for_the_gateway_only():
    pod = deployment(SCENARIOS["fleet-token"])
    sidecar = gateway_container(pod)
    env = env_of(sidecar)
    assert env["GLS_GATEWAY_REDIS_URL"] == ELASTICACHE
    assert env["GLS_GATEWAY_REDIS_PASSWORD_FILE"] == "/var/run/secrets/gamelift-streams-gateway-redis/password"
    assert [m["name"] for m in sidecar["volumeMounts"]] == ["gamelift-streams-gateway-token", "gamelift-streams-gateway-redis"]
    assert pod["volumes"][1] == {
        "name": "gamelift-streams-gateway-redis",
        "secret": {"secretName": "redis-auth", "items": [{"key": "password", "path": "password"}]},
    }
    assert not any("REDIS" in name for name in env_of(pod["containers"][0])), "the app never sees Redis"
    plain = env_of(gateway_container(deployment(SCENARIOS["fleet-in-cluster"])))
    assert plain["GLS_GATEWAY_REDIS_URL"] == "redis://redis.games:6379" and "GLS_GATEWAY_REDIS_PASSWORD_FILE" not in plain
    assert "GLS_GATEWAY_REDIS_CLUSTER" not in plain
    assert plain["GLS_GATEWAY_FLEET_EXPECTED_MEMBERS"] == "1", "the example Deployment's replicas, by default"
    scaled = merged(SCENARIOS["fleet-in-cluster"], {"example": {"replicas": 4}})
    assert env_of(gateway_container(deployment(scaled)))["GLS_GATEWAY_FLEET_EXPECTED_MEMBERS"] == "4"
    assert not any("REDIS" in name for name in env_of(gateway_container(deployment(BASE))))


def test_irsa_annotates_the_created_service_account_and_an_existing_one_is_reused():
    docs = manifests(SCENARIOS["irsa"])
    (account,) = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE}
    (workload,) = [d for d in docs if d["kind"] == "Deployment"]
    assert workload["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]
    reused = manifests({**BASE, "serviceAccount": {"create": False, "name": "game-backend"}})
    assert [d["kind"] for d in reused] == ["Deployment"]
    assert reused[0]["spec"]["template"]["spec"]["serviceAccountName"] == "game-backend"


def test_the_drain_fits_in_the_termination_grace_period():
    assert env_of(gateway_container(deployment(BASE)))["GLS_GATEWAY_DRAIN_SECONDS"] == "25"
    classic = gateway_container(deployment({**BASE, "sidecarMode": "classic", "terminationGracePeriodSeconds": 60}))
    assert env_of(classic)["GLS_GATEWAY_DRAIN_SECONDS"] == "50", "60 s less the 5 s delay and a 5 s margin"
    pod = deployment({**BASE, "terminationGracePeriodSeconds": 45, "gateway": {"drainSeconds": 30}})
    assert pod["terminationGracePeriodSeconds"] == 45
    assert env_of(gateway_container(pod))["GLS_GATEWAY_DRAIN_SECONDS"] == "30"
    with pytest.raises(helm.HelmError, match="must stay below terminationGracePeriodSeconds"):
        render({**BASE, "terminationGracePeriodSeconds": 30, "gateway": {"drainSeconds": 30}})


@pytest.mark.parametrize(
    "bad",
    [
        {"sidecarMode": "sidecar"},
        {"gateway": {"port": 0}},
        {"gateway": {"retry": {"maxAttempts": 11}}},
        {"gateway": {"watch": {"pollShare": 1.5}}},
        {"gateway": {"logFormat": "xml"}},
        {"auth": {"enabled": True}},
        {"serviceAccount": {"roleArn": "not-an-arn"}},
        {"aws": {"region": "Oregon"}},
        {"terminationGracePeriodSeconds": 2},
        {"fleet": {"enabled": True}},
        {"fleet": {"enabled": True, "redisUrl": "http://redis:6379"}},
        {"fleet": {"enabled": True, "redisUrl": "redis://redis:6379", "keyPrefix": "{tag}"}},
        {"fleet": {"enabled": True, "redisUrl": "redis://redis:6379", "timeoutMs": 0}},
        {"unknownSetting": True},
    ],
)
def test_bad_values_fail_at_install_time(bad):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(merged(BASE, bad))
    with pytest.raises(helm.HelmError):
        render(merged(BASE, bad))


def test_notes_say_how_to_call_and_probe_the_gateway():
    notes = render(SCENARIOS["irsa"])["gamelift-streams-gateway/templates/NOTES.txt"]
    assert "127.0.0.1:50051" in notes and "50052" in notes and ROLE in notes
    token_notes = render(SCENARIOS["token"])["gamelift-streams-gateway/templates/NOTES.txt"]
    assert "authorization: Bearer <token>" in token_notes


def rendered(kind, values):
    (found,) = [d for d in manifests(merged(BASE, values)) if d["kind"] == kind]
    return found


def test_the_prometheus_rule_is_off_by_default_and_its_alerts_pass_promtools_tests(tmp_path):
    assert "PrometheusRule" not in {d["kind"] for d in manifests(BASE)}
    rule = rendered("PrometheusRule", {"prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}})
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = [r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert len(alerts) == 5, alerts
    subprocess.run(["bash", str(CHART.parents[1] / "tests" / "debian.sh"), "prometheus"], check=True)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    (tmp_path / "alerts-test.yaml").write_text((pathlib.Path(__file__).parent / "alerts-test.yaml").read_text())
    checked = subprocess.run(["promtool", "check", "rules", "rules.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", "alerts-test.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    tests = yaml.safe_load((tmp_path / "alerts-test.yaml").read_text())["tests"]
    tested_alerts = {t["alertname"] for test in tests for t in test["alert_rule_test"] if t["exp_alerts"]}
    assert tested_alerts == set(alerts), "every alert is shown to fire"


def test_thresholds_are_values():
    values = {"prometheusRule": {"enabled": True, "throttledShare": 0.2, "watchLagSeconds": 300, "fleetDegradedMinutes": 1}}
    rules = {r["alert"]: r for g in rendered("PrometheusRule", values)["spec"]["groups"] for r in g["rules"]}
    assert rules["GameLiftStreamsGatewayThrottled"]["expr"].rstrip().endswith("> 0.2")
    assert rules["GameLiftStreamsGatewayWatchLag"]["expr"].endswith("> 300")
    assert rules["GameLiftStreamsGatewayFleetDegraded"]["for"] == "1m"


def test_the_grafana_dashboard_is_a_configmap_the_grafana_sidecar_loads():
    assert "ConfigMap" not in {d["kind"] for d in manifests(BASE)}
    config_map = rendered("ConfigMap", {"grafanaDashboard": {"enabled": True}})
    kubernetes_validate.validate(config_map, KUBERNETES, strict=True)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(config_map["data"]["gamelift-streams-gateway.json"])
    assert dashboard["uid"] == "gamelift-streams-gateway"
    expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert len(expressions) >= 15 and all('pod=~"$pod"' in e for e in expressions), expressions


# --- The IAM policy (values.iam): what the gateway calls, on what AWS checks, nothing more ---

REPO = CHART.parents[1]
ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-west-2"
STAGE = f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/AbCdEfGhIjKl"
CHANNEL = f"arn:aws:ivs:{REGION}:{ACCOUNT}:channel/AbCdEfGhIjKl"
STORAGE = f"arn:aws:ivs:{REGION}:{ACCOUNT}:storage-configuration/AbCdEfGhIjKl"
ENCODER = f"arn:aws:ivs:{REGION}:{ACCOUNT}:encoder-configuration/AbCdEfGhIjKl"
GROUP = f"arn:aws:gameliftstreams:{REGION}:{ACCOUNT}:streamgroup/sg-000000001"
PASSED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/game-streaming-app"
OIDC = f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.{REGION}.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
COMPOSITIONS = {"enabled": True, "channelArns": [CHANNEL], "storageConfigurationArns": [STORAGE]}
SCOPED = {
    "iam": {
        "accountId": ACCOUNT,
        "streamGroupArns": [GROUP],
        "stages": {"stageArns": [STAGE], "compositions": {**COMPOSITIONS, "encoderConfigurationArns": [ENCODER]}},
    }
}


def gateway_operations():
    """Every AWS operation the gateway calls (PUBLISHED_LIMITS) as an IAM action:
    the prefix is the signing name of the botocore model that defines it."""
    source = (REPO / "src" / "sessions" / "resilience" / "mod.rs").read_text()
    table = re.search(r"PUBLISHED_LIMITS: &\[\(&str, f64\)\] = &\[(.*?)\n\];", source, re.S).group(1)
    operations = re.findall(r'\("(\w+)", [0-9.]+\)', table)
    models = [json.loads((REPO / "src" / name).read_text()) for name in ("service-2.json", "ivs-realtime-2.json")]
    actions = set()
    for op in operations:
        (prefix,) = [m["metadata"]["signingName"] for m in models if op in m["operations"]]
        actions.add(f"{prefix}:{op}")
    assert len(actions) == len(operations) == 23, operations
    return actions


COMPOSITION_ACTIONS = {"ivs:StartComposition", "ivs:StopComposition", "ivs:GetComposition", "ivs:ListCompositions"}


def notes(values):
    return render(merged(BASE, values))["gamelift-streams-gateway/templates/NOTES.txt"]


def policy(values):
    """The policy document NOTES.txt prints, parsed."""
    text = notes(values)
    start = text.index("\n{", text.index("The role needs this IAM policy")) + 1
    document, _ = json.JSONDecoder().raw_decode(text[start:])
    return document


def wildcard(pattern, value, case=True):
    """IAM's matching: * is any run of characters, ? one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.I) is not None


def allowed(document, action, resources, region=REGION, passed_to=None):
    """Whether one statement of the (Allow-only) policy allows `action` on every
    resource AWS checks for the request (IAM authorizes each of them)."""
    context = {"aws:RequestedRegion": region, "iam:PassedToService": passed_to}

    def allows(statement, resource):
        conditions = statement.get("Condition", {})
        assert set(conditions) <= {"StringEquals"}, conditions
        return (
            any(wildcard(a, action, case=False) for a in statement["Action"])
            and any(wildcard(r, resource) for r in statement["Resource"])
            and all(context.get(k) == v for k, v in conditions.get("StringEquals", {}).items())
        )

    return all(any(allows(s, r) for s in document["Statement"]) for r in resources)


def requests(stage=STAGE, group=GROUP, region=REGION, account=ACCOUNT):
    """Each call the gateway makes, with the resources AWS authorizes it against
    (the Service Authorization Reference's resource types for the action)."""
    ivs = f"arn:aws:ivs:{region}:{account}"
    stage = stage.replace(REGION, region).replace(ACCOUNT, account)
    group = group.replace(REGION, region).replace(ACCOUNT, account)
    calls = {f"gameliftstreams:{op}": [group] for op in (
        "StartStreamSession", "GetStreamSession", "ListStreamSessions", "TerminateStreamSession",
        "CreateStreamSessionConnection", "ExportStreamSessionFiles")}
    calls["gameliftstreams:ListStreamSessionsByAccount"] = ["*"]
    for op in ("GetStage", "UpdateStage", "DeleteStage", "CreateParticipantToken", "GetParticipant", "ListParticipants",
               "DisconnectParticipant", "ListParticipantEvents", "GetStageSession", "ListStageSessions"):
        calls[f"ivs:{op}"] = [stage]
    calls["ivs:CreateStage"] = [f"{ivs}:stage/NeWsTaGe1234"]
    calls["ivs:ListStages"] = [f"{ivs}:stage/*"]
    calls["ivs:StartComposition"] = [stage, ENCODER.replace(REGION, region).replace(ACCOUNT, account), CHANNEL.replace(REGION, region).replace(ACCOUNT, account)]
    calls["ivs:StopComposition"] = calls["ivs:GetComposition"] = [f"{ivs}:composition/CoMpOsItIoN1"]
    calls["ivs:ListCompositions"] = ["*"]
    return calls


def test_the_policy_is_valid_iam_and_allows_exactly_what_the_gateway_calls():
    for values in ({}, SCOPED, {"iam": {"stages": {"compositions": COMPOSITIONS}}}):
        document = policy(values)
        assert set(document) == {"Version", "Statement"} and document["Version"] == "2012-10-17"
        sids = [s["Sid"] for s in document["Statement"]]
        assert len(set(sids)) == len(sids) and all(re.fullmatch(r"[A-Za-z0-9]+", s) for s in sids), sids
        for statement in document["Statement"]:
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, statement
            assert statement["Effect"] == "Allow"
            assert statement["Action"] and all(re.fullmatch(r"[a-z]+:[A-Za-z]+", a) for a in statement["Action"])
            assert statement["Resource"] and all(r == "*" or r.startswith("arn:aws:") for r in statement["Resource"])
        granted = {a for s in document["Statement"] for a in s["Action"]}
        expected = gateway_operations() - (set() if values.get("iam", {}).get("stages") else COMPOSITION_ACTIONS)
        assert granted == expected, f"more: {sorted(granted - expected)}, missing: {sorted(expected - granted)}"
        assert len(json.dumps(document, separators=(",", ":"))) <= 6144, "an IAM managed policy's size limit"


def test_every_call_is_allowed_on_the_resources_aws_checks():
    document = policy(SCOPED)
    for action, resources in requests().items():
        assert allowed(document, action, resources), (action, resources)
    # Without an account, stream groups or stages named, any of them will do.
    loose = policy({"iam": {"stages": {"compositions": COMPOSITIONS}}})
    for action, resources in requests(stage="arn:aws:ivs:us-west-2:999988887777:stage/x", group=GROUP.replace(ACCOUNT, "999988887777")).items():
        assert allowed(loose, action, resources), (action, resources)


def test_the_scope_values_deny_everything_else():
    document = policy(SCOPED)
    everywhere = {"ivs:CreateStage", "ivs:ListStages", "ivs:StopComposition", "ivs:GetComposition"}
    elsewhere = f"arn:aws:ivs:{REGION}:{ACCOUNT}:stage/SoMeOnEeLsE1"
    for action, resources in requests(stage=elsewhere).items():
        if action.startswith("ivs:") and action not in everywhere and resources != ["*"]:
            assert not allowed(document, action, resources), ("a stage not named", action)
    assert not allowed(document, "gameliftstreams:StartStreamSession", [GROUP.replace("sg-000000001", "sg-000000002")])
    for action, resources in requests(account=OTHER_ACCOUNT).items():
        if resources != ["*"]:
            assert not allowed(document, action, resources), ("another account", action)
    for action, resources in requests(region="eu-central-1").items():
        assert not allowed(document, action, resources, region="eu-central-1"), ("another Region", action)
    other_channel = CHANNEL.replace("AbCdEfGhIjKl", "NoTaLlOwEd12")
    assert not allowed(document, "ivs:StartComposition", [STAGE, ENCODER, other_channel])
    assert allowed(document, "ivs:StartComposition", [STAGE, ENCODER, STORAGE])
    assert not allowed(document, "ivs:StartComposition", [STAGE, ENCODER.replace("AbCd", "ZzZz"), CHANNEL])
    assert not allowed(document, "ivs:TagResource", [STAGE]) and not allowed(document, "iam:PassRole", [PASSED_ROLE])
    by_default = {a for s in policy({})["Statement"] for a in s["Action"]}
    assert not by_default & COMPOSITION_ACTIONS, "compositions are off by default"
    no_stages = policy({"iam": {"stages": {"enabled": False}}})
    assert all(a.startswith("gameliftstreams:") for s in no_stages["Statement"] for a in s["Action"])


def test_a_passed_role_is_allowed_to_gamelift_streams_only():
    document = policy({"iam": {"accountId": ACCOUNT, "passRoleArns": [PASSED_ROLE]}})
    assert allowed(document, "iam:PassRole", [PASSED_ROLE], passed_to="gameliftstreams.amazonaws.com")
    assert not allowed(document, "iam:PassRole", [PASSED_ROLE], passed_to="ec2.amazonaws.com")
    assert not allowed(document, "iam:PassRole", [PASSED_ROLE.replace("game-streaming-app", "admin")], passed_to="gameliftstreams.amazonaws.com")


def test_the_policy_is_not_printed_for_the_emulator():
    assert "IAM policy" not in render(SCENARIOS["emulator"])["gamelift-streams-gateway/templates/NOTES.txt"]


# The parts of ACK's IAM CRDs (aws-controllers-k8s/iam-controller,
# config/crd/bases/iam.services.k8s.aws_{policies,roles}.yaml) the chart fills.
ACK_SPEC = {
    "Policy": {
        "type": "object",
        "required": ["name", "policyDocument"],
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "policyDocument": {"type": "string"}},
    },
    "Role": {
        "type": "object",
        "required": ["assumeRolePolicyDocument", "name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "assumeRolePolicyDocument": {"type": "string"},
            "policyRefs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "from": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
                        }
                    },
                },
            },
        },
    },
}


def ack(values):
    return {d["kind"]: d for d in manifests(merged(BASE, values)) if d["apiVersion"] == "iam.services.k8s.aws/v1alpha1"}


def test_ack_renders_the_policy_and_the_role_only_when_asked():
    import jsonschema

    assert ack({}) == {} and ack(SCOPED) == {}
    values = merged(SCOPED, {"iam": {"ack": {"enabled": True, "role": {"enabled": True, "oidcProviderArn": OIDC}}}})
    found = ack(values)
    assert set(found) == {"Policy", "Role"}
    for kind, doc in found.items():
        jsonschema.validate(doc["spec"], ACK_SPEC[kind])
        assert doc["metadata"]["name"] == "demo-gamelift-streams-gateway"
    assert json.loads(found["Policy"]["spec"]["policyDocument"]) == policy(values)
    assert found["Role"]["spec"]["policyRefs"] == [{"from": {"name": found["Policy"]["metadata"]["name"]}}]
    trust = json.loads(found["Role"]["spec"]["assumeRolePolicyDocument"])
    (statement,) = trust["Statement"]
    issuer = OIDC.split("oidc-provider/")[1]
    assert statement["Principal"] == {"Federated": OIDC}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{issuer}:sub": "system:serviceaccount:games:demo-gamelift-streams-gateway",
        f"{issuer}:aud": "sts.amazonaws.com",
    }
    (account,) = [d for d in manifests(merged(BASE, values)) if d["kind"] == "ServiceAccount"]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/demo-gamelift-streams-gateway"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role_arn}
    assert role_arn in notes(values)
    pod_identity = ack(merged(values, {"iam": {"ack": {"role": {"trust": "podIdentity", "name": "game-backend"}}}}))
    (statement,) = json.loads(pod_identity["Role"]["spec"]["assumeRolePolicyDocument"])["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert pod_identity["Role"]["spec"]["name"] == "game-backend"
    policy_only = ack(merged(SCOPED, {"iam": {"ack": {"enabled": True, "policyName": "gateway-sessions-and-stages"}}}))
    assert set(policy_only) == {"Policy"} and policy_only["Policy"]["spec"]["name"] == "gateway-sessions-and-stages"
    report = helm.lint(str(CHART), merged(BASE, values), strict=True, kube_version="v" + KUBERNETES)
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"iam": {"stages": {"compositions": {"enabled": True}}}}, "channelArns and/or storageConfigurationArns"),
        ({"iam": {"ack": {"enabled": True}}}, "iam.accountId is needed"),
        ({"iam": {"accountId": ACCOUNT, "ack": {"enabled": True, "role": {"enabled": True}}}}, "oidcProviderArn"),
        ({"iam": {"stages": {"stageArns": ["arn:aws:ivs:us-west-2:111122223333:channel/x"]}}}, None),
        ({"iam": {"streamGroupArns": ["sg-000000001"]}}, None),
        ({"iam": {"accountId": "1111"}}, None),
        ({"iam": {"ack": {"role": {"trust": "instanceProfile"}}}}, None),
    ],
)
def test_bad_iam_values_fail_at_install_time(bad, message):
    with pytest.raises(helm.HelmError, match=re.escape(message) if message else None):
        render(merged(BASE, bad))
