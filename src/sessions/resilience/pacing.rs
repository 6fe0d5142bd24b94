//! Send slots per operation: the [`SendPacing`] seam between the retry layer
//! and whatever paces its sends, and [`LocalPacing`] behind it by default: one
//! in-process adaptive limiter per operation that has a ceiling. Sends
//! nothing itself.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use tokio::time::Instant;

use super::limiter::AdaptiveLimiter;
use crate::sessions::{at_once, Soon};
use crate::sync::lock;

/// When each operation may send.
pub trait SendPacing: Send + Sync + fmt::Debug {
    /// Reserves the next send slot of `op` at or after `now`; `None` when
    /// `op` is not paced (send now).
    fn reserve(&self, op: &'static str, now: Instant) -> Soon<'_, Option<Instant>>;

    /// Gives back the slot `op` reserved last: it will not be used.
    fn cancel(&self, op: &'static str);

    /// Records whether an attempt of `op` was throttled, at `now`.
    fn record(&self, op: &'static str, throttled: bool, now: Instant);

    /// The send rate `op` may use now, requests per second; `None` when it
    /// is not paced.
    fn rate(&self, op: &'static str) -> Option<f64>;

    /// The rate of each operation paced so far.
    fn rates(&self) -> BTreeMap<String, f64>;
}

/// The sidecar's own adaptive limiters, one per operation with a ceiling.
#[derive(Debug)]
pub struct LocalPacing {
    ceilings: HashMap<String, f64>,
    limiters: Mutex<HashMap<&'static str, AdaptiveLimiter>>,
}

impl LocalPacing {
    /// Limiters that never exceed `ceilings` (requests per second per operation).
    pub fn new(ceilings: HashMap<String, f64>) -> Self {
        Self { ceilings, limiters: Mutex::new(HashMap::new()) }
    }

    /// Reserves the next send slot of `op` at or after `now`, at once.
    pub fn reserve_now(&self, op: &'static str, now: Instant) -> Option<Instant> {
        self.with(op, |l| l.reserve(now))
    }

    fn with<R>(&self, op: &'static str, f: impl FnOnce(&mut AdaptiveLimiter) -> R) -> Option<R> {
        let ceiling = *self.ceilings.get(op)?;
        let mut limiters = lock(&self.limiters);
        let limiter = limiters.entry(op).or_insert_with(|| AdaptiveLimiter::new(ceiling, Instant::now()));
        Some(f(limiter))
    }
}

impl SendPacing for LocalPacing {
    fn reserve(&self, op: &'static str, now: Instant) -> Soon<'_, Option<Instant>> {
        at_once(self.reserve_now(op, now))
    }

    fn cancel(&self, op: &'static str) {
        self.with(op, AdaptiveLimiter::cancel);
    }

    fn record(&self, op: &'static str, throttled: bool, now: Instant) {
        self.with(op, |l| l.record(throttled, now));
    }

    fn rate(&self, op: &'static str) -> Option<f64> {
        let ceiling = *self.ceilings.get(op)?;
        Some(lock(&self.limiters).get(op).map_or(ceiling, AdaptiveLimiter::rate))
    }

    fn rates(&self) -> BTreeMap<String, f64> {
        lock(&self.limiters).iter().map(|(op, l)| (op.to_string(), l.rate())).collect()
    }
}
