//! Telemetry of the real binary: spans of one StartStreamSession (and the
//! metrics) received by an OTLP collector running in the test, the Prometheus endpoint parsed with a
//! Prometheus text-format parser while its counters move, and JSON logs that
//! carry trace ids and never a signal request, signal response or credential.
//! Over 400 lines: the three signals share the collector and the binary started here.

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gamelift_streams_gateway::emulator::{SEEDED_APPLICATION_ID as APP, SEEDED_STREAM_GROUP_ID as GROUP};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::proto::v1::WatchResponse;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;
use prometheus_parse::Scrape;
use support::process::{self, ChildProcess};
use support::{scrape, value};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_SPAN_ID: &str = "b7ad6b7169203331";
/// An address in a signal request that must never reach logs or spans.
const SIGNAL_MARKER: &str = "198.51.100.77";

/// The gateway binary with the embedded emulator, and what it announced.
struct Gateway {
    process: ChildProcess,
    grpc: String,
    emulator: String,
    metrics: Option<String>,
}

impl Gateway {
    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
        command.args(["serve", "--emulator", "--listen", "127.0.0.1:0"]).args(args);
        for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("OTEL_") || name == "RUST_LOG") {
            command.env_remove(name);
        }
        command.envs(env.iter().copied()).env_remove("AWS_ENDPOINT_URL");
        let process = process::spawn(command);
        let grpc = format!("http://{}", process.expect_line("gateway listening on "));
        let emulator = process.expect_line("emulator listening on ");
        let metrics = args.contains(&"--metrics-listen").then(|| process.expect_line("metrics listening on "));
        Self { process, grpc, emulator, metrics }
    }

    async fn client(&self) -> StreamSessionsClient<Channel> {
        StreamSessionsClient::connect(self.grpc.clone()).await.expect("gateway reachable")
    }

    /// Stops the gateway with SIGTERM (it flushes its telemetry) and returns its stderr.
    fn stop(self) -> String {
        let (exit, stderr) = self.process.stop();
        assert!(exit.success(), "{stderr}");
        stderr
    }
}

fn start_request(request_id: &str) -> pb::StartStreamSessionRequest {
    pb::StartStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        application_identifier: APP.into(),
        signal_request: format!("v=0 offer c=IN IP4 {SIGNAL_MARKER}"),
        request_id: request_id.into(),
        ..Default::default()
    }
}

fn traced<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01");
    request.metadata_mut().insert("traceparent", traceparent.parse().expect("ASCII"));
    request
}

// ----- an OTLP collector -----

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    service_names: Arc<Mutex<Vec<String>>>,
    metric_names: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut names = self.metric_names.lock().expect("lock");
        for resource_metrics in request.into_inner().resource_metrics {
            for scope in resource_metrics.scope_metrics {
                names.extend(scope.metrics.into_iter().map(|m| m.name));
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for resource_spans in request.into_inner().resource_spans {
            let attributes = resource_spans.resource.map(|r| r.attributes).unwrap_or_default();
            if let Some(name) = string_attr(&attributes, "service.name") {
                self.service_names.lock().expect("lock").push(name);
            }
            for scope in resource_spans.scope_spans {
                self.spans.lock().expect("lock").extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

async fn collector() -> (Collector, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let collector = Collector::default();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (collector, format!("http://{addr}"))
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()
}

fn string_attr(attributes: &[KeyValue], key: &str) -> Option<String> {
    match attr(attributes, key)? {
        AnyValue::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attributes, key)? {
        AnyValue::IntValue(i) => Some(*i),
        _ => None,
    }
}

fn bool_attr(attributes: &[KeyValue], key: &str) -> Option<bool> {
    match attr(attributes, key)? {
        AnyValue::BoolValue(b) => Some(*b),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_start_reaches_an_otlp_collector_as_a_server_span_with_a_client_span_per_attempt_and_metrics() {
    let (collector, endpoint) = collector().await;
    let gateway = Gateway::spawn(
        &["--watch-fast-interval-seconds", "0.05", "--metrics-listen", "127.0.0.1:0"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "gateway-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    );
    let fault = serde_json::json!({"operation": "StartStreamSession", "throttle": 1.0, "count": 1});
    let added = reqwest::Client::new()
        .post(format!("{}/_emulator/faults", gateway.emulator))
        .json(&fault)
        .send()
        .await
        .expect("admin call");
    assert_eq!(added.status().as_u16(), 201);
    let mut client = gateway.client().await;
    let started = client.start_stream_session(traced(start_request(""))).await.expect("started after a retry");
    let session = started.into_inner().stream_session.expect("session");

    // A watch: its polls must not appear as spans.
    let watch = pb::WatchStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: session.arn.clone(),
        ..Default::default()
    };
    let mut events = client.watch_stream_session(watch).await.expect("watch").into_inner();
    let first = events.message().await.expect("an event").expect("a snapshot").into_event();
    assert_eq!(first.kind(), pb::StreamSessionEventKind::Snapshot);
    drop((events, client));
    // The watch's span ends when the gateway has seen the client go, at the
    // moment its call is counted: wait for that, then stop (and flush).
    let url = gateway.metrics.clone().expect("metrics address");
    let started = std::time::Instant::now();
    while rpcs(&scrape(&url).await, "WatchStreamSession", "1") < 1.0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the watch never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stderr = gateway.stop();

    let spans = collector.spans.lock().expect("lock").clone();
    let ours: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == TRACE_ID).collect();
    let server = ours
        .iter()
        .find(|s| s.name == "gamelift.streams.v1.StreamSessions/StartStreamSession")
        .unwrap_or_else(|| panic!("a server span among {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>()));
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(hex(&server.parent_span_id), PARENT_SPAN_ID, "continues the caller's trace");
    assert_eq!(string_attr(&server.attributes, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(string_attr(&server.attributes, "rpc.service").as_deref(), Some("gamelift.streams.v1.StreamSessions"));
    assert_eq!(string_attr(&server.attributes, "rpc.method").as_deref(), Some("StartStreamSession"));
    assert_eq!(int_attr(&server.attributes, "rpc.grpc.status_code"), Some(0));

    let mut attempts: Vec<&&Span> = ours.iter().filter(|s| s.name == "GameLiftStreams/StartStreamSession").collect();
    attempts.sort_by_key(|s| int_attr(&s.attributes, "aws.attempt"));
    assert_eq!(attempts.len(), 2, "one span per HTTP attempt: the throttled one and the retry");
    for (n, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt.kind, SpanKind::Client as i32);
        assert_eq!(attempt.parent_span_id, server.span_id, "a child of the server span");
        assert_eq!(string_attr(&attempt.attributes, "rpc.system").as_deref(), Some("aws-api"));
        assert_eq!(string_attr(&attempt.attributes, "rpc.method").as_deref(), Some("StartStreamSession"));
        assert_eq!(int_attr(&attempt.attributes, "aws.attempt"), Some(n as i64 + 1));
        let request_id = string_attr(&attempt.attributes, "aws.request_id").expect("an AWS request id");
        assert!(!request_id.is_empty());
    }
    assert_eq!(bool_attr(&attempts[0].attributes, "aws.throttled"), Some(true));
    assert_eq!(string_attr(&attempts[0].attributes, "aws.outcome").as_deref(), Some("ThrottlingException"));
    assert_eq!(bool_attr(&attempts[1].attributes, "aws.throttled"), Some(false));
    assert_eq!(string_attr(&attempts[1].attributes, "aws.outcome").as_deref(), Some("Success"));

    assert!(spans.iter().any(|s| s.name == "gamelift.streams.v1.StreamSessions/WatchStreamSession"));
    let polls: Vec<&String> = spans.iter().map(|s| &s.name).filter(|n| n.starts_with("GameLiftStreams/Get")).collect();
    assert!(polls.is_empty(), "watch polls make no spans: {polls:?}");
    assert!(collector.service_names.lock().expect("lock").iter().all(|n| n == "gateway-under-test"));
    let metrics = collector.metric_names.lock().expect("lock").clone();
    for name in ["rpc.server.call.duration", "gls_gateway.aws.calls", "gls_gateway.aws.throttles"] {
        assert!(metrics.iter().any(|m| m == name), "{name} exported over OTLP at shutdown: {metrics:?}");
    }

    let everything = format!("{spans:?}{stderr}");
    assert!(!everything.contains(SIGNAL_MARKER), "the signal request leaked");
    assert!(!everything.contains(&session.signal_response) || session.signal_response.is_empty());
}

// ----- Prometheus -----

fn rpcs(scrape: &Scrape, method: &str, code: &str) -> f64 {
    value(scrape, "rpc_server_call_duration_seconds_count", &[("rpc_method", method), ("rpc_grpc_status_code", code)])
}

/// The RPC duration series of a scrape, as (service, method, code).
fn rpc_series(scrape: &Scrape) -> std::collections::BTreeSet<(String, String, String)> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == "rpc_server_call_duration_seconds_count")
        .map(|s| {
            let label = |name: &str| s.labels.get(name).unwrap_or_default().to_string();
            (label("rpc_service"), label("rpc_method"), label("rpc_grpc_status_code"))
        })
        .collect()
}

/// One unary call of `path` (any path) with a GetStreamSession request.
async fn call_path(channel: &Channel, path: &str) -> tonic::Code {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<pb::GetStreamSessionRequest, pb::GetStreamSessionResponse>::default();
    let path = path.parse().expect("a path");
    let request = tonic::Request::new(pb::GetStreamSessionRequest::default());
    grpc.unary(request, path, codec).await.map_or_else(|s| s.code(), |_| tonic::Code::Ok)
}

#[tokio::test(flavor = "multi_thread")]
async fn callers_without_the_token_or_a_served_method_cannot_add_metric_series() {
    let token = "a-token-of-at-least-16-characters";
    let gateway = Gateway::spawn(&["--metrics-listen", "127.0.0.1:0", "--auth-token", token], &[]);
    let url = gateway.metrics.clone().expect("metrics address");
    let channel = Channel::from_shared(gateway.grpc.clone()).expect("URI").connect().await.expect("reachable");
    let service = "/gamelift.streams.v1.StreamSessions/";
    assert_eq!(call_path(&channel, &format!("{service}GetStreamSession")).await, tonic::Code::Unauthenticated);
    assert_eq!(call_path(&channel, "/junk.Service/Nothing").await, tonic::Code::Unauthenticated);
    let before = rpc_series(&scrape(&url).await);
    assert_eq!(
        before,
        [("_OTHER".to_string(), "_OTHER".to_string(), "16".to_string())].into(),
        "unauthenticated calls have one series"
    );

    let methods = ["StartStreamSession", "ListStreamSessions", "TerminateStreamSession", "WatchStreamSession"];
    for i in 0..300 {
        let path = match i % 3 {
            0 => format!("/junk{i}.Service/Method{i}"),
            1 => format!("{service}{}", methods[i % methods.len()]),
            _ => format!("/{}/{i}", "x".repeat(12_000)),
        };
        assert_eq!(call_path(&channel, &path).await, tonic::Code::Unauthenticated, "{}", &path[..40.min(path.len())]);
    }
    let body = reqwest::get(&url).await.expect("scrape").text().await.expect("text");
    assert!(body.len() < 64 * 1024, "a scrape of {} bytes", body.len());
    let after = rpc_series(&Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text"));
    assert_eq!(after, before, "the flood added series");
    drop(channel);
    gateway.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prometheus_endpoint_parses_and_its_counters_move_with_calls() {
    let gateway = Gateway::spawn(
        &["--metrics-listen", "127.0.0.1:0", "--emulator-time-scale", "10", "--watch-fast-interval-seconds", "0.05"],
        &[],
    );
    let url = gateway.metrics.clone().expect("metrics address");
    let before = scrape(&url).await;
    assert_eq!(value(&before, "gls_gateway_retry_budget_tokens", &[("level", "available")]), 500.0);
    assert_eq!(rpcs(&before, "StartStreamSession", "0"), 0.0);

    let mut client = gateway.client().await;
    let key = "3f1c9a52-8d1e-4c1b-9a57-1d2f3e4a5b6c";
    let first = client.start_stream_session(start_request(key)).await.expect("start");
    client.start_stream_session(start_request(key)).await.expect("replayed");
    let conflict = pb::StartStreamSessionRequest { user_id: "someone-else".into(), ..start_request(key) };
    let refused = client.start_stream_session(conflict).await.expect_err("same key, other parameters");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    let unknown = pb::GetStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: "ABCDEFGHIJ".into(),
    };
    assert_eq!(client.get_stream_session(unknown).await.expect_err("unknown").code(), tonic::Code::NotFound);
    // A Duration where a GetStreamSessionRequest belongs: field 1 is a number, not a string.
    let mut grpc = tonic::client::Grpc::new(Channel::from_shared(gateway.grpc.clone()).expect("URI").connect_lazy());
    grpc.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<prost_types::Duration, pb::GetStreamSessionResponse>::default();
    let path = "/gamelift.streams.v1.StreamSessions/GetStreamSession".parse().expect("a path");
    let malformed = grpc.unary(tonic::Request::new(prost_types::Duration { seconds: 5, nanos: 0 }), path, codec).await;
    assert_eq!(malformed.expect_err("malformed").code(), tonic::Code::InvalidArgument);
    let wait = pb::StartStreamSessionRequest { wait_for_active: true, ..start_request("") };
    let active = client.start_stream_session(wait).await.expect("ACTIVE").into_inner().stream_session.expect("session");
    assert_eq!(active.status(), pb::StreamSessionStatus::Active);

    let watch = pb::WatchStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: first.into_inner().stream_session.expect("session").arn,
        ..Default::default()
    };
    let mut events = client.watch_stream_session(watch).await.expect("watch").into_inner();
    events.message().await.expect("an event").expect("a snapshot");
    let during = scrape(&url).await;
    drop(events);
    // The client went away: the watch counts as CANCELLED once the gateway sees it.
    let mut after = scrape(&url).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while rpcs(&after, "WatchStreamSession", "1") == 0.0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = scrape(&url).await;
    }
    assert_eq!(rpcs(&after, "WatchStreamSession", "1"), 1.0);
    assert_eq!(value(&after, "gls_gateway_watch_active", &[("kind", "watchers")]), 0.0);

    assert_eq!(rpcs(&during, "StartStreamSession", "0"), 3.0, "the first, its replay, and the start-and-wait");
    assert_eq!(rpcs(&during, "StartStreamSession", "3"), 1.0, "the reused key");
    assert_eq!(rpcs(&during, "GetStreamSession", "5"), 1.0);
    assert_eq!(rpcs(&during, "GetStreamSession", "3"), 1.0, "a malformed request is a client error");
    let aws = |op: &str, outcome: &str| {
        value(&during, "gls_gateway_aws_calls_total", &[("operation", op), ("outcome", outcome)])
    };
    assert_eq!(aws("StartStreamSession", "Success"), 2.0, "the replay made no call");
    assert_eq!(aws("GetStreamSession", "ResourceNotFoundException"), 1.0);
    let idempotency = |result: &str| value(&during, "gls_gateway_idempotency_calls_total", &[("result", result)]);
    assert_eq!((idempotency("replay"), idempotency("conflict"), idempotency("join")), (1.0, 1.0, 0.0));
    assert_eq!(value(&during, "gls_gateway_watch_active", &[("kind", "watchers")]), 1.0);
    assert_eq!(value(&during, "gls_gateway_watch_active", &[("kind", "pollers")]), 1.0);
    assert!(value(&during, "gls_gateway_watch_poll_calls_total", &[("operation", "GetStreamSession")]) >= 2.0);
    assert_eq!(value(&during, "gls_gateway_rate_limit_rate", &[("operation", "StartStreamSession")]), 20.0);
    assert_eq!(value(&during, "gls_gateway_session_activation_duration_seconds_count", &[]), 1.0);
    let activation = value(&during, "gls_gateway_session_activation_duration_seconds_sum", &[]);
    assert!((4.9..=5.1).contains(&activation), "the emulator activates in 5 s: {activation}");
    assert_eq!(value(&during, "gls_gateway_aws_throttles_total", &[("operation", "StartStreamSession")]), 0.0);

    // A terminate of a session still ACTIVATING (0.5 s at this clock) is deferred, and counted.
    let fresh = client.start_stream_session(start_request("")).await.expect("start").into_inner().stream_session;
    let terminate = pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: fresh.expect("session").arn,
        request_id: String::new(),
    };
    let answer = client.terminate_stream_session(terminate).await.expect("deferred").into_inner().stream_session;
    assert_eq!(answer.expect("session").status(), pb::StreamSessionStatus::Activating);
    let deferred = scrape(&url).await;
    let result = |result: &str| value(&deferred, "gls_gateway_terminations_deferred_total", &[("result", result)]);
    assert_eq!(result("accepted"), 1.0);
    let pending = value(&deferred, "gls_gateway_terminations_deferred_pending", &[]);
    assert_eq!(pending + result("terminated"), 1.0, "waiting, or already sent");
    drop(client);
    gateway.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_calls_are_counted_per_rpc_and_per_ivs_operation() {
    use gamelift_streams_gateway::proto::ivs;
    let gateway = Gateway::spawn(&["--metrics-listen", "127.0.0.1:0"], &[]);
    let url = gateway.metrics.clone().expect("metrics address");
    let mut client = ivs::stages_client::StagesClient::connect(gateway.grpc.clone()).await.expect("connect");
    let created = client.create_stage(ivs::CreateStageRequest::default()).await.expect("CreateStage");
    let stage_arn = created.into_inner().stage.expect("a stage").arn;
    let watch = ivs::WatchStageParticipantsRequest { stage_arn };
    let mut events = client.watch_stage_participants(watch).await.expect("watch").into_inner();
    let synced = events.message().await.expect("an event").expect("SYNCED").event.expect("event");
    assert_eq!(synced.kind(), ivs::StageParticipantEventKind::Synced);
    let unknown = ivs::GetStageRequest { stage_arn: "arn:aws:ivs:us-west-2:111122223333:stage/NoSuchStage01".into() };
    assert_eq!(client.get_stage(unknown).await.expect_err("unknown").code(), tonic::Code::NotFound);
    let after = scrape(&url).await;
    let series = rpc_series(&after);
    for (method, code) in [("CreateStage", "0"), ("GetStage", "5")] {
        let named = ("ivs.realtime.v1.Stages".to_string(), method.to_string(), code.to_string());
        assert!(series.contains(&named), "{named:?} in {series:?}");
    }
    let aws = |op: &str, outcome: &str| {
        value(&after, "gls_gateway_aws_calls_total", &[("operation", op), ("outcome", outcome)])
    };
    assert_eq!(aws("CreateStage", "Success"), 1.0);
    assert_eq!(aws("GetStage", "ResourceNotFoundException"), 1.0);
    assert_eq!(value(&after, "gls_gateway_rate_limit_rate", &[("operation", "CreateStage")]), 5.0, "AWS's IVS quota");
    let active = |kind: &str| value(&after, "gls_gateway_stage_watch_active", &[("kind", kind)]);
    assert_eq!((active("watchers"), active("pollers")), (1.0, 1.0));
    drop(events);
    gateway.stop();
}

#[tokio::test]
async fn the_oldest_read_of_a_watch_is_measured_and_grows_while_polls_fail() {
    let quick = ["--watch-fast-interval-seconds", "0.2", "--watch-normal-interval-seconds", "0.2"];
    let args = [&["--metrics-listen", "127.0.0.1:0", "--drain-seconds", "1"][..], &quick[..]].concat();
    let gateway = Gateway::spawn(&args, &[]);
    let url = gateway.metrics.clone().expect("metrics address");
    let age = |scrape: &Scrape| value(scrape, "gls_gateway_watch_oldest_read_age_seconds", &[]);
    assert_eq!(age(&scrape(&url).await), 0.0, "nothing watched");
    let mut client = gateway.client().await;
    let wait = pb::StartStreamSessionRequest { wait_for_active: true, ..start_request("") };
    let session =
        client.start_stream_session(wait).await.expect("ACTIVE").into_inner().stream_session.expect("session");
    let watch = pb::WatchStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: session.arn,
        ..Default::default()
    };
    let mut events = client.watch_stream_session(watch).await.expect("watch").into_inner();
    events.message().await.expect("an event").expect("a snapshot");
    let healthy = age(&scrape(&url).await);
    assert!(healthy < 2.0, "read every 0.2 s, the oldest read is {healthy} s old");
    // From now on every poll is throttled: no read after this instant succeeds.
    let http = reqwest::Client::new();
    for op in ["GetStreamSession", "ListStreamSessions"] {
        let rule = serde_json::json!({ "operation": op, "throttle": 1.0 });
        let added =
            http.post(format!("{}/_emulator/faults", gateway.emulator)).json(&rule).send().await.expect("fault");
        assert!(added.status().is_success());
    }
    let failing_since = std::time::Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let lagging = age(&scrape(&url).await);
    let floor = failing_since.elapsed().as_secs_f64() - 0.1;
    assert!(lagging >= floor, "polls failed for {floor} s but the oldest read is {lagging} s old");
    drop(events);
    drop(client);
    gateway.stop();
}

/// The metric names the Helm chart's dashboard and alerts query.
fn charted_metrics() -> std::collections::BTreeSet<String> {
    let chart = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("helm/gamelift-streams-gateway");
    let mut text = String::new();
    for file in ["dashboards/gamelift-streams-gateway.json", "templates/prometheusrule.yaml"] {
        text.push_str(&std::fs::read_to_string(chart.join(file)).expect("a chart file"));
    }
    let mut names = std::collections::BTreeSet::new();
    for prefix in ["gls_gateway_", "rpc_server_"] {
        for (at, _) in text.match_indices(prefix) {
            let name: String =
                text[at..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
            names.insert(name);
        }
    }
    names
}

#[tokio::test]
async fn every_metric_the_charts_dashboard_and_alerts_query_is_exported() {
    // Fleet mode against a Redis that is not there: the fleet's metrics too.
    let args = ["--metrics-listen", "127.0.0.1:0", "--drain-seconds", "1", "--redis-url", "redis://127.0.0.1:1"];
    let gateway = Gateway::spawn(&args, &[]);
    let mut client = gateway.client().await;
    let wait = pb::StartStreamSessionRequest { wait_for_active: true, ..start_request("replayed-key") };
    client.start_stream_session(wait.clone()).await.expect("ACTIVE");
    client.start_stream_session(wait).await.expect("replayed");
    let rule = serde_json::json!({ "operation": "GetStreamSession", "throttle": 1.0, "count": 1 });
    let http = reqwest::Client::new();
    let added = http.post(format!("{}/_emulator/faults", gateway.emulator)).json(&rule).send().await.expect("fault");
    assert!(added.status().is_success());
    let unknown = pb::GetStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: "ABCDEFGHIJ".into(),
    };
    client.get_stream_session(unknown).await.expect_err("throttled once, then not found");
    let fresh = client.start_stream_session(start_request("")).await.expect("start").into_inner().stream_session;
    let terminate = pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: fresh.expect("session").arn,
        request_id: String::new(),
    };
    client.terminate_stream_session(terminate).await.expect("deferred");
    let body =
        reqwest::get(gateway.metrics.clone().expect("metrics")).await.expect("scrape").text().await.expect("text");
    let exported: std::collections::BTreeSet<&str> =
        body.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split(['{', ' ']).next()).collect();
    let charted = charted_metrics();
    assert!(charted.len() >= 15, "{charted:?}");
    let missing: Vec<&String> = charted.iter().filter(|name| !exported.contains(name.as_str())).collect();
    assert!(missing.is_empty(), "queried but not exported: {missing:?}; exported: {exported:?}");
    drop(client);
    gateway.stop();
}

// ----- logs -----

/// The JSON log lines of a gateway (its `args`, `RUST_LOG` as given) that
/// served a Start (with a traceparent) and a refused CreateStreamSessionConnection.
async fn logs_of_a_start_and_a_connection(rust_log: &str, args: &[&str]) -> String {
    let gateway = Gateway::spawn(&[&["--log-format", "json"], args].concat(), &[("RUST_LOG", rust_log)]);
    let mut client = gateway.client().await;
    let started = client.start_stream_session(traced(start_request(""))).await.expect("start");
    let session = started.into_inner().stream_session.expect("session");
    let connection = pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: session.arn.clone(),
        signal_request: format!("v=0 reconnect c=IN IP4 {SIGNAL_MARKER}"),
        ..Default::default()
    };
    // Rejected (the session is still ACTIVATING), after the signal request went upstream.
    client.create_stream_session_connection(connection).await.expect_err("ACTIVATING");
    drop(client);
    gateway.stop()
}

#[tokio::test]
async fn text_logs_written_to_a_file_or_a_pipe_carry_no_colours() {
    let gateway = Gateway::spawn(&["--log-format", "text", "--drain-seconds", "1"], &[("RUST_LOG", "info")]);
    let mut client = gateway.client().await;
    client.start_stream_session(start_request("")).await.expect("start");
    drop(client);
    let stderr = gateway.stop();
    assert!(stderr.contains(" INFO "), "text lines were logged: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "an escape sequence reached a pipe: {stderr:?}");
}

/// What a log must never carry: a signal request or response, a request
/// signature, the access key id (`EMULATOR` with the embedded emulator).
fn assert_no_secrets(stderr: &str) {
    assert!(!stderr.contains(SIGNAL_MARKER), "a signal request reached the logs");
    assert!(!stderr.contains("IN IP4 127.0.0.1"), "a signal response reached the logs");
    assert!(!stderr.contains("Signature="), "a request signature reached the logs");
    assert!(!stderr.contains("EMULATOR"), "the access key id reached the logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_the_trace_id_and_never_a_signal_or_a_credential_even_at_trace_level() {
    let stderr = logs_of_a_start_and_a_connection("trace", &[]).await;

    let lines: Vec<serde_json::Value> =
        stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "rpc finished" && l["spans"][0]["rpc.method"] == "StartStreamSession")
        .unwrap_or_else(|| panic!("no access-log line for the Start among: {}", grep(&stderr, "rpc finished")));
    assert_eq!(finished["spans"][0]["trace_id"], TRACE_ID, "{finished}");
    assert_eq!(finished["level"], "DEBUG", "successful calls are logged at debug");
    let counts: HashMap<&str, usize> = lines.iter().fold(HashMap::new(), |mut m, l| {
        *m.entry(l["level"].as_str().unwrap_or("")).or_default() += 1;
        m
    });
    assert!(
        counts.get("TRACE").copied().unwrap_or(0) + counts.get("DEBUG").copied().unwrap_or(0) > 0,
        "trace level is on"
    );
    assert_no_secrets(&stderr);
}

/// Directives more specific than the hold, for every layer that sees bodies or headers.
const WIRE_DIRECTIVES: &str = "trace,aws_smithy_runtime::client=trace,aws_smithy_runtime::client::orchestrator=trace,\
    aws_smithy_runtime_api=trace,aws_smithy_http_client::hyper_legacy=trace,aws_sigv4::http_request=trace,\
    aws_config::meta=trace,hyper_util::client::legacy=trace,h2::codec=trace,tonic::codec=trace,tower::buffer=trace";

#[tokio::test(flavor = "multi_thread")]
async fn the_most_specific_rust_log_directives_cannot_open_the_wire_logs() {
    let stderr = logs_of_a_start_and_a_connection(WIRE_DIRECTIVES, &[]).await;
    assert!(stderr.contains("\"level\":\"TRACE\""), "trace level is on");
    let wire_debug = stderr.lines().filter(|l| {
        (l.contains("\"level\":\"DEBUG\"") || l.contains("\"level\":\"TRACE\""))
            && ["aws_smithy", "aws_sigv4", "aws_config", "hyper", "h2::", "tonic::", "tower::"]
                .iter()
                .any(|t| l.contains(&format!("\"target\":\"{t}")))
    });
    assert_eq!(wire_debug.count(), 0, "wire debug lines: {}", grep(&stderr, "aws_smithy"));
    assert_no_secrets(&stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn log_wire_unsafe_opens_the_wire_logs_with_a_warning() {
    let stderr = logs_of_a_start_and_a_connection("info,aws_smithy_runtime=trace", &["--log-wire-unsafe"]).await;
    assert!(stderr.contains("--log-wire-unsafe: SDK, HTTP and gRPC logs are not held back"), "no warning");
    assert!(stderr.contains("\"target\":\"aws_smithy_runtime"), "the SDK's own logs are open");
}

fn grep(text: &str, needle: &str) -> String {
    text.lines().filter(|l| l.contains(needle)).collect::<Vec<_>>().join("\n")
}
