//! What the retry layer spends, counted: attempts per operation and outcome,
//! retries per operation and reason, throttles, give-ups. Ready for a metrics exporter.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::sync::lock;

/// Counters of the retry layer.
#[derive(Debug, Default)]
pub struct Counters {
    state: Mutex<CounterValues>,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CounterValues {
    /// HTTP attempts sent, per operation.
    pub attempts: BTreeMap<&'static str, u64>,
    /// Attempts answered, per operation and outcome (`Success`, the AWS error
    /// type, `Timeout`, `ConnectionError`, …; see `SessionError::outcome`).
    pub outcomes: BTreeMap<(&'static str, &'static str), u64>,
    /// Retries made, per operation and reason (`throttled`, `server_error`,
    /// `timeout`, `connection`).
    pub retries: BTreeMap<(&'static str, &'static str), u64>,
    /// ThrottlingExceptions received, per operation.
    pub throttles: BTreeMap<&'static str, u64>,
    /// Calls given up, per operation and why (`not_retryable`,
    /// `attempts_exhausted`, `deadline`, `budget_exhausted`).
    pub give_ups: BTreeMap<(&'static str, &'static str), u64>,
}

impl Counters {
    /// Counts an attempt.
    pub fn attempt(&self, op: &'static str) {
        *lock(&self.state).attempts.entry(op).or_default() += 1;
    }

    /// Counts how an attempt ended.
    pub fn outcome(&self, op: &'static str, outcome: &'static str) {
        *lock(&self.state).outcomes.entry((op, outcome)).or_default() += 1;
    }

    /// Counts a retry.
    pub fn retry(&self, op: &'static str, reason: &'static str) {
        *lock(&self.state).retries.entry((op, reason)).or_default() += 1;
    }

    /// Counts a throttle.
    pub fn throttle(&self, op: &'static str) {
        *lock(&self.state).throttles.entry(op).or_default() += 1;
    }

    /// Counts a call given up.
    pub fn give_up(&self, op: &'static str, why: &'static str) {
        *lock(&self.state).give_ups.entry((op, why)).or_default() += 1;
    }

    /// A copy of every counter.
    pub fn values(&self) -> CounterValues {
        lock(&self.state).clone()
    }
}
