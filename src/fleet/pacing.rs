//! The fleet's send budget behind the [`SendPacing`] seam: each operation's
//! slots handed out by one Lua script (`pace.lua`) on Redis's clock, so all
//! sidecars together send at most the operation's ceiling, evenly paced, and a
//! throttle lowers the rate once for the fleet. While the link is degraded each
//! sidecar paces itself to its share: ceiling ÷ the last known member count.
//! Slots a sidecar already holds stay valid across the switch either way: its
//! first slot from the other source comes after the last one it holds, so the
//! two schedules never overlap into a burst.
//!
//! The fleet paces at [`MARGIN`] of each ceiling: a slot is decided on Redis's
//! clock and its call reaches AWS from a sidecar some milliseconds later, and
//! the margin keeps that jitter from putting one call too many into a second.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use futures_util::future::Either;
use redis::Script;
use tokio::time::Instant;

use super::Fleet;
use crate::sessions::resilience::pacing::{LocalPacing, SendPacing};
use crate::sessions::{at_once, Soon};
use crate::sync::lock;

/// The pacing script (its header says what it takes and returns).
pub const PACE_LUA: &str = include_str!("pace.lua");

/// The share of each ceiling the fleet paces at.
pub const MARGIN: f64 = 0.95;

static PACE: LazyLock<Script> = LazyLock::new(|| Script::new(PACE_LUA));

/// What the fleet's budget did for this sidecar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacingStats {
    /// Slots the fleet's budget handed out.
    pub slots: u64,
    /// Of those, slots that meant waiting.
    pub waits: u64,
    /// Slots given back unused: past the caller's deadline, or the caller left.
    pub given_back: u64,
}

/// One operation as the fleet paces it.
#[derive(Debug)]
struct Op {
    key: String,
    /// The ceiling with the margin taken off.
    ceiling: f64,
    /// The fleet's rate at the last answer, requests per second (as f64 bits).
    rate: AtomicU64,
    /// The latest slot this sidecar holds, from either source.
    horizon: Mutex<Instant>,
}

impl Op {
    /// Notes a slot handed out; returns it.
    fn hold(&self, slot: Option<Instant>) -> Option<Instant> {
        if let Some(slot) = slot {
            let mut horizon = lock(&self.horizon);
            *horizon = (*horizon).max(slot);
        }
        slot
    }

    fn horizon(&self) -> Instant {
        *lock(&self.horizon)
    }
}

/// Send slots from the fleet's budget, or from this sidecar's share of it.
#[derive(Debug)]
pub struct FleetPacing {
    fleet: Arc<Fleet>,
    ops: HashMap<String, Arc<Op>>,
    /// The local share and the member count it was made for.
    share: Mutex<(usize, LocalPacing)>,
    slots: AtomicU64,
    waits: AtomicU64,
    given_back: AtomicU64,
}

impl FleetPacing {
    /// The fleet's budget for `ceilings` (requests per second per operation).
    pub fn new(fleet: Arc<Fleet>, ceilings: &HashMap<String, f64>) -> Self {
        let ops: HashMap<String, Arc<Op>> = ceilings
            .iter()
            .map(|(op, &ceiling)| {
                let key = fleet.key(&format!("pace:{op}"));
                let ceiling = ceiling * MARGIN;
                let rate = AtomicU64::new(ceiling.to_bits());
                (op.clone(), Arc::new(Op { key, ceiling, rate, horizon: Mutex::new(Instant::now()) }))
            })
            .collect();
        let share = Self::share_of(&Self::ceilings(&ops), fleet.members());
        Self {
            fleet,
            ops,
            share: Mutex::new(share),
            slots: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            given_back: AtomicU64::new(0),
        }
    }

    fn ceilings(ops: &HashMap<String, Arc<Op>>) -> HashMap<String, f64> {
        ops.iter().map(|(op, o)| (op.clone(), o.ceiling)).collect()
    }

    fn share_of(ceilings: &HashMap<String, f64>, members: usize) -> (usize, LocalPacing) {
        let divided = ceilings.iter().map(|(op, c)| (op.clone(), c / members as f64)).collect();
        (members, LocalPacing::new(divided))
    }

    /// This sidecar's share, remade when the member count changed.
    fn local<R>(&self, f: impl FnOnce(&LocalPacing) -> R) -> R {
        let members = self.fleet.members();
        let mut share = lock(&self.share);
        if share.0 != members {
            *share = Self::share_of(&Self::ceilings(&self.ops), members);
        }
        f(&share.1)
    }

    /// What the budget did for this sidecar.
    pub fn stats(&self) -> PacingStats {
        PacingStats {
            slots: self.slots.load(Ordering::Relaxed),
            waits: self.waits.load(Ordering::Relaxed),
            given_back: self.given_back.load(Ordering::Relaxed),
        }
    }

    /// Sends `mode` for `op` to the script in the background.
    fn tell(&self, op: &Arc<Op>, mode: &'static str, throttled: bool) {
        let (fleet, op) = (self.fleet.clone(), op.clone());
        tokio::spawn(async move {
            if let Some((_, rate)) = pace(&fleet, &op, mode, u64::from(throttled)).await {
                op.rate.store(rate.to_bits(), Ordering::Relaxed);
            }
        });
    }
}

/// One run of the pacing script (`arg`: its third argument): microseconds
/// until the slot, and the rate.
async fn pace(fleet: &Fleet, op: &Op, mode: &'static str, arg: u64) -> Option<(u64, f64)> {
    let (wait, rate): (u64, String) =
        fleet
            .run(|mut c| async move {
                PACE.key(&op.key).arg(mode).arg(op.ceiling).arg(arg).arg("").invoke_async(&mut c).await
            })
            .await?;
    Some((wait, rate.parse().ok()?))
}

impl SendPacing for FleetPacing {
    fn reserve(&self, op: &'static str, now: Instant) -> Soon<'_, Option<Instant>> {
        let Some(o) = self.ops.get(op) else { return at_once(None) };
        let local = move |now: Instant| o.hold(self.local(|l| l.reserve_now(op, now.max(o.horizon()))));
        if self.fleet.degraded() {
            return at_once(local(now));
        }
        Either::Right(Box::pin(async move {
            let not_before = u64::try_from(o.horizon().saturating_duration_since(now).as_micros()).unwrap_or(u64::MAX);
            match pace(&self.fleet, o, "reserve", not_before).await {
                Some((wait, rate)) => {
                    o.rate.store(rate.to_bits(), Ordering::Relaxed);
                    self.slots.fetch_add(1, Ordering::Relaxed);
                    if wait > 0 {
                        self.waits.fetch_add(1, Ordering::Relaxed);
                    }
                    o.hold(Some(Instant::now() + Duration::from_micros(wait)))
                }
                None => local(Instant::now()),
            }
        }))
    }

    fn cancel(&self, op: &'static str) {
        let Some(o) = self.ops.get(op) else { return };
        self.given_back.fetch_add(1, Ordering::Relaxed);
        if self.fleet.degraded() {
            self.local(|l| l.cancel(op));
        } else {
            self.tell(o, "cancel", false);
        }
    }

    fn record(&self, op: &'static str, throttled: bool, now: Instant) {
        let Some(o) = self.ops.get(op) else { return };
        if self.fleet.degraded() {
            self.local(|l| l.record(op, throttled, now));
        } else {
            self.tell(o, "record", throttled);
        }
    }

    fn rate(&self, op: &'static str) -> Option<f64> {
        if self.fleet.degraded() {
            return self.local(|l| l.rate(op));
        }
        self.ops.get(op).map(|o| f64::from_bits(o.rate.load(Ordering::Relaxed)))
    }

    fn rates(&self) -> BTreeMap<String, f64> {
        if self.fleet.degraded() {
            return self.local(LocalPacing::rates);
        }
        self.ops.iter().map(|(op, o)| (op.clone(), f64::from_bits(o.rate.load(Ordering::Relaxed)))).collect()
    }
}
