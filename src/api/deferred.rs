//! Terminations AWS refuses now because the session is still ACTIVATING:
//! the wish is kept (in this process only) and the termination sent as soon
//! as the session leaves ACTIVATING, which the watch pollers that serve
//! `wait_for_active` tell. One per session, however often it is asked for.
//! Counted for metrics; never fails the RPC that recorded it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::inputs::terminate_fields;
use super::status::ApiError;
use super::Gateway;
use crate::proto::v1 as pb;
use crate::sync::lock;

/// How long the deferred termination itself may take, retries included.
const TERMINATE_WITHIN: Duration = Duration::from_secs(60);

/// The terminations waiting for their session to leave ACTIVATING.
#[derive(Debug, Default)]
pub struct Deferrals {
    pending: Mutex<HashSet<String>>,
    accepted: AtomicU64,
    terminated: AtomicU64,
    ended_first: AtomicU64,
    failed: AtomicU64,
}

/// What happened to deferred terminations, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeferralStats {
    /// Waiting now.
    pub pending: usize,
    /// Recorded (a repeat for a session already waiting is not counted).
    pub accepted: u64,
    /// Sent once the session left ACTIVATING.
    pub terminated: u64,
    /// Not needed: the session ended (ERROR, TERMINATED) or was terminated
    /// by another call first.
    pub ended_first: u64,
    /// Given up: the session could not be followed or terminated.
    pub failed: u64,
}

/// How one deferred termination ended.
enum Outcome {
    Terminated,
    EndedFirst,
    Failed,
}

impl Deferrals {
    /// Counts so far.
    pub fn stats(&self) -> DeferralStats {
        DeferralStats {
            pending: lock(&self.pending).len(),
            accepted: self.accepted.load(Ordering::Relaxed),
            terminated: self.terminated.load(Ordering::Relaxed),
            ended_first: self.ended_first.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// Records a wish for `arn`; false if one is already waiting.
    fn begin(&self, arn: &str) -> bool {
        let new = lock(&self.pending).insert(arn.to_string());
        if new {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
        new
    }

    fn end(&self, arn: &str, outcome: &Outcome) {
        lock(&self.pending).remove(arn);
        let counter = match outcome {
            Outcome::Terminated => &self.terminated,
            Outcome::EndedFirst => &self.ended_first,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl Gateway {
    /// Terminates the session `arn` of `group` once it leaves ACTIVATING.
    pub(super) fn defer_termination(&self, group: &str, arn: &str) {
        if !self.deferrals.begin(arn) {
            return;
        }
        let (gateway, group, arn) = (self.clone(), group.to_string(), arn.to_string());
        tokio::spawn(async move {
            let outcome = gateway.terminate_once_activated(&group, &arn).await;
            gateway.deferrals.end(&arn, &outcome);
        });
    }

    async fn terminate_once_activated(&self, group: &str, arn: &str) -> Outcome {
        let left = self.wait_ready(group, arn, None, |s| s.status() != pb::StreamSessionStatus::Activating).await;
        use pb::StreamSessionStatus as S;
        match left {
            Ok(session) if matches!(session.status(), S::Terminating | S::Terminated | S::Error) => Outcome::EndedFirst,
            Ok(_) => self.terminate_now(group, arn).await,
            Err(ApiError::SessionEnded(_)) => Outcome::EndedFirst,
            Err(err) => {
                tracing::warn!(error = %err, session = arn, "deferred termination: the session could not be followed");
                Outcome::Failed
            }
        }
    }

    async fn terminate_now(&self, group: &str, arn: &str) -> Outcome {
        let input = match terminate_fields(group, arn).check(None) {
            Ok(input) => input,
            Err(_) => return Outcome::Failed,
        };
        let to = self.to(Some(Instant::now() + TERMINATE_WITHIN));
        match to.api.terminate_stream_session(input, to.call).await {
            Ok(_) => {
                self.watches().refresh(group, arn);
                Outcome::Terminated
            }
            Err(failure) => {
                tracing::warn!(error = %failure.error, session = arn, "deferred termination failed");
                Outcome::Failed
            }
        }
    }
}
