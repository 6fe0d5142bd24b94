//! Fleet mode under faults, the Jepsen way. N sidecars (gateway processes)
//! share one `redis-server`, each through a proxy of its own, in front of one
//! emulator with AWS's quota on and a clock 4× real time. A workload of
//! starts with request_ids (some to two sidecars at once, some replayed, some
//! reused with other parameters, some of an unknown application),
//! reconnects, terminates, the simulated client's connects and disconnects,
//! and watches of sessions and of the group, runs above the quota at times,
//! while a nemesis follows a seeded schedule of Redis kills, freezes, flaps,
//! flushes, restarts from an older dump, slow replies, partitions, an
//! out-of-memory Redis and corrupted keys. Then Redis heals, each sidecar
//! must start a session again, every session is ended (the emulator's clock
//! moves past their length), the watchers get a bounded time to deliver the
//! ends, and the checker (`faults/checker.rs`, which knows nothing of the
//! workload) reads the recorded history with the emulator's record (client
//! tokens, sessions, per-second peaks) for violations.
//!
//! The short run is part of `cargo test --test fleet_faults` (a 30 s
//! schedule, about a minute in all, seed 1 so that CI replays the same
//! schedule; `GLS_FAULTS_SEED=random` draws one, printed first). Replay a
//! seed, or make a long run:
//!
//! ```text
//! GLS_FAULTS_SEED=1234 GLS_FAULTS_SECONDS=600 GLS_FAULTS_SIDECARS=4 \
//!     cargo test --test fleet_faults -- --nocapture the_fleet
//! ```
//!
//! (`--release` to run the sidecars as they ship. A 120 s schedule over 4
//! sidecars took 175 s in all on a 2-core machine; 600 s, about 12 minutes.)
//!
//! `GLS_FAULTS_NEMESIS=false` runs the same workload without any fault: a
//! control, for telling the faults' doing from the rest.
//!
//! Each run writes its schedule, the faults as they happened, the checker's
//! full report, the history and each sidecar's log to
//! `target/tmp/fleet-faults-SEED/`.

mod faults;
mod support;

/// The schedule the test command replays.
const DEFAULT_SEED: u64 = 1;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faults::checker::{self, Report};
use faults::history::{Answer, Call, History, Recorder, Target, Upstream};
use faults::nemesis::{Nemesis, Plan, TAG};
use faults::workload::{Workload, SESSION_LENGTH};
use gamelift_streams_gateway::emulator::{EmulatorConfig, AWS_RATE_LIMITS};
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::proto::v1::StreamSessionStatus as Status;
use gamelift_streams_gateway::sessions::idempotency::{Key, DEFAULT_NAMESPACE};
use reqwest::Method;
use support::process::{gateway_process, ChildProcess};
use support::proxy::{Mode, Proxy};
use support::redis::RedisServer;
use support::{harness_with, Harness};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::Channel;

/// Simulated seconds per real second: sessions activate in 1.25 s and, with
/// nobody connected, end within the run.
const TIME_SCALE: f64 = 4.0;
/// How long Redis's healing may take to reach every sidecar's starts.
const PROBE_WITHIN: Duration = Duration::from_secs(15);
/// How long the watchers get to deliver the end of every session: 30 s,
/// and a tenth of a long run (its group holds more sessions to list).
fn converge_within(seconds: f64) -> Duration {
    Duration::from_secs_f64(30.0 + seconds / 10.0)
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    let value = std::env::var(name).ok()?;
    Some(value.parse().unwrap_or_else(|_| panic!("{name}={value} is not a valid value")))
}

/// The ClientToken the sidecars send for a StartStreamSession request_id.
fn token_of(request_id: &str) -> String {
    Key::new(DEFAULT_NAMESPACE, "StartStreamSession", request_id).client_token()
}

/// An emulator with AWS's quota, room for every session, a fast clock.
async fn emulator() -> Harness {
    let mut config = EmulatorConfig { time_scale: TIME_SCALE, ..EmulatorConfig::default() };
    config.world.capacity = vec![(config.world.region.clone(), 100_000)];
    harness_with(config).await
}

/// A gateway process in the fleet, reaching Redis through `proxy`; a client of it.
async fn sidecar(h: &Harness, proxy: &Proxy) -> (ChildProcess, StreamSessionsClient<Channel>) {
    let redis_url = proxy.url();
    let (process, url) = gateway_process(&h.emulator.endpoint_url(), &["--redis-url", &redis_url]);
    process.wait_for_stderr("fleet mode on");
    (process, StreamSessionsClient::connect(url).await.expect("connect"))
}

/// Every session of the account and its status, read with
/// ListStreamSessionsByAccount (an operation the sidecars never call, so the
/// reading adds nothing to the peaks of theirs), a page every 60 ms (within
/// its quota), a throttled page again a second later.
async fn sessions_upstream(h: &Harness) -> BTreeMap<String, Status> {
    let mut sessions = BTreeMap::new();
    let (mut next, mut failures) = (None::<String>, 0);
    loop {
        let page =
            h.client.list_stream_sessions_by_account().max_results(100).set_next_token(next.clone()).send().await;
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                failures += 1;
                assert!(failures < 20, "ListStreamSessionsByAccount keeps failing: {e:?}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for s in page.items() {
            let status = s.status.as_ref().map(|s| s.as_str().to_string()).unwrap_or_default();
            let status = Status::from_str_name(&format!("STREAM_SESSION_STATUS_{status}"));
            sessions.insert(s.arn.clone().unwrap_or_default(), status.unwrap_or(Status::Unspecified));
        }
        next = page.next_token.clone();
        if next.is_none() {
            return sessions;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
}

/// What the emulator holds: `sessions`, the tokens, the peaks.
async fn upstream(h: &Harness, sessions: BTreeMap<String, Status>) -> Upstream {
    let (status, tokens) = h.admin(Method::GET, "client-tokens", None).await;
    assert_eq!(status, 200, "client-tokens: {tokens}");
    let tokens = serde_json::from_value(tokens).expect("{token: arn}");
    let (status, peaks) = h.admin(Method::GET, "calls/peaks", None).await;
    assert_eq!(status, 200, "peaks: {peaks}");
    let peaks = serde_json::from_value(peaks).expect("{operation: peak}");
    let ceilings = AWS_RATE_LIMITS.iter().map(|(op, rate)| (op.to_string(), *rate)).collect();
    Upstream { tokens, sessions, peaks, ceilings }
}

/// Watchers that have not delivered everything yet: session watchers whose
/// stream is still open, group streams whose latest status of a session is
/// not its final one. A wait condition, not a check: the checker decides.
fn unsettled(history: &History, sessions: &BTreeMap<String, Status>) -> usize {
    let mut last_of: HashMap<usize, usize> = HashMap::new();
    for (i, stream) in history.streams.iter().enumerate() {
        last_of.insert(stream.watcher, i);
    }
    last_of
        .values()
        .map(|&i| &history.streams[i])
        .filter(|stream| match &stream.target {
            // Open, or broken and about to be resumed.
            Target::Session(_) => stream.end.as_ref().is_none_or(|end| end.error.is_some()),
            Target::Group => {
                let mut latest: HashMap<&str, Status> = HashMap::new();
                for e in &stream.events {
                    latest.insert(&e.arn, e.status);
                }
                stream.end.is_none() && sessions.iter().any(|(arn, s)| latest.get(arn.as_str()) != Some(s))
            }
        })
        .count()
}

/// Waits until every watcher delivered everything, at most `bound`; how
/// long it took and how many were left.
async fn converge(recorder: &Recorder, sessions: &BTreeMap<String, Status>, bound: Duration) -> (Duration, usize) {
    let began = Instant::now();
    loop {
        let left = unsettled(&recorder.snapshot(), sessions);
        if left == 0 || began.elapsed() >= bound {
            return (began.elapsed(), left);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The answers of each operation, by outcome, for the summary.
fn tally(history: &History) -> String {
    let mut counts: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
    for op in &history.ops {
        let name = match op.call {
            Call::Start { .. } => "StartStreamSession",
            Call::Reconnect { .. } => "CreateStreamSessionConnection",
            Call::Terminate { .. } => "TerminateStreamSession",
        };
        let outcome = match &op.answer {
            Answer::Ok { .. } => "OK".to_string(),
            Answer::Err { code, reason, .. } => format!("{code:?} {reason}"),
        };
        *counts.entry(name).or_default().entry(outcome).or_default() += 1;
    }
    let mut out = String::new();
    for (name, outcomes) in counts {
        let total: usize = outcomes.values().sum();
        let each: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o}: {n}")).collect();
        let _ = writeln!(out, "  {name} {total} ({})", each.join(", "));
    }
    let (sessions, groups): (Vec<_>, Vec<_>) =
        history.streams.iter().partition(|s| matches!(s.target, Target::Session(_)));
    let events = |streams: &[&faults::history::Stream]| streams.iter().map(|s| s.events.len()).sum::<usize>();
    let _ = writeln!(
        out,
        "  watch streams: {} of sessions ({} events), {} of the group ({} events)",
        sessions.len(),
        events(&sessions),
        groups.len(),
        events(&groups)
    );
    out
}

/// The history, one line per call and per event, for the run's files.
fn dump(history: &History) -> String {
    let mut out = String::new();
    for f in &history.faults {
        let _ = writeln!(out, "fault {:.3}–{:.3} s {}", f.start, f.end, f.what);
    }
    let mut ops: Vec<_> = history.ops.iter().collect();
    ops.sort_by(|a, b| a.invoked.total_cmp(&b.invoked));
    for op in ops {
        let probe = if op.probe { " (probe)" } else { "" };
        let _ = writeln!(
            out,
            "call {:.3}–{:.3} s sidecar {} {:?}{probe} -> {}",
            op.invoked,
            op.completed,
            op.sidecar,
            op.call,
            op.answer.brief()
        );
    }
    for (i, s) in history.streams.iter().enumerate() {
        let _ = writeln!(
            out,
            "stream {i} watcher {} sidecar {} {:?} opened {:.3} s",
            s.watcher, s.sidecar, s.target, s.opened
        );
        for e in &s.events {
            let _ = writeln!(
                out,
                "  {:.3} {:?} {} {} updated {:?} revision {}",
                e.at,
                e.kind,
                e.arn,
                e.status.as_str_name(),
                e.last_updated_at,
                e.revision
            );
        }
        let _ = writeln!(out, "  end {:?}", s.end);
    }
    out
}

/// Writes the run's files; their directory.
fn keep(seed: u64, summary: &str, report: &Report, history: &History, sidecars: &[ChildProcess]) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fleet-faults-{seed}"));
    std::fs::create_dir_all(&dir).expect("run directory");
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).expect("run file");
    write("report.txt", &format!("{summary}\n{report}\nEvery violation:\n{}", report.full()));
    write("history.txt", &dump(history));
    let colours = regex::Regex::new("\x1b\\[[0-9;]*m").expect("pattern");
    for (i, process) in sidecars.iter().enumerate() {
        write(&format!("sidecar-{i}.log"), &colours.replace_all(&process.stderr(), ""));
    }
    dir
}

/// What a run runs on: the emulator, Redis, and per sidecar a proxy, a
/// gateway process and a client of it.
struct Fleet {
    h: Arc<Harness>,
    redis: RedisServer,
    proxies: Vec<Arc<Proxy>>,
    processes: Vec<ChildProcess>,
    clients: Vec<StreamSessionsClient<Channel>>,
}

/// `count` sidecars in one fleet, every one a member.
async fn fleet(count: usize) -> Fleet {
    let h = Arc::new(emulator().await);
    let redis = RedisServer::start_persistent();
    let (mut proxies, mut processes, mut clients) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..count {
        let proxy = Arc::new(Proxy::start(redis.port).await);
        let (process, client) = sidecar(&h, &proxy).await;
        proxies.push(proxy);
        processes.push(process);
        clients.push(client);
    }
    let members = redis.cli(&["ZCARD", &format!("{TAG}:members")]);
    assert_eq!(members, count.to_string(), "every sidecar joined");
    Fleet { h, redis, proxies, processes, clients }
}

/// What happened, for the output and the report file.
fn summary(replay: &str, plan: &Plan, history: &History, upstream: &Upstream, timeline: &str) -> String {
    let mut summary = format!("fleet faults: {replay}\n{plan}faults as they happened:\n");
    for f in &history.faults {
        let _ = writeln!(summary, "  {:6.2}–{:6.2} s  {}", f.start, f.end, f.what);
    }
    let _ = write!(summary, "calls:\n{}", tally(history));
    let (sessions, tokens, peaks) = (upstream.sessions.len(), upstream.tokens.len(), &upstream.peaks);
    let _ = writeln!(summary, "upstream: {sessions} sessions, {tokens} client tokens, peaks {peaks:?}\n{timeline}");
    summary
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_keeps_its_invariants_through_a_seeded_fault_schedule() {
    // The test command replays one schedule (reproducible CI); another
    // seed, or `GLS_FAULTS_SEED=random`, explores.
    let seed = match std::env::var("GLS_FAULTS_SEED").as_deref() {
        Ok("random") => rand::random::<u64>(),
        _ => env("GLS_FAULTS_SEED").unwrap_or(DEFAULT_SEED),
    };
    let seconds: f64 = env("GLS_FAULTS_SECONDS").unwrap_or(30.0);
    let count: usize = env("GLS_FAULTS_SIDECARS").unwrap_or(3);
    let faults: bool = env("GLS_FAULTS_NEMESIS").unwrap_or(true);
    let mut replay = format!("GLS_FAULTS_SEED={seed} GLS_FAULTS_SECONDS={seconds} GLS_FAULTS_SIDECARS={count}");
    let mut plan = Plan::new(seed, seconds, count);
    if !faults {
        replay.push_str(" GLS_FAULTS_NEMESIS=false");
        plan.steps.clear();
    }
    println!("fleet faults: {replay}\n{plan}");
    let Fleet { h, redis, proxies, processes, clients } = fleet(count).await;

    let began = Instant::now();
    let recorder = Recorder::new();
    let mut workload = Workload::new(clients, h.clone(), recorder.clone(), seed);
    workload.watch_the_group();
    // The proxies outlive the nemesis: the sidecars reach Redis through them to the end.
    let nemesis = Nemesis::new(redis, proxies.clone(), recorder.clone(), seed).start(plan.clone());
    workload.drive(seconds).await;
    workload.settle().await;
    let nemesis = tokio::task::spawn_blocking(move || nemesis.join()).await.expect("joined");
    let _redis = nemesis.unwrap_or_else(|_| panic!("the nemesis failed to carry out its plan ({replay})"));
    let healed = recorder.now();

    workload.probe(PROBE_WITHIN).await;
    h.emulator.advance_clock(f64::from(SESSION_LENGTH) * 2.0).expect("every session ends");
    let sessions = sessions_upstream(&h).await;
    let (took, left) = converge(&recorder, &sessions, converge_within(seconds)).await;
    workload.stop_watching().await;
    let upstream = upstream(&h, sessions).await;
    let history = recorder.snapshot();
    let report = checker::check(&history, &upstream, &token_of);

    let timeline = format!(
        "healed at {healed:.1} s; watchers converged in {:.1} s ({left} left); whole run {:.1} s",
        took.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    let summary = summary(&replay, &plan, &history, &upstream, &timeline);
    let dir = keep(seed, &summary, &report, &history, &processes);
    println!("{summary}\n{report}\nrun files: {}", dir.display());
    assert!(report.is_clean(), "{} violation(s) with {replay}; see {}", report.violations.len(), dir.display());
}

/// A PING through `stream`, waiting at most `within` for PONG.
async fn ping(stream: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    let sent = Instant::now();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").await.expect("sent");
    let mut reply = [0u8; 7];
    match tokio::time::timeout(within, stream.read_exact(&mut reply)).await {
        Ok(read) => {
            read.expect("read");
            assert_eq!(&reply, b"+PONG\r\n");
            Some(sent.elapsed())
        }
        Err(_) => None,
    }
}

#[tokio::test]
async fn the_proxy_delays_replies_and_holds_everything_through_a_partition() {
    let redis = RedisServer::start();
    let proxy = Proxy::start(redis.port).await;
    let address = proxy.url().trim_start_matches("redis://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let fast = ping(&mut stream, Duration::from_secs(5)).await.expect("PONG");
    assert!(fast < Duration::from_millis(200), "{fast:?}");

    proxy.set(Mode { reply_latency: Duration::from_millis(300), blackhole: false });
    let slow = ping(&mut stream, Duration::from_secs(5)).await.expect("PONG");
    assert!(slow >= Duration::from_millis(300), "{slow:?}");

    proxy.set(Mode { reply_latency: Duration::ZERO, blackhole: true });
    assert_eq!(ping(&mut stream, Duration::from_millis(500)).await, None, "nothing passes");
    let mut joining = tokio::net::TcpStream::connect(&address).await.expect("accepted");
    assert_eq!(ping(&mut joining, Duration::from_millis(300)).await, None, "a new connection waits too");
    proxy.heal();
    let mut held = [0u8; 7];
    stream.read_exact(&mut held).await.expect("what was held arrives");
    assert_eq!(&held, b"+PONG\r\n");
    assert!(ping(&mut joining, Duration::from_secs(5)).await.is_some(), "the waiting connection goes through");
}

#[test]
fn redis_goes_back_in_time_from_a_dump_and_takes_corrupted_values() {
    let mut redis = RedisServer::start_persistent();
    redis.cli(&["SET", "k", "1"]);
    let dump = redis.save();
    redis.cli(&["SET", "k", "2"]);
    redis.restart_from(&dump);
    assert_eq!(redis.cli(&["GET", "k"]), "1", "back to the dump");
    redis.restart();
    assert_eq!(redis.keys("*"), Vec::<String>::new(), "restarted empty");

    redis.cli(&["HSET", "pace", "rate", "20"]);
    redis.out_of_memory(true);
    assert!(redis.cli(&["SET", "k", "3"]).starts_with("OOM"), "writes refused");
    redis.out_of_memory(false);
    assert_eq!(redis.cli(&["SET", "k", "3"]), "OK");

    redis.corrupt_field("pace", "rate", b"nan").expect("corrupted");
    assert_eq!(redis.cli(&["HGET", "pace", "rate"]), "nan");
    redis.corrupt_field("pace", "out", b"\xff\x00").expect("binary");
    assert_eq!(redis.cli(&["HSTRLEN", "pace", "out"]), "2");
    redis.corrupt_type("pace").expect("retyped");
    assert_eq!(redis.cli(&["TYPE", "pace"]), "string");
    redis.corrupt_type("k").expect("retyped");
    assert_eq!(redis.cli(&["TYPE", "k"]), "list");
    redis.flushall();
    assert!(redis.keys("*").is_empty());
}
