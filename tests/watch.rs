//! Watches end to end: WatchStreamSession, WatchStreamSessions and
//! start-and-wait through the gateway, with the emulator's clock stopped so the
//! test decides when the session moves, and the emulator counting every poll.
//! Over 400 lines: one file per RPC family, as the other suites; the same
//! behaviour on a fake and a paused clock is in `src/sessions/watch/tests.rs`.

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use gamelift_streams_gateway::api::deferred::DeferralStats;
use gamelift_streams_gateway::emulator::{EmulatorConfig, FaultRule};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::proto::v1::WatchResponse;
use gamelift_streams_gateway::sessions::watch::WatchConfig;
use gamelift_streams_gateway::sessions::RetryPolicy;
use reqwest::Method;
use support::{
    gateway_watching, quick_watches, reason, start_request, start_request_with_id, unlimited, GatewayHarness, GROUP,
};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Streaming};
use tonic_types::StatusExt;

use pb::StreamSessionEventKind as Kind;
use pb::StreamSessionStatus as S;

/// Longest wait for one event; events normally come within a poll interval.
const EVENT_WAIT: Duration = Duration::from_secs(20);

/// An emulator whose clock only moves when the test advances it.
fn stopped_clock() -> EmulatorConfig {
    EmulatorConfig { time_scale: 1e-9, ..unlimited() }
}

/// A gateway with quick watches over a stopped-clock emulator.
async fn watched() -> GatewayHarness {
    gateway_watching(stopped_clock(), RetryPolicy::default(), quick_watches()).await
}

async fn start(client: &mut StreamSessionsClient<Channel>) -> pb::StreamSession {
    let response = client.start_stream_session(start_request()).await.expect("StartStreamSession");
    response.into_inner().stream_session.expect("session")
}

fn watch_request(session: &str, resume_token: &str) -> pb::WatchStreamSessionRequest {
    pb::WatchStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: session.into(),
        resume_token: resume_token.into(),
        ..Default::default()
    }
}

async fn watch(client: &mut StreamSessionsClient<Channel>, session: &str) -> Streaming<pb::WatchStreamSessionResponse> {
    client.watch_stream_session(watch_request(session, "")).await.expect("WatchStreamSession").into_inner()
}

/// The next event; `None` when the stream ended with OK.
async fn next<T: WatchResponse>(stream: &mut Streaming<T>) -> Option<pb::StreamSessionEvent> {
    let message = tokio::time::timeout(EVENT_WAIT, stream.message()).await.expect("an event in time");
    message.expect("no error").map(WatchResponse::into_event)
}

/// The next event that is not a heartbeat.
async fn next_change<T: WatchResponse>(stream: &mut Streaming<T>) -> Option<pb::StreamSessionEvent> {
    loop {
        match next(stream).await {
            Some(e) if e.kind() == Kind::Heartbeat => continue,
            other => return other,
        }
    }
}

fn status_of(event: &pb::StreamSessionEvent) -> S {
    event.stream_session.as_ref().expect("session").status()
}

fn session_id(arn: &str) -> &str {
    arn.rsplit('/').next().expect("id")
}

async fn client_action(g: &GatewayHarness, arn: &str, action: &str) {
    let (status, body) = g.emulator.admin(Method::POST, &format!("sessions/{}/{action}", session_id(arn)), None).await;
    assert_eq!(status, 200, "{action}: {body}");
}

fn metadata(status: &tonic::Status, key: &str) -> String {
    let info = status.get_error_details().error_info().cloned().expect("ErrorInfo");
    info.metadata.get(key).cloned().unwrap_or_default()
}

#[tokio::test]
async fn one_watcher_sees_a_whole_lifecycle_in_order() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let mut stream = watch(&mut g.client, &started.arn).await;
    let mut events = vec![next(&mut stream).await.expect("snapshot")];
    assert_eq!((events[0].kind(), status_of(&events[0])), (Kind::Snapshot, S::Activating));
    assert!(events[0].stream_session.as_ref().is_some_and(|s| s.signal_request.is_empty()), "not repeated");

    let mut step = async |events: &mut Vec<pb::StreamSessionEvent>, want: S| {
        let event = next_change(&mut stream).await.expect("a change");
        assert_eq!((event.kind(), status_of(&event)), (Kind::Change, want));
        events.push(event);
    };
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    step(&mut events, S::Active).await;
    client_action(&g, &started.arn, "connect").await;
    step(&mut events, S::Connected).await;
    client_action(&g, &started.arn, "disconnect").await;
    step(&mut events, S::PendingClientReconnection).await;
    let reconnect = pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: started.arn.clone(),
        signal_request: "second offer".into(),
        ..Default::default()
    };
    let connection = g.client.create_stream_session_connection(reconnect).await.expect("connection").into_inner();
    step(&mut events, S::Reconnecting).await;
    g.emulator.emulator.advance_clock(1.0).expect("clock advanced");
    step(&mut events, S::Active).await;
    let terminate = pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: started.arn.clone(),
        ..Default::default()
    };
    g.client.terminate_stream_session(terminate).await.expect("terminate");
    step(&mut events, S::Terminating).await;
    g.emulator.emulator.advance_clock(2.0).expect("clock advanced");
    step(&mut events, S::Terminated).await;
    assert_eq!(next(&mut stream).await, None, "the stream ends with OK after TERMINATED");

    let first_answer = &events[1].stream_session.as_ref().expect("session").signal_response;
    let second_answer = &events[5].stream_session.as_ref().expect("session").signal_response;
    assert!(!first_answer.is_empty());
    assert_eq!(second_answer, &connection.signal_response, "the reconnection's signal response");
    for pair in events.windows(2) {
        assert!(pair[1].revision > pair[0].revision, "revisions increase");
        assert_eq!(pair[1].previous_status(), status_of(&pair[0]), "previous status is the one sent before");
        assert_ne!(pair[1].resume_token, pair[0].resume_token);
        assert!(pair[1].observed_at.is_some());
    }
}

#[tokio::test]
async fn a_quiet_session_gets_heartbeats_with_its_state() {
    let config = WatchConfig { heartbeat: Duration::from_millis(200), ..quick_watches() };
    let mut g = gateway_watching(stopped_clock(), RetryPolicy::default(), config).await;
    let started = start(&mut g.client).await;
    let mut stream = watch(&mut g.client, &started.arn).await;
    let snapshot = next(&mut stream).await.expect("snapshot");
    for _ in 0..2 {
        let beat = next(&mut stream).await.expect("heartbeat");
        assert_eq!(beat.kind(), Kind::Heartbeat);
        assert_eq!((beat.revision, status_of(&beat)), (snapshot.revision, S::Activating));
        assert_eq!(beat.resume_token, snapshot.resume_token);
    }
}

#[tokio::test]
async fn an_unknown_session_is_not_found_before_any_event() {
    let mut g = watched().await;
    let mut stream = g.client.watch_stream_session(watch_request("ABCDEFGHI", "")).await.expect("stream").into_inner();
    let status = tokio::time::timeout(EVENT_WAIT, stream.message()).await.expect("answers").expect_err("NOT_FOUND");
    assert_eq!((status.code(), reason(&status)), (Code::NotFound, "NOT_FOUND".to_string()));
    assert_eq!(g.emulator.emulator.call_count("GetStreamSession", "ResourceNotFoundException"), 1);
}

#[tokio::test]
async fn bad_watch_requests_are_refused_before_any_call() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let bad_token = g.client.watch_stream_session(watch_request(&started.arn, "not a token!")).await;
    let status = bad_token.expect_err("INVALID_ARGUMENT");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields = status.get_error_details().bad_request().cloned().expect("BadRequest").field_violations;
    assert_eq!(fields[0].field, "resume_token");
    let no_session = g.client.watch_stream_session(watch_request("", "")).await.expect_err("required");
    assert_eq!(no_session.code(), Code::InvalidArgument);
    let bad_filter = pb::WatchStreamSessionsRequest {
        stream_group_identifier: GROUP.into(),
        statuses: vec![42],
        ..Default::default()
    };
    let status = g.client.watch_stream_sessions(bad_filter).await.expect_err("unknown status");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(g.emulator.emulator.calls().get("GetStreamSession"), None);
    assert_eq!(g.emulator.emulator.calls().get("ListStreamSessions"), None);
}

#[tokio::test]
async fn resuming_an_unchanged_session_sends_no_snapshot() {
    let config = WatchConfig { heartbeat: Duration::from_millis(300), ..quick_watches() };
    let mut g = gateway_watching(stopped_clock(), RetryPolicy::default(), config).await;
    let started = start(&mut g.client).await;
    let mut first = watch(&mut g.client, &started.arn).await;
    let snapshot = next(&mut first).await.expect("snapshot");
    drop(first);

    let request = watch_request(&started.arn, &snapshot.resume_token);
    let mut resumed = g.client.watch_stream_session(request).await.expect("resumed").into_inner();
    let beat = next(&mut resumed).await.expect("heartbeat");
    assert_eq!(beat.kind(), Kind::Heartbeat, "no snapshot of an unchanged session");
    assert!(beat.revision >= snapshot.revision);
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    let change = next_change(&mut resumed).await.expect("change");
    assert_eq!((change.kind(), change.previous_status(), status_of(&change)), (Kind::Change, S::Activating, S::Active));
    assert!(change.revision > beat.revision);
}

#[tokio::test]
async fn resuming_after_a_change_starts_with_that_change() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let other = start(&mut g.client).await;
    let mut first = watch(&mut g.client, &started.arn).await;
    let snapshot = next(&mut first).await.expect("snapshot");
    drop(first);
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");

    let request = watch_request(&started.arn, &snapshot.resume_token);
    let mut resumed = g.client.watch_stream_session(request).await.expect("resumed").into_inner();
    let change = next(&mut resumed).await.expect("change");
    assert_eq!((change.kind(), change.previous_status(), status_of(&change)), (Kind::Change, S::Activating, S::Active));
    assert!(change.revision > snapshot.revision);

    let foreign = watch_request(&other.arn, &snapshot.resume_token);
    let mut fresh = g.client.watch_stream_session(foreign).await.expect("other session").into_inner();
    let event = next(&mut fresh).await.expect("snapshot");
    assert_eq!(event.kind(), Kind::Snapshot, "a token of another session gets a fresh snapshot");
}

/// Runs one scripted lifecycle of 10 sessions with `per_session` watchers
/// each (10 connections, as 10 backends would) and returns the emulator's
/// GetStreamSession and ListStreamSessions calls. Polls happen only when the
/// test asks for a round (intervals are an hour), so the count is exact.
async fn poll_calls_for(per_session: usize) -> (u64, u64) {
    let hour = Duration::from_secs(3600);
    let hourly = WatchConfig {
        fast_interval: hour,
        normal_interval: hour,
        slow_interval: hour,
        heartbeat: hour,
        poll_share: 1.0,
    };
    let mut config = stopped_clock();
    config.world.capacity = vec![("us-west-2".into(), 10)];
    let g = gateway_watching(config, RetryPolicy::default(), hourly).await;
    let mut arns = Vec::new();
    for _ in 0..10 {
        arns.push(g.emulator.start_session().await);
    }
    let url = format!("http://{}", g.gateway.local_addr());
    let mut streams = Vec::new();
    for arn in &arns {
        let channel = Endpoint::from_shared(url.clone()).expect("URI").connect().await.expect("connect");
        let client = StreamSessionsClient::new(channel);
        let opened = join_all((0..per_session).map(|_| {
            let mut client = client.clone();
            async move { watch(&mut client, arn).await }
        }))
        .await;
        streams.extend(opened);
    }
    let expect_all = async |streams: &mut Vec<Streaming<pb::WatchStreamSessionResponse>>, want: S| {
        let seen =
            join_all(streams.iter_mut().map(|s| async move { next_change(s).await.map(|e| status_of(&e)) })).await;
        assert!(seen.iter().all(|s| *s == Some(want)), "every watcher sees {want:?}");
    };
    expect_all(&mut streams, S::Activating).await;
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    g.watches.refresh_group(GROUP);
    expect_all(&mut streams, S::Active).await;
    for arn in &arns {
        client_action(&g, arn, "connect").await;
    }
    g.watches.refresh_group(GROUP);
    expect_all(&mut streams, S::Connected).await;
    for arn in &arns {
        g.emulator
            .client
            .terminate_stream_session()
            .identifier(GROUP)
            .stream_session_identifier(arn)
            .send()
            .await
            .expect("terminate");
    }
    g.emulator.emulator.advance_clock(2.0).expect("clock advanced");
    g.watches.refresh_group(GROUP);
    expect_all(&mut streams, S::Terminated).await;
    for stream in &mut streams {
        assert_eq!(next(stream).await, None, "ended after TERMINATED");
    }
    let e = &g.emulator.emulator;
    (e.call_count("GetStreamSession", "Success"), e.call_count("ListStreamSessions", "Success"))
}

#[tokio::test]
async fn a_thousand_watchers_cost_what_one_watcher_per_session_costs() {
    let one_each = poll_calls_for(1).await;
    let hundred_each = poll_calls_for(100).await;
    assert_eq!(hundred_each, one_each, "1,000 watchers poll like 10");
    assert_eq!(one_each, (20, 3), "a read per session at the start and on ACTIVE; one listing per later round");
}

#[tokio::test]
async fn a_stalled_consumer_delays_nobody_and_still_gets_the_terminal_state() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let url = format!("http://{}", g.gateway.local_addr());
    let stalled_channel = Endpoint::from_shared(url).expect("URI").initial_stream_window_size(Some(1)).connect().await;
    let mut stalled_client = StreamSessionsClient::new(stalled_channel.expect("connect"));
    let mut stalled = watch(&mut stalled_client, &started.arn).await;
    let mut live = watch(&mut g.client, &started.arn).await;
    let mut seen = vec![status_of(&next(&mut live).await.expect("snapshot"))];

    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    seen.push(status_of(&next_change(&mut live).await.expect("ACTIVE")));
    client_action(&g, &started.arn, "connect").await;
    seen.push(status_of(&next_change(&mut live).await.expect("CONNECTED")));
    let session =
        g.emulator.client.terminate_stream_session().identifier(GROUP).stream_session_identifier(&started.arn);
    session.send().await.expect("terminate");
    seen.push(status_of(&next_change(&mut live).await.expect("TERMINATING")));
    g.emulator.emulator.advance_clock(2.0).expect("clock advanced");
    seen.push(status_of(&next_change(&mut live).await.expect("TERMINATED")));
    assert_eq!(seen, [S::Activating, S::Active, S::Connected, S::Terminating, S::Terminated]);
    assert_eq!(next(&mut live).await, None);

    let mut late = Vec::new();
    while let Some(event) = next_change(&mut stalled).await {
        late.push(status_of(&event));
    }
    assert_eq!(late.first(), Some(&S::Activating), "the stalled watcher's snapshot was already on its way");
    assert_eq!(late.last(), Some(&S::Terminated), "the latest state wins, and the terminal state is never lost");
    assert!(late.len() < seen.len(), "intermediate states were skipped, not queued: {late:?}");
}

#[tokio::test]
async fn the_poller_stops_when_its_last_watcher_leaves() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let stream = watch(&mut g.client, &started.arn).await;
    assert_eq!((g.watches.stats().pollers, g.watches.stats().watchers), (1, 1));
    drop(stream);
    let stopped = async {
        while g.watches.stats().pollers > 0 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(EVENT_WAIT, stopped).await.expect("the poller stops");
    let calls = g.emulator.emulator.call_count("GetStreamSession", "Success");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(g.emulator.emulator.call_count("GetStreamSession", "Success"), calls, "no polls after the last watcher");
}

#[tokio::test]
async fn throttled_polls_are_retried_by_the_next_round_without_ending_the_watch() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let mut stream = watch(&mut g.client, &started.arn).await;
    next(&mut stream).await.expect("snapshot");
    let throttle =
        FaultRule { operation: Some("GetStreamSession".into()), throttle: 1.0, count: Some(3), ..Default::default() };
    g.emulator.emulator.add_fault(throttle).expect("fault");
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    let change = next_change(&mut stream).await.expect("ACTIVE after the throttling");
    assert_eq!(status_of(&change), S::Active);
    assert_eq!(g.emulator.emulator.call_count("GetStreamSession", "ThrottlingException"), 3);
}

fn group_request(statuses: Vec<S>) -> pb::WatchStreamSessionsRequest {
    pb::WatchStreamSessionsRequest {
        stream_group_identifier: GROUP.into(),
        statuses: statuses.into_iter().map(i32::from).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_group_watch_sends_every_session_then_synced_then_changes() {
    let mut g = watched().await;
    let a = start(&mut g.client).await;
    let b = start(&mut g.client).await;
    let mut stream = g.client.watch_stream_sessions(group_request(vec![])).await.expect("watch").into_inner();
    let mut snapshot = Vec::new();
    loop {
        let event = next(&mut stream).await.expect("event");
        if event.kind() == Kind::Synced {
            assert!(event.stream_session.is_none());
            break;
        }
        assert_eq!(event.kind(), Kind::Snapshot);
        snapshot.push(event.stream_session.expect("session").arn);
    }
    snapshot.sort();
    let mut expected = vec![a.arn.clone(), b.arn.clone()];
    expected.sort();
    assert_eq!(snapshot, expected);

    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    let mut active = Vec::new();
    for _ in 0..2 {
        let event = next_change(&mut stream).await.expect("change");
        assert_eq!(
            (event.kind(), event.previous_status(), status_of(&event)),
            (Kind::Change, S::Activating, S::Active)
        );
        active.push(event.stream_session.expect("session").arn);
    }
    active.sort();
    assert_eq!(active, expected);
}

#[tokio::test]
async fn a_group_watch_with_a_filter_reports_sessions_leaving_it_once() {
    let mut g = watched().await;
    let a = start(&mut g.client).await;
    let b = start(&mut g.client).await;
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    client_action(&g, &a.arn, "connect").await;
    let request = group_request(vec![S::Connected]);
    let mut stream = g.client.watch_stream_sessions(request).await.expect("watch").into_inner();
    let first = next(&mut stream).await.expect("snapshot");
    assert_eq!(
        (first.kind(), first.stream_session.as_ref().map(|s| s.arn.clone())),
        (Kind::Snapshot, Some(a.arn.clone()))
    );
    assert_eq!(next(&mut stream).await.expect("synced").kind(), Kind::Synced);

    client_action(&g, &a.arn, "disconnect").await;
    let left = next_change(&mut stream).await.expect("left the filter");
    assert_eq!((status_of(&left), left.previous_status()), (S::PendingClientReconnection, S::Connected));
    client_action(&g, &b.arn, "connect").await;
    let joined = next_change(&mut stream).await.expect("joined the filter");
    assert_eq!((joined.previous_status(), joined.stream_session.expect("session").arn), (S::Active, b.arn.clone()));
}

#[tokio::test]
async fn start_and_wait_answers_with_the_active_session_and_its_signal_response() {
    let config = EmulatorConfig { time_scale: 50.0, ..unlimited() };
    let mut g = gateway_watching(config, RetryPolicy::default(), quick_watches()).await;
    let request = pb::StartStreamSessionRequest { wait_for_active: true, ..start_request() };
    let session = g.client.start_stream_session(request).await.expect("ACTIVE").into_inner().stream_session;
    let session = session.expect("session");
    assert_eq!(session.status(), S::Active);
    assert!(!session.signal_response.is_empty());
    assert_eq!(session.signal_request, "offer", "the caller's own signal request is given back");
}

#[tokio::test]
async fn start_and_wait_without_capacity_fails_with_placement_timeout() {
    let mut config = EmulatorConfig { time_scale: 200.0, ..unlimited() };
    config.world.capacity = vec![("us-west-2".into(), 0)];
    let mut g = gateway_watching(config, RetryPolicy::default(), quick_watches()).await;
    let request = pb::StartStreamSessionRequest { wait_for_active: true, ..start_request() };
    let status = g.client.start_stream_session(request).await.expect_err("no capacity");
    assert_eq!((status.code(), reason(&status)), (Code::ResourceExhausted, "SESSION_ERROR".to_string()));
    assert_eq!(metadata(&status, "statusReason"), "STREAM_SESSION_STATUS_REASON_PLACEMENT_TIMEOUT");
    assert_eq!(metadata(&status, "status"), "STREAM_SESSION_STATUS_ERROR");
    assert!(metadata(&status, "sessionArn").contains(":streamsession/"));
    assert!(status.message().contains("placementTimeout"), "{}", status.message());
}

#[tokio::test]
async fn start_and_wait_answers_before_the_deadline_with_the_session_arn() {
    let mut g = watched().await;
    let mut request = tonic::Request::new(pb::StartStreamSessionRequest { wait_for_active: true, ..start_request() });
    request.set_timeout(Duration::from_millis(800));
    let status = g.client.start_stream_session(request).await.expect_err("still ACTIVATING");
    assert_eq!((status.code(), reason(&status)), (Code::DeadlineExceeded, "SESSION_NOT_READY".to_string()));
    assert_eq!(metadata(&status, "status"), "STREAM_SESSION_STATUS_ACTIVATING");
    let arn = metadata(&status, "sessionArn");
    let mut stream = watch(&mut g.client, &arn).await;
    assert_eq!(status_of(&next(&mut stream).await.expect("snapshot")), S::Activating, "the caller can keep watching");
}

fn terminate_request(arn: &str, request_id: &str) -> pb::TerminateStreamSessionRequest {
    pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: arn.into(),
        request_id: request_id.into(),
    }
}

/// Waits (at most EVENT_WAIT) until the deferred terminations are `want`.
async fn deferrals_become(g: &GatewayHarness, want: DeferralStats) {
    let settled = async {
        while g.deferrals.stats() != want {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let outcome = tokio::time::timeout(EVENT_WAIT, settled).await;
    assert!(outcome.is_ok(), "deferrals {:?}, want {want:?}", g.deferrals.stats());
}

#[tokio::test]
async fn terminating_a_session_still_activating_is_deferred_until_it_leaves_activating() {
    let mut g = watched().await;
    let arn = start(&mut g.client).await.arn;
    let mut stream = watch(&mut g.client, &arn).await;
    assert_eq!(status_of(&next(&mut stream).await.expect("snapshot")), S::Activating);
    for request_id in ["give-back-1", "give-back-2"] {
        let answer = g.client.terminate_stream_session(terminate_request(&arn, request_id)).await.expect("accepted");
        let session = answer.into_inner().stream_session.expect("the session");
        assert_eq!((session.arn.as_str(), session.status()), (arn.as_str(), S::Activating));
    }
    assert_eq!(g.emulator.emulator.call_count("TerminateStreamSession", "ValidationException"), 2, "AWS refused twice");
    let one = DeferralStats { pending: 1, accepted: 1, ..DeferralStats::default() };
    assert_eq!(g.deferrals.stats(), one, "one wish per session, however often asked");

    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    let mut seen = Vec::new();
    while seen.last() != Some(&S::Terminating) {
        seen.push(status_of(&next_change(&mut stream).await.expect("a change")));
    }
    assert!(seen.iter().all(|s| matches!(s, S::Active | S::Terminating)), "{seen:?}");
    assert_eq!(g.emulator.emulator.call_count("TerminateStreamSession", "Success"), 1);
    deferrals_become(&g, DeferralStats { pending: 0, terminated: 1, ..one }).await;
}

#[tokio::test]
async fn a_terminate_refused_while_its_session_cannot_be_read_is_answered_as_transient_not_invalid() {
    let once = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    let mut g = gateway_watching(stopped_clock(), once, quick_watches()).await;
    let arn = start(&mut g.client).await.arn;
    let unreadable = FaultRule {
        operation: Some("GetStreamSession".into()),
        internal_error: 1.0,
        count: Some(1),
        ..FaultRule::default()
    };
    g.emulator.emulator.add_fault(unreadable).expect("fault");
    let status = g.client.terminate_stream_session(terminate_request(&arn, "")).await.expect_err("cannot tell");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unavailable, "UPSTREAM_INTERNAL_ERROR"), "{status:?}");
    assert!(status.get_error_details().retry_info().is_some(), "a retry can tell");
    let answer = g.client.terminate_stream_session(terminate_request(&arn, "")).await.expect("the retry is deferred");
    assert_eq!(answer.into_inner().stream_session.expect("the session").status(), S::Activating);
}

#[tokio::test]
async fn a_terminate_refused_for_a_session_that_activated_or_ended_meanwhile_is_carried_out_or_answered_as_done() {
    let mut g = watched().await;
    let arn = start(&mut g.client).await.arn;
    g.emulator.emulator.advance_clock(5.0).expect("ACTIVE");
    // AWS refuses as it does an ACTIVATING session; the read shows ACTIVE.
    let refuse_once = || FaultRule {
        operation: Some("TerminateStreamSession".into()),
        error: Some("ValidationException".into()),
        count: Some(1),
        ..FaultRule::default()
    };
    g.emulator.emulator.add_fault(refuse_once()).expect("fault");
    let answer = g.client.terminate_stream_session(terminate_request(&arn, "")).await.expect("terminated");
    assert_eq!(answer.into_inner().stream_session.expect("the session").status(), S::Terminating, "sent again");
    assert_eq!(g.emulator.emulator.call_count("TerminateStreamSession", "Success"), 1);
    g.emulator.emulator.advance_clock(60.0).expect("TERMINATED");
    g.emulator.emulator.add_fault(refuse_once()).expect("fault");
    let answer = g.client.terminate_stream_session(terminate_request(&arn, "")).await.expect("already ended");
    assert_eq!(
        answer.into_inner().stream_session.expect("the session").status(),
        S::Terminated,
        "what was asked is done"
    );
}

#[tokio::test]
async fn a_start_whose_wait_ran_out_is_given_back_and_needs_nothing_when_it_fails_to_place() {
    let mut config = stopped_clock();
    config.world.capacity = vec![("us-west-2".into(), 0)];
    let mut g = gateway_watching(config, RetryPolicy::default(), quick_watches()).await;
    let mut request = tonic::Request::new(pb::StartStreamSessionRequest { wait_for_active: true, ..start_request() });
    request.set_timeout(Duration::from_millis(800));
    let status = g.client.start_stream_session(request).await.expect_err("still ACTIVATING");
    assert_eq!(reason(&status), "SESSION_NOT_READY");
    let arn = metadata(&status, "sessionArn");
    let answer = g.client.terminate_stream_session(terminate_request(&arn, "")).await.expect("given back");
    assert_eq!(answer.into_inner().stream_session.expect("the session").status(), S::Activating);

    g.emulator.emulator.advance_clock(80.0).expect("past the placement timeout");
    let accepted = DeferralStats { accepted: 1, ..DeferralStats::default() };
    deferrals_become(&g, DeferralStats { ended_first: 1, ..accepted }).await;
    assert_eq!(g.emulator.emulator.call_count("TerminateStreamSession", "Success"), 0, "an ERROR session needs none");
}

#[tokio::test]
async fn a_cancelled_start_and_wait_is_found_by_its_request_id_and_given_back() {
    let mut g = watched().await;
    let request = pb::StartStreamSessionRequest { wait_for_active: true, ..start_request_with_id("cancelled-1") };
    let mut caller = g.client.clone();
    let call = tokio::spawn(async move { caller.start_stream_session(request).await });
    let started = async {
        while g.emulator.emulator.call_count("StartStreamSession", "Success") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(EVENT_WAIT, started).await.expect("the start reached the emulator");
    call.abort();
    assert!(call.await.is_err_and(|e| e.is_cancelled()), "the caller gave up while the session was ACTIVATING");

    let again = g.client.start_stream_session(start_request_with_id("cancelled-1")).await.expect("the same start");
    let session = again.into_inner().stream_session.expect("session");
    assert_eq!(session.status(), S::Activating);
    assert_eq!(g.emulator.emulator.call_count("StartStreamSession", "Success"), 1, "no second session");
    let answer = g.client.terminate_stream_session(terminate_request(&session.arn, "")).await.expect("given back");
    assert_eq!(answer.into_inner().stream_session.expect("session").status(), S::Activating);
    assert_eq!(g.deferrals.stats().accepted, 1);
}

#[tokio::test]
async fn connection_and_wait_answers_once_active_with_the_new_signal_response() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    let read = pb::GetStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: started.arn.clone(),
    };
    let active = g.client.get_stream_session(read).await.expect("read").into_inner().stream_session.expect("session");
    assert_eq!((active.status(), active.signal_response.is_empty()), (S::Active, false), "the first answer");
    let request = pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: started.arn.clone(),
        signal_request: "second offer".into(),
        wait_for_active: true,
        ..Default::default()
    };
    let mut client = g.client.clone();
    let call = tokio::spawn(async move { client.create_stream_session_connection(request).await });
    let mut stream = watch(&mut g.client, &started.arn).await;
    while next_change(&mut stream).await.map(|e| status_of(&e)) != Some(S::Reconnecting) {}
    assert!(!call.is_finished(), "still RECONNECTING");
    g.emulator.emulator.advance_clock(1.0).expect("clock advanced");
    let response = call.await.expect("task").expect("ACTIVE again").into_inner();
    let session = response.stream_session.expect("session");
    assert_eq!(session.status(), S::Active);
    assert_eq!(session.signal_response, response.signal_response);
    assert_ne!(session.signal_response, active.signal_response, "the reconnection's answer, not the first one");
}

#[tokio::test]
async fn draining_ends_watch_streams_with_unavailable() {
    let mut g = watched().await;
    let started = start(&mut g.client).await;
    let mut stream = watch(&mut g.client, &started.arn).await;
    next(&mut stream).await.expect("snapshot");
    let drained = tokio::spawn(g.gateway.drain(Duration::from_secs(10)));
    let status = tokio::time::timeout(EVENT_WAIT, stream.message()).await.expect("ends").expect_err("UNAVAILABLE");
    assert_eq!((status.code(), reason(&status)), (Code::Unavailable, "WATCH_CLOSED".to_string()));
    assert!(drained.await.expect("task"), "drained within the grace period");
}
