//! The fleet's idempotency records behind the [`OutcomeStore`] seam: one
//! Redis hash per key (`outcomes.lua`), so a `request_id` in flight on one
//! sidecar is joined by a repeat on another, a finished one is replayed and
//! other parameters are refused, fleet-wide, for the retention window. The
//! leader holds its key by a lease it renews while the call runs, so a
//! sidecar that dies mid-call frees the key within the lease. Waiters on other
//! sidecars read the record until it is done. Outcomes cross whole, errors
//! included, and a leader that finishes while Redis is away writes its outcome
//! when it answers again (the link's outbox). While the link is degraded the
//! sidecar's own store answers (the ClientToken still makes AWS de-duplicate).
//! A record that cannot be read is repaired, never trusted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use redis::Script;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{millis, Fleet, Held, LeaseKind};
use crate::sessions::idempotency::{
    Begin, Fingerprint, IdempotencyStore, Key, Lead, Leader, OutcomeStore, Portable, StoreLimits, StoreStats, Waiter,
};
use crate::sessions::{at_once, Soon};

static OUTCOMES: LazyLock<Script> = LazyLock::new(|| super::script(include_str!("outcomes.lua")));

/// How long a leader's hold on its key lasts unless renewed.
const LEASE: Duration = Duration::from_secs(10);
/// How long an outcome that is not kept stays readable by the waiters of its run.
const PUBLISHED: Duration = Duration::from_secs(30);
/// The first and the longest pause between a waiter's reads.
const FIRST_READ: Duration = Duration::from_millis(20);
const LONGEST_READ: Duration = Duration::from_millis(500);

/// Outcomes by key for the whole fleet, the sidecar's own store as fallback.
pub struct FleetOutcomes<V> {
    fleet: Arc<Fleet>,
    local: IdempotencyStore<V>,
    retention: Duration,
    joins: AtomicU64,
    replays: AtomicU64,
    conflicts: AtomicU64,
}

impl<V: Portable + Clone + Send + Sync + 'static> FleetOutcomes<V> {
    /// Records shared through `fleet`, kept for `limits.retention`; `limits`
    /// also bound the local fallback.
    pub fn new(fleet: Arc<Fleet>, limits: StoreLimits) -> Self {
        Self {
            fleet,
            retention: limits.retention,
            local: IdempotencyStore::new(limits),
            joins: AtomicU64::new(0),
            replays: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
        }
    }

    async fn begin_shared(&self, key: Key, fingerprint: Fingerprint) -> Option<Begin<V>> {
        let record = self.fleet.key(&format!("outcome:{}", key.client_token()));
        let fingerprint = fingerprint.to_hex();
        let mut retake = false;
        loop {
            let run = uuid::Uuid::new_v4().to_string();
            let (answer, value, repaired): (String, Vec<u8>, u8) = {
                let (record, run, fingerprint) = (&record, &run, &fingerprint);
                let retake = if retake { "retake" } else { "" };
                self.fleet
                    .run(|mut c| async move {
                        OUTCOMES
                            .key(record)
                            .arg("begin")
                            .arg(fingerprint)
                            .arg(run)
                            .arg(millis(LEASE))
                            .arg(retake)
                            .invoke_async(&mut c)
                            .await
                    })
                    .await?
            };
            if repaired == 1 {
                self.fleet.repaired("outcome");
            }
            return Some(match answer.as_str() {
                "lead" => {
                    let held = self.fleet.hold(LeaseKind::Idempotency);
                    Begin::Lead(Leader::new(SharedLead::start(held, record, run, self.retention)))
                }
                "join" => {
                    self.joins.fetch_add(1, Ordering::Relaxed);
                    let holder = String::from_utf8_lossy(&value).into_owned();
                    Begin::Join(Waiter::new(wait(self.fleet.clone(), record, holder)))
                }
                "replay" => match V::from_bytes(Bytes::from(value)) {
                    Some(outcome) => {
                        self.replays.fetch_add(1, Ordering::Relaxed);
                        Begin::Replay(outcome)
                    }
                    // A kept outcome nobody can read: the record is made anew.
                    None if !retake => {
                        retake = true;
                        continue;
                    }
                    None => return None,
                },
                _ => {
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    Begin::Reused
                }
            });
        }
    }
}

impl<V: Portable + Clone + Send + Sync + 'static> OutcomeStore<V> for FleetOutcomes<V> {
    fn begin(&self, key: Key, fingerprint: Fingerprint, now: Instant) -> Soon<'_, Begin<V>> {
        if self.fleet.degraded() {
            return at_once(self.local.begin_now(key, fingerprint, now));
        }
        Either::Right(Box::pin(async move {
            match self.begin_shared(key, fingerprint).await {
                Some(begin) => begin,
                None => self.local.begin_now(key, fingerprint, Instant::now()),
            }
        }))
    }

    fn stats(&self) -> StoreStats {
        let local = self.local.stats();
        StoreStats {
            entries: local.entries,
            joins: local.joins + self.joins.load(Ordering::Relaxed),
            replays: local.replays + self.replays.load(Ordering::Relaxed),
            conflicts: local.conflicts + self.conflicts.load(Ordering::Relaxed),
        }
    }
}

/// Reads the record of run `run` until it has an outcome; `None` when the
/// run lost its key (its sidecar died), its outcome cannot be read, or Redis
/// failed: the waiter then makes the call itself.
async fn wait<V: Portable>(fleet: Arc<Fleet>, record: String, run: String) -> Option<V> {
    let mut pause = FIRST_READ;
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_READ);
        let (state, out, holder): (Option<String>, Option<Vec<u8>>, Option<String>) =
            fleet
                .run(|mut c| {
                    let record = &record;
                    async move {
                        redis::cmd("HMGET").arg(record).arg("state").arg("out").arg("run").query_async(&mut c).await
                    }
                })
                .await?;
        if holder.as_deref() != Some(run.as_str()) {
            return None;
        }
        if state.as_deref() != Some("running") {
            return out.and_then(|o| V::from_bytes(Bytes::from(o)));
        }
    }
}

/// A call this sidecar runs for the fleet: its lease renewed until it ends.
struct SharedLead {
    held: Held,
    record: String,
    run: String,
    retention: Duration,
    renewal: AbortHandle,
    finished: bool,
}

impl SharedLead {
    fn start(held: Held, record: String, run: String, retention: Duration) -> Self {
        let renewal = {
            let fleet = held.fleet();
            let (fleet, record, run) = (fleet.clone(), record.clone(), run.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(LEASE / 3).await;
                    let (record, run) = (&record, &run);
                    let _: Option<u8> = fleet
                        .run(|mut c| async move {
                            OUTCOMES.key(record).arg("refresh").arg(run).arg(millis(LEASE)).invoke_async(&mut c).await
                        })
                        .await;
                }
            })
            .abort_handle()
        };
        Self { held, record, run, retention, renewal, finished: false }
    }

    /// Runs `mode` on the record in the background (nobody waits for it),
    /// once Redis answers if it does not now.
    fn send(&self, mode: &str, mut args: Vec<Vec<u8>>) {
        args.splice(0..0, [mode.as_bytes().to_vec(), self.run.clone().into_bytes()]);
        self.held.fleet().deliver(&OUTCOMES, vec![self.record.clone()], args);
    }
}

impl<V: Portable + Send> Lead<V> for SharedLead {
    fn finish(mut self: Box<Self>, outcome: V, keep: bool, _: Instant) {
        self.finished = true;
        self.renewal.abort();
        let (state, ttl) = if keep { ("done", self.retention) } else { ("gone", PUBLISHED) };
        match outcome.to_bytes() {
            Some(bytes) => {
                let args = vec![state.as_bytes().to_vec(), millis(ttl).to_string().into_bytes(), bytes.to_vec()];
                self.send("finish", args);
            }
            // Waiters elsewhere make the call themselves.
            None => self.send("forget", Vec::new()),
        }
    }
}

impl Drop for SharedLead {
    fn drop(&mut self) {
        if !self.finished {
            self.renewal.abort();
            self.send("forget", Vec::new());
        }
    }
}
