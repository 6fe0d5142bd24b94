//! The count of calls the emulator answered, per operation and outcome
//! (`Success`, an error type, or `ConnectionDropped`), so a test can check
//! exactly what a client spent, and the most calls of each operation that
//! arrived within any one second (what a per-second quota sees). Counts only.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;

/// Calls per operation and outcome.
pub type CallCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// The outcome recorded for an answered call.
pub const SUCCESS: &str = "Success";
/// The outcome recorded for a connection closed without an answer.
pub const CONNECTION_DROPPED: &str = "ConnectionDropped";
/// The outcome recorded for a call that ran but whose answer was not sent.
pub const RESPONSE_DROPPED: &str = "ResponseDropped";

/// The most calls of each operation that arrived within any one second.
pub type CallPeaks = BTreeMap<String, usize>;

/// The arrivals of one operation in the last second, and the most seen.
#[derive(Debug, Default)]
struct Window {
    arrivals: VecDeque<Instant>,
    peak: usize,
}

/// Thread-safe call counters.
#[derive(Debug, Default)]
pub struct CallLog {
    counts: Mutex<CallCounts>,
    windows: Mutex<HashMap<String, Window>>,
}

impl CallLog {
    /// Counts one call, which arrived at `arrived`.
    pub fn record(&self, operation: &str, outcome: &str, arrived: Instant) {
        *lock(&self.counts).entry(operation.to_string()).or_default().entry(outcome.to_string()).or_default() += 1;
        let mut windows = lock(&self.windows);
        let window = windows.entry(operation.to_string()).or_default();
        let at = window.arrivals.partition_point(|t| *t <= arrived);
        window.arrivals.insert(at, arrived);
        let newest = window.arrivals.back().copied().unwrap_or(arrived);
        while window.arrivals.front().is_some_and(|t| newest - *t >= Duration::from_secs(1)) {
            window.arrivals.pop_front();
        }
        window.peak = window.peak.max(window.arrivals.len());
    }

    /// The most calls of each operation that arrived within any one second.
    pub fn peaks(&self) -> CallPeaks {
        lock(&self.windows).iter().map(|(op, w)| (op.clone(), w.peak)).collect()
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> CallCounts {
        lock(&self.counts).clone()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        lock(&self.counts).clear();
        lock(&self.windows).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_peak_is_the_busiest_sliding_second() {
        let log = CallLog::default();
        let t0 = Instant::now();
        for i in 0..40 {
            log.record("GetStreamSession", SUCCESS, t0 + Duration::from_millis(50 * i));
        }
        assert_eq!(log.peaks()["GetStreamSession"], 20, "20/s paced evenly");
        let edge = t0 + Duration::from_millis(2950);
        for i in 0..20 {
            log.record("GetStreamSession", SUCCESS, edge + Duration::from_millis(i));
        }
        for i in 0..20 {
            log.record("GetStreamSession", SUCCESS, edge + Duration::from_millis(100 + i));
        }
        assert_eq!(log.peaks()["GetStreamSession"], 40, "two bursts across a second's edge are one sliding second");
        log.reset();
        assert!(log.peaks().is_empty());
    }
}
