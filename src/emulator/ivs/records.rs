//! The records the IVS Real-Time emulator keeps, with the model's member names
//! (lower camel case) so they serialize to the service's shapes. Times are
//! epoch seconds; the model's renderer writes them as ISO 8601.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::emulator::clock::Time;

/// Tag and attribute maps.
pub type StringMap = BTreeMap<String, String>;

/// `Stage`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Stage {
    pub arn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_session_id: Option<String>,
    pub tags: StringMap,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_participant_recording_configuration: Option<Value>,
    pub endpoints: StageEndpoints,
}

/// `StageEndpoints`: addresses in the `.invalid` domain, as the emulator has
/// no media plane.
#[derive(Debug, Clone, Serialize)]
#[allow(missing_docs)]
pub struct StageEndpoints {
    pub events: String,
    pub whip: String,
    pub rtmp: String,
    pub rtmps: String,
}

/// `ParticipantToken`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ParticipantToken {
    pub participant_id: String,
    pub token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<StringMap>,
    pub duration: i64,
    pub capabilities: Vec<String>,
    pub expiration_time: Time,
}

/// What a token allows, the `ParticipantTokenConfiguration` shape.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TokenRequest {
    pub duration: Option<i64>,
    pub user_id: Option<String>,
    pub attributes: Option<StringMap>,
    pub capabilities: Option<Vec<String>>,
}

/// `ParticipantState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ParticipantState {
    Connected,
    Disconnected,
}

/// `Participant` (its summary is a subset).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Participant {
    pub participant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub state: ParticipantState,
    pub first_join_time: Time,
    pub attributes: StringMap,
    /// Whether the participant ever published in this session (AWS's meaning).
    pub published: bool,
    /// Always DISABLED: the emulator records nothing.
    pub recording_state: &'static str,
}

/// `Event`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Event {
    pub name: String,
    pub participant_id: String,
    pub event_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_participant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// `StageSession`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct StageSession {
    pub session_id: String,
    pub start_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
}

/// `CompositionState` and `DestinationState` (the emulator uses the states
/// both share).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum CompositionState {
    Starting,
    Active,
    Stopping,
    Stopped,
}

/// `Destination`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Destination {
    pub id: String,
    pub state: CompositionState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
    pub configuration: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// `Composition` (its summary is a subset).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Composition {
    pub arn: String,
    pub stage_arn: String,
    pub state: CompositionState,
    pub layout: Value,
    pub destinations: Vec<Destination>,
    pub tags: StringMap,
    pub start_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Time>,
}
