//! The retry layer against the emulator over real HTTP: exact upstream attempts
//! per error class, no lost or duplicated session under heavy faults, deadlines,
//! the per-operation ceiling, the retry budget, and callers served through
//! throttling their own pacing cannot reduce.

mod support;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use gamelift_streams_gateway::emulator::{EmulatorConfig, FaultRule};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::sessions::RetryPolicy;
use support::{gateway_with, start_request_with_id, unlimited, GatewayHarness, GROUP};
use tonic::Code;
use tonic_types::StatusExt;

fn fast_policy() -> RetryPolicy {
    RetryPolicy { base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5), ..RetryPolicy::default() }
}

fn get_request(session: &str) -> pb::GetStreamSessionRequest {
    pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: session.into() }
}

async fn a_session(g: &mut GatewayHarness) -> String {
    let s = g.client.start_stream_session(start_request_with_id("")).await.expect("start").into_inner();
    s.stream_session.expect("session").arn
}

/// The ARNs of every session the emulator holds.
fn metadata(status: &tonic::Status, key: &str) -> Option<String> {
    status.get_error_details().error_info().and_then(|i| i.metadata.get(key).cloned())
}

#[tokio::test]
async fn every_error_class_costs_exactly_its_upstream_attempts() {
    let mut g = gateway_with(unlimited(), fast_policy()).await;
    let arn = a_session(&mut g).await;
    let faults = [
        (FaultRule { throttle: 1.0, ..FaultRule::default() }, "ThrottlingException", 3),
        (FaultRule { internal_error: 1.0, ..FaultRule::default() }, "InternalServerException", 3),
        (FaultRule { drop_connection: 1.0, ..FaultRule::default() }, "ConnectionDropped", 3),
    ];
    for (mut rule, outcome, expected) in faults {
        rule.operation = Some("GetStreamSession".into());
        g.emulator.emulator.add_fault(rule).expect("fault");
        let status = g.client.get_stream_session(get_request(&arn)).await.expect_err(outcome);
        assert_eq!(status.code(), Code::Unavailable);
        assert_eq!(metadata(&status, "attempts").as_deref(), Some("3"));
        assert_eq!(g.emulator.emulator.call_count("GetStreamSession", outcome), expected, "{outcome}");
        g.emulator.emulator.clear_faults();
    }
    let status = g.client.get_stream_session(get_request("UnknownSess01")).await.expect_err("404");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(g.emulator.emulator.call_count("GetStreamSession", "ResourceNotFoundException"), 1);
    let mut wrong_location = start_request_with_id("");
    wrong_location.locations = vec!["eu-central-1".into()];
    g.client.start_stream_session(wrong_location).await.expect_err("400");
    assert_eq!(g.emulator.emulator.call_count("StartStreamSession", "ValidationException"), 1);
    let conflict = pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: arn.clone(),
        signal_request: "offer 2".into(),
        ..Default::default()
    };
    g.client.create_stream_session_connection(conflict).await.expect_err("409");
    assert_eq!(g.emulator.emulator.call_count("CreateStreamSessionConnection", "ConflictException"), 1);
}

#[tokio::test]
async fn two_hundred_starts_through_heavy_faults_make_exactly_two_hundred_sessions() {
    // The subject is loss and duplication, not pacing: with 50% of calls throttled
    // whatever the rate, the adaptive limiter would (rightly) slow to its floor,
    // so this gateway has no ceiling, a large budget and room for retries.
    let policy = RetryPolicy { max_attempts: 10, budget_tokens: 1_000_000, ceilings: HashMap::new(), ..fast_policy() };
    let mut config = unlimited();
    config.seed = Some(42);
    let g = gateway_with(config, policy).await;
    g.emulator
        .emulator
        .add_fault(FaultRule {
            operation: Some("StartStreamSession".into()),
            throttle: 0.5,
            internal_error: 0.1,
            drop_connection: 0.05,
            drop_response: 0.1,
            ..FaultRule::default()
        })
        .expect("fault");
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let mut client = g.client.clone();
            tokio::spawn(async move {
                let request_id = format!("launch-{i:03}");
                // A caller that keeps its request_id across its own retries, as AIP-155 asks.
                for _ in 0..50 {
                    match client.start_stream_session(start_request_with_id(&request_id)).await {
                        Ok(r) => return r.into_inner().stream_session.expect("session").arn,
                        Err(status) => assert_eq!(status.code(), Code::Unavailable, "{status:?}"),
                    }
                }
                panic!("{request_id} never started")
            })
        })
        .collect();
    let mut answered = HashSet::new();
    for task in tasks {
        answered.insert(task.await.expect("task"));
    }
    g.emulator.emulator.clear_faults();
    let listed = g.emulator.sessions_upstream().await;
    assert_eq!(answered.len(), 200, "200 distinct answers");
    assert_eq!(listed, answered, "exactly the 200 answered sessions exist upstream");
    let calls = g.emulator.emulator.calls();
    let starts = &calls["StartStreamSession"];
    assert!(starts.get("ThrottlingException").copied().unwrap_or(0) > 50, "{starts:?}");
    assert!(starts.get("ResponseDropped").copied().unwrap_or(0) > 0, "{starts:?}");
}

#[tokio::test]
async fn a_300ms_deadline_against_constant_throttling_returns_in_time_with_retry_info() {
    let policy = RetryPolicy { max_attempts: 10, ..RetryPolicy::default() };
    let mut g = gateway_with(unlimited(), policy).await;
    let arn = a_session(&mut g).await;
    g.emulator
        .emulator
        .add_fault(FaultRule { operation: Some("GetStreamSession".into()), throttle: 1.0, ..FaultRule::default() })
        .expect("fault");
    let mut request = tonic::Request::new(get_request(&arn));
    request.set_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let status = g.client.get_stream_session(request).await.expect_err("throttled");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(300 + 150), "took {elapsed:?}");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let details = status.get_error_details();
    assert_eq!(details.error_info().map(|i| i.reason.as_str()), Some("THROTTLED"));
    assert_eq!(metadata(&status, "gaveUp").as_deref(), Some("deadline"));
    assert!(details.retry_info().and_then(|r| r.retry_delay).is_some());
}

#[tokio::test]
async fn the_ceiling_keeps_a_burst_of_100_inside_the_emulators_20_per_second() {
    let mut g = gateway_with(EmulatorConfig::default(), RetryPolicy::default()).await;
    let arn = a_session(&mut g).await;
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let mut client = g.client.clone();
            let request = get_request(&arn);
            tokio::spawn(async move { client.get_stream_session(request).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("every call succeeds");
    }
    let gets = g.emulator.emulator.calls()["GetStreamSession"].clone();
    assert_eq!(gets.get("Success"), Some(&100));
    assert_eq!(gets.get("ThrottlingException"), None, "{gets:?}");
    let peak = g.emulator.emulator.call_peaks()["GetStreamSession"];
    assert!(peak <= 21, "{peak} calls arrived within one second: paced, no burst at a second's edge");
}

#[tokio::test]
async fn the_budget_empties_under_sustained_failure_and_refills_after_success() {
    let policy = RetryPolicy { budget_tokens: 20, ..fast_policy() };
    let mut g = gateway_with(unlimited(), policy).await;
    let arn = a_session(&mut g).await;
    let failing = FaultRule { operation: Some("GetStreamSession".into()), internal_error: 1.0, ..FaultRule::default() };
    g.emulator.emulator.add_fault(failing.clone()).expect("fault");
    let upstream = |g: &GatewayHarness| g.emulator.emulator.call_count("GetStreamSession", "InternalServerException");
    let first = g.client.get_stream_session(get_request(&arn)).await.expect_err("fails");
    assert_eq!((upstream(&g), metadata(&first, "gaveUp").as_deref()), (3, Some("attempts_exhausted")));
    let second = g.client.get_stream_session(get_request(&arn)).await.expect_err("fails fast");
    assert_eq!((upstream(&g), metadata(&second, "gaveUp").as_deref()), (4, Some("budget_exhausted")));
    assert!(second.get_error_details().retry_info().is_some());
    g.emulator.emulator.clear_faults();
    for _ in 0..10 {
        g.client.get_stream_session(get_request(&arn)).await.expect("success refunds a token");
    }
    g.emulator.emulator.add_fault(failing).expect("fault");
    let third = g.client.get_stream_session(get_request(&arn)).await.expect_err("fails");
    assert_eq!((upstream(&g), metadata(&third, "gaveUp").as_deref()), (6, Some("budget_exhausted")));
}

#[tokio::test]
async fn half_the_starts_throttled_whatever_the_rate_still_starts_95_of_100_each_once() {
    let g = gateway_with(unlimited(), RetryPolicy::default()).await;
    let throttle = FaultRule { operation: Some("StartStreamSession".into()), throttle: 0.5, ..FaultRule::default() };
    g.emulator.emulator.add_fault(throttle).expect("fault");
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let mut client = g.client.clone();
            let mut request = tonic::Request::new(start_request_with_id(&format!("start-{i:03}")));
            request.set_timeout(Duration::from_secs(90));
            tokio::spawn(async move { client.start_stream_session(request).await })
        })
        .collect();
    let mut started = HashSet::new();
    for task in tasks {
        if let Ok(response) = task.await.expect("task") {
            started.insert(response.into_inner().stream_session.expect("session").arn);
        }
    }
    g.emulator.emulator.clear_faults();
    assert!(started.len() >= 95, "{} of 100 started", started.len());
    assert_eq!(g.emulator.sessions_upstream().await, started, "exactly one session upstream per start answered");
    let starts = g.emulator.emulator.calls()["StartStreamSession"].clone();
    assert_eq!(starts.get("Success").copied(), Some(started.len() as u64), "{starts:?}");
    assert!(starts.get("ThrottlingException").copied().unwrap_or(0) >= 50, "{starts:?}");
    let peak = g.emulator.emulator.call_peaks()["StartStreamSession"];
    assert!(peak <= 21, "{peak} starts arrived within one second, retries included");
}
