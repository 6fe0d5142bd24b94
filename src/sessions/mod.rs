//! The one place that talks to GameLift Streams: one method per operation,
//! through `aws-sdk-gameliftstreams`, with every failure classified as a
//! [`SessionError`]. Takes inputs already validated and shaped as the SDK's.

pub mod client;
pub mod error;
pub mod idempotency;

use aws_sdk_gameliftstreams::operation::create_stream_session_connection::{
    CreateStreamSessionConnectionInput, CreateStreamSessionConnectionOutput,
};
use aws_sdk_gameliftstreams::operation::export_stream_session_files::ExportStreamSessionFilesInput;
use aws_sdk_gameliftstreams::operation::get_stream_session::{
    GetStreamSessionInput, GetStreamSessionOutput,
};
use aws_sdk_gameliftstreams::operation::list_stream_sessions::{
    ListStreamSessionsInput, ListStreamSessionsOutput,
};
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::{
    ListStreamSessionsByAccountInput, ListStreamSessionsByAccountOutput,
};
use aws_sdk_gameliftstreams::operation::start_stream_session::{
    StartStreamSessionInput, StartStreamSessionOutput,
};
use aws_sdk_gameliftstreams::operation::terminate_stream_session::TerminateStreamSessionInput;
use aws_sdk_gameliftstreams::Client;

pub use error::{SessionError, UpstreamKind};

/// GameLift Streams session operations over one SDK client.
#[derive(Debug, Clone)]
pub struct Sessions {
    client: Client,
}

impl Sessions {
    /// Sessions over `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// StartStreamSession.
    pub async fn start(
        &self,
        input: StartStreamSessionInput,
    ) -> Result<StartStreamSessionOutput, SessionError> {
        Ok(self
            .client
            .start_stream_session()
            .set_identifier(input.identifier)
            .set_application_identifier(input.application_identifier)
            .set_protocol(input.protocol)
            .set_signal_request(input.signal_request)
            .set_client_token(input.client_token)
            .set_description(input.description)
            .set_user_id(input.user_id)
            .set_locations(input.locations)
            .set_connection_timeout_seconds(input.connection_timeout_seconds)
            .set_session_length_seconds(input.session_length_seconds)
            .set_additional_launch_args(input.additional_launch_args)
            .set_additional_environment_variables(input.additional_environment_variables)
            .set_performance_stats_configuration(input.performance_stats_configuration)
            .set_role_arn(input.role_arn)
            .set_display_configuration(input.display_configuration)
            .send()
            .await?)
    }

    /// GetStreamSession.
    pub async fn get(
        &self,
        input: GetStreamSessionInput,
    ) -> Result<GetStreamSessionOutput, SessionError> {
        Ok(self
            .client
            .get_stream_session()
            .set_identifier(input.identifier)
            .set_stream_session_identifier(input.stream_session_identifier)
            .send()
            .await?)
    }

    /// ListStreamSessions (one page).
    pub async fn list(
        &self,
        input: ListStreamSessionsInput,
    ) -> Result<ListStreamSessionsOutput, SessionError> {
        Ok(self
            .client
            .list_stream_sessions()
            .set_identifier(input.identifier)
            .set_status(input.status)
            .set_export_files_status(input.export_files_status)
            .set_max_results(input.max_results)
            .set_next_token(input.next_token)
            .send()
            .await?)
    }

    /// ListStreamSessionsByAccount (one page).
    pub async fn list_by_account(
        &self,
        input: ListStreamSessionsByAccountInput,
    ) -> Result<ListStreamSessionsByAccountOutput, SessionError> {
        Ok(self
            .client
            .list_stream_sessions_by_account()
            .set_status(input.status)
            .set_export_files_status(input.export_files_status)
            .set_max_results(input.max_results)
            .set_next_token(input.next_token)
            .send()
            .await?)
    }

    /// TerminateStreamSession.
    pub async fn terminate(&self, input: TerminateStreamSessionInput) -> Result<(), SessionError> {
        self.client
            .terminate_stream_session()
            .set_identifier(input.identifier)
            .set_stream_session_identifier(input.stream_session_identifier)
            .send()
            .await?;
        Ok(())
    }

    /// CreateStreamSessionConnection.
    pub async fn create_connection(
        &self,
        input: CreateStreamSessionConnectionInput,
    ) -> Result<CreateStreamSessionConnectionOutput, SessionError> {
        Ok(self
            .client
            .create_stream_session_connection()
            .set_identifier(input.identifier)
            .set_stream_session_identifier(input.stream_session_identifier)
            .set_signal_request(input.signal_request)
            .set_client_token(input.client_token)
            .send()
            .await?)
    }

    /// ExportStreamSessionFiles.
    pub async fn export_files(
        &self,
        input: ExportStreamSessionFilesInput,
    ) -> Result<(), SessionError> {
        self.client
            .export_stream_session_files()
            .set_identifier(input.identifier)
            .set_stream_session_identifier(input.stream_session_identifier)
            .set_output_uri(input.output_uri)
            .send()
            .await?;
        Ok(())
    }
}
