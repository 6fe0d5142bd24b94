//! The fleet's poll schedule behind the [`PollSchedule`] seam: the pollers of
//! every sidecar together take at most the poll share of each operation's
//! rate, one schedule per operation in Redis (`pace.lua` at a fixed rate), so
//! N sidecars poll no more than one would. While the link is degraded each
//! sidecar's own [`PollBudget`] takes the share of its own rate (its share of
//! the ceiling then). A poll whose wait is dropped gives back exactly its slot.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::pacing::{give_back_slot, PACE};
use super::Fleet;
use crate::sessions::watch::budget::{PollBudget, PollSchedule};

/// Poll slots from the fleet's schedule.
pub struct FleetSchedule {
    fleet: Arc<Fleet>,
    local: PollBudget,
}

impl FleetSchedule {
    /// Polls through `fleet` at most `share` (0 < share ≤ 1) of each
    /// operation's rate, fleet-wide.
    pub fn new(fleet: Arc<Fleet>, share: f64) -> Self {
        Self { fleet, local: PollBudget::new(share) }
    }

    /// Reserves a slot of `op`'s poll schedule at `rate`: the wait and the
    /// slot's marks; `None` if Redis did not answer.
    async fn reserve(&self, key: &str, rate: f64) -> Option<(Duration, String, String)> {
        let (wait, _, start, end, _, repaired): (u64, String, String, String, i64, u8) = self
            .fleet
            .run(|mut c| async move {
                PACE.key(key).arg("reserve").arg(rate).arg("").arg(0).arg("fixed").invoke_async(&mut c).await
            })
            .await?;
        if repaired == 1 {
            self.fleet.repaired("poll schedule");
        }
        Some((Duration::from_micros(wait), start, end))
    }
}

/// A poll slot being waited for: given back unless the wait ends.
struct Waiting {
    fleet: Arc<Fleet>,
    key: String,
    rate: f64,
    marks: Option<(String, String)>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some((start, end)) = self.marks.take() {
            give_back_slot(&self.fleet, &self.key, self.rate, &start, &end);
        }
    }
}

impl PollSchedule for FleetSchedule {
    fn acquire(&self, op: &'static str, send_rate: Option<f64>) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let Some(rate) = self.local.rate(send_rate) else { return };
            if self.fleet.degraded() {
                return self.local.acquire(op, send_rate).await;
            }
            let key = self.fleet.key(&format!("pollpace:{op}"));
            let Some((wait, start, end)) = self.reserve(&key, rate).await else {
                return self.local.acquire(op, send_rate).await;
            };
            if wait.is_zero() {
                return;
            }
            let mut waiting = Waiting { fleet: self.fleet.clone(), key, rate, marks: Some((start, end)) };
            tokio::time::sleep(wait).await;
            waiting.marks = None;
        })
    }
}
