//! The count of calls the emulator answered, per operation and outcome
//! (`Success`, an error type, or `ConnectionDropped`), so a test can check
//! exactly what a client spent. Counts only.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::sync::lock;

/// Calls per operation and outcome.
pub type CallCounts = BTreeMap<String, BTreeMap<String, u64>>;

/// The outcome recorded for an answered call.
pub const SUCCESS: &str = "Success";
/// The outcome recorded for a connection closed without an answer.
pub const CONNECTION_DROPPED: &str = "ConnectionDropped";
/// The outcome recorded for a call that ran but whose answer was not sent.
pub const RESPONSE_DROPPED: &str = "ResponseDropped";

/// Thread-safe call counters.
#[derive(Debug, Default)]
pub struct CallLog {
    counts: Mutex<CallCounts>,
}

impl CallLog {
    /// Counts one call.
    pub fn record(&self, operation: &str, outcome: &str) {
        *lock(&self.counts).entry(operation.to_string()).or_default().entry(outcome.to_string()).or_default() += 1;
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> CallCounts {
        lock(&self.counts).clone()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        lock(&self.counts).clear();
    }
}
