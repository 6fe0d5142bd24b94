//! The Stages service (IVS Real-Time) end to end: the gateway in front of the
//! emulator over real HTTP through `aws-sdk-ivsrealtime`: every RPC, input
//! refused before any call, errors in IVS Real-Time's domain, retries that
//! never create a second stage, request_id replay, and the participants
//! watch.

mod support;

use std::time::Duration;

use gamelift_streams_gateway::emulator::FaultRule;
use gamelift_streams_gateway::proto::ivs as pb;
use gamelift_streams_gateway::sessions::RetryPolicy;
use support::stages::{stages_with, StagesHarness};
use support::{reason, unlimited};
use tokio_stream::StreamExt;
use tonic::{Code, Streaming};
use tonic_types::StatusExt;

use pb::ParticipantEventName as Name;
use pb::ParticipantTokenCapability as Cap;

fn fast_policy() -> RetryPolicy {
    RetryPolicy { base_delay: Duration::from_millis(1), max_delay: Duration::from_millis(5), ..RetryPolicy::default() }
}

async fn harness() -> StagesHarness {
    stages_with(unlimited(), fast_policy()).await
}

const CHANNEL: &str = "arn:aws:ivs:us-west-2:111122223333:channel/abcdEFGH1234";

fn metadata(status: &tonic::Status, key: &str) -> Option<String> {
    status.get_error_details().error_info().and_then(|i| i.metadata.get(key).cloned())
}

#[tokio::test]
async fn every_unary_rpc_reaches_ivs_real_time_through_the_sdk() {
    let mut h = harness().await;
    let created = h
        .client
        .create_stage(pb::CreateStageRequest {
            name: "lobby-1".into(),
            participant_token_configurations: vec![pb::ParticipantTokenConfiguration {
                user_id: "host".into(),
                duration_minutes: Some(60),
                ..Default::default()
            }],
            request_id: "create-lobby-1".into(),
        })
        .await
        .expect("CreateStage")
        .into_inner();
    let stage = created.stage.expect("stage");
    assert!(stage.arn.starts_with("arn:aws:ivs:us-west-2:"), "{}", stage.arn);
    assert_eq!(stage.name, "lobby-1");
    assert!(stage.endpoints.as_ref().is_some_and(|e| !e.whip.is_empty()), "{stage:?}");
    assert_eq!(created.participant_tokens.len(), 1);
    assert_eq!(created.participant_tokens[0].user_id, "host");
    assert_eq!(created.participant_tokens[0].duration_minutes, 60);
    let other = h.stage("lobby-2").await;

    let got = h.client.get_stage(pb::GetStageRequest { stage_arn: stage.arn.clone() }).await.expect("GetStage");
    assert_eq!(got.into_inner().stage.expect("stage").name, "lobby-1");
    let first = h.client.list_stages(pb::ListStagesRequest { page_size: 1, ..Default::default() }).await.expect("page");
    let first = first.into_inner();
    assert_eq!(first.stages.len(), 1);
    assert!(!first.next_page_token.is_empty(), "two stages, pages of one");
    let second = pb::ListStagesRequest { page_size: 1, page_token: first.next_page_token };
    let second = h.client.list_stages(second).await.expect("page 2").into_inner();
    let mut arns: Vec<String> = first.stages.into_iter().chain(second.stages).map(|s| s.arn).collect();
    arns.sort();
    let mut expected = vec![stage.arn.clone(), other.clone()];
    expected.sort();
    assert_eq!(arns, expected);
    let renamed =
        pb::UpdateStageRequest { stage_arn: stage.arn.clone(), name: Some("lobby-one".into()), ..Default::default() };
    let renamed = h.client.update_stage(renamed).await.expect("UpdateStage").into_inner();
    assert_eq!(renamed.stage.expect("stage").name, "lobby-one");

    let player = h.token(&stage.arn, "player-1", &[Cap::Publish, Cap::Subscribe]).await;
    let spectator = h.token(&stage.arn, "spectator-1", &[Cap::Subscribe]).await;
    assert_eq!(spectator.capabilities, vec![i32::from(Cap::Subscribe)]);
    assert!(!player.token.is_empty() && player.expiration_time.is_some());
    let session = h.join(&player.token).await;
    assert_eq!(h.join(&spectator.token).await, session, "one session for the stage");
    h.act(&player.participant_id, "publish", None).await;

    let sessions = pb::ListStageSessionsRequest { stage_arn: stage.arn.clone(), ..Default::default() };
    let sessions = h.client.list_stage_sessions(sessions).await.expect("ListStageSessions").into_inner();
    assert_eq!(sessions.stage_sessions.iter().map(|s| s.session_id.as_str()).collect::<Vec<_>>(), [session.as_str()]);
    let got = pb::GetStageSessionRequest { stage_arn: stage.arn.clone(), session_id: session.clone() };
    let got = h.client.get_stage_session(got).await.expect("GetStageSession").into_inner().stage_session;
    let got = got.expect("session");
    assert!(got.start_time.is_some() && got.end_time.is_none(), "{got:?}");

    let listed =
        pb::ListParticipantsRequest { stage_arn: stage.arn.clone(), session_id: session.clone(), ..Default::default() };
    let listed = h.client.list_participants(listed).await.expect("ListParticipants").into_inner().participants;
    assert_eq!(listed.len(), 2);
    let publishers = pb::ListParticipantsRequest {
        stage_arn: stage.arn.clone(),
        session_id: session.clone(),
        filter_by_published: Some(true),
        ..Default::default()
    };
    let publishers = h.client.list_participants(publishers).await.expect("filtered").into_inner().participants;
    assert_eq!(publishers.iter().map(|p| p.user_id.as_str()).collect::<Vec<_>>(), ["player-1"]);
    let participant = pb::GetParticipantRequest {
        stage_arn: stage.arn.clone(),
        session_id: session.clone(),
        participant_id: player.participant_id.clone(),
    };
    let participant = h.client.get_participant(participant).await.expect("GetParticipant").into_inner().participant;
    let participant = participant.expect("participant");
    assert_eq!((participant.state(), participant.published), (pb::ParticipantState::Connected, true));
    let events = pb::ListParticipantEventsRequest {
        stage_arn: stage.arn.clone(),
        session_id: session.clone(),
        participant_id: player.participant_id.clone(),
        ..Default::default()
    };
    let events = h.client.list_participant_events(events).await.expect("ListParticipantEvents").into_inner().events;
    let names: Vec<Name> = events.iter().map(pb::ParticipantEvent::name).collect();
    assert!(names.contains(&Name::Joined) && names.contains(&Name::PublishStarted), "{names:?}");

    let disconnect = pb::DisconnectParticipantRequest {
        stage_arn: stage.arn.clone(),
        participant_id: spectator.participant_id.clone(),
        reason: "kicked".into(),
        ..Default::default()
    };
    h.client.disconnect_participant(disconnect).await.expect("DisconnectParticipant");

    let start = pb::StartCompositionRequest {
        stage_arn: stage.arn.clone(),
        layout: Some(pb::LayoutConfiguration {
            grid: Some(pb::GridConfiguration { grid_gap: Some(4), ..Default::default() }),
            pip: None,
        }),
        destinations: vec![pb::DestinationConfiguration {
            name: "broadcast".into(),
            channel: Some(pb::ChannelDestinationConfiguration { channel_arn: CHANNEL.into(), ..Default::default() }),
            s3: None,
        }],
        request_id: "compose-lobby-1".into(),
    };
    let composition = h.client.start_composition(start).await.expect("StartComposition").into_inner().composition;
    let composition = composition.expect("composition");
    assert_eq!(composition.stage_arn, stage.arn);
    assert_eq!(composition.destinations.len(), 1);
    let got = pb::GetCompositionRequest { composition_arn: composition.arn.clone() };
    let got = h.client.get_composition(got).await.expect("GetComposition").into_inner().composition.expect("c");
    assert_eq!(got.arn, composition.arn);
    assert_eq!(got.layout.and_then(|l| l.grid).and_then(|g| g.grid_gap), Some(4));
    let listed = pb::ListCompositionsRequest { filter_by_stage_arn: stage.arn.clone(), ..Default::default() };
    let listed = h.client.list_compositions(listed).await.expect("ListCompositions").into_inner().compositions;
    assert_eq!(listed.iter().map(|c| c.arn.as_str()).collect::<Vec<_>>(), [composition.arn.as_str()]);
    let stop = pb::StopCompositionRequest { composition_arn: composition.arn.clone(), ..Default::default() };
    h.client.stop_composition(stop).await.expect("StopComposition");
    let stopping = pb::GetCompositionRequest { composition_arn: composition.arn.clone() };
    let stopping = h.client.get_composition(stopping).await.expect("read").into_inner().composition.expect("c");
    assert!(
        matches!(stopping.state(), pb::CompositionState::Stopping | pb::CompositionState::Stopped),
        "{:?}",
        stopping.state()
    );

    h.client
        .delete_stage(pb::DeleteStageRequest { stage_arn: other, ..Default::default() })
        .await
        .expect("DeleteStage");
    let left = h.client.list_stages(pb::ListStagesRequest::default()).await.expect("list").into_inner().stages;
    assert_eq!(left.iter().map(|s| s.arn.as_str()).collect::<Vec<_>>(), [stage.arn.as_str()]);
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_before_any_call() {
    let mut h = harness().await;
    let cases: Vec<(tonic::Status, &str)> = vec![
        (
            h.client.get_stage(pb::GetStageRequest { stage_arn: "stage-1".into() }).await.expect_err("not an ARN"),
            "stage_arn",
        ),
        (
            h.client
                .list_stages(pb::ListStagesRequest { page_size: -1, ..Default::default() })
                .await
                .expect_err("size"),
            "page_size",
        ),
        (
            h.client
                .create_stage(pb::CreateStageRequest { name: "no spaces".into(), ..Default::default() })
                .await
                .expect_err("name"),
            "name",
        ),
        (
            h.client
                .create_stage(pb::CreateStageRequest { request_id: "has space".into(), ..Default::default() })
                .await
                .expect_err("request_id"),
            "request_id",
        ),
        (
            h.client
                .create_participant_token(pb::CreateParticipantTokenRequest {
                    stage_arn: "arn:aws:ivs:us-west-2:111122223333:stage/abcdEFGH1234".into(),
                    configuration: Some(pb::ParticipantTokenConfiguration {
                        capabilities: vec![7],
                        duration_minutes: Some(0),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await
                .expect_err("capability"),
            "configuration.capabilities",
        ),
        (
            h.client
                .start_composition(pb::StartCompositionRequest {
                    stage_arn: "arn:aws:ivs:us-west-2:111122223333:stage/abcdEFGH1234".into(),
                    destinations: vec![pb::DestinationConfiguration {
                        channel: Some(pb::ChannelDestinationConfiguration::default()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .await
                .expect_err("destination"),
            "destinations[0].channel.channel_arn",
        ),
        (
            h.client
                .start_composition(pb::StartCompositionRequest {
                    stage_arn: "arn:aws:ivs:us-west-2:111122223333:stage/abcdEFGH1234".into(),
                    ..Default::default()
                })
                .await
                .expect_err("no destination"),
            "destinations",
        ),
    ];
    for (status, field) in cases {
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(reason(&status), "INVALID_FIELD");
        let details = status.get_error_details();
        let fields: Vec<String> = details
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert!(fields.iter().any(|f| f == field), "{field} not in {fields:?}");
        assert_eq!(details.error_info().map(|i| i.domain.as_str()), Some("ivsrealtime.amazonaws.com"));
    }
    assert!(h.emulator.emulator.calls().is_empty(), "nothing reached AWS: {:?}", h.emulator.emulator.calls());
}

#[tokio::test]
async fn errors_are_in_ivs_real_times_domain_and_name_the_missing_resource() {
    let mut h = harness().await;
    let missing = "arn:aws:ivs:us-west-2:111122223333:stage/NoSuchStage01";
    let status = h.client.get_stage(pb::GetStageRequest { stage_arn: missing.into() }).await.expect_err("404");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason(&status), "NOT_FOUND");
    let details = status.get_error_details();
    let info = details.error_info().expect("ErrorInfo");
    assert_eq!(info.domain, "ivsrealtime.amazonaws.com");
    assert_eq!(info.metadata.get("operation").map(String::as_str), Some("GetStage"));
    assert_eq!(info.metadata.get("awsErrorCode").map(String::as_str), Some("ResourceNotFoundException"));
    let resource = details.resource_info().expect("ResourceInfo");
    assert_eq!((resource.resource_type.as_str(), resource.resource_name.as_str()), ("Stage", missing));
    assert!(status.message().starts_with("IVS Real-Time ResourceNotFoundException: "), "{}", status.message());
    assert!(status.message().contains("NoSuchStage01"), "AWS's own message: {}", status.message());

    let stage = h.stage("quiet").await;
    let participant = pb::GetParticipantRequest {
        stage_arn: stage.clone(),
        session_id: "st-0000000000000".into(),
        participant_id: "nobody".into(),
    };
    let status = h.client.get_participant(participant).await.expect_err("404");
    assert_eq!(status.code(), Code::NotFound);

    h.emulator
        .emulator
        .add_fault(FaultRule { error: Some("PendingVerification".into()), ..FaultRule::default() })
        .expect("fault");
    let status = h.client.create_stage(pb::CreateStageRequest::default()).await.expect_err("pending");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "PENDING_VERIFICATION"));
}

#[tokio::test]
async fn throttling_is_retried_but_a_create_whose_answer_was_lost_is_never_sent_twice() {
    let mut h = harness().await;
    let stage = h.stage("retries").await;
    let e = &h.emulator.emulator;
    e.add_fault(FaultRule { operation: Some("GetStage".into()), throttle: 1.0, ..FaultRule::default() }).expect("f");
    let status = h.client.get_stage(pb::GetStageRequest { stage_arn: stage.clone() }).await.expect_err("throttled");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unavailable, "THROTTLED"));
    assert_eq!(metadata(&status, "attempts").as_deref(), Some("3"));
    assert_eq!(e.call_count("GetStage", "ThrottlingException"), 3);
    e.clear_faults();

    e.add_fault(FaultRule { operation: Some("CreateStage".into()), throttle: 1.0, ..FaultRule::default() }).expect("f");
    h.client.create_stage(pb::CreateStageRequest::default()).await.expect_err("throttled");
    assert_eq!(e.call_count("CreateStage", "ThrottlingException"), 3, "AWS did nothing: a throttled create is retried");
    e.clear_faults();

    let before = e.call_count("CreateStage", "Success");
    e.add_fault(FaultRule { operation: Some("CreateStage".into()), drop_response: 1.0, ..FaultRule::default() })
        .expect("f");
    let lost = pb::CreateStageRequest { request_id: "lost-answer".into(), ..Default::default() };
    let status = h.client.create_stage(lost.clone()).await.expect_err("answer lost");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::Unknown, "OUTCOME_UNKNOWN"), "{status:?}");
    assert_eq!(metadata(&status, "attempts").as_deref(), Some("1"));
    assert_eq!(metadata(&status, "gaveUp").as_deref(), Some("unrepeatable"));
    assert!(status.get_error_details().retry_info().is_none(), "not to be retried: {status:?}");
    e.clear_faults();
    let again = h.client.create_stage(lost).await.expect_err("the same answer");
    assert_eq!((again.code(), reason(&again).as_str()), (Code::Unknown, "OUTCOME_UNKNOWN"));
    let made = e.calls().get("CreateStage").map_or(0, |outcomes| outcomes.values().sum::<u64>()) - before - 3;
    assert_eq!(made, 1, "one CreateStage sent for the request_id: {:?}", e.calls());
    let stages = h.client.list_stages(pb::ListStagesRequest::default()).await.expect("list").into_inner().stages;
    assert_eq!(stages.len(), 2, "the lost answer's stage exists, and no second one: {stages:?}");

    // A token whose answer was lost is one nobody received: it is sent again.
    e.add_fault(FaultRule {
        operation: Some("CreateParticipantToken".into()),
        drop_response: 1.0,
        count: Some(1),
        ..FaultRule::default()
    })
    .expect("f");
    let token = h.token(&stage, "again", &[Cap::Subscribe]).await;
    assert!(!token.token.is_empty());
    let calls = h.emulator.emulator.calls();
    let sent = calls.get("CreateParticipantToken").map_or(0, |o| o.values().sum::<u64>());
    assert_eq!(sent, 2, "{calls:?}");
}

#[tokio::test]
async fn a_request_id_makes_one_stage_and_one_composition() {
    let mut h = harness().await;
    let create = pb::CreateStageRequest { name: "once".into(), request_id: "stage-once".into(), ..Default::default() };
    let first = h.client.create_stage(create.clone()).await.expect("first").into_inner().stage.expect("s");
    let again = h.client.create_stage(create.clone()).await.expect("replay").into_inner().stage.expect("s");
    assert_eq!(first.arn, again.arn);
    assert_eq!(h.emulator.emulator.call_count("CreateStage", "Success"), 1);
    let reused = pb::CreateStageRequest { name: "other".into(), ..create };
    let status = h.client.create_stage(reused).await.expect_err("reused");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "IDEMPOTENCY_KEY_REUSED"));

    // A StartComposition whose answer is lost is sent again with the same
    // idempotencyToken: AWS answers the first composition.
    let e = &h.emulator.emulator;
    e.add_fault(FaultRule { operation: Some("StartComposition".into()), drop_response: 0.5, ..FaultRule::default() })
        .expect("fault");
    let start = pb::StartCompositionRequest {
        stage_arn: first.arn.clone(),
        destinations: vec![pb::DestinationConfiguration {
            channel: Some(pb::ChannelDestinationConfiguration { channel_arn: CHANNEL.into(), ..Default::default() }),
            ..Default::default()
        }],
        request_id: "compose-once".into(),
        ..Default::default()
    };
    let mut started = Vec::new();
    for _ in 0..3 {
        if let Ok(response) = h.client.start_composition(start.clone()).await {
            started.push(response.into_inner().composition.expect("c").arn);
        }
    }
    e.clear_faults();
    let listed = pb::ListCompositionsRequest { filter_by_stage_arn: first.arn.clone(), ..Default::default() };
    let listed = h.client.list_compositions(listed).await.expect("list").into_inner().compositions;
    assert_eq!(listed.len(), 1, "one composition for one request_id: {listed:?}");
    assert!(started.iter().all(|arn| *arn == listed[0].arn), "{started:?}");
}

/// The next event of `watch` that is not a heartbeat.
async fn next_event(watch: &mut Streaming<pb::WatchStageParticipantsResponse>) -> pb::StageParticipantEvent {
    loop {
        let next = tokio::time::timeout(Duration::from_secs(10), watch.next()).await.expect("an event in time");
        let event = next.expect("stream open").expect("no error").event.expect("event");
        if event.kind() != pb::StageParticipantEventKind::Heartbeat {
            return event;
        }
    }
}

/// The next CHANGE of `watch`: what happened, to whom.
async fn next_change(
    watch: &mut Streaming<pb::WatchStageParticipantsResponse>,
) -> (Name, String, pb::ParticipantEventErrorCode) {
    let event = next_event(watch).await;
    assert_eq!(event.kind(), pb::StageParticipantEventKind::Change, "{event:?}");
    let change = event.participant_event.expect("what happened");
    (change.name(), event.participant.expect("who").user_id, change.error_code())
}

async fn watch(h: &mut StagesHarness, stage: &str) -> Streaming<pb::WatchStageParticipantsResponse> {
    let request = pb::WatchStageParticipantsRequest { stage_arn: stage.into() };
    h.client.watch_stage_participants(request).await.expect("watch").into_inner()
}

#[tokio::test]
async fn a_stage_watch_sees_every_join_publish_error_and_leave() {
    let mut h = harness().await;
    let stage = h.stage("arena").await;
    let mut first = watch(&mut h, &stage).await;
    assert_eq!(next_event(&mut first).await.kind(), pb::StageParticipantEventKind::Synced, "nobody on the stage yet");

    let player = h.token(&stage, "player", &[Cap::Publish, Cap::Subscribe]).await;
    let spectator = h.token(&stage, "spectator", &[Cap::Subscribe]).await;
    h.join(&player.token).await;
    assert_eq!(next_change(&mut first).await.0, Name::Joined);
    h.act(&player.participant_id, "publish", None).await;
    assert_eq!(next_change(&mut first).await.0, Name::PublishStarted);

    let mut second = watch(&mut h, &stage).await;
    let snapshot = next_event(&mut second).await;
    assert_eq!(snapshot.kind(), pb::StageParticipantEventKind::Snapshot);
    let seen = snapshot.participant.expect("participant");
    assert_eq!((seen.user_id.as_str(), seen.published), ("player", true));
    assert_eq!(next_event(&mut second).await.kind(), pb::StageParticipantEventKind::Synced);
    assert_eq!(h.watches.pollers(), 1, "one poller for the stage's two watchers");

    h.join(&spectator.token).await;
    h.act(
        &spectator.participant_id,
        "error",
        Some(serde_json::json!({"name": "PUBLISH_ERROR", "errorCode": "INSUFFICIENT_CAPABILITIES"})),
    )
    .await;
    let disconnect = pb::DisconnectParticipantRequest {
        stage_arn: stage.clone(),
        participant_id: spectator.participant_id.clone(),
        ..Default::default()
    };
    h.client.disconnect_participant(disconnect).await.expect("disconnect");
    h.act(&player.participant_id, "leave", None).await;
    for w in [&mut first, &mut second] {
        let mut spectator_saw = Vec::new();
        let mut player_saw = Vec::new();
        while !(spectator_saw.contains(&(Name::Left, Default::default())) && player_saw.contains(&Name::Left)) {
            let (name, user, code) = next_change(w).await;
            if user == "spectator" {
                spectator_saw.push((name, code));
            } else {
                player_saw.push(name);
            }
        }
        assert_eq!(spectator_saw.first(), Some(&(Name::Joined, Default::default())), "{spectator_saw:?}");
        assert!(
            spectator_saw.contains(&(Name::PublishError, pb::ParticipantEventErrorCode::InsufficientCapabilities)),
            "the error that changed nothing in the summary is seen too: {spectator_saw:?}"
        );
        assert!(player_saw.contains(&Name::PublishStopped), "{player_saw:?}");
    }
}

#[tokio::test]
async fn a_watch_of_an_unknown_or_deleted_stage_ends_with_not_found() {
    let mut h = harness().await;
    let mut unknown = watch(&mut h, "arn:aws:ivs:us-west-2:111122223333:stage/NoSuchStage01").await;
    let status = tokio::time::timeout(Duration::from_secs(10), unknown.next()).await.expect("in time").expect("item");
    let status = status.expect_err("NOT_FOUND");
    assert_eq!((status.code(), reason(&status).as_str()), (Code::NotFound, "NOT_FOUND"));

    let stage = h.stage("doomed").await;
    let mut doomed = watch(&mut h, &stage).await;
    assert_eq!(next_event(&mut doomed).await.kind(), pb::StageParticipantEventKind::Synced);
    h.client.delete_stage(pb::DeleteStageRequest { stage_arn: stage, ..Default::default() }).await.expect("deleted");
    let end = loop {
        let item = tokio::time::timeout(Duration::from_secs(10), doomed.next()).await.expect("in time").expect("item");
        match item {
            Ok(response)
                if response.event.as_ref().is_some_and(|e| e.kind() == pb::StageParticipantEventKind::Heartbeat) => {}
            other => break other,
        }
    };
    assert_eq!(end.expect_err("NOT_FOUND").code(), Code::NotFound);
}
