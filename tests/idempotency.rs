//! One logical request, one session: concurrent repeats, a restarted gateway,
//! two gateway processes, reused keys, the retention window, and which outcomes
//! are kept. Upstream calls are counted by the emulator.

mod support;

use std::time::Duration;

use gamelift_streams_gateway::emulator::{EmulatorConfig, FaultRule};
use gamelift_streams_gateway::proto::v1 as pb;
use gamelift_streams_gateway::proto::v1::stream_sessions_client::StreamSessionsClient;
use gamelift_streams_gateway::server::RunningGateway;
use gamelift_streams_gateway::sessions::idempotency::StoreLimits;
use gamelift_streams_gateway::sessions::{Resilience, RetryPolicy, Sessions};
use reqwest::Method;
use support::process::gateway_process;
use support::{client_of, gateway_over, harness_with, serve, start_request_with_id, Harness, GROUP};
use tonic::transport::Channel;
use tonic::Code;
use tonic_types::StatusExt;

async fn start(client: &mut StreamSessionsClient<Channel>, request_id: &str) -> Result<String, tonic::Status> {
    let response = client.start_stream_session(start_request_with_id(request_id)).await?.into_inner();
    Ok(response.stream_session.expect("session").arn)
}

async fn emulator() -> Harness {
    let mut config = EmulatorConfig::default();
    config.rate_limits.clear();
    harness_with(config).await
}

async fn gateway_client(
    h: &Harness,
    limits: StoreLimits,
    policy: RetryPolicy,
) -> (RunningGateway, StreamSessionsClient<Channel>) {
    let sessions = Sessions::new(h.client.clone(), std::sync::Arc::new(Resilience::with_seed(policy, 1)));
    let gateway = serve(gateway_over(sessions, limits)).await;
    let client = client_of(&gateway).await;
    (gateway, client)
}

#[tokio::test]
async fn fifty_concurrent_identical_starts_make_one_session() {
    let h = emulator().await;
    let (_gateway, client) = gateway_client(&h, StoreLimits::default(), RetryPolicy::default()).await;
    h.emulator
        .add_fault(FaultRule { operation: Some("StartStreamSession".into()), latency_ms: 200, ..FaultRule::default() })
        .expect("fault");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { start(&mut client, "launch-42").await })
        })
        .collect();
    let mut arns = Vec::new();
    for task in tasks {
        arns.push(task.await.expect("task").expect("started"));
    }
    arns.dedup();
    assert_eq!(arns.len(), 1, "all 50 answers carry the same ARN");
    assert_eq!(h.emulator.calls()["StartStreamSession"].values().sum::<u64>(), 1, "the emulator saw one Start");
    assert_eq!(h.sessions_upstream().await.len(), 1);
}

#[tokio::test]
async fn a_restarted_gateway_answers_the_same_session() {
    let h = emulator().await;
    let (first, mut client) = gateway_client(&h, StoreLimits::default(), RetryPolicy::default()).await;
    let arn = start(&mut client, "launch-restart").await.expect("started");
    assert!(first.drain(Duration::from_secs(5)).await);
    let (_second, mut client) = gateway_client(&h, StoreLimits::default(), RetryPolicy::default()).await;
    assert_eq!(start(&mut client, "launch-restart").await.expect("started"), arn);
    assert_eq!(h.emulator.call_count("StartStreamSession", "Success"), 2, "the new gateway asked AWS again");
    assert_eq!(h.sessions_upstream().await.len(), 1, "and AWS de-duplicated on the ClientToken");
}

#[tokio::test]
async fn two_gateway_processes_given_one_request_id_make_one_session() {
    let h = emulator().await;
    let (_a, url_a) = gateway_process(&h.emulator.endpoint_url(), &[]);
    let (_b, url_b) = gateway_process(&h.emulator.endpoint_url(), &[]);
    let mut client_a = StreamSessionsClient::connect(url_a).await.expect("a");
    let mut client_b = StreamSessionsClient::connect(url_b).await.expect("b");
    let (arn_a, arn_b) = tokio::join!(start(&mut client_a, "launch-replicas"), start(&mut client_b, "launch-replicas"));
    assert_eq!(arn_a.expect("a started"), arn_b.expect("b started"));
    assert_eq!(h.sessions_upstream().await.len(), 1);
}

#[tokio::test]
async fn the_same_key_with_other_parameters_is_refused() {
    let h = emulator().await;
    let (_gateway, mut client) = gateway_client(&h, StoreLimits::default(), RetryPolicy::default()).await;
    start(&mut client, "launch-7").await.expect("started");
    let mut other = start_request_with_id("launch-7");
    other.description = "another game".into();
    let status = client.start_stream_session(other).await.expect_err("reused key");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    assert_eq!(details.error_info().map(|i| i.reason.as_str()), Some("IDEMPOTENCY_KEY_REUSED"));
    let fields: Vec<_> =
        details.bad_request().expect("BadRequest").field_violations.iter().map(|v| v.field.clone()).collect();
    assert_eq!(fields, ["request_id"]);
    assert_eq!(h.emulator.calls()["StartStreamSession"].values().sum::<u64>(), 1);
}

#[tokio::test]
async fn after_the_retention_window_the_same_session_still_comes_back_from_upstream() {
    let h = emulator().await;
    let limits = StoreLimits { retention: Duration::ZERO, ..StoreLimits::default() };
    let (_gateway, mut client) = gateway_client(&h, limits, RetryPolicy::default()).await;
    let first = start(&mut client, "launch-expired").await.expect("started");
    let second = start(&mut client, "launch-expired").await.expect("started again");
    assert_eq!(first, second);
    assert_eq!(h.emulator.call_count("StartStreamSession", "Success"), 2, "nothing replayed in process");
    assert_eq!(h.sessions_upstream().await.len(), 1, "AWS de-duplicated on the ClientToken");
}

#[tokio::test]
async fn transient_failures_are_forgotten_and_final_ones_replayed() {
    let h = emulator().await;
    let no_retries = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    let (_gateway, mut client) = gateway_client(&h, StoreLimits::default(), no_retries).await;
    h.emulator
        .add_fault(FaultRule {
            operation: Some("StartStreamSession".into()),
            throttle: 1.0,
            count: Some(1),
            ..FaultRule::default()
        })
        .expect("fault");
    let throttled = start(&mut client, "launch-transient").await.expect_err("throttled");
    assert_eq!(throttled.code(), Code::Unavailable);
    start(&mut client, "launch-transient").await.expect("the retry runs and succeeds");
    assert_eq!(h.emulator.call_count("StartStreamSession", "Success"), 1);

    let terminate = || pb::TerminateStreamSessionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: "NoSuchSession1".into(),
        request_id: "end-unknown".into(),
    };
    for _ in 0..2 {
        let status = client.terminate_stream_session(terminate()).await.expect_err("unknown");
        assert_eq!(status.code(), Code::NotFound);
    }
    assert_eq!(h.emulator.call_count("TerminateStreamSession", "ResourceNotFoundException"), 1, "replayed");
}

#[tokio::test]
async fn connections_and_exports_run_once_per_request_id() {
    let h = emulator().await;
    let (_gateway, mut client) = gateway_client(&h, StoreLimits::default(), RetryPolicy::default()).await;
    let arn = start(&mut client, "launch-conn").await.expect("started");
    h.emulator.advance_clock(5.0).expect("clock advanced");
    let id = arn.rsplit('/').next().expect("id").to_string();
    let (status, _) = h.admin(Method::POST, &format!("sessions/{id}/connect"), None).await;
    assert_eq!(status, 200);
    h.admin(Method::POST, &format!("sessions/{id}/disconnect"), None).await;
    let connect = || pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: id.clone(),
        signal_request: "offer 2".into(),
        request_id: "reconnect-1".into(),
        wait_for_active: false,
    };
    let first = client.create_stream_session_connection(connect()).await.expect("connection").into_inner();
    let second = client.create_stream_session_connection(connect()).await.expect("replayed").into_inner();
    assert_eq!(first.signal_response, second.signal_response);
    assert_eq!(h.emulator.calls()["CreateStreamSessionConnection"].values().sum::<u64>(), 1);
    let export = || pb::ExportStreamSessionFilesRequest {
        stream_group_identifier: GROUP.into(),
        stream_session_identifier: id.clone(),
        output_uri: "s3://bucket/out/".into(),
        request_id: "export-1".into(),
    };
    client.export_stream_session_files(export()).await.expect("export");
    client.export_stream_session_files(export()).await.expect("replayed");
    assert_eq!(h.emulator.calls()["ExportStreamSessionFiles"].values().sum::<u64>(), 1);
}
