//! Fault injection for tests and demos: rules that add latency, throttle, fail
//! with a 500 or drop the connection, for one operation or all, with a
//! probability and optionally for the next N calls only. Decides; never sleeps.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use crate::sync::lock;

/// One fault rule, as posted to `/_emulator/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Assigned when the rule is added.
    #[serde(default)]
    pub id: u64,
    /// The operation the rule applies to, by its call key (the name; IVS
    /// Real-Time's tag operations as `ivs-realtime:TagResource`); none means
    /// every operation of both services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Probability (0–1) of a ThrottlingException.
    #[serde(default)]
    pub throttle: f64,
    /// Probability (0–1) of an InternalServerException.
    #[serde(default)]
    pub internal_error: f64,
    /// Probability (0–1) that the connection is closed without a response,
    /// before the operation runs.
    #[serde(default)]
    pub drop_connection: f64,
    /// Probability (0–1) that the operation runs but the connection is closed
    /// before its response (the client cannot tell whether it happened).
    #[serde(default)]
    pub drop_response: f64,
    /// An error type of the models (`AccessDeniedException`,
    /// `ServiceQuotaExceededException`, IVS's `PendingVerification`, …) to
    /// answer every matching call with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Latency added before the call is answered, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// Apply to the next `count` matching calls only; none means until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

/// What the faults decided for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Answer normally.
    Proceed,
    /// Close the connection without a response.
    Drop,
    /// Run the operation, then close the connection without its response.
    DropResponse,
    /// Answer ThrottlingException.
    Throttle,
    /// Answer InternalServerException.
    InternalError,
    /// Answer this error type.
    Fail(String),
}

/// The active fault rules and their dice.
#[derive(Debug)]
pub struct Faults {
    rules: Mutex<Vec<FaultRule>>,
    next_id: Mutex<u64>,
    rng: Mutex<StdRng>,
}

impl Faults {
    /// No rules; dice seeded with `seed`, or randomly.
    pub fn new(seed: Option<u64>) -> Self {
        let rng = seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64);
        Self { rules: Mutex::new(Vec::new()), next_id: Mutex::new(1), rng: Mutex::new(rng) }
    }

    /// Adds a rule and returns its id; rejects probabilities outside 0–1.
    pub fn add(&self, mut rule: FaultRule) -> Result<u64, String> {
        for (name, p) in [
            ("throttle", rule.throttle),
            ("internal_error", rule.internal_error),
            ("drop_connection", rule.drop_connection),
            ("drop_response", rule.drop_response),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be a probability between 0 and 1, got {p}"));
            }
        }
        if let Some(error) = rule.error.as_deref() {
            if ApiError::of_type(error, String::new()).is_none() {
                return Err(format!("{error} is not an error type the emulator answers"));
            }
        }
        let mut next = lock(&self.next_id);
        rule.id = *next;
        *next += 1;
        lock(&self.rules).push(rule);
        Ok(*next - 1)
    }

    /// The active rules.
    pub fn list(&self) -> Vec<FaultRule> {
        lock(&self.rules).clone()
    }

    /// Removes every rule.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// Rolls the dice of every rule that matches `operation`.
    pub fn decide(&self, operation: &str) -> (Duration, Verdict) {
        let mut rules = lock(&self.rules);
        let mut rng = lock(&self.rng);
        let (mut latency, mut drop, mut throttle, mut internal, mut drop_response) = (0u64, false, false, false, false);
        let mut fail = None;
        for rule in rules.iter_mut().filter(|r| r.operation.as_deref().is_none_or(|op| op == operation)) {
            latency += rule.latency_ms;
            drop |= rng.random_bool(rule.drop_connection);
            throttle |= rng.random_bool(rule.throttle);
            internal |= rng.random_bool(rule.internal_error);
            drop_response |= rng.random_bool(rule.drop_response);
            fail = fail.or_else(|| rule.error.clone());
            if let Some(count) = rule.count.as_mut() {
                *count = count.saturating_sub(1);
            }
        }
        rules.retain(|r| r.count != Some(0));
        let verdict = if drop {
            Verdict::Drop
        } else if throttle {
            Verdict::Throttle
        } else if internal {
            Verdict::InternalError
        } else if let Some(error) = fail {
            Verdict::Fail(error)
        } else if drop_response {
            Verdict::DropResponse
        } else {
            Verdict::Proceed
        };
        (Duration::from_millis(latency), verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_rules_apply_exactly_n_times_to_their_operation() {
        let faults = Faults::new(Some(1));
        faults
            .add(FaultRule {
                operation: Some("StartStreamSession".into()),
                throttle: 1.0,
                count: Some(3),
                ..FaultRule::default()
            })
            .expect("valid rule");
        assert_eq!(faults.decide("GetStreamSession").1, Verdict::Proceed);
        let verdicts: Vec<Verdict> = (0..5).map(|_| faults.decide("StartStreamSession").1).collect();
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Throttle).count(), 3);
        assert_eq!(verdicts[3..], [Verdict::Proceed, Verdict::Proceed]);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn drop_wins_over_errors_and_latencies_add_up() {
        let faults = Faults::new(Some(1));
        let rule =
            |drop| FaultRule { drop_connection: drop, internal_error: 1.0, latency_ms: 10, ..FaultRule::default() };
        faults.add(rule(1.0)).expect("valid");
        faults.add(rule(0.0)).expect("valid");
        assert_eq!(faults.decide("Any"), (Duration::from_millis(20), Verdict::Drop));
        assert!(faults.add(FaultRule { throttle: 1.5, ..FaultRule::default() }).is_err());
    }
}
