//! IVS Real-Time operation by operation: turns a validated input (the model's
//! member names) into a call on [`IvsWorld`] and the result into the
//! operation's output, paging lists with `nextToken`/`maxResults`. Operations
//! the emulator does not implement answer AccessDeniedException
//! ([`not_implemented`]). Knows nothing about HTTP; the
//! caller writes the output through the model (timestamps as ISO 8601).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::compositions::CompositionRequest;
use super::records::{ParticipantState, TokenRequest};
use super::world::IvsWorld;
use crate::emulator::clock::Time;
use crate::emulator::errors::ApiError;

/// The operations the emulator implements with state.
pub const IMPLEMENTED: &[&str] = &[
    "CreateStage",
    "GetStage",
    "ListStages",
    "UpdateStage",
    "DeleteStage",
    "CreateParticipantToken",
    "GetParticipant",
    "ListParticipants",
    "DisconnectParticipant",
    "ListParticipantEvents",
    "GetStageSession",
    "ListStageSessions",
    "StartComposition",
    "StopComposition",
    "GetComposition",
    "ListCompositions",
];

/// The default page size of the List operations (AWS: 50, ListCompositions 100).
const DEFAULT_PAGE: usize = 50;

/// Runs `operation` on `world` at time `now`.
pub fn dispatch(world: &mut IvsWorld, operation: &str, input: &Value, now: Time) -> Result<Value, ApiError> {
    world.advance(now);
    let arn = || text(input, "arn");
    let stage_arn = || text(input, "stageArn");
    Ok(match operation {
        "CreateStage" => {
            let configs: Vec<TokenRequest> = member(input, "participantTokenConfigurations")?.unwrap_or_default();
            let (stage, tokens) = world.create_stage(
                member(input, "name")?.unwrap_or_default(),
                member(input, "tags")?.unwrap_or_default(),
                input.get("autoParticipantRecordingConfiguration").cloned(),
                &configs,
                now,
            );
            json!({ "stage": to_json(&stage), "participantTokens": to_json(&tokens) })
        }
        "GetStage" => json!({ "stage": to_json(&world.get_stage(arn())?) }),
        "ListStages" => page(to_json(&world.list_stages()), input, "stages", DEFAULT_PAGE)?,
        "UpdateStage" => {
            let stage = world.update_stage(
                arn(),
                member(input, "name")?,
                input.get("autoParticipantRecordingConfiguration").cloned(),
            )?;
            json!({ "stage": to_json(&stage) })
        }
        "DeleteStage" => {
            world.delete_stage(arn(), now)?;
            json!({})
        }
        "CreateParticipantToken" => {
            let token = world.create_token(stage_arn(), &parse(input)?, now)?;
            json!({ "participantToken": to_json(&token) })
        }
        "GetParticipant" => {
            let p = world.get_participant(stage_arn(), text(input, "sessionId"), text(input, "participantId"))?;
            json!({ "participant": to_json(&p) })
        }
        "ListParticipants" => list_participants(world, input)?,
        "DisconnectParticipant" => {
            world.disconnect_participant(stage_arn(), text(input, "participantId"), now)?;
            json!({})
        }
        "ListParticipantEvents" => {
            let events = world.list_events(stage_arn(), text(input, "sessionId"), text(input, "participantId"));
            page(to_json(&events), input, "events", DEFAULT_PAGE)?
        }
        "GetStageSession" => {
            json!({ "stageSession": to_json(&world.get_session(stage_arn(), text(input, "sessionId"))?) })
        }
        "ListStageSessions" => page(to_json(&world.list_sessions(stage_arn())), input, "stageSessions", DEFAULT_PAGE)?,
        "StartComposition" => {
            let request = CompositionRequest {
                layout: input.get("layout").cloned().unwrap_or_else(|| json!({})),
                destinations: member(input, "destinations")?.unwrap_or_default(),
                tags: member(input, "tags")?.unwrap_or_default(),
            };
            let token = input.get("idempotencyToken").and_then(Value::as_str);
            json!({ "composition": to_json(&world.start_composition(stage_arn(), token, request, now)?) })
        }
        "StopComposition" => {
            world.stop_composition(arn(), now)?;
            json!({})
        }
        "GetComposition" => json!({ "composition": to_json(&world.get_composition(arn(), now)?) }),
        "ListCompositions" => {
            let stage = input.get("filterByStageArn").and_then(Value::as_str);
            let encoder = input.get("filterByEncoderConfigurationArn").and_then(Value::as_str);
            page(to_json(&world.list_compositions(stage, encoder, now)), input, "compositions", 100)?
        }
        other => return Err(not_implemented(other)),
    })
}

/// The answer to an operation the emulator does not implement, before its
/// input is checked: AccessDeniedException, which every IVS operation but the
/// tag operations models (the model's pattern for their `resourceArn`,
/// `...:[a-z-]/...`, would refuse every real ARN anyway).
pub fn not_implemented(operation: &str) -> ApiError {
    ApiError::AccessDenied(format!("The IVS Real-Time emulator does not implement {operation}."))
}

fn list_participants(world: &IvsWorld, input: &Value) -> Result<Value, ApiError> {
    let filters = ["filterByUserId", "filterByPublished", "filterByState", "filterByRecordingState"];
    if filters.iter().filter(|f| input.get(**f).is_some()).count() > 1 {
        return Err(ApiError::Validation(
            "Only one of filterByUserId, filterByPublished, filterByState, or filterByRecordingState can be provided per request.".into(),
        ));
    }
    let user: Option<String> = member(input, "filterByUserId")?;
    let published: Option<bool> = member(input, "filterByPublished")?;
    let state: Option<String> = member(input, "filterByState")?;
    let recording: Option<String> = member(input, "filterByRecordingState")?;
    let participants: Vec<_> = world
        .list_participants(text(input, "stageArn"), text(input, "sessionId"))
        .into_iter()
        .filter(|p| user.as_deref().is_none_or(|u| p.user_id.as_deref() == Some(u)))
        .filter(|p| published.is_none_or(|b| p.published == b))
        .filter(|p| state.as_deref().is_none_or(|s| (s == "CONNECTED") == (p.state == ParticipantState::Connected)))
        .filter(|p| recording.as_deref().is_none_or(|r| r == p.recording_state))
        .collect();
    page(to_json(&participants), input, "participants", DEFAULT_PAGE)
}

fn text<'a>(input: &'a Value, name: &str) -> &'a str {
    input.get(name).and_then(Value::as_str).unwrap_or_default()
}

fn parse<T: DeserializeOwned>(input: &Value) -> Result<T, ApiError> {
    serde_json::from_value(input.clone()).map_err(|e| ApiError::Serialization(e.to_string()))
}

fn member<T: DeserializeOwned>(input: &Value, name: &str) -> Result<Option<T>, ApiError> {
    input
        .get(name)
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| ApiError::Serialization(format!("{name}: {e}"))))
        .transpose()
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// One page of the list `items` under `key`, per the input's `maxResults`
/// (default `default`) and `nextToken`.
fn page(items: Value, input: &Value, key: &str, default: usize) -> Result<Value, ApiError> {
    let items = match items {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    let size =
        input.get("maxResults").and_then(Value::as_u64).map_or(default, |n| usize::try_from(n).unwrap_or(default));
    let start = match input.get("nextToken").and_then(Value::as_str).filter(|t| !t.is_empty()) {
        Some(token) => decode_token(token)
            .filter(|&s| s <= items.len())
            .ok_or_else(|| ApiError::Validation("The nextToken is not valid.".into()))?,
        None => 0,
    };
    let end = (start + size).min(items.len());
    let mut out = Map::new();
    out.insert(key.into(), Value::Array(items[start..end].to_vec()));
    if end < items.len() {
        out.insert("nextToken".into(), Value::String(URL_SAFE_NO_PAD.encode(format!("offset:{end}"))));
    }
    Ok(Value::Object(out))
}

fn decode_token(token: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    std::str::from_utf8(&raw).ok()?.strip_prefix("offset:")?.parse().ok()
}
