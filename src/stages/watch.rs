//! WatchStageParticipants without a push channel: one poller per stage
//! serves every watcher of it. Each round reads the stage's active session
//! (GetStage, only when no participant is known to be on it), its
//! participants (ListParticipants, 100 a page), and the events
//! (ListParticipantEvents) of the participants whose summary changed, plus
//! one more participant per round, so that errors that change nothing in a
//! summary are seen too. Every read is a watch poll: one attempt, in the
//! send slots callers leave. Watchers get the events through a broadcast
//! channel: a watcher that falls too far behind is sent the stage's
//! participants again (SNAPSHOT, SYNCED), never holds up the poller. Pollers
//! stop when their last watcher leaves.

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
    session: String,
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
            self.ended = true;
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

/// What one round read.
struct Read {
    session: String,
    participants: Vec<pb::Participant>,
}

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
        let read = self.read().await?;
        let observed_at = Some(Timestamp::from(SystemTime::now()));
        let someone = read.participants.iter().any(is_connected);
        let (changed, swept) = {
            let mut state = lock(&self.feed.state);
            state.observed_at = observed_at;
            if !state.synced {
                state.session = read.session.clone();
                state.participants = read
                    .participants
                    .into_iter()
                    .map(|p| (p.participant_id.clone(), Known { summary: p, seen: None, read_in: 0 }))
                    .collect();
                state.synced = true;
                let snapshot = Arc::new(state.snapshot());
                self.feed.publish(&state, FeedEvent::Synced(snapshot));
                return Ok(someone);
            }
            if state.session != read.session {
                state.session = read.session.clone();
                state.participants.clear();
            }
            let mut changed = Vec::new();
            for participant in read.participants {
                let id = participant.participant_id.clone();
                let before = state.participants.get(&id).map(|k| k.summary.clone());
                let inferred = transitions(before.as_ref(), &participant);
                match state.participants.get_mut(&id) {
                    Some(known) => known.summary = participant,
                    None => {
                        let known = Known { summary: participant, seen: Some(HashSet::new()), read_in: 0 };
                        state.participants.insert(id.clone(), known);
                    }
                }
                if !inferred.is_empty() {
                    changed.push((id, inferred));
                }
            }
            // One participant more per round, the one whose events were read
            // longest ago, for errors that change nothing in a summary.
            let swept = state
                .participants
                .iter()
                .filter(|(id, k)| is_connected(&k.summary) && !changed.iter().any(|(c, _)| c == *id))
                .min_by_key(|(_, k)| k.read_in)
                .map(|(id, _)| id.clone());
            (changed, swept)
        };
        for (id, inferred) in changed {
            self.report(&read.session, &id, inferred, round).await;
        }
        if let Some(id) = swept {
            self.report(&read.session, &id, Vec::new(), round).await;
        }
        Ok(someone)
    }

    /// The stage's session and its participants: the session is read from
    /// the stage only when no participant is known to be on it (a session
    /// ends when its last participant leaves, and only then can another
    /// begin).
    async fn read(&self) -> Result<Read, CallFailure> {
        let reads = &self.watches.inner.reads;
        let known = {
            let state = lock(&self.feed.state);
            let on_stage = state.participants.values().any(|k| is_connected(&k.summary));
            (state.synced && on_stage).then(|| state.session.clone())
        };
        let session = match known {
            Some(session) => session,
            None => reads.active_session(&self.stage).await?,
        };
        let mut participants = Vec::new();
        let mut token = String::new();
        while !session.is_empty() {
            let (page, next) = reads.participants(&self.stage, &session, &token).await?;
            participants.extend(page);
            if next.is_empty() {
                break;
            }
            token = next;
        }
        Ok(Read { session, participants })
    }

    /// Reads participant `id`'s events and tells the watchers those not told
    /// yet, and, of the `inferred` transitions, those its events lack (when
    /// the read fails, all of them).
    async fn report(&self, session: &str, id: &str, inferred: Vec<pb::ParticipantEvent>, round: u64) {
        let events = self.watches.inner.reads.events(&self.stage, session, id).await;
        let mut state = lock(&self.feed.state);
        if state.session != session {
            return;
        }
        let observed_at = state.observed_at;
        let Some(known) = state.participants.get_mut(id) else { return };
        known.read_in = round;
        let mut fresh = Vec::new();
        match events {
            Ok(mut events) => {
                events.sort_by_key(|e| e.event_time.map(|t| (t.seconds, t.nanos)));
                match &mut known.seen {
                    // Its first read: what it did before is not news.
                    None => known.seen = Some(events.iter().map(key).collect()),
                    Some(seen) => fresh.extend(events.into_iter().filter(|e| seen.insert(key(e)))),
                }
            }
            Err(failure) => {
                tracing::debug!(stage = %self.stage, error = %failure.error, "participant events not read");
            }
        }
        let told: HashSet<i32> = fresh.iter().map(|e| e.name).collect();
        fresh.extend(inferred.into_iter().filter(|e| !told.contains(&e.name)));
        let summary = known.summary.clone();
        for event in fresh {
            let change = pb::StageParticipantEvent {
                kind: pb::StageParticipantEventKind::Change.into(),
                session_id: session.to_string(),
                participant: Some(summary.clone()),
                participant_event: Some(pb::ParticipantEvent {
                    event_time: event.event_time.or(observed_at),
                    participant_id: id.to_string(),
                    ..event
                }),
                observed_at,
            };
            self.feed.publish(&state, FeedEvent::Change(Box::new(change)));
        }
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
