//! Fleet mode: every sidecar of an account and Region shares one Redis, so
//! that together they behave as one client of the account's quota. [`Fleet`]
//! is the link: one multiplexed connection (re-established by itself), every
//! command bounded by a timeout, and a heartbeat registry of live members.
//! When Redis fails or is slow the link is *degraded*: the seams behind it
//! ([`pacing::FleetPacing`], [`outcomes::FleetOutcomes`]) answer from the
//! sidecar's own state at once (its share of each ceiling, its own
//! idempotency store) and only the heartbeat tries Redis, until it answers
//! again. No call fails because Redis failed. Writes that must land (a
//! finished call's outcome) wait in an outbox while Redis is away.
//!
//! Redis is input, not truth: the scripts check every value they read (type,
//! range, finiteness) and repair what is wrong, and the link counts and logs
//! each repair; the member count a sidecar divides the quota by is the most
//! it saw recently or was told to expect, never what an emptied Redis says.

pub mod connection;
pub mod outcomes;
pub mod pacing;
pub mod reads;
pub mod schedule;
pub mod terminations;

use futures_util::StreamExt;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use redis::{IntoConnectionInfo, RedisResult, Script};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::sync::lock;
use connection::{Connection, Link, Settings};

/// The key prefix when none is configured (followed by the Region).
pub const DEFAULT_PREFIX: &str = "gls";

/// How a sidecar joins its fleet.
#[derive(Clone, PartialEq)]
pub struct FleetConfig {
    /// `redis://` or `rediss://` (TLS), user and password optional.
    pub url: String,
    /// A password that overrides the URL's (from a mounted Secret).
    pub password: Option<String>,
    /// What every key starts with: sidecars with the same prefix share state.
    pub prefix: String,
    /// Longest wait for one Redis command before the sidecar goes local.
    pub timeout: Duration,
    /// How often each sidecar says it is alive; members silent for three
    /// heartbeats no longer count.
    pub heartbeat: Duration,
    /// GetStreamSession answered from a shared poll result at most this old
    /// (instead of a call upstream); `None`: always upstream.
    pub recent_gets: Option<Duration>,
    /// Whether Redis is a cluster (ElastiCache cluster mode): the sidecar then
    /// uses a cluster client, which follows slots and redirections.
    pub cluster: bool,
    /// How many sidecars the fleet is expected to have (the replica count):
    /// a sidecar never assumes fewer when it paces alone, so one started
    /// while Redis is down does not take the whole quota.
    pub expected_members: usize,
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("url", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("heartbeat", &self.heartbeat)
            .field("recent_gets", &self.recent_gets)
            .field("cluster", &self.cluster)
            .field("expected_members", &self.expected_members)
            .finish_non_exhaustive()
    }
}

/// A Redis URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("not a usable Redis URL: {0}")]
pub struct BadUrl(String);

/// Counts of the link, for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkStats {
    /// Live members at the last heartbeat that reached Redis.
    pub members: usize,
    /// The members this sidecar divides each ceiling by when it paces alone:
    /// the most seen recently, at least the expected fleet size.
    pub assumed_members: usize,
    /// Whether the sidecar serves from local state now.
    pub degraded: bool,
    /// Times the sidecar went local.
    pub degradations: u64,
    /// Redis commands sent.
    pub commands: u64,
    /// Commands that failed or timed out.
    pub errors: u64,
    /// Seconds spent waiting for commands that answered.
    pub latency_seconds: f64,
    /// Idempotency keys this sidecar holds while it runs their call.
    pub idempotency_leases: usize,
    /// Poll reads this sidecar holds the fetch lease of.
    pub read_leases: usize,
    /// Writes waiting for Redis to answer again.
    pub outbox: usize,
    /// Writes given up because the outbox was full.
    pub outbox_dropped: u64,
    /// Bad values found in Redis and repaired, by what they were.
    pub repairs: BTreeMap<&'static str, u64>,
}

/// What a lease this sidecar holds is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseKind {
    /// An idempotency key whose call runs here.
    Idempotency,
    /// A poll read made here for the fleet.
    Read,
}

/// A lease this sidecar holds, counted until dropped.
pub struct Held {
    fleet: Arc<Fleet>,
    kind: LeaseKind,
}

impl Held {
    /// The link the lease was taken through.
    pub fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.fleet.leases(self.kind).fetch_sub(1, Ordering::Relaxed);
    }
}

/// A duration as the whole milliseconds Redis takes (PX, PEXPIRE).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A fleet script: `body` after the checks every script starts with (`checks.lua`).
pub fn script(body: &str) -> Script {
    Script::new(&format!("{}{body}", include_str!("checks.lua")))
}

static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| script(include_str!("heartbeat.lua")));

/// How long a sidecar's place among the sharers of the fleet's budget lasts
/// after its heartbeat, in heartbeats.
const SHARING_HEARTBEATS: f64 = 1.5;

/// How long a member count seen is remembered: a sidecar paces alone at its
/// share of the most members seen within this window (at least).
const MEMBER_MEMORY_HEARTBEATS: u32 = 30;
const MIN_MEMBER_MEMORY: Duration = Duration::from_secs(30);
/// Most writes the outbox holds while Redis is away; the oldest go first.
const OUTBOX: usize = 10_000;
/// At most one log line per kind of repair within this time.
const REPAIR_LOG_EVERY: Duration = Duration::from_secs(60);

/// The member counts a sidecar saw, and the fleet size it was told to expect.
#[derive(Debug)]
struct Membership {
    expected: usize,
    live: usize,
    /// Members pacing from the fleet's budget at the last heartbeat, and
    /// whether this sidecar was one of them.
    sharers: usize,
    counted: bool,
    /// When the last heartbeat that counted this sidecar among the sharers answered.
    shared_at: Option<Instant>,
    memory: Duration,
    /// Counts seen within `memory`, oldest first.
    seen: VecDeque<(Instant, usize)>,
}

impl Membership {
    fn saw(&mut self, live: usize, now: Instant) {
        self.live = live.max(1);
        self.seen.push_back((now, self.live));
        while self.seen.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > self.memory) {
            self.seen.pop_front();
        }
    }

    fn assumed(&self, now: Instant) -> usize {
        let recent = self.seen.iter().filter(|(at, _)| now.saturating_duration_since(*at) <= self.memory);
        recent.map(|(_, n)| *n).chain([self.expected, self.live]).max().unwrap_or(1).max(1)
    }
}

/// A write that must land: a script, its keys and arguments.
struct Delivery {
    script: &'static Script,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl Delivery {
    async fn send(&self, mut c: Connection) -> RedisResult<redis::Value> {
        let mut call = self.script.prepare_invoke();
        for key in &self.keys {
            call.key(key);
        }
        for arg in &self.args {
            call.arg(arg.as_slice());
        }
        call.invoke_async(&mut c).await
    }
}

/// The writes of the link, sent in order by one task.
struct Writes {
    tx: mpsc::UnboundedSender<(Delivery, bool)>,
    /// Writes queued so far, and written (or dropped) so far.
    queued: AtomicU64,
    written: watch::Sender<u64>,
}

/// The repairs of one kind of bad value.
#[derive(Debug, Default)]
struct Repairs {
    count: u64,
    logged: Option<Instant>,
}

/// One sidecar's link to its fleet.
pub struct Fleet {
    link: Link,
    tag: String,
    member: String,
    /// For subscriptions, which need a connection of their own.
    subscriber: redis::Client,
    timeout: Duration,
    heartbeat: Duration,
    degraded: AtomicBool,
    /// Whether this sidecar paces from the fleet's budget now.
    sharing: AtomicBool,
    membership: Mutex<Membership>,
    writes: Writes,
    outbox: Mutex<VecDeque<Delivery>>,
    outbox_dropped: AtomicU64,
    repairs: Mutex<BTreeMap<&'static str, Repairs>>,
    degradations: AtomicU64,
    commands: AtomicU64,
    errors: AtomicU64,
    latency_micros: AtomicU64,
    idempotency_leases: AtomicUsize,
    read_leases: AtomicUsize,
}

impl fmt::Debug for Fleet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fleet").field("tag", &self.tag).field("member", &self.member).finish_non_exhaustive()
    }
}

impl Fleet {
    /// Joins the fleet of `config` in `region`: one heartbeat, bounded by the
    /// timeout, before this returns (so the first calls already share the
    /// fleet's budget when Redis is up), then one each heartbeat interval in
    /// the background. Redis being down is not an error: the sidecar starts
    /// local and joins when Redis answers.
    pub async fn join(config: &FleetConfig, region: &str) -> Result<Arc<Self>, BadUrl> {
        let mut info = config.url.as_str().into_connection_info().map_err(|e| BadUrl(e.to_string()))?;
        if let Some(password) = &config.password {
            info = info.clone().set_redis_settings(info.redis_settings().clone().set_password(password));
        }
        let subscriber = redis::Client::open(info.clone()).map_err(|e| BadUrl(e.to_string()))?;
        let settings = Settings { info, cluster: config.cluster, timeout: config.timeout, max_delay: config.heartbeat };
        let link = Link::new(settings).map_err(|e| BadUrl(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let fleet = Arc::new(Self {
            link,
            subscriber,
            tag: format!("{{{}:{region}}}", config.prefix),
            member: uuid::Uuid::new_v4().to_string(),
            timeout: config.timeout,
            heartbeat: config.heartbeat,
            degraded: AtomicBool::new(false),
            sharing: AtomicBool::new(true),
            membership: Mutex::new(Membership {
                expected: config.expected_members.max(1),
                live: 1,
                sharers: 1,
                counted: true,
                shared_at: None,
                memory: (config.heartbeat * MEMBER_MEMORY_HEARTBEATS).max(MIN_MEMBER_MEMORY),
                seen: VecDeque::new(),
            }),
            writes: Writes { tx, queued: AtomicU64::new(0), written: watch::Sender::new(0) },
            outbox: Mutex::new(VecDeque::new()),
            outbox_dropped: AtomicU64::new(0),
            repairs: Mutex::new(BTreeMap::new()),
            degradations: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_micros: AtomicU64::new(0),
            idempotency_leases: AtomicUsize::new(0),
            read_leases: AtomicUsize::new(0),
        });
        tokio::spawn(Self::write_in_order(Arc::downgrade(&fleet), rx));
        fleet.beat().await;
        tokio::spawn(Self::keep_alive(Arc::downgrade(&fleet)));
        Ok(fleet)
    }

    async fn keep_alive(fleet: std::sync::Weak<Self>) {
        loop {
            let Some(interval) = fleet.upgrade().map(|f| f.heartbeat) else { return };
            tokio::time::sleep(interval).await;
            let Some(fleet) = fleet.upgrade() else { return };
            fleet.beat().await;
        }
    }

    /// One heartbeat: on success the member count is current, a degraded
    /// link is live again, and the writes waiting in the outbox are sent.
    async fn beat(&self) {
        let ttl = millis(self.heartbeat * 3);
        let sharing_ttl = millis(self.heartbeat.mul_f64(SHARING_HEARTBEATS));
        let (members, sharers) = (self.key("members"), self.key("sharers"));
        let sharing = self.sharing.load(Ordering::Relaxed);
        let beat: Option<(usize, usize, u8)> = self
            .attempt(|mut c| async move {
                let mut call = HEARTBEAT.key(members);
                call.key(sharers).arg(&self.member).arg(ttl).arg("beat").arg(u8::from(sharing)).arg(sharing_ttl);
                call.invoke_async(&mut c).await
            })
            .await;
        if let Some((members, sharers, repaired)) = beat {
            if repaired == 1 {
                self.repaired("members");
            }
            {
                let mut membership = lock(&self.membership);
                let now = Instant::now();
                membership.saw(members, now);
                (membership.sharers, membership.counted) = (sharers, sharing);
                if sharing {
                    membership.shared_at = Some(now);
                }
            }
            if self.degraded.swap(false, Ordering::Relaxed) {
                tracing::info!(members, "fleet mode: Redis answers again; sharing the fleet's state");
            }
            self.flush().await;
        }
    }

    /// Leaves the fleet's member count (at shutdown), so the others' local
    /// share grows at once instead of three heartbeats later.
    pub async fn leave(&self) {
        let ttl = millis(self.heartbeat * 3);
        let (members, sharers) = (self.key("members"), self.key("sharers"));
        let _: Option<(usize, usize, u8)> = self
            .attempt(|mut c| async move {
                let mut call = HEARTBEAT.key(members);
                call.key(sharers).arg(&self.member).arg(ttl).arg("leave").arg(0).arg(0);
                call.invoke_async(&mut c).await
            })
            .await;
    }

    /// The full name of a key: every key of the fleet shares one hash tag,
    /// so multi-key scripts run on Redis Cluster too.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.tag)
    }

    /// This sidecar's id in the fleet.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// Whether the sidecar serves from local state now.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Live members at the last heartbeat that reached Redis (at least 1).
    pub fn members(&self) -> usize {
        lock(&self.membership).live
    }

    /// The members this sidecar divides each ceiling by when it paces alone:
    /// the most it saw within the last 30 heartbeats (at least 30 s), at
    /// least the fleet size it was told to expect.
    pub fn assumed_members(&self) -> usize {
        lock(&self.membership).assumed(Instant::now())
    }

    /// Says whether this sidecar paces from the fleet's budget now (not
    /// while it drains slots it reserved alone); the next heartbeat tells
    /// the fleet.
    pub fn set_sharing(&self, sharing: bool) {
        self.sharing.store(sharing, Ordering::Relaxed);
    }

    /// Until when this sidecar's share is lent to the fleet: the others count
    /// it among the budget's sharers until its place runs out and their next
    /// heartbeat tells them, so it may not pace alone before (when it was
    /// cut off from Redis while the others were not).
    pub fn lent_until(&self) -> Option<Instant> {
        let place = self.heartbeat.mul_f64(SHARING_HEARTBEATS);
        lock(&self.membership).shared_at.map(|at| at + place + self.heartbeat + self.timeout)
    }

    /// The share of the fleet's budget that the sidecars sharing it may use:
    /// the sharers ÷ the members assumed. The others (not back yet after a
    /// failure, cut off from Redis, or draining what they reserved alone)
    /// pace alone at their share, so together they never pass the ceiling.
    pub fn live_share(&self) -> f64 {
        let membership = lock(&self.membership);
        let others = membership.sharers.saturating_sub(usize::from(membership.counted));
        let sharers = others + usize::from(self.sharing.load(Ordering::Relaxed));
        let assumed = membership.assumed(Instant::now());
        sharers.clamp(1, assumed) as f64 / assumed as f64
    }

    /// Counts a bad value found in Redis (and repaired) of kind `what`; logs
    /// one line per kind a minute at most.
    pub fn repaired(&self, what: &'static str) {
        let now = Instant::now();
        let mut repairs = lock(&self.repairs);
        let entry = repairs.entry(what).or_default();
        entry.count += 1;
        if entry.logged.is_none_or(|at| now.saturating_duration_since(at) >= REPAIR_LOG_EVERY) {
            entry.logged = Some(now);
            tracing::warn!(what, repairs = entry.count, "fleet mode: a bad value in Redis was repaired");
        }
    }

    /// Hands each message published on the fleet's channel `name` to
    /// `deliver`, for as long as the fleet lives: one subscription (on a
    /// connection of its own, to the configured node; a cluster broadcasts
    /// what is published), made again at most every heartbeat when it breaks.
    pub fn subscribe(self: &Arc<Self>, name: &str, deliver: impl Fn(&[u8]) + Send + 'static) {
        let (fleet, channel) = (Arc::downgrade(self), self.key(name));
        tokio::spawn(async move {
            loop {
                let Some((client, timeout, pause)) =
                    fleet.upgrade().map(|f| (f.subscriber.clone(), f.timeout, f.heartbeat))
                else {
                    return;
                };
                let subscribed = tokio::time::timeout(timeout, async {
                    let mut pubsub = client.get_async_pubsub().await?;
                    pubsub.subscribe(&channel).await?;
                    Ok::<_, redis::RedisError>(pubsub)
                });
                if let Ok(Ok(mut pubsub)) = subscribed.await {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        if fleet.strong_count() == 0 {
                            return;
                        }
                        deliver(message.get_payload_bytes());
                    }
                }
                tokio::time::sleep(pause).await;
            }
        });
    }

    /// Runs a Redis command unless the link is degraded; `None` when it is,
    /// or when the command fails or times out (which degrades the link).
    /// It runs after the writes this sidecar queued before it (read your
    /// own writes), or after the timeout if they take longer.
    pub async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.degraded() {
            return None;
        }
        let queued = self.writes.queued.load(Ordering::Acquire);
        let mut written = self.writes.written.subscribe();
        if *written.borrow() < queued {
            let _ = tokio::time::timeout(self.timeout, written.wait_for(|w| *w >= queued)).await;
        }
        self.attempt(command).await
    }

    /// Runs `script` on `keys` with `args` in the background, after the
    /// writes queued before it: nobody waits for its answer, and it is lost
    /// if Redis fails.
    pub fn detach(&self, script: &'static Script, keys: Vec<String>, args: Vec<Vec<u8>>) {
        self.write(Delivery { script, keys, args }, false);
    }

    /// The same for a write that must land: if Redis is away (or fails), it
    /// waits in the outbox and is sent once Redis answers again.
    pub fn deliver(&self, script: &'static Script, keys: Vec<String>, args: Vec<Vec<u8>>) {
        let delivery = Delivery { script, keys, args };
        if self.degraded() {
            self.queue(delivery);
            return;
        }
        self.write(delivery, true);
    }

    fn write(&self, delivery: Delivery, must_land: bool) {
        self.writes.queued.fetch_add(1, Ordering::AcqRel);
        // The writer lives as long as the link; a send fails only after it.
        let _ = self.writes.tx.send((delivery, must_land));
    }

    /// Sends the queued writes one after the other, in order, for as long as
    /// the link lives.
    async fn write_in_order(fleet: std::sync::Weak<Self>, mut rx: mpsc::UnboundedReceiver<(Delivery, bool)>) {
        while let Some((delivery, must_land)) = rx.recv().await {
            let Some(fleet) = fleet.upgrade() else { return };
            let sent: Option<redis::Value> = match fleet.degraded() {
                true => None,
                false => fleet.attempt(|c| delivery.send(c)).await,
            };
            if sent.is_none() && must_land {
                fleet.queue(delivery);
            }
            fleet.writes.written.send_modify(|written| *written += 1);
        }
    }

    fn queue(&self, delivery: Delivery) {
        let mut outbox = lock(&self.outbox);
        if outbox.len() >= OUTBOX {
            outbox.pop_front();
            self.outbox_dropped.fetch_add(1, Ordering::Relaxed);
        }
        outbox.push_back(delivery);
    }

    /// Sends what waits in the outbox, oldest first, until one fails.
    async fn flush(&self) {
        loop {
            let Some(delivery) = lock(&self.outbox).pop_front() else { return };
            let sent: Option<redis::Value> = self.attempt(|c| delivery.send(c)).await;
            if sent.is_none() {
                lock(&self.outbox).push_front(delivery);
                return;
            }
        }
    }

    async fn attempt<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.commands.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let answer = tokio::time::timeout(self.timeout, async { command(self.link.connection().await?).await }).await;
        let why = match answer {
            Ok(Ok(value)) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.latency_micros.fetch_add(micros, Ordering::Relaxed);
                return Some(value);
            }
            Ok(Err(e)) if e.code() == Some("MOVED") && !matches!(self.link, Link::Cluster(_)) => {
                "Redis is a cluster (it answered MOVED): start the sidecar with --redis-cluster".to_string()
            }
            Ok(Err(e)) => format!("{:?}", e.kind()),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        self.errors.fetch_add(1, Ordering::Relaxed);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            self.degradations.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                reason = %why,
                members = self.assumed_members(),
                "fleet mode: Redis failed; serving locally with 1/members of each ceiling until it answers"
            );
        }
        None
    }

    fn leases(&self, kind: LeaseKind) -> &AtomicUsize {
        match kind {
            LeaseKind::Idempotency => &self.idempotency_leases,
            LeaseKind::Read => &self.read_leases,
        }
    }

    /// Counts a lease of `kind` as held until the result is dropped.
    pub fn hold(self: &Arc<Self>, kind: LeaseKind) -> Held {
        self.leases(kind).fetch_add(1, Ordering::Relaxed);
        Held { fleet: self.clone(), kind }
    }

    /// Counts of the link.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            members: self.members(),
            assumed_members: self.assumed_members(),
            degraded: self.degraded(),
            degradations: self.degradations.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency_seconds: Duration::from_micros(self.latency_micros.load(Ordering::Relaxed)).as_secs_f64(),
            idempotency_leases: self.idempotency_leases.load(Ordering::Relaxed),
            read_leases: self.read_leases.load(Ordering::Relaxed),
            outbox: lock(&self.outbox).len(),
            outbox_dropped: self.outbox_dropped.load(Ordering::Relaxed),
            repairs: lock(&self.repairs).iter().map(|(what, r)| (*what, r.count)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn alone_a_sidecar_assumes_the_most_members_seen_recently_and_at_least_the_expected() {
        let memory = Duration::from_secs(30);
        let mut m = Membership {
            expected: 2,
            live: 1,
            sharers: 1,
            counted: true,
            shared_at: None,
            memory,
            seen: VecDeque::new(),
        };
        let t0 = Instant::now();
        assert_eq!(m.assumed(t0), 2, "started alone: the expected fleet size");
        m.saw(4, t0);
        m.saw(1, t0 + Duration::from_secs(1));
        assert_eq!(m.assumed(t0 + Duration::from_secs(1)), 4, "an emptied Redis says 1; four were seen");
        assert_eq!(m.assumed(t0 + Duration::from_secs(30)), 4);
        m.saw(1, t0 + Duration::from_secs(31));
        assert_eq!(m.assumed(t0 + Duration::from_secs(31)), 2, "four is forgotten after the window, not the expected");
    }
}
