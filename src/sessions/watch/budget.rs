//! When watch polls may go: the [`PollSchedule`] seam, and the in-process
//! [`PollBudget`] behind it: the pollers' share of each operation's rate, a
//! pacing schedule per operation at `share` × the rate the retry layer allows
//! now (its ceiling, or less after throttling), so polling never takes more
//! than its share of the account's quota and backs off with everything else.
//! Time is tokio's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use crate::sync::lock;

/// Slowest pace, so a limiter at its floor still lets polls through.
const MIN_RATE: f64 = 0.05;

/// When the pollers may send their next call of each operation.
pub trait PollSchedule: Send + Sync {
    /// Waits for the next poll slot of `op`, whose send rate is `send_rate`
    /// now (`None`: not paced); a wait dropped before its slot gives it back.
    fn acquire(&self, op: &'static str, send_rate: Option<f64>) -> BoxFuture<'_, ()>;
}

/// Send slots for poll calls, per operation.
#[derive(Debug)]
pub struct PollBudget {
    share: f64,
    next: Mutex<HashMap<&'static str, Instant>>,
}

impl PollBudget {
    /// Poll calls at most `share` (0 < share ≤ 1) of each operation's rate.
    pub fn new(share: f64) -> Self {
        Self { share, next: Mutex::new(HashMap::new()) }
    }

    /// The poll rate of an operation whose send rate is `send_rate`, calls
    /// per second; `None` when unlimited.
    pub fn rate(&self, send_rate: Option<f64>) -> Option<f64> {
        send_rate.map(|rate| (rate * self.share).max(MIN_RATE))
    }

    /// Reserves the next poll slot of `op`: when it is, and where the
    /// schedule stood after it.
    pub fn reserve(&self, op: &'static str, send_rate: Option<f64>, now: Instant) -> (Instant, Instant) {
        let Some(rate) = self.rate(send_rate) else { return (now, now) };
        let mut next = lock(&self.next);
        let slot = next.get(op).copied().unwrap_or(now).max(now);
        let end = slot + Duration::from_secs_f64(1.0 / rate);
        next.insert(op, end);
        (slot, end)
    }

    /// Gives back `op`'s slot at `slot` (ending at `end`), which will not be
    /// used: the schedule moves back only if nothing was reserved after it.
    fn give_back(&self, op: &'static str, slot: Instant, end: Instant) {
        if let Some(next) = lock(&self.next).get_mut(op).filter(|next| **next == end) {
            *next = slot;
        }
    }
}

impl PollSchedule for PollBudget {
    fn acquire(&self, op: &'static str, send_rate: Option<f64>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let now = Instant::now();
            let (slot, end) = self.reserve(op, send_rate, now);
            if slot <= now {
                return;
            }
            let mut waiting = Waiting { budget: self, op, slot, end, used: false };
            tokio::time::sleep_until(slot).await;
            waiting.used = true;
        })
    }
}

/// A poll slot being waited for; see [`PollBudget`]'s `acquire`.
struct Waiting<'a> {
    budget: &'a PollBudget,
    op: &'static str,
    slot: Instant,
    end: Instant,
    used: bool,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if !self.used {
            self.budget.give_back(self.op, self.slot, self.end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CEILING: Option<f64> = Some(20.0);

    #[tokio::test(start_paused = true)]
    async fn polls_take_their_share_of_the_ceiling() {
        let budget = PollBudget::new(0.5);
        let start = Instant::now();
        let slots: Vec<Instant> = (0..21).map(|_| budget.reserve("GetStreamSession", CEILING, start).0).collect();
        assert_eq!(slots[0], start);
        assert_eq!(slots[20] - start, Duration::from_secs(2), "20 polls at half of 20/s take 2 s");
        assert_eq!(budget.reserve("ListStreamSessions", CEILING, start).0, start, "operations are paced apart");
    }

    #[tokio::test(start_paused = true)]
    async fn a_poll_cancelled_while_it_waits_gives_its_slot_back() {
        let budget = PollBudget::new(0.5);
        let start = Instant::now();
        budget.acquire("GetStreamSession", CEILING).await;
        let waited = tokio::time::timeout(Duration::from_millis(10), budget.acquire("GetStreamSession", CEILING));
        assert!(waited.await.is_err(), "the second poll's slot is at 100 ms; its poller stopped first");
        budget.acquire("GetStreamSession", CEILING).await;
        assert_eq!(Instant::now() - start, Duration::from_millis(100), "the given-back slot, not the one after it");
    }
}
