//! One conformance suite per seam, run on every implementation of it: the
//! in-process one and the fleet's, on a real `redis-server` the test starts.
//! A seam's contract is written once here; an implementation that keeps it
//! only in the process (as a replayed failure once became an empty success
//! in fleet mode only) fails the same suite the other passes. The send rule
//! itself is held to one table of vectors (`rate_vectors.json`), run against
//! `limiter.rs` and `pace.lua`.
//!
//! Within one sidecar the fleet's seams read their own writes (the link sends
//! them in order), so the suites need no waiting beyond what the seams do.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gamelift_streams_gateway::api::replay::Stored;
use gamelift_streams_gateway::api::status::ApiError;
use gamelift_streams_gateway::fleet::outcomes::FleetOutcomes;
use gamelift_streams_gateway::fleet::pacing::{FleetPacing, MARGIN, PACE};
use gamelift_streams_gateway::fleet::reads::{FleetReads, FETCH_LEASE};
use gamelift_streams_gateway::fleet::schedule::FleetSchedule;
use gamelift_streams_gateway::fleet::terminations::FleetTerminations;
use gamelift_streams_gateway::fleet::{Fleet, FleetConfig};
use gamelift_streams_gateway::proto::ivs;
use gamelift_streams_gateway::sessions::idempotency::{
    Begin, Fingerprint, IdempotencyStore, Key, OutcomeStore, StoreLimits,
};
use gamelift_streams_gateway::sessions::resilience::limiter::{AdaptiveLimiter, BETA};
use gamelift_streams_gateway::sessions::resilience::pacing::{LocalPacing, SendPacing};
use gamelift_streams_gateway::sessions::resilience::{CallFailure, GiveUp, Priority, Resilience, RetryPolicy};
use gamelift_streams_gateway::sessions::terminations::{InProcess, Pending, PendingTerminations};
use gamelift_streams_gateway::sessions::watch::budget::{PollBudget, PollSchedule};
use gamelift_streams_gateway::sessions::watch::shared::{Look, NotShared, PollResults, Read};
use gamelift_streams_gateway::sessions::{Sender, SessionError, UpstreamKind};
use gamelift_streams_gateway::stages::shared::SharedStageReads;
use gamelift_streams_gateway::stages::StageReads;
use serde_json::Value;
use support::redis::{RedisCluster, RedisServer};
use tokio::time::Instant;

/// How far a slot handed out by Redis may sit from where the arithmetic puts
/// it: it is converted to this process's clock when the answer arrives, so
/// a slow round trip (a loaded 2-core machine, a cluster's redirection) moves
/// it. Well under the 50 ms interval every check tells apart from 0 or two.
const TOLERANCE: Duration = Duration::from_millis(25);
/// The longest a suite waits for something a seam does in the background.
const WAIT: Duration = Duration::from_secs(10);

/// A sidecar's link to the fleet on `redis`, its keys under `prefix`.
async fn fleet(redis: &RedisServer, prefix: &str) -> Arc<Fleet> {
    join(redis.url(), false, prefix).await
}

/// A sidecar's link to the fleet on `cluster`, through a node that does not
/// hold the fleet's keys (it learns the others and follows redirections).
async fn cluster_fleet(cluster: &RedisCluster, prefix: &str) -> Arc<Fleet> {
    let (_, other) = cluster.owner_and_other(&format!("{{{prefix}:us-west-2}}"));
    join(other.url(), true, prefix).await
}

async fn join(url: String, cluster: bool, prefix: &str) -> Arc<Fleet> {
    let config = FleetConfig {
        url,
        password: None,
        prefix: prefix.into(),
        timeout: Duration::from_secs(2),
        heartbeat: Duration::from_secs(1),
        recent_gets: None,
        cluster,
        expected_members: 1,
    };
    let fleet = Fleet::join(&config, "us-west-2").await.expect("a usable URL");
    assert!(!fleet.degraded(), "joined the fleet");
    fleet
}

fn assert_close(actual: Duration, expected: Duration, what: &str) {
    let off = actual.abs_diff(expected);
    assert!(off <= TOLERANCE, "{what}: {actual:?}, expected {expected:?}");
}

// ----- SendPacing -----

const OP: &str = "StartStreamSession";

fn ceilings() -> HashMap<String, f64> {
    HashMap::from([(OP.to_string(), 20.0)])
}

async fn send_pacing_keeps_its_contract(pacing: &dyn SendPacing) {
    let rate = pacing.rate(OP).expect("paced");
    let interval = Duration::from_secs_f64(1.0 / rate);
    let now = Instant::now();
    let a = pacing.reserve(OP, now).await.expect("a slot");
    let b = pacing.reserve(OP, now).await.expect("a slot");
    let c = pacing.reserve(OP, now).await.expect("a slot");
    assert_close(b.at() - a.at(), interval, "evenly paced");
    assert_close(c.at() - b.at(), interval, "evenly paced");

    let last = c.at();
    drop(c);
    let again = pacing.reserve(OP, now).await.expect("a slot");
    assert_close(again.at().max(last) - again.at().min(last), Duration::ZERO, "the last slot given back is reused");

    drop(b);
    let next = pacing.reserve(OP, now).await.expect("a slot");
    assert_close(next.at() - again.at(), interval, "a slot given back before the last is not handed out twice");
    let after = next.at() + interval;
    for slot in [a, again, next] {
        slot.used();
    }
    // Background work gets only a slot no caller is queued for, and reserves nothing otherwise.
    let Err(free_at) = pacing.reserve_idle(OP, Instant::now()).await else { panic!("slots queued: none idle") };
    assert_close(free_at.max(after) - free_at.min(after), Duration::ZERO, "the next slot, not reserved");
    tokio::time::sleep_until(free_at).await;
    match pacing.reserve_idle(OP, Instant::now()).await {
        Ok(Some(idle)) => {
            assert_close(idle.at().max(after) - idle.at().min(after), Duration::ZERO, "the slot it was told of");
            idle.used();
        }
        _ => panic!("the schedule is idle once its slots have passed"),
    }
    assert!(pacing.reserve("NotAnOperation", now).await.is_none(), "an operation without a ceiling is not paced");

    pacing.record(OP, true, Instant::now());
    let cut = rate * BETA;
    let waited = tokio::time::timeout(WAIT, async {
        while pacing.rate(OP).is_none_or(|r| (r - cut).abs() > 1e-6) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert!(waited.await.is_ok(), "a throttle cuts the rate by beta: {:?}, expected {cut}", pacing.rate(OP));
    assert_eq!(pacing.rates().get(OP).copied(), pacing.rate(OP));
}

#[tokio::test]
async fn send_pacing_in_process() {
    send_pacing_keeps_its_contract(&LocalPacing::new(ceilings())).await;
}

#[tokio::test]
async fn send_pacing_in_the_fleet() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-pacing").await;
    let pacing = FleetPacing::new(fleet, &ceilings());
    assert_eq!(pacing.rate(OP), Some(20.0 * MARGIN));
    send_pacing_keeps_its_contract(&pacing).await;
}

#[tokio::test]
async fn a_slot_whose_caller_left_before_redis_answered_is_given_back() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-left").await;
    let pacing = FleetPacing::new(fleet, &ceilings());
    let now = Instant::now();
    let first = pacing.reserve(OP, now).await.expect("a slot");
    // Polled once (its request is on its way to Redis), then dropped.
    let left = futures_util::FutureExt::now_or_never(pacing.reserve(OP, now));
    assert!(left.is_none(), "Redis cannot have answered yet");
    let given_back = tokio::time::timeout(WAIT, async {
        while pacing.stats().given_back == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    assert!(given_back.await.is_ok(), "the reservation in flight was given back when Redis answered");
    let next = pacing.reserve(OP, now).await.expect("a slot");
    assert_close(next.at() - first.at(), Duration::from_secs_f64(1.0 / (20.0 * MARGIN)), "its slot, again");
    first.used();
    next.used();
}

// ----- the rate rule: one table, two implementations -----

#[derive(Debug, serde::Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Debug, serde::Deserialize)]
struct Case {
    name: String,
    ceiling: f64,
    steps: Vec<Step>,
}

#[derive(Debug, serde::Deserialize)]
struct Step {
    t: f64,
    op: String,
    slot: Option<usize>,
    repeat: Option<u32>,
    every: Option<f64>,
    expect_slot: Option<f64>,
    expect_rate: Option<f64>,
}

fn vectors() -> Vectors {
    let text = include_str!("../src/sessions/resilience/rate_vectors.json");
    serde_json::from_str(text).expect("rate_vectors.json")
}

/// An implementation of the rule under the vectors: times in ms from the
/// case's start; a reservation answers its slot in ms and an opaque mark.
trait Rule {
    async fn reserve(&mut self, t: f64) -> (f64, Value);
    async fn give_back(&mut self, t: f64, mark: &Value);
    async fn record(&mut self, t: f64, throttled: bool) -> f64;
}

/// Runs every case of the vectors on a rule `make` makes for its ceiling.
async fn follow_the_vectors<R: Rule>(mut make: impl AsyncFnMut(f64) -> R) {
    let vectors = vectors();
    assert!(vectors.cases.len() >= 8);
    for case in vectors.cases {
        let mut rule = make(case.ceiling).await;
        let mut marks = Vec::new();
        for (i, step) in case.steps.iter().enumerate() {
            let what = format!("{}: step {i} ({})", case.name, step.op);
            match step.op.as_str() {
                "reserve" => {
                    let (slot, mark) = rule.reserve(step.t).await;
                    let expected = step.expect_slot.expect("expect_slot");
                    assert!((slot - expected).abs() < 1e-3, "{what}: slot at {slot} ms, expected {expected}");
                    marks.push((i, mark));
                }
                "give_back" => {
                    let index = step.slot.expect("slot");
                    let mark = marks.iter().find(|(at, _)| *at == index).map(|(_, m)| m.clone()).expect("a reserve");
                    rule.give_back(step.t, &mark).await;
                }
                op => {
                    let mut rate = 0.0;
                    for n in 0..step.repeat.unwrap_or(1) {
                        rate = rule.record(step.t + f64::from(n) * step.every.unwrap_or(0.0), op == "throttled").await;
                    }
                    let expected = step.expect_rate.expect("expect_rate");
                    assert!((rate - expected).abs() < 1e-6, "{what}: rate {rate}, expected {expected}");
                }
            }
        }
    }
}

/// The sidecar's limiter, at instants `origin` + t.
struct Limiter {
    origin: Instant,
    limiter: AdaptiveLimiter,
    slots: Vec<gamelift_streams_gateway::sessions::resilience::pacing::SlotId>,
}

impl Limiter {
    fn at(&self, t: f64) -> Instant {
        self.origin + Duration::from_secs_f64(t / 1000.0)
    }
}

impl Rule for Limiter {
    async fn reserve(&mut self, t: f64) -> (f64, Value) {
        let slot = self.limiter.reserve(self.at(t));
        self.slots.push(slot);
        ((slot.at - self.origin).as_secs_f64() * 1000.0, Value::from(self.slots.len() - 1))
    }

    async fn give_back(&mut self, _: f64, mark: &Value) {
        let slot = self.slots[mark.as_u64().expect("an index") as usize];
        self.limiter.give_back(&slot);
    }

    async fn record(&mut self, t: f64, throttled: bool) -> f64 {
        self.limiter.record(throttled, self.at(t));
        self.limiter.rate()
    }
}

/// `pace.lua` on a test clock (microseconds from an origin).
struct Script {
    connection: redis::aio::MultiplexedConnection,
    key: String,
    ceiling: f64,
}

const ORIGIN_MICROS: f64 = 1.7e15;

impl Script {
    async fn call(&mut self, mode: &str, t: f64, args: &[String]) -> (u64, String, String, String, i64, u8) {
        let mut call = PACE.key(&self.key);
        call.arg(mode).arg(self.ceiling).arg(format!("{}", ORIGIN_MICROS + t * 1000.0));
        for arg in args {
            call.arg(arg);
        }
        call.invoke_async(&mut self.connection).await.expect("pace.lua")
    }
}

impl Rule for Script {
    async fn reserve(&mut self, t: f64) -> (f64, Value) {
        let (wait, _, start, end, _, _) = self.call("reserve", t, &["0".into(), String::new()]).await;
        (t + wait as f64 / 1000.0, Value::from(vec![start, end]))
    }

    async fn give_back(&mut self, t: f64, mark: &Value) {
        let text = |i: usize| mark[i].as_str().expect("a mark").to_string();
        self.call("give_back", t, &[text(0), text(1)]).await;
    }

    async fn record(&mut self, t: f64, throttled: bool) -> f64 {
        let (_, rate, ..) = self.call("record", t, &[u8::from(throttled).to_string()]).await;
        rate.parse().expect("a rate")
    }
}

#[tokio::test]
async fn the_sidecars_limiter_follows_the_rate_vectors() {
    follow_the_vectors(async |ceiling| {
        let origin = Instant::now();
        Limiter { origin, limiter: AdaptiveLimiter::new(ceiling, origin), slots: Vec::new() }
    })
    .await;
}

#[tokio::test]
async fn the_fleets_pace_script_follows_the_rate_vectors() {
    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).expect("url");
    let connection = client.get_multiplexed_async_connection().await.expect("connect");
    let mut n = 0;
    follow_the_vectors(async |ceiling| {
        n += 1;
        Script { connection: connection.clone(), key: format!("vectors:{n}"), ceiling }
    })
    .await;
}

/// Sends `n` calls of [`OP`] through `resilience` as work of `priority`;
/// when each was sent.
async fn sends(resilience: Arc<Resilience>, n: usize, priority: Priority) -> Vec<Instant> {
    let mut sent = Vec::new();
    for _ in 0..n {
        let at = resilience.call_limited(OP, None, 1, priority, || async { Ok::<_, SessionError>(Instant::now()) });
        sent.push(at.await.expect("sent"));
    }
    sent
}

#[tokio::test]
async fn background_work_of_four_sidecars_shares_the_fleets_idle_slots_and_a_caller_goes_first() {
    let redis = RedisServer::start();
    let mut sidecars = Vec::new();
    for _ in 0..4 {
        let pacing = Arc::new(FleetPacing::new(fleet(&redis, "seams-background").await, &ceilings()));
        let policy = RetryPolicy { ceilings: ceilings(), ..RetryPolicy::default() };
        sidecars.push(Arc::new(Resilience::with_seed(policy, 1).with_pacing(pacing)));
    }
    let start = Instant::now();
    // Four sidecars' pollers, 10 sends each, one at a time (as a poller sends).
    let background: Vec<_> =
        sidecars.iter().map(|r| tokio::spawn(sends(r.clone(), 10, Priority::Background))).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = Instant::now();
    let caller = sends(sidecars[0].clone(), 1, Priority::Caller).await;
    let waited = caller[0] - asked;
    let mut polls = Vec::new();
    for task in background {
        polls.extend(tokio::time::timeout(WAIT, task).await.expect("background work is not starved").expect("sent"));
    }
    let rate = 20.0 * MARGIN;
    let took = polls.iter().max().expect("40").duration_since(start);
    // At most a slot in ten missed: a loaded 2-core machine delays the
    // sidecars' wake-ups, but no slot may be lost to their contention.
    assert!(
        took <= Duration::from_secs_f64(1.1 * 41.0 / rate) + TOLERANCE * 4,
        "40 background sends and a caller's took {took:?}: the fleet's idle slots were lost"
    );
    let slot = Duration::from_secs_f64(1.0 / rate);
    assert!(waited <= 2 * slot + TOLERANCE, "the caller waited {waited:?} behind background work");
}

// ----- OutcomeStore -----

fn response(arn: &str) -> Stored {
    Ok(Bytes::from(arn.as_bytes().to_vec()))
}

fn upstream(kind: UpstreamKind, code: &str) -> Stored {
    let error = SessionError::Upstream { kind, code: code.into(), message: "m".into(), request_id: Some("r-1".into()) };
    Err(ApiError::Call(CallFailure { error, attempts: 2, gave_up: GiveUp::NotRetryable, retry_after: None }))
}

/// Two outcomes as a caller sees them: the same bytes, or the same error whole.
fn same(a: &Stored, b: &Stored) -> bool {
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => serde_json::to_value(a).ok() == serde_json::to_value(b).ok(),
        _ => false,
    }
}

fn outcome_of(begin: Begin<Stored>) -> Stored {
    match begin {
        Begin::Replay(stored) => stored,
        Begin::Lead(_) => panic!("led, expected a replay"),
        Begin::Join(_) => panic!("joined, expected a replay"),
        Begin::Reused => panic!("refused, expected a replay"),
    }
}

/// Leads `key`, has a caller join it, finishes with `outcome` (kept or
/// not) and returns what the joiner got.
async fn lead_join_finish(store: &dyn OutcomeStore<Stored>, key: Key, outcome: Stored, keep: bool) -> Option<Stored> {
    let fp = Fingerprint::of(b"params");
    let Begin::Lead(leader) = store.begin(key, fp, Instant::now()).await else { panic!("the first call leads") };
    let Begin::Join(joiner) = store.begin(key, fp, Instant::now()).await else { panic!("the second joins") };
    leader.finish(outcome, keep, Instant::now());
    joiner.outcome().await
}

async fn outcome_store_keeps_its_contract(store: &dyn OutcomeStore<Stored>) {
    let fp = Fingerprint::of(b"params");
    let key = |id: &str| Key::new("seams", "StartStreamSession", id);

    let arn = response("arn:session-1");
    let joined = lead_join_finish(store, key("kept"), arn.clone(), true).await.expect("the joiner's outcome");
    assert!(same(&joined, &arn), "the joiner gets the response");
    assert!(same(&outcome_of(store.begin(key("kept"), fp, Instant::now()).await), &arn), "and a later call too");

    let not_found = upstream(UpstreamKind::NotFound, "ResourceNotFoundException");
    let joined = lead_join_finish(store, key("failed"), not_found.clone(), true).await.expect("an outcome");
    assert!(same(&joined, &not_found), "the joiner gets the final error whole");
    let replayed = outcome_of(store.begin(key("failed"), fp, Instant::now()).await);
    assert!(same(&replayed, &not_found), "a final error is replayed whole, never as a success: {replayed:?}");

    let other = Fingerprint::of(b"other parameters");
    assert!(matches!(store.begin(key("kept"), other, Instant::now()).await, Begin::Reused), "done, other parameters");
    let Begin::Lead(running) = store.begin(key("running"), fp, Instant::now()).await else { panic!("leads") };
    assert!(
        matches!(store.begin(key("running"), other, Instant::now()).await, Begin::Reused),
        "running, other parameters"
    );
    drop(running);

    let throttled = upstream(UpstreamKind::Throttling, "ThrottlingException");
    let joined = lead_join_finish(store, key("transient"), throttled.clone(), false).await.expect("an outcome");
    assert!(same(&joined, &throttled), "the joiner gets a transient outcome too");
    assert!(
        matches!(store.begin(key("transient"), fp, Instant::now()).await, Begin::Lead(_)),
        "a transient outcome is not kept: the next call runs again"
    );

    let Begin::Lead(vanishing) = store.begin(key("vanished"), fp, Instant::now()).await else { panic!("leads") };
    let Begin::Join(joiner) = store.begin(key("vanished"), fp, Instant::now()).await else { panic!("joins") };
    drop(vanishing);
    assert!(joiner.outcome().await.is_none(), "a leader that vanished leaves its joiners no outcome");
    assert!(matches!(store.begin(key("vanished"), fp, Instant::now()).await, Begin::Lead(_)), "and frees the key");
}

fn limits() -> StoreLimits {
    StoreLimits { retention: Duration::from_secs(600), max_entries: 1000 }
}

#[tokio::test]
async fn outcome_store_in_process() {
    outcome_store_keeps_its_contract(&IdempotencyStore::new(limits())).await;
}

#[tokio::test]
async fn outcome_store_in_the_fleet() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-outcomes").await;
    outcome_store_keeps_its_contract(&FleetOutcomes::new(fleet, limits())).await;
}

#[tokio::test]
async fn an_unreadable_kept_outcome_is_repaired_not_replayed() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-corrupt").await;
    let store = FleetOutcomes::new(fleet.clone(), limits());
    let key = Key::new("seams", "StartStreamSession", "corrupt");
    let arn = response("arn:kept");
    let joined = lead_join_finish(&store, key, arn.clone(), true).await.expect("an outcome");
    assert!(same(&joined, &arn));
    let record = fleet.key(&format!("outcome:{}", key.client_token()));
    redis.cli(&["HSET", &record, "out", "E{not an outcome"]);
    let begin = store.begin(key, Fingerprint::of(b"params"), Instant::now()).await;
    assert!(matches!(begin, Begin::Lead(_)), "the call runs again (its ClientToken makes AWS answer the same)");
    assert_eq!(fleet.stats().repairs.get("outcome"), Some(&1));
}

// ----- PollResults -----

/// The contract of a store that `shares` results between pollers, or of
/// one that shares nothing (every read is the poller's own).
async fn poll_results_keep_their_contract(results: &dyn PollResults, shares: bool) {
    let read = Read::Session("ss-1");
    let Look::Fetch(ticket) = results.look("sg-1", read, false).await else { panic!("nothing known: fetch") };
    let busy = results.look("sg-1", read, false).await;
    assert!(matches!(busy, Look::Busy(None)) == shares, "while another poller fetches: busy if shared");

    // Read times are kept to the microsecond.
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970");
    let read_at = UNIX_EPOCH + Duration::from_micros(u64::try_from(since_epoch.as_micros()).expect("micros"));
    ticket.store(Bytes::from_static(b"state-2"), read_at, Duration::from_secs(60));
    match results.look("sg-1", read, false).await {
        Look::Fresh(result) => {
            assert!(shares);
            assert_eq!((result.bytes.as_ref(), result.read_at), (&b"state-2"[..], read_at));
        }
        Look::Fetch(_) => assert!(!shares, "a shared fresh result is used"),
        Look::Busy(_) => panic!("the ticket stored its result"),
    }

    let Look::Fetch(forced) = results.look("sg-1", read, true).await else { panic!("a forced look fetches") };
    forced.store(Bytes::from_static(b"state-1"), read_at - Duration::from_secs(1), Duration::from_secs(60));
    if let Look::Fresh(result) = results.look("sg-1", read, false).await {
        assert_eq!(result.bytes.as_ref(), b"state-2", "a result read earlier does not replace a later one");
    }

    // A call's answer offered is every poller's while fresh, unless a later read is stored.
    let answered = Read::Session("ss-2");
    results.offer("sg-1", answered, Bytes::from_static(b"answered"), read_at, Duration::from_secs(60));
    match results.look("sg-1", answered, false).await {
        Look::Fresh(result) => assert!(shares && result.bytes.as_ref() == b"answered"),
        Look::Fetch(_) => assert!(!shares, "an offered result is used when shared"),
        Look::Busy(_) => panic!("nobody fetches it"),
    }
    results.offer(
        "sg-1",
        answered,
        Bytes::from_static(b"older"),
        read_at - Duration::from_secs(1),
        Duration::from_secs(60),
    );
    if let Look::Fresh(result) = results.look("sg-1", answered, false).await {
        assert_eq!(result.bytes.as_ref(), b"answered", "an answer read earlier does not replace a later one");
    }

    let Look::Fetch(dropped) = results.look("sg-1", read, true).await else { panic!("fetch") };
    drop(dropped);
    let other = Read::Page("");
    let Look::Fetch(_) = results.look("sg-1", other, false).await else { panic!("reads are apart") };
    let stage_read = Read::Stage("ss-1");
    let Look::Fetch(_) = results.look("sg-1", stage_read, false).await else { panic!("a stage's read is apart") };
    let recent = results.recent("sg-1", read, Duration::from_secs(60)).await;
    assert_eq!(recent.is_some(), shares, "a recent result is answered when shared");
}

#[tokio::test]
async fn poll_results_in_process() {
    poll_results_keep_their_contract(&NotShared, false).await;
}

#[tokio::test]
async fn poll_results_in_the_fleet() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-reads").await;
    poll_results_keep_their_contract(&FleetReads::new(fleet), true).await;
}

/// A stored result that differs from the one before is announced on the
/// fleet's change channel, once; one that does not is not.
async fn changed_results_are_announced(fleet: Arc<Fleet>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    fleet.subscribe("changes", move |notice| {
        let _ = tx.send(String::from_utf8_lossy(notice).to_string());
    });
    let results = FleetReads::new(fleet.clone());
    let offer = |read, bytes: Bytes| results.offer("sg-1", read, bytes, SystemTime::now(), Duration::from_secs(60));
    // The subscription is made in the background: offer new results until one is announced.
    let mut n = 0u32;
    let first = tokio::time::timeout(WAIT, async {
        loop {
            n += 1;
            offer(Read::Session("ss-1"), Bytes::from(format!("state-{n}")));
            if let Ok(Some(notice)) = tokio::time::timeout(Duration::from_millis(100), rx.recv()).await {
                return notice;
            }
        }
    });
    let notice = first.await.expect("a change is announced");
    assert_eq!(notice, format!("{}\nsg-1\nsession\nss-1", fleet.member()), "who, where and which read");
    while tokio::time::timeout(Duration::from_millis(200), rx.recv()).await.is_ok() {}
    offer(Read::Session("ss-1"), Bytes::from(format!("state-{n}")));
    offer(Read::Page(""), Bytes::from_static(b"a page"));
    let next = tokio::time::timeout(WAIT, rx.recv()).await.expect("announced").expect("subscribed");
    assert_eq!(next, format!("{}\nsg-1\npage\n", fleet.member()), "the unchanged session was not announced");
}

#[tokio::test]
async fn changed_results_are_announced_on_redis_and_on_a_cluster() {
    let redis = RedisServer::start();
    changed_results_are_announced(fleet(&redis, "seams-changes").await).await;
    let cluster = RedisCluster::start(3);
    changed_results_are_announced(cluster_fleet(&cluster, "cluster-changes").await).await;
}

#[tokio::test]
async fn a_poll_result_with_times_that_are_not_times_is_repaired() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-bad-result").await;
    let results = FleetReads::new(fleet.clone());
    let read = Read::Session("ss-9");
    let Look::Fetch(ticket) = results.look("sg-1", read, false).await else { panic!("fetch") };
    ticket.store(Bytes::from_static(b"state"), SystemTime::now(), Duration::from_secs(60));
    assert!(matches!(results.look("sg-1", read, false).await, Look::Fresh(_)), "stored");
    let key = fleet.key("poll:sg-1:session:ss-9");
    redis.cli(&["HSET", &key, "fresh", "nan"]);
    assert!(matches!(results.look("sg-1", read, false).await, Look::Fetch(_)), "repaired: fetched anew");
    assert_eq!(fleet.stats().repairs.get("poll result"), Some(&1));
}

#[tokio::test]
async fn a_fetch_lease_is_kept_while_its_holder_waits_for_a_poll_slot() {
    let redis = RedisServer::start();
    let holder = FleetReads::new(fleet(&redis, "seams-renewal").await);
    let other = FleetReads::new(fleet(&redis, "seams-renewal").await);
    let read = Read::Session("ss-slow");
    let Look::Fetch(ticket) = holder.look("sg-1", read, false).await else { panic!("fetch") };
    // Past the lease: a live holder still has it (it waits for its poll slot).
    tokio::time::sleep(FETCH_LEASE + Duration::from_secs(1)).await;
    assert!(matches!(other.look("sg-1", read, false).await, Look::Busy(None)), "the holder keeps its lease");
    ticket.store(Bytes::from_static(b"read late"), SystemTime::now(), Duration::from_secs(60));
    // The holder's link writes it; the other sidecar sees it once it lands.
    let stored = tokio::time::timeout(WAIT, async {
        loop {
            match other.look("sg-1", read, false).await {
                Look::Fresh(result) => return result,
                Look::Busy(None) => tokio::time::sleep(Duration::from_millis(5)).await,
                _ => panic!("the lease stayed the holder's until its result was stored"),
            }
        }
    });
    assert_eq!(stored.await.expect("its result was stored").bytes.as_ref(), b"read late");
}

// ----- PollSchedule -----

/// The pollers' share of a rate of 4/s: a poll every 500 ms at share 0.5.
const SEND_RATE: Option<f64> = Some(4.0);
const POLL_EVERY: Duration = Duration::from_millis(500);

async fn poll_schedule_keeps_its_contract(schedule: &dyn PollSchedule) {
    let t0 = Instant::now();
    schedule.acquire(OP, SEND_RATE).await;
    schedule.acquire(OP, SEND_RATE).await;
    assert_close(t0.elapsed(), POLL_EVERY, "the second poll waits one interval");
    let left = tokio::time::timeout(Duration::from_millis(200), schedule.acquire(OP, SEND_RATE)).await;
    assert!(left.is_err(), "the third poll's slot is an interval away; its poller left");
    schedule.acquire(OP, SEND_RATE).await;
    assert_close(t0.elapsed(), 2 * POLL_EVERY, "the slot given back, not the one after it");
    let other = Instant::now();
    schedule.acquire("ListStreamSessions", SEND_RATE).await;
    assert_close(other.elapsed(), Duration::ZERO, "operations are paced apart");
    schedule.acquire("NotPaced", None).await;
}

#[tokio::test]
async fn poll_schedule_in_process() {
    poll_schedule_keeps_its_contract(&PollBudget::new(0.5)).await;
}

#[tokio::test]
async fn poll_schedule_in_the_fleet() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-polls").await;
    poll_schedule_keeps_its_contract(&FleetSchedule::new(fleet, 0.5)).await;
}

#[tokio::test]
async fn the_poll_share_is_the_fleets_not_each_sidecars() {
    let redis = RedisServer::start();
    let (a, b) = (fleet(&redis, "seams-share").await, fleet(&redis, "seams-share").await);
    let (a, b) = (FleetSchedule::new(a, 0.5), FleetSchedule::new(b, 0.5));
    let t0 = Instant::now();
    a.acquire(OP, SEND_RATE).await;
    b.acquire(OP, SEND_RATE).await;
    a.acquire(OP, SEND_RATE).await;
    assert_close(t0.elapsed(), 2 * POLL_EVERY, "two sidecars poll as one: three polls take two intervals");
}

// ----- PendingTerminations -----

fn pending(arn: &str) -> Pending {
    Pending { group: "sg-1".into(), arn: arn.into() }
}

async fn pending_terminations_keep_their_contract(store: &dyn PendingTerminations, shared: bool) {
    let claim = store.add(pending("arn:1")).await.expect("new: claimed");
    assert!(store.add(pending("arn:1")).await.is_none(), "pending already: someone works on it");
    claim.done();
    store.add(pending("arn:1")).await.expect("settled, so new again").done();

    let abandoned = store.add(pending("arn:2")).await.expect("claimed");
    drop(abandoned);
    let orphans = store.orphans().await;
    let arns: Vec<&str> = orphans.iter().map(|(p, _)| p.arn.as_str()).collect();
    if shared {
        assert_eq!(arns, ["arn:2"], "a termination its worker dropped is another's to carry out");
    } else {
        assert!(arns.is_empty(), "in one process nothing is orphaned: {arns:?}");
    }
    for (_, claim) in orphans {
        claim.done();
    }
    assert!(store.orphans().await.is_empty(), "settled");
}

#[tokio::test]
async fn pending_terminations_in_process() {
    pending_terminations_keep_their_contract(&InProcess::default(), false).await;
}

#[tokio::test]
async fn pending_terminations_in_the_fleet() {
    let redis = RedisServer::start();
    let fleet = fleet(&redis, "seams-terminations").await;
    pending_terminations_keep_their_contract(&FleetTerminations::new(fleet), true).await;
}

// ----- every seam on a Redis Cluster -----

#[tokio::test]
async fn every_seam_keeps_its_contract_on_a_redis_cluster() {
    let cluster = RedisCluster::start(3);
    let pacing = FleetPacing::new(cluster_fleet(&cluster, "cluster-pacing").await, &ceilings());
    send_pacing_keeps_its_contract(&pacing).await;
    let outcomes = FleetOutcomes::new(cluster_fleet(&cluster, "cluster-outcomes").await, limits());
    outcome_store_keeps_its_contract(&outcomes).await;
    let reads = FleetReads::new(cluster_fleet(&cluster, "cluster-reads").await);
    poll_results_keep_their_contract(&reads, true).await;
    let schedule = FleetSchedule::new(cluster_fleet(&cluster, "cluster-polls").await, 0.5);
    poll_schedule_keeps_its_contract(&schedule).await;
    let terminations = FleetTerminations::new(cluster_fleet(&cluster, "cluster-terminations").await);
    pending_terminations_keep_their_contract(&terminations, true).await;
    let (owner, _) = cluster.owner_and_other("{cluster-outcomes:us-west-2}");
    assert_eq!(
        owner.cli(&["ZCARD", "{cluster-outcomes:us-west-2}:members"]),
        "1",
        "the keys live on their slot's node"
    );
}

// ----- StageReads -----

/// The contract of a stage's reads, on the emulator's IVS Real-Time: a
/// stage nobody joined has no session; a join makes the newest session,
/// active, with the participant and its JOINED; a leave ends it; a stage
/// that does not exist is NOT_FOUND.
async fn stage_reads_keep_their_contract(reads: &dyn StageReads, h: &support::Harness, stage: &str, token: &str) {
    assert_eq!(reads.active_session(stage).await.expect("GetStage"), "");
    assert!(reads.sessions(stage).await.expect("ListStageSessions").is_empty());
    let (status, joined) =
        h.admin(reqwest::Method::POST, "ivs/participants", Some(serde_json::json!({ "token": token }))).await;
    assert_eq!(status, 200, "{joined}");
    let (session, id) = (joined["sessionId"].as_str().expect("session"), joined["participantId"].as_str().expect("id"));
    let sessions = reads.sessions(stage).await.expect("sessions");
    assert_eq!(sessions[0].session_id, session, "newest first");
    assert!(sessions[0].end_time.is_none(), "active");
    let (participants, next) = reads.participants(stage, session, "").await.expect("participants");
    assert_eq!((participants.len(), participants[0].participant_id.as_str(), next.as_str()), (1, id, ""));
    let events = reads.events(stage, session, id).await.expect("events");
    assert_eq!(events.first().map(ivs::ParticipantEvent::name), Some(ivs::ParticipantEventName::Joined));
    let missing = "arn:aws:ivs:us-west-2:111122223333:stage/NoSuchStage01";
    let failure = reads.active_session(missing).await.expect_err("no such stage");
    assert!(gamelift_streams_gateway::stages::is_not_found(&failure), "{failure:?}");
}

/// A stage and a token for it, on `h`'s emulator.
async fn stage_and_token(client: &aws_sdk_ivsrealtime::Client) -> (String, String) {
    let stage = client.create_stage().send().await.expect("stage").stage.expect("stage").arn;
    let token = client.create_participant_token().stage_arn(&stage).send().await.expect("token");
    (stage, token.participant_token.and_then(|t| t.token).expect("token"))
}

fn ivs_sender(h: &support::Harness) -> Sender<aws_sdk_ivsrealtime::Client> {
    let url = h.emulator.endpoint_url();
    Sender::new("IVSRealTime", support::stages::ivs_client(&url), Arc::new(Resilience::new(RetryPolicy::default())))
}

#[tokio::test]
async fn stage_reads_through_the_sdk() {
    let h = support::harness_with(support::unlimited()).await;
    let sender = ivs_sender(&h);
    let (stage, token) = stage_and_token(sender.client()).await;
    stage_reads_keep_their_contract(&sender, &h, &stage, &token).await;
}

#[tokio::test]
async fn stage_reads_shared_in_process() {
    let h = support::harness_with(support::unlimited()).await;
    let sender = ivs_sender(&h);
    let (stage, token) = stage_and_token(sender.client()).await;
    let shared = SharedStageReads::new(Arc::new(sender), Arc::new(NotShared), Duration::from_millis(1));
    stage_reads_keep_their_contract(&shared, &h, &stage, &token).await;
}

#[tokio::test]
async fn stage_reads_shared_in_the_fleet() {
    let h = support::harness_with(support::unlimited()).await;
    let redis = RedisServer::start();
    let sender = ivs_sender(&h);
    let (stage, token) = stage_and_token(sender.client()).await;
    let reads = Arc::new(FleetReads::new(fleet(&redis, "seams-stage-reads").await));
    // Fresh for a millisecond: each read of the contract sees the last change.
    let shared = SharedStageReads::new(Arc::new(sender), reads, Duration::from_millis(1));
    stage_reads_keep_their_contract(&shared, &h, &stage, &token).await;
}
