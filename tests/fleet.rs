//! Fleet mode with a real Redis: the pacing script on Redis's clock driven by
//! a test clock, then several real gateway processes against one emulator with
//! AWS's quota on, sharing one `redis-server` the tests start, kill -9 and
//! restart. Upstream calls are counted by the emulator.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use gamelift_streams_gateway::emulator::FaultRule;
use gamelift_streams_gateway::fleet::pacing::PACE_LUA;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::process::{gateway_process, ChildProcess};
use support::redis::RedisServer;
use support::{harness, reason, start_request_with_id, Harness};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

/// A gateway process in the fleet of `redis`, and a client of it.
async fn sidecar(h: &Harness, redis: &RedisServer) -> (ChildProcess, StreamSessionsClient<Channel>) {
    let (process, url) = gateway_process(&h.emulator.endpoint_url(), &["--redis-url", &redis.url()]);
    process.wait_for_stderr("fleet mode on");
    (process, StreamSessionsClient::connect(url).await.expect("connect"))
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
        Self { connection, script: redis::Script::new(PACE_LUA) }
    }

    async fn run(&mut self, mode: &str, throttled: bool, at: u64) -> (u64, f64) {
        let mut call = self.script.key("pace:test");
        call.arg(mode).arg(20.0).arg(u8::from(throttled)).arg(at);
        let (wait, rate): (u64, String) = call.invoke_async(&mut self.connection).await.expect("script");
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
async fn the_fleet_budget_paces_evenly_at_the_ceiling() {
    let redis = RedisServer::start();
    let mut pace = Pace::new(&redis).await;
    let mut waits = Vec::new();
    for _ in 0..4 {
        waits.push(pace.run("reserve", false, 1_000_000).await.0);
    }
    assert_eq!(waits, [0, 50_000, 100_000, 150_000], "one slot every 1/20 s, no burst");
    pace.run("cancel", false, 1_000_000).await;
    assert_eq!(pace.run("reserve", false, 1_000_000).await.0, 150_000, "a slot given back is handed out again");
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
    let (_a, mut a) = sidecar(&h, &redis).await;
    let (_b, mut b) = sidecar(&h, &redis).await;
    let slow = FaultRule { operation: Some("StartStreamSession".into()), latency_ms: 500, ..FaultRule::default() };
    h.emulator.add_fault(slow).expect("fault");
    let deadline = Duration::from_secs(10);
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        start(&mut b, "fleet-launch", deadline).await
    };
    let (first, second) = tokio::join!(start(&mut a, "fleet-launch", deadline), second);
    let arn = first.expect("a started");
    assert_eq!(second.expect("b joined"), arn);
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
    assert!(peak <= 24, "{peak} starts within one second: more than 1.2 × the ceiling");
    for (process, _) in &sidecars {
        process.wait_for_stderr("fleet mode: Redis failed");
        process.wait_for_stderr("fleet mode: Redis answers again");
    }
    assert_eq!(redis.cli(&["ZCARD", "{gls:us-west-2}:members"]), "4", "every sidecar rejoined");
}
