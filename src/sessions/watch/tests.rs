//! The poller and the watch streams over a fake GameLift Streams, on tokio's
//! paused clock: what is read, when, with which operation, and what each
//! watcher sees.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_gameliftstreams::types::StreamSessionStatus as Aws;
use futures_util::{Stream, StreamExt};

use super::budget::PollBudget;
use super::stream::{GroupWatch, SessionWatch};
use super::token::ResumeToken;
use super::{View, WatchConfig, Watches};
use crate::proto::v1 as pb;
use crate::sessions::fake::{steps, throttled, FakeStreams, GROUP};

use pb::StreamSessionEventKind as Kind;
use pb::StreamSessionStatus as S;

fn watches(fake: &Arc<FakeStreams>) -> Watches {
    Watches::new(fake.clone(), WatchConfig::default(), Arc::new(PollBudget::new(0.5)))
}

fn watch(watches: &Watches, id: &str, resume: Option<ResumeToken>) -> impl Stream<Item = pb::StreamSessionEvent> {
    let sub = watches.watch_session(GROUP, id, View::Full);
    let events = SessionWatch::new(sub, id, watches.config().heartbeat, resume).into_stream();
    events.map(|e| e.expect("the watch does not fail"))
}

/// Every event but heartbeats, as (kind, status, previous status).
async fn changes(events: impl Stream<Item = pb::StreamSessionEvent>) -> Vec<(Kind, S, S)> {
    events
        .filter(|e| std::future::ready(e.kind() != Kind::Heartbeat))
        .map(|e| (e.kind(), e.stream_session.as_ref().map_or(S::Unspecified, |s| s.status()), e.previous_status()))
        .collect()
        .await
}

fn lifecycle() -> crate::sessions::fake::Lifecycle {
    steps(&[(0, Aws::Activating), (5, Aws::Active), (11, Aws::Connected), (60, Aws::Terminated)])
}

#[tokio::test(start_paused = true)]
async fn a_watcher_sees_the_whole_lifecycle_in_order_then_the_stream_ends() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", lifecycle());
    let seen = changes(watch(&watches(&fake), "ss-1", None)).await;
    assert_eq!(
        seen,
        [
            (Kind::Snapshot, S::Activating, S::Unspecified),
            (Kind::Change, S::Active, S::Activating),
            (Kind::Change, S::Connected, S::Active),
            (Kind::Change, S::Terminated, S::Connected),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn each_status_is_read_at_its_own_interval() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", lifecycle());
    changes(watch(&watches(&fake), "ss-1", None)).await;
    // ACTIVATING every second, ACTIVE every 2 s, CONNECTED every 10 s, until TERMINATED.
    assert_eq!(fake.seconds("GetStreamSession"), [0, 1, 2, 3, 4, 5, 7, 9, 11, 21, 31, 41, 51, 61]);
    assert_eq!(fake.count("ListStreamSessions"), 0, "one session is read with GetStreamSession");
}

#[tokio::test(start_paused = true)]
async fn many_known_sessions_are_read_with_one_listing_per_round() {
    let fake = FakeStreams::new(Vec::new());
    let ids = ["ss-1", "ss-2", "ss-3", "ss-4", "ss-5"];
    for id in ids {
        fake.add(id, steps(&[(0, Aws::Activating)]));
    }
    let watches = watches(&fake);
    let _subscriptions: Vec<_> = ids.iter().map(|id| watches.watch_session(GROUP, id, View::Full)).collect();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let calls = fake.calls();
    assert_eq!(calls[..5], ["GetStreamSession"; 5], "the first read of each session is a GetStreamSession");
    assert_eq!(calls[5..], ["ListStreamSessions"; 3], "then one listing a second for all five");
    assert_eq!(fake.seconds("ListStreamSessions"), [1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_stalled_watcher_delays_neither_the_poller_nor_another_watcher() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", lifecycle());
    let watches = watches(&fake);
    let stalled = watch(&watches, "ss-1", None);
    let seen = changes(watch(&watches, "ss-1", None)).await;
    assert_eq!(seen.len(), 4, "the reading watcher saw every state: {seen:?}");
    assert_eq!(fake.seconds("GetStreamSession").last(), Some(&61), "the poller kept its schedule");
    let late = changes(stalled).await;
    assert_eq!(late, [(Kind::Snapshot, S::Terminated, S::Unspecified)], "the stalled one gets the latest state");
}

#[tokio::test(start_paused = true)]
async fn a_resumed_watch_starts_with_what_changed_since_its_token() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", lifecycle());
    let watches = watches(&fake);
    let mut first = Box::pin(watch(&watches, "ss-1", None));
    let snapshot = first.next().await.expect("a snapshot");
    drop(first);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let token = ResumeToken::decode(&snapshot.resume_token).expect("a token").expect("not empty");
    let mut resumed = Box::pin(watch(&watches, "ss-1", Some(token)));
    let next = resumed.next().await.expect("an event");
    assert_eq!((next.kind(), next.previous_status()), (Kind::Change, S::Activating));
    assert_eq!(next.stream_session.expect("the session").status(), S::Active);
    assert!(next.revision > snapshot.revision, "{} after {}", next.revision, snapshot.revision);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_read_is_retried_a_fast_interval_later_without_ending_the_watch() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", steps(&[(0, Aws::Active), (3, Aws::Terminated)]));
    fake.fail_next("GetStreamSession", 2, throttled);
    let seen = changes(watch(&watches(&fake), "ss-1", None)).await;
    assert_eq!(seen, [(Kind::Snapshot, S::Active, S::Unspecified), (Kind::Change, S::Terminated, S::Active)]);
    assert_eq!(fake.seconds("GetStreamSession"), [0, 1, 2, 4]);
}

#[tokio::test(start_paused = true)]
async fn a_group_watch_lists_the_group_sends_a_snapshot_then_synced_then_changes() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", steps(&[(0, Aws::Activating), (3, Aws::Active)]));
    fake.add("ss-2", steps(&[(0, Aws::Activating), (5, Aws::Terminated)]));
    let watches = watches(&fake);
    let sub = watches.watch_group(GROUP, View::Basic);
    let events = GroupWatch::new(sub, Vec::new(), watches.config().heartbeat).into_stream();
    let events = events.map(|e| e.expect("the watch does not fail"));
    let arn_and_change = |e: pb::StreamSessionEvent| {
        let session = e
            .stream_session
            .as_ref()
            .map_or(String::new(), |s| s.arn.rsplit('/').next().unwrap_or_default().to_string());
        (e.kind(), session, e.stream_session.as_ref().map_or(S::Unspecified, |s| s.status()), e.previous_status())
    };
    let mut seen: Vec<_> =
        events.filter(|e| std::future::ready(e.kind() != Kind::Heartbeat)).take(5).map(arn_and_change).collect().await;
    seen[..2].sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        seen,
        [
            (Kind::Snapshot, "ss-1".to_string(), S::Activating, S::Unspecified),
            (Kind::Snapshot, "ss-2".to_string(), S::Activating, S::Unspecified),
            (Kind::Synced, String::new(), S::Unspecified, S::Unspecified),
            (Kind::Change, "ss-1".to_string(), S::Active, S::Activating),
            (Kind::Change, "ss-2".to_string(), S::Terminated, S::Activating),
        ]
    );
    assert_eq!(fake.seconds("ListStreamSessions"), [0, 1, 2, 3, 4, 5], "every second while one is ACTIVATING");
    assert_eq!(fake.count("GetStreamSession"), 0, "a group watch needs no GetStreamSession");
}

/// Poll results shared in memory, as Redis shares them between processes:
/// fresh for the interval their reader set, one fetch lease per read; a new
/// result of a session is pushed to the processes in `pushed_to`.
#[derive(Default)]
struct Memory {
    results:
        std::sync::Mutex<std::collections::HashMap<String, (tokio::time::Instant, Duration, super::shared::Shared)>>,
    leases: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    pushed_to: std::sync::Mutex<Vec<Watches>>,
}

struct MemoryTicket {
    name: String,
    group: String,
    session: Option<String>,
    results: Arc<Memory>,
}

impl super::shared::Ticket for MemoryTicket {
    fn store(self: Box<Self>, bytes: bytes::Bytes, read_at: std::time::SystemTime, fresh_for: Duration) {
        let at = tokio::time::Instant::now();
        let result = super::shared::Shared { bytes, read_at };
        let before =
            crate::sync::lock(&self.results.results).insert(self.name.clone(), (at, fresh_for, result.clone()));
        if let Some(session) =
            self.session.as_deref().filter(|_| before.is_none_or(|(_, _, b)| b.bytes != result.bytes))
        {
            for watches in crate::sync::lock(&self.results.pushed_to).iter() {
                watches.changed(&self.group, super::shared::Read::Session(session));
            }
        }
    }
}

impl Drop for MemoryTicket {
    fn drop(&mut self) {
        crate::sync::lock(&self.results.leases).remove(&self.name);
    }
}

/// One process's view of the shared memory.
struct Shared(Arc<Memory>);

impl super::shared::PollResults for Shared {
    fn look(
        &self,
        group: &str,
        read: super::shared::Read<'_>,
        force: bool,
    ) -> crate::sessions::Soon<'_, super::shared::Look> {
        use super::shared::Look;
        let name = format!("{group}/{read:?}");
        let known = crate::sync::lock(&self.0.results).get(&name).cloned();
        let look = match known {
            Some((at, fresh, result)) if at.elapsed() < fresh && !force => Look::Fresh(result),
            known if crate::sync::lock(&self.0.leases).insert(name.clone()) || force => {
                drop(known);
                let session = match read {
                    super::shared::Read::Session(id) => Some(id.to_string()),
                    super::shared::Read::Page(_) | super::shared::Read::Stage(_) => None,
                };
                let results = self.0.clone();
                Look::Fetch(Box::new(MemoryTicket { name, group: group.to_string(), session, results }))
            }
            known => Look::Busy(known.map(|(_, _, result)| result)),
        };
        crate::sessions::at_once(look)
    }
}

#[tokio::test(start_paused = true)]
async fn two_processes_sharing_poll_results_read_upstream_as_one_and_both_see_everything() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", lifecycle());
    let memory = Arc::new(Memory::default());
    let sharing = || {
        let shared = Arc::new(Shared(memory.clone()));
        Watches::sharing(fake.clone(), WatchConfig::default(), Arc::new(PollBudget::new(0.5)), shared)
    };
    let (first, second) = (sharing(), sharing());
    let (a, b) = tokio::join!(changes(watch(&first, "ss-1", None)), changes(watch(&second, "ss-1", None)));
    let whole = [
        (Kind::Snapshot, S::Activating, S::Unspecified),
        (Kind::Change, S::Active, S::Activating),
        (Kind::Change, S::Connected, S::Active),
        (Kind::Change, S::Terminated, S::Connected),
    ];
    assert_eq!((a.as_slice(), b.as_slice()), (&whole[..], &whole[..]));
    let alone = FakeStreams::new(Vec::new());
    alone.add("ss-1", lifecycle());
    changes(watch(&watches(&alone), "ss-1", None)).await;
    assert_eq!(fake.seconds("GetStreamSession"), alone.seconds("GetStreamSession"), "the same reads as one process");
}

#[tokio::test(start_paused = true)]
async fn after_a_refresh_the_next_read_goes_upstream_though_the_shared_result_is_fresh() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", steps(&[(0, Aws::Active), (1, Aws::Connected), (5, Aws::Terminated)]));
    let shared = Arc::new(Shared(Arc::new(Memory::default())));
    let watches = Watches::sharing(fake.clone(), WatchConfig::default(), Arc::new(PollBudget::new(0.5)), shared);
    let refresh = async {
        tokio::time::sleep(Duration::from_secs(6)).await;
        watches.refresh(GROUP, "ss-1");
    };
    let (seen, ()) = tokio::join!(changes(watch(&watches, "ss-1", None)), refresh);
    assert_eq!(seen.last().map(|change| change.1), Some(S::Terminated));
    // CONNECTED, read at 2 s, is fresh in the shared results until 12 s.
    assert_eq!(fake.seconds("GetStreamSession"), [0, 2, 6], "the refresh read upstream at once");
}

/// Poll results that answer one look at a listing page, from `from` on, with
/// a stale page another poller is said to be fetching (a sidecar paused past
/// its lease, or a Redis restored from an old dump): `page`, read long ago.
struct StaleOnce {
    from: tokio::time::Instant,
    page: pb::ListStreamSessionsResponse,
    answered: std::sync::atomic::AtomicBool,
}

impl super::shared::PollResults for StaleOnce {
    fn look(&self, _: &str, _: super::shared::Read<'_>, force: bool) -> crate::sessions::Soon<'_, super::shared::Look> {
        use super::shared::{Look, Shared};
        use std::sync::atomic::Ordering;
        let due = !force && tokio::time::Instant::now() >= self.from;
        if due && !self.answered.swap(true, Ordering::SeqCst) {
            let read_at = std::time::SystemTime::now() - Duration::from_secs(3600);
            let bytes = prost::Message::encode_to_vec(&self.page).into();
            return crate::sessions::at_once(Look::Busy(Some(Shared { bytes, read_at })));
        }
        crate::sessions::at_once(Look::unshared())
    }
}

#[tokio::test(start_paused = true)]
async fn a_stale_shared_listing_never_takes_a_group_watcher_backwards() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", steps(&[(0, Aws::Active), (3, Aws::Terminated)]));
    let arn = "arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/sg-1/ss-1".to_string();
    let updated = prost_types::Timestamp { seconds: crate::sessions::fake::UPDATED_BASE as i64, nanos: 0 };
    let active = pb::StreamSession {
        arn,
        status: S::Active.into(),
        last_updated_at: Some(updated),
        stream_group_id: GROUP.into(),
        ..Default::default()
    };
    let page = pb::ListStreamSessionsResponse { stream_sessions: vec![active], next_page_token: String::new() };
    let from = tokio::time::Instant::now() + Duration::from_secs(5);
    let stale = Arc::new(StaleOnce { from, page, answered: false.into() });
    let watches = Watches::sharing(fake.clone(), WatchConfig::default(), Arc::new(PollBudget::new(0.5)), stale.clone());
    let sub = watches.watch_group(GROUP, View::Basic);
    let events = GroupWatch::new(sub, Vec::new(), watches.config().heartbeat).into_stream();
    let statuses = events
        .map(|e| e.expect("the watch does not fail"))
        .filter(|e| std::future::ready(e.kind() != Kind::Heartbeat && e.kind() != Kind::Synced))
        .map(|e| e.stream_session.map_or(S::Unspecified, |s| s.status()))
        .take_until(tokio::time::sleep(Duration::from_secs(12)))
        .collect::<Vec<_>>()
        .await;
    assert!(stale.answered.load(std::sync::atomic::Ordering::SeqCst), "the stale page was offered");
    assert_eq!(statuses, [S::Active, S::Terminated], "the stale ACTIVE page was not published after TERMINATED");
}

#[tokio::test(start_paused = true)]
async fn an_answer_a_later_read_superseded_is_no_later_watchs_snapshot() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", steps(&[(0, Aws::Terminated)]));
    let watches = watches(&fake);
    // A call answered CONNECTED (fresh for the 10 s of CONNECTED); the
    // session ended right after, and a forced read sees it TERMINATED.
    let arn = format!("arn:aws:gameliftstreams:us-west-2:000000000000:streamsession/{GROUP}/ss-1");
    watches.answered(GROUP, &pb::StreamSession { arn, status: S::Connected.into(), ..Default::default() });
    let refresh = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        watches.refresh(GROUP, "ss-1");
    };
    let (first, ()) = tokio::join!(changes(watch(&watches, "ss-1", None)), refresh);
    assert_eq!(first, [(Kind::Snapshot, S::Connected, S::Unspecified), (Kind::Change, S::Terminated, S::Connected)]);
    let second = changes(watch(&watches, "ss-1", None)).await;
    assert_eq!(second, [(Kind::Snapshot, S::Terminated, S::Unspecified)], "not the CONNECTED answered before");
}

/// Watches over `fake` paced at AWS's limits, polls uncapped (as served).
fn at_the_quota(fake: &Arc<FakeStreams>) -> Watches {
    let paced = crate::sessions::fake::Paced::new(fake.clone());
    Watches::new(paced, WatchConfig::default(), Arc::new(PollBudget::new(1.0)))
}

/// `n` ACTIVE sessions, `ss-0001`…, each answering its own signal response.
fn active_sessions(fake: &FakeStreams, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| {
            let id = format!("ss-{i:04}");
            fake.add(&id, steps(&[(0, Aws::Active)]));
            fake.answer_signal(&id, &format!("answer-{id}"));
            id
        })
        .collect()
}

/// When each of `ids` got its first event, watched in `view` all at once,
/// spread over `groups` stream groups (a poller each).
async fn first_events(
    watches: &Watches,
    ids: &[String],
    view: View,
    groups: usize,
) -> Vec<(Duration, pb::StreamSession)> {
    let start = tokio::time::Instant::now();
    let watchers = ids.iter().enumerate().map(|(i, id)| {
        let group = if groups == 1 { GROUP.to_string() } else { format!("sg-{}", i % groups + 1) };
        let sub = watches.watch_session(&group, id, view);
        let mut events = Box::pin(SessionWatch::new(sub, id, watches.config().heartbeat, None).into_stream());
        async move {
            let event = events.next().await.expect("an event").expect("no failure");
            (tokio::time::Instant::now() - start, event.stream_session.expect("a session"))
        }
    });
    futures_util::future::join_all(watchers).await
}

#[tokio::test(start_paused = true)]
async fn five_hundred_basic_watchers_have_their_first_event_after_five_pages() {
    let fake = FakeStreams::new(Vec::new());
    let ids = active_sessions(&fake, 500);
    let firsts = first_events(&at_the_quota(&fake), &ids, View::Basic, 1).await;
    let last = firsts.iter().map(|(at, _)| *at).max().expect("500");
    // 5 pages at 20/s: the optimum is 250 ms (the last page goes at 200 ms).
    let bound = Duration::from_secs_f64(1.2 * 5.0 / 20.0) + Duration::from_millis(100);
    assert!(last <= bound, "the last first event after {last:?} (bound {bound:?})");
    assert_eq!(fake.count("ListStreamSessions"), 5);
    assert_eq!(fake.count("GetStreamSession"), 0, "BASIC never costs a GetStreamSession");
    let (_, session) = &firsts[0];
    assert_eq!(session.status(), S::Active);
    assert!(session.signal_response.is_empty(), "BASIC sets the summary's members only");
}

#[tokio::test(start_paused = true)]
async fn five_hundred_full_watchers_read_at_the_whole_quota_while_a_caller_waits_one_slot_at_most() {
    let fake = FakeStreams::new(Vec::new());
    let ids = active_sessions(&fake, 500);
    let paced = crate::sessions::fake::Paced::new(fake.clone());
    let watches = Watches::new(paced.clone(), WatchConfig::default(), Arc::new(PollBudget::new(1.0)));
    let read = |id: &'static str| {
        let paced = paced.clone();
        async move {
            let asked = tokio::time::Instant::now();
            let input = aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionInput::builder()
                .identifier(GROUP)
                .stream_session_identifier(id);
            let by = crate::sessions::Call::By(Some(asked + Duration::from_secs(5)));
            crate::sessions::GameLiftStreams::get_stream_session(&*paced, input, by).await.expect("read");
            tokio::time::Instant::now() - asked
        }
    };
    // Ten callers at once 10 s into the storm, one more a second later.
    let callers = async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let burst = futures_util::future::join_all((0..10).map(|_| read("ss-0001"))).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        (burst, read("ss-0002").await)
    };
    // Ten stream groups: ten pollers, each with a poll waiting for a slot.
    let (firsts, (mut burst, waited)) = tokio::join!(first_events(&watches, &ids, View::Full, 10), callers);
    let last = firsts.iter().map(|(at, _)| *at).max().expect("500");
    assert!(last <= Duration::from_secs(30), "the last first event after {last:?} (1.2 × 500/20 s = 30 s)");
    assert!(firsts.iter().all(|(_, s)| s.signal_response.starts_with("answer-")), "FULL carries the signal response");
    burst.sort();
    let slot = Duration::from_millis(50);
    for (k, wait) in burst.iter().enumerate() {
        assert!(*wait <= slot * (k as u32 + 2), "caller {k} of the burst waited {wait:?}");
    }
    assert!(waited <= 2 * slot, "a caller after the burst waited {waited:?}: polls went before it");
    assert_eq!(fake.count("GetStreamSession"), 511, "one read per session, and the callers'");
}

#[tokio::test(start_paused = true)]
async fn two_processes_at_one_quota_read_each_session_once_for_their_full_watchers() {
    let fake = FakeStreams::new(Vec::new());
    let ids = active_sessions(&fake, 200);
    let paced = crate::sessions::fake::Paced::new(fake.clone());
    let memory = Arc::new(Memory::default());
    let sharing = || {
        let shared = Arc::new(Shared(memory.clone()));
        Watches::sharing(paced.clone(), WatchConfig::default(), Arc::new(PollBudget::new(1.0)), shared)
    };
    let (a, b) = (sharing(), sharing());
    crate::sync::lock(&memory.pushed_to).extend([a.clone(), b.clone()]);
    let (first, second) = tokio::join!(first_events(&a, &ids, View::Full, 1), first_events(&b, &ids, View::Full, 1));
    // Results are fresh for 2 s (ACTIVE) and the 200 reads take 10 s: each
    // process reads what the other stored as soon as it is pushed.
    assert_eq!(fake.count("GetStreamSession"), 200, "one read per session for both processes");
    let last = first.iter().chain(&second).map(|(at, _)| *at).max().expect("400");
    assert!(last <= Duration::from_secs(12), "the last first event after {last:?} (1.2 × 200/20 s = 12 s)");
    assert!(second.iter().all(|(_, s)| s.signal_response.starts_with("answer-")), "FULL carries the signal response");
}

#[tokio::test(start_paused = true)]
async fn a_basic_group_watch_of_a_thousand_sessions_is_synced_after_its_ten_pages() {
    let fake = FakeStreams::new(Vec::new());
    active_sessions(&fake, 1000);
    let watches = at_the_quota(&fake);
    let start = tokio::time::Instant::now();
    let sub = watches.watch_group(GROUP, View::Basic);
    let events = GroupWatch::new(sub, Vec::new(), watches.config().heartbeat).into_stream();
    let snapshots: Vec<_> = events
        .map(|e| e.expect("no failure"))
        .take_while(|e| std::future::ready(e.kind() != Kind::Synced))
        .collect()
        .await;
    let synced = tokio::time::Instant::now() - start;
    let bound = Duration::from_secs_f64(1.2 * 10.0 / 20.0) + Duration::from_millis(100);
    assert!(synced <= bound, "SYNCED after {synced:?} (bound {bound:?})");
    assert_eq!(snapshots.len(), 1000);
    assert_eq!(fake.count("GetStreamSession"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_group_watch_carries_each_sessions_full_state_and_its_end() {
    let fake = FakeStreams::new(Vec::new());
    fake.add("ss-1", steps(&[(0, Aws::Active), (5, Aws::Terminated)]));
    fake.answer_signal("ss-1", "answer-1");
    fake.add("ss-2", steps(&[(0, Aws::Connected)]));
    let watches = at_the_quota(&fake);
    let sub = watches.watch_group(GROUP, View::Full);
    let events = GroupWatch::new(sub, Vec::new(), watches.config().heartbeat).into_stream();
    let seen: Vec<_> = events
        .map(|e| e.expect("no failure"))
        .filter(|e| std::future::ready(e.kind() != Kind::Heartbeat))
        .take_until(tokio::time::sleep(Duration::from_secs(12)))
        .map(|e| {
            let kind = e.kind();
            let s = e.stream_session.unwrap_or_default();
            (kind, s.arn.rsplit('/').next().unwrap_or_default().to_string(), s.status(), s.signal_response)
        })
        .collect()
        .await;
    let answer = String::from("answer-1");
    assert_eq!(
        seen,
        [
            (Kind::Snapshot, "ss-1".into(), S::Active, answer.clone()),
            (Kind::Snapshot, "ss-2".into(), S::Connected, String::new()),
            (Kind::Synced, String::new(), S::Unspecified, String::new()),
            (Kind::Change, "ss-1".into(), S::Terminated, answer),
        ]
    );
    assert_eq!(fake.count("GetStreamSession"), 2, "each session read once in full; later changes from listings");
}

#[tokio::test(start_paused = true)]
async fn a_basic_watch_of_a_session_no_listing_shows_ends_with_not_found_without_a_read() {
    let fake = FakeStreams::new(Vec::new());
    let watches = at_the_quota(&fake);
    let sub = watches.watch_session(GROUP, "ss-404", View::Basic);
    let mut events = Box::pin(SessionWatch::new(sub, "ss-404", watches.config().heartbeat, None).into_stream());
    let ended = events.next().await.expect("an end");
    assert!(ended.is_err(), "NOT_FOUND");
    assert_eq!((fake.count("ListStreamSessions"), fake.count("GetStreamSession")), (2, 0));
}
