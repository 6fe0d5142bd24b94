//! The pollers' share of each operation's rate: a pacing schedule per
//! operation at `share` × the rate the retry layer allows now (its ceiling, or
//! less after throttling), so polling never takes more than its share of the
//! account's quota and backs off with everything else. Time is tokio's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::sessions::Resilience;
use crate::sync::lock;

/// Slowest pace, so a limiter at its floor still lets polls through.
const MIN_RATE: f64 = 0.05;

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

    /// The poll rate of `op` now, calls per second; `None` when unlimited.
    pub fn rate(&self, op: &'static str, resilience: &Resilience) -> Option<f64> {
        resilience.rate(op).map(|rate| (rate * self.share).max(MIN_RATE))
    }

    /// Reserves the next poll slot of `op` and returns when it is.
    pub fn reserve(&self, op: &'static str, resilience: &Resilience, now: Instant) -> Instant {
        let Some(rate) = self.rate(op, resilience) else { return now };
        let mut next = lock(&self.next);
        let slot = next.get(op).copied().unwrap_or(now).max(now);
        next.insert(op, slot + Duration::from_secs_f64(1.0 / rate));
        slot
    }

    /// Waits for the next poll slot of `op`.
    pub async fn acquire(&self, op: &'static str, resilience: &Resilience) {
        let slot = self.reserve(op, resilience, Instant::now());
        tokio::time::sleep_until(slot).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::RetryPolicy;

    #[tokio::test(start_paused = true)]
    async fn polls_take_their_share_of_the_ceiling() {
        let resilience = Resilience::with_seed(RetryPolicy::default(), 1);
        let budget = PollBudget::new(0.5);
        let start = Instant::now();
        let slots: Vec<Instant> = (0..21).map(|_| budget.reserve("GetStreamSession", &resilience, start)).collect();
        assert_eq!(slots[0], start);
        assert_eq!(slots[20] - start, Duration::from_secs(2), "20 polls at half of 20/s take 2 s");
        assert_eq!(budget.reserve("ListStreamSessions", &resilience, start), start, "operations are paced apart");
    }
}
