//! The harness every integration test shares: an in-process emulator on an
//! ephemeral port, the real `aws-sdk-gameliftstreams` client pointed at it (with
//! the SDK's own retries off, so tests see each call), the admin API, and the
//! gateway in front of it with a generated tonic client.

#![allow(dead_code)]

pub mod process;
pub mod proxy;
pub mod redis;
pub mod stages;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_gameliftstreams::config::retry::RetryConfig;
use aws_sdk_gameliftstreams::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_gameliftstreams::types::Protocol;
use aws_sdk_gameliftstreams::Client;
use gamelift_streams_gateway::api::deferred::Deferrals;
use gamelift_streams_gateway::api::replay::Idempotency;
use gamelift_streams_gateway::api::Gateway;
use gamelift_streams_gateway::emulator::{self, EmulatorConfig, EmulatorHandle};
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::server::{self, ListenAddr, RunningGateway};
use gamelift_streams_gateway::sessions::idempotency::{StoreLimits, DEFAULT_NAMESPACE};
use gamelift_streams_gateway::sessions::watch::budget::PollBudget;
use gamelift_streams_gateway::sessions::watch::{WatchConfig, Watches};
use gamelift_streams_gateway::sessions::{Resilience, RetryPolicy, Sessions};
use serde_json::Value;
use tonic::transport::Channel;

pub use gamelift_streams_gateway::emulator::{SEEDED_APPLICATION_ID as APP, SEEDED_STREAM_GROUP_ID as GROUP};

/// A running emulator and an SDK client for it.
pub struct Harness {
    pub emulator: EmulatorHandle,
    pub client: Client,
    http: reqwest::Client,
}

/// An emulator with the default configuration (AWS's rate limits, real time).
pub async fn harness() -> Harness {
    harness_with(EmulatorConfig::default()).await
}

/// An emulator with `config`.
pub async fn harness_with(config: EmulatorConfig) -> Harness {
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("loopback address");
    let emulator = emulator::start(addr, config).await.expect("emulator starts");
    let client = sdk_client(&emulator.endpoint_url());
    Harness { emulator, client, http: reqwest::Client::new() }
}

/// The real SDK client, configured as a test against the emulator wants it.
pub fn sdk_client(endpoint_url: &str) -> Client {
    let conf = aws_sdk_gameliftstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-west-2"))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new("AKIDEMULATOR", "emulator-secret", None, None, "tests"))
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

impl Harness {
    /// Starts a session in the seeded stream group and returns its ARN.
    pub async fn start_session(&self) -> String {
        self.client
            .start_stream_session()
            .identifier(GROUP)
            .application_identifier(APP)
            .protocol(Protocol::Webrtc)
            .signal_request("offer")
            .send()
            .await
            .expect("StartStreamSession")
            .arn
            .expect("ARN")
    }

    /// The ARNs of every session in the seeded stream group.
    pub async fn sessions_upstream(&self) -> std::collections::HashSet<String> {
        let pages = self.client.list_stream_sessions().identifier(GROUP).max_results(100).into_paginator();
        let items = pages.items().send().collect::<Result<Vec<_>, _>>().await.expect("list");
        items.into_iter().filter_map(|s| s.arn).collect()
    }

    /// Calls the admin API; returns the status and the JSON body.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/_emulator/{path}", self.emulator.endpoint_url());
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("admin call");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The ErrorInfo reason of `status` (empty without ErrorInfo).
/// The ErrorInfo reason of `status`, which must be a value of the contract's
/// ErrorReason enum (every test that reads a reason checks that).
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    let reason = status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default();
    let listed = gamelift_streams_gateway::reason::ErrorReason::from_str_name(&reason);
    assert!(
        listed.is_some_and(|r| r != gamelift_streams_gateway::reason::ErrorReason::Unspecified),
        "reason {reason:?} of {status:?} is not in ErrorReason"
    );
    reason
}

/// A valid StartStreamSession of the seeded group and application, for
/// requests to change one field at a time.
pub fn start_request() -> gamelift_streams_gateway::proto::v1::StartStreamSessionRequest {
    gamelift_streams_gateway::proto::v1::StartStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        application_identifier: APP.into(),
        signal_request: "offer".into(),
        ..Default::default()
    }
}

/// The same, with `request_id`.
pub fn start_request_with_id(request_id: &str) -> gamelift_streams_gateway::proto::v1::StartStreamSessionRequest {
    gamelift_streams_gateway::proto::v1::StartStreamSessionRequest { request_id: request_id.into(), ..start_request() }
}

/// An emulator, the gateway in front of it, and a gRPC client of the gateway.
pub struct GatewayHarness {
    pub emulator: Harness,
    pub gateway: RunningGateway,
    pub client: StreamSessionsClient<Channel>,
    pub channel: Channel,
    pub watches: Watches,
    pub deferrals: Arc<Deferrals>,
}

/// Watches that poll every 50 ms and send heartbeats every second, within the
/// whole of each operation's rate: fast enough for tests in real time.
pub fn quick_watches() -> WatchConfig {
    WatchConfig {
        fast_interval: Duration::from_millis(50),
        normal_interval: Duration::from_millis(50),
        slow_interval: Duration::from_millis(50),
        heartbeat: Duration::from_secs(1),
        poll_share: 1.0,
    }
}

/// The gateway on an ephemeral loopback port, over an emulator with `config`,
/// retrying by `policy`.
pub async fn gateway_with(config: EmulatorConfig, policy: RetryPolicy) -> GatewayHarness {
    gateway_watching(config, policy, quick_watches()).await
}

/// The same, its watches polling by `watch`.
pub async fn gateway_watching(config: EmulatorConfig, policy: RetryPolicy, watch: WatchConfig) -> GatewayHarness {
    let emulator = harness_with(config).await;
    let sessions = Sessions::new(emulator.client.clone(), Arc::new(Resilience::with_seed(policy, 7)));
    let watches = watches_over(&sessions, watch);
    let service = gateway_watched_by(sessions, StoreLimits::default(), watches.clone());
    let deferrals = service.deferrals().clone();
    let gateway = serve(service).await;
    let channel = Channel::from_shared(format!("http://{}", gateway.local_addr()))
        .expect("URI")
        .connect()
        .await
        .expect("gateway reachable");
    GatewayHarness {
        emulator,
        gateway,
        client: StreamSessionsClient::new(channel.clone()),
        channel,
        watches,
        deferrals,
    }
}

/// The rate limits of an emulator with AWS's limits switched off.
pub fn unlimited() -> EmulatorConfig {
    let mut config = EmulatorConfig::default();
    config.rate_limits.clear();
    config
}

/// The gateway over an emulator with AWS's rate limits switched off, and no
/// retries, so each RPC is exactly one upstream call.
pub async fn gateway() -> GatewayHarness {
    gateway_with(unlimited(), RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }).await
}

/// A retry layer with the default policy, for tests that build their own gateway.
pub fn resilience() -> Arc<Resilience> {
    Arc::new(Resilience::with_seed(RetryPolicy::default(), 7))
}

/// Watches polling through `sessions` by `watch`, on the in-process budget.
pub fn watches_over(sessions: &Sessions, watch: WatchConfig) -> Watches {
    let schedule = Arc::new(PollBudget::new(watch.poll_share));
    Watches::new(Arc::new(sessions.clone()), watch, schedule)
}

/// The service over `sessions`, with the default idempotency namespace.
pub fn gateway_over(sessions: Sessions, limits: StoreLimits) -> Gateway {
    let watches = watches_over(&sessions, quick_watches());
    gateway_watched_by(sessions, limits, watches)
}

/// The same, with `watches`.
pub fn gateway_watched_by(sessions: Sessions, limits: StoreLimits, watches: Watches) -> Gateway {
    Gateway::new(Arc::new(sessions), Arc::new(Idempotency::in_process(DEFAULT_NAMESPACE.into(), limits)), watches)
}

/// Serves `gateway` on an ephemeral loopback port.
pub async fn serve(gateway: Gateway) -> RunningGateway {
    let listen = ListenAddr::Tcp("127.0.0.1:0".parse().expect("loopback"));
    server::start(&listen, gateway).await.expect("gateway starts")
}

/// A connected client of a running gateway.
pub async fn client_of(gateway: &RunningGateway) -> StreamSessionsClient<Channel> {
    StreamSessionsClient::connect(format!("http://{}", gateway.local_addr())).await.expect("gateway reachable")
}

/// The Prometheus text at `url`, parsed.
pub async fn scrape(url: &str) -> prometheus_parse::Scrape {
    let body = reqwest::get(url).await.expect("scrape").text().await.expect("text");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("Prometheus text format")
}

/// The value of `metric` with (at least) `labels`; 0 when absent.
pub fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
        .collect();
    assert!(matching.len() <= 1, "{metric} {labels:?} matches {} series", matching.len());
    matching.first().copied().unwrap_or(0.0)
}
