//! Status watches without a push channel: one poller per stream group serves
//! every watcher of that group's sessions, whatever their number. Watchers
//! subscribe to a feed (a `tokio::sync::watch` channel: the latest state wins,
//! so a slow watcher never holds up the poller or anyone else) and the poller
//! reads GameLift Streams at an interval set by each session's status, within
//! its share of the operation's rate. Pollers stop when their last watcher
//! leaves. This module decides what to poll and when; it never talks gRPC.

pub mod budget;
pub mod feed;
mod poller;
pub mod shared;
pub mod stream;
pub mod token;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::Histogram;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::GameLiftStreams;
use crate::proto::v1 as pb;
use crate::sync::lock;
use budget::PollSchedule;
use feed::{resource_id, GroupFeed, SessionFeed};
use shared::{NotShared, PollResults};

/// How watches poll.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchConfig {
    /// Between reads of a session that is ACTIVATING, RECONNECTING or TERMINATING.
    pub fast_interval: Duration,
    /// Between reads of a session that is ACTIVE or PENDING_CLIENT_RECONNECTION
    /// (waiting for a client), and of a watched stream group's listing.
    pub normal_interval: Duration,
    /// Between reads of a CONNECTED session.
    pub slow_interval: Duration,
    /// A heartbeat is sent after this long without an event.
    pub heartbeat: Duration,
    /// The most of each operation's rate that polls may use, 0 < share ≤ 1
    /// (polls take only send slots no caller waits for, whatever the cap).
    pub poll_share: f64,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self {
            fast_interval: Duration::from_secs(1),
            normal_interval: Duration::from_secs(2),
            slow_interval: Duration::from_secs(10),
            heartbeat: Duration::from_secs(15),
            poll_share: 1.0,
        }
    }
}

impl WatchConfig {
    /// How long a session in `status` may go unread.
    pub fn interval(&self, status: pb::StreamSessionStatus) -> Duration {
        use pb::StreamSessionStatus as S;
        match status {
            S::Connected => self.slow_interval,
            S::Active | S::PendingClientReconnection => self.normal_interval,
            _ => self.fast_interval,
        }
    }
}

/// What the watches spend and serve, for metrics and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WatchStats {
    /// Running pollers (one per watched stream group).
    pub pollers: usize,
    /// Sessions with a feed.
    pub watched_sessions: usize,
    /// Open subscriptions: streams and waits.
    pub watchers: usize,
    /// Upstream calls the pollers made, per operation.
    pub poll_calls: BTreeMap<String, u64>,
    /// State changes observed.
    pub changes: u64,
    /// How long ago the watched session read least recently was read (or,
    /// never read yet, first watched): what the slowest watch lags behind
    /// GameLift Streams at most. Zero with nothing watched.
    pub oldest_read: Duration,
}

/// A watcher's subscription to a feed; dropping it lets the poller stop
/// reading for it at once.
pub struct Subscription<T> {
    rx: watch::Receiver<T>,
    _leave: Leave,
}

/// Wakes the poller when a subscription ends (after its receiver is gone).
struct Leave(Arc<Group>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.wake.notify_one();
    }
}

/// The watches of one process.
#[derive(Clone)]
pub struct Watches {
    core: Arc<Core>,
}

/// What every poller shares.
struct Core {
    upstream: Arc<dyn GameLiftStreams>,
    config: WatchConfig,
    schedule: Arc<dyn PollSchedule>,
    results: Arc<dyn PollResults>,
    groups: Mutex<HashMap<String, Arc<Group>>>,
    revision: AtomicU64,
    poll_calls: Mutex<BTreeMap<&'static str, u64>>,
    changes: AtomicU64,
    activation: Histogram<f64>,
    /// States calls through this process were answered with, by group and
    /// session: a poller takes one instead of reading while it is fresh.
    known: Mutex<HashMap<(String, String), Known>>,
}

/// A session's state as a call was answered with.
struct Known {
    session: pb::StreamSession,
    read_at: SystemTime,
    /// Fresh until then: the interval of its status.
    until: Instant,
}

/// At most this many answered states are kept (a burst of starts past it
/// leaves the rest to be read).
const MAX_KNOWN: usize = 10_000;

/// One watched stream group: its sessions' feeds and its listing.
struct Group {
    key: String,
    identifier: String,
    state: Mutex<GroupState>,
    wake: Notify,
}

#[derive(Default)]
struct GroupState {
    sessions: HashMap<String, Entry>,
    listing: Option<Listing>,
    /// The last state of pinned sessions that ended, for the FULL group feed.
    ended: HashMap<String, Arc<feed::Observed>>,
    /// Sessions in the group at the last listing: how many pages a listing costs.
    size_hint: usize,
}

/// What a watch's events carry (the proto's `StreamSessionView`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// What a ListStreamSessions summary carries: read from listings only.
    Basic,
    /// Every member but the signal request: GetStreamSession's answer.
    Full,
}

impl From<pb::StreamSessionView> for View {
    fn from(view: pb::StreamSessionView) -> Self {
        match view {
            pb::StreamSessionView::Basic => Self::Basic,
            pb::StreamSessionView::Unspecified | pb::StreamSessionView::Full => Self::Full,
        }
    }
}

/// A watched session.
struct Entry {
    identifier: String,
    /// Its FULL feed.
    tx: watch::Sender<SessionFeed>,
    /// Its BASIC feed: every state's summary members.
    basic: watch::Sender<SessionFeed>,
    due: Instant,
    /// A call changed the session: its next read goes upstream even if the
    /// shared results hold a fresh one.
    forced: bool,
    /// Another process just stored a result of it: reading it now costs no
    /// call, so the poller reads it before anything it must fetch.
    pushed: bool,
    /// Watched for a FULL group watch (kept while the group has one).
    pinned: bool,
    /// Complete listings in a row, read after it was made, that missed it (a
    /// BASIC watch of a session no listing shows ends with NOT_FOUND after two).
    misses: u8,
    /// When it was made: a listing read before cannot show a session started since.
    since: SystemTime,
}

impl Entry {
    fn new(identifier: &str, now: Instant, pinned: bool) -> Self {
        Self {
            identifier: identifier.to_string(),
            tx: watch::channel(SessionFeed::default()).0,
            basic: watch::channel(SessionFeed::default()).0,
            due: now,
            forced: false,
            pushed: false,
            pinned,
            misses: 0,
            since: SystemTime::now(),
        }
    }

    /// Whether its full state is wanted: only a GetStreamSession reads it.
    fn needs_full(&self) -> bool {
        self.pinned || self.tx.receiver_count() > 0
    }

    fn watchers(&self) -> usize {
        self.tx.receiver_count() + self.basic.receiver_count()
    }
}

/// A watched stream group listing.
struct Listing {
    /// The BASIC feed: the listing's summaries.
    tx: watch::Sender<GroupFeed>,
    /// The FULL feed: each listed session's full state.
    full: watch::Sender<GroupFeed>,
    due: Instant,
}

impl Listing {
    fn watchers(&self) -> usize {
        self.tx.receiver_count() + self.full.receiver_count()
    }
}

impl Watches {
    /// Watches that read GameLift Streams through `upstream`, when
    /// `schedule` lets them.
    pub fn new(upstream: Arc<dyn GameLiftStreams>, config: WatchConfig, schedule: Arc<dyn PollSchedule>) -> Self {
        Self::sharing(upstream, config, schedule, Arc::new(NotShared))
    }

    /// The same, looking in `results` before each read (and storing there
    /// what they read), to share reads with other processes.
    pub fn sharing(
        upstream: Arc<dyn GameLiftStreams>,
        config: WatchConfig,
        schedule: Arc<dyn PollSchedule>,
        results: Arc<dyn PollResults>,
    ) -> Self {
        let start = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
        Self {
            core: Arc::new(Core {
                upstream,
                schedule,
                results,
                config,
                groups: Mutex::new(HashMap::new()),
                revision: AtomicU64::new(u64::try_from(start).unwrap_or(u64::MAX / 2)),
                poll_calls: Mutex::new(BTreeMap::new()),
                changes: AtomicU64::new(0),
                activation: activation_histogram(),
                known: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &WatchConfig {
        &self.core.config
    }

    /// Subscribes to one session's feed of `view` (identifiers are IDs or ARNs).
    pub fn watch_session(&self, group: &str, session: &str, view: View) -> Subscription<SessionFeed> {
        let known = self.core.known(resource_id(group), resource_id(session));
        self.core.with_group(group, |st| {
            let key = resource_id(session).to_string();
            let entry = st.sessions.entry(key).or_insert_with(|| {
                let (now, wall) = (Instant::now(), SystemTime::now());
                let mut entry = Entry::new(session, now, false);
                // A state a call was just answered with is the snapshot, at once.
                if let Some((state, read_at)) = known {
                    poller::publish(&self.core, &mut entry, state, read_at, now, wall);
                }
                entry
            });
            match view {
                View::Full => entry.tx.subscribe(),
                View::Basic => entry.basic.subscribe(),
            }
        })
    }

    /// Subscribes to a stream group's feed of `view`.
    pub fn watch_group(&self, group: &str, view: View) -> Subscription<GroupFeed> {
        self.core.with_group(group, |st| {
            let listing = st.listing.get_or_insert_with(|| Listing {
                tx: watch::channel(GroupFeed::default()).0,
                full: watch::channel(GroupFeed::default()).0,
                due: Instant::now(),
            });
            match view {
                View::Full => listing.full.subscribe(),
                View::Basic => listing.tx.subscribe(),
            }
        })
    }

    /// A session's state as a poller (of this or another process) read it
    /// at most `max_age` ago, from the shared results; `None` if none is
    /// that recent. It carries no signal request (pollers drop it).
    pub async fn recent_session(&self, group: &str, session: &str, max_age: Duration) -> Option<pb::StreamSession> {
        let read = shared::Read::Session(resource_id(session));
        let bytes = self.core.results.recent(resource_id(group), read, max_age).await?;
        prost::Message::decode(bytes).ok()
    }

    /// A session's state as a call through this process (a start, a read, a
    /// reconnect) was just answered with: its watchers get it now, and it is
    /// the snapshot of watches opened while it is fresh (the interval of its
    /// status), here and, through the shared results, on every sidecar, so
    /// none of them reads it again.
    pub fn answered(&self, group: &str, session: &pb::StreamSession) {
        let session = pb::StreamSession { signal_request: String::new(), ..session.clone() };
        let (group, id) = (resource_id(group).to_string(), resource_id(&session.arn).to_string());
        if id.is_empty() {
            return;
        }
        let (now, read_at) = (Instant::now(), SystemTime::now());
        let fresh_for = self.core.config.interval(session.status());
        let bytes = bytes::Bytes::from(prost::Message::encode_to_vec(&session));
        self.core.results.offer(&group, shared::Read::Session(&id), bytes, read_at, fresh_for);
        let watched = lock(&self.core.groups).get(&group).cloned();
        if let Some(watched) = watched {
            let mut st = lock(&watched.state);
            if let Some(entry) = st.sessions.get_mut(&id) {
                if poller::publish(&self.core, entry, session.clone(), read_at, now, read_at) {
                    poller::remove_ended(&mut st, &id);
                }
            }
        }
        let mut known = lock(&self.core.known);
        if known.len() >= MAX_KNOWN {
            known.retain(|_, k| k.until > now);
        }
        if known.len() < MAX_KNOWN {
            known.insert((group, id), Known { session, read_at, until: now + fresh_for });
        }
    }

    /// Another process stored a new result of `read` in `group` (its ID):
    /// what reads it here is due now, and takes it from the shared results.
    pub fn changed(&self, group: &str, read: shared::Read<'_>) {
        let watched = lock(&self.core.groups).get(group).cloned();
        if let Some(watched) = watched {
            if poller::pushed(&mut lock(&watched.state), read, Instant::now()) {
                watched.wake.notify_one();
            }
        }
    }

    /// Asks for a read of a watched session now (after a call that changes it).
    pub fn refresh(&self, group: &str, session: &str) {
        self.refresh_where(group, |key| key == resource_id(session));
    }

    /// Asks for a read of every watched session of a stream group now, in
    /// one round (after a change to many of them).
    pub fn refresh_group(&self, group: &str) {
        self.refresh_where(group, |_| true);
    }

    fn refresh_where(&self, group: &str, pick: impl Fn(&str) -> bool) {
        let group = lock(&self.core.groups).get(resource_id(group)).cloned();
        if let Some(group) = group {
            let now = Instant::now();
            for (_, entry) in lock(&group.state).sessions.iter_mut().filter(|(key, _)| pick(key)) {
                entry.due = now;
                entry.forced = true;
            }
            group.wake.notify_one();
        }
    }

    /// Ends every watch (at shutdown): their streams end with UNAVAILABLE,
    /// so clients resume elsewhere with their resume tokens.
    pub fn close(&self) {
        let groups: Vec<Arc<Group>> = lock(&self.core.groups).drain().map(|(_, g)| g).collect();
        for group in groups {
            *lock(&group.state) = GroupState::default();
            group.wake.notify_one();
        }
    }

    /// What the watches spend and serve.
    pub fn stats(&self) -> WatchStats {
        let groups: Vec<Arc<Group>> = lock(&self.core.groups).values().cloned().collect();
        let mut stats = WatchStats {
            pollers: groups.len(),
            poll_calls: lock(&self.core.poll_calls).iter().map(|(op, n)| (op.to_string(), *n)).collect(),
            changes: self.core.changes.load(Ordering::Relaxed),
            ..WatchStats::default()
        };
        let now = SystemTime::now();
        for group in groups {
            let st = lock(&group.state);
            stats.watched_sessions += st.sessions.len();
            stats.watchers += st.sessions.values().map(Entry::watchers).sum::<usize>();
            stats.watchers += st.listing.as_ref().map_or(0, Listing::watchers);
            for entry in st.sessions.values() {
                let read = [&entry.tx, &entry.basic].iter().filter_map(|tx| tx.borrow().polled_at).max();
                let age = now.duration_since(read.unwrap_or(entry.since)).unwrap_or_default();
                stats.oldest_read = stats.oldest_read.max(age);
            }
        }
        stats
    }
}

impl Core {
    /// Subscribes through `f` to a feed of `group`'s poller, starting the
    /// poller if none runs, and wakes it.
    fn with_group<T>(
        self: &Arc<Self>,
        group: &str,
        f: impl FnOnce(&mut GroupState) -> watch::Receiver<T>,
    ) -> Subscription<T> {
        let mut groups = lock(&self.groups);
        let key = resource_id(group).to_string();
        let group = groups
            .entry(key.clone())
            .or_insert_with(|| {
                let new = Arc::new(Group {
                    key,
                    identifier: group.to_string(),
                    state: Mutex::new(GroupState::default()),
                    wake: Notify::new(),
                });
                tokio::spawn(poller::run(self.clone(), new.clone()));
                new
            })
            .clone();
        let rx = f(&mut lock(&group.state));
        drop(groups);
        group.wake.notify_one();
        Subscription { rx, _leave: Leave(group) }
    }

    fn next_revision(&self) -> u64 {
        self.changes.fetch_add(1, Ordering::Relaxed);
        self.revision.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records how long a session just seen going from ACTIVATING to ACTIVE
    /// took, by GameLift Streams' own timestamps.
    fn record_activation(&self, session: &pb::StreamSession) {
        if let (Some(created), Some(active)) = (&session.created_at, &session.last_updated_at) {
            let seconds = (active.seconds - created.seconds) as f64 + f64::from(active.nanos - created.nanos) / 1e9;
            if seconds >= 0.0 {
                self.activation.record(seconds, &[]);
            }
        }
    }

    /// The state a call was answered with for session `id` of `group`, if
    /// still fresh.
    /// A state of `id` in `group` read at `read_at` was published: an answer
    /// read before it is no longer the session's latest, and no later watch
    /// may start from it.
    fn supersede_known(&self, group: &str, id: &str, read_at: SystemTime) {
        let mut known = lock(&self.known);
        let key = (group.to_string(), id.to_string());
        if known.get(&key).is_some_and(|k| k.read_at < read_at) {
            known.remove(&key);
        }
    }

    fn known(&self, group: &str, id: &str) -> Option<(pb::StreamSession, SystemTime)> {
        let mut known = lock(&self.known);
        let key = (group.to_string(), id.to_string());
        match known.get(&key) {
            Some(k) if k.until > Instant::now() => Some((k.session.clone(), k.read_at)),
            Some(_) => {
                known.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Waits for a poll slot of `op` and counts the call it is for.
    async fn poll_slot(&self, op: &'static str) {
        // Uncapped (the default), polls wait only for a send slot no caller wants.
        if self.config.poll_share < 1.0 {
            self.schedule.acquire(op, self.upstream.send_rate(op)).await;
        }
        *lock(&self.poll_calls).entry(op).or_default() += 1;
    }
}

/// The histogram of the time sessions take from StartStreamSession to ACTIVE.
fn activation_histogram() -> Histogram<f64> {
    opentelemetry::global::meter(crate::SCOPE)
        .f64_histogram("gls_gateway.session.activation.duration")
        .with_unit("s")
        .with_description(
            "Time from StartStreamSession to ACTIVE, by GameLift Streams' timestamps, of watched sessions",
        )
        .with_boundaries(vec![1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0, 300.0])
        .build()
}
