//! Fleet mode at scale, at AWS's limits: 1,000 sessions, 10,000 watchers
//! (5 BASIC and 5 FULL per session), first on one sidecar, then spread over
//! 8 sidecars with `--redis-url` (every sidecar watches every session), in
//! the same run against the same emulator setup (AWS's rate limits: 20
//! calls/s per operation, for the whole fleet).
//!
//! For each: how long the first events of each view took against the optimum
//! the quota allows (the group's 10 pages for BASIC, one GetStreamSession per
//! session for FULL, at 20 calls/s), upstream calls/s per operation and
//! outcome (throttled calls included), the delay from a status change (a
//! client connects to a random session every 100 to 900 ms) to each
//! watcher's CHANGE event against the optimum, Redis commands per second, and
//! each sidecar's resident memory. The fleet's delay to the last watcher is
//! compared with the one sidecar's: a change one sidecar reads is pushed to
//! the others' watchers.
//!
//! Run: `cargo bench --bench fleet` (about 10 minutes after the build; needs `redis-server`).

mod support;

use std::time::Duration;

use gamelift_streams_gateway::proto::v1 as pb;
use rand::SeedableRng;
use tokio::sync::mpsc;

use support::redis::RedisServer;
use support::watchers::{self, emulator_with_sessions, first_events, Window, SESSIONS, WATCHERS_PER_SESSION};
use support::{median, percentile, rss_kib, spawn_gateway};

const SIDECARS: usize = 8;
/// How long status changes are made and measured, per run.
const WINDOW: Duration = Duration::from_secs(30);

/// What one run measured.
struct Outcome {
    name: &'static str,
    basic_seconds: f64,
    full_seconds: f64,
    rss_kib: Vec<u64>,
    window: Window,
    redis_commands_per_second: Option<f64>,
}

fn redis_commands(redis: &RedisServer) -> u64 {
    let stats = redis.cli(&["INFO", "stats"]);
    let line = stats.lines().find_map(|l| l.strip_prefix("total_commands_processed:")).expect("INFO stats");
    line.trim().parse().expect("a count")
}

async fn run(
    name: &'static str,
    sidecars: usize,
    redis: Option<&RedisServer>,
    rng: &mut rand::rngs::StdRng,
) -> Outcome {
    let (emulator, arns) = emulator_with_sessions().await;
    let mut extra = Vec::new();
    if let Some(redis) = redis {
        redis.cli(&["FLUSHALL"]);
        extra.extend(["--redis-url".to_string(), redis.url()]);
    }
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let sidecars: Vec<_> = (0..sidecars).map(|_| spawn_gateway(&emulator.endpoint_url(), &extra)).collect();
    let urls: Vec<String> = sidecars.iter().map(|s| s.address.clone()).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let basic_seconds = first_events(&urls, &arns, pb::StreamSessionView::Basic, &tx, &mut rx).await;
    let full_seconds = first_events(&urls, &arns, pb::StreamSessionView::Full, &tx, &mut rx).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let commands_before = redis.map(redis_commands);
    let window = watchers::changes(&emulator, &arns, &mut rx, rng, WINDOW).await;
    let redis_commands_per_second =
        redis.zip(commands_before).map(|(r, before)| (redis_commands(r) - before) as f64 / window.seconds);
    let rss_kib = sidecars.iter().map(|s| rss_kib(s.child.id())).collect();
    drop(sidecars);
    emulator.shutdown().await;
    Outcome { name, basic_seconds, full_seconds, rss_kib, window, redis_commands_per_second }
}

fn report(o: &Outcome, optimum_ms: f64) {
    let w = &o.window;
    println!("\n{} ({} status changes over {:.0} s)", o.name, w.first_watcher_ms.len(), w.seconds);
    watchers::report_first_events(o.basic_seconds, o.full_seconds);
    for (call, rate) in &w.calls_per_second {
        println!("  upstream {call}: {rate:.2}/s");
    }
    let last = median(&w.last_watcher_ms);
    println!(
        "  delay change → event, median: first watcher {:.0} ms, last of 10 {last:.0} ms (p90 {:.0} ms); ratio to the optimum ({optimum_ms:.0} ms): {:.2}",
        median(&w.first_watcher_ms),
        percentile(&w.last_watcher_ms, 0.9),
        last / optimum_ms
    );
    if let Some(rate) = o.redis_commands_per_second {
        println!("  Redis commands: {rate:.0}/s");
    }
    let mib: Vec<f64> = o.rss_kib.iter().map(|k| *k as f64 / 1024.0).collect();
    println!("  sidecar RSS: median {:.1} MiB, largest {:.1} MiB", median(&mib), percentile(&mib, 1.0));
}

/// Upstream polls per second (GetStreamSession and ListStreamSessions, every outcome).
fn polls(o: &Outcome) -> f64 {
    o.window.calls_per_second.iter().filter(|(call, _)| call.contains("StreamSession")).map(|(_, rate)| rate).sum()
}

fn throttled(o: &Outcome) -> f64 {
    let rates = o.window.calls_per_second.iter().filter(|(call, _)| call.ends_with("ThrottlingException"));
    rates.map(|(_, rate)| rate).fold(0.0, |sum, rate| sum + rate)
}

#[tokio::main]
async fn main() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let optimum_ms = watchers::optimum_ms();
    println!(
        "{SIDECARS} sidecars, {SESSIONS} sessions, {} watchers spread over them; optimum median delay {optimum_ms:.0} ms",
        SESSIONS * WATCHERS_PER_SESSION
    );
    let one = run("one sidecar", 1, None, &mut rng).await;
    let redis = RedisServer::start();
    let fleet = run("8 sidecars in fleet mode (--redis-url)", SIDECARS, Some(&redis), &mut rng).await;
    report(&one, optimum_ms);
    report(&fleet, optimum_ms);
    println!("\nupstream polls/s, fleet / one sidecar: {:.2}", polls(&fleet) / polls(&one));
    println!("throttled calls/s: one sidecar {:.2}, fleet {:.2}", throttled(&one), throttled(&fleet));
    println!(
        "median delay change → last watcher, fleet / one sidecar: {:.2}",
        median(&fleet.window.last_watcher_ms) / median(&one.window.last_watcher_ms)
    );
}
