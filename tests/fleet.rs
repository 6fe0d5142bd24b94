//! Fleet mode with a real Redis: the pacing script on Redis's clock driven by
//! a test clock, then several real gateway processes against one emulator with
//! AWS's quota on, sharing one `redis-server` the tests start, kill -9 and
//! restart. Upstream calls are counted by the emulator.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use gamelift_streams_gateway::emulator::{EmulatorConfig, FaultRule};
use gamelift_streams_gateway::fleet::pacing::PACE;
use gamelift_streams_gateway::fleet::reads::FETCH_LEASE;
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::proto::v1::WatchResponse;
use pb::StreamSessionEventKind as Kind;
use pb::StreamSessionStatus as S;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use support::process::{gateway_process, ChildProcess};
use support::redis::{RedisCluster, RedisServer};
use support::{harness, harness_with, reason, scrape, start_request_with_id, unlimited, value, Harness, GROUP};
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

/// A gateway process in the fleet of `redis` (with `extra` flags), and a client of it.
async fn sidecar_with(
    h: &Harness,
    redis: &RedisServer,
    extra: &[&str],
) -> (ChildProcess, StreamSessionsClient<Channel>) {
    let url = redis.url();
    let args: Vec<&str> = ["--redis-url", url.as_str()].into_iter().chain(extra.iter().copied()).collect();
    let (process, url) = gateway_process(&h.emulator.endpoint_url(), &args);
    process.wait_for_stderr("fleet mode on");
    (process, StreamSessionsClient::connect(url).await.expect("connect"))
}

async fn sidecar(h: &Harness, redis: &RedisServer) -> (ChildProcess, StreamSessionsClient<Channel>) {
    sidecar_with(h, redis, &[]).await
}

/// An emulator with AWS's quota and room for 16 sessions, whose clock moves
/// only when the test says.
async fn stopped_clock() -> Harness {
    let mut config = EmulatorConfig { time_scale: 1e-9, ..EmulatorConfig::default() };
    config.world.capacity = vec![(config.world.region.clone(), 16)];
    harness_with(config).await
}

/// `n` ACTIVE sessions; their ARNs.
async fn active_sessions(h: &Harness, n: usize) -> Vec<String> {
    let mut arns = Vec::new();
    for _ in 0..n {
        arns.push(h.start_session().await);
    }
    h.emulator.advance_clock(5.0).expect("clock advanced");
    arns
}

/// A simulated client connects to (or disconnects from) session `arn`.
async fn client_action(h: &Harness, arn: &str, action: &str) {
    let id = arn.rsplit('/').next().expect("session id");
    let (status, body) = h.admin(Method::POST, &format!("sessions/{id}/{action}"), None).await;
    assert_eq!(status, 200, "{action}: {body}");
}

/// Watches `arn` through `client` for `how_long`; the statuses of the
/// snapshot and the changes it saw.
fn watch(client: &StreamSessionsClient<Channel>, arn: &str, how_long: Duration) -> JoinHandle<Vec<S>> {
    let timed = watch_times(client, arn, how_long);
    tokio::spawn(async move { timed.await.expect("the watch").into_iter().map(|(status, _)| status).collect() })
}

/// Upstream poll calls (GetStreamSession and ListStreamSessions) so far.
fn poll_calls(h: &Harness) -> u64 {
    let calls = h.emulator.calls();
    ["GetStreamSession", "ListStreamSessions"].iter().filter_map(|op| calls.get(*op)).flat_map(|m| m.values()).sum()
}

async fn start(
    client: &mut StreamSessionsClient<Channel>,
    request_id: &str,
    deadline: Duration,
) -> Result<String, tonic::Status> {
    let mut request = tonic::Request::new(start_request_with_id(request_id));
    request.set_timeout(deadline);
    let response = client.start_stream_session(request).await?.into_inner();
    Ok(response.stream_session.expect("session").arn)
}

/// Sends `per_second` starts a second to each client for `seconds`, each
/// with its own request_id and `deadline`; every answer.
async fn load(
    clients: &[StreamSessionsClient<Channel>],
    per_second: u32,
    seconds: u32,
    deadline: Duration,
) -> Vec<Result<String, tonic::Status>> {
    let mut tasks = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1) / per_second);
    for n in 0..per_second * seconds {
        tick.tick().await;
        for (i, client) in clients.iter().enumerate() {
            let mut client = client.clone();
            tasks.push(tokio::spawn(async move { start(&mut client, &format!("load-{i}-{n}"), deadline).await }));
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

/// The pacing script, with the time given (microseconds) instead of Redis's.
struct Pace {
    connection: redis::aio::MultiplexedConnection,
    script: redis::Script,
}

impl Pace {
    async fn new(redis: &RedisServer) -> Self {
        let client = redis::Client::open(redis.url()).expect("url");
        let connection = client.get_multiplexed_async_connection().await.expect("connect");
        Self { connection, script: PACE.clone() }
    }

    /// Reserves a slot at `at` (microseconds), or records an attempt
    /// throttled or not: the wait and the rate.
    async fn run(&mut self, mode: &str, throttled: bool, at: u64) -> (u64, f64) {
        let mut call = self.script.key("pace:test");
        call.arg(mode).arg(20.0).arg(at);
        match mode {
            "reserve" => call.arg(0).arg(""),
            _ => call.arg(u8::from(throttled)),
        };
        let (wait, rate, ..): (u64, String, String, String, i64, u8) =
            call.invoke_async(&mut self.connection).await.expect("script");
        (wait, rate.parse().expect("rate"))
    }

    /// Sends at the script's pace for `seconds`, each attempt throttled as
    /// `throttled` says (given the send time and the sends of the second
    /// before it that were not throttled); the rate after each attempt.
    async fn simulate(&mut self, seconds: u64, mut throttled: impl FnMut(u64, &[u64]) -> bool) -> Vec<(u64, f64)> {
        let mut now = 0;
        let mut sent: Vec<u64> = Vec::new();
        let mut rates = Vec::new();
        while now < seconds * 1_000_000 {
            let (wait, _) = self.run("reserve", false, now).await;
            now += wait;
            sent.retain(|t| now - t < 1_000_000);
            let verdict = throttled(now, &sent);
            if !verdict {
                sent.push(now);
            }
            rates.push((now, self.run("record", verdict, now).await.1));
        }
        rates
    }
}

#[tokio::test]
async fn throttling_the_fleet_does_not_cause_holds_its_rate_and_throttling_it_causes_brings_it_down() {
    let redis = RedisServer::start();
    for seed in 0..5 {
        redis.cli(&["FLUSHALL"]);
        let mut pace = Pace::new(&redis).await;
        let mut rng = StdRng::seed_from_u64(seed);
        let rates = pace.simulate(300, |_, _| rng.random_bool(0.5)).await;
        let lowest = rates.iter().map(|r| r.1).fold(f64::MAX, f64::min);
        let late: Vec<f64> = rates.iter().filter(|r| r.0 >= 150_000_000).map(|r| r.1).collect();
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!(lowest >= 20.0 * 0.7f64.powi(4), "seed {seed}: the rate fell to {lowest:.2}/s");
        assert!(mean >= 14.0, "seed {seed}: {mean:.2}/s on average over the last 150 s");
    }
    redis.cli(&["FLUSHALL"]);
    let mut pace = Pace::new(&redis).await;
    let rates = pace.simulate(300, |_, last_second| last_second.len() >= 8).await;
    let late: Vec<f64> = rates.iter().filter(|r| r.0 >= 150_000_000).map(|r| r.1).collect();
    let mean = late.iter().sum::<f64>() / late.len() as f64;
    assert!(mean <= 9.0, "against a quota of 8/s (a second's sends that got through) the rate averaged {mean:.2}/s");
}

#[tokio::test]
async fn four_sidecars_demanding_40_starts_a_second_send_at_most_21_in_any_second() {
    let h = harness().await;
    let redis = RedisServer::start();
    let mut sidecars = Vec::new();
    for _ in 0..4 {
        sidecars.push(sidecar(&h, &redis).await);
    }
    let clients: Vec<_> = sidecars.iter().map(|s| s.1.clone()).collect();
    let answers = load(&clients, 10, 8, Duration::from_secs(4)).await;
    let mut started = HashSet::new();
    for answer in &answers {
        match answer {
            Ok(arn) => assert!(started.insert(arn.clone()), "{arn} answered twice"),
            Err(status) => {
                assert_eq!((status.code(), reason(status).as_str()), (Code::Unavailable, "RATE_LIMITED"), "{status:?}");
                assert!(status.get_error_details().retry_info().is_some(), "RetryInfo says when to come back");
            }
        }
    }
    let starts = h.emulator.calls()["StartStreamSession"].clone();
    let peak = h.emulator.call_peaks()["StartStreamSession"];
    let throttled = starts.get("ThrottlingException").copied().unwrap_or(0);
    let total: u64 = starts.values().sum();
    assert!(peak <= 21, "{peak} starts arrived within one second: {starts:?}");
    assert!(throttled * 20 <= total, "{throttled} of {total} throttled");
    assert!(started.len() >= 120, "{} of 320 started: the fleet used its budget", started.len());
    let upstream = h.sessions_upstream().await;
    assert!(started.is_subset(&upstream), "every ARN answered is a session upstream");
    assert_eq!(upstream.len() as u64, starts["Success"], "no duplicate: one session per successful start call");
}

#[tokio::test]
async fn one_request_id_on_two_sidecars_makes_one_start_and_other_parameters_are_refused() {
    let h = harness().await;
    let redis = RedisServer::start();
    let (first_sidecar, mut a) = sidecar_with(&h, &redis, &["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics = first_sidecar.expect_line("metrics listening on ");
    let leases = async || {
        let state = scrape(&metrics).await;
        value(&state, "gls_gateway_fleet_state", &[("kind", "idempotency_leases")])
    };
    let (_b, mut b) = sidecar(&h, &redis).await;
    let slow = FaultRule { operation: Some("StartStreamSession".into()), latency_ms: 500, ..FaultRule::default() };
    h.emulator.add_fault(slow).expect("fault");
    let deadline = Duration::from_secs(10);
    let second = async {
        // The first sidecar holds the key (its call is upstream for 500 ms).
        while leases().await < 1.0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        start(&mut b, "fleet-launch", deadline).await
    };
    let (first, second) = tokio::join!(start(&mut a, "fleet-launch", deadline), second);
    let arn = first.expect("a started");
    assert_eq!(second.expect("b joined"), arn);
    assert_eq!(leases().await, 0.0, "the key's lease is given back with the outcome");
    assert_eq!(h.emulator.calls()["StartStreamSession"].values().sum::<u64>(), 1, "one upstream start");
    assert_eq!(start(&mut b, "fleet-launch", deadline).await.expect("replayed"), arn);
    let mut other = start_request_with_id("fleet-launch");
    other.description = "another game".into();
    let refused = b.start_stream_session(other).await.expect_err("reused key");
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED"));
    assert_eq!(h.emulator.calls()["StartStreamSession"].values().sum::<u64>(), 1, "still one upstream start");
}

#[tokio::test]
async fn killing_redis_mid_load_fails_no_call_and_the_fleet_rejoins_when_it_returns() {
    let h = harness().await;
    let mut redis = RedisServer::start();
    let mut sidecars = Vec::new();
    for _ in 0..4 {
        sidecars.push(sidecar(&h, &redis).await);
    }
    assert_eq!(redis.cli(&["ZCARD", "{gls:us-west-2}:members"]), "4");
    let clients: Vec<_> = sidecars.iter().map(|s| s.1.clone()).collect();
    let outage = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        redis.kill9();
        tokio::time::sleep(Duration::from_secs(4)).await;
        redis.restart();
    };
    let (answers, ()) = tokio::join!(load(&clients, 8, 8, Duration::from_secs(60)), outage);
    let started: HashSet<String> = answers.into_iter().map(|a| a.expect("every call succeeds")).collect();
    assert_eq!(started.len(), 256);
    assert_eq!(h.sessions_upstream().await, started, "one session upstream per start");
    let peak = h.emulator.call_peaks()["StartStreamSession"];
    assert!(peak <= 21, "{peak} starts within one second: more than the ceiling + 1");
    for (process, _) in &sidecars {
        process.wait_for_stderr("fleet mode: Redis failed");
        process.wait_for_stderr("fleet mode: Redis answers again");
    }
    assert_eq!(redis.cli(&["ZCARD", "{gls:us-west-2}:members"]), "4", "every sidecar rejoined");
}

#[tokio::test]
async fn four_sidecars_watching_the_same_12_sessions_poll_about_as_much_as_one() {
    let h = stopped_clock().await;
    let arns = active_sessions(&h, 12).await;
    let window = Duration::from_secs(10);

    let (alone, url) = gateway_process(&h.emulator.endpoint_url(), &[]);
    let client = StreamSessionsClient::connect(url).await.expect("connect");
    let before = poll_calls(&h);
    let watchers: Vec<_> = arns.iter().map(|arn| watch(&client, arn, window)).collect();
    for watcher in watchers {
        assert_eq!(watcher.await.expect("watcher"), [S::Active]);
    }
    let one = poll_calls(&h) - before;
    drop(alone);

    let redis = RedisServer::start();
    let mut sidecars = Vec::new();
    for _ in 0..4 {
        sidecars.push(sidecar(&h, &redis).await);
    }
    let before = poll_calls(&h);
    let watchers: Vec<Vec<_>> =
        sidecars.iter().map(|(_, client)| arns.iter().map(|arn| watch(client, arn, window)).collect()).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    client_action(&h, &arns[0], "connect").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    client_action(&h, &arns[0], "disconnect").await;
    for (i, sidecar) in watchers.into_iter().enumerate() {
        for (j, watcher) in sidecar.into_iter().enumerate() {
            let seen = watcher.await.expect("watcher");
            if j == 0 {
                assert!(seen.contains(&S::Connected), "sidecar {i} missed the 5 s CONNECTED: {seen:?}");
            } else {
                assert_eq!(seen, [S::Active], "sidecar {i}, session {j}");
            }
        }
    }
    let four = poll_calls(&h) - before;
    assert!(one > 0 && four * 2 <= one * 3, "four sidecars polled {four} times, one alone {one}");
}

#[tokio::test]
async fn a_sidecar_killed_while_it_reads_for_the_fleet_loses_no_change() {
    let h = stopped_clock().await;
    let arn = active_sessions(&h, 1).await.remove(0);
    let redis = RedisServer::start();
    let (mut first, a) = sidecar(&h, &redis).await;
    let seen_by_a = watch(&a, &arn, Duration::from_secs(60));
    while poll_calls(&h) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The first sidecar's next read (2 s later: the session is ACTIVE) hangs
    // upstream while it holds the read's fetch lease.
    let hang = FaultRule {
        operation: Some("GetStreamSession".into()),
        latency_ms: 30_000,
        count: Some(1),
        ..FaultRule::default()
    };
    h.emulator.add_fault(hang).expect("fault");
    while !h.emulator.faults().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (second, b) = sidecar_with(&h, &redis, &["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics = second.expect_line("metrics listening on ");
    // Within the dead sidecar's lease, plus a poll interval (ACTIVE: 2 s), plus slack.
    let seen_by_b = watch(&b, &arn, FETCH_LEASE + Duration::from_secs(5));
    first.child.kill().expect("kill -9");
    first.child.wait().expect("exit");
    seen_by_a.abort();
    h.emulator.clear_faults();
    client_action(&h, &arn, "connect").await;
    let seen = seen_by_b.await.expect("watcher");
    assert!(seen.contains(&S::Connected), "the change after the fetcher died was lost: {seen:?}");
    let busy = value(&scrape(&metrics).await, "gls_gateway_fleet_poll_reads_total", &[("result", "busy")]);
    assert!(busy >= 1.0, "the second sidecar waited out the dead one's lease");
}

#[tokio::test]
async fn half_the_starts_throttled_whatever_the_rate_two_sidecars_still_start_95_of_100_each_once() {
    let h = harness_with(unlimited()).await;
    let redis = RedisServer::start();
    let (_a, a) = sidecar(&h, &redis).await;
    let (_b, b) = sidecar(&h, &redis).await;
    let throttle = FaultRule { operation: Some("StartStreamSession".into()), throttle: 0.5, ..FaultRule::default() };
    h.emulator.add_fault(throttle).expect("fault");
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let mut client = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { start(&mut client, &format!("half-{i:03}"), Duration::from_secs(90)).await })
        })
        .collect();
    let mut started = HashSet::new();
    for task in tasks {
        if let Ok(arn) = task.await.expect("task") {
            started.insert(arn);
        }
    }
    h.emulator.clear_faults();
    assert!(started.len() >= 95, "{} of 100 started", started.len());
    assert_eq!(h.sessions_upstream().await, started, "exactly one session upstream per start answered");
    let starts = h.emulator.calls()["StartStreamSession"].clone();
    assert_eq!(starts.get("Success").copied(), Some(started.len() as u64), "{starts:?}");
    assert!(starts.get("ThrottlingException").copied().unwrap_or(0) >= 50, "{starts:?}");
}

/// How often `needle` is in the process's stderr now.
fn logged(process: &ChildProcess, needle: &str) -> usize {
    process.stderr().matches(needle).count()
}

/// Waits (30 s at most) until `needle` was logged `times` times.
async fn until_logged(process: &ChildProcess, needle: &str, times: usize) {
    let waited = tokio::time::timeout(Duration::from_secs(30), async {
        while logged(process, needle) < times {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(waited.await.is_ok(), "'{needle}' not logged {times} times:\n{}", process.stderr());
}

#[tokio::test]
async fn a_sidecar_serves_while_redis_is_down_or_frozen_and_joins_when_it_answers() {
    let h = harness().await;
    let mut redis = RedisServer::not_started();
    let (process, mut client) = sidecar(&h, &redis).await;
    assert_eq!(logged(&process, "fleet mode: Redis failed"), 1, "started alone: nothing listens yet");
    let deadline = Duration::from_secs(5);
    start(&mut client, "while-down", deadline).await.expect("served without Redis");

    redis.restart();
    until_logged(&process, "fleet mode: Redis answers again", 1).await;
    assert_eq!(redis.cli(&["ZCARD", "{gls:us-west-2}:members"]), "1");
    start(&mut client, "joined", deadline).await.expect("served by the fleet");

    redis.signal("-STOP");
    start(&mut client, "while-frozen", deadline).await.expect("served while Redis answers nothing");
    until_logged(&process, "fleet mode: Redis failed", 2).await;
    redis.signal("-CONT");
    until_logged(&process, "fleet mode: Redis answers again", 2).await;
    start(&mut client, "thawed", deadline).await.expect("served by the fleet again");
    assert_eq!(h.sessions_upstream().await.len(), 4);
}

/// A CA and a certificate for `localhost` and 127.0.0.1 it signed, in `dir`.
fn certificates(dir: &std::path::Path) {
    support::process::debian_packages(&["openssl"]);
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let key = ["-newkey", "rsa:2048", "-nodes"];
    openssl(
        &[&["req", "-x509"][..], &key, &["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca"]]
            .concat(),
    );
    openssl(&[&["req"][..], &key, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat());
    std::fs::write(dir.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").expect("extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
}

#[tokio::test]
async fn a_sidecar_joins_over_tls_with_the_password_from_a_file() {
    let dir = std::env::temp_dir().join(format!("gls-fleet-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    certificates(&dir);
    let password = "from-a-mounted-secret";
    std::fs::write(dir.join("password"), format!("{password}\n")).expect("password file");
    let redis = RedisServer::start_tls(&dir, password);
    let h = harness().await;
    let url = format!("rediss://localhost:{}", redis.port);
    let password_file = dir.join("password").display().to_string();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gamelift-streams-gateway"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--aws-endpoint-url", &h.emulator.endpoint_url()])
        .args(["--aws-region", "us-west-2", "--redis-url", &url, "--redis-password-file", &password_file])
        .env("SSL_CERT_FILE", dir.join("ca.pem"))
        .env("AWS_ACCESS_KEY_ID", "AKIDEMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let process = support::process::announced(command, "gateway listening on ");
    process.wait_for_stderr("fleet mode on");
    let cacert = dir.join("ca.pem").display().to_string();
    let tls = ["--tls", "--cacert", cacert.as_str(), "-h", "localhost", "-a", password, "--no-auth-warning"];
    // On a loaded machine the first TLS handshake may outlast the 250 ms a
    // command may take: the sidecar then joins at its next heartbeat.
    let joined = tokio::time::timeout(Duration::from_secs(10), async {
        while redis.cli_with(&tls, &["ZCARD", "{gls:us-west-2}:members"]) != "1" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(joined.await.is_ok(), "joined over TLS: {}", process.stderr());
    assert_eq!(logged(&process, "Redis failed"), logged(&process, "Redis answers again"), "{}", process.stderr());
    assert!(!process.stderr().contains(password), "the password is never logged");
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[tokio::test]
async fn a_terminate_reaches_the_watchers_at_once_though_the_shared_state_is_fresh() {
    let h = stopped_clock().await;
    let arn = active_sessions(&h, 1).await.remove(0);
    let redis = RedisServer::start();
    let (_sidecar, mut client) = sidecar(&h, &redis).await;
    client_action(&h, &arn, "connect").await;
    let request = pb::WatchStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: arn.clone(),
        ..Default::default()
    };
    let mut stream = client.watch_stream_session(request).await.expect("watch").into_inner();
    let mut next_status = async || loop {
        let event = stream.message().await.expect("no error").expect("an event").into_event();
        if event.kind() != Kind::Heartbeat {
            return event.stream_session.expect("session").status();
        }
    };
    assert_eq!(next_status().await, S::Connected, "read now, shared for 10 s (the CONNECTED interval)");
    let terminate = pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: arn,
        ..Default::default()
    };
    client.terminate_stream_session(terminate).await.expect("terminate");
    let seen = tokio::time::timeout(Duration::from_secs(5), next_status()).await;
    assert_eq!(seen.ok(), Some(S::Terminating), "the terminate's refresh read upstream, not the fresh CONNECTED");
}

#[tokio::test]
async fn get_stream_session_may_be_answered_from_a_recent_poll_of_any_sidecar() {
    let h = stopped_clock().await;
    let arns = active_sessions(&h, 2).await;
    let redis = RedisServer::start();
    let (_watching, watcher) = sidecar(&h, &redis).await;
    let (_recent, mut recent) = sidecar_with(&h, &redis, &["--fleet-get-max-age-ms", "60000"]).await;
    let (_plain, mut plain) = sidecar(&h, &redis).await;
    let watched = watch(&watcher, &arns[0], Duration::from_secs(60));
    let id = arns[0].rsplit('/').next().expect("session id");
    let stored = tokio::time::timeout(Duration::from_secs(30), async {
        while redis.cli(&["KEYS", &format!("*:poll:*:session:{id}")]).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(stored.await.is_ok(), "the watcher's poll result is shared");
    let gets = || h.emulator.calls().get("GetStreamSession").map_or(0, |m| m.values().sum::<u64>());
    let get = async |client: &mut StreamSessionsClient<Channel>, arn: &str| {
        let request = pb::GetStreamSessionRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: arn.into(),
        };
        let session = client.get_stream_session(request).await.expect("get").into_inner().stream_session;
        session.map(|s| {
            let status = s.status();
            (s.arn, status)
        })
    };
    let before = gets();
    assert_eq!(get(&mut recent, &arns[0]).await, Some((arns[0].clone(), S::Active)));
    assert_eq!(gets(), before, "answered from the watcher's poll, nothing upstream");
    assert_eq!(get(&mut recent, &arns[1]).await, Some((arns[1].clone(), S::Active)));
    assert_eq!(gets(), before + 1, "a session nobody polls is read upstream");
    get(&mut plain, &arns[0]).await;
    assert_eq!(gets(), before + 2, "without the flag, every GetStreamSession goes upstream");
    watched.abort();
}

/// `request_id`'s start on `client` with an application the emulator does not have.
async fn start_unknown_app(client: &mut StreamSessionsClient<Channel>, request_id: &str) -> tonic::Status {
    let request = pb::StartStreamSessionRequest {
        application_identifier: "a-999999999".into(),
        ..start_request_with_id(request_id)
    };
    client.start_stream_session(request).await.expect_err("no such application")
}

#[tokio::test]
async fn a_start_that_failed_for_good_is_replayed_as_the_same_error_on_every_sidecar() {
    let h = harness().await;
    let redis = RedisServer::start();
    let (_a, mut a) = sidecar(&h, &redis).await;
    let (_b, mut b) = sidecar(&h, &redis).await;
    let first = start_unknown_app(&mut a, "doomed-1").await;
    assert_eq!((first.code(), reason(&first).as_str()), (Code::NotFound, "NOT_FOUND"));
    for (client, which) in [(&mut a, "the same sidecar"), (&mut b, "another sidecar")] {
        let again = start_unknown_app(client, "doomed-1").await;
        assert_eq!((again.code(), again.message()), (first.code(), first.message()), "{which}");
        let (again, first) = (again.get_error_details(), first.get_error_details());
        assert_eq!(format!("{:?}", again.resource_info()), format!("{:?}", first.resource_info()), "{which}");
        let info = |d: &tonic_types::ErrorDetails| d.error_info().map(|i| (i.reason.clone(), i.metadata.clone()));
        assert_eq!(info(&again), info(&first), "{which}");
    }
    assert_eq!(h.emulator.calls()["StartStreamSession"].values().sum::<u64>(), 1, "replayed, not sent again");
}

#[tokio::test]
async fn a_start_that_finished_while_redis_was_frozen_is_answered_alike_everywhere_without_waiting_out_its_lease() {
    let h = harness().await;
    let redis = RedisServer::start();
    let (first_sidecar, a) = sidecar_with(&h, &redis, &["--metrics-listen", "127.0.0.1:0"]).await;
    let metrics = first_sidecar.expect_line("metrics listening on ");
    let (_b, mut b) = sidecar(&h, &redis).await;
    let slow = FaultRule {
        operation: Some("StartStreamSession".into()),
        latency_ms: 1500,
        count: Some(1),
        ..FaultRule::default()
    };
    h.emulator.add_fault(slow).expect("fault");
    let deadline = Duration::from_secs(30);
    let leading = tokio::spawn({
        let mut a = a.clone();
        async move { start(&mut a, "frozen-1", deadline).await }
    });
    while value(&scrape(&metrics).await, "gls_gateway_fleet_state", &[("kind", "idempotency_leases")]) < 1.0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let joined = Instant::now();
    let joining = tokio::spawn({
        let mut b = b.clone();
        async move { start(&mut b, "frozen-1", deadline).await }
    });
    // Redis freezes while the first call is upstream (1.5 s): it ends while
    // its sidecar cannot write the outcome, and the joiner cannot read it.
    redis.signal("-STOP");
    let first = leading.await.expect("task").expect("the first call succeeds");
    let second = joining.await.expect("task").expect("the joiner gets an answer");
    let waited = joined.elapsed();
    redis.signal("-CONT");
    assert_eq!(second, first, "the same session");
    assert!(waited < Duration::from_secs(8), "the joiner waited {waited:?}: it waited out the lease");
    assert_eq!(h.sessions_upstream().await.len(), 1, "one session (the ClientToken made the joiner's call the same)");
    until_logged(&first_sidecar, "fleet mode: Redis answers again", 1).await;
    let calls_before = h.emulator.calls()["StartStreamSession"].values().sum::<u64>();
    let replayed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let answer = start(&mut b, "frozen-1", deadline).await.expect("replayed");
            if h.emulator.calls()["StartStreamSession"].values().sum::<u64>() == calls_before {
                return answer;
            }
            // Not in Redis yet: the call was made again (same session); the
            // outcome lands with the first sidecar's next heartbeat.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    assert_eq!(replayed.await.expect("the outcome reached Redis once it answered"), first);
}

#[tokio::test]
async fn other_parameters_for_a_request_id_while_redis_is_frozen_are_refused_as_reused() {
    let h = harness().await;
    let redis = RedisServer::start();
    let (_a, mut a) = sidecar(&h, &redis).await;
    let (_b, mut b) = sidecar(&h, &redis).await;
    let arn = start(&mut a, "reused-1", Duration::from_secs(10)).await.expect("started");
    redis.signal("-STOP");
    let mut other = start_request_with_id("reused-1");
    other.description = "another game".into();
    let refused = b.start_stream_session(other).await.expect_err("other parameters");
    let again = start(&mut b, "reused-1", Duration::from_secs(10)).await;
    redis.signal("-CONT");
    assert_eq!(again.expect("the first parameters again: the refusal was not kept as the key's outcome"), arn);
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED"));
    let details = refused.get_error_details();
    assert_eq!(details.bad_request().expect("BadRequest").field_violations[0].field, "request_id");
    assert_eq!(h.sessions_upstream().await.len(), 1);
}

/// The most StartStreamSession calls the emulator saw in any sliding second.
fn start_peak(h: &Harness) -> usize {
    h.emulator.call_peaks().get("StartStreamSession").copied().unwrap_or(0)
}

/// Every answer a success or a transient refusal (UNAVAILABLE with
/// RetryInfo, or the caller's deadline reached while an attempt was in
/// flight: DEADLINE_EXCEEDED, UPSTREAM_TIMEOUT, which a loaded 2-core machine
/// makes now and then); the sessions started, one each.
async fn started_once_each(h: &Harness, answers: Vec<Result<String, tonic::Status>>) -> HashSet<String> {
    let mut started = HashSet::new();
    for answer in answers {
        match answer {
            Ok(arn) => assert!(started.insert(arn.clone()), "{arn} answered twice"),
            Err(status) => assert!(
                (status.code() == Code::Unavailable && status.get_error_details().retry_info().is_some())
                    || (status.code() == Code::DeadlineExceeded && reason(&status) == "UPSTREAM_TIMEOUT"),
                "{status:?}"
            ),
        }
    }
    let upstream = h.sessions_upstream().await;
    assert!(started.is_subset(&upstream), "every ARN answered is a session upstream");
    started
}

#[tokio::test]
async fn a_flapping_redis_never_lets_the_fleet_past_the_ceiling() {
    let h = harness().await;
    let mut redis = RedisServer::start();
    let mut sidecars = Vec::new();
    for _ in 0..4 {
        sidecars.push(sidecar_with(&h, &redis, &["--metrics-listen", "127.0.0.1:0"]).await);
    }
    let clients: Vec<_> = sidecars.iter().map(|s| s.1.clone()).collect();
    let members = "{gls:us-west-2}:members";
    let flaps = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.kill9();
        tokio::time::sleep(Duration::from_secs(1)).await;
        redis.restart();
        // Killed again as soon as two sidecars rejoin the emptied Redis.
        while redis.cli(&["ZCARD", members]).parse::<usize>().unwrap_or(0) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        redis.kill9();
        tokio::time::sleep(Duration::from_secs(2)).await;
        redis.restart();
    };
    let (answers, ()) = tokio::join!(load(&clients, 10, 8, Duration::from_secs(4)), flaps);
    let started = started_once_each(&h, answers).await;
    let peak = start_peak(&h);
    assert!(peak <= 21, "{peak} starts within one second through the flaps");
    assert!(started.len() >= 100, "{} of 320 started", started.len());
    for (process, _) in &sidecars {
        until_logged(process, "fleet mode: Redis answers again", 1).await;
    }
    let rejoined = tokio::time::timeout(Duration::from_secs(10), async {
        while redis.cli(&["ZCARD", members]) != "4" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(rejoined.await.is_ok(), "every sidecar rejoined");
    let metrics = sidecars[0].0.expect_line("metrics listening on ");
    let state = scrape(&metrics).await;
    assert!(
        value(&state, "gls_gateway_fleet_state", &[("kind", "assumed_members")]) >= 4.0,
        "the four seen are remembered"
    );
}

#[tokio::test]
async fn sidecars_started_while_redis_is_down_pace_at_their_share_of_the_expected_fleet() {
    let h = harness().await;
    let redis = RedisServer::not_started();
    let mut sidecars = Vec::new();
    for _ in 0..4 {
        sidecars.push(sidecar_with(&h, &redis, &["--fleet-expected-members", "4"]).await);
    }
    let clients: Vec<_> = sidecars.iter().map(|s| s.1.clone()).collect();
    let answers = load(&clients, 10, 6, Duration::from_secs(4)).await;
    let started = started_once_each(&h, answers).await;
    let peak = start_peak(&h);
    assert!(peak <= 21, "{peak} starts within one second from four sidecars alone");
    assert!(started.len() >= 80, "{} of 240 started", started.len());
}

#[tokio::test]
async fn bad_values_in_redis_are_repaired_never_unpacing_nor_refusing_for_good() {
    let h = harness().await;
    let redis = RedisServer::start();
    let (first_sidecar, a) = sidecar_with(&h, &redis, &["--metrics-listen", "127.0.0.1:0"]).await;
    let (second_sidecar, b) = sidecar_with(&h, &redis, &["--metrics-listen", "127.0.0.1:0"]).await;
    let pace = "{gls:us-west-2}:pace:StartStreamSession";
    let corrupt = async {
        let start = tokio::time::Instant::now();
        for (at, field, bad) in [(1, "rate", "-1"), (2, "rate", "nan"), (3, "rate", "1e-9"), (4, "tat", "1e300")] {
            tokio::time::sleep_until(start + Duration::from_secs(at)).await;
            redis.cli(&["HSET", pace, field, bad]);
        }
        tokio::time::sleep_until(start + Duration::from_secs(5)).await;
        redis.cli(&["DEL", "{gls:us-west-2}:members"]);
        redis.cli(&["SET", "{gls:us-west-2}:members", "not a sorted set"]);
    };
    let clients = [a, b];
    let (answers, ()) = tokio::join!(load(&clients, 10, 8, Duration::from_secs(4)), corrupt);
    let late_successes = answers[answers.len() - 40..].iter().filter(|a| a.is_ok()).count();
    let started = started_once_each(&h, answers).await;
    assert!(start_peak(&h) <= 21, "{} starts within one second", start_peak(&h));
    assert!(started.len() >= 100, "{} of 160 started", started.len());
    assert!(late_successes >= 20, "{late_successes} of the last 40 started: nothing refuses for good");
    let members = tokio::time::timeout(Duration::from_secs(10), async {
        while redis.cli(&["ZCARD", "{gls:us-west-2}:members"]) != "2" {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(members.await.is_ok(), "the members' set is made anew and both sidecars are in it");
    // Whichever sidecar meets a bad value first repairs it: count both.
    let mut scrapes = Vec::new();
    for sidecar in [&first_sidecar, &second_sidecar] {
        scrapes.push(scrape(&sidecar.expect_line("metrics listening on ")).await);
    }
    let repaired = |what: &str| -> f64 {
        scrapes.iter().map(|s| value(s, "gls_gateway_fleet_repairs_total", &[("what", what)])).sum()
    };
    assert!(repaired("pace") >= 1.0, "pace repairs are counted");
    assert!(repaired("members") >= 1.0, "members repairs are counted");
    for s in &scrapes {
        assert_eq!(value(s, "gls_gateway_fleet_state", &[("kind", "degraded")]), 0.0, "and need no local mode");
    }
    let logs = logged(&first_sidecar, "a bad value in Redis was repaired")
        + logged(&second_sidecar, "a bad value in Redis was repaired");
    assert!(logs >= 2, "each repair is logged");
}

#[tokio::test]
async fn a_termination_deferred_by_a_sidecar_that_dies_is_carried_out_by_another() {
    let h = stopped_clock().await;
    let redis = RedisServer::start();
    let (mut accepting, mut a) = sidecar(&h, &redis).await;
    let (_other, _b) = sidecar(&h, &redis).await;
    let arn = h.start_session().await;
    let terminate = pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: arn.clone(),
        ..Default::default()
    };
    let answer = a.terminate_stream_session(terminate).await.expect("deferred").into_inner();
    assert_eq!(answer.stream_session.expect("the session").status(), S::Activating);
    assert!(redis.cli(&["HGET", "{gls:us-west-2}:deferred", &arn]).contains(' '), "recorded in Redis");
    accepting.child.kill().expect("SIGKILL");
    accepting.child.wait().expect("exit");
    h.emulator.advance_clock(5.0).expect("the session leaves ACTIVATING");
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let out = h.client.get_stream_session().identifier(GROUP).stream_session_identifier(&arn).send().await;
            let status = out.expect("read").status().map(|s| s.as_str().to_string()).unwrap_or_default();
            if status == "TERMINATING" || status == "TERMINATED" {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert!(ended.await.is_ok(), "the other sidecar terminated the session the dead one had deferred");
    let forgotten = tokio::time::timeout(Duration::from_secs(10), async {
        while !redis.cli(&["HGET", "{gls:us-west-2}:deferred", &arn]).is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    assert!(forgotten.await.is_ok(), "and then forgot it");
}

#[tokio::test]
async fn sidecars_share_one_fleet_on_a_redis_cluster_and_say_so_when_not_told_it_is_one() {
    let h = harness().await;
    let cluster = RedisCluster::start(3);
    let (owner, other) = cluster.owner_and_other("{gls:us-west-2}");
    let (_a, mut a) = sidecar_with(&h, other, &["--redis-cluster"]).await;
    let (_b, mut b) = sidecar_with(&h, other, &["--redis-cluster"]).await;
    let deadline = Duration::from_secs(10);
    let arn = start(&mut a, "on-a-cluster", deadline).await.expect("started");
    assert_eq!(start(&mut b, "on-a-cluster", deadline).await.expect("replayed by the other sidecar"), arn);
    assert_eq!(h.emulator.calls()["StartStreamSession"].values().sum::<u64>(), 1, "one upstream start");
    assert_eq!(owner.cli(&["ZCARD", "{gls:us-west-2}:members"]), "2", "both joined, on the slot's node");

    let (unaware, mut c) = sidecar(&h, other).await;
    start(&mut c, "served-anyway", deadline).await.expect("served from its own state");
    until_logged(&unaware, "start the sidecar with --redis-cluster", 1).await;
}

/// Watches `arn` through `client`; when each status arrived.
fn watch_times(
    client: &StreamSessionsClient<Channel>,
    arn: &str,
    how_long: Duration,
) -> JoinHandle<Vec<(S, std::time::Instant)>> {
    let (mut client, arn) = (client.clone(), arn.to_string());
    tokio::spawn(async move {
        let request = pb::WatchStreamSessionRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: arn,
            ..Default::default()
        };
        let mut stream = client.watch_stream_session(request).await.expect("watch").into_inner();
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(how_long, async {
            while let Some(event) = stream.message().await.expect("no error").map(WatchResponse::into_event) {
                if event.kind() != Kind::Heartbeat {
                    seen.push((event.stream_session.expect("session").status(), std::time::Instant::now()));
                }
            }
        })
        .await;
        seen
    })
}

#[tokio::test]
async fn a_change_one_sidecar_reads_is_pushed_to_the_others_watchers_at_once() {
    let h = stopped_clock().await;
    let arn = active_sessions(&h, 1).await.remove(0);
    let redis = RedisServer::start();
    // Reads 20 s apart: without a push, the other sidecar would show a change
    // up to 20 s after the read that found it.
    let slow = ["--watch-normal-interval-seconds", "20", "--watch-slow-interval-seconds", "20"];
    let (_a, mut a) = sidecar_with(&h, &redis, &slow).await;
    let (_b, b) = sidecar_with(&h, &redis, &slow).await;
    let window = Duration::from_secs(6);
    let (on_a, on_b) = (watch_times(&a, &arn, window), watch_times(&b, &arn, window));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = h.emulator.calls().get("GetStreamSession").map_or(0, |m| m.values().sum::<u64>());
    client_action(&h, &arn, "connect").await;
    let get = pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: arn };
    let read = a.get_stream_session(get).await.expect("read").into_inner().stream_session.expect("session");
    assert_eq!(read.status(), S::Connected);
    let (on_a, on_b) = (on_a.await.expect("watcher"), on_b.await.expect("watcher"));
    let statuses = |seen: &[(S, std::time::Instant)]| seen.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    assert_eq!(statuses(&on_a), [S::Active, S::Connected], "the caller's sidecar");
    assert_eq!(statuses(&on_b), [S::Active, S::Connected], "the other sidecar");
    let after = h.emulator.calls().get("GetStreamSession").map_or(0, |m| m.values().sum::<u64>());
    assert_eq!(after - before, 1, "the caller's read is every sidecar's: no sidecar read it again");
    let delay = on_b[1].1.saturating_duration_since(on_a[1].1);
    println!("pushed to the other sidecar's watcher {delay:?} after the caller's");
    assert!(delay <= Duration::from_millis(250), "the other sidecar's watcher got it {delay:?} later");
}
