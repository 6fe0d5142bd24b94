//! WatchStageParticipants without a push channel: one poller per stage
//! serves every watcher of it. While someone is on the stage, each round
//! lists the participants of its session (ListParticipants, 100 a page) and
//! reads the events (ListParticipantEvents) of those whose summary changed,
//! plus one more participant a round, so that errors that change nothing in
//! a summary are seen too. While nobody is, a round lists the stage's
//! sessions (ListStageSessions), so a session that began, and even ended,
//! since the last round is read too, and every fifth round reads the stage
//! (GetStage), so a deleted stage ends its watches. Every read is a watch
//! poll: one attempt, in the send slots callers leave. Watchers get the
//! events through a broadcast channel: a watcher that falls too far behind
//! is sent the stage's participants again (SNAPSHOT, SYNCED), never holds up
//! the poller. Pollers stop when their last watcher leaves.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use prost_types::Timestamp;
use tokio::sync::{broadcast, Notify};

use super::{is_not_found, StageReads};
use crate::proto::ivs as pb;
use crate::sessions::watch::stream::WatchError;
use crate::sessions::CallFailure;
use crate::sync::lock;

/// How stage watches poll.
#[derive(Debug, Clone, PartialEq)]
pub struct StageWatchConfig {
    /// Between rounds while someone is on the stage.
    pub interval: Duration,
    /// Between rounds while nobody is (the stage is read for a new session).
    pub idle_interval: Duration,
    /// A heartbeat is sent after this long without an event.
    pub heartbeat: Duration,
}

impl Default for StageWatchConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            idle_interval: Duration::from_secs(2),
            heartbeat: Duration::from_secs(15),
        }
    }
}

/// Events a watcher may fall behind by before it is sent the stage again.
const BACKLOG: usize = 1024;

/// The watches of every stage: one poller (and feed) per watched stage.
#[derive(Clone)]
pub struct StageWatches {
    inner: Arc<Inner>,
}

struct Inner {
    reads: Arc<dyn StageReads>,
    config: StageWatchConfig,
    feeds: Mutex<HashMap<String, Arc<Feed>>>,
}

/// What a stage's poller tells its watchers.
#[derive(Debug, Clone)]
enum FeedEvent {
    /// The first round succeeded: the participants on the stage then.
    Synced(Arc<Snapshot>),
    /// Something happened to a participant.
    Change(Box<pb::StageParticipantEvent>),
    /// Reading the stage failed for good (it is gone, or may not be read).
    Failed(CallFailure),
    /// The sidecar stopped watching.
    Closed,
}

/// The participants of a stage's session as a round read them.
#[derive(Debug, Default)]
struct Snapshot {
    session: String,
    participants: Vec<pb::Participant>,
    observed_at: Option<Timestamp>,
}

/// One participant as the poller knows it.
#[derive(Debug)]
struct Known {
    summary: pb::Participant,
    /// The events already reported, or `None` before its events were first
    /// read (a participant of the first round: what it did before the watch
    /// is not reported).
    seen: Option<HashSet<EventKey>>,
    /// When its events were last read (the round number).
    read_in: u64,
    /// The events told by inference from its summary that IVS has not
    /// recorded yet (by name): when it does, they are not told again.
    inferred: Vec<i32>,
    /// The events told from IVS's record that its summary did not show yet:
    /// when it does, they are not told again.
    ahead: Vec<i32>,
}

impl Known {
    /// A participant first seen after the watch began: all it did is news.
    fn new(summary: pb::Participant) -> Self {
        Self { summary, seen: Some(HashSet::new()), read_in: 0, inferred: Vec::new(), ahead: Vec::new() }
    }

    /// A participant of the first snapshot: what it did before is not news.
    fn before_the_watch(summary: pb::Participant) -> Self {
        Self { summary, seen: None, read_in: 0, inferred: Vec::new(), ahead: Vec::new() }
    }
}

/// An event as IVS records it, for telling new events from reported ones.
type EventKey = (i32, i64, i32, String);

fn key(e: &pb::ParticipantEvent) -> EventKey {
    let t = e.event_time.unwrap_or_default();
    (e.name, t.seconds, t.nanos, e.remote_participant_id.clone())
}

#[derive(Debug, Default)]
struct State {
    synced: bool,
    /// The stage session the participants are of (the latest read).
    session: String,
    /// Whether it had ended when its participants were last read (they are
    /// then final: it is not read again).
    finished: bool,
    /// Every session of the stage seen so far (those before the watch too).
    seen_sessions: HashSet<String>,
    participants: BTreeMap<String, Known>,
    observed_at: Option<Timestamp>,
    failed: Option<CallFailure>,
    closed: bool,
}

impl State {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            session: self.session.clone(),
            participants: self.participants.values().map(|k| k.summary.clone()).collect(),
            observed_at: self.observed_at,
        }
    }
}

struct Feed {
    tx: broadcast::Sender<FeedEvent>,
    state: Mutex<State>,
    wake: Notify,
}

impl Feed {
    /// Tells the watchers `event`, under the state's lock (so a watcher that
    /// subscribes while holding it sees each event once: in its snapshot or
    /// after it).
    fn publish(&self, _locked: &State, event: FeedEvent) {
        // No receiver is fine: the poller stops at its next round.
        let _ = self.tx.send(event);
    }
}

/// What the stream of one watcher is made of.
struct Watcher {
    feed: Arc<Feed>,
    rx: broadcast::Receiver<FeedEvent>,
    pending: VecDeque<pb::StageParticipantEvent>,
    synced: bool,
    ended: bool,
    heartbeat: Duration,
}

impl StageWatches {
    /// Watches that read stages through `reads`.
    pub fn new(reads: Arc<dyn StageReads>, config: StageWatchConfig) -> Self {
        Self { inner: Arc::new(Inner { reads, config, feeds: Mutex::default() }) }
    }

    /// The stages polled now.
    pub fn pollers(&self) -> usize {
        lock(&self.inner.feeds).len()
    }

    /// The open watches of every stage.
    pub fn watchers(&self) -> usize {
        lock(&self.inner.feeds).values().map(|f| f.tx.receiver_count()).sum()
    }

    /// The events of `stage_arn`'s participants: a SNAPSHOT per participant
    /// and SYNCED once the first round read them, then a CHANGE per event, a
    /// HEARTBEAT after each heartbeat interval without one.
    pub fn watch(&self, stage_arn: &str) -> impl Stream<Item = Result<pb::StageParticipantEvent, WatchError>> + Send {
        let mut feeds = lock(&self.inner.feeds);
        let feed = match feeds.get(stage_arn) {
            Some(feed) => feed.clone(),
            None => {
                let (tx, _) = broadcast::channel(BACKLOG);
                let feed = Arc::new(Feed { tx, state: Mutex::default(), wake: Notify::new() });
                feeds.insert(stage_arn.to_string(), feed.clone());
                tokio::spawn(Poller { watches: self.clone(), stage: stage_arn.to_string(), feed: feed.clone() }.run());
                feed
            }
        };
        let mut watcher = Watcher {
            rx: feed.tx.subscribe(),
            feed: feed.clone(),
            pending: VecDeque::new(),
            synced: false,
            ended: false,
            heartbeat: self.inner.config.heartbeat,
        };
        drop(feeds);
        watcher.catch_up();
        futures_util::stream::unfold(watcher, |mut w| async move { w.next().await.map(|item| (item, w)) })
    }

    /// Makes the stage's poller read it now (a call through the sidecar
    /// changed it).
    pub fn refresh(&self, stage_arn: &str) {
        if let Some(feed) = lock(&self.inner.feeds).get(stage_arn) {
            feed.wake.notify_one();
        }
    }

    /// Ends every watch with WATCH_CLOSED and stops the pollers.
    pub fn close(&self) {
        for (_, feed) in lock(&self.inner.feeds).drain() {
            let mut state = lock(&feed.state);
            state.closed = true;
            feed.publish(&state, FeedEvent::Closed);
            feed.wake.notify_one();
        }
    }
}

impl Watcher {
    /// Takes the feed's state as it is now: its snapshot if it has one, its
    /// end if it ended; and a fresh subscription, so nothing is missed or
    /// told twice.
    fn catch_up(&mut self) {
        let feed = self.feed.clone();
        let state = lock(&feed.state);
        self.rx = feed.tx.subscribe();
        if state.closed {
            self.rx = closed_with(FeedEvent::Closed);
        } else if let Some(failure) = &state.failed {
            self.rx = closed_with(FeedEvent::Failed(failure.clone()));
        } else if state.synced {
            self.push_snapshot(&state.snapshot());
        }
    }

    fn push_snapshot(&mut self, snapshot: &Snapshot) {
        self.pending.clear();
        for participant in &snapshot.participants {
            self.pending.push_back(pb::StageParticipantEvent {
                kind: pb::StageParticipantEventKind::Snapshot.into(),
                session_id: snapshot.session.clone(),
                participant: Some(participant.clone()),
                participant_event: None,
                observed_at: snapshot.observed_at,
            });
        }
        self.pending.push_back(pb::StageParticipantEvent {
            kind: pb::StageParticipantEventKind::Synced.into(),
            session_id: snapshot.session.clone(),
            observed_at: snapshot.observed_at,
            ..Default::default()
        });
        self.synced = true;
    }

    async fn next(&mut self) -> Option<Result<pb::StageParticipantEvent, WatchError>> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            if self.ended {
                return None;
            }
            let received = tokio::time::timeout(self.heartbeat, self.rx.recv()).await;
            match received {
                Err(_) if self.synced => {
                    let observed_at = lock(&self.feed.state).observed_at;
                    let kind = pb::StageParticipantEventKind::Heartbeat.into();
                    return Some(Ok(pb::StageParticipantEvent { kind, observed_at, ..Default::default() }));
                }
                Err(_) => {}
                Ok(Ok(FeedEvent::Synced(snapshot))) => {
                    if !self.synced {
                        self.push_snapshot(&snapshot);
                    }
                }
                Ok(Ok(FeedEvent::Change(event))) => {
                    if self.synced {
                        self.pending.push_back(*event);
                    }
                }
                Ok(Ok(FeedEvent::Failed(failure))) => {
                    self.ended = true;
                    return Some(Err(WatchError::Failed(failure)));
                }
                Ok(Ok(FeedEvent::Closed) | Err(broadcast::error::RecvError::Closed)) => {
                    self.ended = true;
                    return Some(Err(WatchError::Closed));
                }
                Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                    self.synced = false;
                    self.catch_up();
                }
            }
        }
    }
}

/// A receiver that yields `event`, then ends.
fn closed_with(event: FeedEvent) -> broadcast::Receiver<FeedEvent> {
    let (tx, rx) = broadcast::channel(1);
    let _ = tx.send(event);
    rx
}

/// Polls one stage while it has watchers.
struct Poller {
    watches: StageWatches,
    stage: String,
    feed: Arc<Feed>,
}

/// What one round read: the sessions whose participants it listed, oldest
/// first (the last one is the stage's latest), and every session the stage
/// listed.
#[derive(Default)]
struct Read {
    sessions: Vec<SessionRead>,
    listed: Vec<String>,
}

/// The participants of one stage session, and whether it had ended.
struct SessionRead {
    id: String,
    ended: bool,
    participants: Vec<pb::Participant>,
}

/// Every this many rounds without anyone on the stage, the stage itself is
/// read too, so a deleted stage ends its watches (listing the sessions of a
/// stage that is gone is not an error).
const CHECK_STAGE_EVERY: u64 = 5;

impl Poller {
    async fn run(self) {
        let config = self.watches.inner.config.clone();
        let mut round = 0u64;
        loop {
            if self.stopping() {
                return;
            }
            round += 1;
            let wait = match self.round(round).await {
                Ok(true) => config.interval,
                Ok(false) => config.idle_interval,
                Err(failure) if self.fails_for_good(&failure) => {
                    let mut state = lock(&self.feed.state);
                    state.failed = Some(failure.clone());
                    self.feed.publish(&state, FeedEvent::Failed(failure));
                    drop(state);
                    self.forget();
                    return;
                }
                Err(failure) => {
                    tracing::debug!(stage = %self.stage, error = %failure.error, "stage poll failed; trying again");
                    config.interval
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.feed.wake.notified() => {}
            }
        }
    }

    /// Whether the poller should stop: no watcher is left (it is then
    /// forgotten, under the registry's lock, so no watcher joins meanwhile),
    /// or the watches were closed.
    fn stopping(&self) -> bool {
        let mut feeds = lock(&self.watches.inner.feeds);
        if lock(&self.feed.state).closed {
            return true;
        }
        if self.feed.tx.receiver_count() > 0 {
            return false;
        }
        if feeds.get(&self.stage).is_some_and(|f| Arc::ptr_eq(f, &self.feed)) {
            feeds.remove(&self.stage);
        }
        true
    }

    fn forget(&self) {
        let mut feeds = lock(&self.watches.inner.feeds);
        if feeds.get(&self.stage).is_some_and(|f| Arc::ptr_eq(f, &self.feed)) {
            feeds.remove(&self.stage);
        }
    }

    /// A stage that is gone ends its watches; so does what no later read can
    /// fix (a refused or invalid read), but only before the first snapshot:
    /// after it, the stage is known to exist and such a failure is retried.
    fn fails_for_good(&self, failure: &CallFailure) -> bool {
        is_not_found(failure) || (!lock(&self.feed.state).synced && !failure.error.class().retryable())
    }

    /// One round; whether someone is on the stage.
    async fn round(&self, round: u64) -> Result<bool, CallFailure> {
        let read = self.read(round).await?;
        let observed_at = Some(Timestamp::from(SystemTime::now()));
        let (session, someone, last, swept) = {
            let mut state = lock(&self.feed.state);
            state.observed_at = observed_at;
            state.seen_sessions.extend(read.listed);
            if !state.synced {
                if let Some(latest) = read.sessions.into_iter().last() {
                    state.session = latest.id;
                    state.finished = latest.ended;
                    state.participants = latest
                        .participants
                        .into_iter()
                        .map(|p| (p.participant_id.clone(), Known::before_the_watch(p)))
                        .collect();
                }
                state.synced = true;
                let snapshot = Arc::new(state.snapshot());
                self.feed.publish(&state, FeedEvent::Synced(snapshot));
                return Ok(state.participants.values().any(|k| is_connected(&k.summary)));
            }
            let mut last = Vec::new();
            let count = read.sessions.len();
            for (i, session) in read.sessions.into_iter().enumerate() {
                if state.session != session.id {
                    state.session = session.id.clone();
                    state.participants.clear();
                }
                state.finished = session.ended;
                let changed = apply(&mut state, session.participants);
                if i + 1 < count {
                    // A session that began and ended since the last round: what
                    // its participants did is told as their summaries tell it.
                    for (id, inferred) in changed {
                        self.publish_changes(&state, &session.id, &id, inferred);
                    }
                } else {
                    last = changed;
                }
            }
            let session = state.session.clone();
            let someone = state.participants.values().any(|k| is_connected(&k.summary));
            // One participant more per round, the one whose events were read
            // longest ago, for errors that change nothing in a summary.
            let swept = state
                .participants
                .iter()
                .filter(|(id, k)| is_connected(&k.summary) && !last.iter().any(|(c, _)| c == *id))
                .min_by_key(|(_, k)| k.read_in)
                .map(|(id, _)| id.clone());
            (session, someone, last, swept)
        };
        for (id, inferred) in last {
            self.report(&session, &id, inferred, round).await;
        }
        if let Some(id) = swept {
            self.report(&session, &id, Vec::new(), round).await;
        }
        Ok(someone)
    }

    /// What this round reads. While someone is on the stage: the current
    /// session's participants (a session ends when its last participant
    /// leaves, and only then can another begin). Otherwise the stage's
    /// sessions, and the participants of those not seen yet (begun, and
    /// maybe ended, since the last round) and of the current one unless it
    /// has ended and was read since.
    async fn read(&self, round: u64) -> Result<Read, CallFailure> {
        let reads = &self.watches.inner.reads;
        let (synced, current, on_stage, finished, seen) = {
            let state = lock(&self.feed.state);
            let on_stage = state.participants.values().any(|k| is_connected(&k.summary));
            (state.synced, state.session.clone(), on_stage, state.finished, state.seen_sessions.clone())
        };
        if synced && on_stage {
            let participants = self.participants(&current).await?;
            return Ok(Read {
                sessions: vec![SessionRead { id: current, ended: false, participants }],
                listed: Vec::new(),
            });
        }
        if !synced || round.is_multiple_of(CHECK_STAGE_EVERY) {
            reads.active_session(&self.stage).await?;
        }
        let listed = reads.sessions(&self.stage).await?;
        let mut read = Read { listed: listed.iter().map(|s| s.session_id.clone()).collect(), ..Read::default() };
        // Oldest first; before the first snapshot, only the active session.
        let wanted: Vec<&pb::StageSession> = if synced {
            listed
                .iter()
                .rev()
                .filter(|s| !seen.contains(&s.session_id) || (s.session_id == current && !finished))
                .collect()
        } else {
            listed.first().filter(|s| s.end_time.is_none()).into_iter().collect()
        };
        for session in wanted {
            let participants = self.participants(&session.session_id).await?;
            read.sessions.push(SessionRead {
                id: session.session_id.clone(),
                ended: session.end_time.is_some(),
                participants,
            });
        }
        Ok(read)
    }

    /// Every participant of `session`, page by page.
    async fn participants(&self, session: &str) -> Result<Vec<pb::Participant>, CallFailure> {
        let mut participants = Vec::new();
        let mut token = String::new();
        loop {
            let (page, next) = self.watches.inner.reads.participants(&self.stage, session, &token).await?;
            participants.extend(page);
            if next.is_empty() {
                return Ok(participants);
            }
            token = next;
        }
    }

    /// Tells the watchers `events` of participant `id` of `session`, with its
    /// summary as it is now.
    fn publish_changes(&self, state: &State, session: &str, id: &str, events: Vec<pb::ParticipantEvent>) {
        let Some(known) = state.participants.get(id) else { return };
        for event in events {
            let change = pb::StageParticipantEvent {
                kind: pb::StageParticipantEventKind::Change.into(),
                session_id: session.to_string(),
                participant: Some(known.summary.clone()),
                participant_event: Some(pb::ParticipantEvent {
                    event_time: event.event_time.or(state.observed_at),
                    participant_id: id.to_string(),
                    ..event
                }),
                observed_at: state.observed_at,
            };
            self.feed.publish(state, FeedEvent::Change(Box::new(change)));
        }
    }

    /// Reads participant `id`'s events and tells the watchers those not told
    /// yet, and, of the `inferred` transitions, those its events lack (when
    /// the read fails, all of them). An event IVS records later for a
    /// transition told by inference is not told again.
    async fn report(&self, session: &str, id: &str, inferred: Vec<pb::ParticipantEvent>, round: u64) {
        let events = self.watches.inner.reads.events(&self.stage, session, id).await;
        let mut state = lock(&self.feed.state);
        if state.session != session {
            return;
        }
        let Some(known) = state.participants.get_mut(id) else { return };
        known.read_in = round;
        let mut fresh = Vec::new();
        let mut baseline = false;
        match events {
            Ok(mut events) => {
                events.sort_by_key(|e| e.event_time.map(|t| (t.seconds, t.nanos)));
                match &mut known.seen {
                    // Its first read: what it did before is not news.
                    None => {
                        known.seen = Some(events.iter().map(key).collect());
                        baseline = true;
                    }
                    Some(seen) => fresh.extend(events.into_iter().filter(|e| seen.insert(key(e)))),
                }
            }
            Err(failure) => {
                tracing::debug!(stage = %self.stage, error = %failure.error, "participant events not read");
            }
        }
        fresh.retain(|e| !take(&mut known.inferred, e.name));
        let told: HashSet<i32> = fresh.iter().map(|e| e.name).collect();
        // Events IVS recorded before the summaries show them: when a later
        // summary does, they are not told again.
        let shown: HashSet<i32> = inferred.iter().map(|e| e.name).collect();
        known.ahead.extend(fresh.iter().map(|e| e.name).filter(|n| INFERABLE.contains(n) && !shown.contains(n)));
        for event in inferred.into_iter().filter(|e| !told.contains(&e.name)) {
            if take(&mut known.ahead, event.name) {
                continue;
            }
            if !baseline {
                known.inferred.push(event.name);
            }
            fresh.push(event);
        }
        self.publish_changes(&state, session, id, fresh);
    }
}

/// Applies a listing of the current session's participants: each one's
/// summary updated; those whose summary changed, with what the change tells.
fn apply(state: &mut State, participants: Vec<pb::Participant>) -> Vec<(String, Vec<pb::ParticipantEvent>)> {
    let mut changed = Vec::new();
    for participant in participants {
        let id = participant.participant_id.clone();
        let before = state.participants.get(&id).map(|k| &k.summary);
        let inferred = transitions(before, &participant);
        match state.participants.get_mut(&id) {
            Some(known) => known.summary = participant,
            None => {
                state.participants.insert(id.clone(), Known::new(participant));
            }
        }
        if !inferred.is_empty() {
            changed.push((id, inferred));
        }
    }
    changed
}

/// The events a summary's change can tell (as `i32`, how the proto carries them).
const INFERABLE: [i32; 4] = [
    pb::ParticipantEventName::Joined as i32,
    pb::ParticipantEventName::Left as i32,
    pb::ParticipantEventName::PublishStarted as i32,
    pb::ParticipantEventName::PublishStopped as i32,
];

/// Removes one `name` from `names`; whether there was one.
fn take(names: &mut Vec<i32>, name: i32) -> bool {
    match names.iter().position(|n| *n == name) {
        Some(at) => {
            names.remove(at);
            true
        }
        None => false,
    }
}

fn is_connected(p: &pb::Participant) -> bool {
    p.state() == pb::ParticipantState::Connected
}

/// What the change from `before` (unknown: not seen yet) to `now` tells,
/// as events without their time.
fn transitions(before: Option<&pb::Participant>, now: &pb::Participant) -> Vec<pb::ParticipantEvent> {
    use pb::ParticipantEventName as N;
    let was_connected = before.is_some_and(is_connected);
    let was_published = before.is_some_and(|b| b.published && is_connected(b));
    let mut names = Vec::new();
    if !was_connected && (is_connected(now) || before.is_none()) {
        names.push(N::Joined);
    }
    let publishing = now.published && is_connected(now);
    if publishing && !was_published {
        names.push(N::PublishStarted);
    }
    if was_published && !publishing {
        names.push(N::PublishStopped);
    }
    if !is_connected(now) && (was_connected || before.is_none()) {
        names.push(N::Left);
    }
    names
        .into_iter()
        .map(|name| pb::ParticipantEvent {
            name: name.into(),
            participant_id: now.participant_id.clone(),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests;
