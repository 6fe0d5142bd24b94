//! The state machine alone, on explicit times: lifecycle, timeouts, placement, tokens.

use std::collections::BTreeMap;

use super::*;

const G: &str = SEEDED_STREAM_GROUP_ID;

fn world(capacity: u32) -> World {
    let config = WorldConfig {
        region: "us-west-2".into(),
        account_id: "111122223333".into(),
        capacity: vec![("us-west-2".into(), capacity)],
        timings: Timings::default(),
    };
    World::new(config, 0.0)
}

fn request(signal: &str) -> StartSession {
    StartSession {
        application_identifier: SEEDED_APPLICATION_ID.into(),
        protocol: "WebRTC".into(),
        signal_request: signal.into(),
        description: None,
        user_id: None,
        locations: Vec::new(),
        connection_timeout_seconds: None,
        session_length_seconds: None,
        additional_launch_args: Vec::new(),
        additional_environment_variables: BTreeMap::new(),
        performance_stats_configuration: None,
        role_arn: None,
        display_configuration: None,
    }
}

fn start(w: &mut World, at: Time) -> String {
    w.start_session(G, request("offer"), None, at).expect("start").id
}

fn status(w: &mut World, id: &str, at: Time) -> (SessionStatus, Option<StatusReason>) {
    let s = w.get_session(G, id, at).expect("get");
    (s.status, s.status_reason)
}

#[test]
fn a_whole_session_life_in_order() {
    let mut w = world(1);
    let id = start(&mut w, 0.0);
    assert_eq!(status(&mut w, &id, 4.9).0, SessionStatus::Activating);
    let active = w.get_session(G, &id, 5.0).expect("get");
    assert_eq!(active.status, SessionStatus::Active);
    assert!(active.signal_response.is_some());
    assert_eq!(active.application_started_at, Some(5.0));
    assert_eq!(w.client_connect(&id, 6.0).expect("connect").status, SessionStatus::Connected);
    let pending = w.client_disconnect(&id, 7.0).expect("disconnect");
    assert_eq!(pending.status, SessionStatus::PendingClientReconnection);
    w.create_connection(G, &id, "offer-2", None, 8.0).expect("reconnect");
    assert_eq!(status(&mut w, &id, 8.5).0, SessionStatus::Reconnecting);
    assert_eq!(status(&mut w, &id, 9.0).0, SessionStatus::Active);
    w.terminate_session(G, &id, 10.0).expect("terminate");
    assert_eq!(status(&mut w, &id, 10.0), (SessionStatus::Terminating, Some(StatusReason::ApiTerminated)));
    assert_eq!(status(&mut w, &id, 12.0), (SessionStatus::Terminated, Some(StatusReason::ApiTerminated)));
    assert_eq!(w.get_session(G, &id, 12.0).expect("get").streaming_ended_at, Some(12.0));
    assert_eq!(w.get_stream_group(G, 12.0).expect("group").location_states[0].idle_capacity, 1);
}

#[test]
fn no_client_within_the_connection_timeout_terminates() {
    let mut w = world(1);
    let id = start(&mut w, 0.0);
    assert_eq!(status(&mut w, &id, 124.9).0, SessionStatus::Active);
    assert_eq!(status(&mut w, &id, 125.0), (SessionStatus::Terminating, Some(StatusReason::ConnectionTimeout)));
    assert_eq!(status(&mut w, &id, 1000.0), (SessionStatus::Terminated, Some(StatusReason::ConnectionTimeout)));
}

#[test]
fn no_reconnection_within_the_connection_timeout_terminates() {
    let mut w = world(1);
    let mut req = request("offer");
    req.connection_timeout_seconds = Some(30);
    let id = w.start_session(G, req, None, 0.0).expect("start").id;
    w.client_connect(&id, 5.0).expect("connect");
    w.client_disconnect(&id, 100.0).expect("disconnect");
    assert_eq!(status(&mut w, &id, 129.0).0, SessionStatus::PendingClientReconnection);
    assert_eq!(status(&mut w, &id, 130.0), (SessionStatus::Terminating, Some(StatusReason::ReconnectionTimeout)));
}

#[test]
fn session_length_ends_even_a_connected_session() {
    let mut w = world(1);
    let mut req = request("offer");
    req.session_length_seconds = Some(60);
    let id = w.start_session(G, req, None, 0.0).expect("start").id;
    w.client_connect(&id, 6.0).expect("connect");
    assert_eq!(status(&mut w, &id, 64.0).0, SessionStatus::Connected);
    assert_eq!(status(&mut w, &id, 65.0), (SessionStatus::Terminating, Some(StatusReason::MaxSessionLengthTimeout)));
}

#[test]
fn a_session_waits_for_freed_capacity_and_a_later_one_times_out() {
    let mut w = world(1);
    let first = start(&mut w, 0.0);
    let second = start(&mut w, 1.0);
    let third = start(&mut w, 2.0);
    w.terminate_session(G, &first, 10.0).expect("terminate");
    // The first session releases its slot at 12 (TERMINATED); the second is placed then.
    assert_eq!(status(&mut w, &second, 16.9).0, SessionStatus::Activating);
    assert_eq!(status(&mut w, &second, 17.0).0, SessionStatus::Active);
    assert_eq!(w.get_session(G, &second, 17.0).expect("get").location.as_deref(), Some("us-west-2"));
    assert_eq!(status(&mut w, &third, 76.9).0, SessionStatus::Activating);
    assert_eq!(status(&mut w, &third, 77.0), (SessionStatus::Error, Some(StatusReason::PlacementTimeout)));
    assert!(w.get_session(G, &third, 77.0).expect("get").location.is_none());
}

#[test]
fn no_client_connection_waits_for_create_stream_session_connection() {
    let mut w = world(1);
    let id = w.start_session(G, request(NO_CLIENT_CONNECTION), None, 0.0).expect("start").id;
    let active = w.get_session(G, &id, 5.0).expect("get");
    assert_eq!(active.status, SessionStatus::Active);
    assert!(active.signal_response.is_none());
    assert!(matches!(w.client_connect(&id, 5.0), Err(ApiError::Conflict(_))));
    let answer = w.create_connection(G, &id, "browser-offer", None, 6.0).expect("connection");
    assert_eq!(status(&mut w, &id, 7.0).0, SessionStatus::Active);
    assert_eq!(w.get_session(G, &id, 7.0).expect("get").signal_response, Some(answer));
    assert_eq!(w.client_connect(&id, 7.0).expect("connect").status, SessionStatus::Connected);
}

#[test]
fn client_tokens_replay_the_first_result_and_refuse_other_parameters() {
    let mut w = world(1);
    let token = Some("t".repeat(32));
    let first = w.start_session(G, request("offer"), token.clone(), 0.0).expect("start");
    let again = w.start_session(G, request("offer"), token.clone(), 1.0).expect("replay");
    assert_eq!(first.arn, again.arn);
    assert_eq!(w.list_sessions(&SessionFilter::default(), 1.0).expect("list").len(), 1);
    let other = w.start_session(G, request("other offer"), token, 1.0);
    assert!(matches!(other, Err(ApiError::Conflict(_))));
    w.start_session(G, request("offer"), None, 1.0).expect("a start without a token");
    let made = BTreeMap::from([("t".repeat(32), first.arn.clone())]);
    assert_eq!(w.start_tokens(), made, "the token's one session; a start without a token is not listed");
    let ctoken = Some("c".repeat(32));
    let a = w.create_connection(G, &first.id, "o2", ctoken.clone(), 5.0).expect("connection");
    let b = w.create_connection(G, &first.id, "o2", ctoken, 5.5).expect("replay");
    assert_eq!(a, b);
}

#[test]
fn wrong_states_are_refused_as_aws_documents() {
    let mut w = world(1);
    let id = start(&mut w, 0.0);
    assert!(matches!(w.terminate_session(G, &id, 1.0), Err(ApiError::Validation(_))));
    assert!(matches!(w.create_connection(G, &id, "o", None, 1.0), Err(ApiError::Conflict(_))));
    assert!(matches!(w.export_files(G, &id, "s3://b/", 1.0), Err(ApiError::Validation(_))));
    assert!(matches!(w.get_session("sg-nope", &id, 1.0), Err(ApiError::ResourceNotFound(_))));
    assert!(matches!(w.get_session(G, "nope", 1.0), Err(ApiError::ResourceNotFound(_))));
}

#[test]
fn exports_succeed_when_the_session_ends() {
    let mut w = world(1);
    let id = start(&mut w, 0.0);
    w.export_files(G, &id, "s3://bucket/out/", 6.0).expect("export");
    let pending = SessionFilter { export_status: Some(ExportStatus::Pending), ..SessionFilter::default() };
    assert_eq!(w.list_sessions(&pending, 6.0).expect("list").len(), 1);
    w.terminate_session(G, &id, 7.0).expect("terminate");
    let s = w.get_session(G, &id, 9.0).expect("get");
    assert_eq!(s.export_files_metadata.map(|e| e.status), Some(ExportStatus::Succeeded));
}

#[test]
fn identifiers_accept_arns_of_this_account_only() {
    let mut w = world(1);
    let s = w.start_session(G, request("offer"), None, 0.0).expect("start");
    let group_arn = w.get_stream_group(G, 0.0).expect("group").arn;
    assert_eq!(w.get_session(&group_arn, &s.arn, 0.0).expect("by arn").id, s.id);
    let foreign = s.arn.replace("111122223333", "999999999999");
    assert!(matches!(w.get_session(G, &foreign, 0.0), Err(ApiError::ResourceNotFound(_))));
}

#[test]
fn new_groups_and_applications_provision_then_serve_sessions() {
    let mut w = world(1);
    let app = w
        .create_application(
            CreateApplication {
                description: "game".into(),
                runtime_environment: RuntimeEnvironment { kind: "UBUNTU".into(), version: "22_04_LTS".into() },
                executable_path: "bin/game".into(),
                application_source_uri: "s3://b/game".into(),
                application_log_paths: Vec::new(),
                application_log_output_uri: None,
            },
            None,
            0.0,
        )
        .expect("app");
    let group = w
        .create_stream_group(
            CreateStreamGroup {
                description: "g".into(),
                stream_class: "gen5n_ultra".into(),
                default_application_identifier: None,
                location_configurations: vec![LocationConfiguration {
                    location_name: "us-east-2".into(),
                    always_on_capacity: Some(2),
                    on_demand_capacity: None,
                    maximum_capacity: None,
                }],
            },
            None,
            0.0,
        )
        .expect("group");
    assert!(matches!(
        w.associate_applications(&group.id, std::slice::from_ref(&app.id), 1.0),
        Err(ApiError::Validation(_))
    ));
    let mut req = request("offer");
    req.application_identifier = app.id.clone();
    assert!(matches!(w.start_session(&group.id, req.clone(), None, 1.0), Err(ApiError::Conflict(_))));
    w.associate_applications(&group.id, std::slice::from_ref(&app.arn), 30.0).expect("associate");
    let s = w.start_session(&group.id, req, None, 30.0).expect("start");
    assert_eq!(w.get_session(&group.id, &s.id, 35.0).expect("get").location.as_deref(), Some("us-east-2"));
}
