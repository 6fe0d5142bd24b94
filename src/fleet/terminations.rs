//! The fleet's pending terminations behind the [`PendingTerminations`] seam
//! (`terminations.lua`): a termination deferred on any sidecar is recorded in
//! Redis and held by the sidecar working on it, which renews its hold while it
//! waits for the session to leave ACTIVATING. If that sidecar dies, its hold
//! runs out and another sidecar claims the orphan and carries it out, so no
//! termination lives in one sidecar's memory. While the link is degraded the
//! sidecar works on its own, and the record reaches Redis when it answers.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use futures_util::future::Either;
use redis::Script;
use tokio::task::AbortHandle;

use super::{millis, Fleet};
use crate::sessions::terminations::{Claim, InProcess, Pending, PendingTerminations, Release};
use crate::sessions::{at_once, Soon};

static TERMINATIONS: LazyLock<Script> = LazyLock::new(|| super::script(include_str!("terminations.lua")));

/// How long a sidecar's hold on a pending termination lasts unless renewed:
/// the longest an orphan waits for another sidecar (with [`SWEEP`]).
pub const HOLD: Duration = Duration::from_secs(6);
/// How often a sidecar looks for orphans.
pub const SWEEP: Duration = Duration::from_secs(2);
/// The most orphans one sweep claims.
const MOST_ORPHANS: usize = 100;

/// Pending terminations shared through the fleet.
pub struct FleetTerminations {
    fleet: Arc<Fleet>,
    local: InProcess,
}

impl FleetTerminations {
    /// Pending terminations recorded through `fleet`.
    pub fn new(fleet: Arc<Fleet>) -> Self {
        Self { fleet, local: InProcess::default() }
    }

    fn key(&self) -> String {
        self.fleet.key("deferred")
    }

    /// The arguments of `mode` for session `arn` (for "orphans", the most
    /// to claim), then `extra`.
    fn args(&self, mode: &str, arn: &str, extra: &[&str]) -> Vec<Vec<u8>> {
        let hold = millis(HOLD).to_string();
        [mode, self.fleet.member(), &hold, arn].iter().chain(extra).map(|a| a.as_bytes().to_vec()).collect()
    }

    fn claim(&self, pending: Pending) -> Claim {
        let renewal = {
            let (fleet, key, args) = (self.fleet.clone(), self.key(), self.args("refresh", &pending.arn, &[]));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(HOLD / 3).await;
                    fleet.detach(&TERMINATIONS, vec![key.clone()], args.clone());
                }
            })
            .abort_handle()
        };
        Claim::new(Held { fleet: self.fleet.clone(), key: self.key(), arn: pending.arn, renewal, done: false })
    }

    async fn run<T: redis::FromRedisValue>(&self, args: Vec<Vec<u8>>) -> Option<T> {
        let key = self.key();
        self.fleet
            .run(|mut c| async move {
                let mut call = TERMINATIONS.prepare_invoke();
                call.key(&key);
                for arg in &args {
                    call.arg(arg.as_slice());
                }
                call.invoke_async(&mut c).await
            })
            .await
    }

    /// Works on `pending` alone (Redis is away); the record reaches Redis
    /// when it answers, held by this sidecar.
    fn add_locally(&self, pending: Pending) -> Option<Claim> {
        let args = self.args("add", &pending.arn, &[&pending.group]);
        self.fleet.deliver(&TERMINATIONS, vec![self.key()], args);
        self.local.add_now(pending)
    }
}

/// This sidecar's hold on a pending termination, renewed until it ends.
struct Held {
    fleet: Arc<Fleet>,
    key: String,
    arn: String,
    renewal: AbortHandle,
    done: bool,
}

impl Held {
    fn send(&self, mode: &str) -> (Vec<String>, Vec<Vec<u8>>) {
        let hold = millis(HOLD).to_string();
        let args = [mode, self.fleet.member(), &hold, &self.arn].iter().map(|a| a.as_bytes().to_vec()).collect();
        (vec![self.key.clone()], args)
    }
}

impl Release for Held {
    fn done(mut self: Box<Self>) {
        self.done = true;
        self.renewal.abort();
        let (keys, args) = self.send("done");
        self.fleet.deliver(&TERMINATIONS, keys, args);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if !self.done {
            self.renewal.abort();
            let (keys, args) = self.send("release");
            self.fleet.detach(&TERMINATIONS, keys, args);
        }
    }
}

impl PendingTerminations for FleetTerminations {
    fn add(&self, pending: Pending) -> Soon<'_, Option<Claim>> {
        if self.fleet.degraded() {
            return at_once(self.add_locally(pending));
        }
        Either::Right(Box::pin(async move {
            let args = self.args("add", &pending.arn, &[&pending.group]);
            let Some((answer, repaired)) = self.run::<(String, u8)>(args).await else {
                return self.add_locally(pending);
            };
            if repaired == 1 {
                self.fleet.repaired("pending termination");
            }
            (answer == "claimed").then(|| self.claim(pending))
        }))
    }

    fn orphans(&self) -> Soon<'_, Vec<(Pending, Claim)>> {
        if self.fleet.degraded() {
            return at_once(Vec::new());
        }
        Either::Right(Box::pin(async move {
            let args = self.args("orphans", &MOST_ORPHANS.to_string(), &[]);
            let Some(reply) = self.run::<Vec<redis::Value>>(args).await else { return Vec::new() };
            let mut reply = reply.into_iter();
            if reply.next().is_some_and(|r| r == redis::Value::Int(1)) {
                self.fleet.repaired("pending termination");
            }
            let text = |v: redis::Value| redis::from_redis_value::<String>(v).ok();
            let mut claimed = Vec::new();
            while let (Some(arn), Some(group)) = (reply.next().and_then(text), reply.next().and_then(text)) {
                let pending = Pending { group, arn };
                claimed.push((pending.clone(), self.claim(pending)));
            }
            claimed
        }))
    }
}
