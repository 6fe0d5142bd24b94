//! Terminations AWS refuses now because the session is still ACTIVATING:
//! the wish is recorded (behind the [`PendingTerminations`] seam: in this
//! process, or in fleet mode in Redis, where any sidecar carries out one
//! whose sidecar died) and the termination sent as soon as the session leaves
//! ACTIVATING, which the watch pollers that serve `wait_for_active` tell. One
//! per session, however often it is asked for. Counted for metrics; never
//! fails the RPC that recorded it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::inputs::terminate_fields;
use super::operations::Service;
use super::status::ApiError;
use super::Gateway;
use crate::proto::v1 as pb;
use crate::sessions::terminations::{Claim, InProcess, Pending, PendingTerminations};

/// How long the deferred termination itself may take, retries included.
const TERMINATE_WITHIN: Duration = Duration::from_secs(60);

/// The terminations waiting for their session to leave ACTIVATING.
pub struct Deferrals {
    store: Arc<dyn PendingTerminations>,
    working: AtomicUsize,
    accepted: AtomicU64,
    adopted: AtomicU64,
    terminated: AtomicU64,
    ended_first: AtomicU64,
    failed: AtomicU64,
}

impl Default for Deferrals {
    fn default() -> Self {
        Self::new(Arc::new(InProcess::default()))
    }
}

/// What happened to deferred terminations, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeferralStats {
    /// Waiting now, in this process.
    pub pending: usize,
    /// Recorded here (a repeat for a session already waiting is not counted).
    pub accepted: u64,
    /// Taken over here from a sidecar that stopped working on them.
    pub adopted: u64,
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
    /// Pending terminations kept in `store`.
    pub fn new(store: Arc<dyn PendingTerminations>) -> Self {
        Self {
            store,
            working: AtomicUsize::new(0),
            accepted: AtomicU64::new(0),
            adopted: AtomicU64::new(0),
            terminated: AtomicU64::new(0),
            ended_first: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> DeferralStats {
        DeferralStats {
            pending: self.working.load(Ordering::Relaxed),
            accepted: self.accepted.load(Ordering::Relaxed),
            adopted: self.adopted.load(Ordering::Relaxed),
            terminated: self.terminated.load(Ordering::Relaxed),
            ended_first: self.ended_first.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    fn end(&self, outcome: &Outcome) {
        self.working.fetch_sub(1, Ordering::Relaxed);
        let counter = match outcome {
            Outcome::Terminated => &self.terminated,
            Outcome::EndedFirst => &self.ended_first,
            Outcome::Failed => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl Gateway {
    /// Records that the session `arn` of `group` is to be terminated once it
    /// leaves ACTIVATING, and sees to it (unless it is recorded already).
    pub(super) async fn defer_termination(&self, group: &str, arn: &str) {
        let pending = Pending { group: group.to_string(), arn: arn.to_string() };
        if let Some(claim) = self.deferrals.store.add(pending.clone()).await {
            self.deferrals.accepted.fetch_add(1, Ordering::Relaxed);
            self.carry_out(pending, claim);
        }
    }

    /// Every `every`, takes over the pending terminations no live sidecar
    /// works on (a shared store's orphans).
    pub(super) fn sweep_orphans(&self, every: Duration) {
        let gateway = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                for (pending, claim) in gateway.deferrals.store.orphans().await {
                    gateway.deferrals.adopted.fetch_add(1, Ordering::Relaxed);
                    gateway.carry_out(pending, claim);
                }
            }
        });
    }

    /// Works on one pending termination, in its own task, until it is settled.
    fn carry_out(&self, pending: Pending, claim: Claim) {
        self.deferrals.working.fetch_add(1, Ordering::Relaxed);
        let gateway = self.clone();
        tokio::spawn(async move {
            let outcome = gateway.terminate_once_activated(&pending.group, &pending.arn).await;
            claim.done();
            gateway.deferrals.end(&outcome);
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
