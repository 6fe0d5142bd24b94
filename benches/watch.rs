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

use gamelift_streams_gateway::proto::v1 as pb;
use rand::SeedableRng;
use tokio::sync::mpsc;
use tokio::time::Instant;

use support::watchers::{
    self, emulator_with_sessions, subscribe, wait_for, LIST_BUDGET, PAGE, SESSIONS, WATCHERS_PER_SESSION,
};
use support::{median, percentile, rss_kib, spawn_gateway};

/// How long status changes are made and measured, per run.
const WINDOW: Duration = Duration::from_secs(40);

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
    subscribe(&[url], &arns, tx).await;
    wait_for(&mut rx, pb::StreamSessionEventKind::Snapshot, SESSIONS * WATCHERS_PER_SESSION).await;
    let snapshot_seconds = subscribing.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_watching_kib = rss_kib(gateway.child.id());

    let window = watchers::changes(&emulator, &arns, &mut rx, rng, WINDOW).await;
    drop(gateway);
    emulator.shutdown().await;
    Outcome {
        name,
        snapshot_seconds,
        rss_idle_kib,
        rss_watching_kib,
        calls_per_second: window.calls_per_second,
        first_watcher_ms: window.first_watcher_ms,
        last_watcher_ms: window.last_watcher_ms,
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
    let optimum_ms = watchers::optimum_ms();
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
