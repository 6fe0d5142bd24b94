//! The seam between the gateway and GameLift Streams: one method per
//! operation, taking the SDK's own input builder and how the call may be
//! tried, answering the SDK's output or a classified failure.
//! [`Sessions`](super::Sessions) sends through the SDK and the retry layer;
//! unit tests put a fake behind it. Knows neither HTTP nor gRPC.

use futures_util::future::BoxFuture;
use tokio::time::Instant;

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

use super::resilience::Priority;
use super::CallResult;

/// The answer to one call.
pub type Reply<'a, T> = BoxFuture<'a, CallResult<T>>;

/// How a call may be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// As the retry policy says, answered by the caller's deadline if any.
    By(Option<Instant>),
    /// One attempt: a watch poll, whose next poll is the retry.
    Poll,
    /// As `By`, for a call AWS cannot de-duplicate and that must not be made
    /// twice (it takes no ClientToken: IVS Real-Time's CreateStage): retried
    /// only when AWS surely did nothing (it throttled, or no slot was free),
    /// never after an attempt whose answer may have been lost.
    Unrepeatable(Option<Instant>),
}

impl Call {
    /// How the retry layer runs it: by when, how many attempts at most,
    /// whose work it is, and whether an attempt that may have been carried
    /// out can be repeated.
    pub fn policy(self) -> (Option<Instant>, u32, Priority, bool) {
        match self {
            Self::By(deadline) => (deadline, u32::MAX, Priority::Caller, true),
            Self::Poll => (None, 1, Priority::Background, true),
            Self::Unrepeatable(deadline) => (deadline, u32::MAX, Priority::Caller, false),
        }
    }
}

/// GameLift Streams' session operations.
pub trait GameLiftStreams: Send + Sync + 'static {
    /// StartStreamSession.
    fn start_stream_session(
        &self,
        input: StartStreamSessionInputBuilder,
        call: Call,
    ) -> Reply<'_, StartStreamSessionOutput>;

    /// GetStreamSession.
    fn get_stream_session(&self, input: GetStreamSessionInputBuilder, call: Call) -> Reply<'_, GetStreamSessionOutput>;

    /// ListStreamSessions (one page).
    fn list_stream_sessions(
        &self,
        input: ListStreamSessionsInputBuilder,
        call: Call,
    ) -> Reply<'_, ListStreamSessionsOutput>;

    /// ListStreamSessionsByAccount (one page).
    fn list_stream_sessions_by_account(
        &self,
        input: ListStreamSessionsByAccountInputBuilder,
        call: Call,
    ) -> Reply<'_, ListStreamSessionsByAccountOutput>;

    /// TerminateStreamSession.
    fn terminate_stream_session(
        &self,
        input: TerminateStreamSessionInputBuilder,
        call: Call,
    ) -> Reply<'_, TerminateStreamSessionOutput>;

    /// CreateStreamSessionConnection.
    fn create_stream_session_connection(
        &self,
        input: CreateStreamSessionConnectionInputBuilder,
        call: Call,
    ) -> Reply<'_, CreateStreamSessionConnectionOutput>;

    /// ExportStreamSessionFiles.
    fn export_stream_session_files(
        &self,
        input: ExportStreamSessionFilesInputBuilder,
        call: Call,
    ) -> Reply<'_, ExportStreamSessionFilesOutput>;

    /// The send rate `op` may use now, requests per second; `None` when it
    /// is not paced. Watch polls take a share of it.
    fn send_rate(&self, op: &'static str) -> Option<f64>;
}
