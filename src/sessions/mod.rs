//! The one place that talks to GameLift Streams: one method per operation,
//! through `aws-sdk-gameliftstreams` and the retry layer, with every failure
//! classified. Takes inputs already validated and shaped as the SDK's, and the
//! caller's deadline.

pub mod client;
pub mod error;
pub mod idempotency;
pub mod resilience;
pub mod watch;

use std::future::Future;
use std::sync::Arc;

use tokio::time::Instant;
use tracing::field::Empty;
use tracing::{Instrument, Span};

use aws_sdk_gameliftstreams::config::http::HttpResponse;
use aws_sdk_gameliftstreams::error::{ProvideErrorMetadata, SdkError};
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
use aws_sdk_gameliftstreams::operation::RequestId;
use aws_sdk_gameliftstreams::Client;

pub use error::{Class, SessionError, UpstreamKind};
pub use resilience::{CallFailure, Resilience, RetryPolicy};

/// GameLift Streams session operations over one SDK client.
#[derive(Debug, Clone)]
pub struct Sessions {
    client: Client,
    resilience: Arc<Resilience>,
}

/// The result of one session operation.
pub type CallResult<T> = Result<T, CallFailure>;

/// How many attempts a call gets.
#[derive(Debug, Clone, Copy)]
enum Attempts {
    /// As the retry policy says.
    Policy,
    /// One: for the watch pollers, whose next poll is the retry.
    One,
}

/// The client span of one HTTP attempt, after the OpenTelemetry conventions
/// for AWS SDK calls. At debug level: the trace exporter asks for it, the
/// default logs do not (nothing is logged inside an attempt), so without
/// trace export it costs nothing.
fn attempt_span(op: &'static str, attempt: u32) -> Span {
    tracing::debug_span!(
        "aws attempt",
        otel.name = %format_args!("GameLiftStreams/{op}"),
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "aws-api",
        rpc.service = "GameLiftStreams",
        rpc.method = op,
        aws.request_id = Empty,
        aws.attempt = i64::from(attempt),
        aws.throttled = Empty,
        aws.outcome = Empty,
    )
}

/// Puts what AWS answered in an attempt's span: its request id, whether it
/// throttled, and how the attempt ended (never a message, which may quote input).
fn record_attempt<T: RequestId>(span: &Span, result: &Result<T, SessionError>) {
    let (request_id, outcome) = match result {
        Ok(output) => (output.request_id(), "Success"),
        Err(err) => (err.request_id(), err.outcome()),
    };
    if let Some(id) = request_id {
        span.record("aws.request_id", id);
    }
    span.record("aws.throttled", outcome == "ThrottlingException");
    span.record("aws.outcome", outcome);
    if result.is_err() {
        span.record("otel.status_code", "ERROR");
    }
}

impl Sessions {
    /// Sessions over `client`, retried and paced by `resilience`.
    pub fn new(client: Client, resilience: Arc<Resilience>) -> Self {
        Self { client, resilience }
    }

    /// The retry layer (for its counters).
    pub fn resilience(&self) -> &Resilience {
        &self.resilience
    }

    /// Sends `input` through `send` under the retry layer: one SDK request per
    /// attempt, each on a copy of the input, each in a client span (but for
    /// watch polls, which would flood traces).
    async fn call<I, T, E, F, Fut>(
        &self,
        op: &'static str,
        deadline: Option<Instant>,
        attempts: Attempts,
        input: I,
        send: F,
    ) -> CallResult<T>
    where
        I: Clone,
        T: RequestId,
        F: Fn(Client, I) -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    {
        let (max_attempts, traced) = match attempts {
            Attempts::Policy => (u32::MAX, true),
            Attempts::One => (1, false),
        };
        let mut attempt = 0u32;
        self.resilience
            .call_limited(op, deadline, max_attempts, || {
                attempt += 1;
                let span = if traced { attempt_span(op, attempt) } else { Span::none() };
                let sent = span.in_scope(|| send(self.client.clone(), input.clone()));
                let recorded = span.clone();
                async move {
                    let result = sent.await.map_err(SessionError::from);
                    record_attempt(&recorded, &result);
                    result
                }
                .instrument(span)
            })
            .await
    }

    /// StartStreamSession.
    pub async fn start(
        &self,
        input: StartStreamSessionInput,
        deadline: Option<Instant>,
    ) -> CallResult<StartStreamSessionOutput> {
        self.call("StartStreamSession", deadline, Attempts::Policy, input, |client, i| {
            client
                .start_stream_session()
                .set_identifier(i.identifier)
                .set_application_identifier(i.application_identifier)
                .set_protocol(i.protocol)
                .set_signal_request(i.signal_request)
                .set_client_token(i.client_token)
                .set_description(i.description)
                .set_user_id(i.user_id)
                .set_locations(i.locations)
                .set_connection_timeout_seconds(i.connection_timeout_seconds)
                .set_session_length_seconds(i.session_length_seconds)
                .set_additional_launch_args(i.additional_launch_args)
                .set_additional_environment_variables(i.additional_environment_variables)
                .set_performance_stats_configuration(i.performance_stats_configuration)
                .set_role_arn(i.role_arn)
                .set_display_configuration(i.display_configuration)
                .send()
        })
        .await
    }

    /// GetStreamSession.
    pub async fn get(
        &self,
        input: GetStreamSessionInput,
        deadline: Option<Instant>,
    ) -> CallResult<GetStreamSessionOutput> {
        self.get_with(input, deadline, Attempts::Policy).await
    }

    /// GetStreamSession, one attempt (a watch poll).
    pub async fn poll_get(&self, input: GetStreamSessionInput) -> CallResult<GetStreamSessionOutput> {
        self.get_with(input, None, Attempts::One).await
    }

    async fn get_with(
        &self,
        input: GetStreamSessionInput,
        deadline: Option<Instant>,
        attempts: Attempts,
    ) -> CallResult<GetStreamSessionOutput> {
        self.call("GetStreamSession", deadline, attempts, input, |client, i| {
            client
                .get_stream_session()
                .set_identifier(i.identifier)
                .set_stream_session_identifier(i.stream_session_identifier)
                .send()
        })
        .await
    }

    /// ListStreamSessions (one page).
    pub async fn list(
        &self,
        input: ListStreamSessionsInput,
        deadline: Option<Instant>,
    ) -> CallResult<ListStreamSessionsOutput> {
        self.list_with(input, deadline, Attempts::Policy).await
    }

    /// ListStreamSessions (one page), one attempt (a watch poll).
    pub async fn poll_list(&self, input: ListStreamSessionsInput) -> CallResult<ListStreamSessionsOutput> {
        self.list_with(input, None, Attempts::One).await
    }

    async fn list_with(
        &self,
        input: ListStreamSessionsInput,
        deadline: Option<Instant>,
        attempts: Attempts,
    ) -> CallResult<ListStreamSessionsOutput> {
        self.call("ListStreamSessions", deadline, attempts, input, |client, i| {
            client
                .list_stream_sessions()
                .set_identifier(i.identifier)
                .set_status(i.status)
                .set_export_files_status(i.export_files_status)
                .set_max_results(i.max_results)
                .set_next_token(i.next_token)
                .send()
        })
        .await
    }

    /// ListStreamSessionsByAccount (one page).
    pub async fn list_by_account(
        &self,
        input: ListStreamSessionsByAccountInput,
        deadline: Option<Instant>,
    ) -> CallResult<ListStreamSessionsByAccountOutput> {
        self.call("ListStreamSessionsByAccount", deadline, Attempts::Policy, input, |client, i| {
            client
                .list_stream_sessions_by_account()
                .set_status(i.status)
                .set_export_files_status(i.export_files_status)
                .set_max_results(i.max_results)
                .set_next_token(i.next_token)
                .send()
        })
        .await
    }

    /// TerminateStreamSession.
    pub async fn terminate(&self, input: TerminateStreamSessionInput, deadline: Option<Instant>) -> CallResult<()> {
        self.call("TerminateStreamSession", deadline, Attempts::Policy, input, |client, i| {
            client
                .terminate_stream_session()
                .set_identifier(i.identifier)
                .set_stream_session_identifier(i.stream_session_identifier)
                .send()
        })
        .await
        .map(drop)
    }

    /// CreateStreamSessionConnection.
    pub async fn create_connection(
        &self,
        input: CreateStreamSessionConnectionInput,
        deadline: Option<Instant>,
    ) -> CallResult<CreateStreamSessionConnectionOutput> {
        self.call("CreateStreamSessionConnection", deadline, Attempts::Policy, input, |client, i| {
            client
                .create_stream_session_connection()
                .set_identifier(i.identifier)
                .set_stream_session_identifier(i.stream_session_identifier)
                .set_signal_request(i.signal_request)
                .set_client_token(i.client_token)
                .send()
        })
        .await
    }

    /// ExportStreamSessionFiles.
    pub async fn export_files(
        &self,
        input: ExportStreamSessionFilesInput,
        deadline: Option<Instant>,
    ) -> CallResult<()> {
        self.call("ExportStreamSessionFiles", deadline, Attempts::Policy, input, |client, i| {
            client
                .export_stream_session_files()
                .set_identifier(i.identifier)
                .set_stream_session_identifier(i.stream_session_identifier)
                .set_output_uri(i.output_uri)
                .send()
        })
        .await
        .map(drop)
    }
}
