//! The fleet's send budget behind the [`SendPacing`] seam: each operation's
//! slots handed out by one Lua script (`pace.lua`) on Redis's clock, so all
//! sidecars together send at most the operation's ceiling, evenly paced, and a
//! throttle lowers the rate once for the fleet. While the link is degraded each
//! sidecar paces itself to its share: the ceiling ÷ the most members it saw
//! recently (at least the expected fleet size).
//!
//! No two schedules overlap into a burst. A sidecar remembers the slots it
//! holds and the end of the fleet's schedule as Redis last told it; a slot
//! from either source comes after both. So the switch to local pacing starts
//! after every fleet slot this sidecar knows of, the switch back starts after
//! its local slots, and a Redis that lost the schedule (flushed, restarted,
//! restored from an old dump) is given it back by the sidecars' next
//! reservations. A slot is a guard: unused, it gives back exactly itself,
//! even when its caller left while the reservation was on its way to Redis.
//!
//! The sidecars that share the budget use the sharers' share of it: the
//! members assumed but not sharing (not back yet, cut off from Redis, or
//! draining what they reserved alone) pace alone at their own share
//! meanwhile, so the two never add up past the ceiling. A sidecar cut off
//! from Redis waits until the others can no longer count it among the
//! sharers before it paces alone: its share is lent to the fleet until then.
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
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Fleet;
use crate::sessions::resilience::pacing::{LocalPacing, Mark, SendPacing, Slot, SlotId};
use crate::sessions::{at_once, Soon};
use crate::sync::lock;

/// The share of each ceiling the fleet paces at.
pub const MARGIN: f64 = 0.95;
/// The longest a sidecar that goes local assumes the fleet's schedule kept
/// growing after Redis last told it where it ended.
const STALE: Duration = Duration::from_secs(5);

/// The pacing script (`pace.lua`: its header says what it takes and returns).
pub static PACE: LazyLock<Script> = LazyLock::new(|| super::script(include_str!("pace.lua")));

/// What the fleet's budget did for this sidecar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacingStats {
    /// Slots the fleet's budget handed out.
    pub slots: u64,
    /// Of those, slots that meant waiting.
    pub waits: u64,
    /// Slots given back to the fleet's budget unused: past the caller's
    /// deadline, or the caller left.
    pub given_back: u64,
    /// Slots from this sidecar's own share, while Redis was away.
    pub local: u64,
}

#[derive(Debug, Default)]
struct Counts {
    slots: AtomicU64,
    waits: AtomicU64,
    given_back: AtomicU64,
    local: AtomicU64,
}

/// One operation as the fleet paces it.
#[derive(Debug)]
struct Op {
    key: String,
    /// The ceiling with the margin taken off.
    ceiling: f64,
    /// The fleet's rate at the last answer, requests per second (as f64 bits).
    rate: AtomicU64,
    /// The slots this sidecar holds: (start, end, from its own share).
    held: Mutex<Vec<(Instant, Instant, bool)>>,
    /// The end of the fleet's schedule as Redis last told this sidecar, and when.
    fleet_end: Mutex<(Instant, Instant)>,
}

impl Op {
    /// The time no new slot may come before: after every slot this sidecar
    /// holds and the fleet's schedule as last known. Alone (pacing from its
    /// own share, with the fleet counting it among the sharers until
    /// `alone`), the schedule is taken to have grown since Redis last told
    /// this sidecar where it ended, a second of schedule a second (the others
    /// reserving at the fleet's rate), until the fleet can no longer count
    /// it, and for [`STALE`] at most.
    fn not_before(&self, now: Instant, alone: Option<Instant>) -> Instant {
        let (end, learned) = *lock(&self.fleet_end);
        let fleet = match alone {
            Some(lent) if end > learned => end + lent.max(now).saturating_duration_since(learned).min(STALE),
            _ => end,
        };
        let mut held = lock(&self.held);
        held.retain(|(_, end, _)| *end > now);
        held.iter().map(|(_, end, _)| *end).chain([fleet, now, alone.unwrap_or(now)]).max().unwrap_or(now)
    }

    /// Whether slots reserved from this sidecar's own share are still to come.
    fn alone(&self, now: Instant) -> bool {
        lock(&self.held).iter().any(|(_, end, local)| *local && *end > now)
    }

    fn hold(&self, start: Instant, end: Instant, local: bool) {
        lock(&self.held).push((start, end, local));
    }

    /// Forgets the slot starting at `start`, given back: if the fleet's
    /// schedule ended with it, it ends at its start again.
    fn release(&self, start: Instant) {
        let mut held = lock(&self.held);
        if let Some(at) = held.iter().position(|(s, _, _)| *s == start) {
            let (_, end, _) = held.swap_remove(at);
            let mut fleet_end = lock(&self.fleet_end);
            if fleet_end.0 == end {
                fleet_end.0 = start;
            }
        }
    }
}

/// A reservation as the script answered it.
struct Reply {
    wait: Duration,
    rate: f64,
    /// The slot's start and end on the schedule's clock; `None` when an idle
    /// reservation found no slot due.
    slot: Option<(f64, f64)>,
    /// From now to the end of the fleet's schedule.
    tat: Duration,
    repaired: bool,
}

/// Send slots from the fleet's budget, or from this sidecar's share of it.
#[derive(Debug)]
pub struct FleetPacing {
    fleet: Arc<Fleet>,
    ops: HashMap<String, Arc<Op>>,
    /// The local share and the member count it was made for.
    share: Mutex<(usize, LocalPacing)>,
    counts: Arc<Counts>,
}

impl FleetPacing {
    /// The fleet's budget for `ceilings` (requests per second per operation).
    pub fn new(fleet: Arc<Fleet>, ceilings: &HashMap<String, f64>) -> Self {
        let now = Instant::now();
        let ops: HashMap<String, Arc<Op>> = ceilings
            .iter()
            .map(|(op, &ceiling)| {
                let ceiling = ceiling * MARGIN;
                let o = Op {
                    key: fleet.key(&format!("pace:{op}")),
                    ceiling,
                    rate: AtomicU64::new(ceiling.to_bits()),
                    held: Mutex::new(Vec::new()),
                    fleet_end: Mutex::new((now, now)),
                };
                (op.clone(), Arc::new(o))
            })
            .collect();
        let share = Self::share_of(&Self::ceilings(&ops), fleet.assumed_members());
        Self { fleet, ops, share: Mutex::new(share), counts: Arc::default() }
    }

    fn ceilings(ops: &HashMap<String, Arc<Op>>) -> HashMap<String, f64> {
        ops.iter().map(|(op, o)| (op.clone(), o.ceiling)).collect()
    }

    fn share_of(ceilings: &HashMap<String, f64>, members: usize) -> (usize, LocalPacing) {
        let divided = ceilings.iter().map(|(op, c)| (op.clone(), c / members as f64)).collect();
        (members, LocalPacing::new(divided))
    }

    /// This sidecar's share, remade when the members it assumes changed.
    fn local<R>(&self, f: impl FnOnce(&LocalPacing) -> R) -> R {
        let members = self.fleet.assumed_members();
        let mut share = lock(&self.share);
        if share.0 != members {
            *share = Self::share_of(&Self::ceilings(&self.ops), members);
        }
        f(&share.1)
    }

    /// What the budget did for this sidecar.
    pub fn stats(&self) -> PacingStats {
        PacingStats {
            slots: self.counts.slots.load(Ordering::Relaxed),
            waits: self.counts.waits.load(Ordering::Relaxed),
            given_back: self.counts.given_back.load(Ordering::Relaxed),
            local: self.counts.local.load(Ordering::Relaxed),
        }
    }

    /// A slot from this sidecar's own share, after every slot it knows of
    /// and once the fleet no longer counts this sidecar among its sharers
    /// (with `idle`, only one due now).
    fn reserve_local(&self, op: &'static str, o: &Op, now: Instant, idle: bool) -> Result<Option<Slot<'_>>, Instant> {
        let lent_until = self.fleet.lent_until().unwrap_or(now);
        let not_before = o.not_before(now, Some(lent_until));
        if idle && not_before > now {
            return Err(not_before);
        }
        let reserved =
            self.local(|l| if idle { l.reserve_idle_now(op, now) } else { Ok(l.reserve_now(op, not_before)) });
        let Some(id) = reserved? else { return Ok(None) };
        if let Mark::Local { start, end } = id.mark {
            o.hold(start, end, true);
        }
        self.fleet.set_sharing(false);
        self.counts.local.fetch_add(1, Ordering::Relaxed);
        Ok(Some(Slot::new(id, op, self)))
    }

    /// A slot of `op` (with `idle`, only one due now: `Err` with when the
    /// next is otherwise): from the fleet's budget, unless Redis is away or
    /// slots this sidecar reserved alone are still to come (then its own
    /// share goes on until they are spent, and the fleet counts it out of
    /// the budget's sharers).
    fn reserve_as(&self, op: &'static str, now: Instant, idle: bool) -> Soon<'_, Result<Option<Slot<'_>>, Instant>> {
        let Some(o) = self.ops.get(op) else { return at_once(Ok(None)) };
        if self.fleet.degraded() || o.alone(now) {
            return at_once(self.reserve_local(op, o, now, idle));
        }
        if !self.ops.values().any(|o| o.alone(now)) {
            self.fleet.set_sharing(true);
        }
        Either::Right(Box::pin(async move {
            let Some((answered, reply)) = self.reserve_shared(o, now, idle).await else {
                return self.reserve_local(op, o, Instant::now(), idle);
            };
            if reply.repaired {
                self.fleet.repaired("pace");
            }
            o.rate.store(reply.rate.to_bits(), Ordering::Relaxed);
            let Some((start, end)) = reply.slot else { return Err(answered + reply.wait) };
            self.counts.slots.fetch_add(1, Ordering::Relaxed);
            if !reply.wait.is_zero() {
                self.counts.waits.fetch_add(1, Ordering::Relaxed);
            }
            let (at, until) = (answered + reply.wait, answered + reply.tat);
            o.hold(at, until, false);
            {
                let mut fleet_end = lock(&o.fleet_end);
                *fleet_end = (fleet_end.0.max(until), answered);
            }
            let id = SlotId { at, mark: Mark::Shared { start, end } };
            Ok(Some(Slot::new(id, op, self)))
        }))
    }

    /// A slot from the fleet's budget (with `idle`, only one due now);
    /// `None` if Redis did not answer.
    async fn reserve_shared(&self, o: &Arc<Op>, now: Instant, idle: bool) -> Option<(Instant, Reply)> {
        let not_before = o.not_before(now, None).saturating_duration_since(now);
        let (tx, rx) = oneshot::channel();
        let (fleet, op) = (self.fleet.clone(), o.clone());
        let counts = self.counts.clone();
        // In its own task: a reservation whose caller left before Redis answered
        // is given back when the answer comes.
        tokio::spawn(async move {
            let reply = reserve(&fleet, &op, not_before, fleet.live_share(), idle).await;
            if let Err(Some(Reply { slot: Some((start, end)), .. })) = tx.send(reply) {
                counts.given_back.fetch_add(1, Ordering::Relaxed);
                give_back(&fleet, &op, start, end);
            }
        });
        let reply = rx.await.ok()??;
        Some((Instant::now(), reply))
    }
}

/// Reserves a slot of `op` not before `not_before` from now, at `share` of
/// the fleet's rate; with `idle`, only a slot due now (the reply carries no
/// slot otherwise).
async fn reserve(fleet: &Fleet, op: &Op, not_before: Duration, share: f64, idle: bool) -> Option<Reply> {
    let micros = u64::try_from(not_before.as_micros()).unwrap_or(u64::MAX);
    let (wait, rate, start, end, tat, repaired): (u64, String, String, String, i64, u8) = fleet
        .run(|mut c| async move {
            let mut call = PACE.key(&op.key);
            call.arg("reserve").arg(op.ceiling).arg("").arg(micros).arg("").arg(share);
            if idle {
                call.arg("idle");
            }
            call.invoke_async(&mut c).await
        })
        .await?;
    let number = |text: &str| text.parse::<f64>().ok().filter(|x| x.is_finite());
    let slot = match (start.as_str(), end.as_str()) {
        ("", "") if idle => None,
        _ => Some((number(&start)?, number(&end)?)),
    };
    Some(Reply {
        wait: Duration::from_micros(wait),
        rate: number(&rate)?,
        slot,
        tat: Duration::from_micros(u64::try_from(tat).unwrap_or(0)),
        repaired: repaired == 1,
    })
}

/// Gives slot `start`..`end` of `op` back to the fleet's budget, in the background.
fn give_back(fleet: &Fleet, op: &Op, start: f64, end: f64) {
    // Rust prints the shortest text that reads back as the same number.
    give_back_slot(fleet, &op.key, op.ceiling, &start.to_string(), &end.to_string());
}

/// Gives the slot `start`..`end` (as `pace.lua` answered them) of the
/// schedule at `key` back, in the background.
pub(super) fn give_back_slot(fleet: &Fleet, key: &str, rate: f64, start: &str, end: &str) {
    let args = ["give_back", &rate.to_string(), "", start, end];
    fleet.detach(&PACE, vec![key.to_string()], args.iter().map(|a| a.as_bytes().to_vec()).collect());
}

impl SendPacing for FleetPacing {
    /// From the fleet's budget, unless Redis is away or slots this sidecar
    /// reserved alone are still to come (then its own share goes on until
    /// they are spent, and the fleet counts it out of the budget's sharers).
    fn reserve(&self, op: &'static str, now: Instant) -> Soon<'_, Option<Slot<'_>>> {
        match self.reserve_as(op, now, false) {
            Either::Left(ready) => at_once(ready.into_inner().unwrap_or(None)),
            Either::Right(later) => Either::Right(Box::pin(async move { later.await.unwrap_or(None) })),
        }
    }

    /// The same for background work: only a slot due now, from the fleet's
    /// budget or (Redis away) this sidecar's share.
    fn reserve_idle(&self, op: &'static str, now: Instant) -> Soon<'_, Result<Option<Slot<'_>>, Instant>> {
        self.reserve_as(op, now, true)
    }

    fn give_back(&self, op: &'static str, slot: &SlotId) {
        let Some(o) = self.ops.get(op) else { return };
        o.release(slot.at);
        match slot.mark {
            Mark::Local { .. } => self.local(|l| l.give_back(op, slot)),
            Mark::Shared { start, end } => {
                self.counts.given_back.fetch_add(1, Ordering::Relaxed);
                give_back(&self.fleet, o, start, end);
            }
        }
    }

    fn record(&self, op: &'static str, throttled: bool, now: Instant) {
        let Some(o) = self.ops.get(op) else { return };
        if self.fleet.degraded() {
            self.local(|l| l.record(op, throttled, now));
            return;
        }
        let (fleet, o) = (self.fleet.clone(), o.clone());
        tokio::spawn(async move {
            let throttled = if throttled { "1" } else { "0" };
            let reply: Option<(u64, String, String, String, i64, u8)> = fleet
                .run(|mut c| {
                    let o = &o;
                    async move {
                        PACE.key(&o.key).arg("record").arg(o.ceiling).arg("").arg(throttled).invoke_async(&mut c).await
                    }
                })
                .await;
            if let Some((_, rate, _, _, _, repaired)) = reply {
                if repaired == 1 {
                    fleet.repaired("pace");
                }
                if let Some(rate) = rate.parse::<f64>().ok().filter(|r| r.is_finite() && *r > 0.0) {
                    o.rate.store(rate.to_bits(), Ordering::Relaxed);
                }
            }
        });
    }

    /// The rate this part of the fleet may use: the fleet's, at the live
    /// members' share.
    fn rate(&self, op: &'static str) -> Option<f64> {
        if self.fleet.degraded() {
            return self.local(|l| l.rate(op));
        }
        let share = self.fleet.live_share();
        self.ops.get(op).map(|o| f64::from_bits(o.rate.load(Ordering::Relaxed)) * share)
    }

    fn rates(&self) -> BTreeMap<String, f64> {
        if self.fleet.degraded() {
            return self.local(LocalPacing::rates);
        }
        let share = self.fleet.live_share();
        self.ops.iter().map(|(op, o)| (op.clone(), f64::from_bits(o.rate.load(Ordering::Relaxed)) * share)).collect()
    }
}
