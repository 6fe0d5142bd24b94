//! What the watch benchmarks share: an emulator with 1,000 ACTIVE sessions
//! and AWS's limits, WatchStreamSession streams (BASIC, then FULL) spread over
//! gateways with how long their first events took against the optimum the
//! quota allows, and a window in which a client connects to random sessions
//! at random moments while the delay from each change to each watcher's
//! CHANGE event and the upstream calls are measured.

use std::collections::BTreeMap;
use std::time::Duration;

use gamelift_streams_gateway::emulator::{self, EmulatorConfig, EmulatorHandle, SEEDED_STREAM_GROUP_ID as GROUP};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::proto::v1::WatchResponse;
use rand::seq::SliceRandom;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use super::{sdk_client, start_session};

pub const SESSIONS: usize = 1_000;
/// Watchers per session in each view.
pub const WATCHERS_PER_VIEW: usize = 5;
/// Watchers per session: BASIC and FULL.
pub const WATCHERS_PER_SESSION: usize = 2 * WATCHERS_PER_VIEW;
/// HTTP/2 connections per gateway.
const CONNECTIONS: usize = 20;
/// The poll budget at AWS's ceiling (20/s per operation) while no caller
/// wants a slot: polls take all of it.
pub const POLL_BUDGET: f64 = 20.0;
/// Sessions per ListStreamSessions page.
pub const PAGE: usize = 100;

/// One watcher's event: which session, which status, when it arrived.
pub struct Seen {
    pub session: usize,
    pub kind: pb::StreamSessionEventKind,
    pub status: pb::StreamSessionStatus,
    pub at: Instant,
}

/// The best median delay the poll budget allows: the whole group is read in
/// one sweep of its pages, and a change waits half a sweep on median.
pub fn optimum_ms() -> f64 {
    (SESSIONS / PAGE) as f64 / POLL_BUDGET / 2.0 * 1000.0
}

/// The soonest every watcher of `view` can have its first event: the
/// group's pages (BASIC), or one GetStreamSession per session (FULL), at the
/// poll budget.
pub fn first_events_optimum_seconds(view: pb::StreamSessionView) -> f64 {
    let reads = if view == pb::StreamSessionView::Basic { SESSIONS.div_ceil(PAGE) } else { SESSIONS };
    reads as f64 / POLL_BUDGET
}

/// An emulator with room for every session, AWS's rate limits on the polled
/// operations, and 1,000 ACTIVE sessions. Returns the sessions' ARNs.
pub async fn emulator_with_sessions() -> (EmulatorHandle, Vec<String>) {
    let mut config = EmulatorConfig::default();
    config.world.capacity = vec![(config.world.region.clone(), SESSIONS as u32)];
    config.rate_limits.remove("StartStreamSession");
    let emulator = emulator::start("127.0.0.1:0".parse().expect("address"), config).await.expect("emulator");
    let client = sdk_client(&emulator.endpoint_url());
    let mut arns = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        arns.push(start_session(&client).await);
    }
    emulator.advance_clock(10.0).expect("clock advanced");
    (emulator, arns)
}

/// Opens [`WATCHERS_PER_VIEW`] watches of `view` per session, the n-th
/// watch of all on gateway n mod their number; every event goes to `seen`.
pub async fn subscribe(
    urls: &[String],
    arns: &[String],
    view: pb::StreamSessionView,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let mut channels: Vec<Vec<Channel>> = Vec::new();
    for url in urls {
        let mut own = Vec::new();
        for _ in 0..CONNECTIONS {
            own.push(Endpoint::from_shared(url.clone()).expect("URI").connect().await.expect("connect"));
        }
        channels.push(own);
    }
    for (i, arn) in arns.iter().enumerate() {
        for w in 0..WATCHERS_PER_VIEW {
            let n = i * WATCHERS_PER_VIEW + w;
            let gateway = &channels[n % urls.len()];
            let mut client = StreamSessionsClient::new(gateway[(n / urls.len()) % CONNECTIONS].clone());
            let request = pb::WatchStreamSessionRequest {
                stream_group_identifier: GROUP.into(),
                stream_session_identifier: arn.clone(),
                view: view.into(),
                ..Default::default()
            };
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut events = client.watch_stream_session(request).await.expect("watch").into_inner();
                while let Ok(Some(event)) = events.message().await.map(|m| m.map(WatchResponse::into_event)) {
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

/// Opens the watches of `view` (see [`subscribe`]) and waits for every
/// first event; how long that took, in seconds.
pub async fn first_events(
    urls: &[String],
    arns: &[String],
    view: pb::StreamSessionView,
    seen: &mpsc::UnboundedSender<Seen>,
    rx: &mut mpsc::UnboundedReceiver<Seen>,
) -> f64 {
    let subscribing = Instant::now();
    subscribe(urls, arns, view, seen.clone()).await;
    wait_for(rx, pb::StreamSessionEventKind::Snapshot, SESSIONS * WATCHERS_PER_VIEW).await;
    subscribing.elapsed().as_secs_f64()
}

/// Prints how long the first events of each view took, the optimum and their ratio.
pub fn report_first_events(basic_seconds: f64, full_seconds: f64) {
    for (view, seconds) in [(pb::StreamSessionView::Basic, basic_seconds), (pb::StreamSessionView::Full, full_seconds)]
    {
        let optimum = first_events_optimum_seconds(view);
        println!(
            "  first events, {} {} watchers: {seconds:.2} s, optimum {optimum:.2} s, ratio {:.2}",
            SESSIONS * WATCHERS_PER_VIEW,
            view.as_str_name().trim_start_matches("STREAM_SESSION_VIEW_"),
            seconds / optimum
        );
    }
}

/// Waits for `count` events of `kind`.
pub async fn wait_for(rx: &mut mpsc::UnboundedReceiver<Seen>, kind: pb::StreamSessionEventKind, count: usize) {
    let mut got = 0;
    while got < count {
        let event = tokio::time::timeout(Duration::from_secs(300), rx.recv()).await.expect("events keep coming");
        if event.expect("watchers alive").kind == kind {
            got += 1;
        }
    }
}

/// What a window of changes measured.
pub struct Window {
    /// Seconds the window lasted.
    pub seconds: f64,
    /// Upstream calls per second by "operation outcome".
    pub calls_per_second: BTreeMap<String, f64>,
    /// Per changed session: the delay to its first and its last watcher, ms.
    pub first_watcher_ms: Vec<f64>,
    pub last_watcher_ms: Vec<f64>,
}

/// For `length`, connects a client to a random ACTIVE session every 100 to
/// 900 ms, and measures until every watcher saw each change (30 s at most).
pub async fn changes(
    emulator: &EmulatorHandle,
    arns: &[String],
    rx: &mut mpsc::UnboundedReceiver<Seen>,
    rng: &mut rand::rngs::StdRng,
    length: Duration,
) -> Window {
    let http = reqwest::Client::new();
    let before = emulator.calls();
    let window_start = Instant::now();
    let mut changed: BTreeMap<usize, Instant> = BTreeMap::new();
    let mut arrivals: BTreeMap<usize, Vec<Instant>> = BTreeMap::new();
    let mut order: Vec<usize> = (0..arns.len()).collect();
    order.shuffle(rng);
    let mut next = order.into_iter();
    let note = |event: Seen, arrivals: &mut BTreeMap<usize, Vec<Instant>>| {
        if event.kind == pb::StreamSessionEventKind::Change && event.status == pb::StreamSessionStatus::Connected {
            arrivals.entry(event.session).or_default().push(event.at);
        }
    };
    while window_start.elapsed() < length {
        let until = Instant::now() + Duration::from_millis(rng.random_range(100..900));
        while let Ok(Some(event)) = tokio::time::timeout_at(until, rx.recv()).await {
            note(event, &mut arrivals);
        }
        let session = next.next().expect("an ACTIVE session left");
        let id = arns[session].rsplit('/').next().expect("id");
        let at = Instant::now();
        let url = format!("{}/_emulator/sessions/{id}/connect", emulator.endpoint_url());
        let response = http.post(url).send().await.expect("admin connect");
        assert!(response.status().is_success(), "connect: {}", response.status());
        changed.insert(session, at);
    }
    let seconds = window_start.elapsed().as_secs_f64();
    let after = emulator.calls();
    let drain_until = Instant::now() + Duration::from_secs(30);
    while arrivals.values().filter(|a| a.len() == WATCHERS_PER_SESSION).count() < changed.len() {
        let Ok(Some(event)) = tokio::time::timeout_at(drain_until, rx.recv()).await else { break };
        note(event, &mut arrivals);
    }
    let mut calls_per_second = BTreeMap::new();
    for (op, outcomes) in &after {
        for (outcome, count) in outcomes {
            let earlier = before.get(op).and_then(|o| o.get(outcome)).copied().unwrap_or(0);
            if count > &earlier {
                calls_per_second.insert(format!("{op} {outcome}"), (count - earlier) as f64 / seconds);
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
    Window { seconds, calls_per_second, first_watcher_ms, last_watcher_ms }
}
