//! Send slots per operation: the [`SendPacing`] seam between the retry layer
//! and whatever paces its sends, and [`LocalPacing`] behind it by default: one
//! in-process adaptive limiter per operation that has a ceiling. A reserved
//! [`Slot`] is a guard: unless it is used, dropping it gives back exactly that
//! slot (never another caller's), so a cancelled caller holds nobody back.
//! Sends nothing itself.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use tokio::time::Instant;

use super::limiter::AdaptiveLimiter;
use crate::sessions::{at_once, Soon};
use crate::sync::lock;

/// What identifies a slot to the pacing that handed it out: where it starts
/// and where the schedule stood after it, in that pacing's own clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// On this process's clock.
    Local { start: Instant, end: Instant },
    /// On a shared schedule's clock (microseconds), as it wrote them.
    Shared { start: f64, end: f64 },
}

/// A slot's identity, for [`SendPacing::give_back`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlotId {
    /// When the caller may send.
    pub at: Instant,
    /// Which slot it is.
    pub mark: Mark,
}

/// A reserved send slot: used, or given back when dropped.
#[must_use = "a slot dropped unused is given back"]
pub struct Slot<'a> {
    id: SlotId,
    op: &'static str,
    owner: Option<&'a dyn SendPacing>,
}

impl<'a> Slot<'a> {
    /// Slot `id` of `op`, given back to `owner` unless used.
    pub fn new(id: SlotId, op: &'static str, owner: &'a dyn SendPacing) -> Self {
        Self { id, op, owner: Some(owner) }
    }

    /// When the caller may send.
    pub fn at(&self) -> Instant {
        self.id.at
    }

    /// The slot is spent: the call was sent.
    pub fn used(mut self) {
        self.owner = None;
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            owner.give_back(self.op, &self.id);
        }
    }
}

/// When each operation may send.
pub trait SendPacing: Send + Sync + fmt::Debug {
    /// Reserves the next send slot of `op` at or after `now`; `None` when
    /// `op` is not paced (send now).
    fn reserve(&self, op: &'static str, now: Instant) -> Soon<'_, Option<Slot<'_>>>;

    /// Reserves the next send slot of `op` only if it is due at `now` (no
    /// caller is queued for it): `Ok(None)` when `op` is not paced; `Err`
    /// with when the next slot is, reserving nothing, otherwise. A pacing
    /// that cannot tell reserves the next slot whenever it is.
    fn reserve_idle(&self, op: &'static str, now: Instant) -> Soon<'_, Result<Option<Slot<'_>>, Instant>> {
        futures_util::future::Either::Right(Box::pin(async move { Ok(self.reserve(op, now).await) }))
    }

    /// Gives back slot `slot` of `op`, which will not be used: the schedule
    /// moves back only if nothing was reserved after it.
    fn give_back(&self, op: &'static str, slot: &SlotId);

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
    pub fn reserve_now(&self, op: &'static str, now: Instant) -> Option<SlotId> {
        self.with(op, |l| l.reserve(now))
    }

    /// Reserves the next send slot of `op` if it is due at `now`; `Err`
    /// with when it is otherwise (see [`SendPacing::reserve_idle`]).
    pub fn reserve_idle_now(&self, op: &'static str, now: Instant) -> Result<Option<SlotId>, Instant> {
        self.with(op, |l| if l.next_slot() <= now { Ok(l.reserve(now)) } else { Err(l.next_slot()) }).transpose()
    }

    fn with<R>(&self, op: &'static str, f: impl FnOnce(&mut AdaptiveLimiter) -> R) -> Option<R> {
        let ceiling = *self.ceilings.get(op)?;
        let mut limiters = lock(&self.limiters);
        let limiter = limiters.entry(op).or_insert_with(|| AdaptiveLimiter::new(ceiling, Instant::now()));
        Some(f(limiter))
    }
}

impl SendPacing for LocalPacing {
    fn reserve(&self, op: &'static str, now: Instant) -> Soon<'_, Option<Slot<'_>>> {
        at_once(self.reserve_now(op, now).map(|id| Slot::new(id, op, self)))
    }

    fn reserve_idle(&self, op: &'static str, now: Instant) -> Soon<'_, Result<Option<Slot<'_>>, Instant>> {
        at_once(self.reserve_idle_now(op, now).map(|id| id.map(|id| Slot::new(id, op, self))))
    }

    fn give_back(&self, op: &'static str, slot: &SlotId) {
        self.with(op, |l| l.give_back(slot));
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
