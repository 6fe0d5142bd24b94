//! The IVS Real-Time state machine on its own, at chosen simulated times.

use serde_json::json;

use super::*;
use crate::emulator::errors::ApiError;
use crate::emulator::EmulatorConfig;

const T0: f64 = 1_800_000_000.0;

fn world() -> IvsWorld {
    IvsWorld::new(&EmulatorConfig::default().world)
}

fn token(capabilities: Option<&[&str]>, minutes: Option<i64>) -> TokenRequest {
    TokenRequest {
        duration: minutes,
        user_id: Some("user-1".into()),
        attributes: Some([("seat".to_string(), "1".to_string())].into()),
        capabilities: capabilities.map(|c| c.iter().map(|s| s.to_string()).collect()),
    }
}

fn stage_with_tokens(w: &mut IvsWorld, n: usize) -> (Stage, Vec<ParticipantToken>) {
    w.create_stage("s".into(), StringMap::new(), None, &vec![token(None, None); n], T0)
}

fn names(w: &IvsWorld, stage: &str, session: &str, id: &str) -> Vec<String> {
    w.list_events(stage, session, id).into_iter().map(|e| e.name).collect()
}

#[test]
fn tokens_default_to_both_capabilities_and_twelve_hours() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 1);
    assert_eq!(tokens[0].capabilities, ["PUBLISH", "SUBSCRIBE"]);
    assert_eq!(tokens[0].duration, DEFAULT_TOKEN_MINUTES);
    assert_eq!(tokens[0].expiration_time, T0 + 720.0 * 60.0);
    assert_eq!(tokens[0].token.split('.').count(), 3, "JWT-shaped");
    let t = w.create_token(&stage.arn, &token(Some(&["SUBSCRIBE"]), Some(5)), T0).expect("token");
    assert_eq!(t.capabilities, ["SUBSCRIBE"]);
    assert_eq!(t.expiration_time, T0 + 300.0);
    assert!(matches!(
        w.create_token("arn:aws:ivs:us-west-2:1:stage/nope", &TokenRequest::default(), T0),
        Err(ApiError::ResourceNotFound(_))
    ));
}

#[test]
fn the_first_join_starts_a_session_and_the_last_leave_ends_it() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 2);
    assert_eq!(w.get_stage(&stage.arn).expect("stage").active_session_id, None);
    let a = w.join(&tokens[0].token, T0 + 1.0).expect("joins");
    assert!(a.session_id.starts_with("st-") && a.session_id.len() == 16, "{}", a.session_id);
    assert_eq!(w.get_stage(&stage.arn).expect("stage").active_session_id.as_deref(), Some(a.session_id.as_str()));
    let b = w.join(&tokens[1].token, T0 + 2.0).expect("joins");
    assert_eq!(b.session_id, a.session_id, "the second joins the same session");
    assert_eq!(a.participant.user_id.as_deref(), Some("user-1"));
    assert_eq!(a.participant.attributes["seat"], "1");
    w.leave(&tokens[0].participant_id, T0 + 3.0).expect("leaves");
    assert_eq!(w.get_session(&stage.arn, &a.session_id).expect("session").end_time, None);
    w.leave(&tokens[1].participant_id, T0 + 4.0).expect("leaves");
    let session = w.get_session(&stage.arn, &a.session_id).expect("session");
    assert_eq!((session.start_time, session.end_time), (T0 + 1.0, Some(T0 + 4.0)));
    assert_eq!(w.get_stage(&stage.arn).expect("stage").active_session_id, None);
    let again = w.join(&tokens[0].token, T0 + 5.0).expect("a new session");
    assert_ne!(again.session_id, a.session_id);
    let sessions: Vec<String> = w.list_sessions(&stage.arn).into_iter().map(|s| s.session_id).collect();
    assert_eq!(sessions, [again.session_id.clone(), a.session_id.clone()], "newest first");
}

#[test]
fn events_follow_publishing_and_subscriptions_in_the_order_they_happen() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 2);
    let (pubr, sub) = (&tokens[0].participant_id, &tokens[1].participant_id);
    let session = w.join(&tokens[0].token, T0).expect("joins").session_id;
    w.join(&tokens[1].token, T0).expect("joins");
    let missing = w.subscribe(sub, pubr, T0 + 1.0).expect("an event, not an error");
    assert!(!missing.participant.published);
    assert!(w.publish(pubr, T0 + 2.0).expect("publishes").participant.published);
    w.subscribe(sub, pubr, T0 + 3.0).expect("subscribes");
    let after = w.unpublish(pubr, T0 + 4.0).expect("unpublishes");
    assert!(after.participant.published, "published means 'ever published' (AWS)");
    w.leave(pubr, T0 + 5.0).expect("leaves");
    assert_eq!(names(&w, &stage.arn, &session, pubr), ["JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"]);
    let events = w.list_events(&stage.arn, &session, sub);
    let got: Vec<(&str, Option<&str>, Option<&str>)> =
        events.iter().map(|e| (e.name.as_str(), e.remote_participant_id.as_deref(), e.error_code.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("JOINED", None, None),
            ("SUBSCRIBE_ERROR", Some(pubr.as_str()), Some("PUBLISHER_NOT_FOUND")),
            ("SUBSCRIBE_STARTED", Some(pubr.as_str()), None),
            ("SUBSCRIBE_STOPPED", Some(pubr.as_str()), None),
        ]
    );
    assert_eq!(events.iter().map(|e| e.event_time).collect::<Vec<_>>(), [T0, T0 + 1.0, T0 + 3.0, T0 + 4.0]);
    let published: Vec<bool> = w.list_participants(&stage.arn, &session).iter().map(|p| p.published).collect();
    assert_eq!(published, [true, false]);
}

#[test]
fn publishing_needs_the_publish_capability() {
    let mut w = world();
    let (stage, _) = stage_with_tokens(&mut w, 0);
    let t = w.create_token(&stage.arn, &token(Some(&["SUBSCRIBE"]), None), T0).expect("token");
    let session = w.join(&t.token, T0).expect("joins").session_id;
    assert!(!w.publish(&t.participant_id, T0 + 1.0).expect("an event").participant.published);
    let events = w.list_events(&stage.arn, &session, &t.participant_id);
    assert_eq!(events[1].name, "PUBLISH_ERROR");
    assert_eq!(events[1].error_code.as_deref(), Some("INSUFFICIENT_CAPABILITIES"));
}

#[test]
fn a_disconnected_participant_cannot_join_again() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 2);
    let session = w.join(&tokens[0].token, T0).expect("joins").session_id;
    w.join(&tokens[1].token, T0).expect("joins");
    w.disconnect_participant(&stage.arn, &tokens[0].participant_id, T0 + 1.0).expect("disconnects");
    let p = w.get_participant(&stage.arn, &session, &tokens[0].participant_id).expect("still listed");
    assert_eq!(p.state, ParticipantState::Disconnected);
    assert!(matches!(w.join(&tokens[0].token, T0 + 2.0), Err(ApiError::Validation(_))));
    assert_eq!(names(&w, &stage.arn, &session, &tokens[0].participant_id), ["JOINED", "LEFT", "JOIN_ERROR"]);
    assert!(matches!(w.disconnect_participant(&stage.arn, "nobody", T0), Err(ApiError::ResourceNotFound(_))));
    assert!(matches!(w.join("not-a-token", T0), Err(ApiError::Validation(_))));
}

#[test]
fn an_expired_token_is_refused_and_a_connected_one_cannot_join_twice() {
    let mut w = world();
    let (stage, _) = stage_with_tokens(&mut w, 0);
    let t = w.create_token(&stage.arn, &token(None, Some(1)), T0).expect("token");
    w.join(&t.token, T0 + 10.0).expect("joins");
    assert!(matches!(w.join(&t.token, T0 + 20.0), Err(ApiError::Conflict(_))));
    w.leave(&t.participant_id, T0 + 30.0).expect("leaves");
    assert!(matches!(w.join(&t.token, T0 + 60.0), Err(ApiError::Validation(_))), "expired at T0 + 60");
}

#[test]
fn rejoining_the_same_session_keeps_the_first_join_time() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 2);
    let session = w.join(&tokens[0].token, T0).expect("joins").session_id;
    w.join(&tokens[1].token, T0 + 1.0).expect("joins");
    w.leave(&tokens[1].participant_id, T0 + 2.0).expect("leaves");
    let back = w.join(&tokens[1].token, T0 + 3.0).expect("rejoins");
    assert_eq!(back.session_id, session);
    assert_eq!(back.participant.first_join_time, T0 + 1.0);
    assert_eq!(back.participant.state, ParticipantState::Connected);
    assert_eq!(names(&w, &stage.arn, &session, &tokens[1].participant_id), ["JOINED", "LEFT", "JOINED"]);
}

#[test]
fn deleting_a_stage_disconnects_everyone_and_forgets_it() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 1);
    let seat = w.join(&tokens[0].token, T0).expect("joins");
    w.delete_stage(&stage.arn, T0 + 1.0).expect("deletes");
    assert!(matches!(w.get_stage(&stage.arn), Err(ApiError::ResourceNotFound(_))));
    assert!(matches!(w.get_session(&stage.arn, &seat.session_id), Err(ApiError::ResourceNotFound(_))));
    assert!(matches!(w.leave(&tokens[0].participant_id, T0 + 2.0), Err(ApiError::ResourceNotFound(_))));
    let refused = w.join(&tokens[0].token, T0 + 2.0).expect_err("refused");
    assert!(refused.to_string().contains("deleted"), "{refused}");
    assert!(w.list_stages().is_empty());
}

fn channel_request() -> CompositionRequest {
    CompositionRequest {
        layout: json!({}),
        destinations: vec![json!({"channel": {"channelArn": "arn:aws:ivs:us-west-2:111122223333:channel/abc"}})],
        tags: StringMap::new(),
    }
}

#[test]
fn a_composition_starts_runs_and_stops_on_the_clock() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 1);
    w.join(&tokens[0].token, T0).expect("joins");
    let c = w.start_composition(&stage.arn, Some("tok"), channel_request(), T0).expect("starts");
    assert!(c.arn.contains(":composition/"));
    assert_eq!(c.state, CompositionState::Starting);
    assert_eq!(c.destinations[0].state, CompositionState::Starting);
    let same = w.start_composition(&stage.arn, Some("tok"), channel_request(), T0 + 1.0).expect("replayed");
    assert_eq!(same.arn, c.arn, "the same idempotency token is the same composition");
    let mut other = channel_request();
    other.tags.insert("k".into(), "v".into());
    assert!(matches!(w.start_composition(&stage.arn, Some("tok"), other, T0), Err(ApiError::Conflict(_))));
    let active = w.get_composition(&c.arn, T0 + 5.0).expect("get");
    assert_eq!(active.state, CompositionState::Active);
    assert_eq!(active.destinations[0].start_time, Some(T0 + 5.0));
    w.stop_composition(&c.arn, T0 + 10.0).expect("stops");
    assert_eq!(w.get_composition(&c.arn, T0 + 11.0).expect("get").state, CompositionState::Stopping);
    let stopped = w.get_composition(&c.arn, T0 + 12.0).expect("get");
    assert_eq!((stopped.state, stopped.end_time), (CompositionState::Stopped, Some(T0 + 12.0)));
    assert_eq!(stopped.destinations[0].state, CompositionState::Stopped);
    w.stop_composition(&c.arn, T0 + 13.0).expect("stopping a stopped composition is a no-op");
    assert_eq!(w.list_compositions(Some(&stage.arn), None, T0 + 13.0).len(), 1);
    assert!(w.list_compositions(Some("arn:aws:ivs:us-west-2:1:stage/other"), None, T0).is_empty());
}

#[test]
fn a_composition_stops_a_minute_after_its_stage_is_left_empty() {
    let mut w = world();
    let (stage, tokens) = stage_with_tokens(&mut w, 1);
    w.join(&tokens[0].token, T0).expect("joins");
    let c = w.start_composition(&stage.arn, None, channel_request(), T0).expect("starts");
    w.advance(T0 + 100.0);
    assert_eq!(w.get_composition(&c.arn, T0 + 100.0).expect("get").state, CompositionState::Active);
    w.advance(T0 + 110.0);
    w.leave(&tokens[0].participant_id, T0 + 110.0).expect("leaves");
    w.advance(T0 + 169.0);
    assert_eq!(w.get_composition(&c.arn, T0 + 169.0).expect("get").state, CompositionState::Active);
    w.advance(T0 + 175.0);
    let stopped = w.get_composition(&c.arn, T0 + 175.0).expect("get");
    assert_eq!(stopped.state, CompositionState::Stopped);
    assert_eq!(stopped.end_time, Some(T0 + 170.0 + w.timings.stop));
}

#[test]
fn a_destination_needs_exactly_one_of_channel_and_s3() {
    let mut w = world();
    let (stage, _) = stage_with_tokens(&mut w, 0);
    let mut request = channel_request();
    request.destinations = vec![json!({"name": "none"})];
    assert!(matches!(w.start_composition(&stage.arn, None, request, T0), Err(ApiError::Validation(_))));
    let missing = w.start_composition("arn:aws:ivs:us-west-2:1:stage/x", None, channel_request(), T0);
    assert!(matches!(missing, Err(ApiError::ResourceNotFound(_))));
}
