//! The emulator driven by the real `aws-sdk-gameliftstreams`: every implemented
//! operation, every error type as the SDK parses it, paging, waiters, tokens,
//! rate limits and faults, with exact call counts.

mod support;

use std::time::Duration;

use aws_sdk_gameliftstreams::client::Waiters;
use aws_sdk_gameliftstreams::error::SdkError;
use aws_sdk_gameliftstreams::types::{
    ExportFilesStatus, LocationConfiguration, Protocol, RuntimeEnvironment, RuntimeEnvironmentType, StreamClass,
    StreamSessionStatus, StreamSessionStatusReason,
};
use gamelift_streams_gateway::emulator::{EmulatorConfig, FaultRule};
use reqwest::Method;
use serde_json::json;
use support::{harness, harness_with, APP, GROUP};

fn session_id(arn: &str) -> &str {
    arn.rsplit('/').next().expect("ARN has an ID")
}

#[tokio::test]
async fn a_fresh_emulator_holds_an_active_group_with_an_associated_application() {
    let h = harness().await;
    let groups = h.client.list_stream_groups().send().await.expect("ListStreamGroups");
    let groups = groups.items();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].id.as_deref(), Some(GROUP));
    assert_eq!(groups[0].arn, format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{GROUP}"));
    let group = h.client.get_stream_group().identifier(GROUP).send().await.expect("GetStreamGroup");
    assert_eq!(group.status.as_ref().map(|s| s.as_str().to_string()).as_deref(), Some("ACTIVE"));
    let location = &group.location_states()[0];
    assert_eq!(location.location_name.as_deref(), Some("us-west-2"));
    assert_eq!(location.idle_capacity, Some(4));
    let apps = h.client.list_applications().send().await.expect("ListApplications");
    let apps = apps.items();
    assert_eq!(apps[0].id.as_deref(), Some(APP));
    assert_eq!(group.associated_applications(), [apps[0].arn.clone()]);
}

#[tokio::test]
async fn a_whole_session_life_through_the_sdk() {
    let h = harness().await;
    let arn = h.start_session().await;
    assert!(arn.starts_with(&format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamsession/{GROUP}/")));
    let get = || h.client.get_stream_session().identifier(GROUP).stream_session_identifier(&arn).send();
    let s = get().await.expect("GetStreamSession");
    assert_eq!(s.status, Some(StreamSessionStatus::Activating));
    assert!(s.signal_response.is_none());
    assert!(s.created_at.is_some());

    h.emulator.advance_clock(5.0).expect("clock advanced");
    let ready = h
        .client
        .wait_until_stream_session_active()
        .identifier(GROUP)
        .stream_session_identifier(&arn)
        .wait(Duration::from_secs(10))
        .await
        .expect("StreamSessionActive waiter");
    let active = ready.as_result().expect("active output");
    assert!(active.signal_response.is_some());
    assert_eq!(active.location.as_deref(), Some("us-west-2"));

    let (status, body) = h.admin(Method::POST, &format!("sessions/{}/connect", session_id(&arn)), None).await;
    assert_eq!((status, body["Status"].as_str()), (200, Some("CONNECTED")));
    let (status, body) = h.admin(Method::POST, &format!("sessions/{}/disconnect", session_id(&arn)), None).await;
    assert_eq!((status, body["Status"].as_str()), (200, Some("PENDING_CLIENT_RECONNECTION")));

    let conn = h
        .client
        .create_stream_session_connection()
        .identifier(GROUP)
        .stream_session_identifier(&arn)
        .signal_request("second offer")
        .send()
        .await
        .expect("CreateStreamSessionConnection");
    assert!(conn.signal_response.is_some());
    assert_eq!(get().await.expect("get").status, Some(StreamSessionStatus::Reconnecting));
    h.emulator.advance_clock(1.0).expect("clock advanced");
    assert_eq!(get().await.expect("get").status, Some(StreamSessionStatus::Active));

    h.client
        .terminate_stream_session()
        .identifier(GROUP)
        .stream_session_identifier(&arn)
        .send()
        .await
        .expect("TerminateStreamSession (204)");
    assert_eq!(get().await.expect("get").status, Some(StreamSessionStatus::Terminating));
    h.emulator.advance_clock(2.0).expect("clock advanced");
    let ended = get().await.expect("get");
    assert_eq!(ended.status, Some(StreamSessionStatus::Terminated));
    assert_eq!(ended.status_reason, Some(StreamSessionStatusReason::ApiTerminated));
    assert!(ended.last_updated_at > ended.created_at);
}

#[tokio::test]
async fn identifiers_work_as_ids_or_arns() {
    let h = harness().await;
    let arn = h.start_session().await;
    let group_arn = format!("arn:aws:gameliftstreams:us-west-2:111122223333:streamgroup/{GROUP}");
    for (group, session) in
        [(GROUP, arn.as_str()), (group_arn.as_str(), session_id(&arn)), (group_arn.as_str(), arn.as_str())]
    {
        let s = h.client.get_stream_session().identifier(group).stream_session_identifier(session).send().await;
        assert_eq!(s.expect("found by ID or ARN").arn.as_deref(), Some(arn.as_str()));
    }
}

#[tokio::test]
async fn every_error_type_reaches_the_sdk_as_its_modeled_error() {
    let h = harness().await;
    let err = h
        .client
        .start_stream_session()
        .identifier(GROUP)
        .application_identifier(APP)
        .protocol(Protocol::Webrtc)
        .signal_request("offer")
        .session_length_seconds(86_401)
        .send()
        .await
        .expect_err("out of range")
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    assert!(err.to_string().contains("sessionLengthSeconds"), "{err}");

    let missing = h.client.get_stream_session().identifier(GROUP).stream_session_identifier("nope").send().await;
    assert!(missing.expect_err("unknown").into_service_error().is_resource_not_found_exception());
    let missing_group = h.client.list_stream_sessions().identifier("sg-unknown").send().await;
    assert!(missing_group.expect_err("unknown").into_service_error().is_resource_not_found_exception());

    let arn = h.start_session().await;
    let conflict = h
        .client
        .create_stream_session_connection()
        .identifier(GROUP)
        .stream_session_identifier(&arn)
        .signal_request("offer 2")
        .send()
        .await
        .expect_err("ACTIVATING")
        .into_service_error();
    assert!(conflict.is_conflict_exception(), "{conflict:?}");

    let get = || h.client.get_stream_session().identifier(GROUP).stream_session_identifier(&arn).send();
    h.emulator
        .add_fault(FaultRule {
            operation: Some("GetStreamSession".into()),
            throttle: 1.0,
            count: Some(1),
            ..FaultRule::default()
        })
        .expect("fault");
    assert!(get().await.expect_err("throttled").into_service_error().is_throttling_exception());
    h.emulator.add_fault(FaultRule { internal_error: 1.0, count: Some(1), ..FaultRule::default() }).expect("fault");
    assert!(get().await.expect_err("500").into_service_error().is_internal_server_exception());
    h.emulator.add_fault(FaultRule { drop_connection: 1.0, count: Some(1), ..FaultRule::default() }).expect("fault");
    let dropped = get().await.expect_err("dropped");
    assert!(matches!(dropped, SdkError::DispatchFailure(_) | SdkError::ResponseError(_)), "{dropped:?}");
    get().await.expect("faults with a count expire");

    let calls = h.emulator.calls();
    let gets = &calls["GetStreamSession"];
    assert_eq!(gets.get("ThrottlingException"), Some(&1));
    assert_eq!(gets.get("InternalServerException"), Some(&1));
    assert_eq!(gets.get("ConnectionDropped"), Some(&1));
    assert_eq!(gets.get("ResourceNotFoundException"), Some(&1));
    assert_eq!(gets.get("Success"), Some(&1));
}

#[tokio::test]
async fn the_rate_limit_throttles_above_the_configured_rate() {
    let h = harness().await;
    let arn = h.start_session().await;
    let (status, _) = h.admin(Method::PUT, "rate-limits", Some(json!({"GetStreamSession": 2}))).await;
    assert_eq!(status, 200);
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let r = h.client.get_stream_session().identifier(GROUP).stream_session_identifier(&arn).send().await;
        outcomes.push(r.map_err(|e| e.into_service_error().is_throttling_exception()));
    }
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
    assert_eq!(outcomes[2].as_ref().err(), Some(&true));
    assert_eq!(h.emulator.call_count("GetStreamSession", "ThrottlingException"), 1);
}

#[tokio::test]
async fn paging_and_filters_walk_every_session_once() {
    let h = harness().await;
    let mut arns = Vec::new();
    for _ in 0..5 {
        arns.push(h.start_session().await);
    }
    h.emulator.advance_clock(5.0).expect("clock advanced");
    h.client
        .terminate_stream_session()
        .identifier(GROUP)
        .stream_session_identifier(&arns[0])
        .send()
        .await
        .expect("terminate");
    let pages: Vec<_> = h
        .client
        .list_stream_sessions()
        .identifier(GROUP)
        .max_results(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("pages");
    assert_eq!(pages.len(), 3);
    let listed: Vec<String> = pages.iter().flat_map(|p| p.items()).filter_map(|s| s.arn.clone()).collect();
    assert_eq!(listed, arns);
    let active = h
        .client
        .list_stream_sessions()
        .identifier(GROUP)
        .status(StreamSessionStatus::Active)
        .send()
        .await
        .expect("filtered");
    // Four slots: sessions 1-4 were placed (1 is now TERMINATING), 5 still waits.
    assert_eq!(active.items().len(), 3);
    let waiting =
        h.client.list_stream_sessions().identifier(GROUP).status(StreamSessionStatus::Activating).send().await;
    let waiting: Vec<_> = waiting.expect("filtered").items().iter().filter_map(|s| s.arn.clone()).collect();
    assert_eq!(waiting, [arns[4].clone()]);
    let by_account = h.client.list_stream_sessions_by_account().status(StreamSessionStatus::Terminating).send().await;
    assert_eq!(by_account.expect("by account").items().len(), 1);
}

#[tokio::test]
async fn exports_are_listed_by_status_and_succeed_when_the_session_ends() {
    let h = harness().await;
    let arn = h.start_session().await;
    h.emulator.advance_clock(5.0).expect("clock advanced");
    h.client
        .export_stream_session_files()
        .identifier(GROUP)
        .stream_session_identifier(&arn)
        .output_uri("s3://bucket/exports/")
        .send()
        .await
        .expect("ExportStreamSessionFiles");
    let pending = h
        .client
        .list_stream_sessions()
        .identifier(GROUP)
        .export_files_status(ExportFilesStatus::Pending)
        .send()
        .await
        .expect("list");
    assert_eq!(pending.items().len(), 1);
    h.client
        .terminate_stream_session()
        .identifier(GROUP)
        .stream_session_identifier(&arn)
        .send()
        .await
        .expect("terminate");
    h.emulator.advance_clock(2.0).expect("clock advanced");
    let s = h.client.get_stream_session().identifier(GROUP).stream_session_identifier(&arn).send().await.expect("get");
    let export = s.export_files_metadata.expect("export metadata");
    assert_eq!(export.status, Some(ExportFilesStatus::Succeeded));
    assert_eq!(export.output_uri.as_deref(), Some("s3://bucket/exports/"));
}

#[tokio::test]
async fn one_client_token_one_session() {
    let h = harness().await;
    let token = "0123456789abcdef0123456789abcdef";
    let start = || {
        h.client
            .start_stream_session()
            .identifier(GROUP)
            .application_identifier(APP)
            .protocol(Protocol::Webrtc)
            .signal_request("offer")
            .client_token(token)
            .send()
    };
    let first = start().await.expect("first").arn;
    let second = start().await.expect("second").arn;
    assert_eq!(first, second);
    let listed = h.client.list_stream_sessions().identifier(GROUP).send().await.expect("list");
    assert_eq!(listed.items().len(), 1);
    let other = h.start_session().await;
    let (status, tokens) = h.admin(Method::GET, "client-tokens", None).await;
    assert_eq!(status, 200);
    let tokens = tokens.as_object().expect("{token: ARN}");
    assert_eq!(tokens.get(token), Some(&json!(first)), "{tokens:?}");
    // The SDK gives a start without a ClientToken one of its own.
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert!(tokens.values().any(|arn| *arn == json!(other)), "{tokens:?}");
}

#[tokio::test]
async fn no_free_capacity_ends_in_placement_timeout() {
    let mut config = EmulatorConfig::default();
    config.world.capacity = vec![("us-west-2".into(), 1)];
    let h = harness_with(config).await;
    let _holder = h.start_session().await;
    let waiting = h.start_session().await;
    h.emulator.advance_clock(75.0).expect("clock advanced");
    let s =
        h.client.get_stream_session().identifier(GROUP).stream_session_identifier(&waiting).send().await.expect("get");
    assert_eq!(s.status, Some(StreamSessionStatus::Error));
    assert_eq!(s.status_reason, Some(StreamSessionStatusReason::PlacementTimeout));
}

#[tokio::test]
async fn new_applications_and_stream_groups_provision_then_host_sessions() {
    let h = harness().await;
    let app = h
        .client
        .create_application()
        .description("my-game")
        .runtime_environment(
            RuntimeEnvironment::builder()
                .r#type(RuntimeEnvironmentType::Ubuntu)
                .version("22_04_LTS")
                .build()
                .expect("env"),
        )
        .executable_path("bin/game")
        .application_source_uri("s3://bucket/game")
        .send()
        .await
        .expect("CreateApplication (201)");
    let group = h
        .client
        .create_stream_group()
        .description("my-group")
        .stream_class(StreamClass::Gen5nHigh)
        .location_configurations(
            LocationConfiguration::builder().location_name("us-east-2").always_on_capacity(1).build().expect("loc"),
        )
        .send()
        .await
        .expect("CreateStreamGroup (201)");
    assert_eq!(group.status.as_ref().map(|s| s.as_str().to_string()).as_deref(), Some("ACTIVATING"));
    h.emulator.advance_clock(30.0).expect("clock advanced");
    let app_now = h.client.get_application().identifier(&app.arn).send().await.expect("GetApplication");
    assert_eq!(app_now.status.map(|s| s.as_str().to_string()).as_deref(), Some("READY"));
    let assoc = h
        .client
        .associate_applications()
        .identifier(&group.arn)
        .application_identifiers(&app.arn)
        .send()
        .await
        .expect("AssociateApplications");
    assert_eq!(assoc.application_arns(), std::slice::from_ref(&app.arn));
    let s = h
        .client
        .start_stream_session()
        .identifier(group.id.as_deref().expect("id"))
        .application_identifier(app.id.as_deref().expect("id"))
        .protocol(Protocol::Webrtc)
        .signal_request("offer")
        .locations("us-east-2")
        .send()
        .await
        .expect("start in the new group");
    assert_eq!(s.location.as_deref(), Some("us-east-2"));
}
