//! Fleet mode: every sidecar of an account and Region shares one Redis, so
//! that together they behave as one client of the account's quota. [`Fleet`]
//! is the link: one multiplexed connection (re-established by itself), every
//! command bounded by a timeout, and a heartbeat registry of live members.
//! When Redis fails or is slow the link is *degraded*: the seams behind it
//! ([`pacing::FleetPacing`], [`outcomes::FleetOutcomes`]) answer from the
//! sidecar's own state at once (its share of each ceiling, its own
//! idempotency store) and only the heartbeat tries Redis, until it answers
//! again. No call fails because Redis failed.

pub mod outcomes;
pub mod pacing;
pub mod reads;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{IntoConnectionInfo, RedisResult, Script};
use tokio::time::Instant;

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
}

impl fmt::Debug for FleetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetConfig")
            .field("url", &"<redacted>")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("heartbeat", &self.heartbeat)
            .field("recent_gets", &self.recent_gets)
            .finish_non_exhaustive()
    }
}

/// A Redis URL that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("not a usable Redis URL: {0}")]
pub struct BadUrl(String);

/// Counts of the link, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LinkStats {
    /// Live members at the last heartbeat that reached Redis.
    pub members: usize,
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

static HEARTBEAT: LazyLock<Script> = LazyLock::new(|| Script::new(include_str!("heartbeat.lua")));

/// One sidecar's link to its fleet.
pub struct Fleet {
    connection: ConnectionManager,
    tag: String,
    member: String,
    timeout: Duration,
    heartbeat: Duration,
    degraded: AtomicBool,
    members: AtomicUsize,
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
        let client = redis::Client::open(info).map_err(|e| BadUrl(e.to_string()))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(config.heartbeat);
        let connection = ConnectionManager::new_lazy_with_config(client, manager).map_err(|e| BadUrl(e.to_string()))?;
        let fleet = Arc::new(Self {
            connection,
            tag: format!("{{{}:{region}}}", config.prefix),
            member: uuid::Uuid::new_v4().to_string(),
            timeout: config.timeout,
            heartbeat: config.heartbeat,
            degraded: AtomicBool::new(false),
            members: AtomicUsize::new(1),
            degradations: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency_micros: AtomicU64::new(0),
            idempotency_leases: AtomicUsize::new(0),
            read_leases: AtomicUsize::new(0),
        });
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

    /// One heartbeat: on success the member count is current and a degraded
    /// link is live again.
    async fn beat(&self) {
        let ttl = millis(self.heartbeat * 3);
        let key = self.key("members");
        let beat = self
            .attempt(|mut c| async move { HEARTBEAT.key(key).arg(&self.member).arg(ttl).invoke_async(&mut c).await })
            .await;
        if let Some(members) = beat {
            self.members.store(usize::max(members, 1), Ordering::Relaxed);
            if self.degraded.swap(false, Ordering::Relaxed) {
                tracing::info!(members, "fleet mode: Redis answers again; sharing the fleet's state");
            }
        }
    }

    /// Leaves the fleet's member count (at shutdown), so the others' local
    /// share grows at once instead of three heartbeats later.
    pub async fn leave(&self) {
        let ttl = millis(self.heartbeat * 3);
        let key = self.key("members");
        let _: Option<usize> = self
            .attempt(|mut c| async move {
                HEARTBEAT.key(key).arg(&self.member).arg(ttl).arg("leave").invoke_async(&mut c).await
            })
            .await;
    }

    /// The full name of a key: every key of the fleet shares one hash tag,
    /// so multi-key scripts run on Redis Cluster too.
    pub fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.tag)
    }

    /// Whether the sidecar serves from local state now.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Live members at the last heartbeat that reached Redis (at least 1).
    pub fn members(&self) -> usize {
        self.members.load(Ordering::Relaxed)
    }

    /// Runs a Redis command unless the link is degraded; `None` when it is,
    /// or when the command fails or times out (which degrades the link).
    pub async fn run<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if self.degraded() {
            return None;
        }
        self.attempt(command).await
    }

    /// Runs `script` on `keys` with `args` in the background: nobody waits
    /// for its answer.
    pub fn detach(self: &Arc<Self>, script: &'static Script, keys: Vec<String>, args: Vec<Vec<u8>>) {
        let fleet = self.clone();
        tokio::spawn(async move {
            let _: Option<redis::Value> = fleet
                .run(|mut c| async move {
                    let mut call = script.prepare_invoke();
                    for key in &keys {
                        call.key(key);
                    }
                    for arg in &args {
                        call.arg(arg.as_slice());
                    }
                    call.invoke_async(&mut c).await
                })
                .await;
        });
    }

    async fn attempt<T, F, Fut>(&self, command: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        self.commands.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let why = match tokio::time::timeout(self.timeout, command(self.connection.clone())).await {
            Ok(Ok(value)) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                self.latency_micros.fetch_add(micros, Ordering::Relaxed);
                return Some(value);
            }
            Ok(Err(e)) => format!("{:?}", e.kind()),
            Err(_) => format!("no answer within {:?}", self.timeout),
        };
        self.errors.fetch_add(1, Ordering::Relaxed);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            self.degradations.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                reason = %why,
                members = self.members(),
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
            degraded: self.degraded(),
            degradations: self.degradations.load(Ordering::Relaxed),
            commands: self.commands.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            latency_seconds: Duration::from_micros(self.latency_micros.load(Ordering::Relaxed)).as_secs_f64(),
            idempotency_leases: self.idempotency_leases.load(Ordering::Relaxed),
            read_leases: self.read_leases.load(Ordering::Relaxed),
        }
    }
}
