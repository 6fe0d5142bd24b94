//! The [`PollResults`] seam: where a poller looks before it reads GameLift
//! Streams, so that pollers of several processes watching the same sessions
//! read each one once between them. A result is fresh for the interval its
//! reader set; while one process fetches a read, the others take the last
//! result. Every result carries when it was read, so a poller can tell an
//! old one from a new one. [`NotShared`], the default, has none: every read
//! goes upstream.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::sessions::{at_once, Soon};

/// One poll read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read<'a> {
    /// GetStreamSession of this session (its ID).
    Session(&'a str),
    /// The ListStreamSessions page at this token (`""`: the first).
    Page(&'a str),
    /// A read of an IVS Real-Time stage's watch (the "group" is the stage's
    /// ARN): its active session, a participants page or a participant's
    /// events, as named.
    Stage(&'a str),
}

/// A result as shared: what a read got (encoded), and when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Shared {
    /// The result, encoded.
    pub bytes: Bytes,
    /// When the read answered, by its reader's clock.
    pub read_at: SystemTime,
}

/// What the shared results hold for a read.
pub enum Look {
    /// A result still fresh: use it, read nothing upstream.
    Fresh(Shared),
    /// None fresh, and the read is this poller's to make: make it and store
    /// the result with the ticket (a ticket dropped unused lets another try).
    Fetch(Box<dyn Ticket>),
    /// Another poller is making the read: the last result, if any.
    Busy(Option<Shared>),
}

/// The right to store the result of one read (the lease's fence: a ticket
/// whose lease another poller took since stores nothing).
pub trait Ticket: Send {
    /// Stores `result` (encoded), read at `read_at`, fresh for `fresh_for`;
    /// a result older than the one stored is not stored.
    fn store(self: Box<Self>, result: Bytes, read_at: SystemTime, fresh_for: Duration);
}

/// Where pollers share their results.
pub trait PollResults: Send + Sync {
    /// What is known of `read` in stream group `group` (its ID); with
    /// `force` (a call just changed what it reads), the read is this
    /// poller's to make whatever is known.
    fn look(&self, group: &str, read: Read<'_>, force: bool) -> Soon<'_, Look>;

    /// Offers `result` of `read`, read at `read_at` by a call (not a poll),
    /// fresh for `fresh_for`: stored unless a later read is, so the pollers
    /// need not read it again.
    fn offer(&self, _group: &str, _read: Read<'_>, _result: Bytes, _read_at: SystemTime, _fresh_for: Duration) {}

    /// The last result of `read` any poller stored, if it is at most
    /// `max_age` old; `None` otherwise, or when nothing is shared.
    fn recent(&self, _group: &str, _read: Read<'_>, _max_age: Duration) -> Soon<'_, Option<Bytes>> {
        at_once(None)
    }
}

/// Nothing shared: every read is this poller's to make.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotShared;

struct Unshared;

impl Ticket for Unshared {
    fn store(self: Box<Self>, _: Bytes, _: SystemTime, _: Duration) {}
}

impl Look {
    /// The read is this poller's, and its result stays in the process.
    pub fn unshared() -> Self {
        // A box of a zero-sized type allocates nothing.
        Self::Fetch(Box::new(Unshared))
    }
}

impl PollResults for NotShared {
    fn look(&self, _: &str, _: Read<'_>, _: bool) -> Soon<'_, Look> {
        at_once(Look::unshared())
    }
}
