//! Each AWS operation's input, one row per member: the AWS member, the
//! proto field it comes from, its value and the SDK builder's setter. The
//! check before any call and what is sent both come from these rows
//! ([`Fields`]); adding a member to an operation is one row here.

use aws_sdk_gameliftstreams::operation::create_stream_session_connection::builders::CreateStreamSessionConnectionInputBuilder;
use aws_sdk_gameliftstreams::operation::create_stream_session_connection::CreateStreamSessionConnectionInput;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::builders::ExportStreamSessionFilesInputBuilder;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::ExportStreamSessionFilesInput;
use aws_sdk_gameliftstreams::operation::get_stream_session::builders::GetStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionInput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::builders::ListStreamSessionsInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::ListStreamSessionsInput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::builders::ListStreamSessionsByAccountInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::ListStreamSessionsByAccountInput;
use aws_sdk_gameliftstreams::operation::start_stream_session::builders::StartStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::start_stream_session::StartStreamSessionInput;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::builders::TerminateStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::TerminateStreamSessionInput;
use aws_sdk_gameliftstreams::types as aws;

use super::fields::{list, text, Fields};
use super::status::ApiError;
use crate::convert::{export_status_to_aws, status_to_aws};
use crate::proto::v1 as pb;

/// GetStreamSession's input: what a session read sends, and what a session
/// watch (whose poller reads the same two members) is checked as.
pub fn get_fields(group: &str, session: &str) -> Fields<GetStreamSessionInputBuilder> {
    Fields::new("GetStreamSessionInput", GetStreamSessionInput::builder())
        .member("Identifier", "stream_group_identifier", text(group), GetStreamSessionInputBuilder::set_identifier)
        .member(
            "StreamSessionIdentifier",
            "stream_session_identifier",
            text(session),
            GetStreamSessionInputBuilder::set_stream_session_identifier,
        )
}

/// ListStreamSessions's input: what a listing sends, and what a stream group
/// watch (whose poller lists by the identifier) is checked as.
pub fn list_fields(
    group: &str,
    status: i32,
    export: i32,
    page_size: i32,
    page_token: &str,
) -> Fields<ListStreamSessionsInputBuilder> {
    type B = ListStreamSessionsInputBuilder;
    Fields::new("ListStreamSessionsInput", ListStreamSessionsInput::builder())
        .member("Identifier", "stream_group_identifier", text(group), B::set_identifier)
        .known::<pb::StreamSessionStatus>("status", status)
        .known::<pb::ExportFilesStatus>("export_files_status", export)
        .member("Status", "status", status_filter(status), B::set_status)
        .member("ExportFilesStatus", "export_files_status", export_filter(export), B::set_export_files_status)
        .member("MaxResults", "page_size", max_results(page_size), B::set_max_results)
        .member("NextToken", "page_token", text(page_token), B::set_next_token)
}

/// The most items a page holds (the maximum of `MaxResults` in both models).
pub const MAX_PAGE_SIZE: i32 = 100;

/// `MaxResults` for a `page_size`, as AIP-158 reads it: 0 is unset (AWS's
/// default), above the maximum is the maximum, and a negative size is kept
/// for the model's check to refuse, naming `page_size`.
pub fn max_results(page_size: i32) -> Option<i32> {
    match page_size {
        0 => None,
        size => Some(size.min(MAX_PAGE_SIZE)),
    }
}

fn status_filter(status: i32) -> Option<aws::StreamSessionStatus> {
    pb::StreamSessionStatus::try_from(status).ok().and_then(status_to_aws)
}

fn export_filter(export: i32) -> Option<aws::ExportFilesStatus> {
    pb::ExportFilesStatus::try_from(export).ok().and_then(export_status_to_aws)
}

/// StartStreamSession's input.
pub fn start_fields(
    r: &pb::StartStreamSessionRequest,
    client_token: Option<String>,
) -> Result<Fields<StartStreamSessionInputBuilder>, ApiError> {
    type B = StartStreamSessionInputBuilder;
    let resolution = r
        .display_configuration
        .as_ref()
        .and_then(|d| d.resolution.as_ref())
        .map(|res| aws::Resolution::builder().width(res.width).height(res.height).build())
        .transpose()?;
    let display = r
        .display_configuration
        .as_ref()
        .map(|_| aws::DisplayConfiguration::builder().set_resolution(resolution).build());
    let stats = r
        .performance_stats_configuration
        .as_ref()
        .map(|p| aws::PerformanceStatsConfiguration::builder().set_shared_with_client(p.shared_with_client).build());
    let environment = (!r.additional_environment_variables.is_empty())
        .then(|| r.additional_environment_variables.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    Ok(Fields::new("StartStreamSessionInput", StartStreamSessionInput::builder())
        .member("Identifier", "stream_group_identifier", text(&r.stream_group_identifier), B::set_identifier)
        .member(
            "ApplicationIdentifier",
            "application_identifier",
            text(&r.application_identifier),
            B::set_application_identifier,
        )
        .known::<pb::Protocol>("protocol", r.protocol)
        .member("Protocol", "protocol", Some(aws::Protocol::Webrtc), B::set_protocol)
        .member("SignalRequest", "signal_request", text(&r.signal_request), B::set_signal_request)
        .member("ClientToken", "request_id", client_token, B::set_client_token)
        .member("Description", "description", text(&r.description), B::set_description)
        .member("UserId", "user_id", text(&r.user_id), B::set_user_id)
        .member("Locations", "locations", list(&r.locations), B::set_locations)
        .member(
            "ConnectionTimeoutSeconds",
            "connection_timeout_seconds",
            r.connection_timeout_seconds,
            B::set_connection_timeout_seconds,
        )
        .member(
            "SessionLengthSeconds",
            "session_length_seconds",
            r.session_length_seconds,
            B::set_session_length_seconds,
        )
        .member(
            "AdditionalLaunchArgs",
            "additional_launch_args",
            list(&r.additional_launch_args),
            B::set_additional_launch_args,
        )
        .member(
            "AdditionalEnvironmentVariables",
            "additional_environment_variables",
            environment,
            B::set_additional_environment_variables,
        )
        .member(
            "PerformanceStatsConfiguration",
            "performance_stats_configuration",
            stats,
            B::set_performance_stats_configuration,
        )
        .member("RoleArn", "role_arn", text(&r.role_arn), B::set_role_arn)
        .member("DisplayConfiguration", "display_configuration", display, B::set_display_configuration))
}

/// TerminateStreamSession's input.
pub fn terminate_fields(group: &str, session: &str) -> Fields<TerminateStreamSessionInputBuilder> {
    type B = TerminateStreamSessionInputBuilder;
    Fields::new("TerminateStreamSessionInput", TerminateStreamSessionInput::builder())
        .member("Identifier", "stream_group_identifier", text(group), B::set_identifier)
        .member("StreamSessionIdentifier", "stream_session_identifier", text(session), B::set_stream_session_identifier)
}

/// CreateStreamSessionConnection's input.
pub fn connection_fields(
    r: &pb::CreateStreamSessionConnectionRequest,
    client_token: Option<String>,
) -> Fields<CreateStreamSessionConnectionInputBuilder> {
    type B = CreateStreamSessionConnectionInputBuilder;
    Fields::new("CreateStreamSessionConnectionInput", CreateStreamSessionConnectionInput::builder())
        .member("Identifier", "stream_group_identifier", text(&r.stream_group_identifier), B::set_identifier)
        .member(
            "StreamSessionIdentifier",
            "stream_session_identifier",
            text(&r.stream_session_identifier),
            B::set_stream_session_identifier,
        )
        .member("SignalRequest", "signal_request", text(&r.signal_request), B::set_signal_request)
        .member("ClientToken", "request_id", client_token, B::set_client_token)
}

/// ExportStreamSessionFiles's input.
pub fn export_fields(r: &pb::ExportStreamSessionFilesRequest) -> Fields<ExportStreamSessionFilesInputBuilder> {
    type B = ExportStreamSessionFilesInputBuilder;
    Fields::new("ExportStreamSessionFilesInput", ExportStreamSessionFilesInput::builder())
        .member("Identifier", "stream_group_identifier", text(&r.stream_group_identifier), B::set_identifier)
        .member(
            "StreamSessionIdentifier",
            "stream_session_identifier",
            text(&r.stream_session_identifier),
            B::set_stream_session_identifier,
        )
        .member("OutputUri", "output_uri", text(&r.output_uri), B::set_output_uri)
}

/// ListStreamSessionsByAccount's input.
pub fn list_by_account_fields(
    r: &pb::ListStreamSessionsByAccountRequest,
) -> Fields<ListStreamSessionsByAccountInputBuilder> {
    type B = ListStreamSessionsByAccountInputBuilder;
    Fields::new("ListStreamSessionsByAccountInput", ListStreamSessionsByAccountInput::builder())
        .known::<pb::StreamSessionStatus>("status", r.status)
        .known::<pb::ExportFilesStatus>("export_files_status", r.export_files_status)
        .member("Status", "status", status_filter(r.status), B::set_status)
        .member(
            "ExportFilesStatus",
            "export_files_status",
            export_filter(r.export_files_status),
            B::set_export_files_status,
        )
        .member("MaxResults", "page_size", max_results(r.page_size), B::set_max_results)
        .member("NextToken", "page_token", text(&r.page_token), B::set_next_token)
}
