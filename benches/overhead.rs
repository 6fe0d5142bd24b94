//! What the sidecar costs on every call and in every pod, in one table whose
//! figures all come from the same run.
//!
//! GetStreamSession on a started session, against the bundled emulator (a
//! child process, AWS's rate limits off), four ways:
//! (a) `aws-sdk-gameliftstreams` in this process, built as the gateway builds
//!     its client (`sessions::client::connect`);
//! (b) the gateway binary over gRPC, with a tonic client (its ceiling for
//!     GetStreamSession lifted, so pacing does not decide the result);
//! (c) a bare tonic pass-through: a child process that forwards the same call
//!     through the same SDK client and nothing else (no validation, retry
//!     layer, idempotency, telemetry): the floor the gateway is held to;
//! (d) a bare tonic server answering the same message from memory: the cost
//!     of gRPC on loopback on this machine.
//! Then the same for the Stages service (IVS Real-Time): GetStage on a
//! created stage, (e) through `aws-sdk-ivsrealtime` in this process, (f)
//! through the gateway, (g) through the same bare pass-through; and whether
//! a Stages RPC's added latency and CPU stand in the same ratio to its
//! pass-through as StreamSessions'.
//! Latency at concurrency 1 (p50/p90/p99 over every round's calls) and
//! calls/s at concurrency 16 and 64 (median of the rounds), the variants
//! interleaved round by round so drift on a noisy machine hits all of them.
//!
//! Then the gateway's footprint: idle RSS with and without the embedded
//! emulator, RSS after 10,000 calls, memory per open watch, binary size, and
//! the median time from exec to `grpc.health.v1` SERVING over 10 starts.
//! Over 400 lines: the four variants must run interleaved in one process
//! to be compared; the pass-through and the from-memory servers live here.
//!
//! Run: `cargo bench --bench overhead` (about 2 minutes). `BENCH_GATEWAY_BIN`
//! measures another build of the gateway (e.g. `target/profiling/…`, to
//! attach a profiler to it).

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::marker::PhantomData;

use aws_sdk_gameliftstreams::Client;
use futures_util::future::BoxFuture;
use gamelift_streams_gateway::codec::LeanCodec;
use gamelift_streams_gateway::emulator::SEEDED_STREAM_GROUP_ID as GROUP;
use gamelift_streams_gateway::proto::ivs;
use gamelift_streams_gateway::proto::ivs::stages_client::StagesClient;
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::sessions::client::{self, AwsSettings};
use tonic::server::NamedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::Status;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

use support::{
    announced, cpu_seconds, median, percentile, rss_kib, spawn_gateway, spawn_silent, start_session, ChildProcess,
    GATEWAY_BIN,
};

/// Which server this process is, when the benchmark starts itself as a child.
const ROLE: &str = "OVERHEAD_BENCH_ROLE";
/// The emulator's URL, for a child.
const ENDPOINT: &str = "OVERHEAD_BENCH_ENDPOINT";
/// The session the from-memory child reads once.
const SESSION: &str = "OVERHEAD_BENCH_SESSION";
const REGION: &str = "us-west-2";

const ROUNDS: usize = 3;
const WARMUP_CALLS: usize = 300;
const LATENCY_CALLS: usize = 1_000;
const WINDOW: Duration = Duration::from_secs(2);
const CONCURRENCY: [usize; 2] = [16, 64];
const FOOTPRINT_CALLS: usize = 10_000;
const WATCH_SESSIONS: usize = 200;
const WATCHERS_PER_SESSION: usize = 25;
const WATCH_CONNECTIONS: usize = 10;
const STARTS: usize = 10;
/// The gateway's GetStreamSession and GetStage ceilings in this benchmark:
/// out of the way.
const LIFTED: &str = "GetStreamSession=1000000,GetStage=1000000";

fn main() {
    // Before any thread exists: every process here reads the same credentials.
    std::env::set_var("AWS_ACCESS_KEY_ID", support::ACCESS_KEY_ID);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", support::SECRET_ACCESS_KEY);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match std::env::var(ROLE).as_deref() {
        Ok("passthrough") => runtime.block_on(serve_passthrough()),
        Ok("memory") => runtime.block_on(serve_from_memory()),
        _ => runtime.block_on(bench()),
    }
}

/// The SDK clients exactly as the gateway builds them for `endpoint`.
async fn gateway_sdks(endpoint: &str) -> client::Clients {
    let settings =
        AwsSettings { endpoint_url: Some(endpoint.into()), region: Some(REGION.into()), dummy_credentials: false };
    client::connect(&settings).await.expect("SDK clients")
}

/// GameLift Streams' SDK client exactly as the gateway builds it.
async fn gateway_sdk(endpoint: &str) -> Client {
    gateway_sdks(endpoint).await.streams
}

fn get_request(arn: &str) -> pb::GetStreamSessionRequest {
    pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: arn.into() }
}

// ----- the two bare servers, run as children of the benchmark -----

/// One RPC of one service.
trait Method: Send + Sync + 'static {
    const SERVICE: &'static str;
    const PATH: &'static str;
    type Request: prost::Message + Default + Send + 'static;
    type Response: prost::Message + Default + Send + 'static;
}

struct GetSession;

impl Method for GetSession {
    const SERVICE: &'static str = "gamelift.streams.v1.StreamSessions";
    const PATH: &'static str = "/gamelift.streams.v1.StreamSessions/GetStreamSession";
    type Request = pb::GetStreamSessionRequest;
    type Response = pb::GetStreamSessionResponse;
}

struct GetStage;

impl Method for GetStage {
    const SERVICE: &'static str = "ivs.realtime.v1.Stages";
    const PATH: &'static str = "/ivs.realtime.v1.Stages/GetStage";
    type Request = ivs::GetStageRequest;
    type Response = ivs::GetStageResponse;
}

/// `M`'s service with `M` alone, answered by `F`, over the gateway's codec:
/// what tonic's generated server does for one method.
struct OneMethod<M, F>(F, PhantomData<M>);

impl<M, F> OneMethod<M, F> {
    fn new(answer: F) -> Self {
        Self(answer, PhantomData)
    }
}

impl<M, F: Clone> Clone for OneMethod<M, F> {
    fn clone(&self) -> Self {
        Self::new(self.0.clone())
    }
}

impl<M: Method, F> NamedService for OneMethod<M, F> {
    const NAME: &'static str = M::SERVICE;
}

type Answer<M> = Result<<M as Method>::Response, Status>;

impl<M, F, Fut> tower::Service<http::Request<tonic::body::Body>> for OneMethod<M, F>
where
    M: Method,
    F: Fn(M::Request) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Answer<M>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let answer = self.0.clone();
        Box::pin(async move {
            if req.uri().path() != M::PATH {
                return Ok(Status::unimplemented("one method only").into_http());
            }
            let codec = LeanCodec::<M::Response, M::Request>::default();
            Ok(tonic::server::Grpc::new(codec).unary(Unary::<M, F>(answer, PhantomData), req).await)
        })
    }
}

struct Unary<M, F>(F, PhantomData<M>);

impl<M, F, Fut> tonic::server::UnaryService<M::Request> for Unary<M, F>
where
    M: Method,
    F: Fn(M::Request) -> Fut,
    Fut: Future<Output = Answer<M>> + Send + 'static,
{
    type Response = M::Response;
    type Future = BoxFuture<'static, Result<tonic::Response<Self::Response>, Status>>;

    fn call(&mut self, request: tonic::Request<M::Request>) -> Self::Future {
        let answer = (self.0)(request.into_inner());
        Box::pin(async move { answer.await.map(tonic::Response::new) })
    }
}

/// Serves `router` on a free loopback port with TCP_NODELAY (as the gateway
/// does), after announcing the port on stdout.
async fn serve_announced(router: tonic::transport::server::Router) {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse().expect("address")).expect("bind").with_nodelay(Some(true));
    println!("listening on {}", incoming.local_addr().expect("bound address"));
    router.serve_with_incoming(incoming).await.expect("serve");
}

async fn forward(client: Client, request: pb::GetStreamSessionRequest) -> Answer<GetSession> {
    let output = client
        .get_stream_session()
        .identifier(request.stream_group_identifier)
        .stream_session_identifier(request.stream_session_identifier)
        .send()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    Ok(pb::GetStreamSessionResponse { stream_session: Some(output.into()) })
}

async fn forward_stage(client: aws_sdk_ivsrealtime::Client, request: ivs::GetStageRequest) -> Answer<GetStage> {
    let output =
        client.get_stage().arn(request.stage_arn).send().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let stage = output.stage.map(|s| ivs::Stage {
        arn: s.arn,
        name: s.name.unwrap_or_default(),
        active_session_id: s.active_session_id.unwrap_or_default(),
        endpoints: None,
    });
    Ok(ivs::GetStageResponse { stage })
}

/// (c) and (g): every call forwarded through the gateway's SDK clients.
async fn serve_passthrough() {
    let clients = gateway_sdks(&std::env::var(ENDPOINT).expect(ENDPOINT)).await;
    let (streams, stages) = (clients.streams, clients.ivs);
    let sessions = OneMethod::<GetSession, _>::new(move |request| forward(streams.clone(), request));
    let stage = OneMethod::<GetStage, _>::new(move |request| forward_stage(stages.clone(), request));
    serve_announced(Server::builder().add_service(sessions).add_service(stage)).await;
}

/// (d): the session read once, then answered from memory.
async fn serve_from_memory() {
    let client = gateway_sdk(&std::env::var(ENDPOINT).expect(ENDPOINT)).await;
    let answer = forward(client, get_request(&std::env::var(SESSION).expect(SESSION))).await.expect("first read");
    let service = OneMethod::<GetSession, _>::new(move |_| std::future::ready(Ok(answer.clone())));
    serve_announced(Server::builder().add_service(service)).await;
}

fn spawn_role(role: &str, endpoint: &str, session: &str) -> ChildProcess {
    let mut command = Command::new(std::env::current_exe().expect("this benchmark's path"));
    command.env(ROLE, role).env(ENDPOINT, endpoint).env(SESSION, session);
    let mut child = announced(command, "listening on ");
    child.address = format!("http://{}", child.address);
    child
}

// ----- the measuring side -----

/// One way of making the call: GetStreamSession, or GetStage.
#[derive(Clone)]
enum Target {
    Sdk(Client),
    Grpc(StreamSessionsClient<Channel>),
    IvsSdk(aws_sdk_ivsrealtime::Client),
    Stages(StagesClient<Channel>),
}

impl Target {
    async fn channel(url: &str) -> Channel {
        Endpoint::from_shared(url.to_string()).expect("URI").connect().await.expect("connect")
    }

    async fn grpc(url: &str) -> Self {
        Self::Grpc(StreamSessionsClient::new(Self::channel(url).await))
    }

    async fn stages(url: &str) -> Self {
        Self::Stages(StagesClient::new(Self::channel(url).await))
    }

    /// Reads `arn`: a session, or for the Stages targets a stage.
    async fn get(&self, arn: &str) {
        match self {
            Self::IvsSdk(client) => {
                client.get_stage().arn(arn).send().await.expect("GetStage through the SDK");
            }
            Self::Stages(client) => {
                let request = ivs::GetStageRequest { stage_arn: arn.into() };
                client.clone().get_stage(request).await.expect("GetStage over gRPC");
            }
            Self::Sdk(client) => {
                let read = client.get_stream_session().identifier(GROUP).stream_session_identifier(arn).send();
                read.await.expect("GetStreamSession through the SDK");
            }
            Self::Grpc(client) => {
                client.clone().get_stream_session(get_request(arn)).await.expect("GetStreamSession over gRPC");
            }
        }
    }

    /// Milliseconds of each of `n` back-to-back calls.
    async fn latencies(&self, arn: &str, n: usize) -> Vec<f64> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let started = Instant::now();
            self.get(arn).await;
            out.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        out
    }

    /// Calls per second that `concurrency` callers complete in `window`, and
    /// how many calls that was.
    async fn throughput(&self, arn: &str, concurrency: usize, window: Duration) -> (f64, usize) {
        let started = Instant::now();
        let stop = started + window;
        let done = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (target, arn, done) = (self.clone(), arn.to_string(), done.clone());
                tokio::spawn(async move {
                    while Instant::now() < stop {
                        target.get(&arn).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.expect("caller");
        }
        let done = done.load(Ordering::Relaxed);
        (done as f64 / started.elapsed().as_secs_f64(), done)
    }
}

/// What one variant measured over every round.
struct Measured {
    name: &'static str,
    latencies_ms: Vec<f64>,
    /// Calls/s per round, per entry of [`CONCURRENCY`].
    rates: [Vec<f64>; 2],
    /// The serving process's CPU time per call, microseconds (none in-process).
    cpu_us_per_call: Option<f64>,
}

impl Measured {
    fn p(&self, q: f64) -> f64 {
        percentile(&self.latencies_ms, q)
    }

    fn rate(&self, i: usize) -> f64 {
        median(&self.rates[i])
    }
}

async fn bench() {
    let mut command = Command::new(GATEWAY_BIN);
    let capacity = format!("{REGION}={}", WATCH_SESSIONS + 1);
    command.args(["emulator", "--listen", "127.0.0.1:0", "--no-rate-limits", "--capacity", &capacity]);
    command.args(["--activation-seconds", "1"]);
    let emulator = announced(command, "emulator listening on ");
    let endpoint = emulator.address.clone();
    let sdk = gateway_sdk(&endpoint).await;
    let arn = start_session(&sdk).await;

    let ivs_sdk = gateway_sdks(&endpoint).await.ivs;
    let stage = ivs_sdk.create_stage().name("bench").send().await.expect("a stage").stage.expect("stage").arn;

    let gateway = spawn_gateway(&endpoint, &["--rate-limit", LIFTED]);
    let passthrough = spawn_role("passthrough", &endpoint, &arn);
    let memory = spawn_role("memory", &endpoint, &arn);
    let targets = [
        ("(a) SDK in-process", Target::Sdk(sdk.clone()), None, &arn),
        ("(b) gateway", Target::grpc(&gateway.address).await, Some(gateway.child.id()), &arn),
        ("(c) bare pass-through", Target::grpc(&passthrough.address).await, Some(passthrough.child.id()), &arn),
        ("(d) gRPC from memory", Target::grpc(&memory.address).await, Some(memory.child.id()), &arn),
        ("(e) IVS SDK in-process", Target::IvsSdk(ivs_sdk.clone()), None, &stage),
        ("(f) gateway, Stages", Target::stages(&gateway.address).await, Some(gateway.child.id()), &stage),
        ("(g) pass-through, Stages", Target::stages(&passthrough.address).await, Some(passthrough.child.id()), &stage),
    ];
    let mut measured: Vec<Measured> = targets
        .iter()
        .map(|(name, _, _, _)| Measured {
            name,
            latencies_ms: Vec::new(),
            rates: [Vec::new(), Vec::new()],
            cpu_us_per_call: None,
        })
        .collect();
    for (_, target, _, id) in &targets {
        target.latencies(id, WARMUP_CALLS).await;
    }
    let mut cpu = vec![(0.0, 0usize); targets.len()];
    for round in 1..=ROUNDS {
        eprintln!("round {round} of {ROUNDS}");
        for (((_, target, pid, id), m), cpu) in targets.iter().zip(&mut measured).zip(&mut cpu) {
            let cpu_before = pid.map(cpu_seconds);
            m.latencies_ms.extend(target.latencies(id, LATENCY_CALLS).await);
            let mut calls = LATENCY_CALLS;
            for (i, concurrency) in CONCURRENCY.iter().enumerate() {
                let (rate, done) = target.throughput(id, *concurrency, WINDOW).await;
                m.rates[i].push(rate);
                calls += done;
            }
            if let (Some(pid), Some(before)) = (pid, cpu_before) {
                *cpu = (cpu.0 + cpu_seconds(*pid) - before, cpu.1 + calls);
            }
        }
    }
    for (m, (seconds, calls)) in measured.iter_mut().zip(cpu) {
        m.cpu_us_per_call = (calls > 0).then(|| seconds / calls as f64 * 1e6);
    }
    drop((gateway, passthrough, memory));
    report_calls(&measured);

    let footprint = footprint(&endpoint, &sdk, &arn).await;
    let serving = time_to_serving(&endpoint).await;
    report_footprint(&footprint, &serving);
}

fn report_calls(m: &[Measured]) {
    println!(
        "\nGetStreamSession (a-d) and GetStage (e-g) against the emulator (AWS rate limits off), {ROUNDS} rounds:"
    );
    println!("{LATENCY_CALLS} calls back to back and {} s at each concurrency per round", WINDOW.as_secs());
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>12} {:>12} {:>12}",
        "", "p50 ms", "p90 ms", "p99 ms", "c16 calls/s", "c64 calls/s", "CPU us/call"
    );
    for v in m {
        let cpu = v.cpu_us_per_call.map_or_else(|| "-".to_string(), |us| format!("{us:.0}"));
        println!(
            "{:<24} {:>8.3} {:>8.3} {:>8.3} {:>12.0} {:>12.0} {:>12}",
            v.name,
            v.p(0.5),
            v.p(0.9),
            v.p(0.99),
            v.rate(0),
            v.rate(1),
            cpu
        );
    }
    report_ratios("StreamSessions", &m[0], &m[1], &m[2]);
    report_ratios("Stages", &m[4], &m[5], &m[6]);
    let (streams, stages) = ((&m[0], &m[1], &m[2]), (&m[4], &m[5], &m[6]));
    let added_ratio = |(sdk, gateway, passthrough): (&Measured, &Measured, &Measured)| {
        (gateway.p(0.5) - sdk.p(0.5)) / (passthrough.p(0.5) - sdk.p(0.5))
    };
    let cpu_ratio = |(_, gateway, passthrough): (&Measured, &Measured, &Measured)| {
        gateway.cpu_us_per_call.unwrap_or(f64::NAN) / passthrough.cpu_us_per_call.unwrap_or(f64::NAN)
    };
    println!("\nStages against StreamSessions (each: the gateway's figure / its pass-through's)");
    for (what, of) in [("added p50 latency", added_ratio as fn(_) -> f64), ("CPU per call", cpu_ratio)] {
        let (a, b) = (of(stages), of(streams));
        let ratio = a / b;
        println!(
            "  {what}: Stages {a:.2}, StreamSessions {b:.2}, Stages / StreamSessions {ratio:.2} (target 0.8-1.25) {}",
            verdict((0.8..=1.25).contains(&ratio))
        );
    }
}

/// The gateway's figures of one service against its SDK and its pass-through.
fn report_ratios(service: &str, sdk: &Measured, gateway: &Measured, passthrough: &Measured) {
    println!("\n{service}");
    let added = |v: &Measured, q: f64| v.p(q) - sdk.p(q);
    println!("added over the SDK in-process, ms   p50      p99");
    println!("  gateway                    {:>8.3} {:>8.3}", added(gateway, 0.5), added(gateway, 0.99));
    println!("  pass-through               {:>8.3} {:>8.3}", added(passthrough, 0.5), added(passthrough, 0.99));
    for (q, name) in [(0.5, "p50"), (0.99, "p99")] {
        let ratio = added(gateway, q) / added(passthrough, q);
        println!("gateway's added {name} / pass-through's: {ratio:.2} (target <= 1.25) {}", verdict(ratio <= 1.25));
    }
    for (i, concurrency) in CONCURRENCY.iter().enumerate() {
        let to_sdk = gateway.rate(i) / sdk.rate(i);
        let to_passthrough = gateway.rate(i) / passthrough.rate(i);
        println!(
            "throughput at c{concurrency}: gateway / SDK {to_sdk:.2}, gateway / pass-through {to_passthrough:.2} \
             (target >= 0.90) {}",
            verdict(to_passthrough >= 0.9)
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// The gateway's memory and size.
struct Footprint {
    idle_kib: u64,
    idle_embedded_kib: u64,
    after_calls_kib: u64,
    watching_kib: u64,
    watches: usize,
    binary_bytes: u64,
}

async fn footprint(endpoint: &str, sdk: &Client, arn: &str) -> Footprint {
    let embedded = {
        let mut command = Command::new(support::measured_gateway());
        command.args(["serve", "--emulator", "--listen", "127.0.0.1:0"]);
        announced(command, "gateway listening on ")
    };
    let gateway = spawn_gateway(endpoint, &["--rate-limit", LIFTED]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_embedded_kib = rss_kib(embedded.child.id());
    let idle_kib = rss_kib(gateway.child.id());
    drop(embedded);

    let target = Target::grpc(&gateway.address).await;
    let per_caller = FOOTPRINT_CALLS / CONCURRENCY[0];
    let callers: Vec<_> = (0..CONCURRENCY[0])
        .map(|_| {
            let (target, arn) = (target.clone(), arn.to_string());
            tokio::spawn(async move {
                for _ in 0..per_caller {
                    target.get(&arn).await;
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.expect("caller");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_calls_kib = rss_kib(gateway.child.id());

    let mut sessions = Vec::with_capacity(WATCH_SESSIONS);
    for _ in 0..WATCH_SESSIONS {
        sessions.push(start_session(sdk).await);
    }
    let watches = WATCH_SESSIONS * WATCHERS_PER_SESSION;
    let snapshots = open_watches(&gateway.address, &sessions).await;
    while snapshots.load(Ordering::Relaxed) < watches {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let watching_kib = rss_kib(gateway.child.id());
    let binary_bytes = std::fs::metadata(support::measured_gateway()).expect("gateway binary").len();
    Footprint { idle_kib, idle_embedded_kib, after_calls_kib, watching_kib, watches, binary_bytes }
}

/// Opens [`WATCHERS_PER_SESSION`] watches of each session; counts the
/// streams that received their first event.
async fn open_watches(url: &str, sessions: &[String]) -> Arc<AtomicUsize> {
    let mut channels = Vec::with_capacity(WATCH_CONNECTIONS);
    for _ in 0..WATCH_CONNECTIONS {
        channels.push(Endpoint::from_shared(url.to_string()).expect("URI").connect().await.expect("connect"));
    }
    let first_events = Arc::new(AtomicUsize::new(0));
    for (i, arn) in sessions.iter().enumerate() {
        for w in 0..WATCHERS_PER_SESSION {
            let channel = channels[(i * WATCHERS_PER_SESSION + w) % WATCH_CONNECTIONS].clone();
            let request = pb::WatchStreamSessionRequest {
                stream_group_identifier: GROUP.into(),
                stream_session_identifier: arn.clone(),
                ..Default::default()
            };
            let first_events = first_events.clone();
            tokio::spawn(async move {
                let mut client = StreamSessionsClient::new(channel);
                let mut events = client.watch_stream_session(request).await.expect("watch").into_inner();
                if let Ok(Some(_)) = events.message().await {
                    first_events.fetch_add(1, Ordering::Relaxed);
                }
                while let Ok(Some(_)) = events.message().await {}
            });
        }
    }
    first_events
}

/// Milliseconds from exec to a SERVING answer of `grpc.health.v1`, per start
/// (the gateway over `endpoint`, as in production: no emulator inside).
async fn time_to_serving(endpoint: &str) -> Vec<f64> {
    let mut out = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("port").port();
        let listen = format!("127.0.0.1:{port}");
        let mut command = Command::new(support::measured_gateway());
        command.args(["serve", "--listen", &listen, "--aws-endpoint-url", endpoint, "--aws-region", REGION]);
        let started = Instant::now();
        let gateway = spawn_silent(command);
        let url = format!("http://{listen}");
        loop {
            if let Ok(channel) = Endpoint::from_shared(url.clone()).expect("URI").connect().await {
                let answer = HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await;
                if answer.is_ok_and(|a| a.into_inner().status == 1) {
                    break;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(10), "the gateway never answered SERVING");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        out.push(started.elapsed().as_secs_f64() * 1000.0);
        drop(gateway);
    }
    out
}

fn report_footprint(f: &Footprint, serving: &[f64]) {
    let mib = |kib: u64| kib as f64 / 1024.0;
    println!("\ngateway footprint");
    println!(
        "  idle RSS: {:.1} MiB (target < 25 MB) {}; with the embedded emulator {:.1} MiB",
        mib(f.idle_kib),
        verdict(f.idle_kib * 1024 < 25_000_000),
        mib(f.idle_embedded_kib)
    );
    println!("  RSS after {FOOTPRINT_CALLS} calls: {:.1} MiB", mib(f.after_calls_kib));
    let per_watch = f.watching_kib.saturating_sub(f.after_calls_kib) as f64 / f.watches as f64;
    println!(
        "  RSS with {} open watches: {:.1} MiB, {per_watch:.2} KiB per watch (target < 4 KiB) {}",
        f.watches,
        mib(f.watching_kib),
        verdict(per_watch < 4.0)
    );
    println!("  binary: {:.1} MiB", f.binary_bytes as f64 / (1024.0 * 1024.0));
    let serving_ms = median(serving);
    println!(
        "  exec to SERVING, median of {STARTS} starts: {serving_ms:.1} ms (min {:.1}, max {:.1}; target < 100 ms) {}",
        percentile(serving, 0.0),
        percentile(serving, 1.0),
        verdict(serving_ms < 100.0)
    );
}
