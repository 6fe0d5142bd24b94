//! The stage watches on tokio's paused clock over a fake stage: one poller
//! for every watcher, each join and leave reported even between two rounds,
//! errors found by the sweep, nothing from before the watch, slow watchers
//! caught up with a snapshot, and the stage read only when it must be.

use std::collections::{BTreeMap, HashMap};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use prost_types::Timestamp;

use super::{StageWatchConfig, StageWatches, BACKLOG};
use crate::proto::ivs as pb;
use crate::sessions::resilience::GiveUp;
use crate::sessions::watch::stream::WatchError;
use crate::sessions::{CallFailure, SessionError, UpstreamKind};
use crate::stages::StageReads;
use crate::sync::lock;

use pb::ParticipantEventName as Name;
use pb::StageParticipantEventKind as Kind;

const STAGE: &str = "arn:aws:ivs:us-west-2:111122223333:stage/abcd1234";

#[derive(Default)]
struct World {
    gone: bool,
    /// ListParticipantEvents fails (throttled, say).
    events_fail: bool,
    /// The stage's sessions, oldest first.
    sessions: Vec<Session>,
    events: HashMap<String, Vec<pb::ParticipantEvent>>,
    clock: i64,
    calls: HashMap<&'static str, u32>,
}

struct Session {
    id: String,
    start: i64,
    end: Option<i64>,
    participants: BTreeMap<String, pb::Participant>,
}

fn connected(p: &pb::Participant) -> bool {
    p.state() == pb::ParticipantState::Connected
}

/// A stage as IVS Real-Time would answer it: a session begins with the
/// first join and ends when its last participant leaves.
#[derive(Default)]
struct FakeStage(Mutex<World>);

impl FakeStage {
    fn count(&self, op: &'static str) -> u32 {
        lock(&self.0).calls.get(op).copied().unwrap_or(0)
    }

    /// Participant `id` does `name`: its summary and its events follow.
    fn act(&self, id: &str, name: Name) {
        let mut w = lock(&self.0);
        w.clock += 1;
        let clock = w.clock;
        if w.sessions.last().is_none_or(|s| s.end.is_some()) {
            let id = format!("st-{:013}", w.sessions.len());
            w.sessions.push(Session { id, start: clock, end: None, participants: BTreeMap::new() });
        }
        let session = w.sessions.last_mut().expect("a session");
        let p = session.participants.entry(id.into()).or_insert_with(|| pb::Participant {
            participant_id: id.into(),
            user_id: format!("user-{id}"),
            ..Default::default()
        });
        match name {
            Name::Joined => p.state = pb::ParticipantState::Connected.into(),
            Name::Left => p.state = pb::ParticipantState::Disconnected.into(),
            // As AWS documents `published`: whether it ever published.
            Name::PublishStarted => p.published = true,
            _ => {}
        }
        if !session.participants.values().any(connected) {
            session.end = Some(clock);
        }
        let code = if name == Name::PublishError {
            pb::ParticipantEventErrorCode::BitrateExceeded
        } else {
            Default::default()
        };
        let event = pb::ParticipantEvent {
            name: name.into(),
            participant_id: id.into(),
            event_time: Some(Timestamp { seconds: clock, nanos: 0 }),
            error_code: code.into(),
            ..Default::default()
        };
        w.events.entry(id.into()).or_default().push(event);
    }

    /// IVS records `name` for `id` before its summary shows it.
    fn record_only(&self, id: &str, name: Name) {
        let mut w = lock(&self.0);
        w.clock += 1;
        let event = pb::ParticipantEvent {
            name: name.into(),
            participant_id: id.into(),
            event_time: time(w.clock),
            ..Default::default()
        };
        w.events.entry(id.into()).or_default().push(event);
    }

    /// The summary of `id` shows it publishing at last.
    fn show_published(&self, id: &str) {
        let mut w = lock(&self.0);
        let session = w.sessions.last_mut().expect("a session");
        session.participants.get_mut(id).expect("the participant").published = true;
    }

    fn call(&self, op: &'static str) -> Result<(), CallFailure> {
        let mut w = lock(&self.0);
        *w.calls.entry(op).or_default() += 1;
        if w.gone {
            let error = SessionError::Upstream {
                kind: UpstreamKind::NotFound,
                code: "ResourceNotFoundException".into(),
                message: "no stage".into(),
                request_id: None,
            };
            return Err(CallFailure { error, attempts: 1, gave_up: GiveUp::NotRetryable, retry_after: None });
        }
        Ok(())
    }
}

fn time(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

impl StageReads for FakeStage {
    fn active_session(&self, _: &str) -> BoxFuture<'_, Result<String, CallFailure>> {
        let answer = self.call("GetStage").map(|()| {
            let w = lock(&self.0);
            w.sessions.last().filter(|s| s.end.is_none()).map(|s| s.id.clone()).unwrap_or_default()
        });
        Box::pin(async move { answer })
    }

    fn sessions(&self, _: &str) -> BoxFuture<'_, Result<Vec<pb::StageSession>, CallFailure>> {
        let answer = self.call("ListStageSessions").map(|()| {
            let w = lock(&self.0);
            let newest_first = w.sessions.iter().rev();
            newest_first
                .map(|s| pb::StageSession {
                    session_id: s.id.clone(),
                    start_time: time(s.start),
                    end_time: s.end.and_then(time),
                })
                .collect()
        });
        Box::pin(async move { answer })
    }

    fn participants<'a>(
        &'a self,
        _: &'a str,
        session: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<(Vec<pb::Participant>, String), CallFailure>> {
        let answer = self.call("ListParticipants").map(|()| {
            let w = lock(&self.0);
            let of = w.sessions.iter().find(|s| s.id == session);
            (of.map(|s| s.participants.values().cloned().collect()).unwrap_or_default(), String::new())
        });
        Box::pin(async move { answer })
    }

    fn events<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        participant: &'a str,
    ) -> BoxFuture<'a, Result<Vec<pb::ParticipantEvent>, CallFailure>> {
        let answer = self.call("ListParticipantEvents").and_then(|()| {
            let w = lock(&self.0);
            if w.events_fail {
                let error = SessionError::RateLimited;
                return Err(CallFailure { error, attempts: 1, gave_up: GiveUp::Deadline, retry_after: None });
            }
            Ok(w.events.get(participant).cloned().unwrap_or_default())
        });
        Box::pin(async move { answer })
    }
}

const ROUND: Duration = Duration::from_secs(1);

fn watches(stage: &Arc<FakeStage>) -> StageWatches {
    let config = StageWatchConfig { interval: ROUND, idle_interval: ROUND, heartbeat: Duration::from_secs(15) };
    StageWatches::new(stage.clone(), config)
}

type Events = std::pin::Pin<Box<dyn Stream<Item = Result<pb::StageParticipantEvent, WatchError>> + Send>>;

fn watch(w: &StageWatches) -> Events {
    Box::pin(w.watch(STAGE))
}

async fn next(events: &mut Events) -> pb::StageParticipantEvent {
    let next = tokio::time::timeout(Duration::from_secs(60), events.next()).await.expect("an event in time");
    next.expect("open").expect("no error")
}

/// The next CHANGE: what happened, to whom.
async fn change(events: &mut Events) -> (Name, String) {
    let event = next(events).await;
    assert_eq!(event.kind(), Kind::Change, "{event:?}");
    (event.participant_event.expect("what").name(), event.participant.expect("who").participant_id)
}

#[tokio::test(start_paused = true)]
async fn one_poller_serves_every_watcher_and_stops_with_the_last() {
    let stage = Arc::new(FakeStage::default());
    stage.act("p1", Name::Joined);
    let w = watches(&stage);
    let mut all: Vec<Events> = (0..3).map(|_| watch(&w)).collect();
    for events in &mut all {
        assert_eq!(next(events).await.kind(), Kind::Snapshot);
        assert_eq!(next(events).await.kind(), Kind::Synced);
    }
    assert_eq!(w.pollers(), 1);
    stage.act("p2", Name::Joined);
    for events in &mut all {
        assert_eq!(change(events).await, (Name::Joined, "p2".into()));
    }
    let lists = stage.count("ListParticipants");
    assert_eq!(lists, 2, "one listing a round, whatever the number of watchers");
    drop(all);
    tokio::time::sleep(ROUND * 2).await;
    assert_eq!(w.pollers(), 0, "the poller stopped with its last watcher");
    let after = stage.count("ListParticipants");
    tokio::time::sleep(ROUND * 5).await;
    assert_eq!(stage.count("ListParticipants"), after, "nothing is read for nobody");
}

#[tokio::test(start_paused = true)]
async fn a_join_and_a_leave_between_two_rounds_are_both_reported() {
    let stage = Arc::new(FakeStage::default());
    stage.act("host", Name::Joined);
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Snapshot);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced);
    stage.act("guest", Name::Joined);
    stage.act("guest", Name::PublishStarted);
    stage.act("guest", Name::Left);
    let seen = [change(&mut events).await, change(&mut events).await, change(&mut events).await];
    let names: Vec<Name> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, [Name::Joined, Name::PublishStarted, Name::Left], "IVS's events, in their order");
    assert!(seen.iter().all(|(_, who)| who == "guest"));
}

#[tokio::test(start_paused = true)]
async fn a_session_that_begins_and_ends_between_two_rounds_is_told() {
    let stage = Arc::new(FakeStage::default());
    stage.act("early", Name::Joined);
    stage.act("early", Name::Left);
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced, "a past session is not news");
    stage.act("quick", Name::Joined);
    stage.act("quick", Name::Left);
    stage.act("next", Name::Joined);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = next(&mut events).await;
        assert_eq!(event.kind(), Kind::Change);
        seen.push((
            event.session_id,
            event.participant_event.expect("what").name(),
            event.participant.expect("who").participant_id,
        ));
    }
    let quick_session = seen[0].0.clone();
    assert_eq!(
        seen,
        [
            (quick_session.clone(), Name::Joined, "quick".to_string()),
            (quick_session.clone(), Name::Left, "quick".to_string()),
            (seen[2].0.clone(), Name::Joined, "next".to_string()),
        ]
    );
    assert_ne!(seen[2].0, quick_session, "the next session is another one");
}

#[tokio::test(start_paused = true)]
async fn what_a_participant_did_before_the_watch_is_not_news_and_later_errors_are() {
    let stage = Arc::new(FakeStage::default());
    stage.act("a", Name::Joined);
    stage.act("a", Name::PublishStarted);
    stage.act("a", Name::PublishError);
    stage.act("b", Name::Joined);
    let w = watches(&stage);
    let mut events = watch(&w);
    for _ in 0..2 {
        assert_eq!(next(&mut events).await.kind(), Kind::Snapshot);
    }
    assert_eq!(next(&mut events).await.kind(), Kind::Synced);
    // Both participants' pasts are read by the sweep (one a round), and told
    // to nobody.
    tokio::time::sleep(ROUND * 3).await;
    assert!(stage.count("ListParticipantEvents") >= 2);
    // An error changes nothing in a summary: the sweep finds it.
    stage.act("b", Name::PublishError);
    let event = next(&mut events).await;
    let what = event.participant_event.expect("what");
    assert_eq!((what.name(), what.participant_id.as_str()), (Name::PublishError, "b"));
    assert_eq!(what.error_code(), pb::ParticipantEventErrorCode::BitrateExceeded);
}

#[tokio::test(start_paused = true)]
async fn the_stage_is_read_only_while_nobody_is_on_it() {
    let stage = Arc::new(FakeStage::default());
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced, "nobody on the stage");
    stage.act("p", Name::Joined);
    assert_eq!(change(&mut events).await, (Name::Joined, "p".into()));
    let reads = (stage.count("GetStage"), stage.count("ListStageSessions"));
    tokio::time::sleep(ROUND * 10).await;
    let now = (stage.count("GetStage"), stage.count("ListStageSessions"));
    assert_eq!(now, reads, "the session is known while someone is on it");
    stage.act("p", Name::Left);
    assert_eq!(change(&mut events).await, (Name::Left, "p".into()));
    tokio::time::sleep(ROUND * 10).await;
    let idle = (stage.count("GetStage") - reads.0, stage.count("ListStageSessions") - reads.1);
    assert!(idle.1 >= 9, "an empty stage's sessions are read each round: {idle:?}");
    assert!((1..=3).contains(&idle.0), "the stage itself every fifth round: {idle:?}");
}

#[tokio::test(start_paused = true)]
async fn a_watcher_that_falls_behind_is_sent_the_stage_again() {
    let stage = Arc::new(FakeStage::default());
    let w = watches(&stage);
    let mut slow = watch(&w);
    assert_eq!(next(&mut slow).await.kind(), Kind::Synced);
    let mut fast = watch(&w);
    assert_eq!(next(&mut fast).await.kind(), Kind::Synced);
    // Joins a hundred a round: a watcher that reads keeps up; one that does
    // not falls more than BACKLOG events behind.
    let crowd = BACKLOG + 100 - BACKLOG % 100;
    for batch in 0..crowd / 100 {
        for i in 0..100 {
            stage.act(&format!("p{batch:03}-{i:03}"), Name::Joined);
        }
        for _ in 0..100 {
            assert_eq!(change(&mut fast).await.0, Name::Joined);
        }
    }
    let mut kinds = BTreeMap::new();
    loop {
        let event = next(&mut slow).await;
        *kinds.entry(event.kind).or_insert(0) += 1;
        if event.kind() == Kind::Synced {
            break;
        }
    }
    assert_eq!(kinds.get(&Kind::Snapshot.into()), Some(&crowd), "every participant, once: {kinds:?}");
    assert_eq!(kinds.get(&Kind::Change.into()), None, "{kinds:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stage_that_is_deleted_ends_its_watches_with_its_failure() {
    let stage = Arc::new(FakeStage::default());
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced);
    lock(&stage.0).gone = true;
    let end = tokio::time::timeout(Duration::from_secs(60), events.next()).await.expect("in time").expect("an item");
    assert!(matches!(end, Err(WatchError::Failed(ref f)) if crate::stages::is_not_found(f)), "{end:?}");
    assert!(pin!(events).next().await.is_none(), "then the stream ends");
    assert_eq!(w.pollers(), 0);
}

#[tokio::test(start_paused = true)]
async fn closing_ends_every_watch_with_watch_closed() {
    let stage = Arc::new(FakeStage::default());
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced);
    w.close();
    let end = events.next().await.expect("an item");
    assert!(matches!(end, Err(WatchError::Closed)), "{end:?}");
    assert_eq!(w.pollers(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_change_told_by_inference_is_not_told_again_when_its_event_is_read() {
    let stage = Arc::new(FakeStage::default());
    stage.act("host", Name::Joined);
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Snapshot);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced);
    lock(&stage.0).events_fail = true;
    stage.act("guest", Name::Joined);
    let told = next(&mut events).await;
    let what = told.participant_event.expect("what");
    assert_eq!((what.name(), what.participant_id.as_str()), (Name::Joined, "guest"));
    assert_eq!(what.event_time, told.observed_at, "inferred: the time it was read");
    lock(&stage.0).events_fail = false;
    // The sweep reads guest's events (JOINED is among them): nothing new.
    tokio::time::sleep(ROUND * 4).await;
    stage.act("guest", Name::Left);
    let next_change = change(&mut events).await;
    assert_eq!(next_change, (Name::Left, "guest".into()), "JOINED was not told twice");
}

#[tokio::test(start_paused = true)]
async fn an_event_read_before_the_summary_shows_it_is_not_told_again_when_it_does() {
    let stage = Arc::new(FakeStage::default());
    stage.act("host", Name::Joined);
    let w = watches(&stage);
    let mut events = watch(&w);
    assert_eq!(next(&mut events).await.kind(), Kind::Snapshot);
    assert_eq!(next(&mut events).await.kind(), Kind::Synced);
    tokio::time::sleep(ROUND * 3).await;
    stage.record_only("host", Name::PublishStarted);
    assert_eq!(change(&mut events).await, (Name::PublishStarted, "host".into()), "found by the sweep");
    stage.show_published("host");
    tokio::time::sleep(ROUND * 3).await;
    stage.act("host", Name::Left);
    assert_eq!(change(&mut events).await, (Name::Left, "host".into()), "PUBLISH_STARTED was not told twice");
}
