//! Poll results shared by the fleet behind the [`PollResults`] seam
//! (`reads.lua`): before a poller reads a session or a listing page upstream
//! it looks in Redis; a result another sidecar stored is used while it is
//! fresh (for the interval its reader set by the session's status), and when
//! none is, one sidecar takes the read's fetch lease and reads upstream while
//! the others keep the last result. So sidecars watching the same sessions
//! read each once between them, and if the fetching sidecar dies, another
//! fetches when its lease runs out. Every result carries when it was read;
//! one read earlier than the stored one never replaces it, and a result
//! whose times are not plausible is repaired (deleted and fetched anew).
//! While the link is degraded every read is the sidecar's own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::future::Either;
use redis::Script;
use tokio::task::AbortHandle;

use super::{millis, Fleet, Held, LeaseKind};
use crate::sessions::watch::shared::{Look, PollResults, Read, Shared, Ticket};
use crate::sessions::watch::Watches;
use crate::sessions::{at_once, Soon};

static READS: LazyLock<Script> = LazyLock::new(|| super::script(include_str!("reads.lua")));

/// How long a fetch lease lasts unless renewed (its holder renews it while it
/// waits for a poll slot): the longest another sidecar waits for the read of
/// one that died.
pub const FETCH_LEASE: Duration = Duration::from_secs(3);

/// What the shared results did for this sidecar's pollers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Reads answered by a fresh result another sidecar stored.
    pub fresh: u64,
    /// Reads this sidecar made upstream under a fetch lease.
    pub fetched: u64,
    /// Reads another sidecar was making (the last result used, if any).
    pub busy: u64,
}

/// The fleet's shared poll results.
pub struct FleetReads {
    fleet: Arc<Fleet>,
    fresh: AtomicU64,
    fetched: AtomicU64,
    busy: AtomicU64,
}

impl FleetReads {
    /// Poll results shared through `fleet`.
    pub fn new(fleet: Arc<Fleet>) -> Self {
        Self { fleet, fresh: AtomicU64::new(0), fetched: AtomicU64::new(0), busy: AtomicU64::new(0) }
    }

    /// What the shared results did for this sidecar.
    pub fn stats(&self) -> ReadStats {
        ReadStats {
            fresh: self.fresh.load(Ordering::Relaxed),
            fetched: self.fetched.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
        }
    }

    async fn look_shared(&self, keys: Keys, force: bool) -> Option<Look> {
        let ticket = uuid::Uuid::new_v4().to_string();
        let reply: Vec<Vec<u8>> = {
            let (keys, ticket) = (&keys, &ticket);
            self.fleet
                .run(|mut c| async move {
                    let mut call = READS.key(&keys.result);
                    call.key(&keys.lease).arg("look").arg(ticket).arg(millis(FETCH_LEASE)).arg(u8::from(force));
                    call.invoke_async(&mut c).await
                })
                .await?
        };
        let mut reply = reply.into_iter();
        let (answer, repaired) = (reply.next()?, reply.next()?);
        if repaired == b"1" {
            self.fleet.repaired("poll result");
        }
        let (result, read) = (reply.next().unwrap_or_default(), reply.next().unwrap_or_default());
        let shared = read_time(&read)
            .filter(|_| !result.is_empty())
            .map(|read_at| Shared { bytes: Bytes::from(result), read_at });
        Some(match answer.as_slice() {
            b"fresh" => {
                self.fresh.fetch_add(1, Ordering::Relaxed);
                Look::Fresh(shared?)
            }
            b"fetch" => {
                self.fetched.fetch_add(1, Ordering::Relaxed);
                let held = self.fleet.hold(LeaseKind::Read);
                Look::Fetch(Box::new(FleetTicket::start(held, keys, ticket)))
            }
            _ => {
                self.busy.fetch_add(1, Ordering::Relaxed);
                Look::Busy(shared)
            }
        })
    }

    /// The keys of `read` in `group`.
    fn keys(&self, group: &str, read: Read<'_>) -> Keys {
        let (kind, name) = match read {
            Read::Session(id) => ("session", id),
            Read::Page(token) => ("page", token),
            Read::Stage(name) => ("stage", name),
        };
        let result = self.fleet.key(&format!("poll:{group}:{kind}:{name}"));
        let notice = [self.fleet.member(), group, kind, name].join("\n");
        Keys { lease: format!("{result}:lease"), result, channel: self.fleet.key(CHANGES), notice }
    }

    /// Hands every change another sidecar's read finds (a result stored that
    /// differs from the one before) to `watches` as soon as Redis publishes
    /// it, so their watchers of it get it at once rather than at their next
    /// read. A notice missed (the subscription broken) costs no change: the
    /// next read finds it.
    pub fn push_changes_to(&self, watches: Watches) {
        let own = self.fleet.member().to_string();
        self.fleet.subscribe(CHANGES, move |notice| {
            let Ok(text) = std::str::from_utf8(notice) else { return };
            let mut parts = text.splitn(4, '\n');
            let (Some(member), Some(group), Some(kind), Some(name)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return;
            };
            let read = match kind {
                "session" => Read::Session(name),
                "page" => Read::Page(name),
                _ => return,
            };
            if member != own {
                watches.changed(group, read);
            }
        });
    }
}

/// The channel (under the fleet's tag) where stored results that changed are announced.
const CHANGES: &str = "changes";

/// The keys of one read: its result's hash and its fetch lease, and where
/// (and with what notice) a change of its result is announced.
struct Keys {
    result: String,
    lease: String,
    channel: String,
    notice: String,
}

impl Keys {
    /// The script's arguments that store `result`.
    fn stored(&self, result: Bytes, read_at: SystemTime, fresh_for: Duration) -> [Vec<u8>; 5] {
        let micros = read_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        [
            result.to_vec(),
            millis(fresh_for).to_string().into_bytes(),
            micros.to_string().into_bytes(),
            self.channel.clone().into_bytes(),
            self.notice.clone().into_bytes(),
        ]
    }
}

impl PollResults for FleetReads {
    fn recent(&self, group: &str, read: Read<'_>, max_age: Duration) -> Soon<'_, Option<Bytes>> {
        if self.fleet.degraded() {
            return at_once(None);
        }
        let keys = self.keys(group, read);
        Either::Right(Box::pin(async move {
            let keys = &keys;
            let reply: Vec<Vec<u8>> = self
                .fleet
                .run(|mut c| async move {
                    let mut call = READS.key(&keys.result);
                    call.key(&keys.lease).arg("recent").arg("").arg(millis(max_age));
                    call.invoke_async(&mut c).await
                })
                .await?;
            reply.into_iter().next().map(Bytes::from)
        }))
    }

    fn offer(&self, group: &str, read: Read<'_>, result: Bytes, read_at: SystemTime, fresh_for: Duration) {
        if self.fleet.degraded() {
            return;
        }
        let keys = self.keys(group, read);
        let args = [b"offer".to_vec(), Vec::new()].into_iter().chain(keys.stored(result, read_at, fresh_for));
        self.fleet.detach(&READS, vec![keys.result, keys.lease], args.collect());
    }

    fn look(&self, group: &str, read: Read<'_>, force: bool) -> Soon<'_, Look> {
        if self.fleet.degraded() {
            return at_once(Look::unshared());
        }
        let keys = self.keys(group, read);
        Either::Right(Box::pin(async move { self.look_shared(keys, force).await.unwrap_or_else(Look::unshared) }))
    }
}

/// A read this sidecar makes for the fleet: its lease renewed until it ends.
struct FleetTicket {
    held: Held,
    keys: Keys,
    ticket: String,
    renewal: AbortHandle,
    stored: bool,
}

impl FleetTicket {
    fn start(held: Held, keys: Keys, ticket: String) -> Self {
        let renewal = {
            let fleet = held.fleet().clone();
            let keys = vec![keys.result.clone(), keys.lease.clone()];
            let args: Vec<Vec<u8>> =
                ["renew", &ticket, &millis(FETCH_LEASE).to_string()].iter().map(|a| a.as_bytes().to_vec()).collect();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(FETCH_LEASE / 3).await;
                    fleet.detach(&READS, keys.clone(), args.clone());
                }
            })
            .abort_handle()
        };
        Self { held, keys, ticket, renewal, stored: false }
    }

    fn send(&self, mode: &str, mut args: Vec<Vec<u8>>) {
        args.splice(0..0, [mode.as_bytes().to_vec(), self.ticket.clone().into_bytes()]);
        self.held.fleet().detach(&READS, vec![self.keys.result.clone(), self.keys.lease.clone()], args);
    }
}

impl Ticket for FleetTicket {
    fn store(mut self: Box<Self>, result: Bytes, read_at: SystemTime, fresh_for: Duration) {
        self.stored = true;
        self.renewal.abort();
        let args = self.keys.stored(result, read_at, fresh_for).to_vec();
        self.send("store", args);
    }
}

/// A read time as the script answers it (microseconds since the epoch).
fn read_time(text: &[u8]) -> Option<SystemTime> {
    let micros: u64 = std::str::from_utf8(text).ok()?.parse().ok()?;
    UNIX_EPOCH.checked_add(Duration::from_micros(micros))
}

impl Drop for FleetTicket {
    fn drop(&mut self) {
        self.renewal.abort();
        if !self.stored {
            self.send("release", Vec::new());
        }
    }
}
