//! The RPC handlers over a fake GameLift Streams, on tokio's paused clock:
//! what they send, when they answer, and with which status.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_gameliftstreams::types::StreamSessionStatus as Aws;
use tokio::time::Instant;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use super::replay::Idempotency;
use super::Gateway;
use crate::proto::v1 as pb;
use crate::sessions::fake::{steps, throttled, FakeStreams, Lifecycle, GROUP};
use crate::sessions::idempotency::{StoreLimits, DEFAULT_NAMESPACE};
use crate::sessions::watch::budget::PollBudget;
use crate::sessions::watch::{WatchConfig, Watches};
use pb::stream_sessions_server::StreamSessions;

fn gateway(started: Lifecycle) -> (Gateway, Arc<FakeStreams>) {
    let fake = FakeStreams::new(started);
    let watches = Watches::new(fake.clone(), WatchConfig::default(), Arc::new(PollBudget::new(0.5)));
    let idempotency = Arc::new(Idempotency::in_process(DEFAULT_NAMESPACE.into(), StoreLimits::default()));
    (Gateway::new(fake.clone(), idempotency, watches), fake)
}

fn start(request_id: &str, wait_for_active: bool, timeout: &str) -> Request<pb::StartStreamSessionRequest> {
    let mut request = Request::new(pb::StartStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        application_identifier: "a-1".into(),
        signal_request: "offer".into(),
        request_id: request_id.into(),
        wait_for_active,
        ..Default::default()
    });
    request.metadata_mut().insert("grpc-timeout", timeout.parse().expect("ASCII"));
    request
}

fn reason(status: &Status) -> String {
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

#[tokio::test(start_paused = true)]
async fn start_and_wait_answers_once_the_session_is_active() {
    let (gateway, fake) = gateway(steps(&[(0, Aws::Activating), (4, Aws::Active)]));
    let began = Instant::now();
    let session = gateway
        .start_stream_session(start("r-1", true, "30S"))
        .await
        .expect("started")
        .into_inner()
        .stream_session
        .expect("a session");
    assert_eq!(session.status(), pb::StreamSessionStatus::Active);
    assert_eq!(session.signal_request, "offer", "the caller's signal request comes back");
    assert_eq!(Instant::now() - began, Duration::from_secs(4), "answered at the read that saw ACTIVE");
    assert_eq!(fake.count("StartStreamSession"), 1);
    assert_eq!(fake.seconds("GetStreamSession"), [1, 2, 3, 4], "the start's answer is the wait's first state");
}

/// The first event of a WatchStreamSession opened on `id` in `view`.
async fn first_event_in(gateway: &Gateway, id: &str, view: pb::StreamSessionView) -> pb::StreamSessionEvent {
    use futures_util::StreamExt;
    let request = pb::WatchStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: id.into(),
        view: view.into(),
        ..Default::default()
    };
    let mut events = gateway.watch_stream_session(Request::new(request)).await.expect("a stream").into_inner();
    events.next().await.expect("an event").expect("no error").event.expect("the event")
}

/// The first event of a WatchStreamSession (FULL) opened on `id`.
async fn first_event(gateway: &Gateway, id: &str) -> pb::StreamSessionEvent {
    first_event_in(gateway, id, pb::StreamSessionView::Full).await
}

#[tokio::test(start_paused = true)]
async fn a_session_a_call_just_answered_needs_no_read_for_its_snapshot() {
    let (gateway, fake) = gateway(steps(&[(0, Aws::Activating), (4, Aws::Active)]));
    let started = gateway.start_stream_session(start("r-1", false, "30S")).await.expect("started").into_inner();
    let arn = started.stream_session.expect("a session").arn;
    let snapshot = first_event(&gateway, &arn).await;
    assert_eq!(snapshot.stream_session.expect("a state").status(), pb::StreamSessionStatus::Activating);
    assert_eq!(fake.count("GetStreamSession"), 0, "the start's answer is the snapshot");
    let began = Instant::now();
    let basic = first_event_in(&gateway, &arn, pb::StreamSessionView::Basic).await;
    assert_eq!(basic.stream_session.expect("a state").status(), pb::StreamSessionStatus::Activating);
    assert_eq!(Instant::now(), began, "a BASIC watch too gets it at once");
    assert_eq!((fake.count("GetStreamSession"), fake.count("ListStreamSessions")), (0, 0));

    fake.add("ss-2", steps(&[(0, Aws::Active)]));
    fake.answer_signal("ss-2", "answer");
    let get =
        pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: "ss-2".into() };
    gateway.get_stream_session(Request::new(get)).await.expect("read");
    assert_eq!(fake.count("GetStreamSession"), 1);
    let snapshot = first_event(&gateway, "ss-2").await.stream_session.expect("a state");
    assert_eq!((snapshot.status(), snapshot.signal_response.as_str()), (pb::StreamSessionStatus::Active, "answer"));
    assert_eq!(
        fake.count("GetStreamSession"),
        1,
        "the answer to the GetStreamSession is the snapshot, signal response included"
    );

    tokio::time::advance(Duration::from_secs(3)).await;
    first_event(&gateway, "ss-2").await;
    assert_eq!(fake.count("GetStreamSession"), 2, "an answer older than its status' interval is read again");
}

#[tokio::test(start_paused = true)]
async fn start_and_wait_fails_when_the_session_goes_to_error() {
    let (gateway, _) = gateway(steps(&[(0, Aws::Activating), (3, Aws::Error)]));
    let began = Instant::now();
    let status = gateway.start_stream_session(start("r-1", true, "30S")).await.expect_err("the session failed");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "SESSION_ERROR"));
    assert_eq!(Instant::now() - began, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn start_and_wait_answers_by_the_deadline_with_the_session_still_activating() {
    let (gateway, fake) = gateway(steps(&[(0, Aws::Activating)]));
    let began = Instant::now();
    let status = gateway.start_stream_session(start("r-1", true, "10S")).await.expect_err("not ready");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::DeadlineExceeded, "SESSION_NOT_READY"));
    let info = status.get_error_details().error_info().cloned().expect("ErrorInfo");
    assert_eq!(info.metadata.get("status").map(String::as_str), Some("STREAM_SESSION_STATUS_ACTIVATING"));
    assert_eq!(Instant::now() - began, Duration::from_millis(9750), "the deadline less its 250 ms margin");
    assert_eq!(fake.count("StartStreamSession"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_repeated_request_id_is_answered_without_a_second_start() {
    let (gateway, fake) = gateway(steps(&[(0, Aws::Activating)]));
    let (first, second) = tokio::join!(
        gateway.start_stream_session(start("r-1", false, "5S")),
        gateway.start_stream_session(start("r-1", false, "5S"))
    );
    let arn = |r: Result<tonic::Response<pb::StartStreamSessionResponse>, Status>| {
        r.expect("started").into_inner().stream_session.expect("a session").arn
    };
    assert_eq!(arn(first), arn(second));
    let third = gateway.start_stream_session(start("r-1", false, "5S")).await;
    assert!(third.is_ok(), "a replay: {third:?}");
    assert_eq!(fake.count("StartStreamSession"), 1);
}

#[tokio::test(start_paused = true)]
async fn invalid_input_is_refused_before_any_call() {
    let (gateway, fake) = gateway(Vec::new());
    let mut request = start("r 1", false, "5S");
    request.get_mut().stream_group_identifier.clear();
    let status = gateway.start_stream_session(request).await.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let bad = status.get_error_details().bad_request().expect("BadRequest").clone();
    let fields: Vec<&str> = bad.field_violations.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["request_id", "stream_group_identifier"]);
    assert!(fake.calls().is_empty(), "{:?}", fake.calls());
}

#[tokio::test(start_paused = true)]
async fn a_throttled_start_is_unavailable_and_a_retry_with_the_same_request_id_runs_again() {
    let (gateway, fake) = gateway(steps(&[(0, Aws::Activating)]));
    fake.fail_next("StartStreamSession", 1, throttled);
    let status = gateway.start_stream_session(start("r-1", false, "5S")).await.expect_err("throttled");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.get_error_details().retry_info().is_some(), "RetryInfo");
    gateway.start_stream_session(start("r-1", false, "5S")).await.expect("the retry runs");
    assert_eq!(fake.count("StartStreamSession"), 2, "a throttled outcome is not replayed");
}

#[tokio::test(start_paused = true)]
async fn connect_and_wait_answers_with_the_new_signal_response() {
    let (gateway, fake) = gateway(Vec::new());
    fake.add("ss-9", steps(&[(0, Aws::PendingClientReconnection)]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let request = pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: "ss-9".into(),
        signal_request: "offer".into(),
        request_id: "c-1".into(),
        wait_for_active: true,
    };
    let began = Instant::now();
    let response = gateway.create_stream_session_connection(Request::new(request)).await.expect("connected");
    let response = response.into_inner();
    let session = response.stream_session.expect("the session");
    assert_eq!((response.signal_response.as_str(), session.signal_response.as_str()), ("answer-1", "answer-1"));
    assert_eq!(session.status(), pb::StreamSessionStatus::Active);
    assert_eq!(Instant::now() - began, Duration::from_secs(2), "RECONNECTING for 2 s, then ACTIVE");
    assert_eq!(
        fake.calls(),
        ["CreateStreamSessionConnection", "GetStreamSession", "GetStreamSession", "GetStreamSession"]
    );
}
