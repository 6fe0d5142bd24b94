//! The records the emulator keeps, as the service's wire shapes: their fields
//! carry AWS's member names, so they serialize to the JSON GameLift Streams
//! answers with.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::emulator::clock::Time;

/// Status of a stream session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum SessionStatus {
    Activating,
    Active,
    Connected,
    PendingClientReconnection,
    Reconnecting,
    Terminating,
    Terminated,
    Error,
}

/// Why a session is in ERROR or TERMINATED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub enum StatusReason {
    PlacementTimeout,
    ConnectionTimeout,
    ReconnectionTimeout,
    MaxSessionLengthTimeout,
    ApiTerminated,
}

/// Status of an export of session files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ExportStatus {
    Succeeded,
    Failed,
    Pending,
}

/// `PerformanceStatsConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct PerformanceStats {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with_client: Option<bool>,
}

/// `DisplayConfiguration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct DisplayConfiguration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

/// `Resolution`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Resolution {
    pub width: i64,
    pub height: i64,
}

/// The input of StartStreamSession, as validated against the model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct StartSession {
    pub application_identifier: String,
    pub protocol: String,
    pub signal_request: String,
    pub description: Option<String>,
    pub user_id: Option<String>,
    #[serde(default)]
    pub locations: Vec<String>,
    pub connection_timeout_seconds: Option<u32>,
    pub session_length_seconds: Option<u32>,
    #[serde(default)]
    pub additional_launch_args: Vec<String>,
    #[serde(default)]
    pub additional_environment_variables: BTreeMap<String, String>,
    pub performance_stats_configuration: Option<PerformanceStats>,
    pub role_arn: Option<String>,
    pub display_configuration: Option<DisplayConfiguration>,
}

/// `ExportFilesMetadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ExportFiles {
    pub status: ExportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub output_uri: String,
}

/// A stream session: GetStreamSession's output plus the emulator's timers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct StreamSession {
    pub arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub stream_group_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub status: SessionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<StatusReason>,
    pub protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub signal_request: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_response: Option<String>,
    pub connection_timeout_seconds: u32,
    pub session_length_seconds: u32,
    pub additional_launch_args: Vec<String>,
    pub additional_environment_variables: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub performance_stats_configuration: Option<PerformanceStats>,
    pub last_updated_at: Time,
    pub created_at: Time,
    pub application_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_files_metadata: Option<ExportFiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_configuration: Option<DisplayConfiguration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_started_at: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming_started_at: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streaming_ended_at: Option<Time>,
    /// The session's ID (last part of its ARN).
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub(super) candidates: Vec<String>,
    #[serde(skip)]
    pub(super) placed: bool,
    #[serde(skip)]
    pub(super) deadline: Option<Time>,
    #[serde(skip)]
    pub(super) ends_at: Option<Time>,
}

/// `DefaultApplication`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct DefaultApplication {
    pub id: String,
    pub arn: String,
}

/// `LocationState` of a stream group, with the capacity in use.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct LocationState {
    pub location_name: String,
    pub status: String,
    pub always_on_capacity: u32,
    pub on_demand_capacity: u32,
    pub maximum_capacity: u32,
    pub requested_capacity: u32,
    pub allocated_capacity: u32,
    pub idle_capacity: u32,
    #[serde(skip)]
    pub(super) in_use: u32,
}

/// A stream group: GetStreamGroup's output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct StreamGroup {
    pub arn: String,
    pub id: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_application: Option<DefaultApplication>,
    pub location_states: Vec<LocationState>,
    pub stream_class: String,
    pub status: String,
    pub created_at: Time,
    pub last_updated_at: Time,
    pub associated_applications: Vec<String>,
    #[serde(skip)]
    pub(super) ready_at: Time,
}

/// `RuntimeEnvironment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct RuntimeEnvironment {
    #[serde(rename = "Type")]
    pub kind: String,
    pub version: String,
}

/// `ReplicationStatus`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ReplicationStatus {
    pub location: String,
    pub status: String,
}

/// An application: GetApplication's output.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct Application {
    pub arn: String,
    pub id: String,
    pub description: String,
    pub runtime_environment: RuntimeEnvironment,
    pub executable_path: String,
    pub application_source_uri: String,
    pub application_log_paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_log_output_uri: Option<String>,
    pub status: String,
    pub replication_statuses: Vec<ReplicationStatus>,
    pub created_at: Time,
    pub last_updated_at: Time,
    pub associated_stream_groups: Vec<String>,
    #[serde(skip)]
    pub(super) ready_at: Time,
}

/// The input of CreateStreamGroup, as validated against the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct CreateStreamGroup {
    pub description: String,
    pub stream_class: String,
    pub default_application_identifier: Option<String>,
    #[serde(default)]
    pub location_configurations: Vec<LocationConfiguration>,
}

/// `LocationConfiguration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct LocationConfiguration {
    pub location_name: String,
    pub always_on_capacity: Option<u32>,
    pub on_demand_capacity: Option<u32>,
    pub maximum_capacity: Option<u32>,
}

/// The input of CreateApplication, as validated against the model.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct CreateApplication {
    pub description: String,
    pub runtime_environment: RuntimeEnvironment,
    pub executable_path: String,
    pub application_source_uri: String,
    #[serde(default)]
    pub application_log_paths: Vec<String>,
    pub application_log_output_uri: Option<String>,
}

/// Which sessions a listing returns.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    /// Only sessions of this stream group (ID or ARN).
    pub stream_group: Option<String>,
    /// Only sessions in this status.
    pub status: Option<SessionStatus>,
    /// Only sessions whose export has this status.
    pub export_status: Option<ExportStatus>,
}

impl SessionStatus {
    /// Whether the session holds a running application (the statuses in which
    /// files can be exported and the session length counts).
    pub fn is_running(self) -> bool {
        matches!(self, Self::Active | Self::Connected | Self::PendingClientReconnection | Self::Reconnecting)
    }
}

/// The status as the service spells it.
pub fn status_name(status: SessionStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
