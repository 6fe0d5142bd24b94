//! The IVS Real-Time part of the admin API, under `/_emulator/ivs`: simulated
//! WebRTC clients joining a stage with a participant token, publishing,
//! subscribing, leaving and meeting errors. Answers the participant as
//! GetParticipant would, with its `stageArn` and `sessionId`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::world::{IvsWorld, Seat};
use crate::emulator::clock::Time;
use crate::emulator::errors::ApiError;
use crate::service_model::{aws_message, ivs_realtime_model};

#[derive(Deserialize)]
struct Join {
    token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Remote {
    remote_participant_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientError {
    name: String,
    #[serde(default)]
    error_code: Option<String>,
}

/// Answers `method` on `/_emulator/ivs/<segments>`, or `None` when no admin
/// call of IVS is there.
pub fn route(
    world: &mut IvsWorld,
    method: &str,
    segments: &[&str],
    body: &[u8],
    now: Time,
) -> Option<Result<Value, ApiError>> {
    world.advance(now);
    let seat = match (method, segments) {
        ("POST", ["participants"]) => body_json::<Join>(body).and_then(|j| world.join(&j.token, now)),
        ("POST", ["participants", id, action]) => {
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned();
            match *action {
                "publish" => world.publish(&id, now),
                "unpublish" => world.unpublish(&id, now),
                "leave" => world.leave(&id, now),
                "subscribe" => {
                    body_json::<Remote>(body).and_then(|r| world.subscribe(&id, &r.remote_participant_id, now))
                }
                "unsubscribe" => {
                    body_json::<Remote>(body).and_then(|r| world.unsubscribe(&id, &r.remote_participant_id, now))
                }
                "error" => body_json::<ClientError>(body).and_then(|e| {
                    check_error(&e)?;
                    world.client_error(&id, &e.name, e.error_code.as_deref(), now)
                }),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(seat.map(render))
}

fn check_error(e: &ClientError) -> Result<(), ApiError> {
    if !["PUBLISH_ERROR", "SUBSCRIBE_ERROR", "JOIN_ERROR"].contains(&e.name.as_str()) {
        return Err(ApiError::Validation("name must be PUBLISH_ERROR, SUBSCRIBE_ERROR or JOIN_ERROR".into()));
    }
    let code = e.error_code.clone().map(Value::String);
    let violations = ivs_realtime_model().check_member("Event", "errorCode", code.as_ref());
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(aws_message(&violations)))
    }
}

fn render(seat: Seat) -> Value {
    let participant = serde_json::to_value(&seat.participant).unwrap_or(Value::Null);
    let mut out = match ivs_realtime_model().render("Participant", participant) {
        Value::Object(object) => object,
        _ => Map::new(),
    };
    out.insert("stageArn".into(), Value::String(seat.stage_arn));
    out.insert("sessionId".into(), Value::String(seat.session_id));
    Value::Object(out)
}

fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::Validation(format!("invalid JSON body: {e}")))
}
