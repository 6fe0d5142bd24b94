//! Idempotency keys (AIP-155). A `request_id` becomes, deterministically, the
//! ClientToken GameLift Streams de-duplicates on (so two sidecars, or one
//! restarted, send the same token), and the key of an [`OutcomeStore`] that
//! makes a repeated call join the one in flight (single-flight) or replay its
//! final outcome for a retention window. The in-process store behind it by
//! default is bounded: at most `max_entries`, the oldest evicted first. It
//! knows nothing about what it stores.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{at_once, Soon};
use crate::sync::lock;

/// Longest accepted `request_id`.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The namespace used when none is configured.
pub const DEFAULT_NAMESPACE: &str = "gamelift-streams-gateway";

/// Whether `request_id` has the accepted form: 1 to 128 printable ASCII
/// characters (`!` to `~`), for example a UUID.
pub fn is_valid_request_id(request_id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&request_id.len()) && request_id.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The identity of one logical request: SHA-256 over the namespace, the
/// operation and the `request_id`, each length-prefixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    /// The key of `request_id` for `operation` in `namespace`.
    pub fn new(namespace: &str, operation: &str, request_id: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [namespace, operation, request_id] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        Self(hash.finalize().into())
    }

    /// The ClientToken for this key: 64 lowercase hex characters, within
    /// GameLift's 32–128 printable ASCII.
    pub fn client_token(&self) -> String {
        hex(&self.0)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest of a request's parameters (everything but its `request_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of canonically encoded parameters.
    pub fn of(encoded: &[u8]) -> Self {
        Self(Sha256::digest(encoded).into())
    }

    /// The digest as 64 lowercase hex characters (for a shared store).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

/// An outcome a store shared between processes can hold.
pub trait Portable: Sized {
    /// The outcome as bytes; `None` when it cannot leave the process (the
    /// waiters elsewhere then make the call themselves).
    fn to_bytes(&self) -> Option<bytes::Bytes>;

    /// The outcome from bytes `to_bytes` made; `None` when they are not
    /// (a shared store is input, not truth).
    fn from_bytes(bytes: bytes::Bytes) -> Option<Self>;
}

/// How the store is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreLimits {
    /// How long a final outcome is replayed.
    pub retention: Duration,
    /// Most entries kept; the oldest goes first.
    pub max_entries: usize,
}

impl Default for StoreLimits {
    fn default() -> Self {
        Self { retention: Duration::from_secs(3600), max_entries: 100_000 }
    }
}

/// Where a call with a key stands.
pub enum Begin<V> {
    /// First with this key: run the call and [`Leader::finish`] it.
    Lead(Leader<V>),
    /// The same call is in flight: wait for its outcome.
    Join(Waiter<V>),
    /// The same call finished within the retention window: its outcome.
    Replay(V),
    /// The key was used with other parameters.
    Reused,
}

enum State<V> {
    InFlight(watch::Receiver<Option<V>>),
    Done(V),
}

struct Entry<V> {
    fingerprint: Fingerprint,
    stored_at: Instant,
    generation: u64,
    state: State<V>,
}

struct Inner<V> {
    entries: HashMap<Key, Entry<V>>,
    order: VecDeque<(Key, u64)>,
    next_generation: u64,
}

/// Counts of what repeated keys did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Entries held.
    pub entries: usize,
    /// Calls that joined one in flight.
    pub joins: u64,
    /// Calls answered from a kept outcome.
    pub replays: u64,
    /// Calls refused: key reused with other parameters.
    pub conflicts: u64,
}

/// Outcomes of mutating calls by key, with single-flight, in the process.
pub struct IdempotencyStore<V> {
    limits: StoreLimits,
    inner: Arc<Mutex<Inner<V>>>,
    stats: Mutex<StoreStats>,
}

/// Where the outcomes of mutating calls are kept by key: the seam between
/// the gateway's replay and whatever store holds them.
pub trait OutcomeStore<V>: Send + Sync {
    /// Looks `key` up for a call with `fingerprint`, at `now`.
    fn begin(&self, key: Key, fingerprint: Fingerprint, now: Instant) -> Soon<'_, Begin<V>>;

    /// Entries held and what repeated keys did.
    fn stats(&self) -> StoreStats;
}

/// What a store does with the outcome of the call a [`Leader`] ran.
pub trait Lead<V>: Send {
    /// Publishes `outcome` to every waiter; keeps it for replay when `keep`,
    /// forgets the key otherwise. Dropped without this, a lead forgets its key.
    fn finish(self: Box<Self>, outcome: V, keep: bool, now: Instant);
}

/// The right and duty to run the call for a key.
pub struct Leader<V>(Box<dyn Lead<V>>);

impl<V> Leader<V> {
    /// A leader whose outcome goes to `lead`.
    pub fn new(lead: impl Lead<V> + 'static) -> Self {
        Self(Box::new(lead))
    }

    /// Publishes the outcome to every waiter; keeps it for replay when `keep`
    /// (a final outcome), forgets the key otherwise (so a retry runs again).
    pub fn finish(self, outcome: V, keep: bool, now: Instant) {
        self.0.finish(outcome, keep, now);
    }
}

/// A wait for the outcome of a call in flight.
pub struct Waiter<V>(BoxFuture<'static, Option<V>>);

impl<V> Waiter<V> {
    /// A wait on `outcome`.
    pub fn new(outcome: impl Future<Output = Option<V>> + Send + 'static) -> Self {
        Self(Box::pin(outcome))
    }

    /// The outcome, or `None` if the leader vanished without one.
    pub async fn outcome(self) -> Option<V> {
        self.0.await
    }
}

/// The lead of a call in the in-process store.
struct LocalLead<V> {
    inner: Arc<Mutex<Inner<V>>>,
    key: Key,
    generation: u64,
    tx: watch::Sender<Option<V>>,
    finished: bool,
}

impl<V: Clone + Send + Sync + 'static> IdempotencyStore<V> {
    /// An empty store.
    pub fn new(limits: StoreLimits) -> Self {
        Self {
            limits,
            inner: Arc::new(Mutex::new(Inner { entries: HashMap::new(), order: VecDeque::new(), next_generation: 0 })),
            stats: Mutex::new(StoreStats::default()),
        }
    }

    /// Looks `key` up for a call with `fingerprint`, at `now`, at once.
    pub fn begin_now(&self, key: Key, fingerprint: Fingerprint, now: Instant) -> Begin<V> {
        let mut inner = lock(&self.inner);
        self.expire(&mut inner, now);
        if let Some(entry) = inner.entries.get(&key) {
            let mut stats = lock(&self.stats);
            if entry.fingerprint != fingerprint {
                stats.conflicts += 1;
                return Begin::Reused;
            }
            return match &entry.state {
                State::Done(v) => {
                    stats.replays += 1;
                    Begin::Replay(v.clone())
                }
                State::InFlight(rx) => {
                    stats.joins += 1;
                    let mut rx = rx.clone();
                    Begin::Join(Waiter::new(
                        async move { rx.wait_for(Option::is_some).await.ok().and_then(|v| v.clone()) },
                    ))
                }
            };
        }
        let (tx, rx) = watch::channel(None);
        let generation = inner.next_generation;
        inner.next_generation += 1;
        inner.entries.insert(key, Entry { fingerprint, stored_at: now, generation, state: State::InFlight(rx) });
        inner.order.push_back((key, generation));
        while inner.entries.len() > self.limits.max_entries {
            let Some((old, old_generation)) = inner.order.pop_front() else { break };
            remove_if(&mut inner.entries, old, old_generation);
        }
        // Keys forgotten after a transient failure leave their place in the
        // eviction order behind; drop those places before they outgrow the
        // store (twice the entries at most: the sweep then pays for itself).
        if inner.order.len() > 2 * self.limits.max_entries {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(k, g)| entries.get(k).is_some_and(|e| e.generation == *g));
        }
        Begin::Lead(Leader::new(LocalLead { inner: self.inner.clone(), key, generation, tx, finished: false }))
    }

    fn expire(&self, inner: &mut Inner<V>, now: Instant) {
        while let Some(&(key, generation)) = inner.order.front() {
            let expired = match inner.entries.get(&key) {
                Some(e) if e.generation == generation => {
                    matches!(e.state, State::Done(_))
                        && now.saturating_duration_since(e.stored_at) >= self.limits.retention
                }
                _ => true,
            };
            if !expired {
                break;
            }
            inner.order.pop_front();
            remove_if(&mut inner.entries, key, generation);
        }
    }
}

fn remove_if<V>(entries: &mut HashMap<Key, Entry<V>>, key: Key, generation: u64) {
    if entries.get(&key).is_some_and(|e| e.generation == generation) {
        entries.remove(&key);
    }
}

impl<V: Clone + Send + Sync + 'static> OutcomeStore<V> for IdempotencyStore<V> {
    fn begin(&self, key: Key, fingerprint: Fingerprint, now: Instant) -> Soon<'_, Begin<V>> {
        at_once(self.begin_now(key, fingerprint, now))
    }

    fn stats(&self) -> StoreStats {
        StoreStats { entries: lock(&self.inner).entries.len(), ..*lock(&self.stats) }
    }
}

impl<V: Clone + Send + Sync> Lead<V> for LocalLead<V> {
    fn finish(mut self: Box<Self>, outcome: V, keep: bool, now: Instant) {
        self.finished = true;
        {
            let mut inner = lock(&self.inner);
            if keep {
                if let Some(entry) = inner.entries.get_mut(&self.key).filter(|e| e.generation == self.generation) {
                    entry.state = State::Done(outcome.clone());
                    entry.stored_at = now;
                }
            } else {
                remove_if(&mut inner.entries, self.key, self.generation);
            }
        }
        self.tx.send_replace(Some(outcome));
    }
}

impl<V> Drop for LocalLead<V> {
    fn drop(&mut self) {
        if !self.finished {
            remove_if(&mut lock(&self.inner).entries, self.key, self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> Key {
        Key::new(DEFAULT_NAMESPACE, "StartStreamSession", id)
    }

    fn store(retention: u64, max_entries: usize) -> IdempotencyStore<String> {
        IdempotencyStore::new(StoreLimits { retention: Duration::from_secs(retention), max_entries })
    }

    #[test]
    fn tokens_are_deterministic_per_namespace_operation_and_key() {
        let id = "7d2f9c1e-1111-4a6b-9c3d-000000000001";
        let a = Key::new("ns", "StartStreamSession", id);
        assert_eq!(a, Key::new("ns", "StartStreamSession", id));
        assert_ne!(a, Key::new("ns", "CreateStreamSessionConnection", id));
        assert_ne!(a, Key::new("other", "StartStreamSession", id));
        assert_ne!(Key::new("ab", "c", "d"), Key::new("a", "bc", "d"), "parts cannot slide into each other");
        let token = a.client_token();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    }

    #[test]
    fn request_ids_are_printable_ascii_up_to_128() {
        assert!(is_valid_request_id("a"));
        assert!(is_valid_request_id(&"x".repeat(128)));
        assert!(!is_valid_request_id(""));
        assert!(!is_valid_request_id(&"x".repeat(129)));
        assert!(!is_valid_request_id("has space"));
        assert!(!is_valid_request_id("naïve"));
    }

    #[tokio::test]
    async fn joiners_get_the_leaders_outcome_and_later_calls_replay_it() {
        let s = store(60, 10);
        let fp = Fingerprint::of(b"params");
        let now = Instant::now();
        let Begin::Lead(leader) = s.begin_now(key("k"), fp, now) else { panic!("first call leads") };
        let Begin::Join(joiner) = s.begin_now(key("k"), fp, now) else { panic!("second call joins") };
        leader.finish("arn-1".to_string(), true, now);
        assert_eq!(joiner.outcome().await.as_deref(), Some("arn-1"));
        assert!(matches!(s.begin_now(key("k"), fp, now), Begin::Replay(v) if v == "arn-1"));
        assert!(matches!(s.begin_now(key("k"), Fingerprint::of(b"other"), now), Begin::Reused));
        assert_eq!(s.stats(), StoreStats { entries: 1, joins: 1, replays: 1, conflicts: 1 });
    }

    #[tokio::test]
    async fn transient_outcomes_are_not_kept_and_a_vanished_leader_frees_the_key() {
        let s = store(60, 10);
        let fp = Fingerprint::of(b"p");
        let now = Instant::now();
        let Begin::Lead(leader) = s.begin_now(key("k"), fp, now) else { panic!("leads") };
        leader.finish("throttled".to_string(), false, now);
        let Begin::Lead(leader) = s.begin_now(key("k"), fp, now) else { panic!("runs again") };
        let Begin::Join(joiner) = s.begin_now(key("k"), fp, now) else { panic!("joins") };
        drop(leader);
        assert_eq!(joiner.outcome().await, None);
        assert!(matches!(s.begin_now(key("k"), fp, now), Begin::Lead(_)));
    }

    #[test]
    fn outcomes_expire_after_the_retention_window() {
        let s = store(60, 10);
        let fp = Fingerprint::of(b"p");
        let t0 = Instant::now();
        let Begin::Lead(leader) = s.begin_now(key("k"), fp, t0) else { panic!("leads") };
        leader.finish("arn".to_string(), true, t0);
        assert!(matches!(s.begin_now(key("k"), fp, t0 + Duration::from_secs(59)), Begin::Replay(_)));
        assert!(matches!(s.begin_now(key("k"), fp, t0 + Duration::from_secs(60)), Begin::Lead(_)));
    }

    #[test]
    fn a_storm_of_transient_failures_keeps_the_eviction_order_bounded() {
        let s = store(3600, 3);
        let fp = Fingerprint::of(b"p");
        let now = Instant::now();
        let Begin::Lead(kept) = s.begin_now(key("kept"), fp, now) else { panic!("leads") };
        kept.finish("arn".to_string(), true, now);
        for i in 0..10_000 {
            let Begin::Lead(leader) = s.begin_now(key(&format!("retry-{i}")), fp, now) else { panic!("leads") };
            leader.finish("throttled".to_string(), false, now);
            assert!(lock(&s.inner).order.len() <= 2 * 3, "after {i}: {}", lock(&s.inner).order.len());
        }
        assert!(matches!(s.begin_now(key("kept"), fp, now), Begin::Replay(v) if v == "arn"), "the kept outcome stays");
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_go_first() {
        let s = store(3600, 3);
        let fp = Fingerprint::of(b"p");
        let now = Instant::now();
        for id in ["a", "b", "c", "d"] {
            let Begin::Lead(leader) = s.begin_now(key(id), fp, now) else { panic!("leads") };
            leader.finish(id.to_string(), true, now);
        }
        assert_eq!(s.stats().entries, 3);
        assert!(matches!(s.begin_now(key("b"), fp, now), Begin::Replay(v) if v == "b"));
        assert!(matches!(s.begin_now(key("a"), fp, now), Begin::Lead(_)), "a was evicted");
    }
}
