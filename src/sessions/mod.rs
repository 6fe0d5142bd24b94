//! The one place that talks to GameLift Streams: [`Sessions`] sends each
//! operation of the [`GameLiftStreams`] seam through `aws-sdk-gameliftstreams`
//! and the retry layer, with every failure classified. Takes inputs already
//! validated and shaped as the SDK's, and the caller's deadline.

pub mod client;
pub mod error;
#[cfg(test)]
pub mod fake;
pub mod idempotency;
pub mod resilience;
pub mod terminations;
pub mod upstream;
pub mod watch;

use std::future::Future;
use std::sync::Arc;

use tracing::field::Empty;
use tracing::{Instrument, Span};

use aws_sdk_gameliftstreams::config::http::HttpResponse;
use aws_sdk_gameliftstreams::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_gameliftstreams::operation::create_stream_session_connection::builders::CreateStreamSessionConnectionInputBuilder;
use aws_sdk_gameliftstreams::operation::create_stream_session_connection::CreateStreamSessionConnectionOutput;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::builders::ExportStreamSessionFilesInputBuilder;
use aws_sdk_gameliftstreams::operation::export_stream_session_files::ExportStreamSessionFilesOutput;
use aws_sdk_gameliftstreams::operation::get_stream_session::builders::GetStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::get_stream_session::GetStreamSessionOutput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::builders::ListStreamSessionsInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions::ListStreamSessionsOutput;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::builders::ListStreamSessionsByAccountInputBuilder;
use aws_sdk_gameliftstreams::operation::list_stream_sessions_by_account::ListStreamSessionsByAccountOutput;
use aws_sdk_gameliftstreams::operation::start_stream_session::builders::StartStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::start_stream_session::StartStreamSessionOutput;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::builders::TerminateStreamSessionInputBuilder;
use aws_sdk_gameliftstreams::operation::terminate_stream_session::TerminateStreamSessionOutput;

use aws_sdk_gameliftstreams::operation::RequestId;
use aws_sdk_gameliftstreams::Client;

pub use error::{Class, SessionError, UpstreamKind};
pub use resilience::{CallFailure, Priority, Resilience, RetryPolicy};
pub use upstream::{Call, GameLiftStreams, Reply};

/// GameLift Streams session operations over one SDK client.
#[derive(Debug, Clone)]
pub struct Sessions {
    sender: Sender<Client>,
}

/// Sends the requests of one AWS service's SDK client (`C`) under the retry
/// layer: GameLift Streams' for [`Sessions`], IVS Real-Time's for the Stages
/// service.
#[derive(Debug, Clone)]
pub struct Sender<C> {
    /// The service as OpenTelemetry's `rpc.service` names it.
    service: &'static str,
    client: C,
    resilience: Arc<Resilience>,
    /// Where the client sends its requests, named in connection errors.
    endpoint: Option<Arc<str>>,
}

/// What a seam answers: at once from in-process state (nothing allocated on
/// the per-call path), or later from I/O.
pub type Soon<'a, T> = futures_util::future::Either<std::future::Ready<T>, futures_util::future::BoxFuture<'a, T>>;

/// A seam's answer known at once.
pub fn at_once<'a, T>(value: T) -> Soon<'a, T> {
    futures_util::future::Either::Left(std::future::ready(value))
}

/// The result of one session operation.
pub type CallResult<T> = Result<T, CallFailure>;

/// The client span of one HTTP attempt, after the OpenTelemetry conventions
/// for AWS SDK calls. At debug level: the trace exporter asks for it, the
/// default logs do not (nothing is logged inside an attempt), so without
/// trace export it costs nothing.
fn attempt_span(service: &'static str, op: &'static str, attempt: u32) -> Span {
    tracing::debug_span!(
        "aws attempt",
        otel.name = %format_args!("{service}/{op}"),
        otel.kind = "client",
        otel.status_code = Empty,
        rpc.system = "aws-api",
        rpc.service = service,
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
        Self { sender: Sender::new("GameLiftStreams", client, resilience) }
    }

    /// The same, naming `endpoint` (where the client sends its requests) in
    /// connection errors.
    pub fn reaching(self, endpoint: &str) -> Self {
        Self { sender: self.sender.reaching(endpoint) }
    }

    /// The retry layer (for its counters).
    pub fn resilience(&self) -> &Resilience {
        self.sender.resilience()
    }
}

impl<C: Clone> Sender<C> {
    /// Requests of `client`, a client of `service`, retried and paced by
    /// `resilience`.
    pub fn new(service: &'static str, client: C, resilience: Arc<Resilience>) -> Self {
        Self { service, client, resilience, endpoint: None }
    }

    /// The same, naming `endpoint` (where the client sends its requests) in
    /// connection errors.
    pub fn reaching(self, endpoint: &str) -> Self {
        Self { endpoint: Some(endpoint.into()), ..self }
    }

    /// The retry layer (for its counters).
    pub fn resilience(&self) -> &Resilience {
        &self.resilience
    }

    /// The SDK client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// Sends `input` through `send` under the retry layer: one SDK request per
    /// attempt, each on a copy of the input, each in a client span (but for
    /// watch polls, which would flood traces).
    pub async fn call<I, T, E, F, Fut>(&self, op: &'static str, call: Call, input: I, send: F) -> CallResult<T>
    where
        I: Clone,
        T: RequestId,
        F: Fn(I, C) -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + RequestId + std::error::Error + Send + Sync + 'static,
    {
        let (deadline, max_attempts, priority, repeatable) = call.policy();
        // Watch polls would flood traces.
        let traced = call != Call::Poll;
        let mut attempt = 0u32;
        self.resilience
            .call_tried(op, deadline, max_attempts, priority, repeatable, || {
                attempt += 1;
                let span = if traced { attempt_span(self.service, op, attempt) } else { Span::none() };
                let sent = span.in_scope(|| send(input.clone(), self.client.clone()));
                let recorded = span.clone();
                let endpoint = self.endpoint.clone();
                async move {
                    let result = sent.await.map_err(|e| match endpoint.as_deref() {
                        Some(endpoint) => SessionError::from(e).at(endpoint),
                        None => SessionError::from(e),
                    });
                    record_attempt(&recorded, &result);
                    result
                }
                .instrument(span)
            })
            .await
    }
}

/// Each operation sends the SDK's own input builder: its members are listed
/// where the builder is filled, never here.
macro_rules! send_with {
    ($self:ident, $op:literal, $call:ident, $input:ident) => {
        Box::pin($self.sender.call($op, $call, $input, |input, client| async move { input.send_with(&client).await }))
    };
}

impl GameLiftStreams for Sessions {
    fn start_stream_session(
        &self,
        input: StartStreamSessionInputBuilder,
        call: Call,
    ) -> Reply<'_, StartStreamSessionOutput> {
        send_with!(self, "StartStreamSession", call, input)
    }

    fn get_stream_session(&self, input: GetStreamSessionInputBuilder, call: Call) -> Reply<'_, GetStreamSessionOutput> {
        send_with!(self, "GetStreamSession", call, input)
    }

    fn list_stream_sessions(
        &self,
        input: ListStreamSessionsInputBuilder,
        call: Call,
    ) -> Reply<'_, ListStreamSessionsOutput> {
        send_with!(self, "ListStreamSessions", call, input)
    }

    fn list_stream_sessions_by_account(
        &self,
        input: ListStreamSessionsByAccountInputBuilder,
        call: Call,
    ) -> Reply<'_, ListStreamSessionsByAccountOutput> {
        send_with!(self, "ListStreamSessionsByAccount", call, input)
    }

    fn terminate_stream_session(
        &self,
        input: TerminateStreamSessionInputBuilder,
        call: Call,
    ) -> Reply<'_, TerminateStreamSessionOutput> {
        send_with!(self, "TerminateStreamSession", call, input)
    }

    fn create_stream_session_connection(
        &self,
        input: CreateStreamSessionConnectionInputBuilder,
        call: Call,
    ) -> Reply<'_, CreateStreamSessionConnectionOutput> {
        send_with!(self, "CreateStreamSessionConnection", call, input)
    }

    fn export_stream_session_files(
        &self,
        input: ExportStreamSessionFilesInputBuilder,
        call: Call,
    ) -> Reply<'_, ExportStreamSessionFilesOutput> {
        send_with!(self, "ExportStreamSessionFiles", call, input)
    }

    fn send_rate(&self, op: &'static str) -> Option<f64> {
        self.sender.resilience.rate(op)
    }
}
