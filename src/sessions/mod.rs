//! The one place that talks to GameLift Streams: one method per operation,
//! through `aws-sdk-gameliftstreams` and the retry layer, with every failure
//! classified. Takes inputs already validated and shaped as the SDK's, and the
//! caller's deadline.

pub mod client;
pub mod error;
pub mod idempotency;
pub mod resilience;

use std::sync::Arc;

use tokio::time::Instant;

use aws_sdk_gameliftstreams::operation::create_stream_session_connection::{
    CreateStreamSessionConnectionInput, CreateStreamSessionConnectionOutput,
};
use aws_sdk_gameliftstreams::operation::export_stream_session_files::ExportStreamSessionFilesInput;
use aws_sdk_gameliftstreams::operation::get_stream_session::{GetStreamSessionInput, GetStreamSessionOutput};
use aws_sdk_gameliftstreams::operation::list_stream_sessions::{ListStreamSessionsInput, ListStreamSessionsOutput};
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::{
    ListStreamSessionsByAccountInput, ListStreamSessionsByAccountOutput,
};
use aws_sdk_gameliftstreams::operation::start_stream_session::{StartStreamSessionInput, StartStreamSessionOutput};
use aws_sdk_gameliftstreams::operation::terminate_stream_session::TerminateStreamSessionInput;
use aws_sdk_gameliftstreams::Client;

pub use error::{SessionError, UpstreamKind};
pub use resilience::{CallFailure, Resilience, RetryPolicy};

/// GameLift Streams session operations over one SDK client.
#[derive(Debug, Clone)]
pub struct Sessions {
    client: Client,
    resilience: Arc<Resilience>,
}

/// The result of one session operation.
pub type CallResult<T> = Result<T, CallFailure>;

impl Sessions {
    /// Sessions over `client`, retried and paced by `resilience`.
    pub fn new(client: Client, resilience: Arc<Resilience>) -> Self {
        Self { client, resilience }
    }

    /// The retry layer (for its counters).
    pub fn resilience(&self) -> &Resilience {
        &self.resilience
    }

    /// StartStreamSession.
    pub async fn start(
        &self,
        input: StartStreamSessionInput,
        deadline: Option<Instant>,
    ) -> CallResult<StartStreamSessionOutput> {
        self.resilience
            .call("StartStreamSession", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    let out = client
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
                        .await?;
                    Ok(out)
                }
            })
            .await
    }

    /// GetStreamSession.
    pub async fn get(
        &self,
        input: GetStreamSessionInput,
        deadline: Option<Instant>,
    ) -> CallResult<GetStreamSessionOutput> {
        self.resilience
            .call("GetStreamSession", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    let out = client
                        .get_stream_session()
                        .set_identifier(input.identifier)
                        .set_stream_session_identifier(input.stream_session_identifier)
                        .send()
                        .await?;
                    Ok(out)
                }
            })
            .await
    }

    /// ListStreamSessions (one page).
    pub async fn list(
        &self,
        input: ListStreamSessionsInput,
        deadline: Option<Instant>,
    ) -> CallResult<ListStreamSessionsOutput> {
        self.resilience
            .call("ListStreamSessions", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    let out = client
                        .list_stream_sessions()
                        .set_identifier(input.identifier)
                        .set_status(input.status)
                        .set_export_files_status(input.export_files_status)
                        .set_max_results(input.max_results)
                        .set_next_token(input.next_token)
                        .send()
                        .await?;
                    Ok(out)
                }
            })
            .await
    }

    /// ListStreamSessionsByAccount (one page).
    pub async fn list_by_account(
        &self,
        input: ListStreamSessionsByAccountInput,
        deadline: Option<Instant>,
    ) -> CallResult<ListStreamSessionsByAccountOutput> {
        self.resilience
            .call("ListStreamSessionsByAccount", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    let out = client
                        .list_stream_sessions_by_account()
                        .set_status(input.status)
                        .set_export_files_status(input.export_files_status)
                        .set_max_results(input.max_results)
                        .set_next_token(input.next_token)
                        .send()
                        .await?;
                    Ok(out)
                }
            })
            .await
    }

    /// TerminateStreamSession.
    pub async fn terminate(&self, input: TerminateStreamSessionInput, deadline: Option<Instant>) -> CallResult<()> {
        self.resilience
            .call("TerminateStreamSession", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    client
                        .terminate_stream_session()
                        .set_identifier(input.identifier)
                        .set_stream_session_identifier(input.stream_session_identifier)
                        .send()
                        .await?;
                    Ok(())
                }
            })
            .await
    }

    /// CreateStreamSessionConnection.
    pub async fn create_connection(
        &self,
        input: CreateStreamSessionConnectionInput,
        deadline: Option<Instant>,
    ) -> CallResult<CreateStreamSessionConnectionOutput> {
        self.resilience
            .call("CreateStreamSessionConnection", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    let out = client
                        .create_stream_session_connection()
                        .set_identifier(input.identifier)
                        .set_stream_session_identifier(input.stream_session_identifier)
                        .set_signal_request(input.signal_request)
                        .set_client_token(input.client_token)
                        .send()
                        .await?;
                    Ok(out)
                }
            })
            .await
    }

    /// ExportStreamSessionFiles.
    pub async fn export_files(
        &self,
        input: ExportStreamSessionFilesInput,
        deadline: Option<Instant>,
    ) -> CallResult<()> {
        self.resilience
            .call("ExportStreamSessionFiles", deadline, || {
                let (client, input) = (self.client.clone(), input.clone());
                async move {
                    client
                        .export_stream_session_files()
                        .set_identifier(input.identifier)
                        .set_stream_session_identifier(input.stream_session_identifier)
                        .set_output_uri(input.output_uri)
                        .send()
                        .await?;
                    Ok(())
                }
            })
            .await
    }
}
