//! The StreamSessions gateway end to end: a tonic client, the gateway, the real
//! SDK, and the emulator, every RPC and every class of error.

mod support;

use std::time::Duration;

use gamelift_streams_gateway::emulator::FaultRule;
use gamelift_streams_gateway::proto::v1 as pb;
use reqwest::Method;
use support::{gateway, reason, start_request, GatewayHarness, GROUP};
use tonic::Code;
use tonic_types::StatusExt;

async fn start(g: &mut GatewayHarness) -> pb::StreamSession {
    g.client
        .start_stream_session(start_request())
        .await
        .expect("StartStreamSession")
        .into_inner()
        .stream_session
        .expect("session")
}

async fn get(g: &mut GatewayHarness, arn: &str) -> Result<pb::StreamSession, tonic::Status> {
    let req =
        pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: arn.into() };
    Ok(g.client.get_stream_session(req).await?.into_inner().stream_session.expect("session"))
}

fn bad_fields(status: &tonic::Status) -> Vec<String> {
    let details = status.get_error_details();
    details.bad_request().map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_whole_session_life_through_the_gateway() {
    let mut g = gateway().await;
    let started = start(&mut g).await;
    assert_eq!(started.status(), pb::StreamSessionStatus::Activating);
    assert_eq!(started.protocol(), pb::Protocol::Webrtc);
    assert!(started.created_at.is_some());
    g.emulator.emulator.advance_clock(5.0).expect("clock advanced");
    let active = get(&mut g, &started.arn).await.expect("get");
    assert_eq!(active.status(), pb::StreamSessionStatus::Active);
    assert!(!active.signal_response.is_empty());
    assert_eq!(active.location, "us-west-2");

    let id = started.arn.rsplit('/').next().expect("id").to_string();
    g.emulator.admin(Method::POST, &format!("sessions/{id}/connect"), None).await;
    assert_eq!(get(&mut g, &id).await.expect("get").status(), pb::StreamSessionStatus::Connected);
    g.emulator.admin(Method::POST, &format!("sessions/{id}/disconnect"), None).await;

    let conn = g
        .client
        .create_stream_session_connection(pb::CreateStreamSessionConnectionRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: id.clone(),
            signal_request: "second offer".into(),
            request_id: "reconnect-1".into(),
            wait_for_active: false,
        })
        .await
        .expect("CreateStreamSessionConnection")
        .into_inner();
    assert!(!conn.signal_response.is_empty());
    let session = conn.stream_session.expect("session read after the connection");
    assert_eq!(session.status(), pb::StreamSessionStatus::Reconnecting);
    assert_eq!(session.signal_response, conn.signal_response);

    g.emulator.emulator.advance_clock(1.0).expect("clock advanced");
    g.client
        .export_stream_session_files(pb::ExportStreamSessionFilesRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: id.clone(),
            output_uri: "s3://bucket/exports/".into(),
            request_id: String::new(),
        })
        .await
        .expect("ExportStreamSessionFiles");
    g.client
        .terminate_stream_session(pb::TerminateStreamSessionRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: id.clone(),
            request_id: String::new(),
        })
        .await
        .expect("TerminateStreamSession");
    g.emulator.emulator.advance_clock(2.0).expect("clock advanced");
    let ended = get(&mut g, &id).await.expect("get");
    assert_eq!(ended.status(), pb::StreamSessionStatus::Terminated);
    assert_eq!(ended.status_reason(), pb::StreamSessionStatusReason::ApiTerminated);
    let export = ended.export_files_metadata.expect("export");
    assert_eq!(
        (export.status(), export.output_uri.as_str()),
        (pb::ExportFilesStatus::Succeeded, "s3://bucket/exports/")
    );
}

#[tokio::test]
async fn lists_page_and_filter() {
    let mut g = gateway().await;
    let mut arns = Vec::new();
    for _ in 0..3 {
        arns.push(start(&mut g).await.arn);
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = g
            .client
            .list_stream_sessions(pb::ListStreamSessionsRequest {
                stream_group_identifier: GROUP.into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("ListStreamSessions")
            .into_inner();
        listed.extend(page.stream_sessions.into_iter().map(|s| s.arn));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed, arns);
    // AIP-158: 0 is the default size, a size above the maximum is the maximum.
    for page_size in [0, 1000, i32::MAX] {
        let request =
            pb::ListStreamSessionsRequest { stream_group_identifier: GROUP.into(), page_size, ..Default::default() };
        let page = g.client.list_stream_sessions(request).await.expect("one page").into_inner();
        assert_eq!(page.stream_sessions.len(), 3, "page_size {page_size}");
        let by_account = pb::ListStreamSessionsByAccountRequest { page_size, ..Default::default() };
        g.client.list_stream_sessions_by_account(by_account).await.expect("one page by account");
    }
    assert_eq!(g.emulator.emulator.call_count("ListStreamSessions", "ValidationException"), 0);
    let active = g
        .client
        .list_stream_sessions_by_account(pb::ListStreamSessionsByAccountRequest {
            status: pb::StreamSessionStatus::Active.into(),
            ..Default::default()
        })
        .await
        .expect("ListStreamSessionsByAccount");
    assert!(active.into_inner().stream_sessions.is_empty());
    let activating = g
        .client
        .list_stream_sessions_by_account(pb::ListStreamSessionsByAccountRequest {
            status: pb::StreamSessionStatus::Activating.into(),
            ..Default::default()
        })
        .await
        .expect("ListStreamSessionsByAccount");
    assert_eq!(activating.into_inner().stream_sessions.len(), 3);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field_and_never_reaches_aws() {
    let mut g = gateway().await;
    type Edit = fn(&mut pb::StartStreamSessionRequest);
    let cases: Vec<(Edit, &str)> = vec![
        (|r| r.stream_group_identifier.clear(), "stream_group_identifier"),
        (|r| r.stream_group_identifier = "sg/../x".into(), "stream_group_identifier"),
        (|r| r.application_identifier = "a".repeat(129), "application_identifier"),
        (|r| r.signal_request.clear(), "signal_request"),
        (|r| r.protocol = 7, "protocol"),
        (|r| r.connection_timeout_seconds = Some(0), "connection_timeout_seconds"),
        (|r| r.connection_timeout_seconds = Some(3601), "connection_timeout_seconds"),
        (|r| r.session_length_seconds = Some(86_401), "session_length_seconds"),
        (|r| r.description = "x".repeat(81), "description"),
        (|r| r.description = " leading space".into(), "description"),
        (|r| r.user_id = "has space".into(), "user_id"),
        (|r| r.locations = vec!["us west".into()], "locations[0]"),
        (|r| r.additional_launch_args = vec!["-x".into(); 101], "additional_launch_args"),
        (
            |r| {
                r.additional_environment_variables.insert("1BAD".into(), "v".into());
            },
            "additional_environment_variables[\"1BAD\"]",
        ),
        (|r| r.role_arn = "arn:aws:iam::1:role/x".into(), "role_arn"),
        (
            |r| {
                r.display_configuration =
                    Some(pb::DisplayConfiguration { resolution: Some(pb::Resolution { width: 320, height: 5000 }) })
            },
            "display_configuration.resolution.height",
        ),
        (|r| r.request_id = "has space".into(), "request_id"),
        (|r| r.request_id = "x".repeat(129), "request_id"),
    ];
    for (edit, field) in cases {
        let mut req = start_request();
        edit(&mut req);
        let status = g.client.start_stream_session(req).await.expect_err(field);
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(bad_fields(&status), [field.to_string()], "{field}");
        assert_eq!(reason(&status), "INVALID_FIELD");
        assert!(!status.message().contains("offer"), "no signal request in messages");
    }
    let list = g
        .client
        .list_stream_sessions(pb::ListStreamSessionsRequest {
            stream_group_identifier: GROUP.into(),
            page_size: -1,
            status: 42,
            ..Default::default()
        })
        .await
        .expect_err("bad list");
    assert_eq!(bad_fields(&list), ["status", "page_size"]);
    let export = g
        .client
        .export_stream_session_files(pb::ExportStreamSessionFilesRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: "abc".into(),
            output_uri: "https://not-s3".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("bad uri");
    assert_eq!(bad_fields(&export), ["output_uri"]);
    let get = g.client.get_stream_session(pb::GetStreamSessionRequest::default()).await.expect_err("empty");
    assert_eq!(bad_fields(&get), ["stream_group_identifier", "stream_session_identifier"]);
    assert!(g.emulator.emulator.calls().is_empty(), "the emulator saw {:?}", g.emulator.emulator.calls());
}

#[tokio::test]
async fn unknown_sessions_are_not_found_with_resource_info_and_the_aws_request_id() {
    let mut g = gateway().await;
    let status = get(&mut g, "NoSuchSession1").await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!((info.reason.as_str(), info.domain.as_str()), ("NOT_FOUND", "gameliftstreams.amazonaws.com"));
    assert_eq!(info.metadata.get("awsRequestId").map(String::len), Some(36));
    let resource = details.resource_info().expect("ResourceInfo");
    assert_eq!((resource.resource_type.as_str(), resource.resource_name.as_str()), ("StreamSession", "NoSuchSession1"));
}

/// The ResourceInfo of a NOT_FOUND: (type, name).
fn missing(status: Result<impl std::fmt::Debug, tonic::Status>) -> (String, String) {
    let status = status.expect_err("not found");
    assert_eq!((status.code(), reason(&status)), (Code::NotFound, "NOT_FOUND".to_string()), "{status:?}");
    let details = status.get_error_details();
    let resource = details.resource_info().expect("ResourceInfo");
    (resource.resource_type.clone(), resource.resource_name.clone())
}

#[tokio::test]
async fn every_not_found_names_the_resource_that_is_missing() {
    let mut g = gateway().await;
    let session = start(&mut g).await.arn;
    let (no_app, no_group, no_session) = ("a-999999999", "sg-999999999", "ss-999999999");
    let c = &mut g.client;
    let start = |group: &str, app: &str| pb::StartStreamSessionRequest {
        stream_group_identifier: group.into(),
        application_identifier: app.into(),
        ..support::start_request()
    };
    let typed = |kind: &str, name: &str| (kind.to_string(), name.to_string());
    assert_eq!(missing(c.start_stream_session(start(GROUP, no_app)).await), typed("Application", no_app));
    assert_eq!(missing(c.start_stream_session(start(no_group, support::APP)).await), typed("StreamGroup", no_group));
    let get = |group: &str, session: &str| pb::GetStreamSessionRequest {
        stream_group_identifier: group.into(),
        stream_session_identifier: session.into(),
    };
    assert_eq!(missing(c.get_stream_session(get(GROUP, no_session)).await), typed("StreamSession", no_session));
    assert_eq!(missing(c.get_stream_session(get(no_group, &session)).await), typed("StreamGroup", no_group));
    let list = pb::ListStreamSessionsRequest { stream_group_identifier: no_group.into(), ..Default::default() };
    assert_eq!(missing(c.list_stream_sessions(list).await), typed("StreamGroup", no_group));
    let terminate = |group: &str, session: &str| pb::TerminateStreamSessionRequest {
        stream_group_identifier: group.into(),
        stream_session_identifier: session.into(),
        ..Default::default()
    };
    assert_eq!(
        missing(c.terminate_stream_session(terminate(GROUP, no_session)).await),
        typed("StreamSession", no_session)
    );
    assert_eq!(
        missing(c.terminate_stream_session(terminate(no_group, &session)).await),
        typed("StreamGroup", no_group)
    );
    let connect = |group: &str, session: &str| pb::CreateStreamSessionConnectionRequest {
        stream_group_identifier: group.into(),
        stream_session_identifier: session.into(),
        signal_request: "offer 2".into(),
        ..Default::default()
    };
    let connection = c.create_stream_session_connection(connect(GROUP, no_session)).await;
    assert_eq!(missing(connection), typed("StreamSession", no_session));
    let connection = c.create_stream_session_connection(connect(no_group, &session)).await;
    assert_eq!(missing(connection), typed("StreamGroup", no_group));
    let export = |group: &str, session: &str| pb::ExportStreamSessionFilesRequest {
        stream_group_identifier: group.into(),
        stream_session_identifier: session.into(),
        output_uri: "s3://bucket/files.zip".into(),
        request_id: String::new(),
    };
    assert_eq!(
        missing(c.export_stream_session_files(export(GROUP, no_session)).await),
        typed("StreamSession", no_session)
    );
    assert_eq!(
        missing(c.export_stream_session_files(export(no_group, &session)).await),
        typed("StreamGroup", no_group)
    );
}

#[tokio::test]
async fn reconnecting_in_the_wrong_state_is_failed_precondition() {
    let mut g = gateway().await;
    let s = start(&mut g).await;
    let status = g
        .client
        .create_stream_session_connection(pb::CreateStreamSessionConnectionRequest {
            stream_group_identifier: GROUP.into(),
            stream_session_identifier: s.arn,
            signal_request: "offer 2".into(),
            ..Default::default()
        })
        .await
        .expect_err("ACTIVATING");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "CONFLICT");
}

#[tokio::test]
async fn upstream_failures_are_unavailable_with_retry_info() {
    let mut g = gateway().await;
    let s = start(&mut g).await;
    let cases = [
        (FaultRule { internal_error: 1.0, count: Some(1), ..FaultRule::default() }, "UPSTREAM_INTERNAL_ERROR"),
        (FaultRule { throttle: 1.0, count: Some(1), ..FaultRule::default() }, "THROTTLED"),
        (FaultRule { drop_connection: 1.0, count: Some(1), ..FaultRule::default() }, "UPSTREAM_UNREACHABLE"),
    ];
    for (rule, expected) in cases {
        g.emulator.emulator.add_fault(rule).expect("fault");
        let status = get(&mut g, &s.arn).await.expect_err(expected);
        assert_eq!(status.code(), Code::Unavailable, "{expected}: {status:?}");
        assert_eq!(reason(&status), expected);
        assert!(status.get_error_details().retry_info().is_some(), "{expected}");
    }
    get(&mut g, &s.arn).await.expect("faults spent");
}

#[tokio::test]
async fn upstream_validation_is_invalid_argument() {
    let mut g = gateway().await;
    let mut req = start_request();
    req.locations = vec!["eu-central-1".into()];
    let status = g.client.start_stream_session(req).await.expect_err("location not in the group");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(reason(&status), "UPSTREAM_VALIDATION");
    assert_eq!(g.emulator.emulator.call_count("StartStreamSession", "ValidationException"), 1);
}

#[tokio::test]
async fn health_serves_and_reflection_lists_the_service() {
    let g = gateway().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(g.channel.clone());
    for service in ["", "gamelift.streams.v1.StreamSessions"] {
        let resp =
            health.check(tonic_health::pb::HealthCheckRequest { service: service.into() }).await.expect("health check");
        assert_eq!(resp.into_inner().status(), tonic_health::pb::health_check_response::ServingStatus::Serving);
    }
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut reflection = ServerReflectionClient::new(g.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream =
        reflection.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection").into_inner();
    let reply = stream.message().await.expect("reply").expect("one reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reflection reply {reply:?}")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"gamelift.streams.v1.StreamSessions".to_string()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_string()), "{names:?}");

    // The older v1alpha (grpcio-reflection, many GUI tools) serves both proto files.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::FileContainingSymbol("gamelift.streams.v1.ErrorReason".into())),
    };
    let mut alpha = AlphaClient::new(g.channel.clone());
    let mut stream = alpha.server_reflection_info(tokio_stream::iter([request])).await.expect("v1alpha").into_inner();
    let reply = stream.message().await.expect("reply").expect("one reply");
    let Some(AlphaResponse::FileDescriptorResponse(files)) = reply.message_response else {
        panic!("unexpected v1alpha reply {reply:?}")
    };
    let file = <prost_types::FileDescriptorProto as prost::Message>::decode(files.file_descriptor_proto[0].as_slice());
    let file = file.expect("a file");
    assert_eq!(file.name(), "gamelift/streams/v1/error_reason.proto");

    // The standard error details too, on both versions (grpcurl prints them).
    let symbol = |name: &str| tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::FileContainingSymbol(name.into())),
    };
    for (symbol_name, file_name) in [
        ("google.rpc.ErrorInfo", "google/rpc/error_details.proto"),
        ("google.rpc.QuotaFailure", "google/rpc/error_details.proto"),
        ("google.rpc.Status", "google/rpc/status.proto"),
    ] {
        let mut stream = alpha
            .server_reflection_info(tokio_stream::iter([symbol(symbol_name)]))
            .await
            .expect("v1alpha")
            .into_inner();
        let reply = stream.message().await.expect("reply").expect("one reply");
        let Some(AlphaResponse::FileDescriptorResponse(files)) = reply.message_response else {
            panic!("{symbol_name}: unexpected v1alpha reply {reply:?}")
        };
        let names: Vec<String> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| {
                <prost_types::FileDescriptorProto as prost::Message>::decode(bytes.as_slice()).expect("a file")
            })
            .map(|file| file.name().to_string())
            .collect();
        assert_eq!(names.first().map(String::as_str), Some(file_name), "{symbol_name}: {names:?}");
    }
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol("google.rpc.ErrorInfo".into())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter([request])).await.expect("v1").into_inner();
    let reply = stream.message().await.expect("reply").expect("one reply");
    assert!(matches!(reply.message_response, Some(MessageResponse::FileDescriptorResponse(_))), "v1: {reply:?}");
}

#[tokio::test]
async fn draining_finishes_the_call_in_flight() {
    let mut g = gateway().await;
    let s = start(&mut g).await;
    // The fault is taken (and removed) when the call arrives; the answer then
    // waits 1.5 s upstream.
    let slow = FaultRule {
        operation: Some("GetStreamSession".into()),
        latency_ms: 1500,
        count: Some(1),
        ..FaultRule::default()
    };
    g.emulator.emulator.add_fault(slow).expect("fault");
    let mut client = g.client.clone();
    let arn = s.arn.clone();
    let in_flight = tokio::spawn(async move {
        let req = pb::GetStreamSessionRequest { stream_group_identifier: GROUP.into(), stream_session_identifier: arn };
        client.get_stream_session(req).await
    });
    let arrived = async {
        while !g.emulator.emulator.faults().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), arrived).await.expect("the call reached the emulator");
    assert!(!g.emulator.emulator.calls().contains_key("GetStreamSession"), "still unanswered when the drain begins");
    assert!(g.gateway.drain(Duration::from_secs(10)).await, "drained within the grace period");
    let answered = in_flight.await.expect("task").expect("the in-flight call completed").into_inner();
    assert_eq!(answered.stream_session.expect("session").arn, s.arn);
    assert_eq!(g.emulator.emulator.call_count("GetStreamSession", "Success"), 1);
}
