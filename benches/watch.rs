//! 10,000 watchers on 1,000 sessions: what the gateway spends upstream, what
//! it holds in memory, and how long a status change takes to reach the
//! watchers, against the optimum the poll budget allows.
//!
//! Each run starts an emulator in this process (AWS's rate limits, except
//! GetStreamSession raised to 100/s so the 1,000 first snapshots take seconds
//! rather than minutes), 1,000 ACTIVE sessions in one stream group, and the
//! gateway binary as a child process. 10,000 WatchStreamSession streams (10
//! per session, over 20 HTTP/2 connections) subscribe; then, for a while,
//! a client connects to a random ACTIVE session at random moments, and the
//! delay from that change in the emulator to each watcher's CHANGE event is
//! recorded. Upstream calls are counted by the emulator over the same window;
//! memory is the child's resident set (VmRSS), before and after subscribing.
//!
//! Two runs: the default intervals (ACTIVE sessions read every 2 s) and a
//! budget-bound configuration (every interval 0.1 s, so only the poll budget
//! paces the poller). The poll budget is share × ceiling = 0.5 × 20 = 10
//! ListStreamSessions calls/s; 1,000 sessions are 10 pages, so at best the
//! whole group is read once a second and a change waits half a second on
//! median: that is the optimum the delays are compared with.
//!
//! Run: `cargo bench --bench watch` (about 3 minutes).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use gamelift_streams_gateway::emulator::{self, EmulatorConfig, EmulatorHandle, SEEDED_STREAM_GROUP_ID as GROUP};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use support::{median, percentile, rss_kib, sdk_client, spawn_gateway, start_session};

const SESSIONS: usize = 1_000;
const WATCHERS_PER_SESSION: usize = 10;
const CONNECTIONS: usize = 20;
/// How long status changes are made and measured, per run.
const WINDOW: Duration = Duration::from_secs(40);
/// The poll budget of ListStreamSessions: share × AWS's ceiling.
const LIST_BUDGET: f64 = 0.5 * 20.0;
/// Sessions per ListStreamSessions page.
const PAGE: usize = 100;

/// One watcher's event: which session, which status, when it arrived.
struct Seen {
    session: usize,
    kind: pb::StreamSessionEventKind,
    status: pb::StreamSessionStatus,
    at: Instant,
}

/// What one run measured.
struct Outcome {
    name: &'static str,
    snapshot_seconds: f64,
    rss_idle_kib: u64,
    rss_watching_kib: u64,
    calls_per_second: BTreeMap<String, f64>,
    first_watcher_ms: Vec<f64>,
    last_watcher_ms: Vec<f64>,
}

/// An emulator with room for every session, AWS's rate limits on the polled
/// operations, and 1,000 ACTIVE sessions. Returns the sessions' ARNs.
async fn emulator_with_sessions() -> (EmulatorHandle, Vec<String>) {
    let mut config = EmulatorConfig::default();
    config.world.capacity = vec![(config.world.region.clone(), SESSIONS as u32)];
    config.rate_limits.remove("StartStreamSession");
    config.rate_limits.insert("GetStreamSession".into(), 100.0);
    let emulator = emulator::start("127.0.0.1:0".parse().expect("address"), config).await.expect("emulator");
    let client = sdk_client(&emulator.endpoint_url());
    let mut arns = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        arns.push(start_session(&client).await);
    }
    emulator.advance_clock(10.0).expect("clock advanced");
    (emulator, arns)
}

/// Opens 10 watches per session; every event goes to `seen`.
async fn subscribe(url: &str, arns: &[String], seen: mpsc::UnboundedSender<Seen>) {
    let mut channels: Vec<Channel> = Vec::new();
    for _ in 0..CONNECTIONS {
        channels.push(Endpoint::from_shared(url.to_string()).expect("URI").connect().await.expect("connect"));
    }
    for (i, arn) in arns.iter().enumerate() {
        for w in 0..WATCHERS_PER_SESSION {
            let mut client = StreamSessionsClient::new(channels[(i * WATCHERS_PER_SESSION + w) % CONNECTIONS].clone());
            let request = pb::WatchStreamSessionRequest {
                stream_group_identifier: GROUP.into(),
                stream_session_identifier: arn.clone(),
                resume_token: String::new(),
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut events = client.watch_stream_session(request).await.expect("watch").into_inner();
                while let Ok(Some(event)) = events.message().await {
                    let status = event.stream_session.as_ref().map(|s| s.status()).unwrap_or_default();
                    let kind = event.kind();
                    if seen.send(Seen { session: i, kind, status, at: Instant::now() }).is_err() {
                        break;
                    }
                }
            });
        }
    }
}

/// Waits for `count` events of `kind`.
async fn wait_for(rx: &mut mpsc::UnboundedReceiver<Seen>, kind: pb::StreamSessionEventKind, count: usize) {
    let mut got = 0;
    while got < count {
        let event = tokio::time::timeout(Duration::from_secs(300), rx.recv()).await.expect("events keep coming");
        if event.expect("watchers alive").kind == kind {
            got += 1;
        }
    }
}

async fn run(name: &'static str, extra: &[&str], rng: &mut rand::rngs::StdRng) -> Outcome {
    let (emulator, arns) = emulator_with_sessions().await;
    let mut extra = extra.to_vec();
    extra.extend(["--rate-limit", "GetStreamSession=100"]);
    let gateway = spawn_gateway(&emulator.endpoint_url(), &extra);
    let url = gateway.address.clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_kib = rss_kib(gateway.child.id());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let subscribing = Instant::now();
    subscribe(&url, &arns, tx).await;
    wait_for(&mut rx, pb::StreamSessionEventKind::Snapshot, SESSIONS * WATCHERS_PER_SESSION).await;
    let snapshot_seconds = subscribing.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_watching_kib = rss_kib(gateway.child.id());

    let http = reqwest::Client::new();
    let before = emulator.calls();
    let window_start = Instant::now();
    let mut changed: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut arrivals: BTreeMap<usize, Vec<Instant>> = BTreeMap::new();
    let mut order: Vec<usize> = (0..SESSIONS).collect();
    order.shuffle(rng);
    let mut next = order.into_iter();
    while window_start.elapsed() < WINDOW {
        let pause = Duration::from_millis(rng.random_range(100..900));
        let until = Instant::now() + pause;
        while let Ok(Some(event)) = tokio::time::timeout_at(until, rx.recv()).await {
            if event.kind == pb::StreamSessionEventKind::Change && event.status == pb::StreamSessionStatus::Connected {
                arrivals.entry(event.session).or_default().push(event.at);
            }
        }
        let session = next.next().expect("an ACTIVE session left");
        let id = arns[session].rsplit('/').next().expect("id");
        let at = Instant::now();
        let url = format!("{}/_emulator/sessions/{id}/connect", emulator.endpoint_url());
        let response = http.post(url).send().await.expect("admin connect");
        assert!(response.status().is_success(), "connect: {}", response.status());
        changed.insert(session, at);
    }
    let window = window_start.elapsed().as_secs_f64();
    let after = emulator.calls();
    let drain_until = Instant::now() + Duration::from_secs(30);
    while arrivals.values().filter(|a| a.len() == WATCHERS_PER_SESSION).count() < changed.len() {
        let Ok(Some(event)) = tokio::time::timeout_at(drain_until, rx.recv()).await else { break };
        if event.kind == pb::StreamSessionEventKind::Change && event.status == pb::StreamSessionStatus::Connected {
            arrivals.entry(event.session).or_default().push(event.at);
        }
    }

    let mut calls_per_second = BTreeMap::new();
    for (op, outcomes) in &after {
        for (outcome, count) in outcomes {
            let earlier = before.get(op).and_then(|o| o.get(outcome)).copied().unwrap_or(0);
            if count > &earlier {
                calls_per_second.insert(format!("{op} {outcome}"), (count - earlier) as f64 / window);
            }
        }
    }
    let (mut first_watcher_ms, mut last_watcher_ms) = (Vec::new(), Vec::new());
    for (session, at) in &changed {
        let seen = arrivals.get(session).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(seen.len(), WATCHERS_PER_SESSION, "every watcher of session {session} saw it connect");
        let delay = |t: &Instant| t.duration_since(*at).as_secs_f64() * 1000.0;
        first_watcher_ms.push(seen.iter().map(delay).fold(f64::INFINITY, f64::min));
        last_watcher_ms.push(seen.iter().map(delay).fold(0.0, f64::max));
    }
    drop(gateway);
    emulator.shutdown().await;
    Outcome {
        name,
        snapshot_seconds,
        rss_idle_kib,
        rss_watching_kib,
        calls_per_second,
        first_watcher_ms,
        last_watcher_ms,
    }
}

fn report(o: &Outcome, optimum_ms: f64) {
    let watchers = SESSIONS * WATCHERS_PER_SESSION;
    println!("\n{} ({} status changes over {} s)", o.name, o.first_watcher_ms.len(), WINDOW.as_secs());
    println!("  first snapshots for {watchers} watchers: {:.1} s", o.snapshot_seconds);
    let grown = o.rss_watching_kib.saturating_sub(o.rss_idle_kib);
    println!(
        "  gateway RSS: {:.1} MiB idle, {:.1} MiB watching ({:.1} KiB per watcher)",
        o.rss_idle_kib as f64 / 1024.0,
        o.rss_watching_kib as f64 / 1024.0,
        grown as f64 / watchers as f64
    );
    for (call, rate) in &o.calls_per_second {
        println!("  upstream {call}: {rate:.2}/s");
    }
    let first = median(&o.first_watcher_ms);
    let last = median(&o.last_watcher_ms);
    println!(
        "  delay change → event, median: first watcher {first:.0} ms, last of 10 {last:.0} ms (p90 {:.0} ms)",
        percentile(&o.last_watcher_ms, 0.9)
    );
    println!("  ratio to the optimum ({optimum_ms:.0} ms): {:.2}", last / optimum_ms);
}

#[tokio::main]
async fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let sweep_seconds = (SESSIONS / PAGE) as f64 / LIST_BUDGET;
    let optimum_ms = sweep_seconds / 2.0 * 1000.0;
    println!(
        "{SESSIONS} sessions, {} watchers; poll budget {LIST_BUDGET} ListStreamSessions/s, {} pages a sweep",
        SESSIONS * WATCHERS_PER_SESSION,
        SESSIONS / PAGE
    );
    println!("optimum: one sweep every {sweep_seconds:.1} s, median delay {optimum_ms:.0} ms");
    let default = run("default intervals", &[], &mut rng).await;
    let fast = [
        "--watch-fast-interval-seconds=0.1",
        "--watch-normal-interval-seconds=0.1",
        "--watch-slow-interval-seconds=0.1",
    ];
    let bound = run("budget-bound (every interval 0.1 s)", &fast, &mut rng).await;
    report(&default, optimum_ms);
    report(&bound, optimum_ms);
    let list_calls = |o: &Outcome| o.calls_per_second.get("ListStreamSessions Success").copied().unwrap_or(0.0);
    println!(
        "\nratio of ListStreamSessions calls/s, default / budget-bound: {:.2}",
        list_calls(&default) / list_calls(&bound)
    );
}
