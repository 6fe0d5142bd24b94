//! 10,000 watchers on 1,000 sessions at AWS's limits: how long their first
//! events take in each view, what the gateway spends upstream, what it holds
//! in memory, and how long a status change takes to reach the watchers, each
//! against the optimum the quota allows.
//!
//! Each run starts an emulator in this process (AWS's rate limits: 20 calls/s
//! per operation), 1,000 ACTIVE sessions in one stream group, and the gateway
//! binary as a child process. First 5,000 BASIC WatchStreamSession streams
//! (5 per session, over 20 HTTP/2 connections) open at once, and the time
//! until every one has its first event is measured: the optimum is the
//! group's 10 ListStreamSessions pages at 20/s, 0.5 s. Then 5,000 FULL
//! streams open: the optimum is one GetStreamSession per session at 20/s,
//! 50 s. Then, for a while, a client connects to a random ACTIVE session at
//! random moments, and the delay from that change in the emulator to each
//! watcher's CHANGE event is recorded. Upstream calls are counted by the
//! emulator over the same window; memory is the child's resident set (VmRSS),
//! before and after subscribing.
//!
//! Two runs: the default intervals (ACTIVE sessions read every 2 s) and a
//! budget-bound configuration (every interval 0.1 s, so only the quota paces
//! the poller). Polls take every send slot no caller wants: 20
//! ListStreamSessions calls/s, so at best the 10 pages of the group are read
//! every half second and a change waits a quarter of a second on median: the
//! optimum the delays are compared with.
//!
//! Run: `cargo bench --bench watch` (about 4 minutes).

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use gamelift_streams_gateway::proto::v1 as pb;
use rand::SeedableRng;
use tokio::sync::mpsc;

use support::watchers::{self, emulator_with_sessions, first_events, POLL_BUDGET, SESSIONS, WATCHERS_PER_SESSION};
use support::{median, percentile, rss_kib, spawn_gateway};

/// How long status changes are made and measured, per run.
const WINDOW: Duration = Duration::from_secs(40);

/// What one run measured.
struct Outcome {
    name: &'static str,
    basic_seconds: f64,
    full_seconds: f64,
    rss_idle_kib: u64,
    rss_watching_kib: u64,
    calls_per_second: BTreeMap<String, f64>,
    first_watcher_ms: Vec<f64>,
    last_watcher_ms: Vec<f64>,
}

async fn run(name: &'static str, extra: &[&str], rng: &mut rand::rngs::StdRng) -> Outcome {
    let (emulator, arns) = emulator_with_sessions().await;
    let gateway = spawn_gateway(&emulator.endpoint_url(), extra);
    let urls = [gateway.address.clone()];
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_kib = rss_kib(gateway.child.id());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let basic_seconds = first_events(&urls, &arns, pb::StreamSessionView::Basic, &tx, &mut rx).await;
    let full_seconds = first_events(&urls, &arns, pb::StreamSessionView::Full, &tx, &mut rx).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_watching_kib = rss_kib(gateway.child.id());

    let window = watchers::changes(&emulator, &arns, &mut rx, rng, WINDOW).await;
    drop(gateway);
    emulator.shutdown().await;
    Outcome {
        name,
        basic_seconds,
        full_seconds,
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
    watchers::report_first_events(o.basic_seconds, o.full_seconds);
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
    println!(
        "  delay change → event, median: first watcher {:.0} ms; last of {WATCHERS_PER_SESSION} p90 {:.0} ms",
        median(&o.first_watcher_ms),
        percentile(&o.last_watcher_ms, 0.9)
    );
    let last = median(&o.last_watcher_ms);
    println!(
        "  change → last watcher, median: {last:.0} ms, optimum {optimum_ms:.0} ms, ratio {:.2}",
        last / optimum_ms
    );
}

#[tokio::main]
async fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let optimum_ms = watchers::optimum_ms();
    println!(
        "{SESSIONS} sessions, {} watchers (half BASIC, half FULL); AWS's limits: polls up to {POLL_BUDGET} calls/s",
        SESSIONS * WATCHERS_PER_SESSION
    );
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
