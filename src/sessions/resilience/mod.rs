//! The one retry layer between the gateway and GameLift Streams. Every call
//! waits for a send slot of its operation from the [`SendPacing`] seam (the
//! process's own adaptive rate limiters by default), is tried with a
//! per-attempt timeout, and on a transient failure (throttling, 5xx, timeout,
//! connection) is retried with capped exponential backoff and full jitter,
//! while the process-wide retry budget can pay for it and never past the
//! caller's deadline. A caller with a deadline waits out throttling past the
//! attempt limit, as long as its deadline and the budget allow. Other failures
//! are returned at once. The SDK's own retries are off, so an attempt here is
//! one HTTP request.

pub mod budget;
pub mod counters;
pub mod limiter;
pub mod pacing;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use super::error::{Class, SessionError, UpstreamKind};
use crate::sync::lock;
use budget::{BudgetCosts, RetryBudget, RetryCost};
use counters::{CounterValues, Counters};
use pacing::{LocalPacing, SendPacing, Slot};

/// AWS's published per-account, per-Region limits of the operations the gateway
/// calls (GameLift Streams' and IVS Real-Time's), in requests per second: the
/// default ceilings.
pub const PUBLISHED_LIMITS: &[(&str, f64)] = &[
    ("StartStreamSession", 20.0),
    ("GetStreamSession", 20.0),
    ("ListStreamSessions", 20.0),
    ("ListStreamSessionsByAccount", 20.0),
    ("TerminateStreamSession", 20.0),
    ("CreateStreamSessionConnection", 20.0),
    ("ExportStreamSessionFiles", 20.0),
    // IVS Real-Time ("IVS Service Quotas | Real-Time Streaming"): 5 a second
    // for most operations, 50 for CreateParticipantToken; not adjustable.
    ("CreateStage", 5.0),
    ("GetStage", 5.0),
    ("ListStages", 5.0),
    ("UpdateStage", 5.0),
    ("DeleteStage", 5.0),
    ("CreateParticipantToken", 50.0),
    ("GetParticipant", 5.0),
    ("ListParticipants", 5.0),
    ("DisconnectParticipant", 5.0),
    ("ListParticipantEvents", 5.0),
    ("GetStageSession", 5.0),
    ("ListStageSessions", 5.0),
    ("StartComposition", 5.0),
    ("StopComposition", 5.0),
    ("GetComposition", 5.0),
    ("ListCompositions", 5.0),
];

/// A send slot this close to the caller's deadline is as good as past it:
/// the answer could not arrive in time, and the call would spend quota (and
/// perhaps start a session) for nobody.
pub const SEND_GUARD: Duration = Duration::from_millis(50);

/// How calls are retried and paced.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (1 = no retries); a call with
    /// a deadline retries throttling past this.
    pub max_attempts: u32,
    /// Backoff before the first retry (before jitter).
    pub base_delay: Duration,
    /// Longest backoff.
    pub max_delay: Duration,
    /// Longest time one attempt may take.
    pub attempt_timeout: Duration,
    /// Size of the process-wide retry budget, in tokens.
    pub budget_tokens: u32,
    /// Costs of retries in budget tokens.
    pub budget_costs: BudgetCosts,
    /// Highest send rate per operation, requests per second.
    pub ceilings: HashMap<String, f64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
            budget_tokens: 500,
            budget_costs: BudgetCosts::default(),
            ceilings: PUBLISHED_LIMITS.iter().map(|(op, r)| (op.to_string(), *r)).collect(),
        }
    }
}

/// Why a call stopped without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum GiveUp {
    /// The failure is not one a retry can fix.
    NotRetryable,
    /// Every allowed attempt failed.
    AttemptsExhausted,
    /// The next wait would pass the caller's deadline.
    Deadline,
    /// The retry budget could not pay for a retry.
    BudgetExhausted,
    /// The attempt may have been carried out (its answer was lost), and the
    /// call cannot be sent again safely (AWS cannot de-duplicate it).
    Unrepeatable,
}

impl GiveUp {
    /// A stable name for metrics and error metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotRetryable => "not_retryable",
            Self::AttemptsExhausted => "attempts_exhausted",
            Self::Deadline => "deadline",
            Self::BudgetExhausted => "budget_exhausted",
            Self::Unrepeatable => "unrepeatable",
        }
    }
}

/// A call that did not succeed.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{error} (after {attempts} attempt(s))")]
pub struct CallFailure {
    /// The last failure.
    pub error: SessionError,
    /// HTTP attempts made.
    pub attempts: u32,
    /// Why no further attempt was made.
    pub gave_up: GiveUp,
    /// When a retry of the whole call may succeed, for transient failures.
    pub retry_after: Option<Duration>,
}

/// A snapshot of the retry layer for metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct ResilienceStats {
    /// The counters.
    pub counters: CounterValues,
    /// Retry-budget tokens left.
    pub budget_level: u32,
    /// Retry-budget capacity.
    pub budget_capacity: u32,
    /// Current send rate allowed per operation, requests per second.
    pub limiter_rates: BTreeMap<String, f64>,
}

/// The retry layer, shared by every call of the process.
#[derive(Debug)]
pub struct Resilience {
    policy: RetryPolicy,
    budget: RetryBudget,
    pacing: Arc<dyn SendPacing>,
    counters: Counters,
    rng: Mutex<StdRng>,
    /// Background work's queue for each operation's slots: first come,
    /// first served, so no poller takes every slot callers leave.
    background: Mutex<HashMap<&'static str, Arc<tokio::sync::Mutex<()>>>>,
}

/// Whose work a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// A caller's: the next send slot.
    Caller,
    /// Background work's (a watch poll): only a send slot no caller is
    /// waiting for, so a caller never waits behind it for more than the one
    /// slot it took just before the caller came.
    Background,
}

/// Why `err` is retried, if it is; an attempt that may have been carried out
/// is retried only if it is `repeatable`.
fn retry_reason(err: &SessionError, repeatable: bool) -> Option<(RetryCost, &'static str)> {
    let cost = match err.class() {
        Class::Throttling => RetryCost::Throttling,
        Class::Transient if repeatable || matches!(err, SessionError::RateLimited) => RetryCost::Transient,
        Class::Transient | Class::Final | Class::Refused => return None,
    };
    let label = match err {
        SessionError::Upstream { kind: UpstreamKind::Throttling, .. } => "throttled",
        SessionError::Timeout => "timeout",
        SessionError::Connection(_) => "connection",
        SessionError::RateLimited => "rate_limited",
        _ => "server_error",
    };
    Some((cost, label))
}

impl Resilience {
    /// A retry layer with `policy`, its budget full.
    pub fn new(policy: RetryPolicy) -> Self {
        Self::with_seed(policy, rand::random())
    }

    /// The same with a fixed jitter seed (for reproducible tests).
    pub fn with_seed(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            budget: RetryBudget::new(policy.budget_tokens, policy.budget_costs),
            pacing: Arc::new(LocalPacing::new(policy.ceilings.clone())),
            counters: Counters::default(),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            background: Mutex::new(HashMap::new()),
            policy,
        }
    }

    /// Counters, budget level and limiter rates.
    pub fn stats(&self) -> ResilienceStats {
        ResilienceStats {
            counters: self.counters.values(),
            budget_level: self.budget.level(),
            budget_capacity: self.budget.capacity(),
            limiter_rates: self.pacing.rates(),
        }
    }

    /// The same, its sends paced by `pacing` instead of its own limiters.
    pub fn with_pacing(self, pacing: Arc<dyn SendPacing>) -> Self {
        Self { pacing, ..self }
    }

    /// The cap of the backoff before retry number `retry` (1-based).
    fn backoff_cap(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.policy.base_delay.saturating_mul(factor).min(self.policy.max_delay)
    }

    fn jitter(&self, cap: Duration) -> Duration {
        cap.mul_f64(lock(&self.rng).random::<f64>())
    }

    fn fail(
        &self,
        op: &'static str,
        error: SessionError,
        attempts: u32,
        gave_up: GiveUp,
        retry_after: Option<Duration>,
    ) -> CallFailure {
        // Counted apart: nothing was sent (RATE_LIMITED), the sidecar's own pacing refused.
        let why = if matches!(error, SessionError::RateLimited) { "rate_limited" } else { gave_up.as_str() };
        self.counters.give_up(op, why);
        CallFailure { error, attempts, gave_up, retry_after }
    }

    /// The send rate operation `op` may use now, requests per second: its
    /// limiter's rate (below the ceiling after throttling), or the ceiling
    /// before its first call; `None` for an operation without a ceiling.
    pub fn rate(&self, op: &'static str) -> Option<f64> {
        self.pacing.rate(op)
    }

    /// Runs `attempt` under the policy for operation `op`, within `deadline`.
    pub async fn call<T, F, Fut>(
        &self,
        op: &'static str,
        deadline: Option<Instant>,
        attempt: F,
    ) -> Result<T, CallFailure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SessionError>>,
    {
        self.call_limited(op, deadline, self.policy.max_attempts, Priority::Caller, attempt).await
    }

    /// The next send slot of `op` for work of `priority`: a caller's is the
    /// next one; background work, in the order it came, takes only a slot
    /// due now (no caller is queued for it), and otherwise waits until the
    /// next one to ask again, reserving nothing meanwhile, so callers who
    /// come meanwhile go first.
    async fn slot(&self, op: &'static str, priority: Priority) -> (Instant, Option<Slot<'_>>) {
        if priority == Priority::Caller {
            let now = Instant::now();
            return (now, self.pacing.reserve(op, now).await);
        }
        let queue = lock(&self.background).entry(op).or_default().clone();
        let _turn = queue.lock().await;
        loop {
            let now = Instant::now();
            match self.pacing.reserve_idle(op, now).await {
                Ok(slot) => return (now, slot),
                // A millisecond at least: a clock behind the schedule's must not spin.
                Err(next) => tokio::time::sleep_until(next.max(now + Duration::from_millis(1))).await,
            }
        }
    }

    /// The same, with at most `max_attempts` attempts (at most the policy's),
    /// as work of `priority`.
    pub async fn call_limited<T, F, Fut>(
        &self,
        op: &'static str,
        deadline: Option<Instant>,
        max_attempts: u32,
        priority: Priority,
        attempt: F,
    ) -> Result<T, CallFailure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SessionError>>,
    {
        self.call_tried(op, deadline, max_attempts, priority, true, attempt).await
    }

    /// The same; unless `repeatable`, an attempt that may have been carried
    /// out (no answer, a broken connection, a 5xx) is not tried again: only
    /// throttling and a missing send slot, after which AWS surely did
    /// nothing, are.
    pub async fn call_tried<T, F, Fut>(
        &self,
        op: &'static str,
        deadline: Option<Instant>,
        max_attempts: u32,
        priority: Priority,
        repeatable: bool,
        mut attempt: F,
    ) -> Result<T, CallFailure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SessionError>>,
    {
        let max_attempts = max_attempts.min(self.policy.max_attempts).max(1);
        let mut attempts = 0;
        let mut paid = None;
        let mut last: Option<(SessionError, Duration)> = None;
        loop {
            // A slot not used (past the deadline, or this future dropped while it
            // waits) is given back when it drops.
            let (now, slot) = self.slot(op, priority).await;
            let at = slot.as_ref().map_or(now, Slot::at);
            if deadline.is_some_and(|d| at + SEND_GUARD >= d) {
                drop(slot);
                let wait = at.saturating_duration_since(now);
                let (error, advice) = last.unwrap_or((SessionError::RateLimited, wait));
                return Err(self.fail(op, error, attempts, GiveUp::Deadline, Some(advice.max(wait))));
            }
            if at > now {
                // A slot already due is taken at once: even an elapsed timer costs a trip
                // through tokio's timer wheel (up to a millisecond).
                tokio::time::sleep_until(at).await;
            }
            if let Some(slot) = slot {
                slot.used();
            }
            attempts += 1;
            self.counters.attempt(op);
            let budget = deadline.map_or(self.policy.attempt_timeout, |d| {
                d.saturating_duration_since(Instant::now()).min(self.policy.attempt_timeout)
            });
            let result = tokio::time::timeout(budget, attempt()).await.unwrap_or(Err(SessionError::Timeout));
            self.counters.outcome(op, result.as_ref().map_or_else(SessionError::outcome, |_| "Success"));
            let throttled = matches!(&result, Err(SessionError::Upstream { kind: UpstreamKind::Throttling, .. }));
            if throttled {
                self.counters.throttle(op);
            }
            self.pacing.record(op, throttled, Instant::now());
            let error = match result {
                Ok(value) => {
                    self.budget.deposit(paid);
                    return Ok(value);
                }
                Err(error) => error,
            };
            let Some((cost, reason)) = retry_reason(&error, repeatable) else {
                let why = if error.class() == Class::Transient { GiveUp::Unrepeatable } else { GiveUp::NotRetryable };
                return Err(self.fail(op, error, attempts, why, None));
            };
            let cap = self.backoff_cap(attempts);
            // Throttling that slowing down does not end (another tenant of the
            // account) must not fail a caller who can still wait: with a deadline
            // (and retries on), only the deadline and the budget stop its retries.
            let waits_out_throttling = cost == RetryCost::Throttling && deadline.is_some() && max_attempts > 1;
            if attempts >= max_attempts && !waits_out_throttling {
                return Err(self.fail(op, error, attempts, GiveUp::AttemptsExhausted, Some(cap)));
            }
            let delay = self.jitter(cap);
            if deadline.is_some_and(|d| Instant::now() + delay >= d) {
                return Err(self.fail(op, error, attempts, GiveUp::Deadline, Some(cap)));
            }
            let Some(tokens) = self.budget.withdraw(cost) else {
                return Err(self.fail(op, error, attempts, GiveUp::BudgetExhausted, Some(cap)));
            };
            paid = Some(tokens);
            self.counters.retry(op, reason);
            tokio::time::sleep(delay).await;
            last = Some((error, cap));
        }
    }
}

#[cfg(test)]
mod tests;
