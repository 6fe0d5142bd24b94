//! What one watcher sees: its feed turned into events (a snapshot, then
//! changes and heartbeats, the terminal state last) for WatchStreamSession and
//! WatchStreamSessions, and the wait behind start-and-wait. Each watcher keeps
//! only what it last sent; reading the feed never blocks the poller.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::Stream;
use tokio::time::Instant;

use super::feed::{is_terminal, resource_id, GroupFeed, Observed, SessionFeed};
use super::token::{session_tag, ResumeToken};
use super::Subscription;
use crate::proto::v1 as pb;
use crate::sessions::CallFailure;

/// Why a watch ended without its terminal state.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WatchError {
    /// Reading the session or group failed for good.
    #[error(transparent)]
    Failed(#[from] CallFailure),
    /// The sidecar stopped watching (it is shutting down).
    #[error("the sidecar stopped watching; watch again")]
    Closed,
}

/// How a wait for a session state ended without that state.
#[derive(Debug, Clone)]
pub enum WaitError {
    /// Reading the session failed for good, or the sidecar stopped watching.
    Watch(WatchError),
    /// The session ended (TERMINATED or ERROR) first.
    Ended(Arc<Observed>),
    /// The time ran out; the latest state seen, if any.
    TimedOut(Option<Arc<Observed>>),
}

/// A revision as the proto carries it (`int64`, AIP-141). Revisions start
/// from the wall clock in microseconds, far below `i64::MAX`.
fn wire_revision(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}

fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

/// The events of one WatchStreamSession stream.
pub struct SessionWatch {
    sub: Subscription<SessionFeed>,
    tag: u64,
    heartbeat: Duration,
    resume: Option<ResumeToken>,
    /// Revision and status of the state last sent (or resumed from).
    last: Option<(u64, pb::StreamSessionStatus)>,
    /// Highest revision sent, so revisions only increase.
    floor: u64,
    closed: bool,
    done: bool,
}

impl SessionWatch {
    /// A watch of `session_id` over `rx`, resuming after `resume` (a token of
    /// another session is ignored: the watch starts with a snapshot).
    pub fn new(
        sub: Subscription<SessionFeed>,
        session_id: &str,
        heartbeat: Duration,
        resume: Option<ResumeToken>,
    ) -> Self {
        let tag = session_tag(resource_id(session_id));
        let resume = resume.filter(|t| t.session == tag);
        Self { sub, tag, heartbeat, resume, last: None, floor: 0, closed: false, done: false }
    }

    /// The events, ending after the terminal state.
    pub fn into_stream(self) -> impl Stream<Item = Result<pb::StreamSessionEvent, WatchError>> + Send {
        futures_util::stream::unfold(self, |mut w| async move { w.next().await.map(|e| (e, w)) })
    }

    async fn next(&mut self) -> Option<Result<pb::StreamSessionEvent, WatchError>> {
        if self.done {
            return None;
        }
        let heartbeat_at = Instant::now() + self.heartbeat;
        loop {
            let feed = self.sub.rx.borrow_and_update().clone();
            if let Some(failure) = feed.failure {
                self.done = true;
                return Some(Err(WatchError::Failed(failure)));
            }
            if let Some(observed) = &feed.observed {
                if let Some(event) = self.on_state(observed) {
                    return Some(Ok(event));
                }
                if self.done {
                    return None;
                }
            }
            if self.closed {
                self.done = true;
                return Some(Err(WatchError::Closed));
            }
            tokio::select! {
                changed = self.sub.rx.changed() => self.closed = changed.is_err(),
                _ = tokio::time::sleep_until(heartbeat_at), if self.last.is_some() => {
                    let feed = self.sub.rx.borrow().clone();
                    if let Some(observed) = feed.observed {
                        let at = feed.polled_at.unwrap_or(observed.observed_at);
                        return Some(Ok(self.event(pb::StreamSessionEventKind::Heartbeat, &observed, at, self.floor)));
                    }
                }
            }
        }
    }

    /// The event a newly seen state calls for, if any.
    fn on_state(&mut self, observed: &Arc<Observed>) -> Option<pb::StreamSessionEvent> {
        use pb::StreamSessionEventKind as Kind;
        let (kind, previous) = match (self.last, self.resume.take()) {
            (None, Some(token)) if token.fingerprint == observed.fingerprint => {
                self.floor = token.revision;
                self.last =
                    Some((observed.revision, pb::StreamSessionStatus::try_from(token.status).unwrap_or_default()));
                self.done = is_terminal(observed.status());
                return None;
            }
            (None, Some(token)) => {
                self.floor = token.revision;
                (Kind::Change, pb::StreamSessionStatus::try_from(token.status).unwrap_or_default())
            }
            (None, None) => (Kind::Snapshot, pb::StreamSessionStatus::Unspecified),
            (Some((revision, status)), _) if revision != observed.revision => (Kind::Change, status),
            (Some(_), _) => return None,
        };
        let revision = observed.revision.max(self.floor.saturating_add(1));
        self.floor = revision;
        self.last = Some((observed.revision, observed.status()));
        self.done = is_terminal(observed.status());
        let mut event = self.event(kind, observed, observed.observed_at, revision);
        event.previous_status = previous.into();
        Some(event)
    }

    fn event(
        &self,
        kind: pb::StreamSessionEventKind,
        observed: &Observed,
        at: SystemTime,
        revision: u64,
    ) -> pb::StreamSessionEvent {
        let token = ResumeToken {
            session: self.tag,
            revision,
            fingerprint: observed.fingerprint,
            status: observed.session.status,
        };
        pb::StreamSessionEvent {
            kind: kind.into(),
            stream_session: Some(observed.session.clone()),
            previous_status: self.last.map_or(0, |(_, status)| status.into()),
            observed_at: Some(timestamp(at)),
            revision: wire_revision(revision),
            resume_token: token.encode(),
        }
    }
}

/// The events of one WatchStreamSessions stream.
pub struct GroupWatch {
    sub: Subscription<GroupFeed>,
    statuses: Vec<i32>,
    heartbeat: Duration,
    /// Per session: revision and status last seen, and whether it was sent.
    seen: HashMap<String, (u64, i32, bool)>,
    queue: VecDeque<pb::StreamSessionEvent>,
    synced: bool,
    floor: u64,
    closed: bool,
    done: bool,
}

impl GroupWatch {
    /// A watch over `rx` of the sessions in one of `statuses` (all if empty).
    pub fn new(sub: Subscription<GroupFeed>, statuses: Vec<i32>, heartbeat: Duration) -> Self {
        Self {
            sub,
            statuses,
            heartbeat,
            seen: HashMap::new(),
            queue: VecDeque::new(),
            synced: false,
            floor: 0,
            closed: false,
            done: false,
        }
    }

    /// The events; the stream does not end by itself.
    pub fn into_stream(self) -> impl Stream<Item = Result<pb::StreamSessionEvent, WatchError>> + Send {
        futures_util::stream::unfold(self, |mut w| async move { w.next().await.map(|e| (e, w)) })
    }

    fn wanted(&self, status: i32) -> bool {
        self.statuses.is_empty() || self.statuses.contains(&status)
    }

    async fn next(&mut self) -> Option<Result<pb::StreamSessionEvent, WatchError>> {
        let heartbeat_at = Instant::now() + self.heartbeat;
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let feed = self.sub.rx.borrow_and_update().clone();
            if let Some(failure) = feed.failure {
                self.done = true;
                return Some(Err(WatchError::Failed(failure)));
            }
            if feed.synced {
                self.diff(&feed);
                if !self.queue.is_empty() {
                    continue;
                }
            }
            if self.closed {
                self.done = true;
                return Some(Err(WatchError::Closed));
            }
            tokio::select! {
                changed = self.sub.rx.changed() => self.closed = changed.is_err(),
                _ = tokio::time::sleep_until(heartbeat_at), if self.synced => {
                    let at = self.sub.rx.borrow().polled_at.unwrap_or_else(SystemTime::now);
                    return Some(Ok(pb::StreamSessionEvent {
                        kind: pb::StreamSessionEventKind::Heartbeat.into(),
                        observed_at: Some(timestamp(at)),
                        revision: wire_revision(self.floor),
                        ..Default::default()
                    }));
                }
            }
        }
    }

    /// Queues an event per changed session, oldest change first.
    fn diff(&mut self, feed: &GroupFeed) {
        use pb::StreamSessionEventKind as Kind;
        let kind = if self.synced { Kind::Change } else { Kind::Snapshot };
        let mut changed: Vec<(&String, &Arc<Observed>)> = feed
            .sessions
            .iter()
            .filter(|(id, o)| self.seen.get(*id).is_none_or(|(revision, _, _)| *revision != o.revision))
            .collect();
        changed.sort_by_key(|(_, o)| o.revision);
        for (id, observed) in changed {
            let status = observed.session.status;
            let (previous, was_sent) = self.seen.get(id).map_or((0, false), |(_, s, sent)| (*s, *sent));
            let send = self.wanted(status) || was_sent;
            self.seen.insert(id.clone(), (observed.revision, status, self.wanted(status)));
            if send {
                let revision = observed.revision.max(self.floor.saturating_add(1));
                self.floor = revision;
                let token =
                    ResumeToken { session: session_tag(id), revision, fingerprint: observed.fingerprint, status };
                self.queue.push_back(pb::StreamSessionEvent {
                    kind: kind.into(),
                    stream_session: Some(observed.session.clone()),
                    previous_status: if self.synced { previous } else { 0 },
                    observed_at: Some(timestamp(observed.observed_at)),
                    revision: wire_revision(revision),
                    resume_token: token.encode(),
                });
            }
        }
        self.seen.retain(|id, _| feed.sessions.contains_key(id));
        if !self.synced {
            self.synced = true;
            self.queue.push_back(pb::StreamSessionEvent {
                kind: Kind::Synced.into(),
                observed_at: feed.polled_at.map(timestamp),
                revision: wire_revision(self.floor),
                ..Default::default()
            });
        }
    }
}

/// Waits on `rx` until the session is in a state `accept` takes, it ends, it
/// cannot be read, or `until` passes.
pub async fn wait_for(
    mut sub: Subscription<SessionFeed>,
    until: Option<Instant>,
    accept: impl Fn(&pb::StreamSession) -> bool,
) -> Result<Arc<Observed>, WaitError> {
    let expire = async {
        match until {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expire);
    loop {
        let feed = sub.rx.borrow_and_update().clone();
        if let Some(failure) = feed.failure {
            return Err(WaitError::Watch(WatchError::Failed(failure)));
        }
        if let Some(observed) = &feed.observed {
            if accept(&observed.session) {
                return Ok(observed.clone());
            }
            if is_terminal(observed.status()) {
                return Err(WaitError::Ended(observed.clone()));
            }
        }
        tokio::select! {
            changed = sub.rx.changed() => {
                if changed.is_err() {
                    return Err(WaitError::Watch(WatchError::Closed));
                }
            }
            _ = &mut expire => return Err(WaitError::TimedOut(feed.observed)),
        }
    }
}
