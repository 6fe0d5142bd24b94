//! The poller of one stream group. Each round it reads what is due: a few
//! sessions with GetStreamSession, or the whole group with ListStreamSessions
//! pages (100 sessions a call) when that is cheaper or the group itself is
//! watched, and then GetStreamSession only for the sessions whose summary
//! shows a change a summary cannot carry (a new signal response). Every call
//! waits for a poll slot, one attempt each: the next round is the retry. A
//! read still fresh in the shared results (another process's poller made
//! it) is taken from there, and goes nowhere upstream. Nothing older than
//! what a feed holds is published: each state is ordered by GameLift
//! Streams' `LastUpdatedAt` and when it was read, so a stale shared result
//! never takes a session back.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionInput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::ListStreamSessionsInput;
use tokio::time::Instant;

use bytes::Bytes;
use prost::Message;

use super::feed::{fingerprint, is_older, is_terminal, merge_summary, resource_id, GroupFeed, Observed};
use super::shared::{Look, Read, Shared};
use super::{Core, Entry, Group, GroupState};
use crate::proto::v1 as pb;
use crate::sessions::{Call, CallFailure};
use crate::sync::lock;

/// Sessions per ListStreamSessions page (the API's maximum).
const PAGE: usize = 100;
/// The soonest a read is made again after one (a shared result about to go
/// stale must not be looked at in a loop).
const RECHECK: Duration = Duration::from_millis(100);
/// A shared result read, or updated by GameLift Streams, later than now by
/// more than this is not believed (a clock that far off, or a forged value).
const CLOCK_SLACK: Duration = Duration::from_secs(60);

/// What a round does.
enum Plan {
    /// Nothing is due before this.
    Sleep(Instant),
    /// Read these sessions (key, identifier) one by one.
    Get(Vec<(String, String)>),
    /// List the group, then read the sessions that need it.
    List,
}

/// Polls `group` until it has no watcher left.
pub(super) async fn run(core: Arc<Core>, group: Arc<Group>) {
    while let Some(plan) = plan(&core, &group, Instant::now()) {
        match plan {
            Plan::Sleep(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = group.wake.notified() => {}
                }
            }
            Plan::Get(targets) => {
                read_each(&core, &group, targets).await;
                publish_full_group(&mut lock(&group.state));
            }
            Plan::List => list(&core, &group).await,
        }
    }
}

/// Drops feeds nobody watches (and the poller with the last one), then
/// decides the round.
fn plan(core: &Core, group: &Group, now: Instant) -> Option<Plan> {
    let mut groups = lock(&core.groups);
    let mut st = lock(&group.state);
    if st.listing.as_ref().is_some_and(|l| l.watchers() == 0) {
        st.listing = None;
    }
    let full_group = full_group_watched(&st);
    st.sessions.retain(|_, e| {
        e.pinned &= full_group;
        e.watchers() > 0 || e.pinned
    });
    if !full_group {
        st.ended.clear();
    }
    if st.sessions.is_empty() && st.listing.is_none() {
        if groups.get(&group.key).is_some_and(|g| std::ptr::eq(&**g, group)) {
            groups.remove(&group.key);
        }
        return None;
    }
    drop(groups);
    let list_due = st.listing.as_ref().is_some_and(|l| l.due <= now);
    let due: Vec<(&String, &Entry)> = st.sessions.iter().filter(|(_, e)| e.due <= now).collect();
    // Only a listing reads a session watched in BASIC alone.
    let basic_due = due.iter().any(|(_, e)| !e.needs_full());
    if !list_due && due.is_empty() {
        let next = st.sessions.values().map(|e| e.due).chain(st.listing.as_ref().map(|l| l.due)).min();
        return Some(Plan::Sleep(next.unwrap_or(now + core.config.normal_interval)));
    }
    // A listing reads every session at once, so sessions due within half a
    // fast interval count too: reads spaced by the poll budget would otherwise
    // never fall due together, and every round would be a GetStreamSession each.
    let soon = now + core.config.fast_interval / 2;
    let known = st.sessions.values().filter(|e| e.due <= soon && e.tx.borrow().observed.is_some()).count();
    if list_due || basic_due || known > st.size_hint.div_ceil(PAGE).max(1) {
        return Some(Plan::List);
    }
    Some(Plan::Get(due.into_iter().map(|(k, e)| (k.clone(), e.identifier.clone())).collect()))
}

/// Makes what reads `read` here due at `now` (another process stored a new
/// result of it): the session's entry, or, for a listing page, the listing
/// when this poller lists the group. Returns whether anything is due.
pub(super) fn pushed(st: &mut GroupState, read: Read<'_>, now: Instant) -> bool {
    match read {
        Read::Session(id) => match st.sessions.get_mut(id) {
            Some(entry) => {
                entry.due = now;
                entry.pushed = true;
                true
            }
            None => false,
        },
        Read::Stage(_) => false,
        Read::Page(_) => {
            let lists = st.listing.is_some()
                || st.sessions.len() > st.size_hint.div_ceil(PAGE).max(1)
                || st.sessions.values().any(|e| !e.needs_full());
            if lists {
                if let Some(listing) = st.listing.as_mut() {
                    listing.due = now;
                }
                for entry in st.sessions.values_mut() {
                    entry.due = now;
                }
            }
            lists
        }
    }
}

/// Whether the next round may succeed where this one failed.
fn is_transient(failure: &CallFailure) -> bool {
    failure.error.class().retryable()
}

/// What a poll read got.
enum Got<T> {
    /// The result, from upstream or shared by another poller, and when it was read.
    Value(T, SystemTime),
    /// Another poller is making this read and no result is known yet.
    Later,
    /// A shared result that cannot be believed: the next read fetches anew.
    Unusable,
    /// The read failed.
    Failed(CallFailure),
}

/// What a session or a page says of when GameLift Streams last updated it.
trait Stamped {
    fn latest_update(&self) -> Option<SystemTime>;
}

impl Stamped for pb::StreamSession {
    fn latest_update(&self) -> Option<SystemTime> {
        self.last_updated_at.and_then(|t| SystemTime::try_from(t).ok())
    }
}

impl Stamped for pb::ListStreamSessionsResponse {
    fn latest_update(&self) -> Option<SystemTime> {
        self.stream_sessions.iter().filter_map(Stamped::latest_update).max()
    }
}

/// A result shared by another poller; `Unusable` if it cannot be decoded or
/// claims a time in the future.
fn shared<T: Message + Default + Stamped>(result: Shared) -> Got<T> {
    let Ok(value) = T::decode(result.bytes) else { return Got::Unusable };
    let latest = SystemTime::now() + CLOCK_SLACK;
    if result.read_at > latest || value.latest_update().is_some_and(|t| t > latest) {
        return Got::Unusable;
    }
    Got::Value(value, result.read_at)
}

/// Reads one session: from the shared results while they are fresh (unless
/// `forced`), otherwise upstream (storing what it got for the others).
async fn read_session(core: &Core, group: &Group, key: &str, identifier: &str, forced: bool) -> Got<pb::StreamSession> {
    if let Some((session, read_at)) = core.known(&group.key, key).filter(|_| !forced) {
        return Got::Value(session, read_at);
    }
    let ticket = match core.results.look(&group.key, Read::Session(key), forced).await {
        Look::Fresh(result) | Look::Busy(Some(result)) => return shared(result),
        Look::Busy(None) => return Got::Later,
        Look::Fetch(ticket) => ticket,
    };
    core.poll_slot("GetStreamSession").await;
    let input = GetStreamSessionInput::builder().identifier(&group.identifier).stream_session_identifier(identifier);
    match core.upstream.get_stream_session(input, Call::Poll).await {
        Ok(out) => {
            let read_at = SystemTime::now();
            let session = pb::StreamSession { signal_request: String::new(), ..out.into() };
            ticket.store(Bytes::from(session.encode_to_vec()), read_at, core.config.interval(session.status()));
            Got::Value(session, read_at)
        }
        Err(failure) => Got::Failed(failure),
    }
}

/// Reads one listing page (at `token`, empty for the first): shared or
/// upstream, as [`read_session`].
async fn read_page(core: &Core, group: &Group, token: &str, forced: bool) -> Got<pb::ListStreamSessionsResponse> {
    let ticket = match core.results.look(&group.key, Read::Page(token), forced).await {
        Look::Fresh(result) | Look::Busy(Some(result)) => return shared(result),
        Look::Busy(None) => return Got::Later,
        Look::Fetch(ticket) => ticket,
    };
    core.poll_slot("ListStreamSessions").await;
    let input = ListStreamSessionsInput::builder()
        .identifier(group.identifier.clone())
        .max_results(PAGE as i32)
        .set_next_token((!token.is_empty()).then(|| token.to_string()));
    match core.upstream.list_stream_sessions(input, Call::Poll).await {
        Ok(out) => {
            let read_at = SystemTime::now();
            let in_group = |s: aws_sdk_gameliftstreams::types::StreamSessionSummary| pb::StreamSession {
                stream_group_id: group.key.clone(),
                ..s.into()
            };
            let page = pb::ListStreamSessionsResponse {
                stream_sessions: out.items.unwrap_or_default().into_iter().map(in_group).collect(),
                next_page_token: out.next_token.unwrap_or_default(),
            };
            let fresh_for = page
                .stream_sessions
                .iter()
                .filter(|s| !is_terminal(s.status()))
                .map(|s| core.config.interval(s.status()))
                .fold(core.config.normal_interval, std::cmp::min);
            ticket.store(Bytes::from(page.encode_to_vec()), read_at, fresh_for);
            Got::Value(page, read_at)
        }
        Err(failure) => Got::Failed(failure),
    }
}

/// Reads each of `targets` (key, identifier), in order, but first, before
/// each, any session another process has just stored a result of: that read
/// costs no call, and a round of fetches each waiting for a send slot would
/// reach it only after the result went stale, and fetch it again.
async fn read_each(core: &Core, group: &Group, targets: Vec<(String, String)>) {
    let mut targets = targets.into_iter();
    let mut read = HashSet::new();
    loop {
        let pushed = lock(&group.state)
            .sessions
            .iter()
            .find(|(_, e)| e.pushed && e.needs_full())
            .map(|(key, e)| (key.clone(), e.identifier.clone()));
        let next = pushed.or_else(|| targets.find(|(key, _)| !read.contains(key)));
        let Some((key, identifier)) = next else { return };
        get(core, group, &key, &identifier).await;
        read.insert(key);
    }
}

/// Reads one session and publishes what changed.
async fn get(core: &Core, group: &Group, key: &str, identifier: &str) {
    let forced = match lock(&group.state).sessions.get_mut(key) {
        Some(entry) if entry.needs_full() => {
            entry.pushed = false;
            std::mem::take(&mut entry.forced)
        }
        _ => return,
    };
    let result = read_session(core, group, key, identifier, forced).await;
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut st = lock(&group.state);
    let Some(entry) = st.sessions.get_mut(key) else { return };
    let ended = match result {
        Got::Value(session, read_at) => {
            core.supersede_known(&group.key, key, read_at);
            publish(core, entry, session, read_at, now, wall)
        }
        Got::Failed(failure) if !is_transient(&failure) => {
            for tx in [&entry.tx, &entry.basic] {
                tx.send_modify(|feed| feed.failure = Some(failure.clone()));
            }
            entry.pinned = false;
            true
        }
        Got::Unusable => {
            entry.forced = true;
            entry.due = now + core.config.fast_interval;
            false
        }
        Got::Later | Got::Failed(_) => {
            entry.due = now + core.config.fast_interval;
            false
        }
    };
    if ended {
        remove_ended(&mut st, key);
    }
}

/// Drops the entry of a session that ended (or cannot be read); a FULL group
/// watch keeps its last state.
pub(super) fn remove_ended(st: &mut GroupState, key: &str) {
    if let Some(entry) = st.sessions.remove(key) {
        if let Some(last) = entry.tx.borrow().observed.clone().filter(|_| entry.pinned) {
            st.ended.insert(key.to_string(), last);
        }
    }
}

/// Whether a FULL WatchStreamSessions watches the group.
fn full_group_watched(st: &GroupState) -> bool {
    st.listing.as_ref().is_some_and(|l| l.full.receiver_count() > 0)
}

/// Puts a full state read at `read_at` in `entry`'s feeds (its summary
/// members in the BASIC one) and sets when it is due next. Returns whether
/// the session has ended (its feeds are done).
pub(super) fn publish(
    core: &Core,
    entry: &mut Entry,
    session: pb::StreamSession,
    read_at: SystemTime,
    now: Instant,
    wall: SystemTime,
) -> bool {
    publish_feed(core, &entry.basic, basic(&session), read_at, wall, true);
    let status = publish_feed(core, &entry.tx, session, read_at, wall, false);
    entry.due = next_read(core.config.interval(status), read_at, now, wall);
    is_terminal(status)
}

/// When a state read at `read_at` (by this process or another) is due to be
/// read again: an `interval` after that read, so sidecars sharing reads
/// follow the fetcher's schedule rather than each adding its own interval to
/// it; a tenth of a second from now at the soonest.
fn next_read(interval: Duration, read_at: SystemTime, now: Instant, wall: SystemTime) -> Instant {
    let age = wall.duration_since(read_at).unwrap_or_default();
    now + interval.saturating_sub(age).max(RECHECK)
}

/// Puts a state read at `read_at` in feed `tx`; a new revision only if it
/// changed, nothing if it is older than the state the feed holds; with
/// `timed`, an activation it shows is recorded (every state reaches the BASIC
/// feed, so that one records them, once each). Returns the status the feed
/// holds after.
fn publish_feed(
    core: &Core,
    tx: &tokio::sync::watch::Sender<super::SessionFeed>,
    session: pb::StreamSession,
    read_at: SystemTime,
    wall: SystemTime,
    timed: bool,
) -> pb::StreamSessionStatus {
    let known = tx.borrow().observed.clone();
    if let Some(known) = known.as_ref().filter(|known| is_older(&session, read_at, known)) {
        return known.status();
    }
    let status = session.status();
    let print = fingerprint(&session);
    let previous = known.as_ref().map(|o| (o.fingerprint, o.session.status()));
    if previous.is_some_and(|(known, _)| known == print) {
        tx.send_if_modified(|feed| {
            feed.polled_at = Some(wall);
            false
        });
    } else {
        if timed
            && previous.is_some_and(|(_, was)| was == pb::StreamSessionStatus::Activating)
            && status == pb::StreamSessionStatus::Active
        {
            core.record_activation(&session);
        }
        let observed = Arc::new(Observed {
            session,
            revision: core.next_revision(),
            observed_at: wall,
            read_at,
            fingerprint: print,
        });
        tx.send_modify(|feed| {
            feed.observed = Some(observed);
            feed.polled_at = Some(wall);
        });
    }
    status
}

/// The members of `full` a ListStreamSessions summary carries (the BASIC view).
pub fn basic(full: &pb::StreamSession) -> pb::StreamSession {
    pb::StreamSession {
        arn: full.arn.clone(),
        stream_group_id: full.stream_group_id.clone(),
        user_id: full.user_id.clone(),
        status: full.status,
        status_reason: full.status_reason,
        protocol: full.protocol,
        location: full.location.clone(),
        last_updated_at: full.last_updated_at,
        created_at: full.created_at,
        application_arn: full.application_arn.clone(),
        export_files_metadata: full.export_files_metadata.clone(),
        role_arn: full.role_arn.clone(),
        ..Default::default()
    }
}

/// Lists the whole group, page by page: each page reaches its sessions'
/// watchers as soon as it arrives, the group's watchers once the listing is
/// complete. Then reads what the listing cannot tell.
async fn list(core: &Core, group: &Group) {
    let mut listed = Vec::new();
    let mut reads = Vec::new();
    let mut token = String::new();
    // A call changed some session: the listing reads it, upstream.
    let mut forced = false;
    for entry in lock(&group.state).sessions.values_mut() {
        forced |= std::mem::take(&mut entry.forced);
    }
    let mut oldest: Option<SystemTime> = None;
    loop {
        match read_page(core, group, &token, forced).await {
            Got::Value(page, read_at) => {
                reads.extend(apply_page(core, group, &page.stream_sessions, read_at));
                oldest = Some(oldest.map_or(read_at, |o| o.min(read_at)));
                listed.extend(page.stream_sessions.into_iter().map(|s| (s, read_at)));
                token = page.next_page_token;
                if token.is_empty() {
                    break;
                }
            }
            Got::Later => return list_failed(core, group, None),
            Got::Unusable => {
                for entry in lock(&group.state).sessions.values_mut() {
                    entry.forced = true;
                }
                return list_failed(core, group, None);
            }
            Got::Failed(failure) => return list_failed(core, group, Some(failure)),
        }
    }
    let missed = finish_listing(core, group, listed, oldest.unwrap_or_else(SystemTime::now), &reads);
    reads.extend(missed);
    publish_full_group(&mut lock(&group.state));
    read_each(core, group, reads).await;
    publish_full_group(&mut lock(&group.state));
}

/// A listing failed (`None`: its page is being read by another poller):
/// transient failures move what was due to the next fast round; others end
/// every watch of the group.
fn list_failed(core: &Core, group: &Group, failure: Option<CallFailure>) {
    let now = Instant::now();
    let mut st = lock(&group.state);
    let failure = match failure {
        Some(failure) if !is_transient(&failure) => failure,
        _ => {
            let later = now + core.config.fast_interval;
            for entry in st.sessions.values_mut().filter(|e| e.due <= now) {
                entry.due = later;
            }
            if let Some(listing) = st.listing.as_mut() {
                listing.due = later;
            }
            return;
        }
    };
    for entry in st.sessions.values() {
        for tx in [&entry.tx, &entry.basic] {
            tx.send_modify(|feed| feed.failure = Some(failure.clone()));
        }
    }
    if let Some(listing) = &st.listing {
        for tx in [&listing.tx, &listing.full] {
            tx.send_modify(|feed| feed.failure = Some(failure.clone()));
        }
    }
    *st = GroupState::default();
}

/// Publishes one listing page, read at `read_at`, to the feeds of the
/// sessions on it (with a FULL group watch, every session on it is watched).
/// Returns the sessions that need a GetStreamSession: their full state is
/// wanted and never read yet, or they just became ACTIVE or RECONNECTING (a
/// new signal response).
fn apply_page(core: &Core, group: &Group, page: &[pb::StreamSession], read_at: SystemTime) -> Vec<(String, String)> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut st = lock(&group.state);
    let full_group = full_group_watched(&st);
    let mut reads = Vec::new();
    for summary in page {
        let key = resource_id(&summary.arn);
        core.supersede_known(&group.key, key, read_at);
        if full_group && !st.sessions.contains_key(key) && !st.ended.contains_key(key) {
            st.sessions.insert(key.to_string(), Entry::new(&summary.arn, now, true));
        }
        let Some(entry) = st.sessions.get_mut(key) else { continue };
        entry.misses = 0;
        let basic_status = publish_feed(core, &entry.basic, summary.clone(), read_at, wall, true);
        entry.due = next_read(core.config.interval(basic_status), read_at, now, wall);
        let known = entry.tx.borrow().observed.clone();
        let (needs_read, ended) = match known {
            None if entry.needs_full() => (true, false),
            None => (false, is_terminal(basic_status)),
            Some(known) if is_older(summary, read_at, &known) => (false, false),
            Some(known) => {
                let new_signal = summary.status != known.session.status
                    && matches!(
                        summary.status(),
                        pb::StreamSessionStatus::Active | pb::StreamSessionStatus::Reconnecting
                    );
                let merged = merge_summary(&known.session, summary);
                (new_signal, !new_signal && publish(core, entry, merged, read_at, now, wall))
            }
        };
        if ended {
            remove_ended(&mut st, key);
            continue;
        }
        if needs_read {
            queue_read(core, &mut reads, key, entry, now);
        }
    }
    reads
}

/// Marks `entry` as read next, at the fast interval if the read fails.
fn queue_read(core: &Core, reads: &mut Vec<(String, String)>, key: &str, entry: &mut Entry, now: Instant) {
    entry.due = now + core.config.interval(pb::StreamSessionStatus::Activating);
    reads.push((key.to_string(), entry.identifier.clone()));
}

/// Publishes a complete listing, its oldest page read at `read_at`, to the
/// group's BASIC feed. Returns the watched sessions it missed (gone, or
/// watched only since their page was read) whose full state is wanted and
/// not already `queued` for a read; a session watched in BASIC alone that
/// two listings in a row missed ends with NOT_FOUND.
fn finish_listing(
    core: &Core,
    group: &Group,
    listed: Vec<(pb::StreamSession, SystemTime)>,
    read_at: SystemTime,
    queued: &[(String, String)],
) -> Vec<(String, String)> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut st = lock(&group.state);
    st.size_hint = listed.len();
    let by_id: HashMap<String, (pb::StreamSession, SystemTime)> =
        listed.into_iter().map(|(s, read_at)| (resource_id(&s.arn).to_string(), (s, read_at))).collect();
    st.ended.retain(|id, _| by_id.contains_key(id));
    if let Some(listing) = st.listing.as_mut() {
        let interval = by_id
            .values()
            .filter(|(s, _)| !is_terminal(s.status()))
            .map(|(s, _)| core.config.interval(s.status()))
            .fold(core.config.normal_interval, std::cmp::min);
        listing.due = next_read(interval, read_at, now, wall);
        publish_listing(core, &listing.tx, &by_id, read_at, wall);
    }
    let queued: HashSet<&str> = queued.iter().map(|(key, _)| key.as_str()).collect();
    let mut reads = Vec::new();
    let mut unknown = Vec::new();
    for (key, entry) in st.sessions.iter_mut() {
        if !entry.needs_full() {
            if by_id.contains_key(key) {
                continue;
            }
            if read_at > entry.since {
                entry.misses += 1;
            }
            entry.due = now + core.config.fast_interval;
            if entry.misses >= 2 {
                unknown.push(key.clone());
            }
            continue;
        }
        let missed = !by_id.contains_key(key) || entry.tx.borrow().observed.is_none();
        if missed && !queued.contains(key.as_str()) {
            queue_read(core, &mut reads, key, entry, now);
        }
    }
    for key in unknown {
        if let Some(entry) = st.sessions.remove(&key) {
            let failure = not_listed(&key);
            entry.basic.send_modify(|feed| feed.failure = Some(failure));
        }
    }
    reads
}

/// The failure of a BASIC watch of a session no listing of its group shows.
fn not_listed(id: &str) -> CallFailure {
    CallFailure {
        error: crate::sessions::SessionError::Upstream {
            kind: crate::sessions::UpstreamKind::NotFound,
            code: "ResourceNotFoundException".into(),
            message: format!("stream session {id} is not in its stream group's ListStreamSessions pages"),
            request_id: None,
        },
        attempts: 1,
        gave_up: crate::sessions::resilience::GiveUp::NotRetryable,
        retry_after: None,
    }
}

/// Publishes the group's FULL feed: each session of the last complete
/// listing in its full state, once every one of them has been read (then
/// SYNCED), and after that whenever one changes (a session not read yet
/// waits for its read).
fn publish_full_group(st: &mut GroupState) {
    let Some(listing) = st.listing.as_ref().filter(|l| l.full.receiver_count() > 0) else { return };
    let listed = listing.tx.borrow().clone();
    if !listed.synced {
        return;
    }
    let mut sessions = BTreeMap::new();
    let mut complete = true;
    for id in listed.sessions.keys() {
        let full =
            st.sessions.get(id).and_then(|e| e.tx.borrow().observed.clone()).or_else(|| st.ended.get(id).cloned());
        match full {
            Some(observed) => {
                sessions.insert(id.clone(), observed);
            }
            None => complete = false,
        }
    }
    let changed = {
        let old = listing.full.borrow();
        if !complete && !old.synced {
            return;
        }
        !old.synced
            || old.sessions.len() != sessions.len()
            || sessions.iter().any(|(id, o)| old.sessions.get(id).is_none_or(|p| p.revision != o.revision))
    };
    if changed {
        listing.full.send_modify(|feed| {
            *feed = GroupFeed {
                sessions: Arc::new(sessions),
                synced: true,
                polled_at: listed.polled_at,
                read_at: listed.read_at,
                failure: None,
            };
        });
    } else {
        listing.full.send_if_modified(|feed| {
            feed.polled_at = listed.polled_at;
            false
        });
    }
}

/// Puts a listing whose oldest page was read at `read_at` in the group
/// feed, with a new revision for each changed session; wakes the watchers
/// only if something changed. A listing read before the one the feed holds
/// is dropped, and so is any session's state older than the feed's.
fn publish_listing(
    core: &Core,
    tx: &tokio::sync::watch::Sender<GroupFeed>,
    by_id: &HashMap<String, (pb::StreamSession, SystemTime)>,
    read_at: SystemTime,
    wall: SystemTime,
) {
    let (old, synced, last_read) = {
        let feed = tx.borrow();
        (feed.sessions.clone(), feed.synced, feed.read_at)
    };
    if last_read.is_some_and(|last| read_at < last) {
        return;
    }
    let mut changed = !synced || old.len() != by_id.len();
    let mut sessions = BTreeMap::new();
    for (id, (session, session_read)) in by_id {
        let print = fingerprint(session);
        let observed = match old.get(id) {
            Some(o) if o.fingerprint == print || is_older(session, *session_read, o) => o.clone(),
            _ => {
                changed = true;
                Arc::new(Observed {
                    session: session.clone(),
                    revision: core.next_revision(),
                    observed_at: wall,
                    read_at: *session_read,
                    fingerprint: print,
                })
            }
        };
        sessions.insert(id.clone(), observed);
    }
    if changed {
        tx.send_modify(|feed| {
            *feed = GroupFeed {
                sessions: Arc::new(sessions),
                synced: true,
                polled_at: Some(wall),
                read_at: Some(read_at),
                failure: None,
            };
        });
    } else {
        tx.send_if_modified(|feed| {
            feed.polled_at = Some(wall);
            feed.read_at = Some(read_at);
            false
        });
    }
}
